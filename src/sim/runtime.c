// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kernel services the C++ objects of this module call (allocation,
 * logging, the invariant stop), as mlx5vf.ko's own: each module carries its
 * C++ runtime (see also src/sim/core/cxxrt.o in Kbuild).
 */
#include "../shim/runtime.c"

// SPDX-License-Identifier: GPL-2.0-only
/*
 * The firmware seam's entry points back into the core (include/mlx5vf/fw.h),
 * defined in C++, for the simulated firmware of mlx5vf_sim.ko. The rest of
 * the API for backends is exported beside its definitions (main.c, mig.c).
 */
#include <linux/export.h>

#include <mlx5vf/fw.h>

#include "compat.h"

/* A save the backend was given finished. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_fw_save_done, MLX5VF_NS);
/* A track report found a dirty page. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_fw_report_dirty, MLX5VF_NS);

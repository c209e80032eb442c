// SPDX-License-Identifier: GPL-2.0-only
/*
 * The firmware seam's entry points back into the core (include/mlx5vf/fw.h),
 * defined in C++, for the simulated firmware of mlx5vf_sim.ko. The rest of
 * the API for backends is exported beside its definitions (main.c, mig.c).
 */
#include <linux/export.h>

#include <mlx5vf/fw.h>
#include <mlx5vf/mig.h>

#include "compat.h"

/* A save the backend was given finished. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_fw_save_done, MLX5VF_NS);
/* A track report found a dirty page. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_fw_report_dirty, MLX5VF_NS);

/*
 * What the mlx5 backend (mlx5_fw.c) calls in the core beyond that, for the
 * test-only module that runs its own copy over the emulated PF
 * (mlx5vf_mlx5_emu_vf.ko, src/emu-vf/).
 */
/* A SAVE's file still waits for its completion. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_save_in_flight, MLX5VF_NS);
/* The PF took the VF away ... */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_dev_detach, MLX5VF_NS);
/* ... and gave it back. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_dev_attach, MLX5VF_NS);
/* Close the device's migration files. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_dev_close_files, MLX5VF_NS);
/* The backend's release. */
EXPORT_SYMBOL_NS_GPL(mlx5vf_core_dev_destroy, MLX5VF_NS);

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mlx5 firmware backend of a ConnectX-7 / BlueField-3 VF: migration
 * commands issued on its PF's mlx5_core device (src/shim/mlx5_fw.c).
 */
#ifndef MLX5VF_MLX5_FW_H
#define MLX5VF_MLX5_FW_H

#include "mlx5vf.h"

#ifdef MLX5VF_HAVE_MLX5_MIGRATION

/*
 * Probe time. On success the VF has a core migration device (mvdev->mig)
 * driven by its firmware. Otherwise migration stays off, the reason was
 * logged (one line) and the VF works as plain vfio-pci.
 */
int mlx5vf_mlx5_init(struct mlx5vf_device *mvdev);
/* Release time; nothing happens for a VF mlx5vf_mlx5_init() did not set up. */
void mlx5vf_mlx5_uninit(struct mlx5vf_device *mvdev);

#else

/* Built for a kernel whose mlx5_core cannot carry the backend (compat.h). */
static inline int mlx5vf_mlx5_init(struct mlx5vf_device *mvdev)
{
	dev_info(mvdev->dev,
		 "migration off: this build has no mlx5 firmware backend (the kernel's mlx5_core and mlx5_ifc.h lack chunked SAVE and the page tracker)\n");
	return -EOPNOTSUPP;
}

static inline void mlx5vf_mlx5_uninit(struct mlx5vf_device *mvdev)
{
}

#endif

#endif /* MLX5VF_MLX5_FW_H */

// SPDX-License-Identifier: GPL-2.0-only
/*
 * What mig.c gives the mlx5 backend in mlx5vf.ko, for the KUnit build of the
 * emulated PF (kunit/mlx5vf_emu.c), which has no mig.c: the state lock and
 * the core device's creation. The VM's test module (src/emu-vf/) uses
 * mlx5vf.ko's own instead, so these are not part of the emulator.
 */
#include <linux/mutex.h>
#include <linux/wait.h>

#include <mlx5vf/fw.h>
#include <mlx5vf/mig.h>

#include "../src/shim/mlx5vf.h"

void mlx5vf_state_lock(struct mlx5vf_device *mvdev)
{
	mutex_lock(&mvdev->state_mutex);
}

void mlx5vf_state_unlock(struct mlx5vf_device *mvdev)
{
	mutex_unlock(&mvdev->state_mutex);
}

/* As mig.c: the module's clock and events (trace.c); the format's image limit. */
int mlx5vf_mig_dev_create(struct mlx5vf_device *mvdev, struct mlx5vf_dev_config *cfg)
{
	cfg->obs = &mlx5vf_observer_ops;
	cfg->obs_ctx = mvdev;
	return mlx5vf_core_dev_create(cfg, &mvdev->mig);
}

/* The observer's file_closed (trace.c): the tests' files have no data_fd to drop. */
void mlx5vf_mig_file_closed(void *ctx, struct mlx5vf_save_file *save,
			    struct mlx5vf_resume_file *resume)
{
	struct mlx5vf_device *mvdev = ctx;

	wake_up_interruptible_all(&mvdev->mig_wq);
}

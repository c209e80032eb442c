// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO migration callbacks: the state machine lives in the core; this file
 * takes the device's lock, turns files the core opens into data_fds, drops
 * the device's reference on a file when the core says it closed it, and
 * applies resets that arrived while the lock was busy.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/file.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "mlx5vf.h"
#include "mlx5vf_trace.h"

/**
 * mlx5vf_state_lock() - Take a device's state mutex.
 * @mvdev: the device
 *
 * Serialises every call into the core for @mvdev.
 *
 * Context: Process context; may sleep.
 */
void mlx5vf_state_lock(struct mlx5vf_device *mvdev)
{
	mutex_lock(&mvdev->state_mutex);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_state_lock, MLX5VF_NS);

/*
 * Drop the state lock, first applying any reset that reset_done() could not
 * apply itself because the lock was held.
 */
/* The function was reset (FLR, VFIO_DEVICE_RESET) or opened afresh. */
static void mlx5vf_mig_reset(struct mlx5vf_device *mvdev)
{
	trace_mlx5vf_reset(dev_name(mvdev->dev), mlx5vf_core_dev_state(mvdev->mig));
	mlx5vf_core_dev_reset(mvdev->mig);
}

/**
 * mlx5vf_state_unlock() - Drop a device's state mutex.
 * @mvdev: the device, its state mutex held
 *
 * Before dropping the lock, applies any reset that mlx5vf_mig_reset_done()
 * could not apply itself because the lock was held.
 *
 * Context: Process context; releases the state mutex.
 */
void mlx5vf_state_unlock(struct mlx5vf_device *mvdev)
{
	for (;;) {
		spin_lock(&mvdev->reset_lock);
		if (!mvdev->deferred_reset)
			break;
		mvdev->deferred_reset = false;
		spin_unlock(&mvdev->reset_lock);
		if (mvdev->mig)
			mlx5vf_mig_reset(mvdev);
	}
	mutex_unlock(&mvdev->state_mutex);
	spin_unlock(&mvdev->reset_lock);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_state_unlock, MLX5VF_NS);

/**
 * mlx5vf_mig_reset_done() - Note that the function was reset.
 * @mvdev: the device
 *
 * Applies the reset now if the state mutex is free, or leaves it to the
 * holder, which applies it when it unlocks: this cannot wait for the mutex,
 * whose holders may be faulting in user pages.
 *
 * Context: Process context (the PCI reset_done handler); does not sleep on
 * the state mutex.
 */
void mlx5vf_mig_reset_done(struct mlx5vf_device *mvdev)
{
	spin_lock(&mvdev->reset_lock);
	mvdev->deferred_reset = true;
	if (!mutex_trylock(&mvdev->state_mutex)) {
		/* The holder applies it when it unlocks. */
		spin_unlock(&mvdev->reset_lock);
		return;
	}
	spin_unlock(&mvdev->reset_lock);
	mlx5vf_state_unlock(mvdev);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_reset_done, MLX5VF_NS);

/**
 * mlx5vf_mig_file_closed() - The core closed a file: drop its data_fd.
 * @ctx: the device (the observer's context)
 * @save: the saving file closed, or NULL
 * @resume: the resuming file closed, or NULL (exactly one of @save, @resume)
 *
 * The core's file_closed callback (include/mlx5vf/mig.h), once per file on
 * every path that closes one. Gives up the device's reference on the file's
 * data_fd, if the file is attached to one (a file whose data_fd could not be
 * made, or whose walk failed after opening it, never was), and wakes the
 * data_fds' readers and pollers.
 *
 * Context: Inside a core call, under the state mutex (or from the core
 * device's destruction, when no file is attached); does not sleep.
 */
void mlx5vf_mig_file_closed(void *ctx, struct mlx5vf_save_file *save,
			    struct mlx5vf_resume_file *resume)
{
	struct mlx5vf_device *mvdev = ctx;
	struct mlx5vf_mig_file **slot = save ? &mvdev->saving : &mvdev->resuming;
	struct mlx5vf_mig_file *mf = *slot;

	wake_up_interruptible_all(&mvdev->mig_wq);
	if (!mf || (save ? mf->save != save : mf->resume != resume))
		return;
	*slot = NULL;
	fput(mf->filp);
}

/**
 * mlx5vf_device_init() - Initialise the migration half of a VFIO device.
 * @mvdev: the state to initialise, embedded in @vdev's device
 * @vdev: the VFIO device that embeds it
 * @log_ops: that type's DMA logging forwarders (to mlx5vf_dirty_log_*), or
 *	NULL where the kernel cannot carry device dirty reports
 *
 * Called before anything else touches @mvdev. Holds a reference on @vdev's
 * device until mlx5vf_device_destroy(): a data_fd can outlive the VF or the
 * mdev instance.
 */
void mlx5vf_device_init(struct mlx5vf_device *mvdev, struct vfio_device *vdev,
			const struct vfio_log_ops *log_ops)
{
	mvdev->vdev = vdev;
	mvdev->log_ops = log_ops;
	/* Held until destroy: an open data_fd can outlive the VF or instance. */
	mvdev->dev = get_device(vdev->dev);
	mutex_init(&mvdev->state_mutex);
	spin_lock_init(&mvdev->reset_lock);
	init_waitqueue_head(&mvdev->mig_wq);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_device_init, MLX5VF_NS);

/**
 * mlx5vf_device_destroy() - Free what mlx5vf_device_init() set up.
 * @mvdev: the device
 *
 * Called after the device's release (mlx5vf_device_release()).
 */
void mlx5vf_device_destroy(struct mlx5vf_device *mvdev)
{
	mutex_destroy(&mvdev->state_mutex);
	put_device(mvdev->dev);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_device_destroy, MLX5VF_NS);

/**
 * mlx5vf_device_attach() - Give a device a backend in another module.
 * @mvdev: the device
 * @backend: the backend; its setup creates the core device
 *
 * Then the VFIO device offers what the core offers. On failure nothing is
 * left to undo.
 *
 * Return: 0, or -EINVAL for an incomplete backend, or what its setup returned.
 */
int mlx5vf_device_attach(struct mlx5vf_device *mvdev, const struct mlx5vf_backend_ops *backend)
{
	int ret;

	if (!backend || !backend->setup || !backend->teardown)
		return -EINVAL;
	ret = backend->setup(mvdev);
	if (ret)
		return ret;
	mvdev->backend = backend;
	mlx5vf_device_offer(mvdev);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_device_attach, MLX5VF_NS);

/**
 * mlx5vf_device_offer() - Offer what the core device offers.
 * @mvdev: the device, with its core device created
 *
 * Sets the VFIO device's migration_flags from the core's features and its
 * DMA logging ops where the firmware tracks, whatever the backend.
 */
void mlx5vf_device_offer(struct mlx5vf_device *mvdev)
{
	mvdev->vdev->migration_flags = mlx5vf_core_dev_features(mvdev->mig);
	mlx5vf_dirty_offer(mvdev);
}

/**
 * mlx5vf_device_release() - Let the backend go.
 * @mvdev: the device
 *
 * The last reference to the VFIO device went: the backend tears down its
 * state.
 */
void mlx5vf_device_release(struct mlx5vf_device *mvdev)
{
	if (mvdev->backend)
		mvdev->backend->teardown(mvdev);
	mvdev->backend = NULL;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_device_release, MLX5VF_NS);

/**
 * mlx5vf_mig_dev_create() - Create the core device of a VF.
 * @mvdev: the device
 * @cfg: the backend's config; this fills in what the module decides
 *
 * What this module decides for every backend: the clock and events
 * (trace.c), the largest image a destination loads and whether another
 * firmware build is accepted.
 *
 * Return: 0, or a negative errno from the core.
 */
int mlx5vf_mig_dev_create(struct mlx5vf_device *mvdev, struct mlx5vf_dev_config *cfg)
{
	cfg->obs = &mlx5vf_observer_ops;
	cfg->obs_ctx = mvdev;
	cfg->max_image_size = mlx5vf_max_image_size();
	cfg->accept_fw_build_mismatch = mlx5vf_accept_fw_build_mismatch();
	return mlx5vf_core_dev_create(cfg, &mvdev->mig);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_dev_create, MLX5VF_NS);

/**
 * mlx5vf_mig_dev_destroy() - Destroy the core device of a VF.
 * @mvdev: the device; migration is off for it afterwards
 */
void mlx5vf_mig_dev_destroy(struct mlx5vf_device *mvdev)
{
	mlx5vf_core_dev_destroy(mvdev->mig);
	mvdev->mig = NULL;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_dev_destroy, MLX5VF_NS);

/**
 * mlx5vf_mig_close_files() - Close every data_fd's file of a device.
 * @mvdev: the device
 *
 * A firmware cleanup SAVE may follow.
 *
 * Context: The caller holds the state mutex.
 */
void mlx5vf_mig_close_files(struct mlx5vf_device *mvdev)
{
	lockdep_assert_held(&mvdev->state_mutex);
	mlx5vf_core_dev_close_files(mvdev->mig);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_close_files, MLX5VF_NS);

/**
 * mlx5vf_mig_open() - The VFIO device was opened.
 * @mvdev: the device
 *
 * A freshly opened device runs, whatever its last user left; then the
 * backend's open hook runs.
 *
 * Context: Process context; takes the state mutex.
 */
void mlx5vf_mig_open(struct mlx5vf_device *mvdev)
{
	mlx5vf_state_lock(mvdev);
	/* A freshly opened device runs, whatever the last user left. */
	mlx5vf_mig_reset(mvdev);
	if (mvdev->backend && mvdev->backend->open)
		mvdev->backend->open(mvdev);
	mlx5vf_state_unlock(mvdev);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_open, MLX5VF_NS);

/**
 * mlx5vf_mig_close() - The VFIO device is being closed.
 * @mvdev: the device
 *
 * Runs the backend's close hook, stops dirty tracking and closes every
 * data_fd's file.
 *
 * Context: Process context; takes the state mutex.
 */
void mlx5vf_mig_close(struct mlx5vf_device *mvdev)
{
	mlx5vf_state_lock(mvdev);
	if (mvdev->backend && mvdev->backend->close)
		mvdev->backend->close(mvdev);
	mlx5vf_dirty_close(mvdev);
	mlx5vf_mig_close_files(mvdev);
	mlx5vf_state_unlock(mvdev);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_close, MLX5VF_NS);

/* One line: which request failed where, and for a refused stream why. */
static void mlx5vf_log_arc_failure(struct mlx5vf_device *mvdev, enum mlx5vf_mig_state from,
				   enum mlx5vf_mig_state to, int ret)
{
	enum mlx5vf_mig_state at = mlx5vf_core_dev_state(mvdev->mig);
	const char *why = NULL;
	u64 offset = 0;

	if (at == MLX5VF_MIG_RESUMING && mvdev->resuming)
		why = mlx5vf_core_resume_error(mvdev->resuming->resume, &offset);
	if (why)
		dev_warn_ratelimited(mvdev->dev,
				     "migration: %s -> %s failed at %s: stream byte %llu: %s (%d)\n",
				     mlx5vf_core_mig_state_name(from),
				     mlx5vf_core_mig_state_name(to),
				     mlx5vf_core_mig_state_name(at), offset, why, ret);
	else
		dev_warn_ratelimited(mvdev->dev,
				     "migration: %s -> %s failed at %s: %d\n",
				     mlx5vf_core_mig_state_name(from),
				     mlx5vf_core_mig_state_name(to),
				     mlx5vf_core_mig_state_name(at), ret);
}

/**
 * mlx5vf_mig_set_state() - vfio_migration_ops.migration_set_state.
 * @mvdev: the device
 * @new_state: the state userspace asks for
 *
 * For the VFIO device that embeds @mvdev. A failed arc is logged in one line.
 *
 * Context: Process context; takes the state mutex.
 * Return: the new data_fd's file if the arcs opened one, NULL if none, or an
 * ERR_PTR.
 */
struct file *mlx5vf_mig_set_state(struct mlx5vf_device *mvdev, enum vfio_device_mig_state new_state)
{
	enum mlx5vf_mig_state from, to = (enum mlx5vf_mig_state)new_state;
	struct mlx5vf_save_file *save;
	struct mlx5vf_resume_file *resume;
	struct mlx5vf_mig_file *mf;
	struct file *filp = NULL;
	int ret;

	/* Allocated up front: the arc that opens a file must not fail after it. */
	mf = kzalloc(sizeof(*mf), GFP_KERNEL_ACCOUNT);
	if (!mf)
		return ERR_PTR(-ENOMEM);

	mlx5vf_state_lock(mvdev);
	from = mlx5vf_core_dev_state(mvdev->mig);
	ret = mlx5vf_core_dev_set_state(mvdev->mig, to, mf, &save, &resume);
	/* Interrupted by a signal, an arc has changed nothing: no failure. */
	if (ret && ret != -ERESTARTSYS)
		mlx5vf_log_arc_failure(mvdev, from, to, ret);
	if (ret)
		filp = ERR_PTR(ret);
	/* The files the walk closed are dropped already (file_closed). */
	if (!ret && (save || resume)) {
		filp = mlx5vf_mig_file_open(mvdev, mf, save, resume);
		if (!IS_ERR(filp))
			mf = NULL; /* owned by the file now */
	}
	mlx5vf_state_unlock(mvdev);
	kfree(mf);
	return filp;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_set_state, MLX5VF_NS);

/**
 * mlx5vf_mig_get_state() - vfio_migration_ops.migration_get_state.
 * @mvdev: the device
 * @curr_state: where to store the current state
 *
 * Context: Process context; takes the state mutex.
 * Return: 0.
 */
int mlx5vf_mig_get_state(struct mlx5vf_device *mvdev, enum vfio_device_mig_state *curr_state)
{
	mlx5vf_state_lock(mvdev);
	*curr_state = (enum vfio_device_mig_state)mlx5vf_core_dev_state(mvdev->mig);
	mlx5vf_state_unlock(mvdev);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_get_state, MLX5VF_NS);

/**
 * mlx5vf_mig_get_data_size() - vfio_migration_ops.migration_get_data_size.
 * @mvdev: the device
 * @stop_copy_length: where to store the estimated stop-copy size
 *
 * Context: Process context; takes the state mutex.
 * Return: 0, or a negative errno from the core.
 */
int mlx5vf_mig_get_data_size(struct mlx5vf_device *mvdev, unsigned long *stop_copy_length)
{
	u64 size;
	int ret;

	mlx5vf_state_lock(mvdev);
	ret = mlx5vf_core_dev_data_size(mvdev->mig, &size);
	mlx5vf_state_unlock(mvdev);
	if (!ret)
		*stop_copy_length = size;
	return ret;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_get_data_size, MLX5VF_NS);

#ifndef MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP
/*
 * This kernel's VFIO core does not know MIG_DATA_SIZE and hands the feature
 * to the driver: answer it as later cores do (QEMU needs the size to decide
 * when precopy has converged).
 */
static int mlx5vf_data_size_feature(struct mlx5vf_device *mvdev, u32 flags, void __user *arg,
				    size_t argsz)
{
	struct vfio_device_feature_mig_data_size size = {};
	unsigned long length;
	int ret;

	if (!mvdev->vdev->mig_ops)
		return -ENOTTY;
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET, sizeof(size));
	if (ret != 1)
		return ret;
	ret = mlx5vf_mig_get_data_size(mvdev, &length);
	if (ret)
		return ret;
	size.stop_copy_length = length;
	return copy_to_user(arg, &size, sizeof(size)) ? -EFAULT : 0;
}
#endif

/**
 * mlx5vf_precopy_v2() - Whether PRECOPY_INFO answers in version 2.
 * @mvdev: the device
 *
 * Version 2 has flags as output, for users that opted in.
 *
 * Return: true if the device's user opted into PRECOPY_INFOv2.
 */
bool mlx5vf_precopy_v2(struct mlx5vf_device *mvdev)
{
	return mlx5vf_precopy_info_v2(mvdev->vdev, &mvdev->precopy_info_v2);
}

#ifndef MLX5VF_HAVE_VFIO_PRECOPY_INFO_V2
/*
 * This kernel's VFIO core does not know PRECOPY_INFOv2 and hands feature 12
 * to the driver. QEMU treats ENOTTY as "v1 only" but fails migration setup
 * on any other error, so answer exactly as later cores do: EINVAL without
 * PRE_COPY, SET only (PROBE allowed), the opt-in lasts until the last close.
 */
static int mlx5vf_precopy_v2_feature(struct mlx5vf_device *mvdev, u32 flags, size_t argsz)
{
	int ret;

	if (!(mvdev->vdev->migration_flags & VFIO_MIGRATION_PRE_COPY))
		return -EINVAL;
	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0);
	if (ret != 1)
		return ret;
	mlx5vf_state_lock(mvdev);
	WRITE_ONCE(mvdev->precopy_info_v2, true);
	mlx5vf_state_unlock(mvdev);
	return 0;
}
#endif

/**
 * mlx5vf_mig_device_feature() - The migration features left to drivers.
 * @mvdev: the device
 * @flags: VFIO_DEVICE_FEATURE flags and feature number
 * @arg: the user's feature payload
 * @argsz: its size
 *
 * VFIO_DEVICE_FEATURE: answers the migration features this kernel's VFIO core
 * leaves to drivers.
 *
 * Return: the feature's result, or -ENOTTY for any other feature, which the
 * caller's own device then answers.
 */
int mlx5vf_mig_device_feature(struct mlx5vf_device *mvdev, u32 flags, void __user *arg,
			      size_t argsz)
{
#ifndef MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP
	if ((flags & VFIO_DEVICE_FEATURE_MASK) == VFIO_DEVICE_FEATURE_MIG_DATA_SIZE)
		return mlx5vf_data_size_feature(mvdev, flags, arg, argsz);
#endif
#ifndef MLX5VF_HAVE_VFIO_PRECOPY_INFO_V2
	if ((flags & VFIO_DEVICE_FEATURE_MASK) == MLX5VF_FEATURE_MIG_PRECOPY_INFO_V2)
		return mlx5vf_precopy_v2_feature(mvdev, flags, argsz);
#endif
	return -ENOTTY;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_mig_device_feature, MLX5VF_NS);

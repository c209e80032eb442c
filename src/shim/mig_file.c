// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data_fd: a stream file over a core saving or resuming file. Every
 * operation takes the device's state lock around the core call; blocking
 * readers wait on the device's wait queue without it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "mlx5vf.h"
#include "mlx5vf_trace.h"

/* A user buffer as the core's sequential cursor. */
struct mlx5vf_uio {
	struct mlx5vf_user_io io;
	char __user *ubuf;
	size_t done;
};

static int mlx5vf_uio_to_user(struct mlx5vf_user_io *io, const void *src, size_t len)
{
	struct mlx5vf_uio *u = container_of(io, struct mlx5vf_uio, io);

	if (copy_to_user(u->ubuf + u->done, src, len))
		return -EFAULT;
	u->done += len;
	return 0;
}

static int mlx5vf_uio_from_user(struct mlx5vf_user_io *io, void *dst, size_t len)
{
	struct mlx5vf_uio *u = container_of(io, struct mlx5vf_uio, io);

	if (copy_from_user(dst, u->ubuf + u->done, len))
		return -EFAULT;
	u->done += len;
	return 0;
}

static int mlx5vf_uio_skip(struct mlx5vf_user_io *io, size_t len)
{
	struct mlx5vf_uio *u = container_of(io, struct mlx5vf_uio, io);

	u->done += len;
	return 0;
}

static void mlx5vf_uio_init(struct mlx5vf_uio *u, char __user *ubuf)
{
	u->io.to_user = mlx5vf_uio_to_user;
	u->io.from_user = mlx5vf_uio_from_user;
	u->io.skip = mlx5vf_uio_skip;
	u->ubuf = ubuf;
	u->done = 0;
}

static ssize_t mlx5vf_data_fd_read(struct file *filp, char __user *buf, size_t len, loff_t *pos)
{
	struct mlx5vf_mig_file *mf = filp->private_data;
	struct mlx5vf_device *mvdev = mf->mvdev;
	struct mlx5vf_uio u;
	long ret;

	if (pos)
		return -ESPIPE;
	len = min_t(size_t, len, MAX_RW_COUNT);
	for (;;) {
		mlx5vf_uio_init(&u, buf);
		mlx5vf_state_lock(mvdev);
		ret = mlx5vf_core_save_read(mf->save, &u.io, len);
		mlx5vf_state_unlock(mvdev);
		if (ret != -EAGAIN || (filp->f_flags & O_NONBLOCK))
			return ret;
		if (wait_event_interruptible(mvdev->mig_wq, mlx5vf_core_save_readable(mf->save)))
			return -ERESTARTSYS;
	}
}

static __poll_t mlx5vf_data_fd_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct mlx5vf_mig_file *mf = filp->private_data;

	poll_wait(filp, &mf->mvdev->mig_wq, wait);
	return mlx5vf_core_save_readable(mf->save) ? EPOLLIN | EPOLLRDNORM : 0;
}

static long mlx5vf_data_fd_precopy_info(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct mlx5vf_mig_file *mf = filp->private_data;
	struct mlx5vf_device *mvdev = mf->mvdev;
	const size_t minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct vfio_precopy_info info;
	u64 initial, dirty;
	bool v2;
	u32 out;
	int ret;

	ret = mlx5vf_check_precopy_ioctl(mvdev->vdev, &mvdev->precopy_info_v2, cmd, arg,
					 &info);
	if (ret)
		return ret;

	mlx5vf_state_lock(mvdev);
	/* The core decides what to answer; it only learns whether v2 is on. */
	v2 = mlx5vf_precopy_v2(mvdev);
	ret = mvdev->mig ? mlx5vf_core_dev_precopy_info(mvdev->mig, mf->save, v2, &out, &initial,
							&dirty) :
			   -ENODEV;
	mlx5vf_state_unlock(mvdev);
	trace_mlx5vf_precopy_info(dev_name(mvdev->dev), ret ? 0 : out, ret ? 0 : initial,
				  ret ? 0 : dirty, ret);
	if (ret)
		return ret;
	/* v1 leaves flags as the caller passed them (bug compatibility). */
	if (v2)
		info.flags |= out;
	info.initial_bytes = initial;
	info.dirty_bytes = dirty;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static ssize_t mlx5vf_data_fd_write(struct file *filp, const char __user *buf, size_t len,
				    loff_t *pos)
{
	struct mlx5vf_mig_file *mf = filp->private_data;
	struct mlx5vf_device *mvdev = mf->mvdev;
	struct mlx5vf_uio u;
	const char *why;
	u64 offset;
	long ret;

	if (pos)
		return -ESPIPE;
	len = min_t(size_t, len, MAX_RW_COUNT);
	mlx5vf_uio_init(&u, (char __user *)buf);
	mlx5vf_state_lock(mvdev);
	ret = mvdev->mig ? mlx5vf_core_dev_resume_write(mvdev->mig, mf->resume, &u.io, len) :
			   -ENODEV;
	if (ret < 0 && mvdev->mig) {
		why = mlx5vf_core_resume_error(mf->resume, &offset);
		if (why)
			dev_warn_ratelimited(mvdev->dev,
					     "migration stream refused at byte %llu: %s (%ld)\n",
					     offset, why, ret);
	}
	mlx5vf_state_unlock(mvdev);
	return ret;
}

/*
 * The device dropped its reference when it closed the file, so the core
 * file is detached and idle here: destroying it touches no firmware.
 */
static int mlx5vf_mig_file_release(struct inode *inode, struct file *filp)
{
	struct mlx5vf_mig_file *mf = filp->private_data;
	struct mlx5vf_device *mvdev = mf->mvdev;
	struct module *backend = mvdev->backend ? mvdev->backend->owner : NULL;

	if (mf->save)
		mlx5vf_core_save_destroy(mf->save);
	if (mf->resume)
		mlx5vf_core_resume_destroy(mf->resume);
	kfree(mf);
	/* The last put may tear the backend down: its module goes after. */
	put_device(&mvdev->vdev->device);
	module_put(backend);
	return 0;
}

static const struct file_operations mlx5vf_save_fd_fops = {
	.owner = THIS_MODULE,
	.read = mlx5vf_data_fd_read,
	.poll = mlx5vf_data_fd_poll,
	.unlocked_ioctl = mlx5vf_data_fd_precopy_info,
	.compat_ioctl = compat_ptr_ioctl,
	.release = mlx5vf_mig_file_release,
};

static const struct file_operations mlx5vf_resume_fd_fops = {
	.owner = THIS_MODULE,
	.write = mlx5vf_data_fd_write,
	.release = mlx5vf_mig_file_release,
};

/**
 * mlx5vf_mig_file_open() - Wrap a file the core just opened as a data_fd.
 * @mvdev: the device
 * @mf: the data_fd's state, allocated by the caller
 * @save: the saving file, or NULL
 * @resume: the resuming file, or NULL (exactly one of @save and @resume)
 *
 * The fd holds one reference (given to userspace by the VFIO core), the
 * device another until the core closes the file.
 *
 * Context: The caller holds the state mutex.
 * Return: the file, or an ERR_PTR; then the core file is detached and
 * destroyed.
 */
struct file *mlx5vf_mig_file_open(struct mlx5vf_device *mvdev, struct mlx5vf_mig_file *mf,
				  struct mlx5vf_save_file *save, struct mlx5vf_resume_file *resume)
{
	struct file *filp;

	lockdep_assert_held(&mvdev->state_mutex);
	mf->mvdev = mvdev;
	mf->save = save;
	mf->resume = resume;
	filp = anon_inode_getfile("mlx5vf_mig",
				  save ? &mlx5vf_save_fd_fops : &mlx5vf_resume_fd_fops, mf,
				  save ? O_RDONLY : O_WRONLY);
	if (IS_ERR(filp)) {
		if (save) {
			mlx5vf_core_dev_forget_save(mvdev->mig, save);
			mlx5vf_core_save_destroy(save);
		} else {
			mlx5vf_core_dev_forget_resume(mvdev->mig, resume);
			mlx5vf_core_resume_destroy(resume);
		}
		return filp;
	}
	stream_open(filp->f_inode, filp);
	mf->filp = filp;
	get_device(&mvdev->vdev->device);
	/* The device is open, so VFIO holds the backend's module already. */
	if (mvdev->backend)
		__module_get(mvdev->backend->owner);
	get_file(filp);
	if (save)
		mvdev->saving = mf;
	else
		mvdev->resuming = mf;
	return filp;
}

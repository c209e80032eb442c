// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO DMA logging (device dirty-page tracking): the vfio_log_ops of a VF
 * whose firmware can track. The core shapes requests and validates reports
 * (src/core/dirty_tracker.h); this file only converts the VFIO core's
 * interval tree and iova_bitmap, and serialises on the state mutex.
 *
 * Reports land in an iova_bitmap: vfio.ko's own in 6.1, later only in
 * kernels with CONFIG_IOMMUFD_DRIVER (src/shim/compat.h probes which).
 * Without it the VFIO core would fail every report, so the ops are not
 * registered at all and QEMU falls back to the IOMMU container's dirty log.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/vfio.h>

#include "mlx5vf.h"
#include "mlx5vf_trace.h"

#include <linux/module.h>

#ifdef MLX5VF_HAVE_IOVA_BITMAP

#ifdef MLX5VF_IOVA_BITMAP_NS
MLX5VF_MODULE_IMPORT_NS(MLX5VF_IOVA_BITMAP_NS);
#endif

static void mlx5vf_log_failure(struct mlx5vf_device *mvdev, const char *what, int ret)
{
	struct mlx5vf_log_status st;

	mlx5vf_core_dev_log_status(mvdev->mig, &st);
	dev_warn_ratelimited(mvdev->dev, "dirty tracking: %s failed: %s (%d)\n", what,
			     st.error ?: "no reason recorded", ret);
}

static int mlx5vf_log_start(struct vfio_device *vdev, struct rb_root_cached *ranges, u32 nnodes,
			    u64 *page_size)
{
	struct mlx5vf_device *mvdev = to_mlx5vf(vdev);
	struct mlx5vf_iova_range *arr;
	struct interval_tree_node *node;
	u32 n = 0;
	int ret;

	arr = kvcalloc(nnodes, sizeof(*arr), GFP_KERNEL_ACCOUNT);
	if (!arr)
		return -ENOMEM;
	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX); node && n < nnodes;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		arr[n].iova = node->start;
		arr[n].length = node->last - node->start + 1;
		n++;
	}
	mlx5vf_state_mutex_lock(mvdev);
	ret = mlx5vf_core_dev_log_start(mvdev->mig, arr, n, page_size);
	if (ret)
		mlx5vf_log_failure(mvdev, "start", ret);
	mlx5vf_state_mutex_unlock(mvdev);
	kvfree(arr);
	return ret;
}

static int mlx5vf_log_stop(struct vfio_device *vdev)
{
	struct mlx5vf_device *mvdev = to_mlx5vf(vdev);

	mlx5vf_state_mutex_lock(mvdev);
	mlx5vf_core_dev_log_stop(mvdev->mig);
	mlx5vf_state_mutex_unlock(mvdev);
	return 0;
}

struct mlx5vf_iova_bitmap {
	struct mlx5vf_dirty_bitmap base;
	struct iova_bitmap *dirty;
};

static void mlx5vf_iova_bitmap_set(struct mlx5vf_dirty_bitmap *bm, u64 iova, u64 length)
{
	struct mlx5vf_iova_bitmap *b = container_of(bm, struct mlx5vf_iova_bitmap, base);

	iova_bitmap_set(b->dirty, iova, length);
}

static int mlx5vf_log_read_and_clear(struct vfio_device *vdev, unsigned long iova,
				     unsigned long length, struct iova_bitmap *dirty)
{
	struct mlx5vf_device *mvdev = to_mlx5vf(vdev);
	struct mlx5vf_iova_bitmap bm = {
		.base.set = mlx5vf_iova_bitmap_set,
		.dirty = dirty,
	};
	struct mlx5vf_log_status before, after;
	bool traced;
	u64 start = 0;
	int ret;

	mlx5vf_state_mutex_lock(mvdev);
	/* Only for the tracepoint: nothing extra while it is off. */
	traced = trace_mlx5vf_dirty_report_enabled();
	if (traced) {
		mlx5vf_core_dev_log_status(mvdev->mig, &before);
		start = ktime_get_ns();
	}
	ret = mlx5vf_core_dev_log_report(mvdev->mig, iova, length, &bm.base);
	if (traced) {
		u64 ns = ktime_get_ns() - start;

		mlx5vf_core_dev_log_status(mvdev->mig, &after);
		trace_mlx5vf_dirty_report(dev_name(mvdev->dev), iova, length,
					  after.nr_ranges,
					  after.pages_reported - before.pages_reported, ns, ret);
	}
	if (ret)
		mlx5vf_log_failure(mvdev, "report", ret);
	mlx5vf_state_mutex_unlock(mvdev);
	return ret;
}

static const struct vfio_log_ops mlx5vf_log_ops = {
	.log_start = mlx5vf_log_start,
	.log_stop = mlx5vf_log_stop,
	.log_read_and_clear = mlx5vf_log_read_and_clear,
};

/**
 * mlx5vf_dirty_setup() - Offer VFIO DMA logging if the device can track.
 * @mvdev: a device whose core device exists
 *
 * Installs the device's vfio_log_ops when the core says the firmware has a
 * page tracker.
 *
 * Return: the part of the bind line that says whether device dirty tracking
 * is offered, and if not, why.
 */
const char *mlx5vf_dirty_setup(struct mlx5vf_device *mvdev)
{
	if (!mlx5vf_core_dev_log_supported(mvdev->mig))
		return "device dirty tracking off: the firmware has no page tracker";
	mvdev->vdev->log_ops = &mlx5vf_log_ops;
	return "device dirty tracking";
}

#else

/* QEMU then tracks the VF's DMA through the type1 container's dirty log. */
#define MLX5VF_NO_IOMMUFD_DRIVER \
	"device dirty tracking off: kernel without CONFIG_IOMMUFD_DRIVER; QEMU needs vfio-pci enable-migration=on"

/**
 * mlx5vf_dirty_setup() - Say why device dirty tracking is off on this kernel.
 * @mvdev: a device whose core device exists
 *
 * Without CONFIG_IOMMUFD_DRIVER the kernel cannot carry a device's dirty
 * report to userspace; QEMU then tracks the VF's DMA through the type1
 * container's dirty log.
 *
 * Return: the part of the bind line that says so.
 */
const char *mlx5vf_dirty_setup(struct mlx5vf_device *mvdev)
{
	return MLX5VF_NO_IOMMUFD_DRIVER;
}

#endif

/**
 * mlx5vf_dirty_close() - Stop dirty tracking as the device closes.
 * @mvdev: the device being closed
 *
 * Tracking belongs to the user that started it, so closing the device ends it.
 *
 * Context: Process context; the caller holds the state mutex.
 */
void mlx5vf_dirty_close(struct mlx5vf_device *mvdev)
{
	lockdep_assert_held(&mvdev->state_mutex);
	mlx5vf_core_dev_log_stop(mvdev->mig);
}

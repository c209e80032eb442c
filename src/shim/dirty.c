// SPDX-License-Identifier: GPL-2.0-only
/*
 * VFIO DMA logging (device dirty-page tracking) for a VF whose firmware can
 * track: what the vfio_log_ops of every VFIO device type embedding a struct
 * mlx5vf_device forward to (only that type can find mvdev from its vdev).
 * The core shapes requests and validates reports (src/core/dirty_tracker.h);
 * this file only converts the VFIO core's interval tree and iova_bitmap, and
 * serialises on the state mutex.
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

/**
 * mlx5vf_dirty_log_start() - Start tracking the ranges VFIO asks for.
 * @mvdev: the device
 * @ranges: the VFIO core's interval tree of IOVA ranges
 * @nnodes: how many ranges it holds
 * @page_size: in: the page size asked for; out: the one the tracker uses
 *
 * The log_start op of every type that embeds a struct mlx5vf_device.
 *
 * Return: 0, or a negative errno with one rate-limited line saying why.
 */
int mlx5vf_dirty_log_start(struct mlx5vf_device *mvdev, struct rb_root_cached *ranges, u32 nnodes,
			   u64 *page_size)
{
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
	mlx5vf_state_lock(mvdev);
	ret = mlx5vf_core_dev_log_start(mvdev->mig, arr, n, page_size);
	if (ret)
		mlx5vf_log_failure(mvdev, "start", ret);
	mlx5vf_state_unlock(mvdev);
	kvfree(arr);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_dirty_log_start, MLX5VF_NS);

/**
 * mlx5vf_dirty_log_stop() - Stop tracking.
 * @mvdev: the device
 *
 * Return: 0.
 */
int mlx5vf_dirty_log_stop(struct mlx5vf_device *mvdev)
{
	mlx5vf_state_lock(mvdev);
	mlx5vf_core_dev_log_stop(mvdev->mig);
	mlx5vf_state_unlock(mvdev);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_dirty_log_stop, MLX5VF_NS);

struct mlx5vf_iova_bitmap {
	struct mlx5vf_dirty_bitmap base;
	struct iova_bitmap *dirty;
};

static void mlx5vf_iova_bitmap_set(struct mlx5vf_dirty_bitmap *bm, u64 iova, u64 length)
{
	struct mlx5vf_iova_bitmap *b = container_of(bm, struct mlx5vf_iova_bitmap, base);

	iova_bitmap_set(b->dirty, iova, length);
}

/**
 * mlx5vf_dirty_log_read_and_clear() - Report and clear the dirty pages of a range.
 * @mvdev: the device
 * @iova: start of the range
 * @length: its length in bytes
 * @dirty: the VFIO core's bitmap the pages are set in
 *
 * Return: 0, or a negative errno with one rate-limited line saying why.
 */
int mlx5vf_dirty_log_read_and_clear(struct mlx5vf_device *mvdev, unsigned long iova,
				    unsigned long length, struct iova_bitmap *dirty)
{
	struct mlx5vf_iova_bitmap bm = {
		.base.set = mlx5vf_iova_bitmap_set,
		.dirty = dirty,
	};
	struct mlx5vf_log_status before, after;
	bool traced;
	u64 start = 0;
	int ret;

	mlx5vf_state_lock(mvdev);
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
	mlx5vf_state_unlock(mvdev);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_dirty_log_read_and_clear, MLX5VF_NS);

#endif

/**
 * mlx5vf_dirty_offer() - Offer VFIO DMA logging if the device can track.
 * @mvdev: a device whose core device exists
 *
 * Decides once, at bind: the VFIO device gets the log ops of the type that
 * embeds @mvdev (mlx5vf_device_init()) when the kernel can carry device dirty
 * reports and the core says the firmware has a page tracker.
 */
void mlx5vf_dirty_offer(struct mlx5vf_device *mvdev)
{
	if (mvdev->log_ops && mlx5vf_core_dev_log_supported(mvdev->mig))
		mvdev->vdev->log_ops = mvdev->log_ops;
}

/**
 * mlx5vf_dirty_summary() - What mlx5vf_dirty_offer() decided, and why.
 * @mvdev: a device it decided for
 *
 * Return: the part of the bind line that says whether device dirty tracking
 * is offered, and if not, why.
 */
const char *mlx5vf_dirty_summary(const struct mlx5vf_device *mvdev)
{
	if (mvdev->vdev->log_ops)
		return "device dirty tracking";
#ifndef MLX5VF_HAVE_IOVA_BITMAP
	/* QEMU then tracks the VF's DMA through the type1 container's dirty log. */
	return "device dirty tracking off: kernel without CONFIG_IOMMUFD_DRIVER; "
	       "QEMU needs vfio-pci enable-migration=on";
#else
	return "device dirty tracking off: the firmware has no page tracker";
#endif
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_dirty_summary, MLX5VF_NS);

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

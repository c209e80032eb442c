// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated VF: its firmware (the core's simulated VHCA, behind the same
 * firmware seam as the mlx5 backend) and that firmware's clock. The
 * simulated firmware has no time of its own: this file delivers its SAVE
 * completions after the latency it asks for, and makes the function write
 * its state, and guest memory, while it runs, so precopy has real deltas to
 * carry. Everything runs under the device's state lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vfio.h>

#include "sim.h"

static unsigned int sim_state_kib = 1024;
module_param(sim_state_kib, uint, 0444);
MODULE_PARM_DESC(sim_state_kib, "Simulated VF: device state size in KiB (default 1024)");

static unsigned int sim_writes_per_tick = 16;
module_param(sim_writes_per_tick, uint, 0644);
MODULE_PARM_DESC(sim_writes_per_tick, "Simulated VF: state pages written every 10 ms while running");

static unsigned int sim_latency_us = 200;
module_param(sim_latency_us, uint, 0644);
MODULE_PARM_DESC(sim_latency_us, "Simulated VF: SAVE completion latency in microseconds");

static ulong sim_identity = 0x53494d5646UL;
module_param(sim_identity, ulong, 0644);
MODULE_PARM_DESC(sim_identity,
		 "Simulated VF: firmware identity of VFs bound from now on (differing ones cannot migrate; the low 32 bits are the build, which mlx5vf's accept_fw_build_mismatch waives)");

static bool sim_chunk_mode = true;
module_param(sim_chunk_mode, bool, 0444);
MODULE_PARM_DESC(sim_chunk_mode, "Simulated VF: firmware saves images in chunks");

static unsigned int sim_dma_writes_per_tick = 8;
module_param(sim_dma_writes_per_tick, uint, 0644);
MODULE_PARM_DESC(sim_dma_writes_per_tick,
		 "Simulated VF: DMA writes into its debugfs dma_window every 10 ms while running");

static unsigned int sim_track_max_ranges = 2;
module_param(sim_track_max_ranges, uint, 0444);
MODULE_PARM_DESC(sim_track_max_ranges,
		 "Simulated VF: ranges its dirty tracker takes (more are combined; default 2)");

#define MLX5VF_SIM_TICK msecs_to_jiffies(10)
/* One simulated DMA write: a burst smaller than a page, like a packet. */
#define MLX5VF_SIM_DMA_BYTES 1024

static struct mlx5vf_sim_vf *to_sim_vf_work(struct work_struct *work, bool activity)
{
	struct delayed_work *dw = to_delayed_work(work);

	return activity ? container_of(dw, struct mlx5vf_sim_vf, activity_work) :
			  container_of(dw, struct mlx5vf_sim_vf, complete_work);
}

/* Called by the simulated firmware from inside a SAVE: arm, do not sleep. */
static void mlx5vf_sim_request_completion(void *ctx, u64 delay_ns)
{
	struct mlx5vf_sim_vf *svf = ctx;

	svf->due_ns = ktime_get_ns() + delay_ns;
	svf->armed = true;
	mod_delayed_work(MLX5VF_SYSTEM_WQ, &svf->complete_work, nsecs_to_jiffies(delay_ns));
}

static void mlx5vf_sim_deliver_locked(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_sim_vf *svf = mlx5vf_sim_vf(mvdev);

	lockdep_assert_held(&mvdev->state_mutex);
	if (!svf->armed)
		return;
	svf->armed = false;
	mlx5vf_core_sim_deliver(svf->sim);
	wake_up_interruptible_all(&mvdev->mig_wq);
}

static void mlx5vf_sim_complete_work(struct work_struct *work)
{
	struct mlx5vf_sim_vf *svf = to_sim_vf_work(work, false);
	struct mlx5vf_device *mvdev = svf->mvdev;
	u64 now;

	mlx5vf_state_lock(mvdev);
	now = ktime_get_ns();
	/* A SAVE armed after this run was queued is not due yet. */
	if (svf->armed && svf->due_ns > now)
		mod_delayed_work(MLX5VF_SYSTEM_WQ, &svf->complete_work,
				 nsecs_to_jiffies(svf->due_ns - now));
	else
		mlx5vf_sim_deliver_locked(mvdev);
	mlx5vf_state_unlock(mvdev);
}

/*
 * The function writes guest memory the way the real VF would: through the
 * IOMMU's mappings, here the type1 container's (vfio_dma_rw). A VF bound
 * through iommufd has no such path for the CPU; its writes fail and are
 * counted in dma_errors. The tracker logs a write only once it has landed,
 * so a report can never clear a page before the data it stands for is there.
 */
static void mlx5vf_sim_dma_tick(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_sim_vf *svf = mlx5vf_sim_vf(mvdev);
	unsigned int n = READ_ONCE(sim_dma_writes_per_tick);
	u64 iova;
	int ret;

	lockdep_assert_held(&mvdev->state_mutex);
	if (!svf->dma_open || !svf->dma_window_len)
		return;
	while (n--) {
		ret = mlx5vf_core_sim_next_dma(svf->sim, svf->dma_window, svf->dma_window_len,
					       svf->dma_buf, MLX5VF_SIM_DMA_BYTES, &iova);
		if (ret)
			return; /* -EAGAIN: the initiator is suspended */
		ret = vfio_dma_rw(mvdev->vdev, iova, svf->dma_buf, MLX5VF_SIM_DMA_BYTES,
				  true);
		if (ret) {
			svf->dma_errors++;
			svf->dma_error = ret;
			svf->dma_error_iova = iova;
			return;
		}
		mlx5vf_core_sim_dma_written(svf->sim, iova, MLX5VF_SIM_DMA_BYTES);
	}
}

static void mlx5vf_sim_activity_work(struct work_struct *work)
{
	struct mlx5vf_sim_vf *svf = to_sim_vf_work(work, true);
	struct mlx5vf_device *mvdev = svf->mvdev;

	mlx5vf_state_lock(mvdev);
	/* The simulated function itself ignores writes while suspended. */
	mlx5vf_core_sim_run_activity(svf->sim, READ_ONCE(sim_writes_per_tick));
	mlx5vf_sim_dma_tick(mvdev);
	mlx5vf_state_unlock(mvdev);
	schedule_delayed_work(&svf->activity_work, MLX5VF_SIM_TICK);
}

/*
 * The core waits for the in-flight SAVE while holding the state lock, which
 * the completion work needs: deliver inline once the completion is due. A
 * user's state change sleeps interruptibly and leaves the SAVE in flight.
 */
static int mlx5vf_sim_wait_save_idle(void *ctx, struct mlx5vf_save_file *file,
				     bool interruptible)
{
	struct mlx5vf_device *mvdev = ctx;
	struct mlx5vf_sim_vf *svf = mlx5vf_sim_vf(mvdev);
	u64 now = ktime_get_ns();

	if (!svf->armed)
		return 0;
	while (svf->due_ns > now) {
		u64 us = div_u64(svf->due_ns - now, NSEC_PER_USEC) + 1;

		if (!interruptible)
			fsleep(us);
		else if (msleep_interruptible(DIV_ROUND_UP_ULL(us, USEC_PER_MSEC)))
			return -ERESTARTSYS;
		now = ktime_get_ns();
	}
	mlx5vf_sim_deliver_locked(mvdev);
	return 0;
}

static const struct mlx5vf_dev_ops mlx5vf_sim_dev_ops = {
	.wait_save_idle = mlx5vf_sim_wait_save_idle,
};

/**
 * mlx5vf_sim_setup() - Create a simulated VF's firmware and core device.
 * @mvdev: the device
 * @shape: the function's IDs, state size and save mode
 *
 * The simulated firmware, then the core device over it, for a function of
 * the given shape. The module parameters supply the rest.
 *
 * Return: 0, or a negative errno (logged) with nothing left to undo.
 */
int mlx5vf_sim_setup(struct mlx5vf_device *mvdev, const struct mlx5vf_sim_shape *shape)
{
	u64 state_size = (u64)max(shape->state_kib, 64U) * SZ_1K;
	struct mlx5vf_sim_vf *svf;
	struct mlx5vf_sim_config cfg = {
		.state_size = state_size,
		.identity = READ_ONCE(sim_identity),
		.seed = shape->seed,
		.latency_ns = (u64)sim_latency_us * NSEC_PER_USEC,
		.chunk_mode = shape->chunk_mode,
		/* Half configured: room for reconfigurations (debugfs "reconfigure"). */
		.configured_size = state_size / 2,
		.migration_state = true,
		.no_page_tracker = !shape->page_tracker,
		.max_chunk = SZ_256K,
		.track_max_ranges = max(sim_track_max_ranges, 1U),
		.request_completion = mlx5vf_sim_request_completion,
	};
	struct mlx5vf_dev_config dcfg = {
		.fw_ops = &mlx5vf_sim_fw_ops,
		.ops = &mlx5vf_sim_dev_ops,
		.ops_ctx = mvdev,
		.compat = {
			.pci_vendor_id = shape->vendor,
			.pci_device_id = shape->device,
			.vhca_state_format = 1,
			.fw_identity = cfg.identity,
		},
		.features = MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P |
			    MLX5VF_MIG_FEATURE_PRE_COPY,
	};
	int ret;

	svf = kzalloc(sizeof(*svf), GFP_KERNEL);
	if (!svf)
		return -ENOMEM;
	svf->mvdev = mvdev;
	INIT_DELAYED_WORK(&svf->complete_work, mlx5vf_sim_complete_work);
	INIT_DELAYED_WORK(&svf->activity_work, mlx5vf_sim_activity_work);
	svf->dma_buf = kmalloc(MLX5VF_SIM_DMA_BYTES, GFP_KERNEL);
	if (!svf->dma_buf) {
		ret = -ENOMEM;
		goto out_free;
	}
	cfg.sched_ctx = svf;
	ret = mlx5vf_core_sim_create(&cfg, &svf->sim);
	if (ret)
		goto out_free;
	dcfg.fw_ctx = svf->sim;
	mvdev->backend_priv = svf;
	ret = mlx5vf_mig_dev_create(mvdev, &dcfg);
	if (ret)
		goto out_sim;
	schedule_delayed_work(&svf->activity_work, MLX5VF_SIM_TICK);
	return 0;

out_sim:
	mvdev->backend_priv = NULL;
	mlx5vf_core_sim_destroy(svf->sim);
out_free:
	kfree(svf->dma_buf);
	kfree(svf);
	dev_warn(mvdev->dev, "simulated VF setup failed: %d\n", ret);
	return ret;
}

/**
 * mlx5vf_sim_setup_pci() - The backend's setup for a PCI function.
 * @mvdev: the device of a PCI function bound to this module
 *
 * Its IDs are the function's, its state as the module parameters say.
 *
 * Return: 0, or a negative errno.
 */
int mlx5vf_sim_setup_pci(struct mlx5vf_device *mvdev)
{
	struct pci_dev *pdev = to_pci_dev(mvdev->dev);
	const struct mlx5vf_sim_shape shape = {
		.vendor = pdev->vendor,
		.device = pdev->device,
		.seed = pci_dev_id(pdev) + 1,
		.state_kib = sim_state_kib,
		.chunk_mode = sim_chunk_mode,
		.page_tracker = true,
	};

	return mlx5vf_sim_setup(mvdev, &shape);
}

/**
 * mlx5vf_sim_teardown() - The backend's teardown.
 * @mvdev: the device
 *
 * Runs from the device's release: nothing of the simulator may run after it.
 *
 * Context: Process context; takes the state mutex.
 */
void mlx5vf_sim_teardown(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_sim_vf *svf = mlx5vf_sim_vf(mvdev);

	cancel_delayed_work_sync(&svf->activity_work);
	/* Closing may still SAVE (a firmware cleanup), delivered inline. */
	mlx5vf_state_lock(mvdev);
	mlx5vf_mig_close_files(mvdev);
	mlx5vf_sim_deliver_locked(mvdev);
	mlx5vf_state_unlock(mvdev);
	cancel_delayed_work_sync(&svf->complete_work);
	mlx5vf_mig_dev_destroy(mvdev);
	mlx5vf_core_sim_destroy(svf->sim);
	kfree(svf->dma_buf);
	kfree(svf);
	mvdev->backend_priv = NULL;
}

/**
 * mlx5vf_sim_inject() - Test control: make a later command of a kind fail.
 * @mvdev: the device
 * @op: the command kind ("query", "save", "track-report", ...)
 * @nth: which next command of that kind fails
 * @fault: how it fails ("error", "short-image", "lose-dirty", ...)
 *
 * For example "save 2 short-image" through debugfs "inject".
 *
 * Return: 0, or -EINVAL for an unknown kind or fault.
 */
int mlx5vf_sim_inject(struct mlx5vf_device *mvdev, const char *op, unsigned int nth,
		      const char *fault)
{
	static const char * const ops[] = { "query", "suspend", "resume", "save", "load", "alloc",
					    "track-start", "track-report" };
	static const char * const faults[] = { "error", "complete-error", "bad-resource-state",
					       "short-image", "lose-dirty", "forced-timeout" };
	int o = match_string(ops, ARRAY_SIZE(ops), op);
	int f = match_string(faults, ARRAY_SIZE(faults), fault);
	int ret;

	if (o < 0 || f < 0)
		return -EINVAL;
	mlx5vf_state_lock(mvdev);
	ret = mlx5vf_core_sim_inject_fault(mlx5vf_sim_vf(mvdev)->sim, o, nth, f);
	mlx5vf_state_unlock(mvdev);
	return ret;
}

/**
 * mlx5vf_sim_reconfigure() - Test control: reconfigure the running function.
 * @mvdev: the device
 * @pages: how many more pages of its state to configure, at most
 *
 * During PRE_COPY this is new initial data.
 *
 * Return: 0, or a negative errno.
 */
int mlx5vf_sim_reconfigure(struct mlx5vf_device *mvdev, u64 pages)
{
	u64 added;
	int ret;

	mlx5vf_state_lock(mvdev);
	ret = mlx5vf_core_sim_reconfigure(mlx5vf_sim_vf(mvdev)->sim, pages, &added);
	mlx5vf_state_unlock(mvdev);
	if (!ret)
		dev_dbg(mvdev->dev, "simulated VF reconfigured: %llu more pages\n",
			added);
	return ret;
}

/**
 * mlx5vf_sim_set_dma_window() - Test control: the guest memory the function writes.
 * @mvdev: the device
 * @iova: the window's start
 * @length: its length (0: none)
 *
 * Return: 0, or -EINVAL for a window that is not aligned or wraps.
 */
int mlx5vf_sim_set_dma_window(struct mlx5vf_device *mvdev, u64 iova, u64 length)
{
	struct mlx5vf_sim_vf *svf = mlx5vf_sim_vf(mvdev);

	if (length && (!IS_ALIGNED(iova | length, MLX5VF_SIM_DMA_BYTES) || iova + length < iova))
		return -EINVAL;
	mlx5vf_state_lock(mvdev);
	svf->dma_window = iova;
	svf->dma_window_len = length;
	mlx5vf_state_unlock(mvdev);
	return 0;
}

/**
 * mlx5vf_sim_open() - The backend's open hook: the function may do DMA.
 * @mvdev: the device, just opened
 *
 * DMA needs the device open.
 *
 * Context: The caller holds the state mutex.
 */
void mlx5vf_sim_open(struct mlx5vf_device *mvdev)
{
	lockdep_assert_held(&mvdev->state_mutex);
	mlx5vf_sim_vf(mvdev)->dma_open = true;
}

/**
 * mlx5vf_sim_close() - The backend's close hook: the function stops DMA.
 * @mvdev: the device being closed
 *
 * Context: The caller holds the state mutex.
 */
void mlx5vf_sim_close(struct mlx5vf_device *mvdev)
{
	lockdep_assert_held(&mvdev->state_mutex);
	mlx5vf_sim_vf(mvdev)->dma_open = false;
}

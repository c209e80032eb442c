// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated VF's clock. The core's simulated firmware has no time of its
 * own: this file delivers its SAVE completions after the latency it asks
 * for, and makes the function write its state while it runs, so precopy has
 * real deltas to carry. Everything runs under the device's state lock.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vfio.h>

#include "mlx5vf.h"

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
		 "Simulated VF: firmware identity of VFs bound from now on (differing ones cannot migrate)");

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

static struct mlx5vf_sim_backend *to_simb(struct work_struct *work, bool activity)
{
	struct delayed_work *dw = to_delayed_work(work);

	return activity ? container_of(dw, struct mlx5vf_sim_backend, activity_work) :
			  container_of(dw, struct mlx5vf_sim_backend, complete_work);
}

static struct mlx5vf_pci_dev *simb_to_mvdev(struct mlx5vf_sim_backend *simb)
{
	return container_of(simb, struct mlx5vf_pci_dev, simb);
}

/* Called by the simulated firmware from inside a SAVE: arm, do not sleep. */
static void mlx5vf_sim_request_completion(void *ctx, u64 delay_ns)
{
	struct mlx5vf_sim_backend *simb = ctx;

	simb->due_ns = ktime_get_ns() + delay_ns;
	simb->armed = true;
	mod_delayed_work(MLX5VF_SYSTEM_WQ, &simb->complete_work, nsecs_to_jiffies(delay_ns));
}

static void mlx5vf_sim_deliver_locked(struct mlx5vf_pci_dev *mvdev)
{
	struct mlx5vf_sim_backend *simb = &mvdev->simb;

	lockdep_assert_held(&mvdev->state_mutex);
	if (!simb->armed)
		return;
	simb->armed = false;
	mlx5vf_core_sim_deliver(simb->sim);
	wake_up_interruptible_all(&mvdev->mig_wq);
}

static void mlx5vf_sim_complete_work(struct work_struct *work)
{
	struct mlx5vf_sim_backend *simb = to_simb(work, false);
	struct mlx5vf_pci_dev *mvdev = simb_to_mvdev(simb);
	u64 now;

	mlx5vf_state_mutex_lock(mvdev);
	now = ktime_get_ns();
	/* A SAVE armed after this run was queued is not due yet. */
	if (simb->armed && simb->due_ns > now)
		mod_delayed_work(MLX5VF_SYSTEM_WQ, &simb->complete_work,
				 nsecs_to_jiffies(simb->due_ns - now));
	else
		mlx5vf_sim_deliver_locked(mvdev);
	mlx5vf_state_mutex_unlock(mvdev);
}

/*
 * The function writes guest memory the way the real VF would: through the
 * IOMMU's mappings, here the type1 container's (vfio_dma_rw). A VF bound
 * through iommufd has no such path for the CPU; its writes fail and are
 * counted in dma_errors. The tracker logs a write only once it has landed,
 * so a report can never clear a page before the data it stands for is there.
 */
static void mlx5vf_sim_dma_tick(struct mlx5vf_pci_dev *mvdev)
{
	struct mlx5vf_sim_backend *simb = &mvdev->simb;
	unsigned int n = READ_ONCE(sim_dma_writes_per_tick);
	u64 iova;
	int ret;

	lockdep_assert_held(&mvdev->state_mutex);
	if (!simb->dma_open || !simb->dma_window_len)
		return;
	while (n--) {
		ret = mlx5vf_core_sim_next_dma(simb->sim, simb->dma_window, simb->dma_window_len,
					       simb->dma_buf, MLX5VF_SIM_DMA_BYTES, &iova);
		if (ret)
			return; /* -EAGAIN: the initiator is suspended */
		ret = vfio_dma_rw(&mvdev->core.vdev, iova, simb->dma_buf, MLX5VF_SIM_DMA_BYTES,
				  true);
		if (ret) {
			simb->dma_errors++;
			simb->dma_error = ret;
			simb->dma_error_iova = iova;
			return;
		}
		mlx5vf_core_sim_dma_written(simb->sim, iova, MLX5VF_SIM_DMA_BYTES);
	}
}

static void mlx5vf_sim_activity_work(struct work_struct *work)
{
	struct mlx5vf_sim_backend *simb = to_simb(work, true);
	struct mlx5vf_pci_dev *mvdev = simb_to_mvdev(simb);

	mlx5vf_state_mutex_lock(mvdev);
	/* The simulated function itself ignores writes while suspended. */
	mlx5vf_core_sim_run_activity(simb->sim, READ_ONCE(sim_writes_per_tick));
	mlx5vf_sim_dma_tick(mvdev);
	mlx5vf_state_mutex_unlock(mvdev);
	schedule_delayed_work(&simb->activity_work, MLX5VF_SIM_TICK);
}

/*
 * The core waits for the in-flight SAVE while holding the state lock, which
 * the completion work needs: deliver inline once the completion is due.
 */
static int mlx5vf_sim_wait_save_idle(void *ctx, struct mlx5vf_save_file *file)
{
	struct mlx5vf_pci_dev *mvdev = ctx;
	struct mlx5vf_sim_backend *simb = &mvdev->simb;
	u64 now = ktime_get_ns();

	if (!simb->armed)
		return 0;
	if (simb->due_ns > now)
		fsleep(div_u64(simb->due_ns - now, NSEC_PER_USEC) + 1);
	mlx5vf_sim_deliver_locked(mvdev);
	return 0;
}

const struct mlx5vf_dev_ops mlx5vf_sim_dev_ops = {
	.wait_save_idle = mlx5vf_sim_wait_save_idle,
};

int mlx5vf_sim_init(struct mlx5vf_pci_dev *mvdev)
{
	struct mlx5vf_sim_backend *simb = &mvdev->simb;
	struct pci_dev *pdev = mvdev->core.pdev;
	struct mlx5vf_sim_config cfg = {
		.state_size = (u64)max(sim_state_kib, 64U) * SZ_1K,
		.identity = READ_ONCE(sim_identity),
		.seed = pci_dev_id(pdev) + 1,
		.latency_ns = (u64)sim_latency_us * NSEC_PER_USEC,
		.chunk_mode = sim_chunk_mode,
		/* Half configured: room for reconfigurations (debugfs "reconfigure"). */
		.configured_size = (u64)max(sim_state_kib, 64U) * SZ_1K / 2,
		.migration_state = true,
		.max_chunk = SZ_256K,
		.track_max_ranges = max(sim_track_max_ranges, 1U),
		.request_completion = mlx5vf_sim_request_completion,
		.sched_ctx = simb,
	};
	struct mlx5vf_dev_config dcfg = {
		.ops = &mlx5vf_sim_dev_ops,
		.ops_ctx = mvdev,
		.obs = &mlx5vf_observer_ops,
		.obs_ctx = mvdev,
		.compat = {
			.pci_vendor_id = pdev->vendor,
			.pci_device_id = pdev->device,
			.vhca_state_format = 1,
			.fw_identity = cfg.identity,
		},
		.features = MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P |
			    MLX5VF_MIG_FEATURE_PRE_COPY,
		.max_image_size = mlx5vf_max_image_size(),
	};
	int ret;

	INIT_DELAYED_WORK(&simb->complete_work, mlx5vf_sim_complete_work);
	INIT_DELAYED_WORK(&simb->activity_work, mlx5vf_sim_activity_work);
	simb->dma_buf = kmalloc(MLX5VF_SIM_DMA_BYTES, GFP_KERNEL);
	if (!simb->dma_buf)
		return -ENOMEM;
	ret = mlx5vf_core_sim_create(&cfg, &simb->sim);
	if (ret) {
		kfree(simb->dma_buf);
		simb->dma_buf = NULL;
		return ret;
	}
	dcfg.sim = simb->sim;
	ret = mlx5vf_core_dev_create(&dcfg, &mvdev->mig);
	if (ret) {
		mlx5vf_core_sim_destroy(simb->sim);
		simb->sim = NULL;
		return ret;
	}
	schedule_delayed_work(&simb->activity_work, MLX5VF_SIM_TICK);
	return 0;
}

void mlx5vf_sim_uninit(struct mlx5vf_pci_dev *mvdev)
{
	struct mlx5vf_sim_backend *simb = &mvdev->simb;

	if (!simb->sim)
		return;
	cancel_delayed_work_sync(&simb->activity_work);
	/* Closing may still SAVE (a firmware cleanup), delivered inline. */
	mlx5vf_state_mutex_lock(mvdev);
	mlx5vf_core_dev_close_files(mvdev->mig);
	mlx5vf_sync_files(mvdev);
	mlx5vf_sim_deliver_locked(mvdev);
	mlx5vf_state_mutex_unlock(mvdev);
	cancel_delayed_work_sync(&simb->complete_work);
	mlx5vf_core_dev_destroy(mvdev->mig);
	mvdev->mig = NULL;
	mlx5vf_core_sim_destroy(simb->sim);
	simb->sim = NULL;
	kfree(simb->dma_buf);
	simb->dma_buf = NULL;
}

/* Test control: make the nth next command of a kind fail ("save 2 short-image"). */
int mlx5vf_sim_inject(struct mlx5vf_pci_dev *mvdev, const char *op, unsigned int nth,
		      const char *fault)
{
	static const char * const ops[] = { "query", "suspend", "resume", "save", "load", "alloc",
					    "track-start", "track-report" };
	static const char * const faults[] = { "error", "complete-error", "bad-resource-state",
					       "short-image", "lose-dirty" };
	int o = match_string(ops, ARRAY_SIZE(ops), op);
	int f = match_string(faults, ARRAY_SIZE(faults), fault);
	int ret;

	if (o < 0 || f < 0 || !mvdev->simb.sim)
		return -EINVAL;
	mlx5vf_state_mutex_lock(mvdev);
	ret = mlx5vf_core_sim_inject_fault(mvdev->simb.sim, o, nth, f);
	mlx5vf_state_mutex_unlock(mvdev);
	return ret;
}

/*
 * Test control: reconfigure the running function, which configures up to
 * pages more pages of its state: during PRE_COPY, new initial data.
 */
int mlx5vf_sim_reconfigure(struct mlx5vf_pci_dev *mvdev, u64 pages)
{
	u64 added;
	int ret;

	if (!mvdev->simb.sim)
		return -EINVAL;
	mlx5vf_state_mutex_lock(mvdev);
	ret = mlx5vf_core_sim_reconfigure(mvdev->simb.sim, pages, &added);
	mlx5vf_state_mutex_unlock(mvdev);
	if (!ret)
		dev_dbg(&mvdev->core.pdev->dev, "simulated VF reconfigured: %llu more pages\n",
			added);
	return ret;
}

/* Test control: the guest memory the function writes (length 0: none). */
int mlx5vf_sim_set_dma_window(struct mlx5vf_pci_dev *mvdev, u64 iova, u64 length)
{
	struct mlx5vf_sim_backend *simb = &mvdev->simb;

	if (!simb->sim)
		return -EINVAL;
	if (length && (!IS_ALIGNED(iova | length, MLX5VF_SIM_DMA_BYTES) || iova + length < iova))
		return -EINVAL;
	mlx5vf_state_mutex_lock(mvdev);
	simb->dma_window = iova;
	simb->dma_window_len = length;
	mlx5vf_state_mutex_unlock(mvdev);
	return 0;
}

/* The device was opened or is being closed (state mutex held). */
void mlx5vf_sim_dma_enable(struct mlx5vf_pci_dev *mvdev, bool open)
{
	lockdep_assert_held(&mvdev->state_mutex);
	mvdev->simb.dma_open = open && mvdev->simb.sim;
}

/* Test view: the state a migration carried, frozen at both ends. */
void mlx5vf_sim_after_arc(struct mlx5vf_pci_dev *mvdev, enum mlx5vf_mig_state from,
			  enum mlx5vf_mig_state to)
{
	struct mlx5vf_sim_backend *simb = &mvdev->simb;

	if (to == MLX5VF_MIG_STOP_COPY && from != MLX5VF_MIG_STOP_COPY)
		simb->saved_checksum = mlx5vf_core_sim_checksum(simb->sim);
	if (from == MLX5VF_MIG_RESUMING && to != MLX5VF_MIG_RESUMING)
		simb->loaded_checksum = mlx5vf_core_sim_checksum(simb->sim);
}

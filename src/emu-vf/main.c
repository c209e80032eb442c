// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlx5vf_mlx5_emu_vf: a test-only backend module (never shipped: dkms.conf
 * lists mlx5vf and mlx5vf_sim). Any PCI function bound to its driver through
 * driver_override becomes a VFIO device of mlx5vf.ko, like mlx5vf_sim.ko does
 * it, but its migration firmware is the real mlx5 backend: this module's own
 * copy of src/shim/mlx5_fw.c and its mailboxes, built with MLX5VF_MLX5_EMU,
 * talking to an emulated ConnectX PF (kunit/mlx5vf_emu.c) made for that
 * function alone. Real QEMU then live-migrates guests through the mlx5 code
 * path (tests/vm/12-mlx5-emu.t).
 *
 * While the function runs, its VHCA writes its state (precopy has deltas to
 * carry) and guest memory through VFIO's DMA path (the debugfs "dma_window"),
 * which the emulated firmware tracker reports dirty. Its debugfs "emu" shows
 * the VHCA's state checksum, what the emulator saw, and what it refused.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitops.h>
#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "../../kunit/mlx5vf_emu.h"
#include "../shim/mlx5_fw.h"
#include "../shim/mlx5vf.h"

static bool emu_chunk_mode = true;
module_param(emu_chunk_mode, bool, 0444);
MODULE_PARM_DESC(emu_chunk_mode,
		 "Emulated PF: its firmware saves images in chunks (HCA_CAP_2 migration_in_chunks); for functions bound from now on");

static bool emu_page_tracker = true;
module_param(emu_page_tracker, bool, 0444);
MODULE_PARM_DESC(emu_page_tracker,
		 "Emulated PF: offer device dirty-page tracking (VFIO DMA logging, where the kernel carries it)");

static unsigned int emu_state_kib = 256;
module_param(emu_state_kib, uint, 0444);
MODULE_PARM_DESC(emu_state_kib,
		 "Emulated PF: VF state size in KiB (16 to 1024, rounded up to whole 4 KiB pages; default 256)");

static unsigned int emu_max_chunk_kib = 64;
module_param(emu_max_chunk_kib, uint, 0444);
MODULE_PARM_DESC(emu_max_chunk_kib, "Emulated PF: largest chunk of a chunked image in KiB (8 to 1024, default 64)");

static unsigned int emu_writes_per_tick = 4;
module_param(emu_writes_per_tick, uint, 0644);
MODULE_PARM_DESC(emu_writes_per_tick,
		 "Emulated PF: writes of its VF's simulated VHCA to its own state every 10 ms while it runs");

static unsigned int emu_dma_writes_per_tick = 8;
module_param(emu_dma_writes_per_tick, uint, 0644);
MODULE_PARM_DESC(emu_dma_writes_per_tick,
		 "Emulated PF: DMA writes into its debugfs dma_window every 10 ms while its VF runs");

static bool emu_lose_dirty;
module_param(emu_lose_dirty, bool, 0644);
MODULE_PARM_DESC(emu_lose_dirty,
		 "Emulated PF: a negative control; its tracker clears the pages its VF wrote without reporting them");

#define EMU_VF_TICK msecs_to_jiffies(10)
/* One DMA write: a burst smaller than a page, like a packet. */
#define EMU_VF_DMA_BYTES 1024

/* One bound function; seq and the fields after it under the device's state mutex. */
struct mlx5vf_emu_vf {
	struct mlx5vf_device *mvdev;
	struct mlx5vf_emu *emu;
	/* The backend's own state, kept off mvdev->mlx5: that is mlx5vf.ko's backend's. */
	struct mlx5vf_mlx5 *fw;
	struct delayed_work activity_work;
	unsigned long reported; /* bit 0: the first misuse was logged */
	u32 seq;		/* the next DMA write's sequence number */
	u64 dma_window;
	u64 dma_window_len; /* 0: the function writes no guest memory */
	bool dma_open;      /* the device is open: VFIO has an address space */
	void *dma_buf;
	u64 dma_writes;
	u64 dma_errors; /* writes VFIO refused (the IOVA not mapped) */
	int dma_error;
	u64 state_writes;
};

static struct mlx5vf_emu_vf *mlx5vf_emu_vf_of(struct mlx5vf_device *mvdev)
{
	return mvdev->backend_priv;
}

/* The emulator's misuse reports: the first one logged, all counted (debugfs "emu"). */
static void mlx5vf_emu_vf_report(void *ctx, const char *msg)
{
	struct mlx5vf_emu_vf *evf = ctx;

	if (!test_and_set_bit(0, &evf->reported))
		dev_err(evf->mvdev->dev, "emulated PF: %s (further ones only counted)\n", msg);
}

/*
 * The running function writes its state and guest memory. Under the state
 * mutex, which every SUSPEND takes too: nothing is written once the VHCA is
 * suspended, as a real VF stops its DMA at SUSPEND_INITIATOR.
 */
static void mlx5vf_emu_vf_tick(struct mlx5vf_emu_vf *evf)
{
	unsigned int n;
	u64 iova;
	int ret;

	lockdep_assert_held(&evf->mvdev->state_mutex);
	mlx5vf_emu_lose_dirty(evf->emu, READ_ONCE(emu_lose_dirty));
	if (!mlx5vf_emu_vf_running(evf->emu))
		return;
	/* The simulated VHCA's own pattern, seeded per function (cfg.seed). */
	evf->state_writes += mlx5vf_emu_vf_activity(evf->emu, READ_ONCE(emu_writes_per_tick));
	if (!evf->dma_open || !evf->dma_window_len)
		return;
	for (n = READ_ONCE(emu_dma_writes_per_tick); n; n--) {
		iova = evf->dma_window + (u64)evf->seq * EMU_VF_DMA_BYTES % evf->dma_window_len;
		memset(evf->dma_buf, evf->seq | 1, EMU_VF_DMA_BYTES);
		memcpy(evf->dma_buf, &evf->seq, sizeof(evf->seq));
		evf->seq++;
		ret = vfio_dma_rw(evf->mvdev->vdev, iova, evf->dma_buf, EMU_VF_DMA_BYTES, true);
		if (ret) {
			evf->dma_errors++;
			evf->dma_error = ret;
			return;
		}
		evf->dma_writes++;
		/* Logged once it landed: a report never clears a page before its data. */
		mlx5vf_emu_vf_dma_written(evf->emu, iova, EMU_VF_DMA_BYTES);
	}
}

static void mlx5vf_emu_vf_activity_work(struct work_struct *work)
{
	struct mlx5vf_emu_vf *evf = container_of(to_delayed_work(work), struct mlx5vf_emu_vf,
						 activity_work);

	mlx5vf_state_lock(evf->mvdev);
	mlx5vf_emu_vf_tick(evf);
	mlx5vf_state_unlock(evf->mvdev);
	schedule_delayed_work(&evf->activity_work, EMU_VF_TICK);
}

static int mlx5vf_emu_vf_setup(struct mlx5vf_device *mvdev)
{
	struct pci_dev *pdev = to_pci_dev(mvdev->dev);
	struct mlx5vf_emu_vf *evf;
	struct mlx5vf_emu_config cfg = {
		.vhca_id = pci_dev_id(pdev),
		.chunk_mode = emu_chunk_mode,
		.state_size = round_up(clamp(emu_state_kib, 16U, 1024U), 4U) * SZ_1K,
		/* The simulated VHCA's chunk holds a header and one page record. */
		.max_chunk = clamp(emu_max_chunk_kib, 8U, 1024U) * SZ_1K,
		/* Each function's own: a migration must carry the state over. */
		.seed = pci_dev_id(pdev),
		/* Not coherent: every buffer's ownership moves by explicit syncs. */
		.dma_coherent = false,
		.page_tracker = emu_page_tracker,
		.report = mlx5vf_emu_vf_report,
		.vf = pdev,
	};
	int ret;

	evf = kzalloc(sizeof(*evf), GFP_KERNEL);
	if (!evf)
		return -ENOMEM;
	evf->mvdev = mvdev;
	INIT_DELAYED_WORK(&evf->activity_work, mlx5vf_emu_vf_activity_work);
	evf->dma_buf = kmalloc(EMU_VF_DMA_BYTES, GFP_KERNEL);
	cfg.report_ctx = evf;
	evf->emu = evf->dma_buf ? mlx5vf_emu_create(&cfg) : NULL;
	if (!evf->emu) {
		ret = -ENOMEM;
		goto out_free;
	}
	mvdev->backend_priv = evf;
	/* The real backend's probe, over this function's emulated PF. */
	ret = mlx5vf_mlx5_init(mvdev);
	if (ret)
		goto out_emu;
	evf->fw = mvdev->mlx5;
	mvdev->mlx5 = NULL;
	schedule_delayed_work(&evf->activity_work, EMU_VF_TICK);
	return 0;

out_emu:
	mvdev->backend_priv = NULL;
	mlx5vf_emu_destroy(evf->emu);
out_free:
	kfree(evf->dma_buf);
	kfree(evf);
	return ret;
}

static void mlx5vf_emu_vf_teardown(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_emu_vf *evf = mlx5vf_emu_vf_of(mvdev);

	cancel_delayed_work_sync(&evf->activity_work);
	/* Closes the files, waits for a SAVE in flight, destroys the core device. */
	mvdev->mlx5 = evf->fw;
	mlx5vf_mlx5_uninit(mvdev);
	mlx5vf_emu_destroy(evf->emu);
	kfree(evf->dma_buf);
	kfree(evf);
	mvdev->backend_priv = NULL;
}

/* vfio-pci resets a function it opens: so does its VHCA (firmware's FLR). */
static void mlx5vf_emu_vf_open(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_emu_vf *evf = mlx5vf_emu_vf_of(mvdev);

	lockdep_assert_held(&mvdev->state_mutex);
	mlx5vf_emu_vf_flr(evf->emu);
	evf->dma_open = true;
}

static void mlx5vf_emu_vf_close(struct mlx5vf_device *mvdev)
{
	lockdep_assert_held(&mvdev->state_mutex);
	mlx5vf_emu_vf_of(mvdev)->dma_open = false;
}

static int mlx5vf_emu_vf_state_show(struct seq_file *m, void *unused)
{
	struct mlx5vf_device *mvdev = m->private;
	struct mlx5vf_emu_vf *evf = mlx5vf_emu_vf_of(mvdev);
	struct mlx5vf_emu_stats st;

	mlx5vf_state_lock(mvdev);
	mlx5vf_emu_stats(evf->emu, &st);
	seq_printf(m, "emu_checksum: %016llx\n", mlx5vf_emu_state_sum(evf->emu));
	seq_printf(m, "emu_running: %d\n", mlx5vf_emu_vf_running(evf->emu));
	seq_printf(m, "emu_misuses: %u\n", st.misuses);
	seq_printf(m, "emu_saves: %u\n", st.saves);
	seq_printf(m, "emu_continuation_saves: %u\n", st.continuation_saves);
	seq_printf(m, "emu_cleanups: %u\n", st.cleanups);
	seq_printf(m, "emu_loads: %u\n", st.loads);
	seq_printf(m, "emu_queries: %u\n", st.queries);
	seq_printf(m, "emu_out_err_calls: %u\n", st.out_err_calls);
	seq_printf(m, "emu_tracking: %d\n", st.tracking);
	seq_printf(m, "emu_trackers_live: %d\n", st.trackers_live);
	seq_printf(m, "emu_reports: %u\n", st.reports);
	seq_printf(m, "emu_dirty_pages_reported: %u\n", st.dirty_pages_reported);
	seq_printf(m, "emu_dirty_pages_lost: %u\n", st.dirty_pages_lost);
	seq_printf(m, "emu_mkeys_live: %u\n", st.mkeys_live);
	seq_printf(m, "emu_pages_mapped: %u\n", st.pages_mapped);
	seq_printf(m, "emu_state_writes: %llu\n", evf->state_writes);
	seq_printf(m, "emu_dma_window: %llx %llx\n", evf->dma_window, evf->dma_window_len);
	seq_printf(m, "emu_dma_writes: %llu\n", evf->dma_writes);
	seq_printf(m, "emu_dma_errors: %llu\n", evf->dma_errors);
	seq_printf(m, "emu_dma_last_error: %d\n", evf->dma_error);
	mlx5vf_state_unlock(mvdev);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mlx5vf_emu_vf_state);

/* "IOVA LENGTH": the guest memory the function writes while it runs ("0 0": none). */
static ssize_t mlx5vf_emu_vf_dma_window_write(struct file *file, const char __user *ubuf,
					      size_t len, loff_t *ppos)
{
	struct mlx5vf_device *mvdev = file->private_data;
	struct mlx5vf_emu_vf *evf = mlx5vf_emu_vf_of(mvdev);
	unsigned long long iova, length;
	char buf[64];

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%lli %lli", &iova, &length) != 2)
		return -EINVAL;
	if (length && (!IS_ALIGNED(iova | length, EMU_VF_DMA_BYTES) || iova + length < iova))
		return -EINVAL;
	mlx5vf_state_lock(mvdev);
	evf->dma_window = iova;
	evf->dma_window_len = length;
	mlx5vf_state_unlock(mvdev);
	return len;
}

static const struct file_operations mlx5vf_emu_vf_dma_window_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = mlx5vf_emu_vf_dma_window_write,
};

static void mlx5vf_emu_vf_debugfs(struct mlx5vf_device *mvdev, struct dentry *dir)
{
	debugfs_create_file("emu", 0400, dir, mvdev, &mlx5vf_emu_vf_state_fops);
	debugfs_create_file("dma_window", 0200, dir, mvdev, &mlx5vf_emu_vf_dma_window_fops);
}

static const struct mlx5vf_backend_ops mlx5vf_emu_vf_backend = {
	.owner = THIS_MODULE,
	.setup = mlx5vf_emu_vf_setup,
	.teardown = mlx5vf_emu_vf_teardown,
	.open = mlx5vf_emu_vf_open,
	.close = mlx5vf_emu_vf_close,
	.debugfs = mlx5vf_emu_vf_debugfs,
};

static int mlx5vf_emu_vf_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	return mlx5vf_pci_bind(pdev, &mlx5vf_emu_vf_backend);
}

/* A reset of the function resets its VHCA, as a real VF's FLR does inside firmware. */
static void mlx5vf_emu_vf_reset_done(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);
	struct mlx5vf_pci_dev *vf = container_of(core, struct mlx5vf_pci_dev, core);
	struct mlx5vf_emu_vf *evf = mlx5vf_emu_vf_of(&vf->mvdev);

	if (evf)
		mlx5vf_emu_vf_flr(evf->emu);
	mlx5vf_pci_err_handlers.reset_done(pdev);
}

static const struct pci_error_handlers mlx5vf_emu_vf_err_handlers = {
	.reset_done = mlx5vf_emu_vf_reset_done,
	.error_detected = vfio_pci_core_aer_err_detected,
};

/* No IDs: a function is an emulated ConnectX VF only when userspace says so. */
static const struct pci_device_id mlx5vf_emu_vf_table[] = {
	{}
};

static struct pci_driver mlx5vf_emu_vf_driver = {
	.name = KBUILD_MODNAME,
	.id_table = mlx5vf_emu_vf_table,
	.probe = mlx5vf_emu_vf_probe,
	.remove = mlx5vf_pci_unbind,
	.err_handler = &mlx5vf_emu_vf_err_handlers,
	.driver_managed_dma = true,
};

module_pci_driver(mlx5vf_emu_vf_driver);

MODULE_IMPORT_NS(MLX5VF_NS);
MODULE_VERSION(MLX5VF_VERSION);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test only: mlx5vf's mlx5 backend over an emulated ConnectX PF, for any PCI function");

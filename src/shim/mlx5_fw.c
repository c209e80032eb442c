// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VF's migration firmware, reached through its PF's mlx5_core device:
 * the ops of include/mlx5vf/fw.h over the mailboxes of mlx5_cmd.c.
 *
 * Every command goes to the PF's command interface and names the VF by its
 * vhca_id. Buffers are pages of our own, one sg_table per buffer DMA-mapped
 * to the PF's device in one call, and described to firmware by an MTT mkey
 * whose entries are the mapping's device pages. Ownership of their contents
 * moves between CPU and device explicitly: synced for the device before a
 * SAVE or LOAD, for the CPU once firmware is done with them.
 *
 * SAVE is asynchronous (mlx5_cmd_exec_cb). Its completion runs in the command
 * interface's completion context, which may be atomic: it parses the outbox,
 * hands the result to the core, wakes the device's waiters and drops the pin
 * on the data_fd. A failure's firmware syndrome is printed later from a work
 * item. Everything else is synchronous, in process context, under the
 * device's state mutex.
 *
 * Dirty-page tracking runs on the PF too (mlx5_track.c): one tracker while
 * the core has DMA logging started, its capabilities read from the PF's
 * cached caps at probe and whenever the PF enables the VF again.
 *
 * The PF may take the VF away (SR-IOV disable, PF reload, firmware reset):
 * its blocking notifier tells us first; we then close the migration files
 * (waiting for a SAVE in flight), release the firmware resources (the
 * tracker too) and refuse further commands until the PF enables the VF again.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/jhash.h>
#include <linux/kmemleak.h>
#include <linux/list.h>
#include <linux/mlx5/driver.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <mlx5vf/fw.h>

#include "mlx5_cmd.h"
#include "mlx5_fw.h"
#include "mlx5_seam.h"
#include "mlx5_track.h"
#include "mlx5vf.h"
#include "mlx5vf_trace.h"

/* SAVE and LOAD sizes are 32 bits; a SAVE buffer is whole pages. */
#define MLX5VF_MAX_IMAGE ((u32)(SZ_4G - PAGE_SIZE))
#define MLX5VF_MAX_BUFFER ((u64)U32_MAX)
/*
 * How long a wait for a SAVE completion lasts before it warns, and goes on
 * waiting: mlx5_core completes every command it accepted, within its command
 * timeout (60 s by default) of waiting for a slot and as much again in
 * flight, by force if firmware does not answer (firmware-contract.rst, 16).
 */
#define MLX5VF_SAVE_WAIT (90 * HZ)
/* Image format of the stream's COMPAT record: firmware's own, opaque. */
#define MLX5VF_STATE_FORMAT 1

struct mlx5vf_mlx5;

/*
 * Our entry in the PF's notifier chain; its lock orders a running callback
 * against mlx5vf_mlx5_uninit() clearing fw.
 */
struct mlx5vf_mlx5_nb {
	struct notifier_block nb;
	struct mutex lock;	/* fw */
	struct mlx5vf_mlx5 *fw; /* NULL once the backend is gone */
};

struct mlx5vf_mlx5_buf {
	struct mlx5vf_fw_buffer desc; /* what the core sees */
	struct mlx5vf_mlx5 *fw;
	struct page **pages;
	u8 **segs;           /* page_address() of each page */
	struct sg_table sgt; /* the pages, mapped on the PF's device */
	u32 npages;
	bool mapped;         /* sgt is DMA-mapped (unwinding) */
	u32 mkey;
	u32 pd_gen; /* the PD its mkey was created in */
	bool has_mkey;
	bool device_may_write; /* its SAVE was completed by force */
	bool need_sync; /* some page is not DMA-coherent (or bounced) */
	enum dma_data_direction dir;
};

struct mlx5vf_mlx5 {
	struct mlx5vf_device *mvdev;
	struct mlx5_core_dev *mdev; /* the PF's */
	int vf_id;
	u16 vhca_id;
	bool chunk_mode;
	bool mig_state_cap; /* queries report migration_state (HCA_CAP_2) */
	bool detached; /* written under the state mutex, read anywhere */
	struct mlx5vf_mlx5_nb *nb;

	/*
	 * Dirty-page tracking; the tracker under the state mutex. DISABLE_VF
	 * aborts a running report before it takes that mutex: track_lock
	 * guards setting and clearing track (not its use) and track_leaving.
	 */
	struct mlx5vf_fw_track_caps track_caps;
	struct mlx5vf_track *track;
	u32 track_pd_gen; /* the PD generation the tracker's reference is of */
	spinlock_t track_lock; /* track (set, clear) and track_leaving */
	bool track_leaving; /* DISABLE_VF came: no new tracker until ENABLE_VF */

	/*
	 * The PD of our mkeys, held while any buffer exists. A detach
	 * abandons it if leaked objects still hold it (the PF may reload and
	 * reuse its number): pd_gen then moves on, and references taken
	 * before are never put.
	 */
	struct mutex pd_lock;
	u32 pdn;
	u32 pd_users;
	u32 pd_gen;
	u32 pd_abandoned; /* references left in abandoned PDs */

	/*
	 * The one SAVE in flight. mlx5_core completes it from interrupt
	 * context: save_status is written there, and the rest of the
	 * completion (syncing the buffer for the CPU, telling the core,
	 * printing a failure) runs in save_tail_work, so save_lock is only
	 * ever taken in process context.
	 */
	struct mlx5_async_ctx async_ctx;
	struct mlx5_async_work save_work;
	u32 save_out[MLX5_ST_SZ_DW(save_vhca_state_out)];
	int save_status;
	struct work_struct save_tail_work;
	spinlock_t save_lock; /* save_busy, save_buf, save_done, save_pin */
	bool save_busy;
	struct mlx5vf_mlx5_buf *save_buf;
	struct mlx5vf_fw_save_done *save_done;
	struct file *save_pin; /* the data_fd, held until the completion */
};

static struct device *mlx5vf_mlx5_vf_dev(struct mlx5vf_mlx5 *fw)
{
	return &to_pci_dev(fw->mvdev->dev)->dev;
}

static bool mlx5vf_mlx5_detached(struct mlx5vf_mlx5 *fw)
{
	return READ_ONCE(fw->detached);
}

/* ---- Protection domain -------------------------------------------------- */

/* Returns the generation to hand back to mlx5vf_mlx5_put_pd(), or an errno. */
static int mlx5vf_mlx5_get_pd(struct mlx5vf_mlx5 *fw, u32 *gen)
{
	u32 out[MLX5_ST_SZ_DW(alloc_pd_out)] = {};
	u32 in[MLX5_ST_SZ_DW(alloc_pd_in)] = {};
	int ret = 0;

	mutex_lock(&fw->pd_lock);
	if (!fw->pd_users) {
		mlx5vf_inbox_alloc_pd(in);
		ret = mlx5vf_seam_exec_inout(fw->mdev, alloc_pd, in, out);
		if (!ret)
			fw->pdn = mlx5vf_cmd_parse_alloc_pd(out);
	}
	if (!ret) {
		fw->pd_users++;
		*gen = fw->pd_gen;
	}
	mutex_unlock(&fw->pd_lock);
	return ret;
}

static void mlx5vf_mlx5_put_pd(struct mlx5vf_mlx5 *fw, u32 gen)
{
	u32 in[MLX5_ST_SZ_DW(dealloc_pd_in)] = {};
	int ret;

	mutex_lock(&fw->pd_lock);
	/* Taken before a detach abandoned that PD: its number is not ours now. */
	if (gen != fw->pd_gen) {
		fw->pd_abandoned--;
	} else if (!WARN_ON(!fw->pd_users) && !--fw->pd_users) {
		mlx5vf_inbox_dealloc_pd(in, fw->pdn);
		ret = mlx5vf_seam_exec_in(fw->mdev, dealloc_pd, in);
		if (ret)
			dev_warn(mlx5vf_mlx5_vf_dev(fw), "migration: DEALLOC_PD %u failed: %d\n",
				 fw->pdn, ret);
	}
	mutex_unlock(&fw->pd_lock);
}

/*
 * Detach time, once every buffer and the tracker are released: references
 * still held belong to objects firmware kept (and we leaked). The PF may
 * reload and give the PD's number to someone else; never use it again.
 */
static void mlx5vf_mlx5_abandon_pd(struct mlx5vf_mlx5 *fw)
{
	mutex_lock(&fw->pd_lock);
	if (fw->pd_users) {
		dev_warn(mlx5vf_mlx5_vf_dev(fw),
			 "migration: PD %u still held by %u leaked objects at detach; abandoned\n",
			 fw->pdn, fw->pd_users);
		fw->pd_abandoned += fw->pd_users;
		fw->pd_users = 0;
		fw->pd_gen++;
	}
	mutex_unlock(&fw->pd_lock);
}

/* ---- Buffers ---------------------------------------------------------- */

/*
 * Hand the buffer to the device, or back to the CPU. Process context only:
 * a bounced mapping copies the whole buffer. The whole table: the DMA API
 * syncs an sg mapping only as it was mapped. Nothing at all where it needs
 * no syncs (coherent, not bounced).
 */
static void mlx5vf_mlx5_buf_sync(struct mlx5vf_mlx5_buf *buf, bool for_device)
{
	if (!buf->need_sync || !buf->mapped)
		return;
	mlx5vf_seam_dma_sync_sgtable(buf->fw->mdev->device, &buf->sgt, buf->dir, for_device);
}

/*
 * Firmware may still write the pages: they stay allocated for good. kmemleak
 * is told it is on purpose; it still scans buf, so what buf points to (the
 * page arrays, the sg_table) is not reported either.
 */
static void mlx5vf_mlx5_buf_abandon(struct mlx5vf_mlx5_buf *buf)
{
	kmemleak_not_leak(buf);
}

/* Returns false if firmware may still reach the pages: they must then leak. */
static bool mlx5vf_mlx5_buf_unregister(struct mlx5vf_mlx5_buf *buf)
{
	struct mlx5vf_mlx5 *fw = buf->fw;
	int ret;

	if (!buf->has_mkey)
		return true;
	ret = mlx5vf_seam_destroy_mkey(fw->mdev, buf->mkey);
	if (ret) {
		dev_err(mlx5vf_mlx5_vf_dev(fw),
			"migration: DESTROY_MKEY 0x%x failed (%d): leaking its %u pages\n",
			buf->mkey, ret, buf->npages);
		mlx5vf_mlx5_buf_abandon(buf);
		return false;
	}
	buf->has_mkey = false;
	mlx5vf_mlx5_put_pd(fw, buf->pd_gen);
	return true;
}

static void mlx5vf_mlx5_buf_release(struct mlx5vf_mlx5_buf *buf)
{
	struct device *dev = buf->fw->mdev->device;
	u32 i;

	if (buf->mapped)
		mlx5vf_seam_dma_unmap_sgtable(dev, &buf->sgt, buf->dir);
	sg_free_table(&buf->sgt);
	for (i = 0; buf->pages && i < buf->npages && buf->pages[i]; i++)
		__free_page(buf->pages[i]);
	kvfree(buf->pages);
	kvfree(buf->segs);
	kfree(buf);
}

/*
 * Not zeroed: only bytes the firmware reports written (SAVE) or the core
 * filled (LOAD) are ever read. The bulk allocator fills the array from its
 * start and may stop short; call it again while it makes progress.
 */
static int mlx5vf_mlx5_buf_alloc_pages(struct mlx5vf_mlx5_buf *buf)
{
	unsigned long filled = 0, before;

	while (filled < buf->npages) {
		before = filled;
		filled = mlx5vf_alloc_pages_bulk(GFP_KERNEL_ACCOUNT, buf->npages, buf->pages);
		if (filled == before)
			return -ENOMEM;
		cond_resched();
	}
	return 0;
}

/*
 * One sg_table over the pages (physically contiguous runs share an entry),
 * mapped in one call; an IOMMU may merge its segments further.
 */
static int mlx5vf_mlx5_buf_map(struct mlx5vf_mlx5_buf *buf)
{
	struct device *dev = buf->fw->mdev->device;
	struct scatterlist *sg;
	u32 i;
	int ret;

	ret = mlx5vf_mlx5_buf_alloc_pages(buf);
	if (ret)
		return ret;
	for (i = 0; i < buf->npages; i++)
		buf->segs[i] = page_address(buf->pages[i]);
	ret = sg_alloc_table_from_pages(&buf->sgt, buf->pages, buf->npages, 0,
					(unsigned long)buf->npages << PAGE_SHIFT,
					GFP_KERNEL_ACCOUNT);
	if (ret)
		return ret;
	ret = mlx5vf_seam_dma_map_sgtable(dev, &buf->sgt, buf->dir);
	if (ret)
		return ret;
	buf->mapped = true;
	for_each_sgtable_dma_sg(&buf->sgt, sg, i)
		if (mlx5vf_seam_dma_need_sync(dev, sg_dma_address(sg)))
			buf->need_sync = true;
	/* Between commands the pages are the CPU's. */
	mlx5vf_mlx5_buf_sync(buf, false);
	return 0;
}

/*
 * The MTT's entries: every device page of the mapping, in order, read from
 * the DMA side (segments may differ from the CPU's entries).
 */
static dma_addr_t *mlx5vf_mlx5_buf_dma_pages(struct mlx5vf_mlx5_buf *buf)
{
	struct sg_dma_page_iter iter;
	dma_addr_t *dma;
	u32 n = 0;

	dma = kvcalloc(buf->npages, sizeof(*dma), GFP_KERNEL);
	if (!dma)
		return NULL;
	for_each_sgtable_dma_page(&buf->sgt, &iter, 0) {
		if (n == buf->npages)
			break;
		dma[n++] = sg_page_iter_dma_address(&iter);
	}
	if (WARN_ON_ONCE(n != buf->npages)) {
		kvfree(dma);
		return NULL;
	}
	return dma;
}

static int mlx5vf_mlx5_buf_register(struct mlx5vf_mlx5_buf *buf)
{
	struct mlx5vf_mlx5 *fw = buf->fw;
	size_t inlen = mlx5vf_inbox_create_mkey_len(buf->npages);
	dma_addr_t *dma;
	u32 *in;
	int ret;

	if (!inlen)
		return -E2BIG;
	ret = mlx5vf_mlx5_get_pd(fw, &buf->pd_gen);
	if (ret)
		return ret;
	in = kvzalloc(inlen, GFP_KERNEL);
	dma = mlx5vf_mlx5_buf_dma_pages(buf);
	if (!in || !dma) {
		kvfree(dma);
		kvfree(in);
		mlx5vf_mlx5_put_pd(fw, buf->pd_gen);
		return -ENOMEM;
	}
	mlx5vf_inbox_create_mkey(in, fw->pdn, dma, buf->npages, PAGE_SHIFT);
	kvfree(dma);
	ret = mlx5vf_seam_create_mkey(fw->mdev, &buf->mkey, in, inlen);
	kvfree(in);
	if (ret) {
		mlx5vf_mlx5_put_pd(fw, buf->pd_gen);
		return ret;
	}
	buf->has_mkey = true;
	return 0;
}

static int mlx5vf_mlx5_alloc_buffer(void *ctx, unsigned long long size, enum mlx5vf_fw_dir dir,
				    enum mlx5vf_alloc_ctx actx, struct mlx5vf_fw_buffer **out)
{
	struct mlx5vf_mlx5 *fw = ctx;
	struct mlx5vf_mlx5_buf *buf;
	int ret;

	/* CREATE_MKEY sleeps: no buffer for an atomic caller. */
	if (actx != MLX5VF_ALLOC_SLEEPABLE)
		return -EAGAIN;
	if (!size || size > MLX5VF_MAX_BUFFER)
		return -EINVAL;
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	buf->fw = fw;
	buf->npages = DIV_ROUND_UP_ULL(size, PAGE_SIZE);
	buf->dir = dir == MLX5VF_FW_DIR_FROM_DEVICE ? DMA_FROM_DEVICE : DMA_TO_DEVICE;
	buf->segs = kvcalloc(buf->npages, sizeof(*buf->segs), GFP_KERNEL_ACCOUNT);
	buf->pages = kvcalloc(buf->npages, sizeof(*buf->pages), GFP_KERNEL_ACCOUNT);
	if (!buf->segs || !buf->pages) {
		ret = -ENOMEM;
		goto err;
	}
	ret = mlx5vf_mlx5_buf_map(buf);
	if (ret)
		goto err;
	ret = mlx5vf_mlx5_buf_register(buf);
	if (ret)
		goto err;

	buf->desc.segments = buf->segs;
	buf->desc.segment_count = buf->npages;
	buf->desc.segment_size = PAGE_SIZE;
	/* The mkey covers whole pages; firmware is told all of them (rule 9). */
	buf->desc.capacity = (u64)buf->npages << PAGE_SHIFT;
	buf->desc.fw_key = buf->mkey;
	buf->desc.dir = dir;
	*out = &buf->desc;
	return 0;

err:
	mlx5vf_mlx5_buf_release(buf);
	return ret;
}

static struct mlx5vf_mlx5_buf *mlx5vf_mlx5_buf_of(struct mlx5vf_fw_buffer *desc)
{
	return container_of(desc, struct mlx5vf_mlx5_buf, desc);
}

static void mlx5vf_mlx5_free_buffer(void *ctx, struct mlx5vf_fw_buffer *desc)
{
	struct mlx5vf_mlx5_buf *buf = mlx5vf_mlx5_buf_of(desc);

	might_sleep();
	/* Nothing says when the device is done with it: leak it whole. */
	if (buf->device_may_write) {
		dev_warn(mlx5vf_mlx5_vf_dev(buf->fw),
			 "migration: leaking the %u pages of a timed-out SAVE_VHCA_STATE\n",
			 buf->npages);
		mlx5vf_mlx5_buf_abandon(buf);
		return;
	}
	if (!mlx5vf_mlx5_buf_unregister(buf))
		return;
	mlx5vf_mlx5_buf_release(buf);
}

/* ---- Synchronous commands ------------------------------------------------- */

static void mlx5vf_mlx5_caps(void *ctx, struct mlx5vf_fw_caps *caps)
{
	struct mlx5vf_mlx5 *fw = ctx;

	/* Probe refused a PF without migration_multi_load/tracking_state. */
	caps->precopy = true;
	caps->chunk_mode = fw->chunk_mode;
	caps->max_image_size = MLX5VF_MAX_IMAGE;
	caps->migration_state = fw->mig_state_cap;
}

#ifdef MLX5VF_HAVE_MLX5_MIG_STATE
/* The value the core acts on (new init state during precopy). */
static_assert((int)MLX5VF_FW_MIG_STATE_INIT ==
	      (int)MLX5_QUERY_VHCA_MIG_STATE_OPER_MIGRATION_INIT);
static_assert((int)MLX5VF_FW_MIG_STATE_DIRTY ==
	      (int)MLX5_QUERY_VHCA_MIG_STATE_OPER_MIGRATION_DIRTY);

static bool mlx5vf_mlx5_mig_state_cap(struct mlx5_core_dev *mdev)
{
	return MLX5_CAP_GEN_2(mdev, migration_state);
}

static unsigned int mlx5vf_mlx5_mig_state(const u32 *out)
{
	return MLX5_GET(query_vhca_migration_state_out, out, migration_state);
}
#else
/* This kernel's mlx5_ifc.h has neither: say the firmware does not report it. */
static bool mlx5vf_mlx5_mig_state_cap(struct mlx5_core_dev *mdev)
{
	return false;
}

static unsigned int mlx5vf_mlx5_mig_state(const u32 *out)
{
	return MLX5VF_FW_MIG_STATE_UNINITIALIZED;
}
#endif

/*
 * The chunk bit follows the firmware capability on every query, as mlx5
 * firmware expects from a driver that saves in chunks; the core's CHUNK flag
 * only asks for the remaining total to be reported.
 */
static int mlx5vf_mlx5_query_state(void *ctx, unsigned int flags,
				   struct mlx5vf_fw_state_size *size)
{
	u32 out[MLX5_ST_SZ_DW(query_vhca_migration_state_out)] = {};
	u32 in[MLX5_ST_SZ_DW(query_vhca_migration_state_in)] = {};
	bool inc = flags & (MLX5VF_FW_QUERY_INCREMENTAL | MLX5VF_FW_QUERY_CLEANUP);
	struct mlx5vf_mlx5 *fw = ctx;
	u64 total;
	u32 required;
	int ret;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if ((flags & MLX5VF_FW_QUERY_CHUNK) && !fw->chunk_mode)
		return -EOPNOTSUPP;
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	mlx5vf_inbox_query_vhca_migration_state(in, fw->vhca_id, inc, fw->chunk_mode);
	ret = mlx5vf_seam_exec_inout(fw->mdev, query_vhca_migration_state, in, out);
	if (ret)
		return ret;
	mlx5vf_cmd_parse_migration_state(out, fw->chunk_mode, &required, &total);
	size->required = required;
	size->remaining_total = total;
	if (fw->mig_state_cap)
		size->migration_state = mlx5vf_mlx5_mig_state(out);
	return 0;
}

static int mlx5vf_mlx5_suspend(void *ctx, enum mlx5vf_fw_suspend_op_mod op_mod)
{
	u32 in[MLX5_ST_SZ_DW(suspend_vhca_in)] = {};
	struct mlx5vf_mlx5 *fw = ctx;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if (op_mod != MLX5VF_FW_SUSPEND_INITIATOR && op_mod != MLX5VF_FW_SUSPEND_RESPONDER)
		return -EINVAL;
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	mlx5vf_inbox_suspend_vhca(in, fw->vhca_id, op_mod);
	return mlx5vf_seam_exec_in(fw->mdev, suspend_vhca, in);
}

static int mlx5vf_mlx5_resume(void *ctx, enum mlx5vf_fw_resume_op_mod op_mod)
{
	u32 in[MLX5_ST_SZ_DW(resume_vhca_in)] = {};
	struct mlx5vf_mlx5 *fw = ctx;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if (op_mod != MLX5VF_FW_RESUME_INITIATOR && op_mod != MLX5VF_FW_RESUME_RESPONDER)
		return -EINVAL;
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	mlx5vf_inbox_resume_vhca(in, fw->vhca_id, op_mod);
	return mlx5vf_seam_exec_in(fw->mdev, resume_vhca, in);
}

static int mlx5vf_mlx5_load(void *ctx, struct mlx5vf_fw_buffer *desc, unsigned int size)
{
	u32 in[MLX5_ST_SZ_DW(load_vhca_state_in)] = {};
	struct mlx5vf_mlx5_buf *buf = mlx5vf_mlx5_buf_of(desc);
	struct mlx5vf_mlx5 *fw = ctx;
	int ret;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if (!size || size > desc->capacity || buf->dir != DMA_TO_DEVICE)
		return -EINVAL;
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	mlx5vf_inbox_load_vhca_state(in, fw->vhca_id, buf->mkey, 0, size);
	mlx5vf_mlx5_buf_sync(buf, true);
	ret = mlx5vf_seam_exec_in(fw->mdev, load_vhca_state, in);
	mlx5vf_mlx5_buf_sync(buf, false);
	return ret;
}

static void mlx5vf_mlx5_function_reset(void *ctx)
{
	/*
	 * The VF's FLR clears its migration state inside firmware; nothing of
	 * ours (PD, mkeys, the SAVE in flight) depends on it.
	 */
}

/* ---- Asynchronous SAVE ----------------------------------------------------- */

/* Process context: the outbox stays put until the core hears of the SAVE. */
static void mlx5vf_mlx5_print_save_error(struct mlx5vf_mlx5 *fw, int status)
{
	if (status == -EREMOTEIO)
		mlx5vf_seam_cmd_out_err(fw->mdev, MLX5_CMD_OP_SAVE_VHCA_STATE, 0, fw->save_out);
	else
		dev_warn(mlx5vf_mlx5_vf_dev(fw), "migration: SAVE_VHCA_STATE failed: %d\n", status);
}

/*
 * mlx5_core's completion of our SAVE: from its command EQ's interrupt, or
 * from its timeout work when it forces one. Syncing a large buffer for the
 * CPU (a bounce buffer copies it whole) has no place there.
 */
static void mlx5vf_mlx5_save_done(int status, struct mlx5_async_work *work)
{
	struct mlx5vf_mlx5 *fw = container_of(work, struct mlx5vf_mlx5, save_work);

	fw->save_status = status;
	queue_work(MLX5VF_SYSTEM_WQ, &fw->save_tail_work);
}

static void mlx5vf_mlx5_save_tail(struct work_struct *work)
{
	struct mlx5vf_mlx5 *fw = container_of(work, struct mlx5vf_mlx5, save_tail_work);
	struct mlx5vf_fw_save_result res = {};
	struct mlx5vf_fw_save_done *done;
	int status = fw->save_status;
	struct mlx5vf_mlx5_buf *buf;
	struct file *pin;

	if (!status) {
		res.status = MLX5VF_FW_STATUS_OK;
		mlx5vf_cmd_parse_save(fw->save_out, &res.image_size, &res.next_required);
	} else if (status == -ETIMEDOUT) {
		/* mlx5_core's timeout forced it: the device may still write. */
		res.status = MLX5VF_FW_STATUS_TIMED_OUT;
	} else if (mlx5vf_mlx5_detached(fw)) {
		res.status = MLX5VF_FW_STATUS_DETACHED;
	} else if (status == -EREMOTEIO &&
		   mlx5vf_cmd_save_status(fw->save_out) == MLX5_CMD_STAT_BAD_RES_STATE_ERR) {
		res.status = MLX5VF_FW_STATUS_BAD_RESOURCE_STATE;
	} else {
		res.status = MLX5VF_FW_STATUS_FAILED;
	}
	if (status == -EREMOTEIO)
		res.syndrome = mlx5vf_cmd_save_syndrome(fw->save_out);
	if (status)
		mlx5vf_mlx5_print_save_error(fw, status);

	spin_lock(&fw->save_lock);
	buf = fw->save_buf;
	done = fw->save_done;
	pin = fw->save_pin;
	fw->save_buf = NULL;
	fw->save_done = NULL;
	fw->save_pin = NULL;
	fw->save_busy = false;
	spin_unlock(&fw->save_lock);
	/* mlx5_core calls back once per accepted command. */
	if (WARN_ON_ONCE(!done || !buf)) {
		if (pin)
			fput(pin);
		return;
	}
	if (res.status == MLX5VF_FW_STATUS_TIMED_OUT)
		buf->device_may_write = true;

	/*
	 * The core may read the image as soon as it hears of it. Without one
	 * (a failure, or a timeout: the device may still write) the buffer
	 * stays the device's; the next SAVE hands it over again anyway.
	 */
	if (res.image_size)
		mlx5vf_mlx5_buf_sync(buf, false);
	mlx5vf_core_fw_save_done(done, &res);
	/* Readers sleep interruptibly, the kernel's own waits for a save do not. */
	wake_up_all(&fw->mvdev->mig_wq);
	if (pin)
		fput(pin);
}

static int mlx5vf_mlx5_save(void *ctx, const struct mlx5vf_fw_save_req *req,
			    struct mlx5vf_fw_save_done *done)
{
	u32 in[MLX5_ST_SZ_DW(save_vhca_state_in)] = {};
	struct mlx5vf_mlx5_buf *buf = mlx5vf_mlx5_buf_of(req->buffer);
	struct mlx5vf_mig_file *owner = req->owner;
	struct mlx5vf_mlx5 *fw = ctx;
	struct file *filp;
	int ret;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if (buf->dir != DMA_FROM_DEVICE)
		return -EINVAL;
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	mlx5vf_inbox_save_vhca_state(in, fw->vhca_id, req->kind == MLX5VF_FW_SAVE_INCREMENTAL,
				     req->kind != MLX5VF_FW_SAVE_CLEANUP && req->track,
				     buf->mkey, 0,
				     min_t(u64, buf->desc.capacity, MLX5VF_MAX_IMAGE));

	/*
	 * Keep the data_fd alive until the completion has run: the request
	 * names its file's owner. While the core is still creating the file it
	 * has no fd yet; every path that closes the file waits for the
	 * completion anyway.
	 */
	filp = owner ? owner->filp : NULL;

	spin_lock(&fw->save_lock);
	if (fw->save_busy) {
		spin_unlock(&fw->save_lock);
		return -EBUSY;
	}
	fw->save_busy = true;
	fw->save_buf = buf;
	fw->save_done = done;
	fw->save_pin = filp ? get_file(filp) : NULL;
	spin_unlock(&fw->save_lock);

	memset(fw->save_out, 0, sizeof(fw->save_out));
	mlx5vf_mlx5_buf_sync(buf, true);
	ret = mlx5vf_seam_cmd_exec_cb(&fw->async_ctx, in, sizeof(in), fw->save_out,
				      sizeof(fw->save_out), mlx5vf_mlx5_save_done, &fw->save_work);
	if (!ret)
		return 0;

	/* Not submitted: no completion will come. */
	spin_lock(&fw->save_lock);
	filp = fw->save_pin;
	fw->save_pin = NULL;
	fw->save_buf = NULL;
	fw->save_done = NULL;
	fw->save_busy = false;
	spin_unlock(&fw->save_lock);
	mlx5vf_mlx5_buf_sync(buf, false);
	if (filp)
		fput(filp);
	return ret;
}

/*
 * The SAVE owns its buffer until its completion has run, so the kernel's own
 * paths wait for that, however long mlx5_core takes: it always completes.
 * A user's state change waits interruptibly; its arc has changed nothing yet.
 */
static int mlx5vf_mlx5_wait_save_idle(void *ctx, struct mlx5vf_save_file *file,
				      bool interruptible)
{
	struct mlx5vf_mlx5 *fw = ctx;
	bool warned = false;
	long ret;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	for (;;) {
		if (interruptible)
			ret = wait_event_interruptible_timeout(fw->mvdev->mig_wq,
							       !mlx5vf_core_save_in_flight(file),
							       MLX5VF_SAVE_WAIT);
		else
			ret = wait_event_timeout(fw->mvdev->mig_wq,
						 !mlx5vf_core_save_in_flight(file),
						 MLX5VF_SAVE_WAIT);
		if (ret < 0)
			return ret;
		if (ret)
			return 0;
		if (!warned)
			dev_warn(mlx5vf_mlx5_vf_dev(fw),
				 "migration: SAVE_VHCA_STATE not completed after %u s; still waiting for mlx5_core to complete it\n",
				 MLX5VF_SAVE_WAIT / HZ);
		warned = true;
	}
}

/* ---- Dirty-page tracking ------------------------------------------------ */

static void mlx5vf_mlx5_track_caps(void *ctx, struct mlx5vf_fw_track_caps *caps)
{
	struct mlx5vf_mlx5 *fw = ctx;

	*caps = fw->track_caps;
}

static int mlx5vf_mlx5_track_start(void *ctx, const struct mlx5vf_fw_track_req *req)
{
	struct mlx5vf_mlx5 *fw = ctx;
	struct mlx5vf_track *t;
	bool pd_busy;
	int ret;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	if (fw->track)
		return -EBUSY;
	/* The tracker's mkey and QPs share the PD of our buffers. */
	ret = mlx5vf_mlx5_get_pd(fw, &fw->track_pd_gen);
	if (ret)
		return ret;
	t = mlx5vf_track_create(fw->mdev, mlx5vf_mlx5_vf_dev(fw), fw->vhca_id, fw->pdn,
				&fw->track_caps, req, &pd_busy);
	if (IS_ERR(t)) {
		/* Firmware still has objects in it: keep our reference, the detach abandons it. */
		if (pd_busy)
			dev_warn(mlx5vf_mlx5_vf_dev(fw),
				 "dirty tracking: firmware kept objects of the failed tracker in PD %u; leaking it\n",
				 fw->pdn);
		else
			mlx5vf_mlx5_put_pd(fw, fw->track_pd_gen);
		return PTR_ERR(t);
	}
	spin_lock(&fw->track_lock);
	if (!fw->track_leaving) {
		fw->track = t;
		t = NULL;
	}
	spin_unlock(&fw->track_lock);
	/* DISABLE_VF is waiting for the state mutex: it would release this one anyway. */
	if (t) {
		if (mlx5vf_track_destroy(t))
			mlx5vf_mlx5_put_pd(fw, fw->track_pd_gen);
		return -ENOTCONN;
	}
	return 0;
}

/*
 * can_touch_pf false: the PF may be gone (see mlx5vf_mlx5_uninit()); a
 * tracker left then is leaked rather than destroyed through a dead device.
 */
static void mlx5vf_mlx5_track_release(struct mlx5vf_mlx5 *fw, bool can_touch_pf)
{
	struct mlx5vf_track *t;

	spin_lock(&fw->track_lock);
	t = fw->track;
	fw->track = NULL;
	spin_unlock(&fw->track_lock);
	if (!t)
		return;
	if (!can_touch_pf)
		/* Unreachable: closing the device stops tracking before remove. */
		WARN_ONCE(1, "mlx5vf: dirty tracker still set up after the PF went away; leaked\n");
	else if (mlx5vf_track_destroy(t))
		mlx5vf_mlx5_put_pd(fw, fw->track_pd_gen);
}

/*
 * DISABLE_VF runs under the PF's devlink and interface locks: a report that
 * firmware keeps feeding must not hold it up. No state mutex here (the
 * report holds it); track_lock keeps the tracker allocated meanwhile.
 */
static void mlx5vf_mlx5_track_abort(struct mlx5vf_mlx5 *fw)
{
	spin_lock(&fw->track_lock);
	fw->track_leaving = true;
	if (fw->track)
		mlx5vf_track_abort(fw->track);
	spin_unlock(&fw->track_lock);
}

static void mlx5vf_mlx5_track_stop(void *ctx)
{
	struct mlx5vf_mlx5 *fw = ctx;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	/* After a detach the tracker is gone already. */
	mlx5vf_mlx5_track_release(fw, true);
}

static int mlx5vf_mlx5_track_report(void *ctx, unsigned long long iova, unsigned long long length,
				    struct mlx5vf_fw_dirty_sink *sink)
{
	struct mlx5vf_mlx5 *fw = ctx;

	lockdep_assert_held(&fw->mvdev->state_mutex);
	if (mlx5vf_mlx5_detached(fw))
		return -ENOTCONN;
	/* Lost to a detach since it started: broken until the next start. */
	if (!fw->track)
		return -EIO;
	return mlx5vf_track_report(fw->track, iova, length, sink);
}

static const struct mlx5vf_fw_ops mlx5vf_mlx5_fw_ops = {
	.caps = mlx5vf_mlx5_caps,
	.query_state = mlx5vf_mlx5_query_state,
	.suspend = mlx5vf_mlx5_suspend,
	.resume = mlx5vf_mlx5_resume,
	.save = mlx5vf_mlx5_save,
	.load = mlx5vf_mlx5_load,
	.alloc_buffer = mlx5vf_mlx5_alloc_buffer,
	.free_buffer = mlx5vf_mlx5_free_buffer,
	.function_reset = mlx5vf_mlx5_function_reset,
	.track_caps = mlx5vf_mlx5_track_caps,
	.track_start = mlx5vf_mlx5_track_start,
	.track_stop = mlx5vf_mlx5_track_stop,
	.track_report = mlx5vf_mlx5_track_report,
};

static const struct mlx5vf_dev_ops mlx5vf_mlx5_dev_ops = {
	.wait_save_idle = mlx5vf_mlx5_wait_save_idle,
};

/* ---- The PF's view of the VF -------------------------------------------- */

/*
 * Blocking notifier of the PF: DISABLE_VF comes before the PF tears the VF's
 * function down (SR-IOV disable, PF reload, firmware reset), ENABLE_VF before
 * it brings it back. Process context.
 */
static void mlx5vf_mlx5_detach(struct mlx5vf_mlx5 *fw)
{
	struct mlx5vf_device *mvdev = fw->mvdev;

	mlx5vf_mlx5_track_abort(fw);
	mlx5vf_state_lock(mvdev);
	/* No new command from now on; closing frees every buffer (and the PD). */
	WRITE_ONCE(fw->detached, true);
	trace_mlx5vf_pf(dev_name(mvdev->dev), false);
	mlx5vf_core_dev_detach(mvdev->mig);
	mlx5vf_core_dev_close_files(mvdev->mig);
	/* The PF is still up: the tracker goes now, while it can. */
	mlx5vf_mlx5_track_release(fw, true);
	mlx5vf_mlx5_abandon_pd(fw);
	mlx5vf_state_unlock(mvdev);
	/* A completion's tail touches the PF until the core hears of it. */
	flush_work(&fw->save_tail_work);
}

static void mlx5vf_mlx5_attach(struct mlx5vf_mlx5 *fw)
{
	struct mlx5vf_device *mvdev = fw->mvdev;

	mlx5vf_state_lock(mvdev);
	/* A reloaded PF may come back with other firmware. */
	mlx5vf_track_caps(fw->mdev, &fw->track_caps);
	spin_lock(&fw->track_lock);
	fw->track_leaving = false;
	spin_unlock(&fw->track_lock);
	WRITE_ONCE(fw->detached, false);
	trace_mlx5vf_pf(dev_name(mvdev->dev), true);
	mlx5vf_core_dev_attach(mvdev->mig);
	mlx5vf_state_unlock(mvdev);
}

static int mlx5vf_mlx5_vf_event(struct notifier_block *nb, unsigned long event, void *data)
{
	struct mlx5vf_mlx5_nb *n = container_of(nb, struct mlx5vf_mlx5_nb, nb);

	mutex_lock(&n->lock);
	if (n->fw && event == MLX5_PF_NOTIFY_DISABLE_VF)
		mlx5vf_mlx5_detach(n->fw);
	else if (n->fw && event == MLX5_PF_NOTIFY_ENABLE_VF)
		mlx5vf_mlx5_attach(n->fw);
	mutex_unlock(&n->lock);
	return NOTIFY_OK;
}

/*
 * What source and destination must share: PSID (folded) and firmware
 * version. The split is the core's (stream_format.h): the high 32 bits, PSID
 * and major, must always match; the low 32, minor and subminor, are the build
 * that accept_fw_build_mismatch may waive.
 */
static u64 mlx5vf_mlx5_fw_identity(struct mlx5_core_dev *mdev)
{
	u32 psid = jhash(mdev->board_id, strnlen(mdev->board_id, MLX5_BOARD_ID_LEN), 0);
	u16 major, minor, subminor;

	mlx5vf_seam_fw_version(mdev, &major, &minor, &subminor);
	return (u64)(psid & 0xffff) << 48 | (u64)major << 32 | (u64)minor << 16 | subminor;
}

static int mlx5vf_mlx5_query_vf_caps(struct mlx5_core_dev *mdev, int vf_id,
				     struct mlx5vf_cmd_general_caps *gen,
				     struct mlx5vf_cmd_general2_caps *gen2)
{
	u32 in[MLX5_ST_SZ_DW(query_hca_cap_in)] = {};
	u16 fid = mlx5vf_cmd_vf_function_id(vf_id);
	bool ec_vf = mlx5vf_cmd_vfs_are_ec_vfs(mlx5_core_is_ecpf(mdev),
					       MLX5_CAP_GEN_2(mdev, ec_vf_vport_base));
	void *out;
	int ret;

	out = kzalloc(MLX5_ST_SZ_BYTES(query_hca_cap_out), GFP_KERNEL);
	if (!out)
		return -ENOMEM;
	mlx5vf_inbox_query_vf_general2_cap(in, fid, ec_vf);
	ret = mlx5vf_seam_exec_inout(mdev, query_hca_cap, in, out);
	if (ret)
		goto out;
	mlx5vf_cmd_parse_general2_caps(mlx5vf_cmd_hca_cap(out), gen2);

	memset(in, 0, sizeof(in));
	memset(out, 0, MLX5_ST_SZ_BYTES(query_hca_cap_out));
	mlx5vf_inbox_query_vf_general_cap(in, fid, ec_vf);
	ret = mlx5vf_seam_exec_inout(mdev, query_hca_cap, in, out);
	if (!ret)
		mlx5vf_cmd_parse_general_caps(mlx5vf_cmd_hca_cap(out), gen);
out:
	kfree(out);
	return ret;
}

/*
 * Gate: the PF is driven by mlx5_core, its firmware migrates and supports
 * precopy, and the VF itself was made migratable (devlink port function
 * "migratable", set before the VF was bound here).
 */
static int mlx5vf_mlx5_probe_fw(struct mlx5vf_mlx5 *fw, const char **why)
{
	struct pci_dev *pdev = to_pci_dev(fw->mvdev->dev);
	struct mlx5vf_cmd_general2_caps pf2, vf2;
	struct mlx5vf_cmd_general_caps pf, vf;
	int ret;

	mlx5vf_cmd_parse_general_caps(fw->mdev->caps.hca[MLX5_CAP_GENERAL]->cur, &pf);
	mlx5vf_cmd_parse_general2_caps(fw->mdev->caps.hca[MLX5_CAP_GENERAL_2]->cur, &pf2);
	if (!pf.migration) {
		*why = "the PF's firmware has no migration capability";
		return -EOPNOTSUPP;
	}
	if (!pf2.migration_multi_load || !pf2.migration_tracking_state) {
		*why = "the PF's firmware lacks precopy (migration_multi_load, tracking_state)";
		return -EOPNOTSUPP;
	}
	fw->vf_id = mlx5vf_seam_vf_index(pdev);
	if (fw->vf_id < 0) {
		*why = "no VF index on its PF";
		return fw->vf_id;
	}
	ret = mlx5vf_mlx5_query_vf_caps(fw->mdev, fw->vf_id, &vf, &vf2);
	if (ret) {
		*why = "querying the VF's capabilities on the PF failed";
		return ret;
	}
	if (!vf2.migratable) {
		*why = "the VF is not migratable (devlink port function ... migratable enable)";
		return -EOPNOTSUPP;
	}
	fw->vhca_id = vf.vhca_id;
	fw->chunk_mode = pf2.migration_in_chunks;
	fw->mig_state_cap = mlx5vf_mlx5_mig_state_cap(fw->mdev);
	mlx5vf_track_caps(fw->mdev, &fw->track_caps);
	return 0;
}

static int mlx5vf_mlx5_create_dev(struct mlx5vf_mlx5 *fw, u64 identity)
{
	struct pci_dev *pdev = to_pci_dev(fw->mvdev->dev);
	struct mlx5vf_dev_config cfg = {
		.fw_ops = &mlx5vf_mlx5_fw_ops,
		.fw_ctx = fw,
		.ops = &mlx5vf_mlx5_dev_ops,
		.ops_ctx = fw,
		.compat = {
			.pci_vendor_id = pdev->vendor,
			.pci_device_id = pdev->device,
			.vhca_state_format = MLX5VF_STATE_FORMAT,
			.fw_identity = identity,
		},
		.features = MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P |
			    MLX5VF_MIG_FEATURE_PRE_COPY,
		.max_chunk_size = mlx5vf_seam_max_chunk_size(fw->mdev),
	};

	return mlx5vf_mig_dev_create(fw->mvdev, &cfg);
}

/**
 * mlx5vf_mlx5_init() - Set up migration of a ConnectX VF through its PF.
 * @mvdev: the device of the VF
 *
 * Makes @mvdev migratable, driven by its firmware. Otherwise migration stays
 * off, the reason is logged in one line and the VF works as plain vfio-pci.
 *
 * Context: Process context (the bind path).
 * Return: 0, or a negative errno.
 */
int mlx5vf_mlx5_init(struct mlx5vf_device *mvdev)
{
	struct pci_dev *pdev = to_pci_dev(mvdev->dev);
	struct mlx5_core_dev *mdev;
	struct mlx5vf_mlx5 *fw;
	const char *why;
	u64 identity;
	int ret;

	if (!pdev->is_virtfn) {
		dev_info(&pdev->dev, "migration off: not an SR-IOV virtual function\n");
		return -ENODEV;
	}
	/* Holds the PF's interface up until the put below. */
	mdev = mlx5vf_seam_get_core_dev(pdev);
	if (!mdev) {
		dev_info(&pdev->dev,
			 "migration off: the PF is not driven by mlx5_core, or its interface is down\n");
		return -ENODEV;
	}
	fw = kzalloc(sizeof(*fw), GFP_KERNEL);
	if (!fw) {
		why = "out of memory";
		ret = -ENOMEM;
		goto out_put;
	}
	fw->mvdev = mvdev;
	fw->mdev = mdev;
	mutex_init(&fw->pd_lock);
	spin_lock_init(&fw->save_lock);
	spin_lock_init(&fw->track_lock);
	INIT_WORK(&fw->save_tail_work, mlx5vf_mlx5_save_tail);
	ret = mlx5vf_mlx5_probe_fw(fw, &why);
	if (ret)
		goto out_free;
	identity = mlx5vf_mlx5_fw_identity(mdev);

	mlx5vf_seam_init_async_ctx(mdev, &fw->async_ctx);
	ret = mlx5vf_mlx5_create_dev(fw, identity);
	if (ret) {
		why = "creating the migration device failed";
		goto out_ctx;
	}
	fw->nb = kzalloc(sizeof(*fw->nb), GFP_KERNEL);
	if (!fw->nb) {
		why = "out of memory";
		ret = -ENOMEM;
		goto out_dev;
	}
	mutex_init(&fw->nb->lock);
	fw->nb->fw = fw;
	fw->nb->nb.notifier_call = mlx5vf_mlx5_vf_event;
	ret = mlx5vf_seam_notifier_register(mdev, fw->vf_id, &fw->nb->nb);
	if (ret) {
		why = "registering for the PF's VF events failed";
		goto out_nb;
	}
	mvdev->mlx5 = fw;
	mlx5vf_seam_put_core_dev(mdev);
	dev_info(&pdev->dev,
		 "migratable VF: vhca_id %u, firmware %u.%u.%u%s (stop-copy, P2P, precopy%s)\n",
		 fw->vhca_id, (u32)(identity >> 32 & 0xffff), (u32)(identity >> 16 & 0xffff),
		 (u32)(identity & 0xffff), fw->chunk_mode ? ", chunked saves" : "",
		 fw->track_caps.max_ranges ? ", firmware page tracker" : "");
	return 0;

out_nb:
	mutex_destroy(&fw->nb->lock);
	kfree(fw->nb);
out_dev:
	mlx5vf_core_dev_destroy(mvdev->mig);
	mvdev->mig = NULL;
out_ctx:
	mlx5vf_seam_cleanup_async_ctx(&fw->async_ctx);
out_free:
	mutex_destroy(&fw->pd_lock);
	kfree(fw);
out_put:
	mlx5vf_seam_put_core_dev(mdev);
	dev_info(&pdev->dev, "migration off: %s (%d)\n", why, ret);
	return ret;
}

/*
 * The PF's side first. The first call comes from the VF's unbind or remove
 * (mlx5vf_pci_unbind()), while its PF is alive. We always leave the
 * notifier chain: a block left in it would call into this module's text
 * after rmmod, the next time the PF enables or disables its VFs.
 */
static void mlx5vf_mlx5_leave_pf(struct mlx5vf_mlx5 *fw)
{
	struct mlx5vf_mlx5_nb *n = fw->nb;

	mutex_lock(&n->lock);
	n->fw = NULL;
	mutex_unlock(&n->lock);
	mlx5vf_seam_notifier_unregister(fw->mdev, fw->vf_id, &n->nb);
	mutex_destroy(&n->lock);
	kfree(n);
}

/**
 * mlx5vf_mlx5_uninit() - Release what mlx5vf_mlx5_init() set up.
 * @mvdev: the device; nothing happens if mlx5vf_mlx5_init() did not set it up
 *
 * Closes the device's data_fds and waits for a SAVE completion still to come.
 *
 * Context: Process context (release time); takes the state mutex.
 */
void mlx5vf_mlx5_uninit(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_mlx5 *fw = mvdev->mlx5;
	struct mlx5vf_dev *mig;

	if (!fw)
		return;
	mvdev->mlx5 = NULL;

	mlx5vf_mlx5_leave_pf(fw);
	/* data_fds may outlive this: they find no device from now on. */
	mlx5vf_state_lock(mvdev);
	mlx5vf_core_dev_close_files(mvdev->mig);
	/* A detach released it already if the PF went away. */
	mlx5vf_mlx5_track_release(fw, device_is_registered(mvdev->dev));
	mig = mvdev->mig;
	mvdev->mig = NULL;
	mlx5vf_state_unlock(mvdev);
	/* Every SAVE completed before its file closed; this only drains the context. */
	mlx5vf_seam_cleanup_async_ctx(&fw->async_ctx);
	/* Its core notice came before that close; the rest of it may still run. */
	flush_work(&fw->save_tail_work);
	mlx5vf_core_dev_destroy(mig);
	/* Buffers firmware might still reach were leaked, and keep their PD. */
	if (fw->pd_users + fw->pd_abandoned)
		dev_warn(mlx5vf_mlx5_vf_dev(fw), "migration: %u buffers leaked at release\n",
			 fw->pd_users + fw->pd_abandoned);
	mutex_destroy(&fw->pd_lock);
	kfree(fw);
}

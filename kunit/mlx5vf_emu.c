// SPDX-License-Identifier: GPL-2.0-only
/*
 * An emulated ConnectX PF with one VF: the mlx5_core side of
 * src/shim/mlx5_seam.h. The real backend (src/shim/mlx5_fw.c, compiled with
 * MLX5VF_MLX5_EMU) talks to it as it would to mlx5_core. Two users: the KUnit
 * suite (kunit/mlx5vf_mlx5_emu_kunit.c), whose VF is emulated too, and the
 * VM's test module (src/emu-vf/), whose VF is a real PCI function (cfg.vf).
 *
 * Every mailbox is decoded with MLX5_GET over <linux/mlx5/mlx5_ifc.h> and
 * answered with MLX5_SET. A mailbox no driver may send (wrong vhca_id,
 * a chunk bit that disagrees with the capability, an unknown mkey, a size
 * beyond the buffer, a chunk continuation that is not incremental=1
 * set_track=0, a SAVE into a page the CPU owns) is reported (cfg.report: the
 * KUnit suite fails the test), counted and refused. What real
 * firmware refuses (a SUSPEND/RESUME out of order, an incremental QUERY or
 * SAVE without tracking, an injected failure) gets a status and syndrome in
 * the outbox, and the errno mlx5_core would return.
 *
 * The VF's state is state_size bytes. Each SAVE image is one chunk: a header
 * (magic, offset, length) and those bytes of the state; a LOAD applies one
 * chunk. A full image covers the whole state, an incremental one what was
 * written while tracking. In chunk mode an image spans SAVEs of at most
 * max_chunk bytes each, next_required_umem_size saying how much is left.
 *
 * Buffers reach the emulator the way they reach firmware: CREATE_MKEY's MTT
 * entries are DMA addresses that the emulated DMA API handed out, resolved to
 * pages here. The emulated DMA API tracks who owns each page (CPU or device).
 *
 * Also here, as mlx5_track.c is built for neither user: a stand-in tracker at
 * the mlx5_track.h boundary (the tracker's CQ/QP/UAR/EQ path is not behind
 * the seam yet). It reports the guest pages the VF says it wrote
 * (mlx5vf_emu_vf_dma_written()). The KUnit build's stand-ins for mig.c are
 * in mlx5vf_emu_mig.c; the VM's module has mlx5vf.ko's own.
 */
#include <linux/crc32.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/mlx5/driver.h>
#include <linux/mlx5/mlx5_ifc.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

#include <mlx5vf/fw.h>
#include <mlx5vf/mig.h>

#include "../src/shim/mlx5_cmd.h"
#include "../src/shim/mlx5_seam.h"
#include "../src/shim/mlx5_track.h"
#include "../src/shim/mlx5vf.h"
#include "mlx5vf_emu.h"

#define EMU_MAX_PAGES 1024
#define EMU_MAX_MKEYS 64
/* Device addresses far from anything a kernel pointer could be. */
#define EMU_IOVA_BASE 0x7e0000000000ULL

enum emu_vhca_run {
	EMU_RUNNING,
	EMU_SUSPENDED_INITIATOR, /* RUNNING_P2P */
	EMU_SUSPENDED,           /* STOP */
};

struct emu_page {
	struct page *page;
	bool mapped;
	bool device_owned; /* synced for the device, not yet back to the CPU */
};

struct emu_mkey {
	bool live;
	u32 key;
	u64 len;
	u32 npages;
	u32 *slots; /* emu_page index of each MTT entry */
};

struct emu_async {
	struct work_struct work;
	struct mlx5vf_emu *emu;
	struct mlx5_async_work *cb_work;
	mlx5_async_cbk_t callback;
	void *out;
	int outlen;
	u32 in[MLX5_ST_SZ_DW(save_vhca_state_in)];
	int status; /* 0: execute, else complete unanswered with it */
};

struct mlx5vf_emu {
	struct list_head node; /* in emu_all */
	struct mlx5vf_emu_config cfg;
	struct mlx5_core_dev mdev;
	struct mlx5_hca_cap cap_gen;
	struct mlx5_hca_cap cap_gen2;
	struct device pf_dev;
	struct pci_dev vf;        /* the emulated VF, without cfg.vf */
	struct pci_dev *vf_pdev;  /* the VF: cfg.vf or the emulated one */
	atomic_t misuses;
	struct blocking_notifier_head vf_events;
	struct workqueue_struct *wq;

	struct mutex lock; /* everything below */
	u8 *state;
	enum emu_vhca_run run;
	bool tracking;
	u32 dirty_lo, dirty_hi;
	bool image_open;   /* a chunked image has SAVEs to come */
	u32 image_pos, image_end;
	u32 next_pd;
	u32 first_live_pd; /* PDs below it died with a PF reload */
	u32 next_mkey_index;
	struct emu_page pages[EMU_MAX_PAGES];
	struct emu_mkey mkeys[EMU_MAX_MKEYS];
	u16 fail_opcode;
	u8 fail_status;
	u32 fail_syndrome;
	bool hold;
	struct emu_async *held;
	struct emu_async *given_up; /* completed with an error, firmware may go on */
	atomic_t inflight;
	wait_queue_head_t idle;
	struct mlx5vf_emu_stats st;
	/* The tracker stand-in's report (see mlx5vf_track_create() below). */
	wait_queue_head_t report_wq;
	bool report_hold;
	bool report_running;
	/* mlx5vf_emu_track_fail_keeping_pd(): objects a failed create left in a PD. */
	bool track_fail_keep;
	u32 track_kept_pdn;
	/* Guest pages the VF wrote since the stand-in tracker last reported them. */
	bool track_live;
	bool lose_dirty; /* mlx5vf_emu_lose_dirty() */
	unsigned int track_shift; /* its page size */
	struct xarray dirty_pfns; /* guest page numbers, in its page size */
};

/* Every emulated PF, for mlx5vf_seam_get_core_dev() to find a VF's. */
static LIST_HEAD(emu_all);
static DEFINE_MUTEX(emu_all_lock);

/*
 * Every mailbox starts with the same header (opcode, uid, op_mod in; status,
 * syndrome out); mlx5_core's own mbox_in/mbox_out layouts are private to it,
 * so read the header through the smallest command that has it.
 */
#define emu_opcode(in) MLX5_GET(alloc_pd_in, in, opcode)
#define emu_op_mod(in) MLX5_GET(alloc_pd_in, in, op_mod)

static struct mlx5vf_emu *emu_of_mdev(struct mlx5_core_dev *mdev)
{
	return container_of(mdev, struct mlx5vf_emu, mdev);
}

static struct mlx5vf_emu *emu_of_dma_dev(struct device *dev)
{
	return container_of(dev, struct mlx5vf_emu, pf_dev);
}

/* Something no driver may do: count it and tell the user (cfg.report). */
static __printf(3, 0) void emu_vmisuse(struct mlx5vf_emu *emu, const char *what, const char *fmt,
					va_list ap)
{
	char msg[192];
	int n;

	n = scnprintf(msg, sizeof(msg), "%s", what);
	vscnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	atomic_inc(&emu->misuses);
	if (emu->cfg.report)
		emu->cfg.report(emu->cfg.report_ctx, msg);
	else
		pr_err("mlx5vf_emu: %s\n", msg);
}

static __printf(2, 3) void emu_misuse(struct mlx5vf_emu *emu, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emu_vmisuse(emu, "", fmt, ap);
	va_end(ap);
}

/* A mailbox no driver may send: report it, refuse it (-EINVAL). */
static __printf(2, 3) int emu_malformed(struct mlx5vf_emu *emu, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	emu_vmisuse(emu, "malformed mailbox: ", fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* mlx5_core's errno for a failed command status (its cmd_status_to_err()). */
static int emu_status_errno(u8 status)
{
	switch (status) {
	case MLX5_CMD_STAT_OK:
		return 0;
	case MLX5_CMD_STAT_BAD_OP_ERR:
	case MLX5_CMD_STAT_BAD_PARAM_ERR:
	case MLX5_CMD_STAT_BAD_RES_ERR:
	case MLX5_CMD_STAT_BAD_RES_STATE_ERR:
	case MLX5_CMD_STAT_IX_ERR:
		return -EINVAL;
	case MLX5_CMD_STAT_RES_BUSY:
		return -EBUSY;
	case MLX5_CMD_STAT_LIM_ERR:
		return -ENOMEM;
	case MLX5_CMD_STAT_NO_RES_ERR:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

static u8 emu_fail(void *out, u8 status, u32 syndrome)
{
	MLX5_SET(alloc_pd_out, out, status, status);
	MLX5_SET(alloc_pd_out, out, syndrome, syndrome);
	return status;
}

/* ---- The emulated DMA API ------------------------------------------------ */

static struct emu_page *emu_page_of(struct mlx5vf_emu *emu, dma_addr_t addr)
{
	u64 slot;

	if (addr < EMU_IOVA_BASE || (addr - EMU_IOVA_BASE) % PAGE_SIZE)
		return NULL;
	slot = (addr - EMU_IOVA_BASE) / PAGE_SIZE;
	if (slot >= EMU_MAX_PAGES || !emu->pages[slot].mapped)
		return NULL;
	return &emu->pages[slot];
}

dma_addr_t mlx5vf_seam_dma_map_page(struct device *dev, struct page *page,
				    enum dma_data_direction dir)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);
	u32 i;

	mutex_lock(&emu->lock);
	for (i = 0; i < EMU_MAX_PAGES; i++) {
		if (!emu->pages[i].mapped) {
			emu->pages[i] = (struct emu_page){ .page = page, .mapped = true,
							   .device_owned = true };
			emu->st.pages_mapped++;
			emu->st.dma_map_calls++;
			mutex_unlock(&emu->lock);
			return EMU_IOVA_BASE + (u64)i * PAGE_SIZE;
		}
	}
	mutex_unlock(&emu->lock);
	return DMA_MAPPING_ERROR;
}

int mlx5vf_seam_dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return addr == DMA_MAPPING_ERROR;
}

/* One page's unmap, caller holds emu->lock. */
static void emu_unmap_page_locked(struct mlx5vf_emu *emu, dma_addr_t addr)
{
	struct emu_page *p = emu_page_of(emu, addr);
	u32 slot, i, m;

	if (!p) {
		emu_misuse(emu, "unmapping 0x%llx, which is not mapped",
			   (u64)addr);
		return;
	}
	slot = p - emu->pages;
	/* Firmware could still write a page a live mkey translates to. */
	for (m = 0; m < EMU_MAX_MKEYS; m++)
		for (i = 0; emu->mkeys[m].live && i < emu->mkeys[m].npages; i++)
			if (emu->mkeys[m].slots[i] == slot)
				emu_misuse(emu, "page unmapped while mkey 0x%x still maps it",
					   emu->mkeys[m].key);
	p->mapped = false;
	emu->st.pages_mapped--;
}

void mlx5vf_seam_dma_unmap_page(struct device *dev, dma_addr_t addr, enum dma_data_direction dir)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);

	mutex_lock(&emu->lock);
	emu_unmap_page_locked(emu, addr);
	mutex_unlock(&emu->lock);
}

/* Coherent: a page stays the device's from its mapping on, CPU accesses too. */
bool mlx5vf_seam_dma_need_sync(struct device *dev, dma_addr_t addr)
{
	return !emu_of_dma_dev(dev)->cfg.dma_coherent;
}

/*
 * The sg_table calls: one per buffer, counted as one map call. Each entry
 * gets a run of consecutive device pages of its length (UML's scatterlist
 * has no DMA length of its own, so no merging across entries); the
 * per-page bookkeeping is the same as above.
 */
static void emu_sg_unmap_locked(struct mlx5vf_emu *emu, struct scatterlist *sgl, u32 nents)
{
	struct sg_dma_page_iter iter;

	for (__sg_page_iter_start(&iter.base, sgl, nents, 0); __sg_page_iter_dma_next(&iter);)
		emu_unmap_page_locked(emu, sg_page_iter_dma_address(&iter));
}

int mlx5vf_seam_dma_map_sgtable(struct device *dev, struct sg_table *sgt,
				enum dma_data_direction dir)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);
	struct scatterlist *sg;
	u32 i, k, n, run, slot;
	int ret = 0;

	mutex_lock(&emu->lock);
	emu->st.dma_map_calls++;
	for_each_sgtable_sg(sgt, sg, i) {
		if (sg->offset || !sg->length || sg->length % PAGE_SIZE) {
			emu_misuse(emu, "sg entry %u is not whole pages", i);
			ret = -EINVAL;
			break;
		}
		n = sg->length / PAGE_SIZE;
		for (slot = 0, run = 0; slot < EMU_MAX_PAGES && run < n; slot++)
			run = emu->pages[slot].mapped ? 0 : run + 1;
		if (run < n) {
			ret = -ENOMEM;
			break;
		}
		slot -= n;
		/* By pfn: nth_page() is gone from newer kernels (7.3). */
		for (k = 0; k < n; k++)
			emu->pages[slot + k] = (struct emu_page){
				.page = pfn_to_page(page_to_pfn(sg_page(sg)) + k),
				.mapped = true,
				.device_owned = true };
		emu->st.pages_mapped += n;
		/* Both halves of the DMA side: a real kernel keeps its own length. */
		sg_dma_address(sg) = EMU_IOVA_BASE + (u64)slot * PAGE_SIZE;
		sg_dma_len(sg) = sg->length;
	}
	if (ret)
		emu_sg_unmap_locked(emu, sgt->sgl, i);
	else
		sgt->nents = sgt->orig_nents;
	mutex_unlock(&emu->lock);
	return ret;
}

void mlx5vf_seam_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				   enum dma_data_direction dir)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);

	mutex_lock(&emu->lock);
	emu_sg_unmap_locked(emu, sgt->sgl, sgt->nents);
	mutex_unlock(&emu->lock);
}

void mlx5vf_seam_dma_sync_sgtable(struct device *dev, struct sg_table *sgt,
				  enum dma_data_direction dir, bool for_device)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);
	struct sg_dma_page_iter iter;
	struct emu_page *p;

	/* Legal there, but a bounced buffer would be copied whole in hard IRQ. */
	if (irqs_disabled()) {
		emu_misuse(emu, "DMA sync with interrupts off");
		return;
	}
	mutex_lock(&emu->lock);
	for_each_sgtable_dma_page(sgt, &iter, 0) {
		emu->st.dma_syncs++;
		p = emu_page_of(emu, sg_page_iter_dma_address(&iter));
		if (p)
			p->device_owned = for_device;
		else
			emu_misuse(emu, "syncing 0x%llx, which is not mapped",
				   (u64)sg_page_iter_dma_address(&iter));
	}
	mutex_unlock(&emu->lock);
}

/* ---- Memory keys ---------------------------------------------------------- */

static struct emu_mkey *emu_mkey_find(struct mlx5vf_emu *emu, u32 key)
{
	u32 m;

	for (m = 0; m < EMU_MAX_MKEYS; m++)
		if (emu->mkeys[m].live && emu->mkeys[m].key == key)
			return &emu->mkeys[m];
	return NULL;
}

/* Copy between memory and an mkey's bytes [at, at + len). Under the lock. */
static int emu_mkey_copy(struct mlx5vf_emu *emu, struct emu_mkey *mk, u32 at, u8 *data, u32 len,
			 bool to_mkey)
{
	u32 done = at;

	if ((u64)at + len > mk->len)
		return -EFAULT;
	len += at;
	while (done < len) {
		struct emu_page *p = &emu->pages[mk->slots[done / PAGE_SIZE]];
		u32 off = done % PAGE_SIZE;
		u32 n = min_t(u32, len - done, PAGE_SIZE - off);
		u8 *va = page_address(p->page);

		if (!p->mapped || !p->device_owned) {
			emu_misuse(emu, "mkey 0x%x page %u is %s: not the device's to touch",
				   mk->key, done / (u32)PAGE_SIZE,
				   p->mapped ? "owned by the CPU" : "unmapped");
			return -EFAULT;
		}
		if (to_mkey)
			memcpy(va + off, data + (done - at), n);
		else
			memcpy(data + (done - at), va + off, n);
		done += n;
	}
	return 0;
}

int mlx5vf_seam_create_mkey(struct mlx5_core_dev *mdev, u32 *mkey, u32 *in, int inlen)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	void *mkc = MLX5_ADDR_OF(create_mkey_in, in, memory_key_mkey_entry);
	u8 *mtt = MLX5_ADDR_OF(create_mkey_in, in, klm_pas_mtt);
	u32 access = MLX5_GET(mkc, mkc, access_mode_1_0) |
		     MLX5_GET(mkc, mkc, access_mode_4_2) << 2;
	u32 shift = MLX5_GET(mkc, mkc, log_page_size);
	u64 len = MLX5_GET64(mkc, mkc, len);
	u32 octwords = MLX5_GET(mkc, mkc, translations_octword_size);
	struct emu_mkey *mk = NULL;
	u32 i, npages;
	int ret = 0;

	if (MLX5_GET(create_mkey_in, in, opcode) != MLX5_CMD_OP_CREATE_MKEY)
		return emu_malformed(emu, "CREATE_MKEY with opcode 0x%x",
				     MLX5_GET(create_mkey_in, in, opcode));
	if (access != MLX5_MKC_ACCESS_MODE_MTT || shift != PAGE_SHIFT || !len ||
	    len % PAGE_SIZE || MLX5_GET64(mkc, mkc, start_addr))
		return emu_malformed(emu, "CREATE_MKEY access %u log_page_size %u len %llu", access,
				     shift, len);
	npages = len >> PAGE_SHIFT;
	if (octwords != DIV_ROUND_UP(npages, 2) ||
	    MLX5_GET(create_mkey_in, in, translations_octword_actual_size) != octwords ||
	    inlen < MLX5_ST_SZ_BYTES(create_mkey_in) + npages * MLX5_ST_SZ_BYTES(mtt))
		return emu_malformed(emu, "CREATE_MKEY of %u pages: %u octwords, inbox %d bytes",
				     npages, octwords, inlen);
	if (!MLX5_GET(mkc, mkc, lr) || !MLX5_GET(mkc, mkc, lw) ||
	    MLX5_GET(mkc, mkc, qpn) != 0xffffff)
		return emu_malformed(emu, "CREATE_MKEY without local read/write or any-QP");

	mutex_lock(&emu->lock);
	if (emu->fail_opcode == MLX5_CMD_OP_CREATE_MKEY) {
		/* mlx5_core prints the outbox and returns the status's errno. */
		emu->fail_opcode = 0;
		emu->st.out_err_calls++;
		emu->st.out_err_syndrome = emu->fail_syndrome;
		ret = emu_status_errno(emu->fail_status);
		goto out;
	}
	if (MLX5_GET(mkc, mkc, pd) < emu->first_live_pd ||
	    MLX5_GET(mkc, mkc, pd) >= emu->next_pd) {
		ret = emu_malformed(emu, "CREATE_MKEY on PD %u: never allocated, or reloaded away",
				    MLX5_GET(mkc, mkc, pd));
		goto out;
	}
	for (i = 0; i < EMU_MAX_MKEYS && !mk; i++)
		if (!emu->mkeys[i].live)
			mk = &emu->mkeys[i];
	if (!mk) {
		ret = -ENOMEM;
		goto out;
	}
	mk->slots = kcalloc(npages, sizeof(*mk->slots), GFP_KERNEL);
	if (!mk->slots) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < npages; i++, mtt += MLX5_ST_SZ_BYTES(mtt)) {
		dma_addr_t a = (u64)MLX5_GET(mtt, mtt, ptag_63_32) << 32 |
			       MLX5_GET(mtt, mtt, ptag_31_8) << 8;
		struct emu_page *p = emu_page_of(emu, a);

		if (!p) {
			kfree(mk->slots);
			ret = emu_malformed(emu, "CREATE_MKEY MTT entry %u: 0x%llx is not mapped",
					    i, (u64)a);
			goto out;
		}
		mk->slots[i] = p - emu->pages;
	}
	mk->live = true;
	mk->npages = npages;
	mk->len = len;
	/* mlx5_core: the index in bits 31:8, the mkc's variant byte in 7:0. */
	mk->key = ++emu->next_mkey_index << 8 | MLX5_GET(mkc, mkc, mkey_7_0);
	*mkey = mk->key;
	emu->st.mkeys_live++;
	emu->st.mkeys_created++;
	emu->st.mkey_pages_max = max(emu->st.mkey_pages_max, npages);
out:
	mutex_unlock(&emu->lock);
	return ret;
}

int mlx5vf_seam_destroy_mkey(struct mlx5_core_dev *mdev, u32 key)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	struct emu_mkey *mk;
	int ret = 0;

	mutex_lock(&emu->lock);
	mk = emu_mkey_find(emu, key);
	if (!mk) {
		ret = emu_malformed(emu, "DESTROY_MKEY 0x%x: no such mkey", key);
	} else if (emu->fail_opcode == MLX5_CMD_OP_DESTROY_MKEY) {
		/* The mkey stays: firmware may still reach its pages. */
		emu->fail_opcode = 0;
		emu->st.out_err_calls++;
		emu->st.out_err_syndrome = emu->fail_syndrome;
		ret = emu_status_errno(emu->fail_status);
	} else {
		mk->live = false;
		kfree(mk->slots);
		mk->slots = NULL;
		emu->st.mkeys_live--;
	}
	mutex_unlock(&emu->lock);
	return ret;
}

/* ---- The VHCA's commands ---------------------------------------------------- */

static bool emu_vhca_ok(struct mlx5vf_emu *emu, u16 vhca_id, const char *cmd)
{
	if (vhca_id == emu->cfg.vhca_id)
		return true;
	emu_malformed(emu, "%s for vhca_id %u, the VF is %u", cmd, vhca_id, emu->cfg.vhca_id);
	return false;
}

/*
 * What the next SAVE with these flags would write: an incremental one
 * continues the open image; a full one starts a new image (rule 11).
 */
static u32 emu_image_left(struct mlx5vf_emu *emu, bool incremental)
{
	if (emu->image_open && incremental)
		return emu->image_end - emu->image_pos;
	if (incremental)
		return emu->dirty_hi - emu->dirty_lo;
	return emu->cfg.state_size;
}

static u32 emu_chunk_data(struct mlx5vf_emu *emu)
{
	return emu->cfg.chunk_mode ? emu->cfg.max_chunk - MLX5VF_EMU_HDR : U32_MAX;
}

static u8 emu_query(struct mlx5vf_emu *emu, void *in, void *out)
{
	bool incremental = MLX5_GET(query_vhca_migration_state_in, in, incremental);
	bool chunk = MLX5_GET(query_vhca_migration_state_in, in, chunk);
	u32 left, chunks;

	emu->st.queries++;
	if (chunk != emu->cfg.chunk_mode) {
		emu_malformed(emu, "QUERY chunk=%u on a function whose migration_in_chunks is %u",
			      chunk, emu->cfg.chunk_mode);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc001);
	}
	/* Rule 7: an incremental query needs tracking. */
	if (incremental && !emu->tracking)
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc007);
	left = emu_image_left(emu, incremental);
	chunks = max_t(u32, 1, DIV_ROUND_UP(left, emu_chunk_data(emu)));
	MLX5_SET(query_vhca_migration_state_out, out, required_umem_size,
		 min_t(u32, left, emu_chunk_data(emu)) + MLX5VF_EMU_HDR);
	MLX5_SET64(query_vhca_migration_state_out, out, remaining_total_size,
		   (u64)left + (u64)chunks * MLX5VF_EMU_HDR);
	return MLX5_CMD_STAT_OK;
}

/* Documentation/firmware-contract.rst rule 3: the driver's order only. */
static u8 emu_suspend_resume(struct mlx5vf_emu *emu, bool suspend, u16 op_mod, void *out)
{
	enum emu_vhca_run from, to;

	if (suspend && op_mod == MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_INITIATOR) {
		from = EMU_RUNNING;
		to = EMU_SUSPENDED_INITIATOR;
	} else if (suspend && op_mod == MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_RESPONDER) {
		from = EMU_SUSPENDED_INITIATOR;
		to = EMU_SUSPENDED;
	} else if (!suspend && op_mod == MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_RESPONDER) {
		from = EMU_SUSPENDED;
		to = EMU_SUSPENDED_INITIATOR;
	} else if (!suspend && op_mod == MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_INITIATOR) {
		from = EMU_SUSPENDED_INITIATOR;
		to = EMU_RUNNING;
	} else {
		emu_malformed(emu, "%s op_mod %u", suspend ? "SUSPEND" : "RESUME", op_mod);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc003);
	}
	if (emu->run != from)
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc003);
	emu->run = to;
	return MLX5_CMD_STAT_OK;
}

static u8 emu_save(struct mlx5vf_emu *emu, void *in, void *out)
{
	bool incremental = MLX5_GET(save_vhca_state_in, in, incremental);
	bool set_track = MLX5_GET(save_vhca_state_in, in, set_track);
	u32 key = MLX5_GET(save_vhca_state_in, in, mkey);
	u32 size = MLX5_GET(save_vhca_state_in, in, size);
	struct emu_mkey *mk = emu_mkey_find(emu, key);
	u32 hdr[3], n;

	emu->st.saves++;
	/* Rule 9: whole pages. */
	if (!mk || MLX5_GET64(save_vhca_state_in, in, va) || !size || size > mk->len ||
	    size % PAGE_SIZE) {
		emu_malformed(emu, "SAVE into mkey 0x%x (%s) va 0x%llx size %u", key,
			      mk ? "registered" : "unknown", MLX5_GET64(save_vhca_state_in, in, va),
			      size);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc009);
	}
	if (emu->given_up && MLX5_GET(save_vhca_state_in, emu->given_up->in, mkey) == key)
		emu->st.saves_into_given_up_mkey++;
	if (!incremental && !set_track && emu->tracking) {
		/* Rule 15: the cleanup; a header only, tracking and any open image end. */
		emu->st.cleanups++;
		emu->tracking = false;
		emu->image_open = false;
		emu->dirty_lo = 0;
		emu->dirty_hi = 0;
		emu->image_pos = 0;
		emu->image_end = 0;
	} else if (emu->image_open && incremental) {
		/* Rule 10: every chunk after the first, incremental=1 set_track=0. */
		emu->st.continuation_saves++;
		if (set_track) {
			emu->st.continuation_bad_bits++;
			emu_malformed(emu, "continuation SAVE with set_track=1 (rules 10, 12)");
		}
	} else if (incremental) {
		if (!emu->tracking)
			return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc007);
		/* Rule 14: an untracked SAVE (the final delta) ends tracking. */
		emu->tracking = set_track;
		emu->image_pos = emu->dirty_lo;
		emu->image_end = emu->dirty_hi;
		emu->dirty_lo = 0;
		emu->dirty_hi = 0;
	} else {
		/* Rule 11: a full SAVE mid-image drops the rest and starts over. */
		if (emu->image_open)
			emu->st.images_restarted++;
		emu->tracking = set_track;
		emu->dirty_lo = 0;
		emu->dirty_hi = 0;
		emu->image_pos = 0;
		emu->image_end = emu->cfg.state_size;
	}
	n = min(emu->image_end - emu->image_pos, emu_chunk_data(emu));
	/* Rule 9: at least what the last QUERY or SAVE asked for. */
	if (size < n + MLX5VF_EMU_HDR && (emu->cfg.chunk_mode || !emu->image_open)) {
		if (!emu->cfg.chunk_mode)
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc009);
		n = size - min(size, MLX5VF_EMU_HDR);
	}
	hdr[0] = MLX5VF_EMU_MAGIC;
	hdr[1] = emu->image_pos;
	hdr[2] = n;
	if (emu_mkey_copy(emu, mk, 0, (u8 *)hdr, sizeof(hdr), true) ||
	    emu_mkey_copy(emu, mk, MLX5VF_EMU_HDR, emu->state + emu->image_pos, n, true))
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	emu->image_pos += n;
	emu->image_open = emu->cfg.chunk_mode && emu->image_pos < emu->image_end;
	MLX5_SET(save_vhca_state_out, out, actual_image_size, n + MLX5VF_EMU_HDR);
	MLX5_SET(save_vhca_state_out, out, next_required_umem_size,
		 emu->image_open ? min(emu->image_end - emu->image_pos, emu_chunk_data(emu)) +
					   MLX5VF_EMU_HDR :
				   0);
	return MLX5_CMD_STAT_OK;
}

static u8 emu_load(struct mlx5vf_emu *emu, void *in, void *out)
{
	u32 key = MLX5_GET(load_vhca_state_in, in, mkey);
	u32 size = MLX5_GET(load_vhca_state_in, in, size);
	struct emu_mkey *mk = emu_mkey_find(emu, key);
	u32 hdr[3];

	emu->st.loads++;
	if (!mk || MLX5_GET64(load_vhca_state_in, in, va) || size < MLX5VF_EMU_HDR ||
	    size > mk->len) {
		emu_malformed(emu, "LOAD from mkey 0x%x (%s) size %u", key,
			      mk ? "registered" : "unknown", size);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc00a);
	}
	/* A VHCA loads its state only while stopped (RESUMING is STOP inside). */
	if (emu->run != EMU_SUSPENDED)
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc00b);
	if (emu_mkey_copy(emu, mk, 0, (u8 *)hdr, sizeof(hdr), false))
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	if (hdr[0] != MLX5VF_EMU_MAGIC || hdr[2] + MLX5VF_EMU_HDR != size ||
	    (u64)hdr[1] + hdr[2] > emu->cfg.state_size)
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc00c);
	if (emu_mkey_copy(emu, mk, MLX5VF_EMU_HDR, emu->state + hdr[1], hdr[2], false))
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	return MLX5_CMD_STAT_OK;
}

static u8 emu_query_hca_cap(struct mlx5vf_emu *emu, void *in, void *out)
{
	u16 op_mod = MLX5_GET(query_hca_cap_in, in, op_mod);
	void *cap = MLX5_ADDR_OF(query_hca_cap_out, out, capability);

	/* The VF is function 1 of its PF (VF index 0). */
	if (!MLX5_GET(query_hca_cap_in, in, other_function) ||
	    MLX5_GET(query_hca_cap_in, in, function_id) != 1 ||
	    MLX5_GET(query_hca_cap_in, in, ec_vf_function)) {
		emu_malformed(emu, "QUERY_HCA_CAP of function %u (other_function %u)",
			      MLX5_GET(query_hca_cap_in, in, function_id),
			      MLX5_GET(query_hca_cap_in, in, other_function));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0ca);
	}
	switch (op_mod >> 1) {
	case MLX5_CAP_GENERAL:
		MLX5_SET(cmd_hca_cap, cap, vhca_id, emu->cfg.vhca_id);
		MLX5_SET(cmd_hca_cap, cap, migration, 1);
		break;
	case MLX5_CAP_GENERAL_2:
		MLX5_SET(cmd_hca_cap_2, cap, migratable, 1);
		break;
	default:
		emu_malformed(emu, "QUERY_HCA_CAP op_mod 0x%x", op_mod);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0cb);
	}
	return MLX5_CMD_STAT_OK;
}

/* Least input and output of each command the backend may send. */
struct emu_cmd_len {
	u16 opcode;
	u16 in_min;
	u16 out_min;
};

#define EMU_LEN(op, ifc) { op, MLX5_ST_SZ_BYTES(ifc##_in), MLX5_ST_SZ_BYTES(ifc##_out) }
static const struct emu_cmd_len emu_cmd_lens[] = {
	EMU_LEN(MLX5_CMD_OP_QUERY_HCA_CAP, query_hca_cap),
	EMU_LEN(MLX5_CMD_OP_ALLOC_PD, alloc_pd),
	EMU_LEN(MLX5_CMD_OP_DEALLOC_PD, dealloc_pd),
	EMU_LEN(MLX5_CMD_OP_QUERY_VHCA_MIGRATION_STATE, query_vhca_migration_state),
	EMU_LEN(MLX5_CMD_OP_SUSPEND_VHCA, suspend_vhca),
	EMU_LEN(MLX5_CMD_OP_RESUME_VHCA, resume_vhca),
	EMU_LEN(MLX5_CMD_OP_LOAD_VHCA_STATE, load_vhca_state),
	EMU_LEN(MLX5_CMD_OP_SAVE_VHCA_STATE, save_vhca_state),
};

static bool emu_lengths_ok(struct mlx5vf_emu *emu, u16 opcode, int inlen, int outlen)
{
	const struct emu_cmd_len *l;

	for (l = emu_cmd_lens; l < emu_cmd_lens + ARRAY_SIZE(emu_cmd_lens); l++) {
		if (l->opcode != opcode)
			continue;
		if (inlen >= l->in_min && outlen >= l->out_min)
			return true;
		emu_malformed(emu, "opcode 0x%x: inbox %d bytes (needs %u), outbox %d (needs %u)",
			      opcode, inlen, l->in_min, outlen, l->out_min);
		return false;
	}
	emu_malformed(emu, "opcode 0x%x is not part of migration", opcode);
	return false;
}

/* Run one command; returns its status (the outbox has it too). Under the lock. */
static u8 emu_run(struct mlx5vf_emu *emu, void *in, void *out)
{
	u16 opcode = emu_opcode(in);
	u16 vhca_id;

	if (emu->fail_opcode && emu->fail_opcode == opcode) {
		emu->fail_opcode = 0;
		return emu_fail(out, emu->fail_status, emu->fail_syndrome);
	}
	switch (opcode) {
	case MLX5_CMD_OP_QUERY_HCA_CAP:
		return emu_query_hca_cap(emu, in, out);
	case MLX5_CMD_OP_ALLOC_PD:
		MLX5_SET(alloc_pd_out, out, pd, emu->next_pd++);
		emu->st.pds_live++;
		return MLX5_CMD_STAT_OK;
	case MLX5_CMD_OP_DEALLOC_PD:
		if (MLX5_GET(dealloc_pd_in, in, pd) < emu->first_live_pd ||
		    MLX5_GET(dealloc_pd_in, in, pd) >= emu->next_pd || !emu->st.pds_live) {
			emu_malformed(emu, "DEALLOC_PD %u", MLX5_GET(dealloc_pd_in, in, pd));
			return emu_fail(out, MLX5_CMD_STAT_BAD_RES_ERR, 0xc0d0);
		}
		if (emu->st.track_objs_kept &&
		    MLX5_GET(dealloc_pd_in, in, pd) == emu->track_kept_pdn) {
			emu_malformed(emu, "DEALLOC_PD %u with %u tracker objects still in it",
				      emu->track_kept_pdn, emu->st.track_objs_kept);
			return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc0d1);
		}
		emu->st.pds_live--;
		return MLX5_CMD_STAT_OK;
	case MLX5_CMD_OP_QUERY_VHCA_MIGRATION_STATE:
		vhca_id = MLX5_GET(query_vhca_migration_state_in, in, vhca_id);
		if (!emu_vhca_ok(emu, vhca_id, "QUERY"))
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f1);
		return emu_query(emu, in, out);
	case MLX5_CMD_OP_SUSPEND_VHCA:
		if (!emu_vhca_ok(emu, MLX5_GET(suspend_vhca_in, in, vhca_id), "SUSPEND"))
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f1);
		return emu_suspend_resume(emu, true, MLX5_GET(suspend_vhca_in, in, op_mod), out);
	case MLX5_CMD_OP_RESUME_VHCA:
		if (!emu_vhca_ok(emu, MLX5_GET(resume_vhca_in, in, vhca_id), "RESUME"))
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f1);
		return emu_suspend_resume(emu, false, MLX5_GET(resume_vhca_in, in, op_mod), out);
	case MLX5_CMD_OP_LOAD_VHCA_STATE:
		if (!emu_vhca_ok(emu, MLX5_GET(load_vhca_state_in, in, vhca_id), "LOAD"))
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f1);
		return emu_load(emu, in, out);
	case MLX5_CMD_OP_SAVE_VHCA_STATE:
		if (!emu_vhca_ok(emu, MLX5_GET(save_vhca_state_in, in, vhca_id), "SAVE"))
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f1);
		return emu_save(emu, in, out);
	}
	emu_malformed(emu, "opcode 0x%x", opcode);
	return emu_fail(out, MLX5_CMD_STAT_BAD_OP_ERR, 0xc0ff);
}

/* ---- The command interface -------------------------------------------------- */

int mlx5vf_seam_cmd_exec(struct mlx5_core_dev *mdev, void *in, int inlen, void *out, int outlen)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	u16 opcode = emu_opcode(in);
	u8 status;

	if (!emu_lengths_ok(emu, opcode, inlen, outlen))
		return -EINVAL;
	/* The backend only ever issues SAVE asynchronously. */
	if (opcode == MLX5_CMD_OP_SAVE_VHCA_STATE)
		return emu_malformed(emu, "synchronous SAVE_VHCA_STATE");
	memset(out, 0, outlen);
	mutex_lock(&emu->lock);
	status = emu_run(emu, in, out);
	mutex_unlock(&emu->lock);
	if (status)
		/* mlx5_cmd_exec() prints the failure and maps the status. */
		mlx5vf_seam_cmd_out_err(mdev, opcode, emu_op_mod(in), out);
	return emu_status_errno(status);
}

static void emu_async_done(struct work_struct *work)
{
	struct emu_async *a = container_of(work, struct emu_async, work);
	struct mlx5vf_emu *emu = a->emu;
	int status = a->status;
	u8 fw_status;

	if (!status) {
		mutex_lock(&emu->lock);
		fw_status = emu_run(emu, a->in, a->out);
		mutex_unlock(&emu->lock);
		/* mlx5_core: a failed status completes with -EREMOTEIO, outbox kept. */
		if (fw_status)
			status = -EREMOTEIO;
	}
	/*
	 * mlx5_core calls back from its command EQ's interrupt for an answer,
	 * from its timeout work for a completion it forces: interrupts off
	 * for the former, so whatever may not run there shows.
	 */
	if (!a->status) {
		unsigned long flags;

		local_irq_save(flags);
		a->callback(status, a->cb_work);
		local_irq_restore(flags);
	} else {
		a->callback(status, a->cb_work);
	}
	mutex_lock(&emu->lock);
	if (a->status) {
		/* Given up on; the firmware may still finish it (late_save). */
		kfree(emu->given_up);
		emu->given_up = a;
		a = NULL;
	}
	mutex_unlock(&emu->lock);
	kfree(a);
	if (atomic_dec_and_test(&emu->inflight))
		wake_up_all(&emu->idle);
}

int mlx5vf_seam_cmd_exec_cb(struct mlx5_async_ctx *ctx, void *in, int inlen, void *out,
			    int outlen, mlx5_async_cbk_t callback, struct mlx5_async_work *work)
{
	struct mlx5vf_emu *emu = emu_of_mdev(ctx->dev);
	u16 opcode = emu_opcode(in);
	struct emu_async *a;

	if (ctx->dev != &emu->mdev || !emu_lengths_ok(emu, opcode, inlen, outlen))
		return -EINVAL;
	if (opcode != MLX5_CMD_OP_SAVE_VHCA_STATE)
		return emu_malformed(emu, "asynchronous opcode 0x%x", opcode);
	a = kzalloc(sizeof(*a), GFP_KERNEL);
	if (!a)
		return -ENOMEM;
	INIT_WORK(&a->work, emu_async_done);
	a->emu = emu;
	a->cb_work = work;
	a->callback = callback;
	a->out = out;
	a->outlen = outlen;
	memcpy(a->in, in, sizeof(a->in));
	work->ctx = ctx;
	work->user_callback = callback;
	work->opcode = opcode;
	work->out = out;
	atomic_inc(&emu->inflight);
	mutex_lock(&emu->lock);
	if (emu->hold && !emu->held) {
		emu->held = a;
		a = NULL;
	}
	mutex_unlock(&emu->lock);
	/* The answer comes from another context, as mlx5_core's completion does. */
	if (a)
		queue_work(emu->wq, &a->work);
	return 0;
}

void mlx5vf_seam_init_async_ctx(struct mlx5_core_dev *mdev, struct mlx5_async_ctx *ctx)
{
	ctx->dev = mdev;
}

void mlx5vf_seam_cleanup_async_ctx(struct mlx5_async_ctx *ctx)
{
	struct mlx5vf_emu *emu = emu_of_mdev(ctx->dev);

	/* mlx5_core waits for every callback of the context. */
	if (!wait_event_timeout(emu->idle, !atomic_read(&emu->inflight), 10 * HZ))
		emu_misuse(emu, "async context cleaned up with %d commands out",
			   atomic_read(&emu->inflight));
}

void mlx5vf_seam_cmd_out_err(struct mlx5_core_dev *mdev, u16 opcode, u16 op_mod, void *out)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	emu->st.out_err_calls++;
	emu->st.out_err_syndrome = MLX5_GET(alloc_pd_out, out, syndrome);
	pr_info("mlx5vf_emu: opcode 0x%x op_mod 0x%x failed: status 0x%x syndrome 0x%x\n", opcode,
		op_mod, MLX5_GET(alloc_pd_out, out, status), MLX5_GET(alloc_pd_out, out, syndrome));
}

/* ---- The PF ---------------------------------------------------------------- */

/* NULL, as mlx5_vf_get_core_dev(), for a function whose PF is not emulated. */
struct mlx5_core_dev *mlx5vf_seam_get_core_dev(struct pci_dev *vf)
{
	struct mlx5vf_emu *emu, *found = NULL;

	mutex_lock(&emu_all_lock);
	list_for_each_entry(emu, &emu_all, node)
		if (emu->vf_pdev == vf)
			found = emu;
	mutex_unlock(&emu_all_lock);
	if (!found)
		return NULL;
	mutex_lock(&found->lock);
	found->st.core_dev_refs++;
	mutex_unlock(&found->lock);
	return &found->mdev;
}

void mlx5vf_seam_put_core_dev(struct mlx5_core_dev *mdev)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	mutex_lock(&emu->lock);
	emu->st.core_dev_refs--;
	mutex_unlock(&emu->lock);
}

int mlx5vf_seam_vf_index(struct pci_dev *vf)
{
	return 0;
}

/* Firmware 28.39.1002, a ConnectX-7's. */
void mlx5vf_seam_fw_version(struct mlx5_core_dev *mdev, u16 *major, u16 *minor, u16 *subminor)
{
	*major = 28;
	*minor = 39;
	*subminor = 1002;
}

int mlx5vf_seam_notifier_register(struct mlx5_core_dev *mdev, int vf_id,
				  struct notifier_block *nb)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	if (vf_id)
		return emu_malformed(emu, "notifier for VF %d, the PF has VF 0 only", vf_id);
	emu->st.notifiers++;
	return blocking_notifier_chain_register(&emu->vf_events, nb);
}

void mlx5vf_seam_notifier_unregister(struct mlx5_core_dev *mdev, int vf_id,
				     struct notifier_block *nb)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	if (!blocking_notifier_chain_unregister(&emu->vf_events, nb))
		emu->st.notifiers--;
}

void mlx5vf_emu_vf_flr(struct mlx5vf_emu *emu)
{
	mutex_lock(&emu->lock);
	emu->run = EMU_RUNNING;
	emu->tracking = false;
	emu->image_open = false;
	emu->dirty_lo = 0;
	emu->dirty_hi = 0;
	mutex_unlock(&emu->lock);
}

struct emu_delayed_completion {
	struct delayed_work dwork;
	struct mlx5vf_emu *emu;
};

static void emu_complete_later(struct work_struct *work)
{
	struct emu_delayed_completion *d =
		container_of(to_delayed_work(work), struct emu_delayed_completion, dwork);

	mlx5vf_emu_complete_held(d->emu, 0);
}

int mlx5vf_emu_pf_event(struct mlx5vf_emu *emu, unsigned long event,
			unsigned int complete_held_after_ms)
{
	struct emu_delayed_completion d = { .emu = emu };
	int ret;

	/* On the stack: debugobjects (the debug kernel) wants it said so. */
	INIT_DELAYED_WORK_ONSTACK(&d.dwork, emu_complete_later);
	if (complete_held_after_ms)
		schedule_delayed_work(&d.dwork, msecs_to_jiffies(complete_held_after_ms));
	ret = blocking_notifier_call_chain(&emu->vf_events, event, NULL);
	if (complete_held_after_ms)
		flush_delayed_work(&d.dwork);
	destroy_delayed_work_on_stack(&d.dwork);
	/* The PF tears the VF's function down: its migration state goes too. */
	if (event == MLX5_PF_NOTIFY_DISABLE_VF)
		mlx5vf_emu_vf_flr(emu);
	return notifier_to_errno(ret);
}

/* ---- The tests' controls ------------------------------------------------------ */

int mlx5vf_emu_pf_reload(struct mlx5vf_emu *emu)
{
	int ret;
	u32 i;

	ret = mlx5vf_emu_pf_event(emu, MLX5_PF_NOTIFY_DISABLE_VF, 0);
	if (ret)
		return ret;
	/* The firmware restarts: every PD and mkey is gone, PD numbers move on. */
	mutex_lock(&emu->lock);
	for (i = 0; i < EMU_MAX_MKEYS; i++) {
		kfree(emu->mkeys[i].slots);
		emu->mkeys[i].slots = NULL;
		emu->mkeys[i].live = false;
	}
	emu->st.mkeys_live = 0;
	emu->st.pds_live = 0;
	emu->st.track_objs_kept = 0;
	emu->next_pd += 16;
	emu->first_live_pd = emu->next_pd;
	mutex_unlock(&emu->lock);
	return mlx5vf_emu_pf_event(emu, MLX5_PF_NOTIFY_ENABLE_VF, 0);
}

struct mlx5vf_emu *mlx5vf_emu_create(const struct mlx5vf_emu_config *cfg)
{
	struct mlx5vf_emu *emu = kzalloc(sizeof(*emu), GFP_KERNEL);
	u32 i;

	if (!emu)
		return NULL;
	emu->cfg = *cfg;
	emu->state = kvmalloc(cfg->state_size, GFP_KERNEL);
	emu->wq = alloc_ordered_workqueue("mlx5vf_emu", 0);
	if (!emu->state || !emu->wq) {
		kvfree(emu->state);
		if (emu->wq)
			destroy_workqueue(emu->wq);
		kfree(emu);
		return NULL;
	}
	for (i = 0; i < cfg->state_size; i++)
		emu->state[i] = cfg->seed + i * 7 + (i >> 9);
	mutex_init(&emu->lock);
	init_waitqueue_head(&emu->idle);
	init_waitqueue_head(&emu->report_wq);
	BLOCKING_INIT_NOTIFIER_HEAD(&emu->vf_events);
	emu->next_pd = 1;
	emu->first_live_pd = 1;

	/* The PF's cached capabilities, as mlx5_core keeps them. */
	emu->mdev.caps.hca[MLX5_CAP_GENERAL] = &emu->cap_gen;
	emu->mdev.caps.hca[MLX5_CAP_GENERAL_2] = &emu->cap_gen2;
	MLX5_SET(cmd_hca_cap, emu->cap_gen.cur, migration, 1);
	MLX5_SET(cmd_hca_cap_2, emu->cap_gen2.cur, migration_multi_load, 1);
	MLX5_SET(cmd_hca_cap_2, emu->cap_gen2.cur, migration_tracking_state, 1);
	MLX5_SET(cmd_hca_cap_2, emu->cap_gen2.cur, migration_in_chunks, cfg->chunk_mode);
	strscpy(emu->mdev.board_id, "MT_0000000838", sizeof(emu->mdev.board_id));
	emu->mdev.device = &emu->pf_dev;
	emu->pf_dev.init_name = "mlx5vf-emu-pf";

	emu->vf.vendor = PCI_VENDOR_ID_MELLANOX;
	emu->vf.device = 0x101e;
	emu->vf.is_virtfn = 1;
	emu->vf.dev.init_name = "mlx5vf-emu-vf";
	/* device_is_registered(): the VF is still there (mlx5vf_mlx5_leave_pf). */
	emu->vf.dev.kobj.state_in_sysfs = 1;
	emu->vf_pdev = cfg->vf ?: &emu->vf;
	xa_init(&emu->dirty_pfns);
	mutex_lock(&emu_all_lock);
	list_add(&emu->node, &emu_all);
	mutex_unlock(&emu_all_lock);
	return emu;
}

void mlx5vf_emu_destroy(struct mlx5vf_emu *emu)
{
	u32 i;

	if (!emu)
		return;
	mutex_lock(&emu_all_lock);
	list_del(&emu->node);
	mutex_unlock(&emu_all_lock);
	mlx5vf_emu_flush(emu);
	destroy_workqueue(emu->wq);
	for (i = 0; i < EMU_MAX_MKEYS; i++)
		kfree(emu->mkeys[i].slots);
	kfree(emu->held);
	kfree(emu->given_up);
	kvfree(emu->state);
	xa_destroy(&emu->dirty_pfns);
	mutex_destroy(&emu->lock);
	kfree(emu);
}

struct pci_dev *mlx5vf_emu_vf(struct mlx5vf_emu *emu)
{
	return emu->vf_pdev;
}

void mlx5vf_emu_stats(struct mlx5vf_emu *emu, struct mlx5vf_emu_stats *st)
{
	mutex_lock(&emu->lock);
	*st = emu->st;
	st->tracking = emu->tracking;
	st->misuses = atomic_read(&emu->misuses);
	mutex_unlock(&emu->lock);
}

/* A CRC: it must tell apart states that differ anywhere, in any way. */
u32 mlx5vf_emu_state_sum(struct mlx5vf_emu *emu)
{
	u32 sum;

	mutex_lock(&emu->lock);
	sum = crc32_le(~0U, emu->state, emu->cfg.state_size);
	mutex_unlock(&emu->lock);
	return sum;
}

void mlx5vf_emu_vf_write(struct mlx5vf_emu *emu, u32 offset, u32 len, u8 value)
{
	mutex_lock(&emu->lock);
	if ((u64)offset + len > emu->cfg.state_size) {
		emu_misuse(emu, "VF write of [%u, +%u) beyond its %u bytes of state", offset, len,
			   emu->cfg.state_size);
		mutex_unlock(&emu->lock);
		return;
	}
	if (emu->run != EMU_RUNNING)
		emu_misuse(emu, "a suspended VF wrote its state");
	memset(emu->state + offset, value, len);
	if (emu->tracking) {
		if (emu->dirty_hi == emu->dirty_lo) {
			emu->dirty_lo = offset;
			emu->dirty_hi = offset + len;
		} else {
			emu->dirty_lo = min(emu->dirty_lo, offset);
			emu->dirty_hi = max(emu->dirty_hi, offset + len);
		}
	}
	mutex_unlock(&emu->lock);
}

bool mlx5vf_emu_vf_running(struct mlx5vf_emu *emu)
{
	bool running;

	mutex_lock(&emu->lock);
	running = emu->run == EMU_RUNNING;
	mutex_unlock(&emu->lock);
	return running;
}

void mlx5vf_emu_vf_dma_written(struct mlx5vf_emu *emu, u64 iova, u32 len)
{
	unsigned long pfn, last;

	if (!len)
		return;
	mutex_lock(&emu->lock);
	if (emu->run != EMU_RUNNING)
		emu_misuse(emu, "a suspended VF wrote guest memory at 0x%llx", iova);
	for (pfn = iova >> emu->track_shift, last = (iova + len - 1) >> emu->track_shift;
	     emu->track_live && pfn <= last; pfn++)
		/* Out of memory loses the page: the guest memory check would see it. */
		if (xa_err(xa_store(&emu->dirty_pfns, pfn, xa_mk_value(1), GFP_KERNEL)))
			emu_misuse(emu, "no memory to log guest page 0x%lx", pfn);
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_lose_dirty(struct mlx5vf_emu *emu, bool lose)
{
	mutex_lock(&emu->lock);
	emu->lose_dirty = lose;
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_fail_next(struct mlx5vf_emu *emu, u16 opcode, u8 status, u32 syndrome)
{
	mutex_lock(&emu->lock);
	emu->fail_opcode = opcode;
	emu->fail_status = status;
	emu->fail_syndrome = syndrome;
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_hold_async(struct mlx5vf_emu *emu, bool hold)
{
	mutex_lock(&emu->lock);
	emu->hold = hold;
	mutex_unlock(&emu->lock);
}

bool mlx5vf_emu_async_held(struct mlx5vf_emu *emu)
{
	bool held;

	mutex_lock(&emu->lock);
	held = emu->held;
	mutex_unlock(&emu->lock);
	return held;
}

void mlx5vf_emu_complete_held(struct mlx5vf_emu *emu, int status)
{
	struct emu_async *a;

	mutex_lock(&emu->lock);
	a = emu->held;
	emu->held = NULL;
	mutex_unlock(&emu->lock);
	if (!a)
		return;
	a->status = status;
	queue_work(emu->wq, &a->work);
	flush_workqueue(emu->wq);
}

void mlx5vf_emu_late_save(struct mlx5vf_emu *emu)
{
	struct emu_async *a;
	u32 out[MLX5_ST_SZ_DW(save_vhca_state_out)] = {};
	u32 key;

	mutex_lock(&emu->lock);
	a = emu->given_up;
	if (a) {
		key = MLX5_GET(save_vhca_state_in, a->in, mkey);
		/* A destroyed mkey is out of the firmware's reach: nothing happens. */
		if (emu_mkey_find(emu, key)) {
			emu->st.late_writes++;
			/*
			 * Its outbox is the backend's too: the firmware writes it, not
			 * ours. Its own write is no new SAVE into the given-up mkey.
			 */
			emu->given_up = NULL;
			emu_save(emu, a->in, out);
			emu->given_up = a;
		}
	}
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_flush(struct mlx5vf_emu *emu)
{
	flush_workqueue(emu->wq);
}

/* ---- What mlx5_track.c gives the backend in the module ----------------------- */

/*
 * The tracker is not behind the seam yet (mlx5_track.c is not in the KUnit
 * build): with cfg.page_tracker this stands in for it at the mlx5_track.h
 * boundary, so the backend's track_* ops and their locking run for real.
 * A held report (mlx5vf_emu_hold_report()) does not finish until released
 * or aborted, like a firmware report that keeps the CQ busy.
 */
struct mlx5vf_track {
	struct mlx5vf_emu *emu;
	bool aborted;
};

#define EMU_HELD_REPORT_GIVE_UP (60 * HZ) /* a test must not hang for good */

void mlx5vf_track_caps(struct mlx5_core_dev *mdev, struct mlx5vf_fw_track_caps *caps)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	memset(caps, 0, sizeof(*caps));
	if (!emu->cfg.page_tracker)
		return;
	caps->max_ranges = 4;
	caps->log_min_page_size = 12;
	caps->log_max_page_size = 30;
	caps->log_min_addr_space = 12;
	caps->log_max_addr_space = 48;
	caps->log_min_msg_size = 12;
	caps->log_max_msg_size = 21;
}

struct mlx5vf_track *mlx5vf_track_create(struct mlx5_core_dev *mdev, struct device *dev,
					 u16 vhca_id, u32 pdn,
					 const struct mlx5vf_fw_track_caps *caps,
					 const struct mlx5vf_fw_track_req *req, bool *pd_busy)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	struct mlx5vf_track *t;

	*pd_busy = false;
	if (!emu->cfg.page_tracker)
		return ERR_PTR(-EOPNOTSUPP);
	mutex_lock(&emu->lock);
	if (emu->track_fail_keep) {
		/* Setup failed, and so did the DESTROY of its mkey, CQ and QP. */
		emu->track_fail_keep = false;
		emu->track_kept_pdn = pdn;
		emu->st.track_objs_kept += 3;
		mutex_unlock(&emu->lock);
		*pd_busy = true;
		return ERR_PTR(-EIO);
	}
	mutex_unlock(&emu->lock);
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->emu = emu;
	mutex_lock(&emu->lock);
	emu->st.trackers_live++;
	emu->track_live = true;
	emu->track_shift = req->log_page_size;
	mutex_unlock(&emu->lock);
	return t;
}

bool mlx5vf_track_destroy(struct mlx5vf_track *t)
{
	struct mlx5vf_emu *emu = t->emu;

	mutex_lock(&emu->lock);
	emu->st.trackers_live--;
	emu->track_live = false;
	/* A new tracker starts clean: the next one has pages of its own to report. */
	xa_destroy(&emu->dirty_pfns);
	mutex_unlock(&emu->lock);
	kfree(t);
	return true;
}

void mlx5vf_track_abort(struct mlx5vf_track *t)
{
	WRITE_ONCE(t->aborted, true);
	wake_up_all(&t->emu->report_wq);
}

/* Report and clear the written pages of [iova, iova + length). */
static void emu_report_dirty_locked(struct mlx5vf_emu *emu, u64 iova, u64 length,
				    struct mlx5vf_fw_dirty_sink *sink)
{
	unsigned long first = iova >> emu->track_shift;
	unsigned long last = (iova + length - 1) >> emu->track_shift;
	unsigned long pfn;
	void *entry;

	if (!length)
		return;
	xa_for_each_range(&emu->dirty_pfns, pfn, entry, first, last) {
		xa_erase(&emu->dirty_pfns, pfn);
		if (emu->lose_dirty) {
			emu->st.dirty_pages_lost++;
			continue;
		}
		mlx5vf_core_fw_report_dirty(sink, (u64)pfn << emu->track_shift);
		emu->st.dirty_pages_reported++;
	}
}

int mlx5vf_track_report(struct mlx5vf_track *t, u64 iova, u64 length,
			struct mlx5vf_fw_dirty_sink *sink)
{
	struct mlx5vf_emu *emu = t->emu;
	bool gave_up;

	if (READ_ONCE(t->aborted))
		return -ECANCELED;
	WRITE_ONCE(emu->report_running, true);
	wake_up_all(&emu->report_wq);
	gave_up = !wait_event_timeout(emu->report_wq,
				      !READ_ONCE(emu->report_hold) || READ_ONCE(t->aborted),
				      EMU_HELD_REPORT_GIVE_UP);
	WRITE_ONCE(emu->report_running, false);
	wake_up_all(&emu->report_wq);
	mutex_lock(&emu->lock);
	emu->st.reports++;
	if (gave_up)
		emu->st.reports_gave_up++;
	if (!READ_ONCE(t->aborted))
		emu_report_dirty_locked(emu, iova, length, sink);
	mutex_unlock(&emu->lock);
	return READ_ONCE(t->aborted) ? -ECANCELED : 0;
}

void mlx5vf_emu_track_fail_keeping_pd(struct mlx5vf_emu *emu)
{
	mutex_lock(&emu->lock);
	emu->track_fail_keep = true;
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_hold_report(struct mlx5vf_emu *emu, bool hold)
{
	WRITE_ONCE(emu->report_hold, hold);
	wake_up_all(&emu->report_wq);
}

bool mlx5vf_emu_wait_report_running(struct mlx5vf_emu *emu, unsigned int ms)
{
	return wait_event_timeout(emu->report_wq, READ_ONCE(emu->report_running),
				  msecs_to_jiffies(ms)) > 0;
}

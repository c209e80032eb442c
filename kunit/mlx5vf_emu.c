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
 * The VF's VHCA is the simulated firmware (src/core/sim_vhca.h, through
 * include/mlx5vf/sim_wire.h): QUERY, SUSPEND, RESUME, SAVE and LOAD are
 * decoded here and carried out there, so the rules of
 * Documentation/firmware-contract.rst have one owner for the simulated and
 * the emulated paths alike. Its images (sim_image.h) are written into and
 * read from the pages behind the command's mkey, as the firmware's DMA would.
 *
 * Buffers reach the emulator the way they reach firmware: CREATE_MKEY's MTT
 * entries are DMA addresses that the emulated DMA API handed out, resolved to
 * pages here. The emulated DMA API tracks who owns each page (CPU or device).
 *
 * The dirty-page tracker (mlx5_track.c) runs for real too: the emulator keeps
 * its PAGE_TRACK object, the CQ and QPs of its report channel and their
 * memory, and sends the guest pages the VF says it wrote
 * (mlx5vf_emu_vf_dma_written()) as report messages into the host QP's ring,
 * writing CQEs as hardware would (kunit/mlx5vf_hw_layout.h). The KUnit
 * build's stand-ins for mig.c are in mlx5vf_emu_mig.c; the VM's module has
 * mlx5vf.ko's own.
 */
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
#include <mlx5vf/sim_wire.h>

#include "../src/shim/mlx5_cmd.h"
#include "../src/shim/mlx5_seam.h"
#include "../src/shim/mlx5vf.h"
#include "mlx5vf_emu.h"
#include "mlx5vf_hw_layout.h"

#define EMU_MAX_PAGES 1024
/* The reporting QP's receiver-not-ready wait before it looks at the ring again. */
#define EMU_RNR_TIMER msecs_to_jiffies(1)
/* The firmware identity the emulated VHCA stamps into its images. */
#define EMU_FW_IDENTITY 0x2e00000000ULL
/* What a given-up SAVE's late DMA writes (mlx5vf_emu_late_save()). */
#define EMU_LATE_BYTE 0xdb
#define EMU_MAX_MKEYS 64
/* Device addresses far from anything a kernel pointer could be. */
#define EMU_IOVA_BASE 0x7e0000000000ULL

/* Ownership of a streaming mapping in 64 lines, so that a sync may cover part of a page. */
#define EMU_LINE (PAGE_SIZE / 64)

struct emu_page {
	struct page *page;
	bool mapped;
	bool coherent; /* the kernel's coherent memory: the device's and the CPU's alike */
	u64 cpu_lines; /* lines synced for the CPU, not yet back to the device */
	u64 dev_wrote; /* lines the device wrote that the CPU has not synced since */
};

static u64 emu_lines(u32 off, u32 len)
{
	return GENMASK_ULL((off + len - 1) / EMU_LINE, off / EMU_LINE);
}

struct emu_mkey {
	bool live;
	u32 key;
	u32 pd;
	u64 len;
	u32 npages;
	u32 *slots; /* emu_page index of each MTT entry */
};

/* The firmware page tracker's objects (see "The firmware page tracker" below). */
#define EMU_MAX_CQS 4
#define EMU_MAX_QPS 8
#define EMU_MAX_UARS 4
#define EMU_MAX_EQ_NBS 4
#define EMU_EQN 5
#define EMU_UAR_BASE 0x40
#define EMU_CQN_BASE 0x80
#define EMU_QPN_BASE 0x1200
#define EMU_TRACK_ID_BASE 0x9000
#define EMU_TRACK_MAX_RANGES 4

enum emu_qp_state { EMU_QP_RST, EMU_QP_INIT, EMU_QP_RTR, EMU_QP_RTS, EMU_QP_ERR };

struct emu_cq {
	bool live;
	u32 cqn;
	struct mlx5_core_cq *mcq;
	u8 log_size;
	u32 npages;
	struct page **pages; /* of its buffer, coherent */
	__be32 *dbr;	     /* set_ci, then arm */
	u32 pi;		     /* CQEs written */
	bool armed;
	u32 arm_ci;	     /* the consumer index it was armed at */
};

struct emu_qp {
	bool live;
	u32 qpn;
	u32 pd;
	enum emu_qp_state state;
	u32 remote_qpn;
	/* The receive ring; none (log_rq 0) on a zero-length RQ. */
	u8 log_rq;
	u32 cqn;
	u32 npages;
	struct page **pages;
	__be32 *dbr;
	u32 rq_cc; /* WQEs consumed */
};

struct emu_ptrack {
	bool live;
	u32 id;
	u8 state;
	u32 fw_qpn;
	u8 log_page;
	u8 log_msg;
	u32 nr_ranges;
	u64 start[EMU_TRACK_MAX_RANGES], len[EMU_TRACK_MAX_RANGES];
	/* The running report: the window's dirty pages, sent so far. */
	u64 *pending;
	u32 npending, sent;
	/* mlx5vf_emu_track_fail_report(): an error CQE after this many messages. */
	int fail_after;
	u8 fail_syndrome;
};

struct emu_fail {
	u16 opcode;
	u32 skip; /* commands of that opcode that pass first */
	u8 status;
	u32 syndrome;
};

#define EMU_MAX_FAILS 4

struct emu_async {
	struct work_struct work;
	struct mlx5vf_emu *emu;
	struct mlx5_async_work *cb_work;
	mlx5_async_cbk_t callback;
	void *out;
	int outlen;
	u32 in[MLX5_ST_SZ_DW(save_vhca_state_in)];
	u32 ans[MLX5_ST_SZ_DW(save_vhca_state_out)]; /* the outbox, copied out when answered */
	u8 fw_status; /* the submission's: OK, the SAVE is in flight */
	int status; /* 0: answer, else complete unanswered with it */
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
	struct mlx5vf_sim_wire *vhca; /* the VF's migration firmware */
	/* The SAVE in flight: its mkey (0: gone with a PF reload) and pages. */
	u32 save_key;
	u8 **save_pages;
	u32 next_pd;
	u32 first_live_pd; /* PDs below it died with a PF reload */
	u32 next_mkey_index;
	struct emu_page pages[EMU_MAX_PAGES];
	struct emu_mkey mkeys[EMU_MAX_MKEYS];
	struct emu_fail fails[EMU_MAX_FAILS];
	bool hold;
	struct emu_async *held;
	struct emu_async *given_up; /* completed with an error, firmware may go on */
	atomic_t inflight;
	wait_queue_head_t idle;
	struct mlx5vf_emu_stats st;
	/* The firmware page tracker and its report channel. */
	struct mlx5_hca_cap cap_adv;
	struct mlx5_uars_page *uars[EMU_MAX_UARS];
	u32 next_uar;
	struct emu_cq cqs[EMU_MAX_CQS];
	u32 next_cqn;
	struct emu_qp qps[EMU_MAX_QPS];
	u32 next_qpn;
	struct emu_ptrack ptrack; /* one PAGE_TRACK object at most: one VF */
	u32 next_track_id;
	struct mlx5_nb *eq_nbs[EMU_MAX_EQ_NBS];
	wait_queue_head_t report_wq;
	struct delayed_work rnr_retry; /* the report's sender found no receive posted */
	bool report_running; /* the object is REPORTING; read without the lock */
	bool report_hold;
	int fail_report_after; /* the next report's error CQE, -1: none */
	u8 fail_report_syndrome;
	/* Guest pages the VF wrote since the tracker last reported them. */
	bool lose_dirty; /* mlx5vf_emu_lose_dirty() */
	struct xarray dirty_pfns; /* guest page numbers, in the tracker's page size */
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

/* An injected failure (mlx5vf_emu_fail_nth()) this command takes, or NULL. */
static const struct emu_fail *emu_take_fail(struct mlx5vf_emu *emu, u16 opcode)
{
	struct emu_fail *f;

	for (f = emu->fails; f < emu->fails + EMU_MAX_FAILS; f++) {
		if (f->opcode != opcode)
			continue;
		if (f->skip) {
			f->skip--;
			return NULL;
		}
		f->opcode = 0;
		return f;
	}
	return NULL;
}

/* A failure of a call mlx5_core answers itself: it prints the outbox, returns the errno. */
static int emu_take_fail_errno(struct mlx5vf_emu *emu, u16 opcode)
{
	const struct emu_fail *f = emu_take_fail(emu, opcode);

	if (!f)
		return 0;
	emu->st.out_err_calls++;
	emu->st.out_err_syndrome = f->syndrome;
	return emu_status_errno(f->status) ?: -EIO;
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

/* A page for the device: streaming (the device's until synced) or coherent. */
static dma_addr_t emu_map_locked(struct mlx5vf_emu *emu, struct page *page, bool coherent)
{
	u32 i;

	for (i = 0; i < EMU_MAX_PAGES; i++) {
		if (!emu->pages[i].mapped) {
			emu->pages[i] = (struct emu_page){ .page = page, .mapped = true,
							   .coherent = coherent };
			emu->st.pages_mapped++;
			return EMU_IOVA_BASE + (u64)i * PAGE_SIZE;
		}
	}
	return DMA_MAPPING_ERROR;
}

dma_addr_t mlx5vf_seam_dma_map_page(struct device *dev, struct page *page,
				    enum dma_data_direction dir)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);
	dma_addr_t addr;

	mutex_lock(&emu->lock);
	addr = emu_map_locked(emu, page, false);
	if (addr != DMA_MAPPING_ERROR)
		emu->st.dma_map_calls++;
	mutex_unlock(&emu->lock);
	return addr;
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
				.mapped = true };
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
		if (p) {
			p->cpu_lines = for_device ? 0 : ~0ULL;
			if (!for_device)
				p->dev_wrote = 0;
		} else {
			emu_misuse(emu, "syncing 0x%llx, which is not mapped",
				   (u64)sg_page_iter_dma_address(&iter));
		}
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

/*
 * Copy between memory and an mkey's bytes [at, at + len), checking that the
 * device may touch them; with data NULL the simulated VHCA has copied
 * already and only the check and the device's marks are left. Under the lock.
 */
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

		if (!p->mapped || (p->cpu_lines & emu_lines(off, n))) {
			emu_misuse(emu, "mkey 0x%x page %u is %s: not the device's to touch",
				   mk->key, done / (u32)PAGE_SIZE,
				   p->mapped ? "owned by the CPU" : "unmapped");
			return -EFAULT;
		}
		if (to_mkey) {
			if (data)
				memcpy(va + off, data + (done - at), n);
			if (!p->coherent && !emu->cfg.dma_coherent)
				p->dev_wrote |= emu_lines(off, n);
		} else if (data) {
			memcpy(data + (done - at), va + off, n);
		}
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
	ret = emu_take_fail_errno(emu, MLX5_CMD_OP_CREATE_MKEY);
	if (ret)
		goto out;
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
	mk->pd = MLX5_GET(mkc, mkc, pd);
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
	} else {
		/* A failed DESTROY keeps the mkey: firmware may still reach its pages. */
		ret = emu_take_fail_errno(emu, MLX5_CMD_OP_DESTROY_MKEY);
	}
	if (mk && !ret) {
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
 * The simulated VHCA refused a command: the status real firmware answers,
 * by what the refusal was (include/mlx5vf/sim_wire.h).
 */
static u8 emu_vhca_refused(void *out, int err, u32 syndrome)
{
	switch (err) {
	case -EINVAL:
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, syndrome);
	case -ENOSPC:
	case -EOVERFLOW:
	case -EIO:
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, syndrome);
	default:
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, syndrome);
	}
}

/*
 * The pages behind an mkey, from its first byte, as the simulated VHCA's
 * DMA reaches them; *buf is valid until the array is freed. Under the lock.
 */
static u8 **emu_mkey_pages(struct mlx5vf_emu *emu, struct emu_mkey *mk, u32 size,
			   struct mlx5vf_sim_wire_buffer *buf)
{
	u8 **va = kmalloc_array(mk->npages, sizeof(*va), GFP_KERNEL);
	u32 i;

	if (!va)
		return NULL;
	for (i = 0; i < mk->npages; i++)
		va[i] = page_address(emu->pages[mk->slots[i]].page);
	*buf = (struct mlx5vf_sim_wire_buffer){
		.pages = va, .page_count = mk->npages, .page_size = PAGE_SIZE, .size = size,
	};
	return va;
}

static u8 emu_query(struct mlx5vf_emu *emu, void *in, void *out)
{
	bool incremental = MLX5_GET(query_vhca_migration_state_in, in, incremental);
	bool chunk = MLX5_GET(query_vhca_migration_state_in, in, chunk);
	u64 remaining;
	u32 required;
	int ret;

	emu->st.queries++;
	if (chunk != emu->cfg.chunk_mode) {
		emu_malformed(emu, "QUERY chunk=%u on a function whose migration_in_chunks is %u",
			      chunk, emu->cfg.chunk_mode);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc001);
	}
	/* Rule 7 among them: an incremental query needs tracking. */
	ret = mlx5vf_core_sim_wire_query(emu->vhca, incremental, chunk, &required, &remaining);
	if (ret == -EBUSY)
		emu_malformed(emu, "incremental QUERY while a SAVE is in flight (rule 4)");
	if (ret)
		return emu_vhca_refused(out, ret, 0xc007);
	MLX5_SET(query_vhca_migration_state_out, out, required_umem_size, required);
	MLX5_SET64(query_vhca_migration_state_out, out, remaining_total_size, remaining);
	return MLX5_CMD_STAT_OK;
}

/* Documentation/firmware-contract.rst rule 3: the driver's order only. */
static u8 emu_suspend_resume(struct mlx5vf_emu *emu, bool suspend, u16 op_mod, void *out)
{
	bool responder;
	int ret;

	if (suspend && (op_mod == MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_INITIATOR ||
			op_mod == MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_RESPONDER)) {
		responder = op_mod == MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_RESPONDER;
		ret = mlx5vf_core_sim_wire_suspend(emu->vhca, responder);
	} else if (!suspend && (op_mod == MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_INITIATOR ||
				op_mod == MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_RESPONDER)) {
		responder = op_mod == MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_RESPONDER;
		ret = mlx5vf_core_sim_wire_resume(emu->vhca, responder);
	} else {
		emu_malformed(emu, "%s op_mod %u", suspend ? "SUSPEND" : "RESUME", op_mod);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc003);
	}
	if (ret == -EBUSY)
		emu_malformed(emu, "SUSPEND while a SAVE is in flight (rule 4)");
	return ret ? emu_vhca_refused(out, ret, 0xc003) : MLX5_CMD_STAT_OK;
}

static u8 emu_save(struct mlx5vf_emu *emu, void *in, void *out)
{
	bool incremental = MLX5_GET(save_vhca_state_in, in, incremental);
	bool set_track = MLX5_GET(save_vhca_state_in, in, set_track);
	u32 key = MLX5_GET(save_vhca_state_in, in, mkey);
	u32 size = MLX5_GET(save_vhca_state_in, in, size);
	struct emu_mkey *mk = emu_mkey_find(emu, key);
	struct mlx5vf_sim_wire_save_kind_of kind;
	struct mlx5vf_sim_wire_buffer buf;
	struct mlx5vf_sim_wire_state vs;
	u8 **pages;
	int ret;

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
	mlx5vf_core_sim_wire_state(emu->vhca, &vs);
	/* Rule 10: every chunk after the first, incremental=1 set_track=0. */
	if (vs.image_open && incremental && set_track) {
		emu->st.continuation_bad_bits++;
		emu_malformed(emu, "continuation SAVE with set_track=1 (rules 10, 12)");
	}
	/* The firmware writes from submission on: the pages must be the device's now. */
	if (emu_mkey_copy(emu, mk, 0, NULL, size, false))
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	pages = emu_mkey_pages(emu, mk, size, &buf);
	if (!pages)
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	ret = mlx5vf_core_sim_wire_save(emu->vhca, incremental, set_track, &buf, &kind);
	if (ret) {
		kfree(pages);
		/* The in-tree driver sends none of these (rules 4, 12-14). */
		if (ret == -EBUSY)
			emu_malformed(emu, "SAVE while another SAVE is in flight (rule 4)");
		else if (ret == -EINVAL)
			emu_malformed(emu, "SAVE incremental=%u set_track=%u refused (rules 12-14)",
				      incremental, set_track);
		return emu_vhca_refused(out, ret, 0xc009);
	}
	emu->save_pages = pages;
	emu->save_key = key;
	if (kind.kind == MLX5VF_SIM_WIRE_SAVE_CONTINUATION)
		emu->st.continuation_saves++;
	if (kind.kind == MLX5VF_SIM_WIRE_SAVE_CLEANUP)
		emu->st.cleanups++;
	if (kind.restarted)
		emu->st.images_restarted++;
	return MLX5_CMD_STAT_OK;
}

/*
 * The SAVE in flight completes: its outbox. The image went into the pages
 * at submit; were they the device's to write all along? Under the lock.
 */
static u8 emu_save_answer(struct mlx5vf_emu *emu, void *out)
{
	struct mlx5vf_sim_wire_save_result res;
	struct emu_mkey *mk = emu->save_key ? emu_mkey_find(emu, emu->save_key) : NULL;
	int ret;

	ret = mlx5vf_core_sim_wire_save_done(emu->vhca, &res);
	kfree(emu->save_pages);
	emu->save_pages = NULL;
	/* A PF reload took the mkey (save_key 0): the SAVE died with the firmware. */
	if (!emu->save_key)
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00e);
	if (!mk) {
		emu_misuse(emu, "mkey 0x%x destroyed while a SAVE into it was in flight",
			   emu->save_key);
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00e);
	}
	/* The function was reset meanwhile: the image is void. */
	if (ret)
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00d);
	if (emu_mkey_copy(emu, mk, 0, NULL, res.image_size, true))
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	MLX5_SET(save_vhca_state_out, out, actual_image_size, res.image_size);
	MLX5_SET(save_vhca_state_out, out, next_required_umem_size, res.next_required);
	return MLX5_CMD_STAT_OK;
}

/* mlx5_core gave up on the SAVE in flight: its result is lost. Under the lock. */
static void emu_save_abandon(struct mlx5vf_emu *emu)
{
	struct mlx5vf_sim_wire_save_result res;

	/* Whatever it was, nobody reads it. */
	mlx5vf_core_sim_wire_save_done(emu->vhca, &res);
	kfree(emu->save_pages);
	emu->save_pages = NULL;
}

static u8 emu_load(struct mlx5vf_emu *emu, void *in, void *out)
{
	u32 key = MLX5_GET(load_vhca_state_in, in, mkey);
	u32 size = MLX5_GET(load_vhca_state_in, in, size);
	struct emu_mkey *mk = emu_mkey_find(emu, key);
	struct mlx5vf_sim_wire_buffer buf;
	const char *why;
	u8 **pages;
	int ret;

	emu->st.loads++;
	if (!mk || MLX5_GET64(load_vhca_state_in, in, va) || !size || size > mk->len) {
		emu_malformed(emu, "LOAD from mkey 0x%x (%s) size %u", key,
			      mk ? "registered" : "unknown", size);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc00a);
	}
	/* The firmware reads the image: may the device read those bytes now? */
	if (emu_mkey_copy(emu, mk, 0, NULL, size, false))
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	pages = emu_mkey_pages(emu, mk, size, &buf);
	if (!pages)
		return emu_fail(out, MLX5_CMD_STAT_INT_ERR, 0xc00f);
	/* A VHCA loads its state only while stopped (RESUMING is STOP inside). */
	ret = mlx5vf_core_sim_wire_load(emu->vhca, &buf, &why);
	kfree(pages);
	if (ret) {
		emu->st.load_refusal = why;
		return emu_vhca_refused(out, ret, 0xc00c);
	}
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

/* ---- The firmware page tracker: its objects and commands ------------------------ */

/*
 * What mlx5_track.c asks of firmware (Documentation/firmware-contract.rst,
 * rules 18, 19 and 21): an RC pair of QPs in loopback, the host QP's receive
 * ring completing on a CQ, and the PAGE_TRACK object whose reporting_qpn is
 * the other QP. Their memory is the kernel's coherent memory (doorbell
 * records, the CQ and the receive queue) and the ring's slots, behind an
 * mkey. A report (MODIFY to REPORTING) takes the window's dirty pages out of
 * the log; the firmware then sends them as messages, one per posted receive
 * WQE, while the ring has WQEs (receiver not ready otherwise: it goes on
 * when the driver rings the CQ's doorbell after reposting). What it reads
 * of a WQE and writes into the CQ follows kunit/mlx5vf_hw_layout.h, not the
 * kernel's headers.
 */

static struct emu_cq *emu_cq_find(struct mlx5vf_emu *emu, u32 cqn)
{
	struct emu_cq *cq;

	for (cq = emu->cqs; cq < emu->cqs + EMU_MAX_CQS; cq++)
		if (cq->live && cq->cqn == cqn)
			return cq;
	return NULL;
}

static struct emu_qp *emu_qp_find(struct mlx5vf_emu *emu, u32 qpn)
{
	struct emu_qp *qp;

	for (qp = emu->qps; qp < emu->qps + EMU_MAX_QPS; qp++)
		if (qp->live && qp->qpn == qpn)
			return qp;
	return NULL;
}

static bool emu_uar_live(struct mlx5vf_emu *emu, u32 index)
{
	u32 i;

	for (i = 0; i < EMU_MAX_UARS; i++)
		if (emu->uars[i] && emu->uars[i]->index == index)
			return true;
	return false;
}

/* QPs and mkeys in a PD: firmware does not deallocate it under them. */
static u32 emu_pd_objects(struct mlx5vf_emu *emu, u32 pd)
{
	u32 n = 0, i;

	for (i = 0; i < EMU_MAX_QPS; i++)
		n += emu->qps[i].live && emu->qps[i].pd == pd;
	for (i = 0; i < EMU_MAX_MKEYS; i++)
		n += emu->mkeys[i].live && emu->mkeys[i].pd == pd;
	return n;
}

/* The CPU address of device address addr in coherent memory, or NULL. */
static void *emu_coherent_va(struct mlx5vf_emu *emu, u64 addr)
{
	u32 off = addr % PAGE_SIZE;
	struct emu_page *p = emu_page_of(emu, addr - off);

	return p && p->coherent ? page_address(p->page) + off : NULL;
}

/* A buffer's page list (pas) of a CREATE_CQ or CREATE_QP: coherent pages. */
static int emu_resolve_pas(struct mlx5vf_emu *emu, const void *pas, u32 npages,
			   struct page ***pages)
{
	const __be64 *pa = pas;
	u32 i;

	*pages = kcalloc(npages, sizeof(**pages), GFP_KERNEL);
	if (!*pages)
		return -ENOMEM;
	for (i = 0; i < npages; i++) {
		struct emu_page *p = emu_page_of(emu, be64_to_cpu(pa[i]));

		if (!p || !p->coherent) {
			kfree(*pages);
			*pages = NULL;
			return emu_malformed(emu, "queue page %u, 0x%llx, is no coherent memory",
					     i, be64_to_cpu(pa[i]));
		}
		(*pages)[i] = p->page;
	}
	return 0;
}

static u8 *emu_queue_entry(struct page **pages, u32 stride, u32 index)
{
	u64 at = (u64)index * stride;

	return (u8 *)page_address(pages[at / PAGE_SIZE]) + at % PAGE_SIZE;
}

static u8 emu_create_qp(struct mlx5vf_emu *emu, void *in, int inlen, void *out)
{
	void *qpc = MLX5_ADDR_OF(create_qp_in, in, qpc);
	u32 pd = MLX5_GET(qpc, qpc, pd);
	u8 rq_type = MLX5_GET(qpc, qpc, rq_type);
	struct emu_qp qp = { .live = true, .pd = pd, .state = EMU_QP_RST };
	struct emu_qp *slot;

	if (MLX5_GET(qpc, qpc, st) != MLX5_QPC_ST_RC ||
	    MLX5_GET(qpc, qpc, pm_state) != MLX5_QPC_PM_STATE_MIGRATED ||
	    !MLX5_GET(qpc, qpc, no_sq) || MLX5_GET(qpc, qpc, user_index) ||
	    MLX5_GET(qpc, qpc, ts_format) != MLX5_TIMESTAMP_FORMAT_FREE_RUNNING ||
	    !emu_uar_live(emu, MLX5_GET(qpc, qpc, uar_page))) {
		emu_malformed(emu, "CREATE_QP st %u pm %u no_sq %u user_index 0x%x ts %u uar %u",
			      MLX5_GET(qpc, qpc, st), MLX5_GET(qpc, qpc, pm_state),
			      MLX5_GET(qpc, qpc, no_sq), MLX5_GET(qpc, qpc, user_index),
			      MLX5_GET(qpc, qpc, ts_format), MLX5_GET(qpc, qpc, uar_page));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0e2);
	}
	if (pd < emu->first_live_pd || pd >= emu->next_pd) {
		emu_malformed(emu, "CREATE_QP on PD %u: never allocated, or reloaded away", pd);
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_ERR, 0xc0e3);
	}
	if (rq_type == MLX5_ZERO_LEN_RQ && !MLX5_GET(qpc, qpc, log_rq_size)) {
		/* The firmware QP: it only sends, from the firmware's side. */
	} else if (rq_type == MLX5_NON_ZERO_RQ) {
		qp.log_rq = MLX5_GET(qpc, qpc, log_rq_size);
		qp.cqn = MLX5_GET(qpc, qpc, cqn_rcv);
		qp.dbr = emu_coherent_va(emu, MLX5_GET64(qpc, qpc, dbr_addr));
		qp.npages = DIV_ROUND_UP(BIT(qp.log_rq) * MLX5VF_HW_DATA_SEG_SIZE, PAGE_SIZE);
		if (!qp.log_rq ||
		    qp.log_rq > MLX5_GET(cmd_hca_cap, emu->cap_gen.cur, log_max_qp_sz) ||
		    MLX5_GET(qpc, qpc, log_rq_stride) ||
		    MLX5_GET(qpc, qpc, log_page_size) != PAGE_SHIFT - MLX5_ADAPTER_PAGE_SHIFT ||
		    !emu_cq_find(emu, qp.cqn) || !qp.dbr ||
		    inlen < MLX5_ST_SZ_BYTES(create_qp_in) +
				    qp.npages * MLX5_FLD_SZ_BYTES(create_qp_in, pas[0])) {
			emu_malformed(emu, "CREATE_QP RQ %u/%u/%u CQ 0x%x dbr 0x%llx in %d",
				      qp.log_rq, MLX5_GET(qpc, qpc, log_rq_stride),
				      MLX5_GET(qpc, qpc, log_page_size), qp.cqn,
				      MLX5_GET64(qpc, qpc, dbr_addr), inlen);
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0e4);
		}
		if (emu_resolve_pas(emu, MLX5_ADDR_OF(create_qp_in, in, pas), qp.npages, &qp.pages))
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0e5);
	} else {
		emu_malformed(emu, "CREATE_QP rq_type %u log_rq_size %u", rq_type,
			      MLX5_GET(qpc, qpc, log_rq_size));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0e6);
	}
	for (slot = emu->qps; slot < emu->qps + EMU_MAX_QPS && slot->live; slot++)
		;
	if (slot == emu->qps + EMU_MAX_QPS) {
		kfree(qp.pages);
		return emu_fail(out, MLX5_CMD_STAT_LIM_ERR, 0xc0e7);
	}
	qp.qpn = EMU_QPN_BASE + emu->next_qpn++;
	*slot = qp;
	MLX5_SET(create_qp_out, out, qpn, qp.qpn);
	emu->st.qps_live++;
	return MLX5_CMD_STAT_OK;
}

/* DESTROY_QP and the state transitions of rule 21. */
static u8 emu_qp_cmd(struct mlx5vf_emu *emu, u16 opcode, void *in, int inlen, void *out)
{
	enum emu_qp_state from, to;
	struct emu_qp *qp, *peer;
	void *qpc;
	u32 qpn;

	switch (opcode) {
	case MLX5_CMD_OP_CREATE_QP:
		return emu_create_qp(emu, in, inlen, out);
	case MLX5_CMD_OP_DESTROY_QP:
		qpn = MLX5_GET(destroy_qp_in, in, qpn);
		qp = emu_qp_find(emu, qpn);
		if (!qp)
			break;
		/* Unknown, answered as ours: not while a PAGE_TRACK object reports through it. */
		if (emu->ptrack.live && emu->ptrack.fw_qpn == qpn)
			return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc0e8);
		kfree(qp->pages);
		*qp = (struct emu_qp){};
		emu->st.qps_live--;
		return MLX5_CMD_STAT_OK;
	case MLX5_CMD_OP_RST2INIT_QP:
		qpn = MLX5_GET(rst2init_qp_in, in, qpn);
		qpc = MLX5_ADDR_OF(rst2init_qp_in, in, qpc);
		from = EMU_QP_RST;
		to = EMU_QP_INIT;
		break;
	case MLX5_CMD_OP_INIT2RTR_QP:
		qpn = MLX5_GET(init2rtr_qp_in, in, qpn);
		qpc = MLX5_ADDR_OF(init2rtr_qp_in, in, qpc);
		from = EMU_QP_INIT;
		to = EMU_QP_RTR;
		break;
	default: /* RTR2RTS_QP */
		qpn = MLX5_GET(rtr2rts_qp_in, in, qpn);
		qpc = MLX5_ADDR_OF(rtr2rts_qp_in, in, qpc);
		from = EMU_QP_RTR;
		to = EMU_QP_RTS;
		break;
	}
	qp = emu_qp_find(emu, qpn);
	if (!qp) {
		emu_malformed(emu, "QP command 0x%x for QP 0x%x, which is not there", opcode,
			      qpn);
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_ERR, 0xc0e9);
	}
	if (qp->state != from) {
		emu_malformed(emu, "QP 0x%x: command 0x%x in state %d", qpn, opcode, qp->state);
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc0ea);
	}
	if (opcode == MLX5_CMD_OP_RST2INIT_QP &&
	    (MLX5_GET(qpc, qpc, pm_state) != MLX5_QPC_PM_STATE_MIGRATED ||
	     MLX5_GET(qpc, qpc, primary_address_path.vhca_port_num) != 1)) {
		emu_malformed(emu, "RST2INIT_QP 0x%x: pm_state %u port %u", qpn,
			      MLX5_GET(qpc, qpc, pm_state),
			      MLX5_GET(qpc, qpc, primary_address_path.vhca_port_num));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0eb);
	}
	if (opcode == MLX5_CMD_OP_INIT2RTR_QP) {
		peer = emu_qp_find(emu, MLX5_GET(qpc, qpc, remote_qpn));
		if (!peer || peer == qp || !MLX5_GET(qpc, qpc, primary_address_path.fl) ||
		    MLX5_GET(qpc, qpc, primary_address_path.vhca_port_num) != 1 ||
		    MLX5_GET(qpc, qpc, mtu) != MLX5_QPC_MTU_4K_BYTES ||
		    MLX5_GET(qpc, qpc, log_msg_max) >
			    MLX5_GET(cmd_hca_cap, emu->cap_gen.cur, log_max_msg)) {
			emu_malformed(emu, "INIT2RTR_QP 0x%x: peer 0x%x fl %u port %u mtu %u %u",
				      qpn, MLX5_GET(qpc, qpc, remote_qpn),
				      MLX5_GET(qpc, qpc, primary_address_path.fl),
				      MLX5_GET(qpc, qpc, primary_address_path.vhca_port_num),
				      MLX5_GET(qpc, qpc, mtu), MLX5_GET(qpc, qpc, log_msg_max));
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0ec);
		}
		qp->remote_qpn = peer->qpn;
	}
	/* The firmware QP must wait for receives, not give up (rule 21). */
	if (opcode == MLX5_CMD_OP_RTR2RTS_QP &&
	    (MLX5_GET(qpc, qpc, rnr_retry) != 7 || MLX5_GET(qpc, qpc, retry_count) != 7)) {
		emu_malformed(emu, "RTR2RTS_QP 0x%x: rnr_retry %u retry_count %u, not 7", qpn,
			      MLX5_GET(qpc, qpc, rnr_retry), MLX5_GET(qpc, qpc, retry_count));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f0);
	}
	qp->state = to;
	return MLX5_CMD_STAT_OK;
}

/* Log a write of the VF to guest page pfn, if a range of the tracker has it. */
static void emu_ptrack_log(struct mlx5vf_emu *emu, unsigned long pfn)
{
	const struct emu_ptrack *pt = &emu->ptrack;
	u64 addr = (u64)pfn << pt->log_page;
	u32 i;

	for (i = 0; i < pt->nr_ranges; i++) {
		if (addr - pt->start[i] >= pt->len[i])
			continue;
		/* Out of memory loses the page: the guest memory check would see it. */
		if (xa_err(xa_store(&emu->dirty_pfns, pfn, xa_mk_value(1), GFP_KERNEL)))
			emu_misuse(emu, "no memory to log guest page 0x%lx", pfn);
		return;
	}
}

static u8 emu_ptrack_create(struct mlx5vf_emu *emu, void *in, int inlen, void *out)
{
	void *obj = MLX5_ADDR_OF(create_page_track_obj_in, in, obj_context);
	const u8 *range = MLX5_ADDR_OF(page_track, obj, track_range);
	const void *adv = emu->cap_adv.cur;
	struct emu_ptrack *pt = &emu->ptrack;
	u32 n = MLX5_GET(page_track, obj, num_ranges);
	u8 log_page = MLX5_GET(page_track, obj, log_page_size);
	u8 log_msg = MLX5_GET(page_track, obj, log_msg_size);
	u8 log_space = MLX5_GET(page_track, obj, log_addr_space_size);
	struct emu_qp *fw, *host;
	u64 total = 0, end = 0;
	u32 i;

	if (!emu_vhca_ok(emu, MLX5_GET(page_track, obj, vhca_id), "PAGE_TRACK"))
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0f1);
	if (!emu->cfg.page_tracker || pt->live) {
		emu_malformed(emu, "PAGE_TRACK create: %s", pt->live ? "a second tracker" :
				   "the PF offers no page tracker");
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a1);
	}
	if (MLX5_GET(page_track, obj, track_type) != 1 ||
	    log_page < MLX5_GET(adv_virtualization_cap, adv, pg_track_log_min_page_size) ||
	    log_page > MLX5_GET(adv_virtualization_cap, adv, pg_track_log_max_page_size) ||
	    log_msg < MLX5_GET(adv_virtualization_cap, adv, pg_track_log_min_msg_size) ||
	    log_msg > MLX5_GET(adv_virtualization_cap, adv, pg_track_log_max_msg_size) ||
	    log_space < MLX5_GET(adv_virtualization_cap, adv, pg_track_log_min_addr_space) ||
	    log_space > MLX5_GET(adv_virtualization_cap, adv, pg_track_log_max_addr_space) ||
	    !n || n > MLX5_GET(adv_virtualization_cap, adv, pg_track_max_num_range) ||
	    n > EMU_TRACK_MAX_RANGES ||
	    inlen < MLX5_ST_SZ_BYTES(create_page_track_obj_in) +
			    n * MLX5_ST_SZ_BYTES(page_track_range)) {
		emu_malformed(emu, "PAGE_TRACK type %u page %u msg %u space %u, %u ranges, in %d",
			      MLX5_GET(page_track, obj, track_type), log_page, log_msg, log_space,
			      n, inlen);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a2);
	}
	fw = emu_qp_find(emu, MLX5_GET(page_track, obj, reporting_qpn));
	host = fw ? emu_qp_find(emu, fw->remote_qpn) : NULL;
	if (!fw || fw->log_rq || fw->state != EMU_QP_RTS || !host || !host->log_rq ||
	    host->state != EMU_QP_RTR || host->remote_qpn != fw->qpn) {
		emu_malformed(emu, "PAGE_TRACK reporting QP 0x%x: not the RTS side of a pair",
			      MLX5_GET(page_track, obj, reporting_qpn));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a3);
	}
	for (i = 0; i < n; i++, range += MLX5_ST_SZ_BYTES(page_track_range)) {
		pt->start[i] = MLX5_GET64(page_track_range, range, start_address);
		pt->len[i] = MLX5_GET64(page_track_range, range, length);
		if (!pt->len[i] || (pt->start[i] | pt->len[i]) % BIT_ULL(log_page) ||
		    pt->start[i] < end || pt->start[i] + pt->len[i] < pt->start[i]) {
			emu_malformed(emu, "PAGE_TRACK range %u [0x%llx, +0x%llx): bad",
				      i, pt->start[i], pt->len[i]);
			return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a4);
		}
		end = pt->start[i] + pt->len[i];
		total += pt->len[i];
	}
	if (total > BIT_ULL(log_space)) {
		emu_malformed(emu, "PAGE_TRACK ranges of 0x%llx bytes in an address space of 2^%u",
			      total, log_space);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a5);
	}
	pt->live = true;
	pt->id = EMU_TRACK_ID_BASE + emu->next_track_id++;
	pt->state = MLX5_PAGE_TRACK_STATE_TRACKING;
	pt->fw_qpn = fw->qpn;
	pt->log_page = log_page;
	pt->log_msg = log_msg;
	pt->nr_ranges = n;
	/* A new tracker starts clean. */
	xa_destroy(&emu->dirty_pfns);
	MLX5_SET(general_obj_out_cmd_hdr, out, obj_id, pt->id);
	emu->st.trackers_live++;
	return MLX5_CMD_STAT_OK;
}

static void emu_ptrack_end_report(struct mlx5vf_emu *emu, u8 state)
{
	struct emu_ptrack *pt = &emu->ptrack;

	pt->state = state;
	WRITE_ONCE(emu->report_running, false);
	kvfree(pt->pending);
	pt->pending = NULL;
	pt->npending = 0;
	pt->sent = 0;
	wake_up_all(&emu->report_wq);
}

/* One CQE at the CQ's producer index; its owner byte last, as it hands the CQE over. */
static void emu_cqe_write(struct emu_cq *cq, u8 opcode, u32 qpn, u16 wqe_counter, u32 byte_cnt,
			  u32 imm, u8 syndrome)
{
	u8 *cqe = emu_queue_entry(cq->pages, MLX5VF_HW_CQE_SIZE, cq->pi & (BIT(cq->log_size) - 1));
	u8 owner = (cq->pi >> cq->log_size) & MLX5VF_HW_CQE_OWNER_BIT;

	memset(cqe, 0, MLX5VF_HW_CQE_OP_OWN);
	if (opcode == MLX5VF_HW_CQE_RESP_ERR || opcode == MLX5VF_HW_CQE_REQ_ERR) {
		cqe[MLX5VF_HW_ERR_CQE_SYNDROME] = syndrome;
		cqe[MLX5VF_HW_ERR_CQE_VENDOR_SYND] = 0x5a;
	} else {
		*(__be32 *)(cqe + MLX5VF_HW_CQE_IMM) = cpu_to_be32(imm);
		*(__be32 *)(cqe + MLX5VF_HW_CQE_BYTE_CNT) = cpu_to_be32(byte_cnt);
	}
	*(__be32 *)(cqe + MLX5VF_HW_CQE_QPN) = cpu_to_be32(qpn & MLX5VF_HW_CQE_QPN_MASK);
	*(__be16 *)(cqe + MLX5VF_HW_CQE_WQE_COUNTER) = cpu_to_be16(wqe_counter);
	dma_wmb();
	WRITE_ONCE(cqe[MLX5VF_HW_CQE_OP_OWN], opcode << MLX5VF_HW_CQE_OPCODE_SHIFT | owner);
	cq->pi++;
}

/* A CQ error event (an overrun), from the async EQ's interrupt handler. */
static void emu_cq_error(struct emu_cq *cq)
{
	unsigned long flags;

	local_irq_save(flags);
	cq->mcq->event(cq->mcq, MLX5_EVENT_TYPE_CQ_ERROR);
	local_irq_restore(flags);
}

/* A completion event if the CQ is armed and has a CQE past the armed index. */
static void emu_cq_fire(struct emu_cq *cq)
{
	unsigned long flags;

	if (!cq->armed || !((cq->pi ^ cq->arm_ci) & MLX5VF_HW_CQ_CI_MASK))
		return;
	cq->armed = false;
	/* From the completion EQ's interrupt handler. */
	local_irq_save(flags);
	cq->mcq->comp(cq->mcq, NULL);
	local_irq_restore(flags);
}

/*
 * Whether the driver took the message the device last wrote into a slot
 * back with a sync for the CPU before it reposted the slot: reading it
 * without one would have read stale bytes.
 */
static void emu_ring_slot_synced(struct mlx5vf_emu *emu, struct emu_mkey *mk, u64 addr, u32 len)
{
	u64 at, end = min_t(u64, addr + len, mk->len);

	for (at = addr; at < end; at = round_down(at, PAGE_SIZE) + PAGE_SIZE) {
		struct emu_page *p = &emu->pages[mk->slots[at / PAGE_SIZE]];
		u32 off = at % PAGE_SIZE;
		u32 n = min_t(u64, end - at, PAGE_SIZE - off);

		if (p->dev_wrote & emu_lines(off, n)) {
			emu_misuse(emu, "ring [0x%llx, +%u) reposted unsynced",
				   at, n);
			p->dev_wrote &= ~emu_lines(off, n);
		}
	}
}

/* The firmware QP sends what it can of the running report. Under the lock. */
static void emu_ptrack_pump(struct mlx5vf_emu *emu)
{
	struct emu_ptrack *pt = &emu->ptrack;
	struct emu_qp *fw, *host;
	struct emu_cq *cq;

	if (!pt->live || pt->state != MLX5_PAGE_TRACK_STATE_REPORTING || emu->report_hold)
		return;
	fw = emu_qp_find(emu, pt->fw_qpn);
	host = fw ? emu_qp_find(emu, fw->remote_qpn) : NULL;
	cq = host ? emu_cq_find(emu, host->cqn) : NULL;
	/* Only a connected pair sends: the firmware QP in RTS, the host QP in RTR. */
	if (!cq || fw->state != EMU_QP_RTS || host->state != EMU_QP_RTR)
		return;
	while (pt->state == MLX5_PAGE_TRACK_STATE_REPORTING) {
		u16 posted = be32_to_cpu(host->dbr[MLX5VF_HW_RCV_DBR]) & 0xffff;
		u32 ci = be32_to_cpu(cq->dbr[MLX5VF_HW_CQ_SET_CI]) & MLX5VF_HW_CQ_CI_MASK;
		u32 n = min_t(u32, BIT(pt->log_msg) / MLX5_ST_SZ_BYTES(page_track_report_entry),
			      pt->npending - pt->sent);
		u32 entry[MLX5_ST_SZ_DW(page_track_report_entry)];
		u32 byte_count, lkey, i;
		struct emu_mkey *mk;
		u8 *wqe, syndrome = 0;
		u8 state;
		u64 addr;

		if (posted == (u16)host->rq_cc) {
			/* Receiver not ready: the RNR timer retries (rnr_retry 7: no limit). */
			schedule_delayed_work(&emu->rnr_retry, EMU_RNR_TIMER);
			break;
		}
		if (((cq->pi - ci) & MLX5VF_HW_CQ_CI_MASK) >= BIT(cq->log_size)) {
			emu_misuse(emu, "CQ 0x%x overrun: %u CQEs, consumer at %u", cq->cqn, cq->pi,
				   ci);
			emu_cq_error(cq);
			emu_ptrack_end_report(emu, MLX5_PAGE_TRACK_STATE_ERROR);
			break;
		}
		wqe = emu_queue_entry(host->pages, MLX5VF_HW_DATA_SEG_SIZE,
				      host->rq_cc & (BIT(host->log_rq) - 1));
		byte_count = be32_to_cpu(*(__be32 *)(wqe + MLX5VF_HW_DATA_SEG_BYTE_COUNT));
		lkey = be32_to_cpu(*(__be32 *)(wqe + MLX5VF_HW_DATA_SEG_LKEY));
		addr = be64_to_cpu(*(__be64 *)(wqe + MLX5VF_HW_DATA_SEG_ADDR));
		mk = emu_mkey_find(emu, lkey);
		if (!mk || addr + byte_count > mk->len || addr + byte_count < addr) {
			emu_misuse(emu, "receive WQE %u: lkey 0x%x [0x%llx, +%u) is not registered",
				   host->rq_cc, lkey, addr, byte_count);
			syndrome = MLX5VF_HW_SYND_LOCAL_PROT;
		} else if (mk->pd != host->pd) {
			/* An lkey of another PD is a protection error on hardware. */
			emu_misuse(emu, "receive WQE %u: lkey 0x%x of PD %u, the QP's is %u",
				   host->rq_cc, lkey, mk->pd, host->pd);
			syndrome = MLX5VF_HW_SYND_LOCAL_PROT;
		} else if (n * MLX5_ST_SZ_BYTES(page_track_report_entry) > byte_count) {
			emu_misuse(emu, "receive WQE %u: %u bytes, a message is %lu", host->rq_cc,
				   byte_count, BIT(pt->log_msg));
			syndrome = MLX5VF_HW_SYND_LOCAL_LENGTH;
		} else if (!pt->fail_after--) {
			syndrome = emu->fail_report_syndrome; /* mlx5vf_emu_track_fail_report() */
		} else {
			emu_ring_slot_synced(emu, mk, addr, byte_count);
			for (i = 0; i < n && !syndrome; i++) {
				u64 page = pt->pending[pt->sent + i];

				MLX5_SET(page_track_report_entry, entry, dirty_address_high,
					 upper_32_bits(page));
				MLX5_SET(page_track_report_entry, entry, dirty_address_low,
					 lower_32_bits(page));
				if (emu_mkey_copy(emu, mk, addr + i * sizeof(entry), (u8 *)entry,
						  sizeof(entry), true))
					syndrome = MLX5VF_HW_SYND_LOCAL_PROT;
			}
		}
		if (syndrome) {
			/* The receive fails: the QP goes to its error state, the tracker too. */
			emu_cqe_write(cq, MLX5VF_HW_CQE_RESP_ERR, host->qpn, host->rq_cc, 0, 0,
				      syndrome);
			host->rq_cc++;
			host->state = EMU_QP_ERR;
			emu_ptrack_end_report(emu, MLX5_PAGE_TRACK_STATE_ERROR);
			break;
		}
		pt->sent += n;
		emu->st.dirty_pages_reported += n;
		state = pt->sent == pt->npending ? MLX5_PAGE_TRACK_STATE_TRACKING :
						   MLX5_PAGE_TRACK_STATE_REPORTING;
		emu_cqe_write(cq, MLX5VF_HW_CQE_RESP_SEND_IMM, host->qpn, host->rq_cc,
			      n * MLX5_ST_SZ_BYTES(page_track_report_entry), (u32)state << 28, 0);
		host->rq_cc++;
		emu->st.report_msgs++;
		if (state == MLX5_PAGE_TRACK_STATE_TRACKING)
			emu_ptrack_end_report(emu, state);
	}
	emu_cq_fire(cq);
}

/* MODIFY to REPORTING: the window's logged pages become the report. */
static u8 emu_ptrack_report(struct mlx5vf_emu *emu, void *in, void *out)
{
	void *obj = MLX5_ADDR_OF(modify_page_track_obj_in, in, obj_context);
	u64 start = MLX5_GET64(page_track, obj, range_start_address);
	u64 len = MLX5_GET64(page_track, obj, length);
	struct emu_ptrack *pt = &emu->ptrack;
	unsigned long pfn, first, last;
	u32 count = 0;
	void *entry;

	if (MLX5_GET64(page_track, obj, modify_field_select) != 0x3 ||
	    MLX5_GET(page_track, obj, state) != MLX5_PAGE_TRACK_STATE_REPORTING || !len ||
	    start + (len - 1) < start) {
		emu_malformed(emu, "PAGE_TRACK MODIFY: select 0x%llx state %u [0x%llx, +0x%llx)",
			      MLX5_GET64(page_track, obj, modify_field_select),
			      MLX5_GET(page_track, obj, state), start, len);
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a6);
	}
	/* A report runs from TRACKING only; an object in ERROR stays there. */
	if (pt->state != MLX5_PAGE_TRACK_STATE_TRACKING)
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc0a7);
	first = start >> pt->log_page;
	last = (start + len - 1) >> pt->log_page;
	xa_for_each_range(&emu->dirty_pfns, pfn, entry, first, last)
		count++;
	pt->pending = kvcalloc(max(count, 1u), sizeof(*pt->pending), GFP_KERNEL);
	if (!pt->pending)
		return emu_fail(out, MLX5_CMD_STAT_LIM_ERR, 0xc0a8);
	pt->npending = 0;
	xa_for_each_range(&emu->dirty_pfns, pfn, entry, first, last) {
		xa_erase(&emu->dirty_pfns, pfn);
		if (emu->lose_dirty)
			emu->st.dirty_pages_lost++;
		else
			pt->pending[pt->npending++] = (u64)pfn << pt->log_page;
	}
	pt->sent = 0;
	pt->fail_after = emu->fail_report_after;
	emu->fail_report_after = -1;
	pt->state = MLX5_PAGE_TRACK_STATE_REPORTING;
	WRITE_ONCE(emu->report_running, true);
	emu->st.reports++;
	wake_up_all(&emu->report_wq);
	emu_ptrack_pump(emu);
	return MLX5_CMD_STAT_OK;
}

static u8 emu_ptrack_cmd(struct mlx5vf_emu *emu, u16 opcode, void *in, int inlen, void *out)
{
	struct emu_ptrack *pt = &emu->ptrack;
	u32 id = MLX5_GET(general_obj_in_cmd_hdr, in, obj_id);

	if (MLX5_GET(general_obj_in_cmd_hdr, in, obj_type) != MLX5_OBJ_TYPE_PAGE_TRACK) {
		emu_malformed(emu, "general object command 0x%x of type 0x%x", opcode,
			      MLX5_GET(general_obj_in_cmd_hdr, in, obj_type));
		return emu_fail(out, MLX5_CMD_STAT_BAD_PARAM_ERR, 0xc0a0);
	}
	if (opcode == MLX5_CMD_OP_CREATE_GENERAL_OBJECT)
		return emu_ptrack_create(emu, in, inlen, out);
	if (!pt->live || pt->id != id) {
		emu_malformed(emu, "PAGE_TRACK command 0x%x for object 0x%x, which does not exist",
			      opcode, id);
		return emu_fail(out, MLX5_CMD_STAT_BAD_RES_ERR, 0xc0a9);
	}
	switch (opcode) {
	case MLX5_CMD_OP_MODIFY_GENERAL_OBJECT:
		return emu_ptrack_report(emu, in, out);
	case MLX5_CMD_OP_QUERY_GENERAL_OBJECT:
		MLX5_SET(query_page_track_obj_out, out, obj_context.state, pt->state);
		MLX5_SET(query_page_track_obj_out, out, obj_context.vhca_id, emu->cfg.vhca_id);
		MLX5_SET(query_page_track_obj_out, out, obj_context.reporting_qpn, pt->fw_qpn);
		return MLX5_CMD_STAT_OK;
	default: /* DESTROY: a running report ends unsent */
		if (pt->state == MLX5_PAGE_TRACK_STATE_REPORTING)
			emu->st.reports_cut++;
		emu_ptrack_end_report(emu, MLX5_PAGE_TRACK_STATE_TRACKING);
		pt->live = false;
		pt->nr_ranges = 0;
		xa_destroy(&emu->dirty_pfns);
		emu->st.trackers_live--;
		return MLX5_CMD_STAT_OK;
	}
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
	/* The dirty-page tracker's: its report channel and its PAGE_TRACK object. */
	EMU_LEN(MLX5_CMD_OP_CREATE_QP, create_qp),
	EMU_LEN(MLX5_CMD_OP_DESTROY_QP, destroy_qp),
	EMU_LEN(MLX5_CMD_OP_RST2INIT_QP, rst2init_qp),
	EMU_LEN(MLX5_CMD_OP_INIT2RTR_QP, init2rtr_qp),
	EMU_LEN(MLX5_CMD_OP_RTR2RTS_QP, rtr2rts_qp),
	{ MLX5_CMD_OP_CREATE_GENERAL_OBJECT, MLX5_ST_SZ_BYTES(create_page_track_obj_in),
	  MLX5_ST_SZ_BYTES(general_obj_out_cmd_hdr) },
	{ MLX5_CMD_OP_MODIFY_GENERAL_OBJECT, MLX5_ST_SZ_BYTES(modify_page_track_obj_in),
	  MLX5_ST_SZ_BYTES(general_obj_out_cmd_hdr) },
	{ MLX5_CMD_OP_QUERY_GENERAL_OBJECT, MLX5_ST_SZ_BYTES(general_obj_in_cmd_hdr),
	  MLX5_ST_SZ_BYTES(query_page_track_obj_out) },
	{ MLX5_CMD_OP_DESTROY_GENERAL_OBJECT, MLX5_ST_SZ_BYTES(general_obj_in_cmd_hdr),
	  MLX5_ST_SZ_BYTES(general_obj_out_cmd_hdr) },
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
	emu_malformed(emu, "opcode 0x%x is not part of migration or dirty tracking", opcode);
	return false;
}

/* Run one command; returns its status (the outbox has it too). Under the lock. */
static u8 emu_run(struct mlx5vf_emu *emu, void *in, int inlen, void *out)
{
	u16 opcode = emu_opcode(in);
	const struct emu_fail *f;
	u16 vhca_id;
	u32 objs;

	f = emu_take_fail(emu, opcode);
	/* Rule 14: a SAVE failing so says the firmware lost tracking; so it has. */
	if (f && opcode == MLX5_CMD_OP_SAVE_VHCA_STATE &&
	    f->status == MLX5_CMD_STAT_BAD_RES_STATE_ERR)
		mlx5vf_core_sim_wire_lose_tracking(emu->vhca);
	if (f)
		return emu_fail(out, f->status, f->syndrome);
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
		objs = emu_pd_objects(emu, MLX5_GET(dealloc_pd_in, in, pd));
		if (objs) {
			emu_malformed(emu, "DEALLOC_PD %u with %u QPs or mkeys still in it",
				      MLX5_GET(dealloc_pd_in, in, pd), objs);
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
	case MLX5_CMD_OP_CREATE_QP:
	case MLX5_CMD_OP_DESTROY_QP:
	case MLX5_CMD_OP_RST2INIT_QP:
	case MLX5_CMD_OP_INIT2RTR_QP:
	case MLX5_CMD_OP_RTR2RTS_QP:
		return emu_qp_cmd(emu, opcode, in, inlen, out);
	case MLX5_CMD_OP_CREATE_GENERAL_OBJECT:
	case MLX5_CMD_OP_MODIFY_GENERAL_OBJECT:
	case MLX5_CMD_OP_QUERY_GENERAL_OBJECT:
	case MLX5_CMD_OP_DESTROY_GENERAL_OBJECT:
		return emu_ptrack_cmd(emu, opcode, in, inlen, out);
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
	status = emu_run(emu, in, inlen, out);
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

	mutex_lock(&emu->lock);
	fw_status = a->fw_status;
	if (!fw_status && !status)
		fw_status = emu_save_answer(emu, a->ans);
	else if (!fw_status)
		emu_save_abandon(emu);
	mutex_unlock(&emu->lock);
	if (!status) {
		memcpy(a->out, a->ans, min_t(size_t, a->outlen, sizeof(a->ans)));
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
	/* The firmware takes the SAVE now (the image is captured); it answers later. */
	a->fw_status = emu_run(emu, a->in, sizeof(a->in), a->ans);
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
	mlx5vf_core_sim_wire_function_reset(emu->vhca);
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

/* What firmware forgets when it restarts. Under the lock. */
static void emu_drop_objects(struct mlx5vf_emu *emu)
{
	u32 i;

	for (i = 0; i < EMU_MAX_MKEYS; i++) {
		kfree(emu->mkeys[i].slots);
		emu->mkeys[i].slots = NULL;
		emu->mkeys[i].live = false;
	}
	for (i = 0; i < EMU_MAX_CQS; i++) {
		kfree(emu->cqs[i].pages);
		emu->cqs[i] = (struct emu_cq){};
	}
	for (i = 0; i < EMU_MAX_QPS; i++) {
		kfree(emu->qps[i].pages);
		emu->qps[i] = (struct emu_qp){};
	}
	emu->save_key = 0; /* a SAVE in flight lost its buffer with the firmware */
	if (emu->ptrack.live)
		emu_ptrack_end_report(emu, MLX5_PAGE_TRACK_STATE_TRACKING);
	emu->ptrack.live = false;
	xa_destroy(&emu->dirty_pfns);
	emu->st.mkeys_live = 0;
	emu->st.pds_live = 0;
	emu->st.cqs_live = 0;
	emu->st.qps_live = 0;
	emu->st.trackers_live = 0;
}

int mlx5vf_emu_pf_reload(struct mlx5vf_emu *emu)
{
	int ret;

	ret = mlx5vf_emu_pf_event(emu, MLX5_PF_NOTIFY_DISABLE_VF, 0);
	if (ret)
		return ret;
	/*
	 * The firmware restarts: every PD, mkey, CQ, QP and PAGE_TRACK object
	 * is gone, PD numbers move on. Memory the driver leaked stays mapped.
	 */
	mutex_lock(&emu->lock);
	emu_drop_objects(emu);
	emu->next_pd += 16;
	emu->first_live_pd = emu->next_pd;
	mutex_unlock(&emu->lock);
	return mlx5vf_emu_pf_event(emu, MLX5_PF_NOTIFY_ENABLE_VF, 0);
}

/*
 * The firmware QP's RNR retry: hardware sends a report's next message once
 * a receive is posted (the doorbell record moved), whether or not the
 * driver has armed the CQ since.
 */
static void emu_rnr_retry(struct work_struct *work)
{
	struct mlx5vf_emu *emu = container_of(to_delayed_work(work), struct mlx5vf_emu, rnr_retry);

	mutex_lock(&emu->lock);
	emu->st.rnr_retries++;
	emu_ptrack_pump(emu);
	mutex_unlock(&emu->lock);
}

struct mlx5vf_emu *mlx5vf_emu_create(const struct mlx5vf_emu_config *cfg)
{
	struct mlx5vf_sim_wire_config vcfg = {
		.state_size = cfg->state_size,
		.seed = cfg->seed,
		.identity = EMU_FW_IDENTITY,
		.chunk_mode = cfg->chunk_mode,
		.max_chunk = cfg->max_chunk,
	};
	struct mlx5vf_emu *emu = kzalloc(sizeof(*emu), GFP_KERNEL);
	int ret;

	if (!emu)
		return NULL;
	emu->cfg = *cfg;
	ret = mlx5vf_core_sim_wire_create(&vcfg, &emu->vhca);
	if (ret) {
		pr_err("mlx5vf_emu: the simulated VHCA refused its configuration (state %u, chunk %u): %d\n",
		       cfg->state_size, cfg->max_chunk, ret);
		kfree(emu);
		return NULL;
	}
	emu->wq = alloc_ordered_workqueue("mlx5vf_emu", 0);
	if (!emu->wq) {
		mlx5vf_core_sim_wire_destroy(emu->vhca);
		kfree(emu);
		return NULL;
	}
	mutex_init(&emu->lock);
	init_waitqueue_head(&emu->idle);
	init_waitqueue_head(&emu->report_wq);
	INIT_DELAYED_WORK(&emu->rnr_retry, emu_rnr_retry);
	emu->fail_report_after = -1;
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
	/* The report channel's limits, and the page tracker (rule 18). */
	MLX5_SET(cmd_hca_cap, emu->cap_gen.cur, log_max_qp_sz, cfg->track_log_max_queue ?: 10);
	MLX5_SET(cmd_hca_cap, emu->cap_gen.cur, log_max_cq_sz, cfg->track_log_max_queue ?: 10);
	MLX5_SET(cmd_hca_cap, emu->cap_gen.cur, log_max_msg, 30);
	if (cfg->page_tracker) {
		void *adv = emu->cap_adv.cur;

		emu->mdev.caps.hca[MLX5_CAP_ADV_VIRTUALIZATION] = &emu->cap_adv;
		MLX5_SET(cmd_hca_cap, emu->cap_gen.cur, adv_virtualization, 1);
		MLX5_SET(adv_virtualization_cap, adv, pg_track_max_num_range, EMU_TRACK_MAX_RANGES);
		MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_page_size, 12);
		MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_page_size, 30);
		MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_addr_space, 12);
		MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_addr_space, 48);
		/* At least a 64-byte line per slot, so that syncing a slot syncs no other. */
		MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_msg_size, 6);
		MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_msg_size,
			 cfg->track_log_max_msg ?: 21);
	}
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
	/* No report runs by now: a retry finds nothing to send and stays off. */
	cancel_delayed_work_sync(&emu->rnr_retry);
	emu_drop_objects(emu);
	for (i = 0; i < EMU_MAX_UARS; i++)
		kfree(emu->uars[i]);
	kfree(emu->held);
	kfree(emu->given_up);
	mlx5vf_core_sim_wire_destroy(emu->vhca);
	kfree(emu->save_pages);
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
	struct mlx5vf_sim_wire_state vs;

	mutex_lock(&emu->lock);
	*st = emu->st;
	mlx5vf_core_sim_wire_state(emu->vhca, &vs);
	st->tracking = vs.tracking;
	st->track_objs_kept = emu->st.qps_live + emu->st.cqs_live + emu->st.trackers_live;
	st->misuses = atomic_read(&emu->misuses);
	mutex_unlock(&emu->lock);
}

/* The simulated VHCA's own checksum (FNV-1a 64 over every byte of its state). */
u64 mlx5vf_emu_state_sum(struct mlx5vf_emu *emu)
{
	struct mlx5vf_sim_wire_state vs;

	mutex_lock(&emu->lock);
	mlx5vf_core_sim_wire_state(emu->vhca, &vs);
	mutex_unlock(&emu->lock);
	return vs.checksum;
}

void mlx5vf_emu_vf_write(struct mlx5vf_emu *emu, u32 offset, u32 len, u8 value)
{
	struct mlx5vf_sim_wire_state vs;
	int ret;

	mutex_lock(&emu->lock);
	mlx5vf_core_sim_wire_state(emu->vhca, &vs);
	if (vs.initiator_suspended)
		emu_misuse(emu, "a suspended VF wrote its state");
	ret = mlx5vf_core_sim_wire_write(emu->vhca, offset, len, value);
	if (ret && ret != -EAGAIN)
		emu_misuse(emu, "VF write of [%u, +%u) refused (%d): empty, or outside [8, %u)",
			   offset, len, ret, emu->cfg.state_size);
	mutex_unlock(&emu->lock);
}

u32 mlx5vf_emu_vf_activity(struct mlx5vf_emu *emu, u32 writes)
{
	u32 done;

	mutex_lock(&emu->lock);
	done = mlx5vf_core_sim_wire_run_activity(emu->vhca, writes);
	mutex_unlock(&emu->lock);
	return done;
}

/* Under the lock. */
static bool emu_vf_running_locked(struct mlx5vf_emu *emu)
{
	struct mlx5vf_sim_wire_state vs;

	mlx5vf_core_sim_wire_state(emu->vhca, &vs);
	return !vs.initiator_suspended;
}

bool mlx5vf_emu_vf_running(struct mlx5vf_emu *emu)
{
	bool running;

	mutex_lock(&emu->lock);
	running = emu_vf_running_locked(emu);
	mutex_unlock(&emu->lock);
	return running;
}

void mlx5vf_emu_vf_dma_written(struct mlx5vf_emu *emu, u64 iova, u32 len)
{
	unsigned long pfn, last;

	if (!len)
		return;
	mutex_lock(&emu->lock);
	if (!emu_vf_running_locked(emu))
		emu_misuse(emu, "a suspended VF wrote guest memory at 0x%llx", iova);
	for (pfn = iova >> emu->ptrack.log_page, last = (iova + len - 1) >> emu->ptrack.log_page;
	     emu->ptrack.live && pfn <= last; pfn++)
		emu_ptrack_log(emu, pfn);
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_lose_dirty(struct mlx5vf_emu *emu, bool lose)
{
	mutex_lock(&emu->lock);
	emu->lose_dirty = lose;
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_fail_nth(struct mlx5vf_emu *emu, u16 opcode, u32 nth, u8 status, u32 syndrome)
{
	struct emu_fail *f;

	mutex_lock(&emu->lock);
	for (f = emu->fails; f < emu->fails + EMU_MAX_FAILS && f->opcode; f++)
		;
	if (f < emu->fails + EMU_MAX_FAILS)
		*f = (struct emu_fail){ .opcode = opcode, .skip = nth, .status = status,
					.syndrome = syndrome };
	else
		emu_misuse(emu, "more than %d failures injected at once", EMU_MAX_FAILS);
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_fail_next(struct mlx5vf_emu *emu, u16 opcode, u8 status, u32 syndrome)
{
	mlx5vf_emu_fail_nth(emu, opcode, 0, status, syndrome);
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

/*
 * The firmware's DMA for the given-up SAVE lands now. What it writes stands
 * for an image: the simulated VHCA has moved on since (a real one would have
 * written before its next command), and only where the bytes land matters.
 */
void mlx5vf_emu_late_save(struct mlx5vf_emu *emu)
{
	struct emu_mkey *mk = NULL;
	u8 late[64];

	memset(late, EMU_LATE_BYTE, sizeof(late));
	mutex_lock(&emu->lock);
	/* A destroyed mkey is out of the firmware's reach: nothing happens. */
	if (emu->given_up)
		mk = emu_mkey_find(emu, MLX5_GET(save_vhca_state_in, emu->given_up->in, mkey));
	if (mk && !emu_mkey_copy(emu, mk, 0, late, sizeof(late), true))
		emu->st.late_writes++;
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_flush(struct mlx5vf_emu *emu)
{
	flush_workqueue(emu->wq);
}

/* ---- The tracker's mlx5_core calls ------------------------------------------ */

/*
 * mlx5_track.c's resources come from mlx5_core: a UAR page, doorbell
 * records and fragmented buffers of coherent memory (here: pages mapped
 * coherent in the emulated DMA space, which CREATE_CQ and CREATE_QP resolve),
 * a completion EQ, and the PF's event notifier chain.
 */

struct mlx5_uars_page *mlx5vf_seam_get_uars_page(struct mlx5_core_dev *mdev)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	struct mlx5_uars_page *up;
	int ret;
	u32 i;

	up = kzalloc(sizeof(*up), GFP_KERNEL);
	if (!up)
		return ERR_PTR(-ENOMEM);
	mutex_lock(&emu->lock);
	ret = emu_take_fail_errno(emu, MLX5_CMD_OP_ALLOC_UAR);
	for (i = 0; !ret && i < EMU_MAX_UARS && emu->uars[i]; i++)
		;
	if (!ret && i == EMU_MAX_UARS)
		ret = -ENOMEM;
	if (!ret) {
		up->index = EMU_UAR_BASE + emu->next_uar++;
		/* A cookie, never dereferenced: the arm doorbell is emulated. */
		up->map = (void __iomem *)up;
		emu->uars[i] = up;
		emu->st.uars_live++;
	}
	mutex_unlock(&emu->lock);
	if (ret) {
		kfree(up);
		return ERR_PTR(ret);
	}
	return up;
}

void mlx5vf_seam_put_uars_page(struct mlx5_core_dev *mdev, struct mlx5_uars_page *up)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	u32 i;

	mutex_lock(&emu->lock);
	for (i = 0; i < EMU_MAX_UARS && emu->uars[i] != up; i++)
		;
	if (i == EMU_MAX_UARS) {
		emu_misuse(emu, "putting a UAR page that was never got");
	} else {
		emu->uars[i] = NULL;
		emu->st.uars_live--;
		kfree(up);
	}
	mutex_unlock(&emu->lock);
}

/* Whether a live CQ or QP still uses page (its buffer) or dbr (its doorbell record). */
static bool emu_queue_uses(struct mlx5vf_emu *emu, struct page *page, const void *dbr)
{
	u32 i, k;

	for (i = 0; i < EMU_MAX_CQS; i++)
		for (k = 0; emu->cqs[i].live && k < emu->cqs[i].npages; k++)
			if (emu->cqs[i].pages[k] == page || (dbr && (void *)emu->cqs[i].dbr == dbr))
				return true;
	for (i = 0; i < EMU_MAX_QPS; i++) {
		if (emu->qps[i].live && dbr && (void *)emu->qps[i].dbr == dbr)
			return true;
		for (k = 0; emu->qps[i].live && k < emu->qps[i].npages; k++)
			if (emu->qps[i].pages[k] == page)
				return true;
	}
	return false;
}

/* One zeroed page of coherent memory; its device address in *dma. */
static void *emu_coherent_alloc(struct mlx5vf_emu *emu, dma_addr_t *dma)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

	if (!page)
		return NULL;
	mutex_lock(&emu->lock);
	*dma = emu_map_locked(emu, page, true);
	mutex_unlock(&emu->lock);
	if (*dma == DMA_MAPPING_ERROR) {
		__free_page(page);
		return NULL;
	}
	return page_address(page);
}

static void emu_coherent_free(struct mlx5vf_emu *emu, void *va, dma_addr_t dma, const char *what)
{
	struct emu_page *p;

	mutex_lock(&emu->lock);
	p = emu_page_of(emu, dma);
	if (!p || !p->coherent || page_address(p->page) != va) {
		emu_misuse(emu, "freeing %s at 0x%llx, which was not allocated", what, (u64)dma);
		mutex_unlock(&emu->lock);
		return;
	}
	if (emu_queue_uses(emu, p->page, va))
		emu_misuse(emu, "%s freed while a live CQ or QP still uses it", what);
	emu_unmap_page_locked(emu, dma);
	mutex_unlock(&emu->lock);
	free_page((unsigned long)va);
}

int mlx5vf_seam_db_alloc_node(struct mlx5_core_dev *mdev, struct mlx5_db *db, int node)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	memset(db, 0, sizeof(*db));
	db->db = emu_coherent_alloc(emu, &db->dma);
	if (!db->db)
		return -ENOMEM;
	mutex_lock(&emu->lock);
	emu->st.dbs_live++;
	mutex_unlock(&emu->lock);
	return 0;
}

void mlx5vf_seam_db_free(struct mlx5_core_dev *mdev, struct mlx5_db *db)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	emu_coherent_free(emu, db->db, db->dma, "a doorbell record");
	mutex_lock(&emu->lock);
	emu->st.dbs_live--;
	mutex_unlock(&emu->lock);
}

static void emu_frag_buf_release(struct mlx5vf_emu *emu, struct mlx5_frag_buf *buf, int npages)
{
	int i;

	for (i = 0; i < npages; i++)
		emu_coherent_free(emu, buf->frags[i].buf, buf->frags[i].map, "a queue buffer");
	kfree(buf->frags);
	buf->frags = NULL;
}

int mlx5vf_seam_frag_buf_alloc_node(struct mlx5_core_dev *mdev, int size,
				    struct mlx5_frag_buf *buf, int node)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	int i;

	buf->size = size;
	buf->npages = DIV_ROUND_UP(size, PAGE_SIZE);
	buf->page_shift = PAGE_SHIFT;
	buf->frags = kcalloc(buf->npages, sizeof(*buf->frags), GFP_KERNEL);
	if (!buf->frags)
		return -ENOMEM;
	for (i = 0; i < buf->npages; i++) {
		buf->frags[i].buf = emu_coherent_alloc(emu, &buf->frags[i].map);
		if (!buf->frags[i].buf) {
			emu_frag_buf_release(emu, buf, i);
			return -ENOMEM;
		}
	}
	mutex_lock(&emu->lock);
	emu->st.frag_bufs_live++;
	mutex_unlock(&emu->lock);
	return 0;
}

void mlx5vf_seam_frag_buf_free(struct mlx5_core_dev *mdev, struct mlx5_frag_buf *buf)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	emu_frag_buf_release(emu, buf, buf->npages);
	mutex_lock(&emu->lock);
	emu->st.frag_bufs_live--;
	mutex_unlock(&emu->lock);
}

/* cfg.track_poll stretches it: then only a wake-up ends a report's wait. */
unsigned long mlx5vf_seam_track_poll(struct mlx5_core_dev *mdev, unsigned long poll)
{
	return emu_of_mdev(mdev)->cfg.track_poll ?: poll;
}

/* The backend's chunks are the emulated firmware's: cfg.max_chunk. */
u64 mlx5vf_seam_max_chunk_size(struct mlx5_core_dev *mdev)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);

	return emu->cfg.chunk_mode ? emu->cfg.max_chunk : 0;
}

/* Four completion vectors, EQs EMU_EQN on. */
int mlx5vf_seam_comp_eqn_get(struct mlx5_core_dev *mdev, u16 vecidx, int *eqn)
{
	if (vecidx >= 4)
		return -ENOENT;
	*eqn = EMU_EQN + vecidx;
	return 0;
}

int mlx5vf_seam_create_cq(struct mlx5_core_dev *mdev, struct mlx5_core_cq *mcq, u32 *in,
			  int inlen, u32 *out, int outlen)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	void *cqc = MLX5_ADDR_OF(create_cq_in, in, cq_context);
	struct emu_cq cq = { .live = true, .mcq = mcq };
	u32 eqn = MLX5_GET(cqc, cqc, c_eqn_or_apu_element);
	struct emu_cq *slot;
	int ret;

	cq.log_size = MLX5_GET(cqc, cqc, log_cq_size);
	if (MLX5_GET(create_cq_in, in, opcode) != MLX5_CMD_OP_CREATE_CQ ||
	    inlen < MLX5_ST_SZ_BYTES(create_cq_in) || outlen < MLX5_ST_SZ_BYTES(create_cq_out))
		return emu_malformed(emu, "CREATE_CQ opcode 0x%x, inbox %d, outbox %d",
				     MLX5_GET(create_cq_in, in, opcode), inlen, outlen);
	cq.npages = DIV_ROUND_UP(BIT(cq.log_size) * MLX5VF_HW_CQE_SIZE, PAGE_SIZE);
	if (MLX5_GET(cqc, cqc, cqe_sz) || !cq.log_size ||
	    cq.log_size > MLX5_GET(cmd_hca_cap, emu->cap_gen.cur, log_max_cq_sz) ||
	    MLX5_GET(cqc, cqc, log_page_size) != PAGE_SHIFT - MLX5_ADAPTER_PAGE_SHIFT ||
	    eqn < EMU_EQN || eqn >= EMU_EQN + 4 || !mcq->comp || !mcq->event ||
	    inlen < MLX5_ST_SZ_BYTES(create_cq_in) +
			    cq.npages * MLX5_FLD_SZ_BYTES(create_cq_in, pas[0]))
		return emu_malformed(emu, "CREATE_CQ cqe_sz %u log %u page %u eqn %u inbox %d",
				     MLX5_GET(cqc, cqc, cqe_sz), cq.log_size,
				     MLX5_GET(cqc, cqc, log_page_size), eqn, inlen);
	mutex_lock(&emu->lock);
	ret = emu_take_fail_errno(emu, MLX5_CMD_OP_CREATE_CQ);
	if (ret)
		goto out;
	cq.dbr = emu_coherent_va(emu, MLX5_GET64(cqc, cqc, dbr_addr));
	if (!cq.dbr || !emu_uar_live(emu, MLX5_GET(cqc, cqc, uar_page))) {
		ret = emu_malformed(emu, "CREATE_CQ doorbell record 0x%llx, UAR %u",
				    MLX5_GET64(cqc, cqc, dbr_addr), MLX5_GET(cqc, cqc, uar_page));
		goto out;
	}
	for (slot = emu->cqs; slot < emu->cqs + EMU_MAX_CQS && slot->live; slot++)
		;
	if (slot == emu->cqs + EMU_MAX_CQS) {
		ret = -ENOMEM;
		goto out;
	}
	ret = emu_resolve_pas(emu, MLX5_ADDR_OF(create_cq_in, in, pas), cq.npages, &cq.pages);
	if (ret)
		goto out;
	cq.cqn = EMU_CQN_BASE + emu->next_cqn++;
	*slot = cq;
	/* What mlx5_core sets up of the CQ. */
	mcq->cqn = cq.cqn;
	mcq->cons_index = 0;
	mcq->arm_sn = 0;
	MLX5_SET(create_cq_out, out, cqn, cq.cqn);
	emu->st.cqs_live++;
out:
	mutex_unlock(&emu->lock);
	return ret;
}

int mlx5vf_seam_destroy_cq(struct mlx5_core_dev *mdev, struct mlx5_core_cq *mcq)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	struct emu_cq *cq;
	int ret;
	u32 i;

	mutex_lock(&emu->lock);
	cq = emu_cq_find(emu, mcq->cqn);
	if (!cq || cq->mcq != mcq) {
		ret = emu_malformed(emu, "DESTROY_CQ 0x%x: no such CQ", mcq->cqn);
		goto out;
	}
	ret = emu_take_fail_errno(emu, MLX5_CMD_OP_DESTROY_CQ);
	if (ret)
		goto out;
	/* Unknown, answered as ours: firmware keeps a CQ a live QP completes on. */
	for (i = 0; i < EMU_MAX_QPS; i++) {
		if (emu->qps[i].live && emu->qps[i].log_rq && emu->qps[i].cqn == cq->cqn) {
			emu->st.out_err_calls++;
			ret = -EINVAL;
			goto out;
		}
	}
	kfree(cq->pages);
	*cq = (struct emu_cq){};
	emu->st.cqs_live--;
out:
	mutex_unlock(&emu->lock);
	return ret;
}

/*
 * The arm doorbell. The driver has reposted what it consumed by now (the
 * receive doorbell record moved): the firmware QP goes on sending, and an
 * armed CQ with a CQE past cons_index raises its completion event.
 */
void mlx5vf_seam_cq_arm(struct mlx5_core_cq *mcq, u32 cmd, void __iomem *uar_page,
			u32 cons_index)
{
	struct mlx5vf_emu *emu, *found = NULL;
	struct emu_cq *cq = NULL;

	mutex_lock(&emu_all_lock);
	list_for_each_entry(emu, &emu_all, node) {
		mutex_lock(&emu->lock);
		cq = emu_cq_find(emu, mcq->cqn);
		if (cq && cq->mcq == mcq)
			found = emu;
		mutex_unlock(&emu->lock);
		if (found)
			break;
	}
	mutex_unlock(&emu_all_lock);
	if (!found)
		return;
	emu = found;
	mutex_lock(&emu->lock);
	cq = emu_cq_find(emu, mcq->cqn);
	if (!cq) {
		emu_misuse(emu, "arming CQ 0x%x, which is gone", mcq->cqn);
	} else if (cmd != MLX5_CQ_DB_REQ_NOT || !uar_page ||
		   (cons_index & MLX5VF_HW_CQ_CI_MASK) !=
			   (be32_to_cpu(cq->dbr[MLX5VF_HW_CQ_SET_CI]) & MLX5VF_HW_CQ_CI_MASK)) {
		emu_misuse(emu, "CQ 0x%x armed (0x%x) at %u, its doorbell record says %u",
			   cq->cqn, cmd, cons_index,
			   be32_to_cpu(cq->dbr[MLX5VF_HW_CQ_SET_CI]) & MLX5VF_HW_CQ_CI_MASK);
	} else {
		cq->armed = true;
		cq->arm_ci = cons_index;
		emu->st.cq_arms++;
		/* The receives posted before the arm are seen now, not at the next RNR retry. */
		if (!emu->cfg.track_rnr_only)
			emu_ptrack_pump(emu);
		emu_cq_fire(cq);
	}
	mutex_unlock(&emu->lock);
}

int mlx5vf_seam_qp_default_ts(struct mlx5_core_dev *mdev)
{
	/* The emulated PF has neither RoCE nor a real-time clock format. */
	return MLX5_TIMESTAMP_FORMAT_FREE_RUNNING;
}

int mlx5vf_seam_eq_notifier_register(struct mlx5_core_dev *mdev, struct mlx5_nb *nb)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	int ret = -ENOMEM;
	u32 i;

	mutex_lock(&emu->lock);
	for (i = 0; i < EMU_MAX_EQ_NBS; i++) {
		if (!emu->eq_nbs[i]) {
			emu->eq_nbs[i] = nb;
			emu->st.eq_notifiers++;
			ret = 0;
			break;
		}
	}
	mutex_unlock(&emu->lock);
	return ret;
}

int mlx5vf_seam_eq_notifier_unregister(struct mlx5_core_dev *mdev, struct mlx5_nb *nb)
{
	struct mlx5vf_emu *emu = emu_of_mdev(mdev);
	int ret = -ENOENT;
	u32 i;

	mutex_lock(&emu->lock);
	for (i = 0; i < EMU_MAX_EQ_NBS; i++) {
		if (emu->eq_nbs[i] == nb) {
			emu->eq_nbs[i] = NULL;
			emu->st.eq_notifiers--;
			ret = 0;
		}
	}
	if (ret)
		emu_misuse(emu, "unregistering an EQ notifier that was never registered");
	mutex_unlock(&emu->lock);
	return ret;
}

/* Part of one streaming page, to the CPU (its lines the CPU's) or back to the device. */
void mlx5vf_seam_dma_sync_range(struct device *dev, dma_addr_t addr, u32 offset, u32 len,
				enum dma_data_direction dir, bool for_device)
{
	struct mlx5vf_emu *emu = emu_of_dma_dev(dev);
	struct emu_page *p;

	mutex_lock(&emu->lock);
	emu->st.dma_syncs++;
	p = emu_page_of(emu, addr);
	if (!p || p->coherent || !len || (u64)offset + len > PAGE_SIZE) {
		emu_misuse(emu, "syncing [0x%llx + %u, +%u): %s", (u64)addr, offset, len,
			   !p ? "not mapped" : p->coherent ? "coherent memory" : "beyond the page");
	} else if (for_device) {
		p->cpu_lines &= ~emu_lines(offset, len);
	} else {
		p->cpu_lines |= emu_lines(offset, len);
		p->dev_wrote &= ~emu_lines(offset, len);
	}
	mutex_unlock(&emu->lock);
}

/* ---- The tests' controls of the tracker ------------------------------------------- */

void mlx5vf_emu_hold_report(struct mlx5vf_emu *emu, bool hold)
{
	mutex_lock(&emu->lock);
	emu->report_hold = hold;
	if (!hold)
		emu_ptrack_pump(emu);
	mutex_unlock(&emu->lock);
}

bool mlx5vf_emu_wait_report_running(struct mlx5vf_emu *emu, unsigned int ms)
{
	return wait_event_timeout(emu->report_wq, mlx5vf_emu_report_running(emu),
				  msecs_to_jiffies(ms)) > 0;
}

/* Lockless: it is a wait condition too. */
bool mlx5vf_emu_report_running(struct mlx5vf_emu *emu)
{
	return READ_ONCE(emu->report_running);
}

void mlx5vf_emu_track_fail_report(struct mlx5vf_emu *emu, int after_msgs, u8 syndrome)
{
	mutex_lock(&emu->lock);
	emu->fail_report_after = after_msgs;
	emu->fail_report_syndrome = syndrome;
	mutex_unlock(&emu->lock);
}

/*
 * An asynchronous event to the EQ notifiers, from the async EQ's interrupt.
 * The eqe is what mlx5_core hands its notifiers (struct mlx5_eqe of
 * device.h), not bytes the emulator writes to memory the driver maps.
 */
static void emu_eq_event(struct mlx5vf_emu *emu, unsigned long type, struct mlx5_eqe *eqe)
{
	unsigned long flags;
	u32 i;

	local_irq_save(flags);
	for (i = 0; i < EMU_MAX_EQ_NBS; i++) {
		struct mlx5_nb *nb = emu->eq_nbs[i];

		if (nb && (nb->event_type == type || nb->event_type == MLX5_EVENT_TYPE_NOTIFY_ANY))
			nb->nb.notifier_call(&nb->nb, type, eqe);
	}
	local_irq_restore(flags);
}

void mlx5vf_emu_track_fail_object(struct mlx5vf_emu *emu, bool qp_event)
{
	struct emu_ptrack *pt = &emu->ptrack;
	struct mlx5_eqe eqe = {};
	struct emu_qp *fw, *host;

	mutex_lock(&emu->lock);
	if (!pt->live)
		goto out;
	emu_ptrack_end_report(emu, MLX5_PAGE_TRACK_STATE_ERROR);
	fw = emu_qp_find(emu, pt->fw_qpn);
	host = fw ? emu_qp_find(emu, fw->remote_qpn) : NULL;
	if (qp_event && host) {
		/* The host QP failed (a catastrophic WQ error), the tracker with it. */
		host->state = EMU_QP_ERR;
		eqe.data.qp_srq.type = MLX5_EVENT_QUEUE_TYPE_QP;
		eqe.data.qp_srq.qp_srq_n = cpu_to_be32(host->qpn);
		emu_eq_event(emu, MLX5_EVENT_TYPE_WQ_CATAS_ERROR, &eqe);
	} else if (!qp_event) {
		eqe.data.obj_change.obj_type = cpu_to_be16(MLX5_OBJ_TYPE_PAGE_TRACK);
		eqe.data.obj_change.obj_id = cpu_to_be32(pt->id);
		emu_eq_event(emu, MLX5_EVENT_TYPE_OBJECT_CHANGE, &eqe);
	}
out:
	mutex_unlock(&emu->lock);
}

void mlx5vf_emu_track_fail_keeping_pd(struct mlx5vf_emu *emu)
{
	/* The object's CREATE fails; in the unwind, so does the host QP's DESTROY. */
	mlx5vf_emu_fail_next(emu, MLX5_CMD_OP_CREATE_GENERAL_OBJECT,
			     MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xc0b0);
	mlx5vf_emu_fail_nth(emu, MLX5_CMD_OP_DESTROY_QP, 1, MLX5_CMD_STAT_INT_ERR, 0xc0b1);
}

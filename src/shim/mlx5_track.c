// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dirty-page tracking of a VF by its PF's firmware (see mlx5_track.h).
 *
 * Firmware tracks the VF's DMA writes in a PAGE_TRACK object on the PF. A
 * report is a MODIFY of the object to REPORTING for a window. Firmware then
 * sends the window's dirty page addresses (clearing them) as messages of at
 * most msg_size bytes, 8 bytes per page, from the firmware QP, the object's
 * reporting_qpn, to the host QP, one message per receive slot of the host
 * QP's ring, and puts the object back to TRACKING.
 *
 * When a report is complete: every message is a SEND with immediate, and the
 * immediate's top nibble is the object's state once that message is out:
 * REPORTING while more follow, TRACKING on the last one (which may be empty),
 * ERROR if the tracker failed. RC delivers in order and the CQ completes
 * receives in order, so a message saying TRACKING ends the report with every
 * earlier message consumed. QUERY of the object cannot stand in for that
 * marker: it may say TRACKING before the last message's CQE is visible, and
 * finishing then would lose that message's pages. QUERY only notices a failed
 * tracker early: after an object-change event (which mlx5_core does not
 * unmask on every device, so not relied on) and whenever the CQ stays silent
 * for MLX5VF_TRACK_POLL. A report without a message for MLX5VF_TRACK_STALL
 * fails.
 *
 * The ring: receive WQE i always points at slot i, so reposting a slot only
 * moves the producer counter. A completion must name the oldest posted WQE;
 * its message is checked against the slot size and the window before any of
 * it is passed on, and is read strictly inside its slot: a full message in
 * the last slot ends exactly at the end of the ring.
 *
 * Firmware writes into the ring (through the host QP) and into the CQ. If it
 * refuses to destroy either, or the ring's mkey, that memory stays allocated
 * and mapped for good.
 */
#include <linux/bitops.h>
#include <linux/dma-mapping.h>
#include <linux/err.h>
#include <linux/gfp.h>
#include <linux/kmemleak.h>
#include <linux/mlx5/cq.h>
#include <linux/mlx5/driver.h>
#include <linux/mlx5/eq.h>
#include <linux/mlx5/qp.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include <mlx5vf/fw.h>

#include "mlx5_cmd.h"
#include "mlx5_seam.h"
#include "mlx5_track.h"
#include "mlx5_track_cmd.h"

/* What mlx5_track_cmd.h mirrors of qp.h and cq.h. */
static_assert((int)MLX5VF_TRACK_RQ_NON_ZERO == (int)MLX5_NON_ZERO_RQ);
static_assert((int)MLX5VF_TRACK_RQ_ZERO_LEN == (int)MLX5_ZERO_LEN_RQ);
static_assert((int)MLX5VF_TRACK_CQE_OWNER_MASK == (int)MLX5_CQE_OWNER_MASK);
static_assert((int)MLX5VF_TRACK_CQE_RESP_SEND_IMM == (int)MLX5_CQE_RESP_SEND_IMM);
static_assert((int)MLX5VF_TRACK_CQE_REQ_ERR == (int)MLX5_CQE_REQ_ERR);
static_assert((int)MLX5VF_TRACK_CQE_RESP_ERR == (int)MLX5_CQE_RESP_ERR);
static_assert((int)MLX5VF_TRACK_CQE_INVALID == (int)MLX5_CQE_INVALID);
static_assert(sizeof(struct mlx5vf_track_rq_wqe) == sizeof(struct mlx5_wqe_data_seg));
static_assert(sizeof(struct mlx5vf_track_rq_wqe) == MLX5_SEND_WQE_DS);
static_assert(offsetof(struct mlx5vf_track_rq_wqe, lkey) ==
	      offsetof(struct mlx5_wqe_data_seg, lkey));
static_assert(offsetof(struct mlx5vf_track_rq_wqe, addr) ==
	      offsetof(struct mlx5_wqe_data_seg, addr));

#define MLX5VF_TRACK_LOG_CQE_SIZE 6 /* 64-byte CQEs */
static_assert(sizeof(struct mlx5_cqe64) == 1 << MLX5VF_TRACK_LOG_CQE_SIZE);
#define MLX5VF_TRACK_LOG_WQE_SIZE 4

/*
 * About 512 KiB of messages in flight (128 pages' worth at 4 KiB each, 64 Ki
 * dirty pages); firmware waits (RNR) while the ring is full.
 */
#define MLX5VF_TRACK_RING_LOG_BYTES 19
#define MLX5VF_TRACK_LOG_MIN_SLOTS 3
#define MLX5VF_TRACK_LOG_MAX_SLOTS 10
/* How long the CQ may stay silent before we query the object. */
#define MLX5VF_TRACK_POLL HZ
/* How long a report may go without a message before it fails. */
#define MLX5VF_TRACK_STALL (30 * HZ)

enum {
	MLX5VF_TRACK_EV_ERROR,	    /* a CQ or QP error event: the channel is dead */
	MLX5VF_TRACK_EV_OBJ_CHANGE, /* the object changed: query it */
	MLX5VF_TRACK_EV_ABORT,	    /* the PF takes the VF away: stop reporting now */
};

struct mlx5vf_track {
	struct mlx5_core_dev *mdev;
	struct device *dev; /* the VF's, for messages */
	u8 log_page;

	struct mlx5_uars_page *uar;
	u32 pdn; /* the backend's, held for us */

	/* The host QP's receive completions. */
	struct mlx5_core_cq mcq;
	struct mlx5_frag_buf cq_buf;
	struct mlx5_frag_buf_ctrl cq_fbc;
	struct mlx5_db cq_db;
	u8 log_ncqe;
	bool has_cq_db, has_cq_buf, has_cq;

	/* The report ring: pages of ours, mapped for the device, one mkey. */
	struct mlx5vf_track_ring ring;
	void **ring_segs;
	dma_addr_t *ring_dma;
	u32 ring_npages;
	u32 ring_mapped;
	u32 mkey;
	bool has_mkey;

	/* The host QP's receive queue. */
	struct mlx5_frag_buf rq_buf;
	struct mlx5_frag_buf_ctrl rq_fbc;
	struct mlx5_db rq_db;
	u32 rq_pc; /* receives posted */
	u32 rq_cc; /* receives completed */
	bool has_rq_db, has_rq_buf;

	u32 host_qpn;
	u32 fw_qpn;
	u32 obj_id;
	bool has_host_qp, has_fw_qp, has_obj;

	struct mlx5_nb nb;
	bool has_nb;
	wait_queue_head_t wq;
	unsigned long events; /* MLX5VF_TRACK_EV_*, set from atomic context */
	bool broken;
};

/**
 * mlx5vf_track_caps() - The PF's dirty-page tracker limits.
 * @mdev: the PF
 * @caps: the limits, from mlx5_core's cached capabilities
 */
void mlx5vf_track_caps(struct mlx5_core_dev *mdev, struct mlx5vf_fw_track_caps *caps)
{
	struct mlx5_hca_cap *adv = mdev->caps.hca[MLX5_CAP_ADV_VIRTUALIZATION];

	mlx5vf_track_cmd_parse_caps(mdev->caps.hca[MLX5_CAP_GENERAL]->cur, adv ? adv->cur : NULL,
				    caps);
}

/* ---- Events (atomic context) --------------------------------------------- */

static void mlx5vf_track_cq_comp(struct mlx5_core_cq *mcq, struct mlx5_eqe *eqe)
{
	struct mlx5vf_track *t = container_of(mcq, struct mlx5vf_track, mcq);

	wake_up(&t->wq);
}

static void mlx5vf_track_cq_event(struct mlx5_core_cq *mcq, enum mlx5_event type)
{
	struct mlx5vf_track *t = container_of(mcq, struct mlx5vf_track, mcq);

	if (type != MLX5_EVENT_TYPE_CQ_ERROR)
		return;
	set_bit(MLX5VF_TRACK_EV_ERROR, &t->events);
	wake_up(&t->wq);
}

static int mlx5vf_track_event(struct notifier_block *nb, unsigned long type, void *data)
{
	struct mlx5vf_track *t = mlx5_nb_cof(nb, struct mlx5vf_track, nb);

	switch (mlx5vf_track_classify_event(type, data, t->host_qpn, t->fw_qpn, t->obj_id)) {
	case MLX5VF_TRACK_EVENT_QP_ERROR:
		set_bit(MLX5VF_TRACK_EV_ERROR, &t->events);
		break;
	case MLX5VF_TRACK_EVENT_OBJ_CHANGE:
		set_bit(MLX5VF_TRACK_EV_OBJ_CHANGE, &t->events);
		break;
	default:
		return NOTIFY_DONE;
	}
	wake_up(&t->wq);
	return NOTIFY_OK;
}

/* ---- Setup and teardown ------------------------------------------------ */

/* The ring's pages, each mapped for the device, which owns them from now on. */
static int mlx5vf_track_alloc_ring(struct mlx5vf_track *t, u8 log_msg, u8 log_nslots)
{
	struct device *ddev = t->mdev->device;
	size_t inlen;
	u32 *in;
	u32 i;
	int ret;

	t->ring.log_seg_size = PAGE_SHIFT;
	t->ring.log_msg_size = log_msg;
	t->ring.log_nslots = log_nslots;
	t->ring_npages = DIV_ROUND_UP_ULL(mlx5vf_track_ring_bytes(&t->ring), PAGE_SIZE);
	t->ring_segs = kcalloc(t->ring_npages, sizeof(*t->ring_segs), GFP_KERNEL_ACCOUNT);
	t->ring_dma = kcalloc(t->ring_npages, sizeof(*t->ring_dma), GFP_KERNEL_ACCOUNT);
	if (!t->ring_segs || !t->ring_dma)
		return -ENOMEM;
	t->ring.segs = t->ring_segs;
	for (i = 0; i < t->ring_npages; i++) {
		struct page *page = alloc_pages_node(dev_to_node(ddev),
						     GFP_KERNEL_ACCOUNT | __GFP_ZERO, 0);

		if (!page)
			return -ENOMEM;
		t->ring_segs[i] = page_address(page);
		t->ring_dma[i] = mlx5vf_seam_dma_map_page(ddev, page, DMA_FROM_DEVICE);
		if (mlx5vf_seam_dma_mapping_error(ddev, t->ring_dma[i]))
			return -ENOMEM;
		t->ring_mapped++;
	}

	inlen = mlx5vf_inbox_create_mkey_len(t->ring_npages);
	if (!inlen)
		return -E2BIG;
	in = kvzalloc(inlen, GFP_KERNEL);
	if (!in)
		return -ENOMEM;
	mlx5vf_inbox_create_mkey(in, t->pdn, t->ring_dma, t->ring_npages, PAGE_SHIFT);
	ret = mlx5vf_seam_create_mkey(t->mdev, &t->mkey, in, inlen);
	kvfree(in);
	if (ret)
		return ret;
	t->has_mkey = true;
	return 0;
}

static void mlx5vf_track_free_ring(struct mlx5vf_track *t)
{
	u32 i;

	for (i = 0; i < t->ring_mapped; i++)
		mlx5vf_seam_dma_unmap_page(t->mdev->device, t->ring_dma[i], DMA_FROM_DEVICE);
	for (i = 0; t->ring_segs && i < t->ring_npages && t->ring_segs[i]; i++)
		free_page((unsigned long)t->ring_segs[i]);
	kfree(t->ring_dma);
	kfree(t->ring_segs);
}

/* The device address of each page of a fragmented buffer, for a mailbox. */
static dma_addr_t *mlx5vf_track_frag_pages(const struct mlx5_frag_buf *buf)
{
	dma_addr_t *pages = kcalloc(buf->npages, sizeof(*pages), GFP_KERNEL);
	int i;

	for (i = 0; pages && i < buf->npages; i++)
		pages[i] = buf->frags[i].map;
	return pages;
}

static int mlx5vf_track_create_cq(struct mlx5vf_track *t)
{
	struct mlx5vf_track_cq_attr attr = {
		.log_size = t->log_ncqe,
		.uar_page = t->uar->index,
	};
	u32 out[MLX5_ST_SZ_DW(create_cq_out)] = {};
	int node = dev_to_node(t->mdev->device);
	dma_addr_t *pages;
	size_t inlen;
	int eqn, ret;
	u32 *in;
	u32 i;

	ret = mlx5vf_seam_db_alloc_node(t->mdev, &t->cq_db, node);
	if (ret)
		return ret;
	t->has_cq_db = true;
	ret = mlx5vf_seam_frag_buf_alloc_node(t->mdev,
					      BIT(t->log_ncqe + MLX5VF_TRACK_LOG_CQE_SIZE),
					      &t->cq_buf, node);
	if (ret)
		return ret;
	t->has_cq_buf = true;
	mlx5_init_fbc(t->cq_buf.frags, MLX5VF_TRACK_LOG_CQE_SIZE, t->log_ncqe, &t->cq_fbc);
	for (i = 0; i < BIT(t->log_ncqe); i++) {
		struct mlx5_cqe64 *cqe = mlx5_frag_buf_get_wqe(&t->cq_fbc, i);

		cqe->op_own = MLX5_CQE_INVALID << 4;
	}
	/* Reports are rare and short: the first completion vector will do. */
	ret = mlx5vf_seam_comp_eqn_get(t->mdev, 0, &eqn);
	if (ret)
		return ret;

	pages = mlx5vf_track_frag_pages(&t->cq_buf);
	if (!pages)
		return -ENOMEM;
	inlen = mlx5vf_track_cmd_create_cq_inlen(t->cq_buf.npages);
	in = kvzalloc(inlen, GFP_KERNEL);
	if (!in) {
		kfree(pages);
		return -ENOMEM;
	}
	attr.page_shift = t->cq_buf.page_shift;
	attr.eqn = eqn;
	attr.dbr_addr = t->cq_db.dma;
	mlx5vf_track_cmd_create_cq(in, &attr, pages, t->cq_buf.npages);
	kfree(pages);

	t->mcq.set_ci_db = t->cq_db.db;
	t->mcq.arm_db = t->cq_db.db + 1;
	t->mcq.cqe_sz = BIT(MLX5VF_TRACK_LOG_CQE_SIZE);
	t->mcq.comp = mlx5vf_track_cq_comp;
	t->mcq.event = mlx5vf_track_cq_event;
	ret = mlx5vf_seam_create_cq(t->mdev, &t->mcq, in, inlen, out, sizeof(out));
	kvfree(in);
	if (ret)
		return ret;
	t->has_cq = true;
	return 0;
}

/* The host QP's receive queue: WQE i points at slot i, for good. */
static int mlx5vf_track_alloc_rq(struct mlx5vf_track *t)
{
	int node = dev_to_node(t->mdev->device);
	u8 log_n = t->ring.log_nslots;
	int ret;
	u32 i;

	ret = mlx5vf_seam_db_alloc_node(t->mdev, &t->rq_db, node);
	if (ret)
		return ret;
	t->has_rq_db = true;
	ret = mlx5vf_seam_frag_buf_alloc_node(t->mdev, BIT(log_n + MLX5VF_TRACK_LOG_WQE_SIZE),
					      &t->rq_buf, node);
	if (ret)
		return ret;
	t->has_rq_buf = true;
	mlx5_init_fbc(t->rq_buf.frags, MLX5VF_TRACK_LOG_WQE_SIZE, log_n, &t->rq_fbc);
	for (i = 0; i < BIT(log_n); i++)
		mlx5vf_track_rq_wqe(mlx5_frag_buf_get_wqe(&t->rq_fbc, i), t->mkey,
				    mlx5vf_track_slot_offset(&t->ring, i),
				    BIT(t->ring.log_msg_size));
	return 0;
}

static int mlx5vf_track_create_qp(struct mlx5vf_track *t, bool host, u32 *qpn)
{
	struct mlx5vf_track_qp_attr attr = {
		.pdn = t->pdn,
		.uar_page = t->uar->index,
		.ts_format = mlx5vf_seam_qp_default_ts(t->mdev),
		.user_index = MLX5_CAP_GEN(t->mdev, cqe_version) == 1,
	};
	u32 out[MLX5_ST_SZ_DW(create_qp_out)] = {};
	dma_addr_t *pages = NULL;
	u32 npages = 0;
	size_t inlen;
	u32 *in;
	int ret;

	if (host) {
		attr.log_rq_size = t->ring.log_nslots;
		attr.page_shift = t->rq_buf.page_shift;
		attr.cqn_rcv = t->mcq.cqn;
		attr.dbr_addr = t->rq_db.dma;
		npages = t->rq_buf.npages;
		pages = mlx5vf_track_frag_pages(&t->rq_buf);
		if (!pages)
			return -ENOMEM;
	}
	inlen = mlx5vf_track_cmd_create_qp_inlen(npages);
	in = kvzalloc(inlen, GFP_KERNEL);
	if (!in) {
		kfree(pages);
		return -ENOMEM;
	}
	mlx5vf_track_cmd_create_qp(in, &attr, pages, npages);
	kfree(pages);
	ret = mlx5vf_seam_cmd_exec(t->mdev, in, inlen, out, sizeof(out));
	kvfree(in);
	if (!ret)
		*qpn = mlx5vf_track_cmd_parse_qpn(out);
	return ret;
}

static int mlx5vf_track_destroy_qp(struct mlx5vf_track *t, u32 qpn)
{
	u32 in[MLX5_ST_SZ_DW(destroy_qp_in)] = {};

	mlx5vf_track_cmd_destroy_qp(in, qpn);
	return mlx5vf_seam_exec_in(t->mdev, destroy_qp, in);
}

/* Make receive WQEs up to rq_pc + n visible to the device. */
static void mlx5vf_track_post_recv(struct mlx5vf_track *t, u32 n)
{
	t->rq_pc += n;
	/* The WQEs and their slots before the counter that hands them over. */
	dma_wmb();
	t->rq_db.db[MLX5_RCV_DBR] = cpu_to_be32(t->rq_pc & 0xffff);
}

/*
 * Host QP to RTR, receives posted before its peer can send; the firmware QP
 * to RTS. The host QP never sends (it ACKs in RTR already).
 */
static int mlx5vf_track_connect(struct mlx5vf_track *t)
{
	u32 rts[MLX5_ST_SZ_DW(rtr2rts_qp_in)] = {};
	u8 log_msg_max = MLX5_CAP_GEN(t->mdev, log_max_msg);
	u32 init[MLX5_ST_SZ_DW(rst2init_qp_in)];
	u32 rtr[MLX5_ST_SZ_DW(init2rtr_qp_in)];
	int ret;

	memset(init, 0, sizeof(init));
	mlx5vf_track_cmd_rst2init(init, t->host_qpn);
	ret = mlx5vf_seam_exec_in(t->mdev, rst2init_qp, init);
	if (ret)
		return ret;
	mlx5vf_track_post_recv(t, BIT(t->ring.log_nslots));
	memset(rtr, 0, sizeof(rtr));
	mlx5vf_track_cmd_init2rtr(rtr, t->host_qpn, t->fw_qpn, log_msg_max);
	ret = mlx5vf_seam_exec_in(t->mdev, init2rtr_qp, rtr);
	if (ret)
		return ret;

	memset(init, 0, sizeof(init));
	mlx5vf_track_cmd_rst2init(init, t->fw_qpn);
	ret = mlx5vf_seam_exec_in(t->mdev, rst2init_qp, init);
	if (ret)
		return ret;
	memset(rtr, 0, sizeof(rtr));
	mlx5vf_track_cmd_init2rtr(rtr, t->fw_qpn, t->host_qpn, log_msg_max);
	ret = mlx5vf_seam_exec_in(t->mdev, init2rtr_qp, rtr);
	if (ret)
		return ret;
	mlx5vf_track_cmd_rtr2rts(rts, t->fw_qpn);
	return mlx5vf_seam_exec_in(t->mdev, rtr2rts_qp, rts);
}

static int mlx5vf_track_create_obj(struct mlx5vf_track *t, u16 vhca_id,
				   const struct mlx5vf_fw_track_req *req)
{
	struct mlx5vf_track_obj_attr attr = {
		.vhca_id = vhca_id,
		.log_addr_space = req->log_addr_space,
		.log_page_size = req->log_page_size,
		.log_msg_size = t->ring.log_msg_size,
		.reporting_qpn = t->fw_qpn,
	};
	size_t inlen = mlx5vf_track_cmd_create_obj_inlen(req->nr_ranges);
	u32 out[MLX5_ST_SZ_DW(general_obj_out_cmd_hdr)] = {};
	u32 *in;
	int ret;

	if (!inlen)
		return -EINVAL;
	in = kzalloc(inlen, GFP_KERNEL);
	if (!in)
		return -ENOMEM;
	mlx5vf_track_cmd_create_obj(in, &attr, req->ranges, req->nr_ranges);
	ret = mlx5vf_seam_cmd_exec(t->mdev, in, inlen, out, sizeof(out));
	kfree(in);
	if (ret)
		return ret;
	t->obj_id = mlx5vf_track_cmd_parse_obj_id(out);
	t->has_obj = true;
	return 0;
}

static int mlx5vf_track_destroy_obj(struct mlx5vf_track *t)
{
	u32 out[MLX5_ST_SZ_DW(general_obj_out_cmd_hdr)] = {};
	u32 in[MLX5_ST_SZ_DW(general_obj_in_cmd_hdr)] = {};

	mlx5vf_track_cmd_destroy_obj(in, t->obj_id);
	return mlx5vf_seam_cmd_exec(t->mdev, in, sizeof(in), out, sizeof(out));
}

/**
 * mlx5vf_track_destroy() - Stop tracking and release everything.
 * @t: the tracker
 *
 * Releases whatever was set up, in reverse; also unwinds a failed create.
 *
 * Context: Process context; the caller serializes calls per tracker.
 * Return: false if firmware kept objects in the caller's protection domain:
 * the caller must leak it. Those that can still reach our memory leak it too.
 */
bool mlx5vf_track_destroy(struct mlx5vf_track *t)
{
	bool quiet = true; /* firmware can no longer write to our memory */
	bool pd_clean = true; /* nothing of ours is left in the PD */

	if (t->has_nb)
		mlx5vf_seam_eq_notifier_unregister(t->mdev, &t->nb);
	/* The object first: it stops sending, and it names the firmware QP. */
	if (t->has_obj && mlx5vf_track_destroy_obj(t))
		dev_warn(t->dev, "dirty tracking: DESTROY of tracker 0x%x failed\n", t->obj_id);
	/* It writes none of our memory, but it lives in the PD. */
	if (t->has_fw_qp && mlx5vf_track_destroy_qp(t, t->fw_qpn)) {
		dev_warn(t->dev, "dirty tracking: DESTROY_QP 0x%x failed\n", t->fw_qpn);
		pd_clean = false;
	}
	if (t->has_host_qp && mlx5vf_track_destroy_qp(t, t->host_qpn))
		quiet = false;
	if (t->has_cq && mlx5vf_seam_destroy_cq(t->mdev, &t->mcq))
		quiet = false;
	if (t->has_mkey && mlx5vf_seam_destroy_mkey(t->mdev, t->mkey))
		quiet = false;
	if (!quiet) {
		dev_err(t->dev,
			"dirty tracking: firmware kept its report queues; leaking their %u ring pages\n",
			t->ring_npages);
		/* On purpose: kmemleak still scans t, so its ring arrays count as held. */
		kmemleak_not_leak(t);
		return false;
	}

	if (t->has_rq_buf)
		mlx5vf_seam_frag_buf_free(t->mdev, &t->rq_buf);
	if (t->has_rq_db)
		mlx5vf_seam_db_free(t->mdev, &t->rq_db);
	if (t->has_cq_buf)
		mlx5vf_seam_frag_buf_free(t->mdev, &t->cq_buf);
	if (t->has_cq_db)
		mlx5vf_seam_db_free(t->mdev, &t->cq_db);
	mlx5vf_track_free_ring(t);
	if (t->uar)
		mlx5vf_seam_put_uars_page(t->mdev, t->uar);
	kfree(t);
	return pd_clean;
}

/**
 * mlx5vf_track_create() - Start tracking the writes of a function.
 * @mdev: the PF
 * @dev: the VF, which names the tracker in messages
 * @vhca_id: the tracked function
 * @pdn: protection domain of the ring's mkey and the QPs, held by the caller
 * until mlx5vf_track_destroy()
 * @caps: the PF's limits, from mlx5vf_track_caps()
 * @req: the ranges and page size; fits @caps (the core shaped it)
 * @pd_busy: set on failure when firmware kept objects of the failed setup in
 * @pdn (a destroy failed): the caller must not deallocate that PD
 *
 * Context: Process context; the caller serializes calls per tracker.
 * Return: the tracker, or an ERR_PTR.
 */
struct mlx5vf_track *mlx5vf_track_create(struct mlx5_core_dev *mdev, struct device *dev,
					 u16 vhca_id, u32 pdn,
					 const struct mlx5vf_fw_track_caps *caps,
					 const struct mlx5vf_fw_track_req *req, bool *pd_busy)
{
	u8 log_msg = mlx5vf_track_pick_log_msg(caps, PAGE_SHIFT);
	unsigned int log_nslots;
	struct mlx5vf_track *t;
	int ret;

	*pd_busy = false;
	/* One CQE per posted receive at most: a CQ as long as the ring never overflows. */
	log_nslots = clamp_t(int, MLX5VF_TRACK_RING_LOG_BYTES - log_msg,
			     MLX5VF_TRACK_LOG_MIN_SLOTS, MLX5VF_TRACK_LOG_MAX_SLOTS);
	log_nslots = min3(log_nslots, (unsigned int)MLX5_CAP_GEN(mdev, log_max_qp_sz),
			  (unsigned int)MLX5_CAP_GEN(mdev, log_max_cq_sz));
	if (log_nslots < MLX5VF_TRACK_LOG_MIN_SLOTS)
		return ERR_PTR(-EOPNOTSUPP);

	t = kzalloc(sizeof(*t), GFP_KERNEL_ACCOUNT);
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->mdev = mdev;
	t->dev = dev;
	t->pdn = pdn;
	t->log_page = req->log_page_size;
	t->log_ncqe = log_nslots;
	init_waitqueue_head(&t->wq);

	t->uar = mlx5vf_seam_get_uars_page(mdev);
	if (IS_ERR(t->uar)) {
		ret = PTR_ERR(t->uar);
		t->uar = NULL;
		goto err;
	}
	ret = mlx5vf_track_alloc_ring(t, log_msg, log_nslots);
	if (ret)
		goto err;
	ret = mlx5vf_track_create_cq(t);
	if (ret)
		goto err;
	ret = mlx5vf_track_alloc_rq(t);
	if (ret)
		goto err;
	ret = mlx5vf_track_create_qp(t, true, &t->host_qpn);
	if (ret)
		goto err;
	t->has_host_qp = true;
	ret = mlx5vf_track_create_qp(t, false, &t->fw_qpn);
	if (ret)
		goto err;
	t->has_fw_qp = true;
	ret = mlx5vf_track_connect(t);
	if (ret)
		goto err;
	ret = mlx5vf_track_create_obj(t, vhca_id, req);
	if (ret)
		goto err;
	MLX5_NB_INIT(&t->nb, mlx5vf_track_event, NOTIFY_ANY);
	ret = mlx5vf_seam_eq_notifier_register(mdev, &t->nb);
	if (ret)
		goto err;
	t->has_nb = true;
	dev_dbg(dev, "dirty tracking: tracker 0x%x, %u ranges, %u-byte pages, %u x %u-byte messages\n",
		t->obj_id, req->nr_ranges, 1u << t->log_page, 1u << log_nslots, 1u << log_msg);
	return t;

err:
	/* Userspace may retry in a loop. */
	dev_warn_ratelimited(dev, "dirty tracking: setting up the tracker failed (%d)\n", ret);
	*pd_busy = !mlx5vf_track_destroy(t);
	return ERR_PTR(ret);
}

/* ---- Reports --------------------------------------------------------------- */

static struct mlx5_cqe64 *mlx5vf_track_next_cqe(struct mlx5vf_track *t)
{
	u32 ci = t->mcq.cons_index;
	struct mlx5_cqe64 *cqe = mlx5_frag_buf_get_wqe(&t->cq_fbc, ci & t->cq_fbc.sz_m1);

	return mlx5vf_track_cqe_sw_owned(cqe, ci, t->log_ncqe) ? cqe : NULL;
}

static bool mlx5vf_track_wake(struct mlx5vf_track *t)
{
	return READ_ONCE(t->events) || mlx5vf_track_next_cqe(t);
}

/* Hand a slot's bytes to the CPU, or back to the device. */
static void mlx5vf_track_sync_slot(struct mlx5vf_track *t, u32 slot, bool for_cpu)
{
	u64 off = mlx5vf_track_slot_offset(&t->ring, slot);
	u64 end = off + BIT_ULL(t->ring.log_msg_size);
	struct device *ddev = t->mdev->device;

	while (off < end) {
		u32 in_page = offset_in_page(off);
		u32 len = min_t(u64, end - off, PAGE_SIZE - in_page);
		dma_addr_t dma = t->ring_dma[off >> PAGE_SHIFT];

		mlx5vf_seam_dma_sync_range(ddev, dma, in_page, len, DMA_FROM_DEVICE, !for_cpu);
		off += len;
	}
}

static int mlx5vf_track_query_state(struct mlx5vf_track *t, u8 *state)
{
	u32 out[MLX5_ST_SZ_DW(query_page_track_obj_out)] = {};
	u32 in[MLX5_ST_SZ_DW(general_obj_in_cmd_hdr)] = {};
	int ret;

	mlx5vf_track_cmd_query_obj(in, t->obj_id);
	ret = mlx5vf_seam_cmd_exec(t->mdev, in, sizeof(in), out, sizeof(out));
	if (!ret)
		*state = mlx5vf_track_cmd_parse_state(out);
	return ret;
}

/* Errors the event handlers saw; with query (or a changed object), its state. */
static int mlx5vf_track_check_events(struct mlx5vf_track *t, bool query)
{
	u8 state;
	int ret;

	if (test_bit(MLX5VF_TRACK_EV_ABORT, &t->events))
		return -ECANCELED;
	if (test_bit(MLX5VF_TRACK_EV_ERROR, &t->events)) {
		dev_warn(t->dev, "dirty tracking: the report channel's CQ or QP failed\n");
		return -EIO;
	}
	if (!test_and_clear_bit(MLX5VF_TRACK_EV_OBJ_CHANGE, &t->events) && !query)
		return 0;
	ret = mlx5vf_track_query_state(t, &state);
	if (ret)
		return ret;
	if (state == MLX5_PAGE_TRACK_STATE_ERROR) {
		dev_warn(t->dev, "dirty tracking: firmware put tracker 0x%x in its error state\n",
			 t->obj_id);
		return -EIO;
	}
	return 0;
}

static void mlx5vf_track_emit(void *sink, u64 addr)
{
	mlx5vf_core_fw_report_dirty(sink, addr);
}

/* One completion: its message to the sink, its slot back to firmware. 1: the last. */
static int mlx5vf_track_consume(struct mlx5vf_track *t, const struct mlx5vf_track_cqe *c,
				const struct mlx5vf_track_window *win,
				struct mlx5vf_fw_dirty_sink *sink)
{
	u32 slot = mlx5vf_track_ring_slot(&t->ring, c->wqe_counter);
	int ret;

	if (c->opcode == MLX5VF_TRACK_CQE_REQ_ERR || c->opcode == MLX5VF_TRACK_CQE_RESP_ERR) {
		dev_warn(t->dev, "dirty tracking: error completion, syndrome 0x%x, vendor 0x%x\n",
			 c->syndrome, c->vendor_syndrome);
		return -EIO;
	}
	if (c->opcode != MLX5VF_TRACK_CQE_RESP_SEND_IMM || c->qpn != t->host_qpn ||
	    slot != mlx5vf_track_ring_slot(&t->ring, (u16)t->rq_cc)) {
		dev_warn(t->dev,
			 "dirty tracking: unexpected completion (opcode %u, QP 0x%x, WQE %u, expected %u)\n",
			 c->opcode, c->qpn, c->wqe_counter, t->rq_cc & 0xffff);
		return -EIO;
	}
	t->rq_cc++;

	mlx5vf_track_sync_slot(t, slot, true);
	ret = mlx5vf_track_msg_decode(&t->ring, slot, c->byte_cnt, win, mlx5vf_track_emit, sink);
	mlx5vf_track_sync_slot(t, slot, false);
	if (ret < 0) {
		dev_warn(t->dev, "dirty tracking: bad report message (%u bytes in slot %u): %d\n",
			 c->byte_cnt, slot, ret);
		return -EIO;
	}
	mlx5vf_track_post_recv(t, 1);

	switch (c->state) {
	case MLX5_PAGE_TRACK_STATE_REPORTING:
		return 0;
	case MLX5_PAGE_TRACK_STATE_TRACKING:
		return 1;
	case MLX5_PAGE_TRACK_STATE_ERROR:
		dev_warn(t->dev, "dirty tracking: firmware failed tracker 0x%x while reporting\n",
			 t->obj_id);
		return -EIO;
	default:
		dev_warn(t->dev, "dirty tracking: report message with unknown state %u\n",
			 c->state);
		return -EIO;
	}
}

/* Every completion there is. 1: the report is complete. */
static int mlx5vf_track_drain(struct mlx5vf_track *t, const struct mlx5vf_track_window *win,
			      struct mlx5vf_fw_dirty_sink *sink, bool *progress)
{
	struct mlx5vf_track_cqe c;
	struct mlx5_cqe64 *cqe;
	int ret = 0;

	while (!ret && !test_bit(MLX5VF_TRACK_EV_ABORT, &t->events) &&
	       (cqe = mlx5vf_track_next_cqe(t))) {
		/* The CQE's contents only once its owner bit said it is ours. */
		dma_rmb();
		mlx5vf_track_parse_cqe(cqe, &c);
		t->mcq.cons_index++;
		mlx5_cq_set_ci(&t->mcq);
		*progress = true;
		ret = mlx5vf_track_consume(t, &c, win, sink);
		/* A whole-guest report can be millions of entries long. */
		cond_resched();
	}
	return ret;
}

static int mlx5vf_track_collect(struct mlx5vf_track *t, const struct mlx5vf_track_window *win,
				struct mlx5vf_fw_dirty_sink *sink)
{
	unsigned long deadline = jiffies + MLX5VF_TRACK_STALL;
	unsigned long poll;
	long left;
	int ret;

	for (;;) {
		bool progress = false;

		ret = mlx5vf_track_drain(t, win, sink, &progress);
		if (ret)
			return ret < 0 ? ret : 0;
		if (progress)
			deadline = jiffies + MLX5VF_TRACK_STALL;
		/* Arm, then wait on a condition that looks at the CQ again. */
		mlx5vf_seam_cq_arm(&t->mcq, MLX5_CQ_DB_REQ_NOT, t->uar->map, t->mcq.cons_index);
		poll = mlx5vf_seam_track_poll(t->mdev, MLX5VF_TRACK_POLL);
		left = wait_event_killable_timeout(t->wq, mlx5vf_track_wake(t), poll);
		if (left < 0)
			return -EINTR;
		ret = mlx5vf_track_check_events(t, !left);
		if (ret)
			return ret;
		/* A slow QUERY above must not time out a message already there. */
		if (time_after(jiffies, deadline) && !mlx5vf_track_next_cqe(t)) {
			dev_warn(t->dev, "dirty tracking: no report message for %u s\n",
				 MLX5VF_TRACK_STALL / HZ);
			return -ETIMEDOUT;
		}
	}
}

static int mlx5vf_track_start_report(struct mlx5vf_track *t, u64 iova, u64 length)
{
	u32 in[MLX5_ST_SZ_DW(modify_page_track_obj_in)] = {};
	u32 out[MLX5_ST_SZ_DW(general_obj_out_cmd_hdr)] = {};

	mlx5vf_track_cmd_report(in, t->obj_id, iova, length);
	return mlx5vf_seam_cmd_exec(t->mdev, in, sizeof(in), out, sizeof(out));
}

/**
 * mlx5vf_track_abort() - Make the running report, and every later one, fail.
 * @t: the tracker
 *
 * For DISABLE_VF, which the PF sends under its own locks and which must not
 * wait for a report that firmware keeps feeding: the report loop sees the
 * flag between completions and while waiting, and returns -ECANCELED.
 *
 * Context: Any context; @t must stay allocated until the call returns.
 */
void mlx5vf_track_abort(struct mlx5vf_track *t)
{
	set_bit(MLX5VF_TRACK_EV_ABORT, &t->events);
	wake_up(&t->wq);
}

/**
 * mlx5vf_track_report() - Report and clear the dirty pages of a window.
 * @t: the tracker
 * @iova: the window's start
 * @length: its length
 * @sink: where each dirty page goes
 *
 * Calls mlx5vf_core_fw_report_dirty(@sink, page) once per dirty page firmware
 * reports. An error breaks the tracker: every later report fails with -EIO.
 *
 * Context: Process context; the caller serializes calls per tracker.
 * Return: 0, or a negative errno.
 */
int mlx5vf_track_report(struct mlx5vf_track *t, u64 iova, u64 length,
			struct mlx5vf_fw_dirty_sink *sink)
{
	const struct mlx5vf_track_window win = {
		.start = iova,
		.length = length,
		.log_page = t->log_page,
	};
	int ret;

	if (t->broken)
		return -EIO;
	if (!length || iova + (length - 1) < iova)
		return -EINVAL;
	ret = mlx5vf_track_check_events(t, false);
	if (!ret)
		ret = mlx5vf_track_start_report(t, iova, length);
	if (!ret)
		ret = mlx5vf_track_collect(t, &win, sink);
	/* Mid-report, the ring and the object's state are out of step for good. */
	if (ret)
		t->broken = true;
	return ret;
}

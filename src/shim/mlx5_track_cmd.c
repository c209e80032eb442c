// SPDX-License-Identifier: GPL-2.0-only
/*
 * Wire formats of the mlx5 dirty-page tracker (see mlx5_track_cmd.h).
 */
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/minmax.h>
#include <linux/string.h>

#include <mlx5vf/fw.h>

#include "mlx5_track_cmd.h"

/* The loopback pair lives on the PF's first port. */
#define MLX5VF_TRACK_PORT 1
/* Retry counts of 7: the transport's own maximum, RNR retries forever. */
#define MLX5VF_TRACK_RETRY 7
/*
 * Local ACK timeout, 4.096 us << 14 = 67 ms: loopback loses nothing, so this
 * only bounds how long a stuck responder takes to fail the QP.
 */
#define MLX5VF_TRACK_ACK_TIMEOUT 14
/*
 * RNR NAK delay code 1 (10 us): when the ring is full firmware retries soon,
 * the host frees slots as fast as it decodes them.
 */
#define MLX5VF_TRACK_MIN_RNR_NAK 1
/* qpc.user_index when there is none. */
#define MLX5VF_TRACK_NO_USER_INDEX 0xffffff

static_assert(MLX5_ST_SZ_BYTES(page_track_report_entry) == MLX5VF_TRACK_ENTRY_SIZE);
static_assert(BIT(MLX5VF_TRACK_LOG_ENTRY_SIZE) == MLX5VF_TRACK_ENTRY_SIZE);
/* The state travels in the top nibble of a CQE's immediate (see parse_cqe). */
static_assert(__mlx5_bit_sz(page_track, state) == 4);
static_assert(MLX5_PAGE_TRACK_STATE_TRACKING == 0 && MLX5_PAGE_TRACK_STATE_REPORTING == 1 &&
	      MLX5_PAGE_TRACK_STATE_ERROR == 2);
/* One 16-byte scatter entry per receive WQE: qpc.log_rq_stride 0. */
static_assert(sizeof(struct mlx5vf_track_rq_wqe) == 16);
/* At most 2^15 receive WQEs: a CQE's 16-bit WQE counter names one exactly. */
static_assert(__mlx5_bit_sz(qpc, log_rq_size) == 4);
/* The caps' 5-bit log sizes stay within what the ring arithmetic shifts. */
static_assert(__mlx5_bit_sz(adv_virtualization_cap, pg_track_log_max_msg_size) == 5);

/* ---- Capabilities ------------------------------------------------------ */

static bool mlx5vf_track_caps_usable(const struct mlx5vf_fw_track_caps *c)
{
	return c->max_ranges && c->log_min_page_size <= c->log_max_page_size &&
	       c->log_min_addr_space <= c->log_max_addr_space &&
	       c->log_min_msg_size <= c->log_max_msg_size &&
	       c->log_max_msg_size >= MLX5VF_TRACK_LOG_ENTRY_SIZE &&
	       c->log_min_msg_size <= MLX5VF_TRACK_LOG_MAX_MSG;
}

/**
 * mlx5vf_track_cmd_parse_caps() - The PF's tracker limits from its caps.
 * @gen: the PF's cmd_hca_cap page
 * @adv: its adv_virtualization_cap page, only looked at when @gen advertises
 * adv_virtualization (mlx5_core queries that page only then)
 * @caps: the limits; max_ranges is 0 when there is no tracker or none this
 * driver can use
 */
void mlx5vf_track_cmd_parse_caps(const void *gen, const void *adv,
				 struct mlx5vf_fw_track_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	/*
	 * adv_virtualization is what announces the page tracker (PAGE_TRACK
	 * is beyond the 64 object types general_obj_types can flag).
	 */
	if (!adv || !MLX5_GET(cmd_hca_cap, gen, adv_virtualization))
		return;
	caps->max_ranges = MLX5_GET(adv_virtualization_cap, adv, pg_track_max_num_range);
	caps->log_min_page_size = MLX5_GET(adv_virtualization_cap, adv, pg_track_log_min_page_size);
	caps->log_max_page_size = MLX5_GET(adv_virtualization_cap, adv, pg_track_log_max_page_size);
	caps->log_min_addr_space = MLX5_GET(adv_virtualization_cap, adv,
					    pg_track_log_min_addr_space);
	caps->log_max_addr_space = MLX5_GET(adv_virtualization_cap, adv,
					    pg_track_log_max_addr_space);
	caps->log_min_msg_size = MLX5_GET(adv_virtualization_cap, adv, pg_track_log_min_msg_size);
	caps->log_max_msg_size = MLX5_GET(adv_virtualization_cap, adv, pg_track_log_max_msg_size);
	if (!mlx5vf_track_caps_usable(caps))
		caps->max_ranges = 0;
}

/**
 * mlx5vf_track_pick_log_msg() - Choose the report message size.
 * @caps: the PF's limits
 * @page_shift: log2 of the host page size
 *
 * Return: log2 of the message size: a page if firmware allows it, else the
 * nearest size it does.
 */
u8 mlx5vf_track_pick_log_msg(const struct mlx5vf_fw_track_caps *caps, u8 page_shift)
{
	unsigned int lo = max_t(unsigned int, caps->log_min_msg_size, MLX5VF_TRACK_LOG_ENTRY_SIZE);
	unsigned int hi = min_t(unsigned int, caps->log_max_msg_size, MLX5VF_TRACK_LOG_MAX_MSG);

	return clamp_t(unsigned int, page_shift, lo, max(lo, hi));
}

/* ---- The PAGE_TRACK object ---------------------------------------------- */

static void mlx5vf_track_obj_hdr(void *hdr, u16 opcode, u32 obj_id)
{
	MLX5_SET(general_obj_in_cmd_hdr, hdr, opcode, opcode);
	MLX5_SET(general_obj_in_cmd_hdr, hdr, obj_type, MLX5_OBJ_TYPE_PAGE_TRACK);
	MLX5_SET(general_obj_in_cmd_hdr, hdr, obj_id, obj_id);
}

/**
 * mlx5vf_track_cmd_create_obj_inlen() - Size of a PAGE_TRACK CREATE inbox.
 * @nr_ranges: ranges the object tracks
 *
 * Return: the inbox's size in bytes, 0 if the object cannot hold @nr_ranges.
 */
size_t mlx5vf_track_cmd_create_obj_inlen(u32 nr_ranges)
{
	if (!nr_ranges || nr_ranges >= BIT(__mlx5_bit_sz(page_track, num_ranges)))
		return 0;
	return MLX5_ST_SZ_BYTES(create_page_track_obj_in) +
	       nr_ranges * MLX5_ST_SZ_BYTES(page_track_range);
}

/**
 * mlx5vf_track_cmd_create_obj() - CREATE_GENERAL_OBJECT inbox of a PAGE_TRACK.
 * @in: the zeroed inbox of mlx5vf_track_cmd_create_obj_inlen() bytes
 * @attr: the object's attributes
 * @ranges: the IOVA ranges to track
 * @nr_ranges: their number
 */
void mlx5vf_track_cmd_create_obj(u32 *in, const struct mlx5vf_track_obj_attr *attr,
				 const struct mlx5vf_iova_range *ranges, u32 nr_ranges)
{
	void *obj = MLX5_ADDR_OF(create_page_track_obj_in, in, obj_context);
	u8 *range = MLX5_ADDR_OF(page_track, obj, track_range);
	u32 i;

	mlx5vf_track_obj_hdr(MLX5_ADDR_OF(create_page_track_obj_in, in, general_obj_in_cmd_hdr),
			     MLX5_CMD_OP_CREATE_GENERAL_OBJECT, 0);
	MLX5_SET(page_track, obj, vhca_id, attr->vhca_id);
	MLX5_SET(page_track, obj, track_type, MLX5VF_PAGE_TRACK_TYPE_WRITE);
	MLX5_SET(page_track, obj, log_addr_space_size, attr->log_addr_space);
	MLX5_SET(page_track, obj, log_page_size, attr->log_page_size);
	MLX5_SET(page_track, obj, log_msg_size, attr->log_msg_size);
	MLX5_SET(page_track, obj, reporting_qpn, attr->reporting_qpn);
	MLX5_SET(page_track, obj, num_ranges, nr_ranges);
	for (i = 0; i < nr_ranges; i++, range += MLX5_ST_SZ_BYTES(page_track_range)) {
		MLX5_SET64(page_track_range, range, start_address, ranges[i].iova);
		MLX5_SET64(page_track_range, range, length, ranges[i].length);
	}
}

/**
 * mlx5vf_track_cmd_parse_obj_id() - Read a CREATE_GENERAL_OBJECT outbox.
 * @out: the outbox (general_obj_out_cmd_hdr)
 *
 * Return: the new object's id.
 */
u32 mlx5vf_track_cmd_parse_obj_id(const void *out)
{
	return MLX5_GET(general_obj_out_cmd_hdr, out, obj_id);
}

/**
 * mlx5vf_track_cmd_report() - MODIFY inbox that moves a tracker to REPORTING.
 * @in: the zeroed inbox
 * @obj_id: the tracker
 * @iova: start of the window to report and clear
 * @length: its length
 */
void mlx5vf_track_cmd_report(u32 *in, u32 obj_id, u64 iova, u64 length)
{
	void *obj = MLX5_ADDR_OF(modify_page_track_obj_in, in, obj_context);

	mlx5vf_track_obj_hdr(MLX5_ADDR_OF(modify_page_track_obj_in, in, general_obj_in_cmd_hdr),
			     MLX5_CMD_OP_MODIFY_GENERAL_OBJECT, obj_id);
	MLX5_SET64(page_track, obj, modify_field_select,
		   MLX5VF_PAGE_TRACK_SELECT_STATE | MLX5VF_PAGE_TRACK_SELECT_RANGE);
	MLX5_SET(page_track, obj, state, MLX5_PAGE_TRACK_STATE_REPORTING);
	MLX5_SET64(page_track, obj, range_start_address, iova);
	MLX5_SET64(page_track, obj, length, length);
}

/**
 * mlx5vf_track_cmd_query_obj() - QUERY inbox of a PAGE_TRACK object.
 * @in: the zeroed inbox (general_obj_in_cmd_hdr)
 * @obj_id: the tracker
 */
void mlx5vf_track_cmd_query_obj(u32 *in, u32 obj_id)
{
	mlx5vf_track_obj_hdr(in, MLX5_CMD_OP_QUERY_GENERAL_OBJECT, obj_id);
}

/**
 * mlx5vf_track_cmd_parse_state() - Read a PAGE_TRACK QUERY outbox.
 * @out: the outbox (query_page_track_obj_out)
 *
 * Return: the tracker's state.
 */
u8 mlx5vf_track_cmd_parse_state(const void *out)
{
	return MLX5_GET(query_page_track_obj_out, out, obj_context.state);
}

/**
 * mlx5vf_track_cmd_destroy_obj() - DESTROY inbox of a PAGE_TRACK object.
 * @in: the zeroed inbox
 * @obj_id: the tracker
 */
void mlx5vf_track_cmd_destroy_obj(u32 *in, u32 obj_id)
{
	mlx5vf_track_obj_hdr(in, MLX5_CMD_OP_DESTROY_GENERAL_OBJECT, obj_id);
}

/* ---- Completion queue and queue pairs ------------------------------------- */

static void mlx5vf_track_set_pas(__be64 *pas, const dma_addr_t *pages, u32 npages)
{
	u32 i;

	for (i = 0; i < npages; i++)
		pas[i] = cpu_to_be64(pages[i]);
}

/**
 * mlx5vf_track_cmd_create_cq_inlen() - Size of a CREATE_CQ inbox.
 * @npages: pages of the CQ's buffer
 *
 * Return: the inbox's size in bytes.
 */
size_t mlx5vf_track_cmd_create_cq_inlen(u32 npages)
{
	return MLX5_ST_SZ_BYTES(create_cq_in) +
	       (size_t)npages * MLX5_FLD_SZ_BYTES(create_cq_in, pas[0]);
}

/**
 * mlx5vf_track_cmd_create_cq() - CREATE_CQ inbox of the report channel's CQ.
 * @in: the zeroed inbox of mlx5vf_track_cmd_create_cq_inlen() bytes
 * @attr: the CQ's attributes
 * @pages: the device address of each buffer page, in order
 * @npages: their number
 */
void mlx5vf_track_cmd_create_cq(u32 *in, const struct mlx5vf_track_cq_attr *attr,
				const dma_addr_t *pages, u32 npages)
{
	void *cqc = MLX5_ADDR_OF(create_cq_in, in, cq_context);

	MLX5_SET(create_cq_in, in, opcode, MLX5_CMD_OP_CREATE_CQ);
	/* cqe_sz stays 0: 64-byte CQEs, whatever the cache line. */
	MLX5_SET(cqc, cqc, log_cq_size, attr->log_size);
	MLX5_SET(cqc, cqc, uar_page, attr->uar_page);
	MLX5_SET(cqc, cqc, c_eqn_or_apu_element, attr->eqn);
	MLX5_SET(cqc, cqc, log_page_size, attr->page_shift - MLX5_ADAPTER_PAGE_SHIFT);
	MLX5_SET64(cqc, cqc, dbr_addr, attr->dbr_addr);
	mlx5vf_track_set_pas(MLX5_ADDR_OF(create_cq_in, in, pas), pages, npages);
}

/**
 * mlx5vf_track_cmd_create_qp_inlen() - Size of a CREATE_QP inbox.
 * @npages: pages of the QP's receive ring (0: none)
 *
 * Return: the inbox's size in bytes.
 */
size_t mlx5vf_track_cmd_create_qp_inlen(u32 npages)
{
	return MLX5_ST_SZ_BYTES(create_qp_in) +
	       (size_t)npages * MLX5_FLD_SZ_BYTES(create_qp_in, pas[0]);
}

/**
 * mlx5vf_track_cmd_create_qp() - CREATE_QP inbox: an RC QP without a send queue.
 * @in: the zeroed inbox of mlx5vf_track_cmd_create_qp_inlen() bytes
 * @attr: the QP's attributes
 * @pages: the device address of each ring page, in order (none without a ring)
 * @npages: their number
 */
void mlx5vf_track_cmd_create_qp(u32 *in, const struct mlx5vf_track_qp_attr *attr,
				const dma_addr_t *pages, u32 npages)
{
	void *qpc = MLX5_ADDR_OF(create_qp_in, in, qpc);

	MLX5_SET(create_qp_in, in, opcode, MLX5_CMD_OP_CREATE_QP);
	MLX5_SET(qpc, qpc, st, MLX5_QPC_ST_RC);
	MLX5_SET(qpc, qpc, pm_state, MLX5_QPC_PM_STATE_MIGRATED);
	MLX5_SET(qpc, qpc, pd, attr->pdn);
	MLX5_SET(qpc, qpc, uar_page, attr->uar_page);
	MLX5_SET(qpc, qpc, ts_format, attr->ts_format);
	if (attr->user_index)
		MLX5_SET(qpc, qpc, user_index, MLX5VF_TRACK_NO_USER_INDEX);
	/* Neither QP sends on our behalf; firmware drives its own QP's send side. */
	MLX5_SET(qpc, qpc, no_sq, 1);
	if (!attr->log_rq_size) {
		MLX5_SET(qpc, qpc, rq_type, MLX5VF_TRACK_RQ_ZERO_LEN);
		return;
	}
	MLX5_SET(qpc, qpc, rq_type, MLX5VF_TRACK_RQ_NON_ZERO);
	MLX5_SET(qpc, qpc, log_rq_size, attr->log_rq_size);
	/* log_rq_stride stays 0: 16-byte WQEs (2^(0 + 4)). */
	MLX5_SET(qpc, qpc, cqn_rcv, attr->cqn_rcv);
	MLX5_SET(qpc, qpc, log_page_size, attr->page_shift - MLX5_ADAPTER_PAGE_SHIFT);
	MLX5_SET64(qpc, qpc, dbr_addr, attr->dbr_addr);
	mlx5vf_track_set_pas(MLX5_ADDR_OF(create_qp_in, in, pas), pages, npages);
}

/**
 * mlx5vf_track_cmd_parse_qpn() - Read a CREATE_QP outbox.
 * @out: the outbox
 *
 * Return: the new QP's number.
 */
u32 mlx5vf_track_cmd_parse_qpn(const void *out)
{
	return MLX5_GET(create_qp_out, out, qpn);
}

/**
 * mlx5vf_track_cmd_destroy_qp() - DESTROY_QP inbox.
 * @in: the zeroed inbox
 * @qpn: the QP
 */
void mlx5vf_track_cmd_destroy_qp(u32 *in, u32 qpn)
{
	MLX5_SET(destroy_qp_in, in, opcode, MLX5_CMD_OP_DESTROY_QP);
	MLX5_SET(destroy_qp_in, in, qpn, qpn);
}

/**
 * mlx5vf_track_cmd_rst2init() - RST2INIT_QP inbox for a loopback pair on port 1.
 * @in: the zeroed inbox
 * @qpn: the QP
 *
 * No remote read or write access on either QP: firmware reports with SENDs
 * into posted receive buffers, which need none.
 */
void mlx5vf_track_cmd_rst2init(u32 *in, u32 qpn)
{
	void *qpc = MLX5_ADDR_OF(rst2init_qp_in, in, qpc);

	MLX5_SET(rst2init_qp_in, in, opcode, MLX5_CMD_OP_RST2INIT_QP);
	MLX5_SET(rst2init_qp_in, in, qpn, qpn);
	MLX5_SET(qpc, qpc, pm_state, MLX5_QPC_PM_STATE_MIGRATED);
	MLX5_SET(qpc, qpc, primary_address_path.vhca_port_num, MLX5VF_TRACK_PORT);
}

/**
 * mlx5vf_track_cmd_init2rtr() - INIT2RTR_QP inbox for a loopback pair on port 1.
 * @in: the zeroed inbox
 * @qpn: the QP
 * @remote_qpn: the other QP of the pair
 * @log_msg_max: log2 of the largest message
 */
void mlx5vf_track_cmd_init2rtr(u32 *in, u32 qpn, u32 remote_qpn, u8 log_msg_max)
{
	void *qpc = MLX5_ADDR_OF(init2rtr_qp_in, in, qpc);

	MLX5_SET(init2rtr_qp_in, in, opcode, MLX5_CMD_OP_INIT2RTR_QP);
	MLX5_SET(init2rtr_qp_in, in, qpn, qpn);
	MLX5_SET(qpc, qpc, mtu, MLX5_QPC_MTU_4K_BYTES);
	MLX5_SET(qpc, qpc, log_msg_max, log_msg_max);
	MLX5_SET(qpc, qpc, remote_qpn, remote_qpn);
	MLX5_SET(qpc, qpc, min_rnr_nak, MLX5VF_TRACK_MIN_RNR_NAK);
	/* fl: force loopback, the peer is on this function; no addressing needed. */
	MLX5_SET(qpc, qpc, primary_address_path.fl, 1);
	MLX5_SET(qpc, qpc, primary_address_path.vhca_port_num, MLX5VF_TRACK_PORT);
}

/**
 * mlx5vf_track_cmd_rtr2rts() - RTR2RTS_QP inbox for a loopback pair on port 1.
 * @in: the zeroed inbox
 * @qpn: the QP
 */
void mlx5vf_track_cmd_rtr2rts(u32 *in, u32 qpn)
{
	void *qpc = MLX5_ADDR_OF(rtr2rts_qp_in, in, qpc);

	MLX5_SET(rtr2rts_qp_in, in, opcode, MLX5_CMD_OP_RTR2RTS_QP);
	MLX5_SET(rtr2rts_qp_in, in, qpn, qpn);
	MLX5_SET(qpc, qpc, retry_count, MLX5VF_TRACK_RETRY);
	MLX5_SET(qpc, qpc, rnr_retry, MLX5VF_TRACK_RETRY);
	MLX5_SET(qpc, qpc, primary_address_path.ack_timeout, MLX5VF_TRACK_ACK_TIMEOUT);
}

/**
 * mlx5vf_track_rq_wqe() - Fill one receive WQE of the host QP.
 * @wqe: the WQE
 * @lkey: the ring's mkey
 * @addr: offset of the slot in the mkey's address space
 * @len: the slot's length
 */
void mlx5vf_track_rq_wqe(struct mlx5vf_track_rq_wqe *wqe, u32 lkey, u64 addr, u32 len)
{
	wqe->byte_count = cpu_to_be32(len);
	wqe->lkey = cpu_to_be32(lkey);
	wqe->addr = cpu_to_be64(addr);
}

/* ---- Completions and events ------------------------------------------------ */

/**
 * mlx5vf_track_cqe_sw_owned() - Whether a CQE is software's.
 * @cqe: the CQE at consumer index @ci
 * @ci: the consumer index
 * @log_size: log2 of the CQ's number of entries
 *
 * Return: true if the CQE is valid and its owner bit is the one of this pass
 * over the ring (it flips on every pass).
 */
bool mlx5vf_track_cqe_sw_owned(const struct mlx5_cqe64 *cqe, u32 ci, u8 log_size)
{
	u8 op_own = READ_ONCE(cqe->op_own);

	/* Entries start out invalid, so the first pass needs no owner flip. */
	return (op_own >> 4) != MLX5VF_TRACK_CQE_INVALID &&
	       (op_own & MLX5VF_TRACK_CQE_OWNER_MASK) == ((ci >> log_size) & 1);
}

/**
 * mlx5vf_track_parse_cqe() - Read the fields of a CQE the tracker needs.
 * @cqe: the CQE, software's
 * @out: its fields
 */
void mlx5vf_track_parse_cqe(const struct mlx5_cqe64 *cqe, struct mlx5vf_track_cqe *out)
{
	const struct mlx5_err_cqe *err = (const struct mlx5_err_cqe *)cqe;

	memset(out, 0, sizeof(*out));
	out->opcode = cqe->op_own >> 4;
	out->wqe_counter = be16_to_cpu(cqe->wqe_counter);
	out->qpn = be32_to_cpu(cqe->sop_drop_qpn) & 0xffffff;
	if (out->opcode == MLX5VF_TRACK_CQE_REQ_ERR || out->opcode == MLX5VF_TRACK_CQE_RESP_ERR) {
		out->syndrome = err->syndrome;
		out->vendor_syndrome = err->vendor_err_synd;
		return;
	}
	out->byte_cnt = be32_to_cpu(cqe->byte_cnt);
	/*
	 * Firmware tags every report message with the object's state after
	 * it (the 4-bit state field, in the immediate's top bits).
	 */
	out->state = be32_to_cpu(cqe->immediate) >> 28;
}

/**
 * mlx5vf_track_classify_event() - What an asynchronous PF event means to a tracker.
 * @type: the event type
 * @eqe: the event queue entry
 * @host_qpn: the tracker's host QP
 * @fw_qpn: its firmware QP
 * @obj_id: its PAGE_TRACK object
 *
 * Return: MLX5VF_TRACK_EVENT_QP_ERROR if one of its QPs went to an error
 * state, MLX5VF_TRACK_EVENT_OBJ_CHANGE if its object changed, else
 * MLX5VF_TRACK_EVENT_NONE.
 */
enum mlx5vf_track_event mlx5vf_track_classify_event(unsigned long type,
						    const struct mlx5_eqe *eqe,
						    u32 host_qpn, u32 fw_qpn,
						    u32 obj_id)
{
	u32 qpn;

	switch (type) {
	case MLX5_EVENT_TYPE_WQ_CATAS_ERROR:
	case MLX5_EVENT_TYPE_WQ_INVAL_REQ_ERROR:
	case MLX5_EVENT_TYPE_WQ_ACCESS_ERROR:
		if (eqe->data.qp_srq.type != MLX5_EVENT_QUEUE_TYPE_QP)
			return MLX5VF_TRACK_EVENT_NONE;
		qpn = be32_to_cpu(eqe->data.qp_srq.qp_srq_n) & 0xffffff;
		return qpn == host_qpn || qpn == fw_qpn ? MLX5VF_TRACK_EVENT_QP_ERROR :
							  MLX5VF_TRACK_EVENT_NONE;
	case MLX5_EVENT_TYPE_OBJECT_CHANGE:
		if (be16_to_cpu(eqe->data.obj_change.obj_type) != MLX5_OBJ_TYPE_PAGE_TRACK ||
		    be32_to_cpu(eqe->data.obj_change.obj_id) != obj_id)
			return MLX5VF_TRACK_EVENT_NONE;
		return MLX5VF_TRACK_EVENT_OBJ_CHANGE;
	default:
		return MLX5VF_TRACK_EVENT_NONE;
	}
}

/* ---- The report ring ---------------------------------------------------- */

/**
 * mlx5vf_track_ring_slot() - The slot a completion's WQE counter names.
 * @ring: the report ring
 * @wqe_counter: the counter (16 bits, wrapping)
 *
 * Return: the slot index.
 */
u32 mlx5vf_track_ring_slot(const struct mlx5vf_track_ring *ring, u16 wqe_counter)
{
	return wqe_counter & (BIT(ring->log_nslots) - 1);
}

/**
 * mlx5vf_track_slot_offset() - A slot's byte offset in the ring.
 * @ring: the report ring
 * @slot: the slot
 *
 * Return: the offset, in the ring and in the mkey's address space.
 */
u64 mlx5vf_track_slot_offset(const struct mlx5vf_track_ring *ring, u32 slot)
{
	return (u64)slot << ring->log_msg_size;
}

/**
 * mlx5vf_track_msg_check() - Check a report message's length.
 * @ring: the report ring
 * @byte_cnt: the message's length
 *
 * Return: 0, -EMSGSIZE if it is longer than a slot, -EBADMSG if it is not
 * whole entries.
 */
int mlx5vf_track_msg_check(const struct mlx5vf_track_ring *ring, u32 byte_cnt)
{
	if (byte_cnt > BIT(ring->log_msg_size))
		return -EMSGSIZE;
	if (byte_cnt & (MLX5VF_TRACK_ENTRY_SIZE - 1))
		return -EBADMSG;
	return 0;
}

/**
 * mlx5vf_track_msg_entry() - One dirty address of a report message.
 * @ring: the report ring
 * @slot: the message's slot
 * @i: the entry's index
 *
 * Entries are 8-byte aligned and segments a multiple of 8 bytes, so an entry
 * never straddles two segments; a checked message ends inside its slot, the
 * last slot inside the ring.
 *
 * Return: the dirty address of entry @i.
 */
u64 mlx5vf_track_msg_entry(const struct mlx5vf_track_ring *ring, u32 slot, u32 i)
{
	u64 off = mlx5vf_track_slot_offset(ring, slot) + ((u64)i << MLX5VF_TRACK_LOG_ENTRY_SIZE);
	const u8 *entry = (const u8 *)ring->segs[off >> ring->log_seg_size] +
			  (off & (BIT_ULL(ring->log_seg_size) - 1));

	return (u64)MLX5_GET(page_track_report_entry, entry, dirty_address_high) << 32 |
	       MLX5_GET(page_track_report_entry, entry, dirty_address_low);
}

static bool mlx5vf_track_in_window(const struct mlx5vf_track_window *win, u64 addr)
{
	return !(addr & (BIT_ULL(win->log_page) - 1)) && addr >= win->start &&
	       addr - win->start < win->length;
}

/**
 * mlx5vf_track_msg_decode() - Pass on every dirty address of a report message.
 * @ring: the report ring
 * @slot: the message's slot
 * @byte_cnt: the message's length
 * @win: the report window
 * @fn: called as fn(@arg, address) for each entry, in order
 * @arg: its first argument
 *
 * All or nothing: the message is checked whole first, and an entry outside
 * the window or not on a page boundary fails it before any is passed on.
 *
 * Return: the number of entries, or a negative errno (-ERANGE for an entry
 * outside @win, or what mlx5vf_track_msg_check() returns).
 */
int mlx5vf_track_msg_decode(const struct mlx5vf_track_ring *ring, u32 slot, u32 byte_cnt,
			    const struct mlx5vf_track_window *win,
			    void (*fn)(void *arg, u64 addr), void *arg)
{
	u32 n = byte_cnt >> MLX5VF_TRACK_LOG_ENTRY_SIZE;
	int ret;
	u32 i;

	ret = mlx5vf_track_msg_check(ring, byte_cnt);
	if (ret)
		return ret;
	if (slot >= BIT(ring->log_nslots))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!mlx5vf_track_in_window(win, mlx5vf_track_msg_entry(ring, slot, i)))
			return -ERANGE;
	for (i = 0; i < n; i++)
		fn(arg, mlx5vf_track_msg_entry(ring, slot, i));
	return n;
}

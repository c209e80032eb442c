/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mlx5 dirty-page tracker's wire formats: the mailboxes of the PAGE_TRACK
 * general object and of the CQ/QP pair that carries its reports, the CQEs and
 * report messages firmware sends, and the asynchronous events that concern
 * them. Pure functions over the kernel's mlx5_ifc.h: arguments in, mailbox
 * out (or outbox in, values out); no device, no allocation, no lock. KUnit
 * reads every field back (kunit/mlx5vf_track_mailbox_kunit.c);
 * src/shim/mlx5_track.c sends them.
 *
 * Inboxes are u32 arrays that the caller zeroes, of MLX5_ST_SZ_DW(<cmd>_in)
 * words or, for the commands that carry an array, of the *_inlen() bytes.
 *
 * Report channel: firmware sends the dirty addresses of a report window from
 * the QP named in the object's reporting_qpn (the "firmware QP": we create it
 * without a send queue of our own and with a zero-length receive queue,
 * firmware drives its send side). It is connected in loopback to the "host
 * QP", whose receive ring holds one message of msg_size bytes per slot.
 *
 * This header includes only device.h and mlx5_ifc.h (it is built for KUnit
 * on UML too); the few values it needs from qp.h and cq.h are mirrored here
 * and pinned against those headers in mlx5_track.c.
 */
#ifndef MLX5VF_MLX5_TRACK_CMD_H
#define MLX5VF_MLX5_TRACK_CMD_H

#include <linux/bits.h>
#include <linux/mlx5/device.h>
#include <linux/mlx5/mlx5_ifc.h>
#include <linux/types.h>

struct mlx5vf_fw_track_caps;
struct mlx5vf_iova_range;

/* PAGE_TRACK fields mlx5_ifc.h has no names for. */
enum {
	MLX5VF_PAGE_TRACK_TYPE_WRITE = 1, /* track_type: pages the function wrote */
	/* modify_field_select */
	MLX5VF_PAGE_TRACK_SELECT_STATE = BIT(0),
	MLX5VF_PAGE_TRACK_SELECT_RANGE = BIT(1), /* range_start_address, length */
};

/* Mirrors of qp.h and cq.h (pinned in mlx5_track.c). */
enum {
	MLX5VF_TRACK_RQ_NON_ZERO = 0, /* qpc.rq_type, MLX5_NON_ZERO_RQ */
	MLX5VF_TRACK_RQ_ZERO_LEN = 3, /* MLX5_ZERO_LEN_RQ */
	MLX5VF_TRACK_CQE_OWNER_MASK = 1,
	MLX5VF_TRACK_CQE_RESP_SEND_IMM = 3,
	MLX5VF_TRACK_CQE_REQ_ERR = 13,
	MLX5VF_TRACK_CQE_RESP_ERR = 14,
	MLX5VF_TRACK_CQE_INVALID = 15,
};

/* A receive WQE of the host QP: one scatter entry (struct mlx5_wqe_data_seg). */
struct mlx5vf_track_rq_wqe {
	__be32 byte_count;
	__be32 lkey;
	__be64 addr;
};

#define MLX5VF_TRACK_ENTRY_SIZE 8 /* page_track_report_entry */
#define MLX5VF_TRACK_LOG_ENTRY_SIZE 3
/* Largest report message we take (its slot is that big). */
#define MLX5VF_TRACK_LOG_MAX_MSG 16

/* ---- Capabilities ------------------------------------------------------ */

/*
 * The PF's tracker limits. gen: its cmd_hca_cap page; adv: its
 * adv_virtualization_cap page, only looked at when gen advertises
 * adv_virtualization (mlx5_core queries that page only then). max_ranges is
 * 0 when there is no tracker or none this driver can use.
 */
void mlx5vf_track_cmd_parse_caps(const void *gen, const void *adv,
				 struct mlx5vf_fw_track_caps *caps);
/* The report message size: a page if firmware allows it, else the nearest it does. */
u8 mlx5vf_track_pick_log_msg(const struct mlx5vf_fw_track_caps *caps, u8 page_shift);

/* ---- The PAGE_TRACK object ---------------------------------------------- */

struct mlx5vf_track_obj_attr {
	u16 vhca_id;	  /* the tracked function */
	u8 log_addr_space;
	u8 log_page_size;
	u8 log_msg_size;
	u32 reporting_qpn; /* the firmware QP */
};

/* CREATE_GENERAL_OBJECT with nr_ranges ranges; 0: more than the object holds. */
size_t mlx5vf_track_cmd_create_obj_inlen(u32 nr_ranges);
void mlx5vf_track_cmd_create_obj(u32 *in, const struct mlx5vf_track_obj_attr *attr,
				 const struct mlx5vf_iova_range *ranges, u32 nr_ranges);
/* general_obj_out_cmd_hdr of CREATE. */
u32 mlx5vf_track_cmd_parse_obj_id(const void *out);
/* MODIFY to REPORTING: report and clear the dirty pages of [iova, iova + length). */
void mlx5vf_track_cmd_report(u32 *in, u32 obj_id, u64 iova, u64 length);
/* QUERY (inbox: general_obj_in_cmd_hdr; outbox: query_page_track_obj_out). */
void mlx5vf_track_cmd_query_obj(u32 *in, u32 obj_id);
u8 mlx5vf_track_cmd_parse_state(const void *out);
void mlx5vf_track_cmd_destroy_obj(u32 *in, u32 obj_id);

/* ---- Completion queue -------------------------------------------------- */

struct mlx5vf_track_cq_attr {
	u8 log_size;	   /* log2 of the number of 64-byte CQEs */
	u8 page_shift;	   /* of the buffer's pages */
	u32 uar_page;
	u32 eqn;	   /* completion EQ */
	u64 dbr_addr;	   /* doorbell record: set_ci, then arm */
};

size_t mlx5vf_track_cmd_create_cq_inlen(u32 npages);
/* pages[]: the device address of each buffer page, in order. */
void mlx5vf_track_cmd_create_cq(u32 *in, const struct mlx5vf_track_cq_attr *attr,
				const dma_addr_t *pages, u32 npages);

/* ---- Queue pairs --------------------------------------------------------- */

struct mlx5vf_track_qp_attr {
	u32 pdn;
	u32 uar_page;
	u8 ts_format;
	bool user_index;   /* cqe_version 1: say "no user index" explicitly */
	/* The receive ring; none when log_rq_size is 0 (the firmware QP). */
	u8 log_rq_size;	   /* log2 of the number of WQEs */
	u8 page_shift;	   /* of the WQ buffer's pages */
	u32 cqn_rcv;
	u64 dbr_addr;
};

size_t mlx5vf_track_cmd_create_qp_inlen(u32 npages);
/* An RC QP without a send queue; pages[] as for the CQ (none without a ring). */
void mlx5vf_track_cmd_create_qp(u32 *in, const struct mlx5vf_track_qp_attr *attr,
				const dma_addr_t *pages, u32 npages);
u32 mlx5vf_track_cmd_parse_qpn(const void *out);
void mlx5vf_track_cmd_destroy_qp(u32 *in, u32 qpn);

/* RC state transitions for a loopback pair on port 1. */
void mlx5vf_track_cmd_rst2init(u32 *in, u32 qpn);
void mlx5vf_track_cmd_init2rtr(u32 *in, u32 qpn, u32 remote_qpn, u8 log_msg_max);
void mlx5vf_track_cmd_rtr2rts(u32 *in, u32 qpn);

/* One receive WQE: len bytes at addr of the ring's mkey. */
void mlx5vf_track_rq_wqe(struct mlx5vf_track_rq_wqe *wqe, u32 lkey, u64 addr, u32 len);

/* ---- Completions and events ------------------------------------------------ */

/*
 * Whether the CQE at consumer index ci of a CQ of 1 << log_size entries is
 * software's: valid, and its owner bit flips on every pass over the ring.
 */
bool mlx5vf_track_cqe_sw_owned(const struct mlx5_cqe64 *cqe, u32 ci, u8 log_size);

struct mlx5vf_track_cqe {
	u8 opcode;
	u8 state;	    /* the tracker's state, from the immediate */
	u8 syndrome;	    /* error CQEs */
	u8 vendor_syndrome;
	u16 wqe_counter;
	u32 byte_cnt;
	u32 qpn;
};

void mlx5vf_track_parse_cqe(const struct mlx5_cqe64 *cqe, struct mlx5vf_track_cqe *out);

enum mlx5vf_track_event {
	MLX5VF_TRACK_EVENT_NONE,
	MLX5VF_TRACK_EVENT_QP_ERROR,   /* one of our QPs went to an error state */
	MLX5VF_TRACK_EVENT_OBJ_CHANGE, /* our object changed: query it */
};

/* What an asynchronous event of the PF means to the tracker with these ids. */
enum mlx5vf_track_event mlx5vf_track_classify_event(unsigned long type,
						    const struct mlx5_eqe *eqe,
						    u32 host_qpn, u32 fw_qpn,
						    u32 obj_id);

/* ---- The report ring ---------------------------------------------------- */

/*
 * The host QP's receive ring: 1 << log_nslots slots of 1 << log_msg_size
 * bytes, back to back, over segments of 1 << log_seg_size bytes (pages) that
 * need not be contiguous. Slot i is where receive WQE i points.
 */
struct mlx5vf_track_ring {
	void *const *segs;
	u8 log_seg_size;
	u8 log_msg_size;
	u8 log_nslots;
};

/* The window of one report: [start, start + length), pages of 1 << log_page. */
struct mlx5vf_track_window {
	u64 start;
	u64 length;
	u8 log_page;
};

static inline u64 mlx5vf_track_ring_bytes(const struct mlx5vf_track_ring *ring)
{
	return (u64)1 << (ring->log_nslots + ring->log_msg_size);
}

/* The slot a completion's WQE counter (16 bits, wrapping) names. */
u32 mlx5vf_track_ring_slot(const struct mlx5vf_track_ring *ring, u16 wqe_counter);
/* The slot's byte offset in the ring (and in the mkey's address space). */
u64 mlx5vf_track_slot_offset(const struct mlx5vf_track_ring *ring, u32 slot);

/*
 * A message of byte_cnt bytes: -EMSGSIZE if it is longer than a slot,
 * -EBADMSG if it is not whole entries.
 */
int mlx5vf_track_msg_check(const struct mlx5vf_track_ring *ring, u32 byte_cnt);

/* The dirty address of entry i of the message in slot. */
u64 mlx5vf_track_msg_entry(const struct mlx5vf_track_ring *ring, u32 slot, u32 i);

/*
 * Decode the message of byte_cnt bytes in slot: fn(arg, address) for each
 * entry, in order. All or nothing: the message is checked whole first, and
 * an entry outside the window or not on a page boundary fails it (-ERANGE)
 * before any is passed on. Returns the number of entries.
 */
int mlx5vf_track_msg_decode(const struct mlx5vf_track_ring *ring, u32 slot, u32 byte_cnt,
			    const struct mlx5vf_track_window *win,
			    void (*fn)(void *arg, u64 addr), void *arg);

#endif /* MLX5VF_MLX5_TRACK_CMD_H */

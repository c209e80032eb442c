// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite for the dirty-page tracker's wire formats, src/shim/mlx5_track_cmd.c.
 *
 * Builders: every field a builder owns is read back with MLX5_GET over the
 * kernel's mlx5_ifc.h, then cleared, and the mailbox must be all zero
 * afterwards, so no builder sets a bit nobody checked. The command header
 * and a few layout facts (capability bytes, report entries, receive WQEs,
 * CQE words) are also checked on raw big-endian bytes, independently of the
 * MLX5_GET macros.
 *
 * The report ring: slot addressing with the 16-bit WQE counter wrapping,
 * message checks (too long, not whole entries, entries outside the window or
 * off a page boundary, all or nothing), messages spanning segments, and a
 * full message in the last slot of a ring followed by poison it must not
 * read.
 *
 * Needs only headers: runs on UML, and can be linked into mlx5vf.ko when the
 * kernel has KUnit.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <mlx5vf/fw.h>

#include "../src/shim/mlx5_track_cmd.h"
#include "mlx5vf_hw_layout.h"

#define OBJ_IDS { 0, 1, 0x12345678, 0xffffffff }
#define QPNS { 0, 1, 0xabcdef, 0xffffff }

static bool mailbox_is_zero(const void *box, size_t len)
{
	return !memchr_inv(box, 0, len);
}

static u32 raw_word(const void *box, unsigned int i)
{
	return be32_to_cpu(((const __be32 *)box)[i]);
}

/* Opcode in the upper half of word 0, op_mod (or obj_type) in the lower half of word 1. */
static void expect_header(struct kunit *test, const void *in, u16 opcode, u16 low1)
{
	KUNIT_EXPECT_EQ(test, raw_word(in, 0) >> 16, (u32)opcode);
	KUNIT_EXPECT_EQ(test, raw_word(in, 1) & 0xffff, (u32)low1);
}

/* ---- Capabilities ------------------------------------------------------ */

struct caps_pages {
	void *gen;
	void *adv;
};

static void caps_pages_init(struct kunit *test, struct caps_pages *p)
{
	p->gen = kunit_kzalloc(test, MLX5_ST_SZ_BYTES(cmd_hca_cap), GFP_KERNEL);
	p->adv = kunit_kzalloc(test, MLX5_ST_SZ_BYTES(adv_virtualization_cap), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, p->gen);
	KUNIT_ASSERT_NOT_NULL(test, p->adv);
}

/* A tracker as firmware might describe it, every field distinct. */
static void caps_set_typical(void *adv)
{
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_num, 3);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_max_num_range, 4);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_addr_space, 21);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_addr_space, 57);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_msg_size, 11);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_msg_size, 31);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_page_size, 12);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_page_size, 30);
}

static void parse_caps_test(struct kunit *test)
{
	struct mlx5vf_fw_track_caps caps;
	struct caps_pages p;

	caps_pages_init(test, &p);
	caps_set_typical(p.adv);

	/* Without adv_virtualization the page is not looked at. */
	memset(&caps, 0xff, sizeof(caps));
	mlx5vf_track_cmd_parse_caps(p.gen, p.adv, &caps);
	KUNIT_EXPECT_EQ(test, caps.max_ranges, 0);
	KUNIT_EXPECT_EQ(test, caps.log_max_page_size, 0);
	KUNIT_EXPECT_EQ(test, caps.log_max_msg_size, 0);

	MLX5_SET(cmd_hca_cap, p.gen, adv_virtualization, 1);
	memset(&caps, 0xff, sizeof(caps));
	mlx5vf_track_cmd_parse_caps(p.gen, NULL, &caps);
	KUNIT_EXPECT_EQ(test, caps.max_ranges, 0);
	KUNIT_EXPECT_EQ(test, caps.log_min_addr_space, 0);

	mlx5vf_track_cmd_parse_caps(p.gen, p.adv, &caps);
	KUNIT_EXPECT_EQ(test, caps.max_ranges, 4);
	KUNIT_EXPECT_EQ(test, caps.log_min_addr_space, 21);
	KUNIT_EXPECT_EQ(test, caps.log_max_addr_space, 57);
	KUNIT_EXPECT_EQ(test, caps.log_min_msg_size, 11);
	KUNIT_EXPECT_EQ(test, caps.log_max_msg_size, 31);
	KUNIT_EXPECT_EQ(test, caps.log_min_page_size, 12);
	KUNIT_EXPECT_EQ(test, caps.log_max_page_size, 30);

	/* The layout: byte 1 max ranges, 2-3 address space, 4-7 message and page sizes. */
	KUNIT_EXPECT_EQ(test, raw_word(p.adv, 0), 0x03041539u);
	KUNIT_EXPECT_EQ(test, raw_word(p.adv, 1), 0x0b1f0c1eu);
}

/* Every tracker field of adv_virtualization_cap, as log2 values but ranges. */
struct caps_vals {
	const char *what;
	u8 ranges, min_page, max_page, min_addr, max_addr, min_msg, max_msg;
	bool usable;
};

static void caps_set(void *adv, const struct caps_vals *v)
{
	MLX5_SET(adv_virtualization_cap, adv, pg_track_max_num_range, v->ranges);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_page_size, v->min_page);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_page_size, v->max_page);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_addr_space, v->min_addr);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_addr_space, v->max_addr);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_min_msg_size, v->min_msg);
	MLX5_SET(adv_virtualization_cap, adv, pg_track_log_max_msg_size, v->max_msg);
}

static void parse_caps_unusable_test(struct kunit *test)
{
	static const struct caps_vals vals[] = {
		{ "typical", 4, 12, 30, 21, 57, 11, 31, true },
		{ "no ranges", 0, 12, 30, 21, 57, 11, 31, false },
		{ "page sizes crossed", 4, 31, 30, 21, 57, 11, 31, false },
		{ "address spaces crossed", 4, 12, 30, 58, 57, 11, 31, false },
		{ "message sizes crossed", 4, 12, 30, 21, 57, 11, 10, false },
		{ "messages smaller than an entry", 4, 12, 30, 21, 57, 0, 2, false },
		{ "messages larger than a slot", 4, 12, 30, 21, 57, 17, 31, false },
		/* The edges that still work. */
		{ "one range, 8-byte messages", 1, 12, 12, 12, 12, 3, 3, true },
		{ "64 KiB messages", 255, 12, 31, 0, 255, 16, 16, true },
	};
	struct mlx5vf_fw_track_caps caps;
	struct caps_pages p;
	int i;

	caps_pages_init(test, &p);
	MLX5_SET(cmd_hca_cap, p.gen, adv_virtualization, 1);
	for (i = 0; i < ARRAY_SIZE(vals); i++) {
		caps_set(p.adv, &vals[i]);
		mlx5vf_track_cmd_parse_caps(p.gen, p.adv, &caps);
		KUNIT_EXPECT_EQ_MSG(test, caps.max_ranges, vals[i].usable ? vals[i].ranges : 0,
				    "%s", vals[i].what);
		/* The limits themselves are reported either way. */
		KUNIT_EXPECT_EQ_MSG(test, caps.log_min_page_size, vals[i].min_page, "%s",
				    vals[i].what);
		KUNIT_EXPECT_EQ_MSG(test, caps.log_max_addr_space, vals[i].max_addr, "%s",
				    vals[i].what);
		KUNIT_EXPECT_EQ_MSG(test, caps.log_max_msg_size, vals[i].max_msg, "%s",
				    vals[i].what);
	}
}

static void pick_log_msg_test(struct kunit *test)
{
	struct mlx5vf_fw_track_caps caps = {
		.max_ranges = 1,
		.log_min_msg_size = 11,
		.log_max_msg_size = 31,
	};

	/* A page when firmware takes it. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 12), 12);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 16), 16);
	/* Never above what a slot may be, never below firmware's minimum. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 21), MLX5VF_TRACK_LOG_MAX_MSG);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 10), 11);
	caps.log_max_msg_size = 11;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 12), 11);
	caps.log_min_msg_size = 0;
	caps.log_max_msg_size = 5;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 12), 5);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_pick_log_msg(&caps, 0), MLX5VF_TRACK_LOG_ENTRY_SIZE);
}

/* ---- The PAGE_TRACK object ---------------------------------------------- */

static void create_obj_inlen_test(struct kunit *test)
{
	/* 16-byte general object header, 48-byte context, 16 bytes per range. */
	KUNIT_EXPECT_EQ(test, MLX5_ST_SZ_BYTES(create_page_track_obj_in), 64);
	KUNIT_EXPECT_EQ(test, MLX5_ST_SZ_BYTES(page_track_range), 16);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_obj_inlen(0), (size_t)0);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_obj_inlen(1), (size_t)80);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_obj_inlen(255), (size_t)(64 + 255 * 16));
	/* num_ranges is 8 bits wide. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_obj_inlen(256), (size_t)0);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_obj_inlen(U32_MAX), (size_t)0);
}

static void create_obj_case(struct kunit *test, const struct mlx5vf_track_obj_attr *attr,
			    u32 nr)
{
	size_t inlen = mlx5vf_track_cmd_create_obj_inlen(nr);
	struct mlx5vf_iova_range *ranges;
	void *hdr, *obj;
	u8 *range;
	u32 *in;
	u32 i;

	KUNIT_ASSERT_NE(test, inlen, (size_t)0);
	in = kunit_kzalloc(test, inlen, GFP_KERNEL);
	ranges = kunit_kcalloc(test, nr, sizeof(*ranges), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	KUNIT_ASSERT_NOT_NULL(test, ranges);
	for (i = 0; i < nr; i++) {
		ranges[i].iova = 0x100000000ull * (i + 1) + 0x1000 * i;
		ranges[i].length = 0x200000ull * (i + 3);
	}
	ranges[nr - 1].iova = 0xfffff00000000000ull;
	ranges[nr - 1].length = 0x00000ffffffff000ull;

	mlx5vf_track_cmd_create_obj(in, attr, ranges, nr);
	expect_header(test, in, MLX5_CMD_OP_CREATE_GENERAL_OBJECT, MLX5_OBJ_TYPE_PAGE_TRACK);
	hdr = MLX5_ADDR_OF(create_page_track_obj_in, in, general_obj_in_cmd_hdr);
	KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, opcode), 0xa00);
	KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, uid), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, vhca_tunnel_id), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, obj_type), 0x46);
	KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, obj_id), 0);

	obj = MLX5_ADDR_OF(create_page_track_obj_in, in, obj_context);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track, obj, modify_field_select), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, vhca_id), attr->vhca_id);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, state), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, track_type), 1);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, log_addr_space_size),
			attr->log_addr_space);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, log_page_size), attr->log_page_size);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, log_msg_size), attr->log_msg_size);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, reporting_qpn), attr->reporting_qpn);
	KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, num_ranges), nr);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track, obj, range_start_address), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track, obj, length), 0);

	range = MLX5_ADDR_OF(page_track, obj, track_range);
	/* The ranges follow the fixed part at once. */
	KUNIT_EXPECT_EQ(test, range - (u8 *)in, 64);
	for (i = 0; i < nr; i++, range += MLX5_ST_SZ_BYTES(page_track_range)) {
		KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track_range, range, start_address),
				ranges[i].iova);
		KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track_range, range, length),
				ranges[i].length);
		/* Big endian, start then length. */
		KUNIT_EXPECT_EQ(test, be64_to_cpu(((__be64 *)range)[0]), ranges[i].iova);
		KUNIT_EXPECT_EQ(test, be64_to_cpu(((__be64 *)range)[1]), ranges[i].length);
		memset(range, 0, MLX5_ST_SZ_BYTES(page_track_range));
	}

	MLX5_SET(general_obj_in_cmd_hdr, hdr, opcode, 0);
	MLX5_SET(general_obj_in_cmd_hdr, hdr, obj_type, 0);
	MLX5_SET(page_track, obj, vhca_id, 0);
	MLX5_SET(page_track, obj, track_type, 0);
	MLX5_SET(page_track, obj, log_addr_space_size, 0);
	MLX5_SET(page_track, obj, log_page_size, 0);
	MLX5_SET(page_track, obj, log_msg_size, 0);
	MLX5_SET(page_track, obj, reporting_qpn, 0);
	MLX5_SET(page_track, obj, num_ranges, 0);
	KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, inlen));
}

static void create_obj_test(struct kunit *test)
{
	static const struct mlx5vf_track_obj_attr attrs[] = {
		{ .vhca_id = 0, .log_addr_space = 12, .log_page_size = 12, .log_msg_size = 3,
		  .reporting_qpn = 1 },
		{ .vhca_id = 0x1234, .log_addr_space = 48, .log_page_size = 21,
		  .log_msg_size = 12, .reporting_qpn = 0xabcdef },
		{ .vhca_id = 0xffff, .log_addr_space = 0xff, .log_page_size = 31,
		  .log_msg_size = 31, .reporting_qpn = 0xffffff },
	};
	static const u32 counts[] = { 1, 2, 4, 255 };
	int a, c;

	for (a = 0; a < ARRAY_SIZE(attrs); a++)
		for (c = 0; c < ARRAY_SIZE(counts); c++)
			create_obj_case(test, &attrs[a], counts[c]);
}

static void report_test(struct kunit *test)
{
	static const struct {
		u64 iova;
		u64 length;
	} wins[] = {
		{ 0, 0x1000 },
		{ 0x123456789000ull, 0x40000000ull },
		{ 0xfffffffffffff000ull, 0x1000 },
		{ 0, ~0ull },
	};
	static const u32 ids[] = OBJ_IDS;
	u32 in[MLX5_ST_SZ_DW(modify_page_track_obj_in)];
	void *hdr, *obj;
	int i, w;

	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		for (w = 0; w < ARRAY_SIZE(wins); w++) {
			memset(in, 0, sizeof(in));
			mlx5vf_track_cmd_report(in, ids[i], wins[w].iova, wins[w].length);
			expect_header(test, in, MLX5_CMD_OP_MODIFY_GENERAL_OBJECT,
				      MLX5_OBJ_TYPE_PAGE_TRACK);
			KUNIT_EXPECT_EQ(test, raw_word(in, 2), ids[i]);
			hdr = MLX5_ADDR_OF(modify_page_track_obj_in, in, general_obj_in_cmd_hdr);
			obj = MLX5_ADDR_OF(modify_page_track_obj_in, in, obj_context);
			KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, opcode), 0xa01);
			KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, obj_type),
					0x46);
			KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, hdr, obj_id),
					ids[i]);
			/* Bits 0 (state) and 1 (range) of the 64-bit select, big endian. */
			KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track, obj, modify_field_select),
					3);
			KUNIT_EXPECT_EQ(test, raw_word(obj, 1), 3);
			KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, state), 1);
			KUNIT_EXPECT_EQ(test, MLX5_GET(page_track, obj, state),
					MLX5_PAGE_TRACK_STATE_REPORTING);
			KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track, obj, range_start_address),
					wins[w].iova);
			KUNIT_EXPECT_EQ(test, MLX5_GET64(page_track, obj, length),
					wins[w].length);
			MLX5_SET(general_obj_in_cmd_hdr, hdr, opcode, 0);
			MLX5_SET(general_obj_in_cmd_hdr, hdr, obj_type, 0);
			MLX5_SET(general_obj_in_cmd_hdr, hdr, obj_id, 0);
			MLX5_SET64(page_track, obj, modify_field_select, 0);
			MLX5_SET(page_track, obj, state, 0);
			MLX5_SET64(page_track, obj, range_start_address, 0);
			MLX5_SET64(page_track, obj, length, 0);
			KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
		}
	}
}

static void obj_hdr_case(struct kunit *test, bool query)
{
	static const u32 ids[] = OBJ_IDS;
	u32 in[MLX5_ST_SZ_DW(general_obj_in_cmd_hdr)];
	u16 opcode = query ? MLX5_CMD_OP_QUERY_GENERAL_OBJECT : MLX5_CMD_OP_DESTROY_GENERAL_OBJECT;
	int i;

	KUNIT_EXPECT_EQ(test, opcode, query ? 0xa02 : 0xa03);
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		memset(in, 0, sizeof(in));
		if (query)
			mlx5vf_track_cmd_query_obj(in, ids[i]);
		else
			mlx5vf_track_cmd_destroy_obj(in, ids[i]);
		expect_header(test, in, opcode, MLX5_OBJ_TYPE_PAGE_TRACK);
		KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, in, opcode), opcode);
		KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, in, uid), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, in, obj_type), 0x46);
		KUNIT_EXPECT_EQ(test, MLX5_GET(general_obj_in_cmd_hdr, in, obj_id), ids[i]);
		KUNIT_EXPECT_EQ(test, raw_word(in, 3), 0);
		MLX5_SET(general_obj_in_cmd_hdr, in, opcode, 0);
		MLX5_SET(general_obj_in_cmd_hdr, in, obj_type, 0);
		MLX5_SET(general_obj_in_cmd_hdr, in, obj_id, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void query_obj_test(struct kunit *test)
{
	obj_hdr_case(test, true);
}

static void destroy_obj_test(struct kunit *test)
{
	obj_hdr_case(test, false);
}

static void parse_obj_test(struct kunit *test)
{
	u32 cout[MLX5_ST_SZ_DW(general_obj_out_cmd_hdr)] = {};
	u32 *qout;
	void *obj;
	u8 s;

	MLX5_SET(general_obj_out_cmd_hdr, cout, obj_id, 0xfedcba98);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_parse_obj_id(cout), 0xfedcba98);
	/* Word 2 of the outbox, after status and syndrome. */
	KUNIT_EXPECT_EQ(test, raw_word(cout, 2), 0xfedcba98u);

	qout = kunit_kzalloc(test, MLX5_ST_SZ_BYTES(query_page_track_obj_out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, qout);
	obj = MLX5_ADDR_OF(query_page_track_obj_out, qout, obj_context);
	/* Neighbours of the 4-bit state must not leak into it. */
	MLX5_SET(page_track, obj, track_type, 0xf);
	MLX5_SET(page_track, obj, log_addr_space_size, 0xff);
	MLX5_SET(page_track, obj, vhca_id, 0xffff);
	MLX5_SET(page_track, obj, reporting_qpn, 0xffffff);
	for (s = 0; s < 16; s++) {
		MLX5_SET(page_track, obj, state, s);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_parse_state(qout), s);
	}
	MLX5_SET(page_track, obj, state, MLX5_PAGE_TRACK_STATE_ERROR);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_parse_state(qout), 2);
	/* The state is the top nibble of the context's fifth word. */
	KUNIT_EXPECT_EQ(test, raw_word(obj, 4) >> 28, 2);
}

/* ---- Completion queue and queue pairs ------------------------------------- */

static void expect_pas(struct kunit *test, const void *pas, const dma_addr_t *pages, u32 n)
{
	u32 i;

	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, be64_to_cpu(((const __be64 *)pas)[i]), (u64)pages[i]);
}

static void create_cq_test(struct kunit *test)
{
	static const dma_addr_t pages[] = { 0x1000, 0x7fff0000, 0x123456789000ull };
	static const struct mlx5vf_track_cq_attr attrs[] = {
		{ .log_size = 3, .page_shift = 12, .uar_page = 0, .eqn = 0, .dbr_addr = 0x40 },
		{ .log_size = 10, .page_shift = 16, .uar_page = 0x123456, .eqn = 0x89abcdef,
		  .dbr_addr = 0x1122334455667780ull },
		{ .log_size = 31, .page_shift = 12, .uar_page = 0xffffff, .eqn = 0xffffffff,
		  .dbr_addr = ~0ull },
	};
	u32 n, a;

	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_cq_inlen(0),
			(size_t)MLX5_ST_SZ_BYTES(create_cq_in));
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_cq_inlen(3),
			(size_t)MLX5_ST_SZ_BYTES(create_cq_in) + 24);
	for (a = 0; a < ARRAY_SIZE(attrs); a++) {
		for (n = 1; n <= ARRAY_SIZE(pages); n++) {
			size_t inlen = mlx5vf_track_cmd_create_cq_inlen(n);
			u32 *in = kunit_kzalloc(test, inlen, GFP_KERNEL);
			void *cqc, *pas;

			KUNIT_ASSERT_NOT_NULL(test, in);
			mlx5vf_track_cmd_create_cq(in, &attrs[a], pages, n);
			expect_header(test, in, MLX5_CMD_OP_CREATE_CQ, 0);
			KUNIT_EXPECT_EQ(test, MLX5_GET(create_cq_in, in, opcode), 0x400);
			KUNIT_EXPECT_EQ(test, MLX5_GET(create_cq_in, in, uid), 0);
			KUNIT_EXPECT_EQ(test, MLX5_GET(create_cq_in, in, cq_umem_valid), 0);
			cqc = MLX5_ADDR_OF(create_cq_in, in, cq_context);
			KUNIT_EXPECT_EQ(test, MLX5_GET(cqc, cqc, cqe_sz), 0);
			KUNIT_EXPECT_EQ(test, MLX5_GET(cqc, cqc, cqe_comp_en), 0);
			KUNIT_EXPECT_EQ(test, MLX5_GET(cqc, cqc, log_cq_size), attrs[a].log_size);
			KUNIT_EXPECT_EQ(test, MLX5_GET(cqc, cqc, uar_page), attrs[a].uar_page);
			KUNIT_EXPECT_EQ(test, MLX5_GET(cqc, cqc, c_eqn_or_apu_element),
					attrs[a].eqn);
			KUNIT_EXPECT_EQ(test, MLX5_GET(cqc, cqc, log_page_size),
					attrs[a].page_shift - 12);
			KUNIT_EXPECT_EQ(test, MLX5_GET64(cqc, cqc, dbr_addr), attrs[a].dbr_addr);
			pas = MLX5_ADDR_OF(create_cq_in, in, pas);
			KUNIT_EXPECT_EQ(test, (u8 *)pas - (u8 *)in, 0x110);
			expect_pas(test, pas, pages, n);

			MLX5_SET(create_cq_in, in, opcode, 0);
			MLX5_SET(cqc, cqc, log_cq_size, 0);
			MLX5_SET(cqc, cqc, uar_page, 0);
			MLX5_SET(cqc, cqc, c_eqn_or_apu_element, 0);
			MLX5_SET(cqc, cqc, log_page_size, 0);
			MLX5_SET64(cqc, cqc, dbr_addr, 0);
			memset(pas, 0, n * sizeof(__be64));
			KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, inlen));
		}
	}
}

static void create_qp_case(struct kunit *test, const struct mlx5vf_track_qp_attr *attr,
			   const dma_addr_t *pages, u32 n)
{
	size_t inlen = mlx5vf_track_cmd_create_qp_inlen(n);
	u32 *in = kunit_kzalloc(test, inlen, GFP_KERNEL);
	bool ring = attr->log_rq_size;
	void *qpc, *pas;

	KUNIT_ASSERT_NOT_NULL(test, in);
	mlx5vf_track_cmd_create_qp(in, attr, pages, n);
	expect_header(test, in, MLX5_CMD_OP_CREATE_QP, 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_qp_in, in, opcode), 0x500);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_qp_in, in, uid), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_qp_in, in, op_mod), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_qp_in, in, input_qpn), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_qp_in, in, opt_param_mask), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_qp_in, in, wq_umem_valid), 0);

	qpc = MLX5_ADDR_OF(create_qp_in, in, qpc);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, state), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, st), MLX5_QPC_ST_RC);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, pm_state), 3);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, pd), attr->pdn);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, uar_page), attr->uar_page);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, ts_format), attr->ts_format);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, user_index),
			attr->user_index ? 0xffffff : 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, no_sq), 1);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, log_sq_size), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, cqn_snd), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rre), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rwe), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rae), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rq_type), ring ? 0 : 3);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, log_rq_size), attr->log_rq_size);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, log_rq_stride), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, cqn_rcv), ring ? attr->cqn_rcv : 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, log_page_size),
			ring ? attr->page_shift - 12 : 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(qpc, qpc, dbr_addr), ring ? attr->dbr_addr : 0);
	pas = MLX5_ADDR_OF(create_qp_in, in, pas);
	KUNIT_EXPECT_EQ(test, (u8 *)pas - (u8 *)in, 0x110);
	expect_pas(test, pas, pages, n);

	MLX5_SET(create_qp_in, in, opcode, 0);
	MLX5_SET(qpc, qpc, pm_state, 0);
	MLX5_SET(qpc, qpc, pd, 0);
	MLX5_SET(qpc, qpc, uar_page, 0);
	MLX5_SET(qpc, qpc, ts_format, 0);
	MLX5_SET(qpc, qpc, user_index, 0);
	MLX5_SET(qpc, qpc, no_sq, 0);
	MLX5_SET(qpc, qpc, rq_type, 0);
	MLX5_SET(qpc, qpc, log_rq_size, 0);
	MLX5_SET(qpc, qpc, cqn_rcv, 0);
	MLX5_SET(qpc, qpc, log_page_size, 0);
	MLX5_SET64(qpc, qpc, dbr_addr, 0);
	memset(pas, 0, n * sizeof(__be64));
	KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, inlen));
}

static void create_qp_test(struct kunit *test)
{
	static const dma_addr_t pages[] = { 0x2000, 0xffffffff000ull };
	struct mlx5vf_track_qp_attr host = {
		.pdn = 0xabcdef,
		.uar_page = 0x123456,
		.ts_format = MLX5_TIMESTAMP_FORMAT_DEFAULT,
		.user_index = true,
		.log_rq_size = 7,
		.page_shift = 12,
		.cqn_rcv = 0x654321,
		.dbr_addr = 0x1122334455667780ull,
	};
	struct mlx5vf_track_qp_attr fw = {
		.pdn = 0xffffff,
		.uar_page = 0xffffff,
		.ts_format = 3,
	};

	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_qp_inlen(0),
			(size_t)MLX5_ST_SZ_BYTES(create_qp_in));
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_create_qp_inlen(2),
			(size_t)MLX5_ST_SZ_BYTES(create_qp_in) + 16);
	create_qp_case(test, &host, pages, 1);
	create_qp_case(test, &host, pages, 2);
	host.user_index = false;
	host.log_rq_size = 15;
	host.page_shift = 16;
	host.ts_format = MLX5_TIMESTAMP_FORMAT_FREE_RUNNING;
	create_qp_case(test, &host, pages, 2);
	/* The firmware QP: no ring, so no CQ, doorbell or pages either. */
	create_qp_case(test, &fw, NULL, 0);
	fw.user_index = true;
	fw.cqn_rcv = 0x123;
	fw.dbr_addr = 0x1000;
	create_qp_case(test, &fw, NULL, 0);
}

static void qp_out_test(struct kunit *test)
{
	static const u32 qpns[] = QPNS;
	u32 out[MLX5_ST_SZ_DW(create_qp_out)] = {};
	u32 in[MLX5_ST_SZ_DW(destroy_qp_in)];
	int i;

	MLX5_SET(create_qp_out, out, qpn, 0xabcdef);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_parse_qpn(out), 0xabcdef);
	/* 24 bits: the reserved byte above is not part of it. */
	out[2] |= (__force u32)cpu_to_be32(0xff000000);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_cmd_parse_qpn(out), 0xabcdef);

	for (i = 0; i < ARRAY_SIZE(qpns); i++) {
		memset(in, 0, sizeof(in));
		mlx5vf_track_cmd_destroy_qp(in, qpns[i]);
		expect_header(test, in, MLX5_CMD_OP_DESTROY_QP, 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(destroy_qp_in, in, opcode), 0x501);
		KUNIT_EXPECT_EQ(test, MLX5_GET(destroy_qp_in, in, qpn), qpns[i]);
		KUNIT_EXPECT_EQ(test, raw_word(in, 2), qpns[i]);
		MLX5_SET(destroy_qp_in, in, opcode, 0);
		MLX5_SET(destroy_qp_in, in, qpn, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void rst2init_test(struct kunit *test)
{
	static const u32 qpns[] = QPNS;
	u32 in[MLX5_ST_SZ_DW(rst2init_qp_in)];
	void *qpc;
	int i;

	for (i = 0; i < ARRAY_SIZE(qpns); i++) {
		memset(in, 0, sizeof(in));
		mlx5vf_track_cmd_rst2init(in, qpns[i]);
		expect_header(test, in, MLX5_CMD_OP_RST2INIT_QP, 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(rst2init_qp_in, in, opcode), 0x502);
		KUNIT_EXPECT_EQ(test, MLX5_GET(rst2init_qp_in, in, qpn), qpns[i]);
		KUNIT_EXPECT_EQ(test, MLX5_GET(rst2init_qp_in, in, opt_param_mask), 0);
		qpc = MLX5_ADDR_OF(rst2init_qp_in, in, qpc);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, pm_state), MLX5_QPC_PM_STATE_MIGRATED);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, primary_address_path.vhca_port_num), 1);
		/* Firmware reports with SENDs: no remote access at all. */
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rre), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rwe), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rae), 0);
		MLX5_SET(rst2init_qp_in, in, opcode, 0);
		MLX5_SET(rst2init_qp_in, in, qpn, 0);
		MLX5_SET(qpc, qpc, pm_state, 0);
		MLX5_SET(qpc, qpc, primary_address_path.vhca_port_num, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void init2rtr_test(struct kunit *test)
{
	static const u32 qpns[] = QPNS;
	u32 in[MLX5_ST_SZ_DW(init2rtr_qp_in)];
	void *qpc;
	int i;

	for (i = 0; i < ARRAY_SIZE(qpns); i++) {
		u32 remote = qpns[ARRAY_SIZE(qpns) - 1 - i];
		u8 log_msg_max = 10 + 7 * i % 22;

		memset(in, 0, sizeof(in));
		mlx5vf_track_cmd_init2rtr(in, qpns[i], remote, log_msg_max);
		expect_header(test, in, MLX5_CMD_OP_INIT2RTR_QP, 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(init2rtr_qp_in, in, opcode), 0x503);
		KUNIT_EXPECT_EQ(test, MLX5_GET(init2rtr_qp_in, in, qpn), qpns[i]);
		KUNIT_EXPECT_EQ(test, MLX5_GET(init2rtr_qp_in, in, opt_param_mask), 0);
		qpc = MLX5_ADDR_OF(init2rtr_qp_in, in, qpc);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, mtu), 5);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, log_msg_max), log_msg_max);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, remote_qpn), remote);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, min_rnr_nak), 1);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, primary_address_path.fl), 1);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, primary_address_path.vhca_port_num), 1);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, primary_address_path.grh), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, next_rcv_psn), 0);
		MLX5_SET(init2rtr_qp_in, in, opcode, 0);
		MLX5_SET(init2rtr_qp_in, in, qpn, 0);
		MLX5_SET(qpc, qpc, mtu, 0);
		MLX5_SET(qpc, qpc, log_msg_max, 0);
		MLX5_SET(qpc, qpc, remote_qpn, 0);
		MLX5_SET(qpc, qpc, min_rnr_nak, 0);
		MLX5_SET(qpc, qpc, primary_address_path.fl, 0);
		MLX5_SET(qpc, qpc, primary_address_path.vhca_port_num, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void rtr2rts_test(struct kunit *test)
{
	static const u32 qpns[] = QPNS;
	u32 in[MLX5_ST_SZ_DW(rtr2rts_qp_in)];
	void *qpc;
	int i;

	for (i = 0; i < ARRAY_SIZE(qpns); i++) {
		memset(in, 0, sizeof(in));
		mlx5vf_track_cmd_rtr2rts(in, qpns[i]);
		expect_header(test, in, MLX5_CMD_OP_RTR2RTS_QP, 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(rtr2rts_qp_in, in, opcode), 0x504);
		KUNIT_EXPECT_EQ(test, MLX5_GET(rtr2rts_qp_in, in, qpn), qpns[i]);
		KUNIT_EXPECT_EQ(test, MLX5_GET(rtr2rts_qp_in, in, opt_param_mask), 0);
		qpc = MLX5_ADDR_OF(rtr2rts_qp_in, in, qpc);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, retry_count), 7);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, rnr_retry), 7);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, primary_address_path.ack_timeout), 14);
		KUNIT_EXPECT_EQ(test, MLX5_GET(qpc, qpc, next_send_psn), 0);
		MLX5_SET(rtr2rts_qp_in, in, opcode, 0);
		MLX5_SET(rtr2rts_qp_in, in, qpn, 0);
		MLX5_SET(qpc, qpc, retry_count, 0);
		MLX5_SET(qpc, qpc, rnr_retry, 0);
		MLX5_SET(qpc, qpc, primary_address_path.ack_timeout, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void rq_wqe_test(struct kunit *test)
{
	struct mlx5vf_track_rq_wqe wqe;
	const u8 *b = (const u8 *)&wqe;
	static const u8 want[16] = {
		0x00, 0x00, 0x10, 0x00,				/* byte_count */
		0x00, 0xab, 0xcd, 0x12,				/* lkey */
		0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0xf0, 0x00, /* addr */
	};

	memset(&wqe, 0xff, sizeof(wqe));
	mlx5vf_track_rq_wqe(&wqe, 0xabcd12, 0x7f000, 0x1000);
	KUNIT_EXPECT_EQ(test, sizeof(wqe), 16);
	KUNIT_EXPECT_TRUE(test, !memcmp(b, want, sizeof(want)));
	mlx5vf_track_rq_wqe(&wqe, 0xffffffff, ~0ull, 0xffffffff);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(b, 0xff, sizeof(wqe)));
}

/* ---- Completions and events ------------------------------------------------ */

static void cqe_sw_owned_test(struct kunit *test)
{
	struct mlx5_cqe64 cqe = {};
	u8 log = 3; /* 8 entries */

	/* Fresh entries are invalid, whatever their owner bit. */
	cqe.op_own = MLX5VF_TRACK_CQE_INVALID << 4;
	KUNIT_EXPECT_FALSE(test, mlx5vf_track_cqe_sw_owned(&cqe, 0, log));
	cqe.op_own |= 1;
	KUNIT_EXPECT_FALSE(test, mlx5vf_track_cqe_sw_owned(&cqe, 8, log));

	/* First pass: owner 0 is ours; second pass: owner 1; third: 0 again. */
	cqe.op_own = MLX5VF_TRACK_CQE_RESP_SEND_IMM << 4;
	KUNIT_EXPECT_TRUE(test, mlx5vf_track_cqe_sw_owned(&cqe, 0, log));
	KUNIT_EXPECT_TRUE(test, mlx5vf_track_cqe_sw_owned(&cqe, 7, log));
	KUNIT_EXPECT_FALSE(test, mlx5vf_track_cqe_sw_owned(&cqe, 8, log));
	KUNIT_EXPECT_TRUE(test, mlx5vf_track_cqe_sw_owned(&cqe, 16, log));
	cqe.op_own |= 1;
	KUNIT_EXPECT_FALSE(test, mlx5vf_track_cqe_sw_owned(&cqe, 0, log));
	KUNIT_EXPECT_TRUE(test, mlx5vf_track_cqe_sw_owned(&cqe, 15, log));
	/* The 32-bit consumer index wraps onto a first pass. */
	KUNIT_EXPECT_TRUE(test, mlx5vf_track_cqe_sw_owned(&cqe, U32_MAX, log));
	KUNIT_EXPECT_FALSE(test, mlx5vf_track_cqe_sw_owned(&cqe, U32_MAX + 1u, log));
	/* Other flag bits of op_own do not matter. */
	cqe.op_own = MLX5VF_TRACK_CQE_RESP_ERR << 4 | 0x0e;
	KUNIT_EXPECT_TRUE(test, mlx5vf_track_cqe_sw_owned(&cqe, 0, log));
	KUNIT_EXPECT_EQ(test, offsetof(struct mlx5_cqe64, op_own), 63);
}

/* The kernel's CQE (the shim's reading) is as long as rdma-core's. */
static_assert(sizeof(struct mlx5_cqe64) == MLX5VF_HW_CQE_SIZE);

static void parse_cqe_test(struct kunit *test)
{
	struct mlx5vf_track_cqe c;
	struct mlx5_cqe64 cqe;
	u8 *raw = (u8 *)&cqe;

	/* A report message written by the rdma-core reading (mlx5vf_hw_layout.h). */
	memset(&cqe, 0, sizeof(cqe));
	*(__be32 *)(raw + MLX5VF_HW_CQE_IMM) = cpu_to_be32(0x1abcdef0); /* immediate */
	*(__be32 *)(raw + MLX5VF_HW_CQE_BYTE_CNT) = cpu_to_be32(0x1000); /* byte_cnt */
	*(__be32 *)(raw + MLX5VF_HW_CQE_QPN) = cpu_to_be32(0xff123456); /* flags, qpn */
	*(__be16 *)(raw + MLX5VF_HW_CQE_WQE_COUNTER) = cpu_to_be16(0xfffe); /* wqe_counter */
	raw[MLX5VF_HW_CQE_OP_OWN] =
		MLX5VF_HW_CQE_RESP_SEND_IMM << MLX5VF_HW_CQE_OPCODE_SHIFT | MLX5VF_HW_CQE_OWNER_BIT;
	mlx5vf_track_parse_cqe(&cqe, &c);
	KUNIT_EXPECT_EQ(test, c.opcode, MLX5VF_TRACK_CQE_RESP_SEND_IMM);
	KUNIT_EXPECT_EQ(test, c.state, MLX5_PAGE_TRACK_STATE_REPORTING);
	KUNIT_EXPECT_EQ(test, c.byte_cnt, 0x1000);
	KUNIT_EXPECT_EQ(test, c.qpn, 0x123456);
	KUNIT_EXPECT_EQ(test, c.wqe_counter, 0xfffe);
	KUNIT_EXPECT_EQ(test, c.syndrome, 0);
	KUNIT_EXPECT_EQ(test, c.vendor_syndrome, 0);

	/* The last message: state TRACKING, possibly empty. */
	*(__be32 *)(raw + MLX5VF_HW_CQE_IMM) = cpu_to_be32(0x0fffffff);
	*(__be32 *)(raw + MLX5VF_HW_CQE_BYTE_CNT) = 0;
	mlx5vf_track_parse_cqe(&cqe, &c);
	KUNIT_EXPECT_EQ(test, c.state, MLX5_PAGE_TRACK_STATE_TRACKING);
	KUNIT_EXPECT_EQ(test, c.byte_cnt, 0);
	*(__be32 *)(raw + MLX5VF_HW_CQE_IMM) = cpu_to_be32(0x20000000);
	mlx5vf_track_parse_cqe(&cqe, &c);
	KUNIT_EXPECT_EQ(test, c.state, MLX5_PAGE_TRACK_STATE_ERROR);
	*(__be32 *)(raw + MLX5VF_HW_CQE_IMM) = cpu_to_be32(0xf0000000);
	mlx5vf_track_parse_cqe(&cqe, &c);
	KUNIT_EXPECT_EQ(test, c.state, 0xf);

	/* An error completion: its syndromes, no message. */
	memset(&cqe, 0, sizeof(cqe));
	raw[MLX5VF_HW_ERR_CQE_VENDOR_SYND] = 0x9a; /* vendor_err_synd */
	raw[MLX5VF_HW_ERR_CQE_SYNDROME] = 0x05; /* syndrome: flushed */
	*(__be32 *)(raw + MLX5VF_HW_CQE_QPN) = cpu_to_be32(0x00000042);
	*(__be16 *)(raw + MLX5VF_HW_CQE_WQE_COUNTER) = cpu_to_be16(7);
	raw[MLX5VF_HW_CQE_OP_OWN] = MLX5VF_HW_CQE_RESP_ERR << MLX5VF_HW_CQE_OPCODE_SHIFT;
	mlx5vf_track_parse_cqe(&cqe, &c);
	KUNIT_EXPECT_EQ(test, c.opcode, MLX5VF_TRACK_CQE_RESP_ERR);
	KUNIT_EXPECT_EQ(test, c.syndrome, 0x05);
	KUNIT_EXPECT_EQ(test, c.vendor_syndrome, 0x9a);
	KUNIT_EXPECT_EQ(test, c.qpn, 0x42);
	KUNIT_EXPECT_EQ(test, c.wqe_counter, 7);
	KUNIT_EXPECT_EQ(test, c.byte_cnt, 0);
	KUNIT_EXPECT_EQ(test, c.state, 0);
	raw[MLX5VF_HW_CQE_OP_OWN] = MLX5VF_HW_CQE_REQ_ERR << MLX5VF_HW_CQE_OPCODE_SHIFT;
	mlx5vf_track_parse_cqe(&cqe, &c);
	KUNIT_EXPECT_EQ(test, c.syndrome, 0x05);
}

static void classify_event_test(struct kunit *test)
{
	static const unsigned long qp_errors[] = {
		MLX5_EVENT_TYPE_WQ_CATAS_ERROR,
		MLX5_EVENT_TYPE_WQ_INVAL_REQ_ERROR,
		MLX5_EVENT_TYPE_WQ_ACCESS_ERROR,
	};
	const u32 host = 0x000101, fw = 0xfe0102, obj = 0x80000003;
	struct mlx5_eqe eqe;
	int i;

	for (i = 0; i < ARRAY_SIZE(qp_errors); i++) {
		unsigned long type = qp_errors[i];

		memset(&eqe, 0, sizeof(eqe));
		eqe.data.qp_srq.type = MLX5_EVENT_QUEUE_TYPE_QP;
		/* The top byte is not part of the QP number. */
		eqe.data.qp_srq.qp_srq_n = cpu_to_be32(0xff000000 | host);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(type, &eqe, host, fw, obj),
				MLX5VF_TRACK_EVENT_QP_ERROR);
		eqe.data.qp_srq.qp_srq_n = cpu_to_be32(fw);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(type, &eqe, host, fw, obj),
				MLX5VF_TRACK_EVENT_QP_ERROR);
		eqe.data.qp_srq.qp_srq_n = cpu_to_be32(fw + 1);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(type, &eqe, host, fw, obj),
				MLX5VF_TRACK_EVENT_NONE);
		/* Someone's RQ or SQ with our number is not our QP. */
		eqe.data.qp_srq.qp_srq_n = cpu_to_be32(host);
		eqe.data.qp_srq.type = MLX5_EVENT_QUEUE_TYPE_RQ;
		KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(type, &eqe, host, fw, obj),
				MLX5VF_TRACK_EVENT_NONE);
	}

	memset(&eqe, 0, sizeof(eqe));
	eqe.data.obj_change.obj_type = cpu_to_be16(MLX5_OBJ_TYPE_PAGE_TRACK);
	eqe.data.obj_change.obj_id = cpu_to_be32(obj);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(MLX5_EVENT_TYPE_OBJECT_CHANGE, &eqe,
							  host, fw, obj),
			MLX5VF_TRACK_EVENT_OBJ_CHANGE);
	/* By the raw layout: type in bytes 2-3, id in 4-7 of the event data. */
	KUNIT_EXPECT_EQ(test, ((u8 *)&eqe.data)[3], 0x46);
	KUNIT_EXPECT_EQ(test, ((u8 *)&eqe.data)[4], 0x80);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(MLX5_EVENT_TYPE_OBJECT_CHANGE, &eqe,
							  host, fw, obj + 1),
			MLX5VF_TRACK_EVENT_NONE);
	eqe.data.obj_change.obj_type = cpu_to_be16(MLX5_GENERAL_OBJECT_TYPES_MACSEC);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(MLX5_EVENT_TYPE_OBJECT_CHANGE, &eqe,
							  host, fw, obj),
			MLX5VF_TRACK_EVENT_NONE);
	/* Events of other kinds, whatever their data says. */
	eqe.data.obj_change.obj_type = cpu_to_be16(MLX5_OBJ_TYPE_PAGE_TRACK);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(MLX5_EVENT_TYPE_PORT_CHANGE, &eqe,
							  host, fw, obj),
			MLX5VF_TRACK_EVENT_NONE);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_classify_event(MLX5_EVENT_TYPE_CQ_ERROR, &eqe,
							  host, fw, obj),
			MLX5VF_TRACK_EVENT_NONE);
}

/* ---- The report ring ---------------------------------------------------- */

struct collect {
	u64 addr[1024];
	unsigned int n;
};

static void collect_fn(void *arg, u64 addr)
{
	struct collect *c = arg;

	if (c->n < ARRAY_SIZE(c->addr))
		c->addr[c->n] = addr;
	c->n++;
}

/* Entry i of a message, by the raw layout: high word, then low word, big endian. */
static void put_entry(void *slot, u32 i, u64 addr)
{
	__be32 *w = (__be32 *)slot + 2 * i;

	w[0] = cpu_to_be32(upper_32_bits(addr));
	w[1] = cpu_to_be32(lower_32_bits(addr));
}

/* Fill every 8 bytes of [p, p + len) with an address no window contains. */
static void poison(void *p, size_t len)
{
	u32 i;

	for (i = 0; i < len / MLX5VF_TRACK_ENTRY_SIZE; i++)
		put_entry(p, i, 0xdead0000dead0001ull);
}

static void ring_slot_test(struct kunit *test)
{
	struct mlx5vf_track_ring ring = { .log_seg_size = 12, .log_msg_size = 12 };
	u8 log;

	for (log = 0; log <= 15; log++) {
		u32 n = 1u << log;

		ring.log_nslots = log;
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_slot(&ring, 0), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_slot(&ring, n - 1), n - 1);
		/* The counter runs on; slots wrap every n completions ... */
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_slot(&ring, (u16)n), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_slot(&ring, (u16)(n + 1)), 1 % n);
		/* ... and the 16-bit counter's own wrap keeps the sequence. */
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_slot(&ring, 0xffff), n - 1);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_slot(&ring, (u16)(0xffff + 1)), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_ring_bytes(&ring), (u64)n << 12);
	}

	ring.log_nslots = 7;
	ring.log_msg_size = 3;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_slot_offset(&ring, 0), 0);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_slot_offset(&ring, 127), 127 * 8);
	ring.log_msg_size = 16;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_slot_offset(&ring, 127), 127ull << 16);
	/* The last slot ends exactly at the end of the ring. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_slot_offset(&ring, 127) + (1 << 16),
			mlx5vf_track_ring_bytes(&ring));
}

static void msg_check_test(struct kunit *test)
{
	struct mlx5vf_track_ring ring = { .log_seg_size = 12, .log_nslots = 4 };
	u8 log;

	for (log = 3; log <= MLX5VF_TRACK_LOG_MAX_MSG; log++) {
		u32 msg = 1u << log;

		ring.log_msg_size = log;
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, 0), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, 8), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, msg), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, msg - 8), 0);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, msg + 8), -EMSGSIZE);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, msg + 1), -EMSGSIZE);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, U32_MAX), -EMSGSIZE);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, msg - 1), -EBADMSG);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, 4), -EBADMSG);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_check(&ring, 12), log == 3 ? -EMSGSIZE :
								      -EBADMSG);
	}
}

/*
 * A ring of nslots slots of msg bytes over page-sized segments allocated one
 * by one, followed by a poisoned guard in the same allocation as the last
 * segment: a decoder that reads past the ring meets entries no window holds.
 */
struct test_ring {
	struct mlx5vf_track_ring ring;
	void *segs[8];
};

static void test_ring_init(struct kunit *test, struct test_ring *r, u8 log_seg, u8 log_msg,
			   u8 log_nslots)
{
	u64 bytes = 1ull << (log_msg + log_nslots);
	u32 seg = 1u << log_seg;
	u32 nsegs = DIV_ROUND_UP_ULL(bytes, seg);
	u32 i;

	KUNIT_ASSERT_LE(test, nsegs, ARRAY_SIZE(r->segs));
	r->ring.segs = r->segs;
	r->ring.log_seg_size = log_seg;
	r->ring.log_msg_size = log_msg;
	r->ring.log_nslots = log_nslots;
	/* Backwards, so that neighbouring segments are not neighbours in memory. */
	for (i = nsegs; i-- > 0;) {
		bool last = i == nsegs - 1;
		size_t len = last ? 2 * seg : seg;

		r->segs[i] = kunit_kmalloc(test, len, GFP_KERNEL);
		KUNIT_ASSERT_NOT_NULL(test, r->segs[i]);
		poison(r->segs[i], len);
	}
}

/* Where slot's bytes start, in a ring whose slots do not cross segments. */
static void *test_slot(struct test_ring *r, u32 slot)
{
	u64 off = mlx5vf_track_slot_offset(&r->ring, slot);

	return (u8 *)r->segs[off >> r->ring.log_seg_size] +
	       (off & ((1u << r->ring.log_seg_size) - 1));
}

static void msg_last_slot_full_test(struct kunit *test)
{
	const struct mlx5vf_track_window win = { .start = 0x40000000, .length = 0x40000000,
						 .log_page = 12 };
	struct collect *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct test_ring r;
	u32 slot, i;
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	/* 4 slots of 4 KiB over 4 pages: the last slot is the last page, whole. */
	test_ring_init(test, &r, 12, 12, 2);
	slot = mlx5vf_track_ring_slot(&r.ring, 0xffff);
	KUNIT_ASSERT_EQ(test, slot, 3);
	p = test_slot(&r, slot);
	for (i = 0; i < 512; i++)
		put_entry(p, i, win.start + ((u64)i << 12));
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, slot, 4096, &win, collect_fn, c),
			512);
	KUNIT_ASSERT_EQ(test, c->n, 512);
	for (i = 0; i < 512; i++)
		KUNIT_EXPECT_EQ(test, c->addr[i], win.start + ((u64)i << 12));
	/* One entry more would be the guard: refused before anything is read. */
	c->n = 0;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, slot, 4104, &win, collect_fn, c),
			-EMSGSIZE);
	KUNIT_EXPECT_EQ(test, c->n, 0);
	/* A slot number beyond the ring is refused too. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, 4, 8, &win, collect_fn, c),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, c->n, 0);

	/* Small slots packed in one page: the last one ends the ring, then the guard. */
	test_ring_init(test, &r, 12, 6, 4);
	p = test_slot(&r, 15);
	KUNIT_EXPECT_EQ(test, (u8 *)p - (u8 *)r.segs[0], 15 * 64);
	for (i = 0; i < 8; i++)
		put_entry(p, i, win.start + win.length - ((u64)(i + 1) << 12));
	c->n = 0;
	slot = mlx5vf_track_ring_slot(&r.ring, 0xff);
	KUNIT_EXPECT_EQ(test, slot, 15);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, slot, 64, &win, collect_fn, c), 8);
	KUNIT_EXPECT_EQ(test, c->n, 8);
	KUNIT_EXPECT_EQ(test, c->addr[0], win.start + win.length - 0x1000);
	KUNIT_EXPECT_EQ(test, c->addr[7], win.start + win.length - 0x8000);
}

static void msg_spans_segments_test(struct kunit *test)
{
	const struct mlx5vf_track_window win = { .start = 0, .length = 1ull << 40,
						 .log_page = 21 };
	struct collect *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct test_ring r;
	u32 slot, i;

	KUNIT_ASSERT_NOT_NULL(test, c);
	/* 2 slots of 8 KiB over 4 separate 4 KiB segments: each slot spans two. */
	test_ring_init(test, &r, 12, 13, 1);
	for (slot = 0; slot < 2; slot++) {
		for (i = 0; i < 1024; i++) {
			void *seg = r.segs[2 * slot + i / 512];

			put_entry(seg, i % 512, ((u64)(slot * 1024 + i) << 21));
		}
		c->n = 0;
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, slot, 8192, &win,
							      collect_fn, c),
				1024);
		KUNIT_ASSERT_EQ(test, c->n, 1024);
		for (i = 0; i < 1024; i++)
			KUNIT_EXPECT_EQ(test, c->addr[i], (u64)(slot * 1024 + i) << 21);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_entry(&r.ring, slot, 511),
				(u64)(slot * 1024 + 511) << 21);
		KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_entry(&r.ring, slot, 512),
				(u64)(slot * 1024 + 512) << 21);
	}
	/* A short message in the second slot reads only its first segment. */
	c->n = 0;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, 1, 16, &win, collect_fn, c), 2);
	KUNIT_EXPECT_EQ(test, c->addr[1], 1025ull << 21);
}

static void msg_window_test(struct kunit *test)
{
	static const struct {
		u64 addr;
		int want; /* entries passed on, or the error */
	} cases[] = {
		{ 0x10000, 4 },			/* the first page */
		{ 0x10000 + 0xf000, 4 },	/* the last page */
		{ 0x10000 - 0x1000, -ERANGE },	/* just below */
		{ 0x10000 + 0x10000, -ERANGE },	/* just past */
		{ 0x10800, -ERANGE },		/* off a page boundary */
		{ 0x10008, -ERANGE },
		{ 0, -ERANGE },
		{ ~0ull & ~0xfffull, -ERANGE },
	};
	const struct mlx5vf_track_window win = { .start = 0x10000, .length = 0x10000,
						 .log_page = 12 };
	struct collect *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct test_ring r;
	int i, j;

	KUNIT_ASSERT_NOT_NULL(test, c);
	test_ring_init(test, &r, 12, 12, 3);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		void *p = test_slot(&r, 5);

		/* Good entries first, the one under test last: all or nothing. */
		for (j = 0; j < 3; j++)
			put_entry(p, j, win.start + ((u64)j << 12));
		put_entry(p, 3, cases[i].addr);
		c->n = 0;
		KUNIT_EXPECT_EQ_MSG(test, mlx5vf_track_msg_decode(&r.ring, 5, 32, &win,
								  collect_fn, c),
				    cases[i].want, "case %d", i);
		KUNIT_EXPECT_EQ_MSG(test, c->n, max(cases[i].want, 0), "case %d", i);
	}

	/* An empty message (a last one may be) passes nothing on. */
	c->n = 0;
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, 0, 0, &win, collect_fn, c), 0);
	KUNIT_EXPECT_EQ(test, c->n, 0);
	/* Not whole entries. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, 5, 28, &win, collect_fn, c),
			-EBADMSG);
	KUNIT_EXPECT_EQ(test, c->n, 0);
}

static void msg_window_top_test(struct kunit *test)
{
	/* A window that ends at the top of the address space must not wrap. */
	const struct mlx5vf_track_window win = { .start = 0xffffffffffe00000ull,
						 .length = 0x200000, .log_page = 20 };
	struct collect *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct test_ring r;
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, c);
	test_ring_init(test, &r, 12, 12, 0);
	p = test_slot(&r, 0);
	put_entry(p, 0, 0xffffffffffe00000ull);
	put_entry(p, 1, 0xfffffffffff00000ull);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, 0, 16, &win, collect_fn, c), 2);
	KUNIT_EXPECT_EQ(test, c->addr[1], 0xfffffffffff00000ull);
	/* High and low words are each 32 bits: the top bit is the high word's. */
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_entry(&r.ring, 0, 1) >> 32, 0xffffffffull);
	c->n = 0;
	put_entry(p, 1, 0x100000);
	KUNIT_EXPECT_EQ(test, mlx5vf_track_msg_decode(&r.ring, 0, 16, &win, collect_fn, c),
			-ERANGE);
	KUNIT_EXPECT_EQ(test, c->n, 0);
}

static struct kunit_case mlx5vf_track_mailbox_cases[] = {
	KUNIT_CASE(parse_caps_test),
	KUNIT_CASE(parse_caps_unusable_test),
	KUNIT_CASE(pick_log_msg_test),
	KUNIT_CASE(create_obj_inlen_test),
	KUNIT_CASE(create_obj_test),
	KUNIT_CASE(report_test),
	KUNIT_CASE(query_obj_test),
	KUNIT_CASE(destroy_obj_test),
	KUNIT_CASE(parse_obj_test),
	KUNIT_CASE(create_cq_test),
	KUNIT_CASE(create_qp_test),
	KUNIT_CASE(qp_out_test),
	KUNIT_CASE(rst2init_test),
	KUNIT_CASE(init2rtr_test),
	KUNIT_CASE(rtr2rts_test),
	KUNIT_CASE(rq_wqe_test),
	KUNIT_CASE(cqe_sw_owned_test),
	KUNIT_CASE(parse_cqe_test),
	KUNIT_CASE(classify_event_test),
	KUNIT_CASE(ring_slot_test),
	KUNIT_CASE(msg_check_test),
	KUNIT_CASE(msg_last_slot_full_test),
	KUNIT_CASE(msg_spans_segments_test),
	KUNIT_CASE(msg_window_test),
	KUNIT_CASE(msg_window_top_test),
	{}
};

static struct kunit_suite mlx5vf_track_mailbox_suite = {
	.name = "mlx5vf_track_mailbox",
	.test_cases = mlx5vf_track_mailbox_cases,
};

kunit_test_suite(mlx5vf_track_mailbox_suite);

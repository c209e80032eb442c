// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit suite for the mlx5 command mailboxes of src/shim/mlx5_cmd.c.
 *
 * Every builder runs for every op_mod and flag combination it serves; each
 * field it owns is read back with MLX5_GET over the kernel's mlx5_ifc.h, then
 * cleared, and the mailbox must be all zero afterwards, so no builder can set
 * a bit nobody checked. The command header (opcode in the upper half of the
 * first word, op_mod in the lower half of the second, both big endian) is
 * also checked on the raw words, independently of the MLX5_GET macros. The
 * output parsers read outboxes made here by hand.
 *
 * Needs only headers: runs on UML, and can be linked into mlx5vf.ko when the
 * kernel has KUnit.
 */
#include <kunit/test.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <mlx5vf/fw.h>

#include "../src/shim/mlx5_cmd.h"

#define VHCA_IDS { 0, 1, 0x1234, 0xffff }

static bool mailbox_is_zero(const void *box, size_t len)
{
	return !memchr_inv(box, 0, len);
}

/* The PRM command header, from the raw big-endian words. */
static void expect_header(struct kunit *test, const u32 *in, u16 opcode, u16 op_mod)
{
	u32 word0 = be32_to_cpu((__force __be32)in[0]);
	u32 word1 = be32_to_cpu((__force __be32)in[1]);

	KUNIT_EXPECT_EQ(test, word0 >> 16, (u32)opcode);
	KUNIT_EXPECT_EQ(test, word1 & 0xffff, (u32)op_mod);
}

static void query_hca_cap_case(struct kunit *test, bool general2)
{
	static const u16 fids[] = { 1, 2, 0x80, 0xffff };
	u32 in[MLX5_ST_SZ_DW(query_hca_cap_in)];
	u16 op_mod = general2 ? (MLX5_CAP_GENERAL_2 << 1) | HCA_CAP_OPMOD_GET_MAX :
				(MLX5_CAP_GENERAL << 1) | HCA_CAP_OPMOD_GET_CUR;
	int i, ec;

	/* The numbers themselves: GENERAL_2 is 0x20, GET_MAX 0, GET_CUR 1. */
	KUNIT_EXPECT_EQ(test, op_mod, general2 ? 0x40 : 0x1);
	for (i = 0; i < 2 * ARRAY_SIZE(fids); i++) {
		ec = i >= ARRAY_SIZE(fids);
		memset(in, 0, sizeof(in));
		if (general2)
			mlx5vf_inbox_query_vf_general2_cap(in, fids[i % ARRAY_SIZE(fids)], ec);
		else
			mlx5vf_inbox_query_vf_general_cap(in, fids[i % ARRAY_SIZE(fids)], ec);
		expect_header(test, in, MLX5_CMD_OP_QUERY_HCA_CAP, op_mod);
		KUNIT_EXPECT_EQ(test, MLX5_GET(query_hca_cap_in, in, opcode), 0x100);
		KUNIT_EXPECT_EQ(test, MLX5_GET(query_hca_cap_in, in, op_mod), op_mod);
		KUNIT_EXPECT_EQ(test, MLX5_GET(query_hca_cap_in, in, other_function), 1);
		KUNIT_EXPECT_EQ(test, MLX5_GET(query_hca_cap_in, in, ec_vf_function), ec);
		KUNIT_EXPECT_EQ(test, MLX5_GET(query_hca_cap_in, in, function_id),
				fids[i % ARRAY_SIZE(fids)]);
		MLX5_SET(query_hca_cap_in, in, opcode, 0);
		MLX5_SET(query_hca_cap_in, in, op_mod, 0);
		MLX5_SET(query_hca_cap_in, in, other_function, 0);
		MLX5_SET(query_hca_cap_in, in, ec_vf_function, 0);
		MLX5_SET(query_hca_cap_in, in, function_id, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void query_vf_general_cap_test(struct kunit *test)
{
	query_hca_cap_case(test, false);
}

static void query_vf_general2_cap_test(struct kunit *test)
{
	query_hca_cap_case(test, true);
}

/* mlx5_core's rule (pci_irq.c, mlx5_set_msix_vec_count): EC VFs only on an ECPF with EC SR-IOV. */
static void vfs_are_ec_vfs_test(struct kunit *test)
{
	KUNIT_EXPECT_FALSE(test, mlx5vf_cmd_vfs_are_ec_vfs(false, 0));
	KUNIT_EXPECT_FALSE(test, mlx5vf_cmd_vfs_are_ec_vfs(false, 0x40));
	KUNIT_EXPECT_FALSE(test, mlx5vf_cmd_vfs_are_ec_vfs(true, 0));
	KUNIT_EXPECT_TRUE(test, mlx5vf_cmd_vfs_are_ec_vfs(true, 0x40));
}

static void vf_function_id_test(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_vf_function_id(0), 1);
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_vf_function_id(126), 127);
}

static void query_migration_state_case(struct kunit *test, u16 vhca_id, bool inc, bool chunk)
{
	u32 in[MLX5_ST_SZ_DW(query_vhca_migration_state_in)] = {};

	mlx5vf_inbox_query_vhca_migration_state(in, vhca_id, inc, chunk);
	expect_header(test, in, MLX5_CMD_OP_QUERY_VHCA_MIGRATION_STATE, 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(query_vhca_migration_state_in, in, opcode), 0x117);
	KUNIT_EXPECT_EQ(test, MLX5_GET(query_vhca_migration_state_in, in, op_mod), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(query_vhca_migration_state_in, in, uid), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(query_vhca_migration_state_in, in, vhca_id), vhca_id);
	KUNIT_EXPECT_EQ(test, MLX5_GET(query_vhca_migration_state_in, in, incremental), inc);
	KUNIT_EXPECT_EQ(test, MLX5_GET(query_vhca_migration_state_in, in, chunk), chunk);
	MLX5_SET(query_vhca_migration_state_in, in, opcode, 0);
	MLX5_SET(query_vhca_migration_state_in, in, vhca_id, 0);
	MLX5_SET(query_vhca_migration_state_in, in, incremental, 0);
	MLX5_SET(query_vhca_migration_state_in, in, chunk, 0);
	KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
}

static void query_migration_state_test(struct kunit *test)
{
	static const u16 ids[] = VHCA_IDS;
	int i, flags;

	for (i = 0; i < ARRAY_SIZE(ids); i++)
		for (flags = 0; flags < 4; flags++)
			query_migration_state_case(test, ids[i], flags & 1, flags & 2);
}

/*
 * SUSPEND_VHCA and RESUME_VHCA for both sides, the op_mods named both by the
 * kernel and by the core's mirror in fw.h: the initiator is 0 for SUSPEND but
 * 1 for RESUME.
 */
static void suspend_vhca_test(struct kunit *test)
{
	static const struct {
		u16 op_mod;
		u16 want;
	} sides[] = {
		{ MLX5VF_FW_SUSPEND_INITIATOR, MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_INITIATOR },
		{ MLX5VF_FW_SUSPEND_RESPONDER, MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_RESPONDER },
	};
	static const u16 ids[] = VHCA_IDS;
	u32 in[MLX5_ST_SZ_DW(suspend_vhca_in)];
	int i, s;

	KUNIT_EXPECT_EQ(test, MLX5VF_FW_SUSPEND_INITIATOR, 0);
	KUNIT_EXPECT_EQ(test, MLX5VF_FW_SUSPEND_RESPONDER, 1);
	for (s = 0; s < ARRAY_SIZE(sides); s++) {
		KUNIT_EXPECT_EQ(test, sides[s].op_mod, sides[s].want);
		for (i = 0; i < ARRAY_SIZE(ids); i++) {
			memset(in, 0, sizeof(in));
			mlx5vf_inbox_suspend_vhca(in, ids[i], sides[s].op_mod);
			expect_header(test, in, MLX5_CMD_OP_SUSPEND_VHCA, sides[s].want);
			KUNIT_EXPECT_EQ(test, MLX5_GET(suspend_vhca_in, in, opcode), 0x115);
			KUNIT_EXPECT_EQ(test, MLX5_GET(suspend_vhca_in, in, op_mod), sides[s].want);
			KUNIT_EXPECT_EQ(test, MLX5_GET(suspend_vhca_in, in, uid), 0);
			KUNIT_EXPECT_EQ(test, MLX5_GET(suspend_vhca_in, in, vhca_id), ids[i]);
			MLX5_SET(suspend_vhca_in, in, opcode, 0);
			MLX5_SET(suspend_vhca_in, in, op_mod, 0);
			MLX5_SET(suspend_vhca_in, in, vhca_id, 0);
			KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
		}
	}
}

static void resume_vhca_test(struct kunit *test)
{
	static const struct {
		u16 op_mod;
		u16 want;
	} sides[] = {
		{ MLX5VF_FW_RESUME_INITIATOR, MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_INITIATOR },
		{ MLX5VF_FW_RESUME_RESPONDER, MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_RESPONDER },
	};
	static const u16 ids[] = VHCA_IDS;
	u32 in[MLX5_ST_SZ_DW(resume_vhca_in)];
	int i, s;

	KUNIT_EXPECT_EQ(test, MLX5VF_FW_RESUME_INITIATOR, 1);
	KUNIT_EXPECT_EQ(test, MLX5VF_FW_RESUME_RESPONDER, 0);
	for (s = 0; s < ARRAY_SIZE(sides); s++) {
		KUNIT_EXPECT_EQ(test, sides[s].op_mod, sides[s].want);
		for (i = 0; i < ARRAY_SIZE(ids); i++) {
			memset(in, 0, sizeof(in));
			mlx5vf_inbox_resume_vhca(in, ids[i], sides[s].op_mod);
			expect_header(test, in, MLX5_CMD_OP_RESUME_VHCA, sides[s].want);
			KUNIT_EXPECT_EQ(test, MLX5_GET(resume_vhca_in, in, opcode), 0x116);
			KUNIT_EXPECT_EQ(test, MLX5_GET(resume_vhca_in, in, op_mod), sides[s].want);
			KUNIT_EXPECT_EQ(test, MLX5_GET(resume_vhca_in, in, uid), 0);
			KUNIT_EXPECT_EQ(test, MLX5_GET(resume_vhca_in, in, vhca_id), ids[i]);
			MLX5_SET(resume_vhca_in, in, opcode, 0);
			MLX5_SET(resume_vhca_in, in, op_mod, 0);
			MLX5_SET(resume_vhca_in, in, vhca_id, 0);
			KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
		}
	}
}

static void save_vhca_state_case(struct kunit *test, u16 vhca_id, bool inc, bool track, u32 mkey,
				 u64 va, u32 size)
{
	u32 in[MLX5_ST_SZ_DW(save_vhca_state_in)] = {};

	mlx5vf_inbox_save_vhca_state(in, vhca_id, inc, track, mkey, va, size);
	expect_header(test, in, MLX5_CMD_OP_SAVE_VHCA_STATE, 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, opcode), 0x118);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, op_mod), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, uid), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, vhca_id), vhca_id);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, incremental), inc);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, set_track), track);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(save_vhca_state_in, in, va), va);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, mkey), mkey);
	KUNIT_EXPECT_EQ(test, MLX5_GET(save_vhca_state_in, in, size), size);
	MLX5_SET(save_vhca_state_in, in, opcode, 0);
	MLX5_SET(save_vhca_state_in, in, vhca_id, 0);
	MLX5_SET(save_vhca_state_in, in, incremental, 0);
	MLX5_SET(save_vhca_state_in, in, set_track, 0);
	MLX5_SET64(save_vhca_state_in, in, va, 0);
	MLX5_SET(save_vhca_state_in, in, mkey, 0);
	MLX5_SET(save_vhca_state_in, in, size, 0);
	KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
}

static void save_vhca_state_test(struct kunit *test)
{
	static const struct {
		u32 mkey;
		u64 va;
		u32 size;
	} bufs[] = {
		{ 0x00000100, 0, 4096 },
		{ 0xdeadbeef, 0x1122334455667788ull, 0xfffff000 },
		{ 0xffffffff, ~0ull, 0xffffffff },
	};
	static const u16 ids[] = VHCA_IDS;
	int i, b, flags;

	for (i = 0; i < ARRAY_SIZE(ids); i++)
		for (b = 0; b < ARRAY_SIZE(bufs); b++)
			for (flags = 0; flags < 4; flags++)
				save_vhca_state_case(test, ids[i], flags & 1, flags & 2,
						     bufs[b].mkey, bufs[b].va, bufs[b].size);
}

static void load_vhca_state_test(struct kunit *test)
{
	static const u16 ids[] = VHCA_IDS;
	u32 in[MLX5_ST_SZ_DW(load_vhca_state_in)];
	int i;

	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		u32 mkey = 0x01020300 + i, size = 0xffffffff - i;
		u64 va = 0x8000000000000000ull >> i;

		memset(in, 0, sizeof(in));
		mlx5vf_inbox_load_vhca_state(in, ids[i], mkey, va, size);
		expect_header(test, in, MLX5_CMD_OP_LOAD_VHCA_STATE, 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(load_vhca_state_in, in, opcode), 0x119);
		KUNIT_EXPECT_EQ(test, MLX5_GET(load_vhca_state_in, in, op_mod), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(load_vhca_state_in, in, uid), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(load_vhca_state_in, in, vhca_id), ids[i]);
		KUNIT_EXPECT_EQ(test, MLX5_GET64(load_vhca_state_in, in, va), va);
		KUNIT_EXPECT_EQ(test, MLX5_GET(load_vhca_state_in, in, mkey), mkey);
		KUNIT_EXPECT_EQ(test, MLX5_GET(load_vhca_state_in, in, size), size);
		MLX5_SET(load_vhca_state_in, in, opcode, 0);
		MLX5_SET(load_vhca_state_in, in, vhca_id, 0);
		MLX5_SET64(load_vhca_state_in, in, va, 0);
		MLX5_SET(load_vhca_state_in, in, mkey, 0);
		MLX5_SET(load_vhca_state_in, in, size, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));
	}
}

static void pd_test(struct kunit *test)
{
	static const u32 pdns[] = { 0, 1, 0xabcdef, 0xffffff };
	u32 in[MLX5_ST_SZ_DW(alloc_pd_in)] = {};
	u32 din[MLX5_ST_SZ_DW(dealloc_pd_in)];
	int i;

	mlx5vf_inbox_alloc_pd(in);
	expect_header(test, in, MLX5_CMD_OP_ALLOC_PD, 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(alloc_pd_in, in, opcode), 0x800);
	KUNIT_EXPECT_EQ(test, MLX5_GET(alloc_pd_in, in, op_mod), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(alloc_pd_in, in, uid), 0);
	MLX5_SET(alloc_pd_in, in, opcode, 0);
	KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, sizeof(in)));

	for (i = 0; i < ARRAY_SIZE(pdns); i++) {
		memset(din, 0, sizeof(din));
		mlx5vf_inbox_dealloc_pd(din, pdns[i]);
		expect_header(test, din, MLX5_CMD_OP_DEALLOC_PD, 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(dealloc_pd_in, din, opcode), 0x801);
		KUNIT_EXPECT_EQ(test, MLX5_GET(dealloc_pd_in, din, op_mod), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(dealloc_pd_in, din, pd), pdns[i]);
		MLX5_SET(dealloc_pd_in, din, opcode, 0);
		MLX5_SET(dealloc_pd_in, din, pd, 0);
		KUNIT_EXPECT_TRUE(test, mailbox_is_zero(din, sizeof(din)));
	}
}

static void create_mkey_inlen_test(struct kunit *test)
{
	size_t base = MLX5_ST_SZ_BYTES(create_mkey_in);

	/* The fixed part of the PRM layout, then 8 bytes per MTT entry, in pairs. */
	KUNIT_EXPECT_EQ(test, base, (size_t)0x110);
	KUNIT_EXPECT_EQ(test, MLX5_ST_SZ_BYTES(mtt), 8);
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(0), (size_t)0);
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(1), base + 16);
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(2), base + 16);
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(3), base + 32);
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(1u << 20), base + (8u << 20));
	/* Beyond what one command's int length can carry. */
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(1u << 28), (size_t)0);
	KUNIT_EXPECT_EQ(test, mlx5vf_inbox_create_mkey_len(U32_MAX), (size_t)0);
}

static void create_mkey_case(struct kunit *test, u32 npages, u8 page_shift, u32 pdn)
{
	size_t inlen = mlx5vf_inbox_create_mkey_len(npages);
	u32 octwords = DIV_ROUND_UP(npages, 2);
	dma_addr_t *dma;
	void *mkc;
	u8 *mtt;
	u32 *in;
	u32 i;

	KUNIT_ASSERT_NE(test, inlen, (size_t)0);
	in = kunit_kzalloc(test, inlen, GFP_KERNEL);
	dma = kunit_kcalloc(test, npages, sizeof(*dma), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, in);
	KUNIT_ASSERT_NOT_NULL(test, dma);
	for (i = 0; i < npages; i++)
		dma[i] = ((dma_addr_t)0x12345 << 32 | (u64)(i * 7 + 3) << page_shift) &
			 ~(((dma_addr_t)1 << page_shift) - 1);

	mlx5vf_inbox_create_mkey(in, pdn, dma, npages, page_shift);
	expect_header(test, in, MLX5_CMD_OP_CREATE_MKEY, 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_mkey_in, in, opcode), 0x200);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_mkey_in, in, op_mod), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_mkey_in, in, pg_access), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_mkey_in, in, mkey_umem_valid), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(create_mkey_in, in, translations_octword_actual_size),
			octwords);

	mkc = MLX5_ADDR_OF(create_mkey_in, in, memory_key_mkey_entry);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, access_mode_1_0), MLX5_MKC_ACCESS_MODE_MTT);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, access_mode_4_2), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, lr), 1);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, lw), 1);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, rr), 1);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, rw), 1);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, a), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, umr_en), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, free), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, qpn), 0xffffff);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, mkey_7_0), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, pd), pdn);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, length64), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(mkc, mkc, start_addr), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET64(mkc, mkc, len), (u64)npages << page_shift);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, bsf_octword_size), 0);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, translations_octword_size), octwords);
	KUNIT_EXPECT_EQ(test, MLX5_GET(mkc, mkc, log_page_size), page_shift);

	mtt = MLX5_ADDR_OF(create_mkey_in, in, klm_pas_mtt);
	for (i = 0; i < npages; i++) {
		void *e = mtt + i * MLX5_ST_SZ_BYTES(mtt);

		KUNIT_EXPECT_EQ(test, MLX5_GET(mtt, e, ptag_63_32), upper_32_bits(dma[i]));
		KUNIT_EXPECT_EQ(test, MLX5_GET(mtt, e, ptag_31_8), lower_32_bits(dma[i]) >> 8);
		KUNIT_EXPECT_EQ(test, MLX5_GET(mtt, e, rd_en), 0);
		KUNIT_EXPECT_EQ(test, MLX5_GET(mtt, e, wr_en), 0);
		/* The whole entry is the device address, big endian. */
		KUNIT_EXPECT_EQ(test, be64_to_cpu(*(__be64 *)e), (u64)dma[i]);
		memset(e, 0, MLX5_ST_SZ_BYTES(mtt));
	}

	MLX5_SET(create_mkey_in, in, opcode, 0);
	MLX5_SET(create_mkey_in, in, translations_octword_actual_size, 0);
	MLX5_SET(mkc, mkc, access_mode_1_0, 0);
	MLX5_SET(mkc, mkc, lr, 0);
	MLX5_SET(mkc, mkc, lw, 0);
	MLX5_SET(mkc, mkc, rr, 0);
	MLX5_SET(mkc, mkc, rw, 0);
	MLX5_SET(mkc, mkc, qpn, 0);
	MLX5_SET(mkc, mkc, pd, 0);
	MLX5_SET64(mkc, mkc, len, 0);
	MLX5_SET(mkc, mkc, translations_octword_size, 0);
	MLX5_SET(mkc, mkc, log_page_size, 0);
	/* Also the padding entry of an odd count stays zero. */
	KUNIT_EXPECT_TRUE(test, mailbox_is_zero(in, inlen));
}

static void create_mkey_test(struct kunit *test)
{
	create_mkey_case(test, 1, 12, 0x000001);
	create_mkey_case(test, 2, 12, 0xabcdef);
	create_mkey_case(test, 3, 12, 0xffffff);
	create_mkey_case(test, 257, 16, 0x42);
	create_mkey_case(test, 2048, 12, 0x7);
}

static void save_status_test(struct kunit *test)
{
	u32 out[MLX5_ST_SZ_DW(save_vhca_state_out)] = {};

	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_save_status(out), 0);
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_save_syndrome(out), 0);
	MLX5_SET(save_vhca_state_out, out, status, MLX5_CMD_STAT_BAD_RES_STATE_ERR);
	MLX5_SET(save_vhca_state_out, out, syndrome, 0x2c9bb0);
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_save_status(out), MLX5_CMD_STAT_BAD_RES_STATE_ERR);
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_save_syndrome(out), 0x2c9bb0);
	/* The PRM outbox header: status in the top byte of word 0, syndrome in word 1. */
	KUNIT_EXPECT_EQ(test, be32_to_cpu((__force __be32)out[0]), 0x09000000u);
	KUNIT_EXPECT_EQ(test, be32_to_cpu((__force __be32)out[1]), 0x2c9bb0u);
}

static void parse_migration_state_test(struct kunit *test)
{
	u32 out[MLX5_ST_SZ_DW(query_vhca_migration_state_out)] = {};
	u64 total = 1;
	u32 required = 1;

	mlx5vf_cmd_parse_migration_state(out, true, &required, &total);
	KUNIT_EXPECT_EQ(test, required, 0);
	KUNIT_EXPECT_EQ(test, total, 0);

	MLX5_SET(query_vhca_migration_state_out, out, required_umem_size, 0x800000);
	MLX5_SET64(query_vhca_migration_state_out, out, remaining_total_size, 0x123456789aull);
	mlx5vf_cmd_parse_migration_state(out, true, &required, &total);
	KUNIT_EXPECT_EQ(test, required, 0x800000);
	KUNIT_EXPECT_EQ(test, total, 0x123456789aull);
	/* Without chunk mode the 64-bit field is not looked at. */
	mlx5vf_cmd_parse_migration_state(out, false, &required, &total);
	KUNIT_EXPECT_EQ(test, required, 0x800000);
	KUNIT_EXPECT_EQ(test, total, 0x800000);

	MLX5_SET(query_vhca_migration_state_out, out, required_umem_size, 0xffffffff);
	MLX5_SET64(query_vhca_migration_state_out, out, remaining_total_size, ~0ull);
	mlx5vf_cmd_parse_migration_state(out, true, &required, &total);
	KUNIT_EXPECT_EQ(test, required, 0xffffffff);
	KUNIT_EXPECT_EQ(test, total, ~0ull);
}

static void parse_save_test(struct kunit *test)
{
	u32 out[MLX5_ST_SZ_DW(save_vhca_state_out)] = {};
	u32 image = 1, next = 1;

	mlx5vf_cmd_parse_save(out, &image, &next);
	KUNIT_EXPECT_EQ(test, image, 0);
	KUNIT_EXPECT_EQ(test, next, 0);
	MLX5_SET(save_vhca_state_out, out, actual_image_size, 0x7fff1234);
	MLX5_SET(save_vhca_state_out, out, next_required_umem_size, 0x800000);
	mlx5vf_cmd_parse_save(out, &image, &next);
	KUNIT_EXPECT_EQ(test, image, 0x7fff1234);
	KUNIT_EXPECT_EQ(test, next, 0x800000);
	/* PRM layout: the two sizes are words 2 and 3 of the outbox. */
	KUNIT_EXPECT_EQ(test, be32_to_cpu((__force __be32)out[2]), 0x7fff1234u);
	KUNIT_EXPECT_EQ(test, be32_to_cpu((__force __be32)out[3]), 0x800000u);
}

static void parse_alloc_pd_test(struct kunit *test)
{
	u32 out[MLX5_ST_SZ_DW(alloc_pd_out)] = {};

	MLX5_SET(alloc_pd_out, out, pd, 0xfedcba);
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_parse_alloc_pd(out), 0xfedcba);
	/* The reserved byte above the 24-bit pd is not part of it. */
	out[2] |= (__force u32)cpu_to_be32(0xff000000);
	KUNIT_EXPECT_EQ(test, mlx5vf_cmd_parse_alloc_pd(out), 0xfedcba);
}

static void parse_general_caps_test(struct kunit *test)
{
	struct mlx5vf_cmd_general_caps caps;
	u32 *out;
	void *cap;

	out = kunit_kzalloc(test, MLX5_ST_SZ_BYTES(query_hca_cap_out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, out);
	cap = MLX5_ADDR_OF(query_hca_cap_out, out, capability);
	KUNIT_EXPECT_PTR_EQ(test, mlx5vf_cmd_hca_cap(out), (const void *)cap);
	/* The capability page follows the 16-byte outbox header. */
	KUNIT_EXPECT_EQ(test, (u8 *)cap - (u8 *)out, 16);

	mlx5vf_cmd_parse_general_caps(cap, &caps);
	KUNIT_EXPECT_FALSE(test, caps.migration);
	KUNIT_EXPECT_FALSE(test, caps.vhca_resource_manager);
	KUNIT_EXPECT_FALSE(test, caps.adv_virtualization);
	KUNIT_EXPECT_EQ(test, caps.vhca_id, 0);

	MLX5_SET(query_hca_cap_out, out, capability.cmd_hca_cap.vhca_id, 0xbeef);
	MLX5_SET(query_hca_cap_out, out, capability.cmd_hca_cap.migration, 1);
	mlx5vf_cmd_parse_general_caps(mlx5vf_cmd_hca_cap(out), &caps);
	KUNIT_EXPECT_TRUE(test, caps.migration);
	KUNIT_EXPECT_FALSE(test, caps.vhca_resource_manager);
	KUNIT_EXPECT_FALSE(test, caps.adv_virtualization);
	KUNIT_EXPECT_EQ(test, caps.vhca_id, 0xbeef);

	MLX5_SET(cmd_hca_cap, cap, vhca_resource_manager, 1);
	MLX5_SET(cmd_hca_cap, cap, adv_virtualization, 1);
	MLX5_SET(cmd_hca_cap, cap, migration, 0);
	mlx5vf_cmd_parse_general_caps(cap, &caps);
	KUNIT_EXPECT_FALSE(test, caps.migration);
	KUNIT_EXPECT_TRUE(test, caps.vhca_resource_manager);
	KUNIT_EXPECT_TRUE(test, caps.adv_virtualization);
}

static void parse_general2_caps_test(struct kunit *test)
{
	struct mlx5vf_cmd_general2_caps caps;
	u32 *out;
	void *cap;

	out = kunit_kzalloc(test, MLX5_ST_SZ_BYTES(query_hca_cap_out), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, out);
	cap = MLX5_ADDR_OF(query_hca_cap_out, out, capability);
	mlx5vf_cmd_parse_general2_caps(mlx5vf_cmd_hca_cap(out), &caps);
	KUNIT_EXPECT_FALSE(test, caps.migratable);
	KUNIT_EXPECT_FALSE(test, caps.migration_multi_load);
	KUNIT_EXPECT_FALSE(test, caps.migration_tracking_state);
	KUNIT_EXPECT_FALSE(test, caps.migration_in_chunks);

	/* Each bit alone, so that no two are read from the same place. */
	MLX5_SET(query_hca_cap_out, out, capability.cmd_hca_cap_2.migratable, 1);
	mlx5vf_cmd_parse_general2_caps(cap, &caps);
	KUNIT_EXPECT_TRUE(test, caps.migratable);
	KUNIT_EXPECT_FALSE(test, caps.migration_multi_load);
	MLX5_SET(cmd_hca_cap_2, cap, migratable, 0);

	MLX5_SET(cmd_hca_cap_2, cap, migration_multi_load, 1);
	mlx5vf_cmd_parse_general2_caps(cap, &caps);
	KUNIT_EXPECT_FALSE(test, caps.migratable);
	KUNIT_EXPECT_TRUE(test, caps.migration_multi_load);
	KUNIT_EXPECT_FALSE(test, caps.migration_tracking_state);
	MLX5_SET(cmd_hca_cap_2, cap, migration_multi_load, 0);

	MLX5_SET(cmd_hca_cap_2, cap, migration_tracking_state, 1);
	mlx5vf_cmd_parse_general2_caps(cap, &caps);
	KUNIT_EXPECT_TRUE(test, caps.migration_tracking_state);
	KUNIT_EXPECT_FALSE(test, caps.migration_in_chunks);
	MLX5_SET(cmd_hca_cap_2, cap, migration_tracking_state, 0);

	MLX5_SET(cmd_hca_cap_2, cap, migration_in_chunks, 1);
	mlx5vf_cmd_parse_general2_caps(cap, &caps);
	KUNIT_EXPECT_TRUE(test, caps.migration_in_chunks);
	KUNIT_EXPECT_FALSE(test, caps.migration_tracking_state);
	KUNIT_EXPECT_FALSE(test, caps.migratable);
	/* The migratable bit is bit 31 of the page's fifth word. */
	KUNIT_EXPECT_EQ(test, MLX5_BYTE_OFF(cmd_hca_cap_2, migratable), 16);
}

static struct kunit_case mlx5vf_mailbox_cases[] = {
	KUNIT_CASE(vf_function_id_test),
	KUNIT_CASE(vfs_are_ec_vfs_test),
	KUNIT_CASE(query_vf_general_cap_test),
	KUNIT_CASE(query_vf_general2_cap_test),
	KUNIT_CASE(query_migration_state_test),
	KUNIT_CASE(suspend_vhca_test),
	KUNIT_CASE(resume_vhca_test),
	KUNIT_CASE(save_vhca_state_test),
	KUNIT_CASE(load_vhca_state_test),
	KUNIT_CASE(pd_test),
	KUNIT_CASE(create_mkey_inlen_test),
	KUNIT_CASE(create_mkey_test),
	KUNIT_CASE(save_status_test),
	KUNIT_CASE(parse_migration_state_test),
	KUNIT_CASE(parse_save_test),
	KUNIT_CASE(parse_alloc_pd_test),
	KUNIT_CASE(parse_general_caps_test),
	KUNIT_CASE(parse_general2_caps_test),
	{}
};

static struct kunit_suite mlx5vf_mailbox_suite = {
	.name = "mlx5vf_mailbox",
	.test_cases = mlx5vf_mailbox_cases,
};

kunit_test_suite(mlx5vf_mailbox_suite);

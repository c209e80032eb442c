// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlx5 command mailboxes of the migration backend (see mlx5_cmd.h). Also the
 * compile-time pins of the firmware constants the core mirrors in
 * include/mlx5vf/fw.h.
 */
#include <linux/build_bug.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/math.h>

#include <mlx5vf/fw.h>

#include "mlx5_cmd.h"

/* The asymmetric SUSPEND/RESUME numbering the core maps its sides to. */
static_assert((int)MLX5VF_FW_SUSPEND_INITIATOR ==
	      (int)MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_INITIATOR);
static_assert((int)MLX5VF_FW_SUSPEND_RESPONDER ==
	      (int)MLX5_SUSPEND_VHCA_IN_OP_MOD_SUSPEND_RESPONDER);
static_assert((int)MLX5VF_FW_RESUME_RESPONDER == (int)MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_RESPONDER);
static_assert((int)MLX5VF_FW_RESUME_INITIATOR == (int)MLX5_RESUME_VHCA_IN_OP_MOD_RESUME_INITIATOR);

/* Two MTT entries per translation octword. */
#define MLX5VF_MTT_PER_OCTWORD 2

static void mlx5vf_cmd_query_other_cap(u32 *in, u16 function_id, bool ec_vf, u16 cap_type,
				       u16 which)
{
	MLX5_SET(query_hca_cap_in, in, opcode, MLX5_CMD_OP_QUERY_HCA_CAP);
	MLX5_SET(query_hca_cap_in, in, op_mod, (cap_type << 1) | which);
	MLX5_SET(query_hca_cap_in, in, other_function, 1);
	MLX5_SET(query_hca_cap_in, in, ec_vf_function, ec_vf);
	MLX5_SET(query_hca_cap_in, in, function_id, function_id);
}

/**
 * mlx5vf_inbox_query_vf_general_cap() - QUERY_HCA_CAP of a VF: general caps.
 * @in: the zeroed inbox
 * @function_id: the VF, as QUERY_HCA_CAP names another function
 * @ec_vf: the PF numbers its VFs as EC VFs (mlx5vf_cmd_vfs_are_ec_vfs())
 *
 * Current values, for the VF's vhca_id.
 */
void mlx5vf_inbox_query_vf_general_cap(u32 *in, u16 function_id, bool ec_vf)
{
	mlx5vf_cmd_query_other_cap(in, function_id, ec_vf, MLX5_CAP_GENERAL,
				   HCA_CAP_OPMOD_GET_CUR);
}

/**
 * mlx5vf_inbox_query_vf_general2_cap() - QUERY_HCA_CAP of a VF: general caps 2.
 * @in: the zeroed inbox
 * @function_id: the VF, as QUERY_HCA_CAP names another function
 * @ec_vf: the PF numbers its VFs as EC VFs (mlx5vf_cmd_vfs_are_ec_vfs())
 *
 * Maximum values: the eswitch manager (devlink "migratable") sets the VF's
 * migratable bit there.
 */
void mlx5vf_inbox_query_vf_general2_cap(u32 *in, u16 function_id, bool ec_vf)
{
	mlx5vf_cmd_query_other_cap(in, function_id, ec_vf, MLX5_CAP_GENERAL_2,
				   HCA_CAP_OPMOD_GET_MAX);
}

/**
 * mlx5vf_inbox_query_vhca_migration_state() - QUERY_VHCA_MIGRATION_STATE inbox.
 * @in: the zeroed inbox
 * @vhca_id: the VF
 * @incremental: ask for the size of an incremental image
 * @chunk: ask in chunk mode (the remaining total comes back too)
 */
void mlx5vf_inbox_query_vhca_migration_state(u32 *in, u16 vhca_id, bool incremental, bool chunk)
{
	MLX5_SET(query_vhca_migration_state_in, in, opcode, MLX5_CMD_OP_QUERY_VHCA_MIGRATION_STATE);
	MLX5_SET(query_vhca_migration_state_in, in, op_mod, 0);
	MLX5_SET(query_vhca_migration_state_in, in, vhca_id, vhca_id);
	MLX5_SET(query_vhca_migration_state_in, in, incremental, incremental);
	MLX5_SET(query_vhca_migration_state_in, in, chunk, chunk);
}

/**
 * mlx5vf_inbox_suspend_vhca() - SUSPEND_VHCA inbox.
 * @in: the zeroed inbox
 * @vhca_id: the VF
 * @op_mod: MLX5_SUSPEND_VHCA_IN_OP_MOD_* (initiator or responder)
 */
void mlx5vf_inbox_suspend_vhca(u32 *in, u16 vhca_id, u16 op_mod)
{
	MLX5_SET(suspend_vhca_in, in, opcode, MLX5_CMD_OP_SUSPEND_VHCA);
	MLX5_SET(suspend_vhca_in, in, op_mod, op_mod);
	MLX5_SET(suspend_vhca_in, in, vhca_id, vhca_id);
}

/**
 * mlx5vf_inbox_resume_vhca() - RESUME_VHCA inbox.
 * @in: the zeroed inbox
 * @vhca_id: the VF
 * @op_mod: MLX5_RESUME_VHCA_IN_OP_MOD_* (initiator or responder)
 */
void mlx5vf_inbox_resume_vhca(u32 *in, u16 vhca_id, u16 op_mod)
{
	MLX5_SET(resume_vhca_in, in, opcode, MLX5_CMD_OP_RESUME_VHCA);
	MLX5_SET(resume_vhca_in, in, op_mod, op_mod);
	MLX5_SET(resume_vhca_in, in, vhca_id, vhca_id);
}

/**
 * mlx5vf_inbox_save_vhca_state() - SAVE_VHCA_STATE inbox.
 * @in: the zeroed inbox
 * @vhca_id: the VF
 * @incremental: save what changed since the last SAVE
 * @set_track: keep tracking changes for later incremental SAVEs
 * @mkey: the buffer's memory key
 * @va: offset into the mkey's address space (the buffer's start is 0)
 * @size: bytes the firmware may write
 */
void mlx5vf_inbox_save_vhca_state(u32 *in, u16 vhca_id, bool incremental, bool set_track, u32 mkey,
				  u64 va, u32 size)
{
	MLX5_SET(save_vhca_state_in, in, opcode, MLX5_CMD_OP_SAVE_VHCA_STATE);
	MLX5_SET(save_vhca_state_in, in, op_mod, 0);
	MLX5_SET(save_vhca_state_in, in, vhca_id, vhca_id);
	MLX5_SET(save_vhca_state_in, in, incremental, incremental);
	MLX5_SET(save_vhca_state_in, in, set_track, set_track);
	MLX5_SET64(save_vhca_state_in, in, va, va);
	MLX5_SET(save_vhca_state_in, in, mkey, mkey);
	MLX5_SET(save_vhca_state_in, in, size, size);
}

/**
 * mlx5vf_inbox_load_vhca_state() - LOAD_VHCA_STATE inbox.
 * @in: the zeroed inbox
 * @vhca_id: the VF
 * @mkey: the image buffer's memory key
 * @va: offset into the mkey's address space (the buffer's start is 0)
 * @size: bytes of image to load
 */
void mlx5vf_inbox_load_vhca_state(u32 *in, u16 vhca_id, u32 mkey, u64 va, u32 size)
{
	MLX5_SET(load_vhca_state_in, in, opcode, MLX5_CMD_OP_LOAD_VHCA_STATE);
	MLX5_SET(load_vhca_state_in, in, op_mod, 0);
	MLX5_SET(load_vhca_state_in, in, vhca_id, vhca_id);
	MLX5_SET64(load_vhca_state_in, in, va, va);
	MLX5_SET(load_vhca_state_in, in, mkey, mkey);
	MLX5_SET(load_vhca_state_in, in, size, size);
}

/**
 * mlx5vf_inbox_alloc_pd() - ALLOC_PD inbox.
 * @in: the zeroed inbox
 */
void mlx5vf_inbox_alloc_pd(u32 *in)
{
	MLX5_SET(alloc_pd_in, in, opcode, MLX5_CMD_OP_ALLOC_PD);
}

/**
 * mlx5vf_inbox_dealloc_pd() - DEALLOC_PD inbox.
 * @in: the zeroed inbox
 * @pdn: the protection domain to free
 */
void mlx5vf_inbox_dealloc_pd(u32 *in, u32 pdn)
{
	MLX5_SET(dealloc_pd_in, in, opcode, MLX5_CMD_OP_DEALLOC_PD);
	MLX5_SET(dealloc_pd_in, in, pd, pdn);
}

static u32 mlx5vf_cmd_mtt_entries(u32 npages)
{
	return round_up(npages, MLX5VF_MTT_PER_OCTWORD);
}

/**
 * mlx5vf_inbox_create_mkey_len() - Size of a CREATE_MKEY inbox.
 * @npages: pages the mkey translates
 *
 * The inbox grows with its translation table.
 *
 * Return: the inbox's size in bytes, or 0 if @npages is 0 or too large for
 * one command.
 */
size_t mlx5vf_inbox_create_mkey_len(u32 npages)
{
	size_t len = MLX5_ST_SZ_BYTES(create_mkey_in) +
		     (size_t)mlx5vf_cmd_mtt_entries(npages) * MLX5_ST_SZ_BYTES(mtt);

	/* The command interface takes an int length. */
	if (!npages || npages > U32_MAX - 1 || len > INT_MAX)
		return 0;
	return len;
}

/**
 * mlx5vf_inbox_create_mkey() - CREATE_MKEY inbox over a list of pages.
 * @in: the zeroed inbox of mlx5vf_inbox_create_mkey_len(@npages) bytes
 * @pdn: the protection domain
 * @dma: page-aligned device address of each page, in order
 * @npages: number of pages
 * @page_shift: log2 of the page size
 *
 * One MTT entry per page, local and remote read and write, any QP.
 */
void mlx5vf_inbox_create_mkey(u32 *in, u32 pdn, const dma_addr_t *dma, u32 npages, u8 page_shift)
{
	u32 octwords = DIV_ROUND_UP(npages, MLX5VF_MTT_PER_OCTWORD);
	void *mkc = MLX5_ADDR_OF(create_mkey_in, in, memory_key_mkey_entry);
	u8 *mtt = MLX5_ADDR_OF(create_mkey_in, in, klm_pas_mtt);
	u32 i;

	MLX5_SET(create_mkey_in, in, opcode, MLX5_CMD_OP_CREATE_MKEY);
	MLX5_SET(create_mkey_in, in, translations_octword_actual_size, octwords);

	MLX5_SET(mkc, mkc, access_mode_1_0, MLX5_MKC_ACCESS_MODE_MTT & 0x3);
	MLX5_SET(mkc, mkc, access_mode_4_2, (MLX5_MKC_ACCESS_MODE_MTT >> 2) & 0x7);
	MLX5_SET(mkc, mkc, lr, 1);
	MLX5_SET(mkc, mkc, lw, 1);
	MLX5_SET(mkc, mkc, rr, 1);
	MLX5_SET(mkc, mkc, rw, 1);
	MLX5_SET(mkc, mkc, qpn, 0xffffff);
	MLX5_SET(mkc, mkc, pd, pdn);
	MLX5_SET64(mkc, mkc, start_addr, 0);
	MLX5_SET64(mkc, mkc, len, (u64)npages << page_shift);
	MLX5_SET(mkc, mkc, translations_octword_size, octwords);
	MLX5_SET(mkc, mkc, log_page_size, page_shift);

	for (i = 0; i < npages; i++, mtt += MLX5_ST_SZ_BYTES(mtt)) {
		MLX5_SET(mtt, mtt, ptag_63_32, upper_32_bits(dma[i]));
		MLX5_SET(mtt, mtt, ptag_31_8, lower_32_bits(dma[i]) >> 8);
	}
}

/**
 * mlx5vf_cmd_save_status() - A SAVE completion's status.
 * @out: the SAVE_VHCA_STATE outbox
 *
 * The asynchronous SAVE's status is read here, not by mlx5_core.
 *
 * Return: the outbox's status field.
 */
u8 mlx5vf_cmd_save_status(const void *out)
{
	return MLX5_GET(save_vhca_state_out, out, status);
}

/**
 * mlx5vf_cmd_save_syndrome() - A SAVE completion's firmware syndrome.
 * @out: the SAVE_VHCA_STATE outbox
 *
 * Return: the outbox's syndrome field.
 */
u32 mlx5vf_cmd_save_syndrome(const void *out)
{
	return MLX5_GET(save_vhca_state_out, out, syndrome);
}

/**
 * mlx5vf_cmd_parse_migration_state() - Read a QUERY_VHCA_MIGRATION_STATE outbox.
 * @out: the outbox
 * @chunk: whether the query was in chunk mode
 * @required: the buffer size the next SAVE needs
 * @remaining_total: the bytes of the image still to save; without @chunk, the
 * required size
 */
void mlx5vf_cmd_parse_migration_state(const void *out, bool chunk, u32 *required,
				      u64 *remaining_total)
{
	*required = MLX5_GET(query_vhca_migration_state_out, out, required_umem_size);
	*remaining_total = chunk ?
		MLX5_GET64(query_vhca_migration_state_out, out, remaining_total_size) :
		*required;
}

/**
 * mlx5vf_cmd_parse_save() - Read a SAVE_VHCA_STATE outbox.
 * @out: the outbox
 * @image_size: bytes the SAVE wrote
 * @next_required: nonzero while more chunks of the image remain
 */
void mlx5vf_cmd_parse_save(const void *out, u32 *image_size, u32 *next_required)
{
	*image_size = MLX5_GET(save_vhca_state_out, out, actual_image_size);
	*next_required = MLX5_GET(save_vhca_state_out, out, next_required_umem_size);
}

/**
 * mlx5vf_cmd_parse_alloc_pd() - Read an ALLOC_PD outbox.
 * @out: the outbox
 *
 * Return: the new protection domain's number.
 */
u32 mlx5vf_cmd_parse_alloc_pd(const void *out)
{
	return MLX5_GET(alloc_pd_out, out, pd);
}

/**
 * mlx5vf_cmd_hca_cap() - The capability page inside a QUERY_HCA_CAP outbox.
 * @out: the outbox
 *
 * Return: a pointer into @out.
 */
const void *mlx5vf_cmd_hca_cap(const void *out)
{
	return MLX5_ADDR_OF(query_hca_cap_out, out, capability);
}

/**
 * mlx5vf_cmd_parse_general_caps() - Read what migration needs of general caps.
 * @cap: a cmd_hca_cap page (QUERY_HCA_CAP's, or the PF's cached one)
 * @caps: the values read
 */
void mlx5vf_cmd_parse_general_caps(const void *cap, struct mlx5vf_cmd_general_caps *caps)
{
	caps->migration = MLX5_GET(cmd_hca_cap, cap, migration);
	caps->vhca_resource_manager = MLX5_GET(cmd_hca_cap, cap, vhca_resource_manager);
	caps->adv_virtualization = MLX5_GET(cmd_hca_cap, cap, adv_virtualization);
	caps->vhca_id = MLX5_GET(cmd_hca_cap, cap, vhca_id);
}

/**
 * mlx5vf_cmd_parse_general2_caps() - Read what migration needs of caps 2.
 * @cap: a cmd_hca_cap_2 page
 * @caps: the values read
 */
void mlx5vf_cmd_parse_general2_caps(const void *cap, struct mlx5vf_cmd_general2_caps *caps)
{
	caps->migratable = MLX5_GET(cmd_hca_cap_2, cap, migratable);
	caps->migration_multi_load = MLX5_GET(cmd_hca_cap_2, cap, migration_multi_load);
	caps->migration_tracking_state = MLX5_GET(cmd_hca_cap_2, cap, migration_tracking_state);
	caps->migration_in_chunks = MLX5_GET(cmd_hca_cap_2, cap, migration_in_chunks);
}

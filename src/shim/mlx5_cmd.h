/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Mailboxes of the mlx5 firmware commands the migration backend issues, laid
 * out with MLX5_SET over the kernel's own mlx5_ifc.h, and the outbox fields it
 * reads back. Pure functions: arguments in, mailbox out (or outbox in, values
 * out); no device, no allocation, no lock. KUnit reads every field back
 * (kunit/mlx5vf_mailbox_kunit.c); src/shim/mlx5_fw.c sends them.
 *
 * Inboxes are u32 arrays of MLX5_ST_SZ_DW(<command>_in) words that the caller
 * zeroes; builders set every field they own and leave the rest alone.
 * CREATE_MKEY's inbox grows with its translation table:
 * mlx5vf_inbox_create_mkey_len() bytes.
 *
 * Addressing: commands name the VF by vhca_id, except QUERY_HCA_CAP of another
 * function, which names it by function_id (VF index + 1 on its PF).
 */
#ifndef MLX5VF_MLX5_CMD_H
#define MLX5VF_MLX5_CMD_H

#include <linux/mlx5/device.h>
#include <linux/mlx5/mlx5_ifc.h>
#include <linux/types.h>

/* The VF with SR-IOV index vf_id, as QUERY_HCA_CAP's function_id names it. */
static inline u16 mlx5vf_cmd_vf_function_id(int vf_id)
{
	return (u16)(vf_id + 1);
}

/*
 * Whether the PF's VFs are EC VFs, named with ec_vf_function=1 by commands on
 * another function: on a BlueField's embedded CPU (ECPF) with EC SR-IOV
 * (HCA_CAP_2 ec_vf_vport_base set), as mlx5_core itself names them when it
 * sets a VF's MSI-X count. function_id stays the VF index + 1.
 */
static inline bool mlx5vf_cmd_vfs_are_ec_vfs(bool pf_is_ecpf, u16 ec_vf_vport_base)
{
	return pf_is_ecpf && ec_vf_vport_base;
}

/* QUERY_HCA_CAP, other function: general caps, current values (for vhca_id). */
void mlx5vf_inbox_query_vf_general_cap(u32 *in, u16 function_id, bool ec_vf);
/*
 * QUERY_HCA_CAP, other function: general caps 2, maximum values. The eswitch
 * manager (devlink "migratable") sets the VF's migratable bit there.
 */
void mlx5vf_inbox_query_vf_general2_cap(u32 *in, u16 function_id, bool ec_vf);

void mlx5vf_inbox_query_vhca_migration_state(u32 *in, u16 vhca_id, bool incremental, bool chunk);
/* op_mod: MLX5_SUSPEND_VHCA_IN_OP_MOD_* resp. MLX5_RESUME_VHCA_IN_OP_MOD_*. */
void mlx5vf_inbox_suspend_vhca(u32 *in, u16 vhca_id, u16 op_mod);
void mlx5vf_inbox_resume_vhca(u32 *in, u16 vhca_id, u16 op_mod);
/* va: offset into the mkey's address space (the buffer's start is 0). */
void mlx5vf_inbox_save_vhca_state(u32 *in, u16 vhca_id, bool incremental, bool set_track, u32 mkey,
				  u64 va, u32 size);
void mlx5vf_inbox_load_vhca_state(u32 *in, u16 vhca_id, u32 mkey, u64 va, u32 size);
void mlx5vf_inbox_alloc_pd(u32 *in);
void mlx5vf_inbox_dealloc_pd(u32 *in, u32 pdn);

/*
 * CREATE_MKEY over npages pages of 1 << page_shift bytes each, one MTT entry
 * per page from dma[] (page-aligned device addresses), local and remote read
 * and write, any QP. The inbox is mlx5vf_inbox_create_mkey_len(npages) bytes;
 * 0 means npages is too large for one command.
 */
size_t mlx5vf_inbox_create_mkey_len(u32 npages);
void mlx5vf_inbox_create_mkey(u32 *in, u32 pdn, const dma_addr_t *dma, u32 npages, u8 page_shift);

/*
 * Outboxes. Synchronous commands have their status checked by mlx5_core;
 * the asynchronous SAVE's completion reads it here.
 */
u8 mlx5vf_cmd_save_status(const void *out);
u32 mlx5vf_cmd_save_syndrome(const void *out);

/* QUERY_VHCA_MIGRATION_STATE. Without chunk, the remaining total is the required size. */
void mlx5vf_cmd_parse_migration_state(const void *out, bool chunk, u32 *required,
				      u64 *remaining_total);
/* SAVE_VHCA_STATE. next_required: nonzero while more chunks of the image remain. */
void mlx5vf_cmd_parse_save(const void *out, u32 *image_size, u32 *next_required);
u32 mlx5vf_cmd_parse_alloc_pd(const void *out);

/* The capability page inside a QUERY_HCA_CAP outbox. */
const void *mlx5vf_cmd_hca_cap(const void *out);

struct mlx5vf_cmd_general_caps {
	bool migration;
	bool vhca_resource_manager;
	bool adv_virtualization;
	u16 vhca_id;
};

struct mlx5vf_cmd_general2_caps {
	bool migratable;
	bool migration_multi_load;
	bool migration_tracking_state;
	bool migration_in_chunks;
};

/* cap: a cmd_hca_cap page (QUERY_HCA_CAP's, or the PF's cached one). */
void mlx5vf_cmd_parse_general_caps(const void *cap, struct mlx5vf_cmd_general_caps *caps);
/* cap: a cmd_hca_cap_2 page. */
void mlx5vf_cmd_parse_general2_caps(const void *cap, struct mlx5vf_cmd_general2_caps *caps);

#endif /* MLX5VF_MLX5_CMD_H */

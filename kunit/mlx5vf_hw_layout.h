/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the device writes for the dirty-page tracker, as byte offsets: a
 * second reading of the layouts, taken from rdma-core's infiniband/mlx5dv.h
 * (struct mlx5_cqe64, struct mlx5_err_cqe, struct mlx5_wqe_data_seg, the
 * MLX5_CQE_* opcodes), not from the kernel's headers the shim reads with.
 * KUnit writes hardware's side with these; tests/host/hw_layout_test.cpp
 * pins every number against mlx5dv.h, so a misreading on one side cannot be
 * mirrored on the other. Plain constants: the kernel and the host include it.
 * All multi-byte fields are big-endian.
 */
#ifndef MLX5VF_HW_LAYOUT_H
#define MLX5VF_HW_LAYOUT_H

/* A 64-byte CQE (mlx5dv.h struct mlx5_cqe64). */
#define MLX5VF_HW_CQE_SIZE 64
#define MLX5VF_HW_CQE_IMM 36	       /* imm_inval_pkey, 32 bits */
#define MLX5VF_HW_CQE_BYTE_CNT 44      /* 32 bits */
#define MLX5VF_HW_CQE_QPN 56	       /* sop_drop_qpn, 32 bits: QP number in the low 24 */
#define MLX5VF_HW_CQE_QPN_MASK 0xffffff
#define MLX5VF_HW_CQE_WQE_COUNTER 60   /* 16 bits */
#define MLX5VF_HW_CQE_OP_OWN 63	       /* opcode in the top nibble, owner in bit 0 */
#define MLX5VF_HW_CQE_OPCODE_SHIFT 4
#define MLX5VF_HW_CQE_OWNER_BIT 0x1

/* An error CQE (mlx5dv.h struct mlx5_err_cqe), the same 64 bytes. */
#define MLX5VF_HW_ERR_CQE_VENDOR_SYND 54
#define MLX5VF_HW_ERR_CQE_SYNDROME 55

/* CQE opcodes. */
#define MLX5VF_HW_CQE_RESP_SEND_IMM 3
#define MLX5VF_HW_CQE_REQ_ERR 13
#define MLX5VF_HW_CQE_RESP_ERR 14
#define MLX5VF_HW_CQE_INVALID 15

/* CQE syndromes of an error CQE (mlx5dv.h MLX5_CQE_SYNDROME_*). */
#define MLX5VF_HW_SYND_LOCAL_LENGTH 0x01
#define MLX5VF_HW_SYND_LOCAL_PROT 0x04

/* Doorbell records, in 32-bit words: a receive queue's counter (mlx5dv.h MLX5_RCV_DBR). */
#define MLX5VF_HW_RCV_DBR 0
/*
 * A CQ's consumer index, the low 24 bits of word 0 (rdma-core's
 * providers/mlx5 MLX5_CQ_SET_CI; mlx5dv.h has no name for it, so it is not
 * pinned).
 */
#define MLX5VF_HW_CQ_SET_CI 0
#define MLX5VF_HW_CQ_CI_MASK 0xffffff

/* A receive WQE's one scatter entry (mlx5dv.h struct mlx5_wqe_data_seg). */
#define MLX5VF_HW_DATA_SEG_SIZE 16
#define MLX5VF_HW_DATA_SEG_BYTE_COUNT 0 /* 32 bits */
#define MLX5VF_HW_DATA_SEG_LKEY 4	/* 32 bits */
#define MLX5VF_HW_DATA_SEG_ADDR 8	/* 64 bits */

#endif /* MLX5VF_HW_LAYOUT_H */

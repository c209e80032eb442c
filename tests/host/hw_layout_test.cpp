// SPDX-License-Identifier: GPL-2.0-only
// Pins kunit/mlx5vf_hw_layout.h (what KUnit writes as the device) against
// rdma-core's infiniband/mlx5dv.h (libibverbs-dev, scripts/setup): a second
// reading of the CQE and receive-WQE layouts, independent of the kernel's
// headers the shim reads with.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <gtest/gtest.h>
#include <infiniband/mlx5dv.h>

#include "../../kunit/mlx5vf_hw_layout.h"

static_assert(sizeof(struct mlx5_cqe64) == MLX5VF_HW_CQE_SIZE);
static_assert(offsetof(struct mlx5_cqe64, imm_inval_pkey) == MLX5VF_HW_CQE_IMM);
static_assert(sizeof(((struct mlx5_cqe64 *)nullptr)->imm_inval_pkey) == 4);
static_assert(offsetof(struct mlx5_cqe64, byte_cnt) == MLX5VF_HW_CQE_BYTE_CNT);
static_assert(sizeof(((struct mlx5_cqe64 *)nullptr)->byte_cnt) == 4);
static_assert(offsetof(struct mlx5_cqe64, sop_drop_qpn) == MLX5VF_HW_CQE_QPN);
static_assert(sizeof(((struct mlx5_cqe64 *)nullptr)->sop_drop_qpn) == 4);
static_assert(offsetof(struct mlx5_cqe64, wqe_counter) == MLX5VF_HW_CQE_WQE_COUNTER);
static_assert(sizeof(((struct mlx5_cqe64 *)nullptr)->wqe_counter) == 2);
static_assert(offsetof(struct mlx5_cqe64, op_own) == MLX5VF_HW_CQE_OP_OWN);

static_assert(sizeof(struct mlx5_err_cqe) == MLX5VF_HW_CQE_SIZE);
static_assert(offsetof(struct mlx5_err_cqe, vendor_err_synd) == MLX5VF_HW_ERR_CQE_VENDOR_SYND);
static_assert(offsetof(struct mlx5_err_cqe, syndrome) == MLX5VF_HW_ERR_CQE_SYNDROME);
static_assert(offsetof(struct mlx5_err_cqe, op_own) == MLX5VF_HW_CQE_OP_OWN);

static_assert(MLX5_CQE_RESP_SEND_IMM == MLX5VF_HW_CQE_RESP_SEND_IMM);
static_assert(MLX5_CQE_REQ_ERR == MLX5VF_HW_CQE_REQ_ERR);
static_assert(MLX5_CQE_RESP_ERR == MLX5VF_HW_CQE_RESP_ERR);
static_assert(MLX5_CQE_INVALID == MLX5VF_HW_CQE_INVALID);
static_assert(MLX5_CQE_OWNER_MASK == MLX5VF_HW_CQE_OWNER_BIT);
static_assert(MLX5_CQE_SYNDROME_LOCAL_LENGTH_ERR == MLX5VF_HW_SYND_LOCAL_LENGTH);
static_assert(MLX5_CQE_SYNDROME_LOCAL_PROT_ERR == MLX5VF_HW_SYND_LOCAL_PROT);
static_assert(MLX5_RCV_DBR == MLX5VF_HW_RCV_DBR);

static_assert(sizeof(struct mlx5_wqe_data_seg) == MLX5VF_HW_DATA_SEG_SIZE);
static_assert(offsetof(struct mlx5_wqe_data_seg, byte_count) == MLX5VF_HW_DATA_SEG_BYTE_COUNT);
static_assert(offsetof(struct mlx5_wqe_data_seg, lkey) == MLX5VF_HW_DATA_SEG_LKEY);
static_assert(offsetof(struct mlx5_wqe_data_seg, addr) == MLX5VF_HW_DATA_SEG_ADDR);

// The opcode and owner bit positions, through rdma-core's own accessors.
TEST(HwLayout, OpOwnAccessorsAgree)
{
	for (unsigned op : {MLX5VF_HW_CQE_RESP_SEND_IMM, MLX5VF_HW_CQE_REQ_ERR, MLX5VF_HW_CQE_RESP_ERR,
			    MLX5VF_HW_CQE_INVALID}) {
		for (unsigned owner = 0; owner < 2; owner++) {
			struct mlx5_cqe64 cqe;
			uint8_t raw[MLX5VF_HW_CQE_SIZE] = {};

			raw[MLX5VF_HW_CQE_OP_OWN] = static_cast<uint8_t>(
				op << MLX5VF_HW_CQE_OPCODE_SHIFT | (owner ? MLX5VF_HW_CQE_OWNER_BIT : 0));
			std::memcpy(&cqe, raw, sizeof(cqe));
			EXPECT_EQ(op, mlx5dv_get_cqe_opcode(&cqe));
			EXPECT_EQ(owner, mlx5dv_get_cqe_owner(&cqe));
		}
	}
}

// Big-endian fields at the mirrored offsets read back through mlx5dv.h's struct.
TEST(HwLayout, CqeFieldsReadBack)
{
	uint8_t raw[MLX5VF_HW_CQE_SIZE] = {};
	struct mlx5_cqe64 cqe;

	raw[MLX5VF_HW_CQE_BYTE_CNT + 2] = 0x10; // 0x1000
	raw[MLX5VF_HW_CQE_QPN + 1] = 0x12;
	raw[MLX5VF_HW_CQE_QPN + 3] = 0x56;
	raw[MLX5VF_HW_CQE_WQE_COUNTER] = 0xff;
	raw[MLX5VF_HW_CQE_WQE_COUNTER + 1] = 0xfe;
	raw[MLX5VF_HW_CQE_IMM] = 0x10;
	std::memcpy(&cqe, raw, sizeof(cqe));
	EXPECT_EQ(0x1000u, be32toh(cqe.byte_cnt));
	EXPECT_EQ(0x120056u, be32toh(cqe.sop_drop_qpn) & MLX5VF_HW_CQE_QPN_MASK);
	EXPECT_EQ(0xfffeu, be16toh(cqe.wqe_counter));
	EXPECT_EQ(0x10000000u, be32toh(cqe.imm_inval_pkey));
}

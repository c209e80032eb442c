/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every call the mlx5 firmware backend (mlx5_fw.c) and its dirty-page tracker
 * (mlx5_track.c) make into mlx5_core and the DMA API, in one place.
 *
 * In the module these are static inline wrappers around the real calls: the
 * compiler sees the same code as without them. The KUnit build defines
 * MLX5VF_MLX5_EMU and gets declarations of the same calls instead, which the
 * emulated PF of kunit/mlx5vf_emu.c implements: it decodes each mailbox and
 * answers it from a small VHCA model (Documentation/testing.rst).
 *
 * The dirty-page tracker (mlx5_track.c) is in the KUnit build too: the
 * emulator keeps the PAGE_TRACK object, the CQ and QPs of its report channel
 * and their memory, and writes report messages and CQEs as hardware would.
 */
#ifndef MLX5VF_MLX5_SEAM_H
#define MLX5VF_MLX5_SEAM_H

#include <linux/dma-mapping.h>
#include <linux/mlx5/cq.h>
#include <linux/mlx5/driver.h>
#include <linux/mlx5/qp.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>

#ifndef MLX5VF_MLX5_EMU

static inline int mlx5vf_seam_cmd_exec(struct mlx5_core_dev *mdev, void *in, int inlen, void *out,
				       int outlen)
{
	return mlx5_cmd_exec(mdev, in, inlen, out, outlen);
}

static inline int mlx5vf_seam_cmd_exec_cb(struct mlx5_async_ctx *ctx, void *in, int inlen,
					  void *out, int outlen, mlx5_async_cbk_t callback,
					  struct mlx5_async_work *work)
{
	return mlx5_cmd_exec_cb(ctx, in, inlen, out, outlen, callback, work);
}

static inline void mlx5vf_seam_init_async_ctx(struct mlx5_core_dev *mdev,
					      struct mlx5_async_ctx *ctx)
{
	mlx5_cmd_init_async_ctx(mdev, ctx);
}

static inline void mlx5vf_seam_cleanup_async_ctx(struct mlx5_async_ctx *ctx)
{
	mlx5_cmd_cleanup_async_ctx(ctx);
}

static inline void mlx5vf_seam_cmd_out_err(struct mlx5_core_dev *mdev, u16 opcode, u16 op_mod,
					   void *out)
{
	mlx5_cmd_out_err(mdev, opcode, op_mod, out);
}

static inline int mlx5vf_seam_create_mkey(struct mlx5_core_dev *mdev, u32 *mkey, u32 *in,
					  int inlen)
{
	return mlx5_core_create_mkey(mdev, mkey, in, inlen);
}

static inline int mlx5vf_seam_destroy_mkey(struct mlx5_core_dev *mdev, u32 mkey)
{
	return mlx5_core_destroy_mkey(mdev, mkey);
}

static inline int mlx5vf_seam_notifier_register(struct mlx5_core_dev *mdev, int vf_id,
						struct notifier_block *nb)
{
	return mlx5_sriov_blocking_notifier_register(mdev, vf_id, nb);
}

static inline void mlx5vf_seam_notifier_unregister(struct mlx5_core_dev *mdev, int vf_id,
						   struct notifier_block *nb)
{
	mlx5_sriov_blocking_notifier_unregister(mdev, vf_id, nb);
}

static inline struct mlx5_core_dev *mlx5vf_seam_get_core_dev(struct pci_dev *vf)
{
	return mlx5_vf_get_core_dev(vf);
}

static inline void mlx5vf_seam_put_core_dev(struct mlx5_core_dev *mdev)
{
	mlx5_vf_put_core_dev(mdev);
}

static inline int mlx5vf_seam_vf_index(struct pci_dev *vf)
{
	return pci_iov_vf_id(vf);
}

/* The PF's firmware version: MMIO reads of its initialization segment. */
static inline void mlx5vf_seam_fw_version(struct mlx5_core_dev *mdev, u16 *major, u16 *minor,
					  u16 *subminor)
{
	*major = fw_rev_maj(mdev);
	*minor = fw_rev_min(mdev);
	*subminor = fw_rev_sub(mdev);
}

static inline dma_addr_t mlx5vf_seam_dma_map_page(struct device *dev, struct page *page,
						  enum dma_data_direction dir)
{
	return dma_map_page(dev, page, 0, PAGE_SIZE, dir);
}

static inline int mlx5vf_seam_dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return dma_mapping_error(dev, addr);
}

static inline void mlx5vf_seam_dma_unmap_page(struct device *dev, dma_addr_t addr,
					      enum dma_data_direction dir)
{
	dma_unmap_page(dev, addr, PAGE_SIZE, dir);
}

static inline bool mlx5vf_seam_dma_need_sync(struct device *dev, dma_addr_t addr)
{
	return dma_need_sync(dev, addr);
}

/* A whole buffer's pages at once (dma_map_sgtable() sets sgt->nents). */
static inline int mlx5vf_seam_dma_map_sgtable(struct device *dev, struct sg_table *sgt,
					      enum dma_data_direction dir)
{
	return dma_map_sgtable(dev, sgt, dir, 0);
}

static inline void mlx5vf_seam_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
						 enum dma_data_direction dir)
{
	dma_unmap_sgtable(dev, sgt, dir, 0);
}

static inline void mlx5vf_seam_dma_sync_sgtable(struct device *dev, struct sg_table *sgt,
						enum dma_data_direction dir, bool for_device)
{
	if (for_device)
		dma_sync_sgtable_for_device(dev, sgt, dir);
	else
		dma_sync_sgtable_for_cpu(dev, sgt, dir);
}

/* ---- The dirty-page tracker's (mlx5_track.c) ---- */

static inline void mlx5vf_seam_dma_sync_range(struct device *dev, dma_addr_t addr, u32 offset,
					      u32 len, enum dma_data_direction dir,
					      bool for_device)
{
	if (for_device)
		dma_sync_single_range_for_device(dev, addr, offset, len, dir);
	else
		dma_sync_single_range_for_cpu(dev, addr, offset, len, dir);
}

static inline struct mlx5_uars_page *mlx5vf_seam_get_uars_page(struct mlx5_core_dev *mdev)
{
	return mlx5_get_uars_page(mdev);
}

static inline void mlx5vf_seam_put_uars_page(struct mlx5_core_dev *mdev,
					     struct mlx5_uars_page *up)
{
	mlx5_put_uars_page(mdev, up);
}

static inline int mlx5vf_seam_db_alloc_node(struct mlx5_core_dev *mdev, struct mlx5_db *db,
					    int node)
{
	return mlx5_db_alloc_node(mdev, db, node);
}

static inline void mlx5vf_seam_db_free(struct mlx5_core_dev *mdev, struct mlx5_db *db)
{
	mlx5_db_free(mdev, db);
}

static inline int mlx5vf_seam_frag_buf_alloc_node(struct mlx5_core_dev *mdev, int size,
						  struct mlx5_frag_buf *buf, int node)
{
	return mlx5_frag_buf_alloc_node(mdev, size, buf, node);
}

static inline void mlx5vf_seam_frag_buf_free(struct mlx5_core_dev *mdev,
					     struct mlx5_frag_buf *buf)
{
	mlx5_frag_buf_free(mdev, buf);
}

static inline int mlx5vf_seam_comp_eqn_get(struct mlx5_core_dev *mdev, u16 vecidx, int *eqn)
{
	return mlx5_comp_eqn_get(mdev, vecidx, eqn);
}

static inline int mlx5vf_seam_create_cq(struct mlx5_core_dev *mdev, struct mlx5_core_cq *cq,
					u32 *in, int inlen, u32 *out, int outlen)
{
	return mlx5_core_create_cq(mdev, cq, in, inlen, out, outlen);
}

static inline int mlx5vf_seam_destroy_cq(struct mlx5_core_dev *mdev, struct mlx5_core_cq *cq)
{
	return mlx5_core_destroy_cq(mdev, cq);
}

/* The arm doorbell: a doorbell-record write, then an MMIO write to the UAR. */
static inline void mlx5vf_seam_cq_arm(struct mlx5_core_cq *cq, u32 cmd, void __iomem *uar_page,
				      u32 cons_index)
{
	mlx5_cq_arm(cq, cmd, uar_page, cons_index);
}

/* qp.h's choice, which may ask mlx5_core whether RoCE is on. */
static inline int mlx5vf_seam_qp_default_ts(struct mlx5_core_dev *mdev)
{
	return mlx5_get_qp_default_ts(mdev);
}

/*
 * How long a report waits for its CQ before it looks at the tracker object
 * (poll, in jiffies). mlx5_core has no such call: the seam only lets a test
 * stretch the wait so that nothing but a wake-up can end it.
 */
static inline unsigned long mlx5vf_seam_track_poll(struct mlx5_core_dev *mdev,
						   unsigned long poll)
{
	return poll;
}

/*
 * The largest chunk the backend asks for in chunk mode; 0: the core's own
 * (8 MiB, as the in-tree driver's). mlx5_core has no such call: the seam
 * only lets a test shrink it, so that a small emulated state spans chunks.
 */
static inline u64 mlx5vf_seam_max_chunk_size(struct mlx5_core_dev *mdev)
{
	return 0;
}

static inline int mlx5vf_seam_eq_notifier_register(struct mlx5_core_dev *mdev,
						   struct mlx5_nb *nb)
{
	return mlx5_eq_notifier_register(mdev, nb);
}

static inline int mlx5vf_seam_eq_notifier_unregister(struct mlx5_core_dev *mdev,
						     struct mlx5_nb *nb)
{
	return mlx5_eq_notifier_unregister(mdev, nb);
}

#else /* MLX5VF_MLX5_EMU: the KUnit build's emulated PF (kunit/mlx5vf_emu.c) */

int mlx5vf_seam_cmd_exec(struct mlx5_core_dev *mdev, void *in, int inlen, void *out, int outlen);
int mlx5vf_seam_cmd_exec_cb(struct mlx5_async_ctx *ctx, void *in, int inlen, void *out,
			    int outlen, mlx5_async_cbk_t callback, struct mlx5_async_work *work);
void mlx5vf_seam_init_async_ctx(struct mlx5_core_dev *mdev, struct mlx5_async_ctx *ctx);
void mlx5vf_seam_cleanup_async_ctx(struct mlx5_async_ctx *ctx);
void mlx5vf_seam_cmd_out_err(struct mlx5_core_dev *mdev, u16 opcode, u16 op_mod, void *out);
int mlx5vf_seam_create_mkey(struct mlx5_core_dev *mdev, u32 *mkey, u32 *in, int inlen);
int mlx5vf_seam_destroy_mkey(struct mlx5_core_dev *mdev, u32 mkey);
int mlx5vf_seam_notifier_register(struct mlx5_core_dev *mdev, int vf_id,
				  struct notifier_block *nb);
void mlx5vf_seam_notifier_unregister(struct mlx5_core_dev *mdev, int vf_id,
				     struct notifier_block *nb);
struct mlx5_core_dev *mlx5vf_seam_get_core_dev(struct pci_dev *vf);
void mlx5vf_seam_put_core_dev(struct mlx5_core_dev *mdev);
int mlx5vf_seam_vf_index(struct pci_dev *vf);
void mlx5vf_seam_fw_version(struct mlx5_core_dev *mdev, u16 *major, u16 *minor, u16 *subminor);
dma_addr_t mlx5vf_seam_dma_map_page(struct device *dev, struct page *page,
				    enum dma_data_direction dir);
int mlx5vf_seam_dma_mapping_error(struct device *dev, dma_addr_t addr);
void mlx5vf_seam_dma_unmap_page(struct device *dev, dma_addr_t addr, enum dma_data_direction dir);
bool mlx5vf_seam_dma_need_sync(struct device *dev, dma_addr_t addr);
int mlx5vf_seam_dma_map_sgtable(struct device *dev, struct sg_table *sgt,
				enum dma_data_direction dir);
void mlx5vf_seam_dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				   enum dma_data_direction dir);
void mlx5vf_seam_dma_sync_sgtable(struct device *dev, struct sg_table *sgt,
				  enum dma_data_direction dir, bool for_device);

void mlx5vf_seam_dma_sync_range(struct device *dev, dma_addr_t addr, u32 offset, u32 len,
				enum dma_data_direction dir, bool for_device);
struct mlx5_uars_page *mlx5vf_seam_get_uars_page(struct mlx5_core_dev *mdev);
void mlx5vf_seam_put_uars_page(struct mlx5_core_dev *mdev, struct mlx5_uars_page *up);
int mlx5vf_seam_db_alloc_node(struct mlx5_core_dev *mdev, struct mlx5_db *db, int node);
void mlx5vf_seam_db_free(struct mlx5_core_dev *mdev, struct mlx5_db *db);
int mlx5vf_seam_frag_buf_alloc_node(struct mlx5_core_dev *mdev, int size,
				    struct mlx5_frag_buf *buf, int node);
void mlx5vf_seam_frag_buf_free(struct mlx5_core_dev *mdev, struct mlx5_frag_buf *buf);
int mlx5vf_seam_comp_eqn_get(struct mlx5_core_dev *mdev, u16 vecidx, int *eqn);
int mlx5vf_seam_create_cq(struct mlx5_core_dev *mdev, struct mlx5_core_cq *cq, u32 *in,
			  int inlen, u32 *out, int outlen);
int mlx5vf_seam_destroy_cq(struct mlx5_core_dev *mdev, struct mlx5_core_cq *cq);
void mlx5vf_seam_cq_arm(struct mlx5_core_cq *cq, u32 cmd, void __iomem *uar_page,
			u32 cons_index);
int mlx5vf_seam_qp_default_ts(struct mlx5_core_dev *mdev);
unsigned long mlx5vf_seam_track_poll(struct mlx5_core_dev *mdev, unsigned long poll);
u64 mlx5vf_seam_max_chunk_size(struct mlx5_core_dev *mdev);
int mlx5vf_seam_eq_notifier_register(struct mlx5_core_dev *mdev, struct mlx5_nb *nb);
int mlx5vf_seam_eq_notifier_unregister(struct mlx5_core_dev *mdev, struct mlx5_nb *nb);

#endif /* MLX5VF_MLX5_EMU */

/* mlx5_cmd_exec_inout() and mlx5_cmd_exec_in(), through the seam. */
#define mlx5vf_seam_exec_inout(mdev, ifc_cmd, in, out)                                    \
	mlx5vf_seam_cmd_exec(mdev, in, MLX5_ST_SZ_BYTES(ifc_cmd##_in), out,               \
			     MLX5_ST_SZ_BYTES(ifc_cmd##_out))
#define mlx5vf_seam_exec_in(mdev, ifc_cmd, in)                                            \
	({                                                                                \
		u32 _out[MLX5_ST_SZ_DW(ifc_cmd##_out)] = {};                              \
		mlx5vf_seam_exec_inout(mdev, ifc_cmd, in, _out);                          \
	})

#endif /* MLX5VF_MLX5_SEAM_H */

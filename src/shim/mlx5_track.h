/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The mlx5 dirty-page tracker of one VF, run on its PF's mlx5_core device
 * (src/shim/mlx5_track.c): the PAGE_TRACK object and the CQ/QP loopback
 * channel its reports arrive on. The backend of the track_* ops of
 * include/mlx5vf/fw.h; the caller serializes every call (the device's state
 * mutex) and calls only while the PF is attached.
 */
#ifndef MLX5VF_MLX5_TRACK_H
#define MLX5VF_MLX5_TRACK_H

#include <linux/types.h>

struct device;
struct mlx5_core_dev;
struct mlx5vf_fw_dirty_sink;
struct mlx5vf_fw_track_caps;
struct mlx5vf_fw_track_req;
struct mlx5vf_track;

/* The PF's tracker limits, from mlx5_core's cached capabilities. */
void mlx5vf_track_caps(struct mlx5_core_dev *mdev, struct mlx5vf_fw_track_caps *caps);

/*
 * Start tracking the writes of function vhca_id to req's ranges; req fits
 * caps (those of mlx5vf_track_caps(); the core shaped it). The ring's mkey
 * and the QPs go in protection domain pdn, which the caller holds until
 * mlx5vf_track_destroy(). dev names the VF in messages. Returns the tracker
 * or an ERR_PTR. On failure, *pd_busy says whether firmware kept objects of
 * the failed setup in pdn (their destroy failed): the caller must then leak
 * its PD rather than deallocate it.
 */
struct mlx5vf_track *mlx5vf_track_create(struct mlx5_core_dev *mdev, struct device *dev,
					 u16 vhca_id, u32 pdn,
					 const struct mlx5vf_fw_track_caps *caps,
					 const struct mlx5vf_fw_track_req *req, bool *pd_busy);

/*
 * Stop tracking and release everything. False if firmware kept objects in
 * the caller's PD (a DESTROY failed): the caller must leak the PD. What those
 * objects can still write to (the ring, the queues) leaks with them.
 */
bool mlx5vf_track_destroy(struct mlx5vf_track *t);

/*
 * Report and clear the dirty pages of [iova, iova + length): calls
 * mlx5vf_core_fw_report_dirty(sink, page) once per dirty page firmware
 * reports. An error breaks the tracker: every later report fails with -EIO.
 */
int mlx5vf_track_report(struct mlx5vf_track *t, u64 iova, u64 length,
			struct mlx5vf_fw_dirty_sink *sink);

/*
 * Make a running report return -ECANCELED at once, and every later one:
 * for a PF that is taking the VF away. Any context; t stays the caller's.
 */
void mlx5vf_track_abort(struct mlx5vf_track *t);

#endif /* MLX5VF_MLX5_TRACK_H */

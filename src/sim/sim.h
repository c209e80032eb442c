/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mlx5vf_sim: a simulated migratable VF. Any PCI function bound to this
 * driver through driver_override becomes a VFIO device of mlx5vf.ko, and
 * every mdev instance of its parent a VFIO device of this module; either way
 * the migration firmware is the core's simulated VHCA, plugged in through
 * mlx5vf.ko's backend API (struct mlx5vf_backend_ops). All state below is
 * guarded by the device's state mutex (mlx5vf_state_lock).
 */
#ifndef MLX5VF_SIM_VF_H
#define MLX5VF_SIM_VF_H

#include <linux/workqueue.h>

#include <mlx5vf/sim.h>

#include "../shim/mlx5vf.h"

struct mlx5vf_sim_vf {
	struct mlx5vf_device *mvdev;
	struct mlx5vf_sim *sim;
	struct delayed_work complete_work; /* delivers the pending SAVE completion */
	struct delayed_work activity_work; /* the function writes its state */
	u64 due_ns;                        /* when the pending completion is due */
	bool armed;                        /* a completion is scheduled */
	/*
	 * The function's DMA into guest memory: where the "guest driver" posted
	 * buffers (set through debugfs), whether the device is open (so VFIO has
	 * an address space to write through), and the data of one write.
	 */
	u64 dma_window;
	u64 dma_window_len; /* 0: the function writes nothing */
	bool dma_open;
	void *dma_buf;
	u64 dma_errors;     /* writes VFIO refused (window not mapped) */
	u64 dma_error_iova; /* the last one's address and errno */
	int dma_error;
};

static inline struct mlx5vf_sim_vf *mlx5vf_sim_vf(struct mlx5vf_device *mvdev)
{
	return mvdev->backend_priv;
}

/* What a simulated function looks like to the migration stream and its firmware. */
struct mlx5vf_sim_shape {
	u16 vendor, device;   /* the COMPAT record's PCI IDs */
	u64 seed;             /* of its pseudo-random state and activity */
	unsigned int state_kib;
	bool chunk_mode;
	bool page_tracker;    /* its firmware can track dirty pages (VFIO DMA logging) */
};

/* vf.c: the backend */
int mlx5vf_sim_setup(struct mlx5vf_device *mvdev, const struct mlx5vf_sim_shape *shape);
int mlx5vf_sim_setup_pci(struct mlx5vf_device *mvdev);
void mlx5vf_sim_teardown(struct mlx5vf_device *mvdev);
void mlx5vf_sim_open(struct mlx5vf_device *mvdev);
void mlx5vf_sim_close(struct mlx5vf_device *mvdev);
int mlx5vf_sim_inject(struct mlx5vf_device *mvdev, const char *op, unsigned int nth,
		      const char *fault);
int mlx5vf_sim_reconfigure(struct mlx5vf_device *mvdev, u64 pages);
int mlx5vf_sim_set_dma_window(struct mlx5vf_device *mvdev, u64 iova, u64 length);

/* debugfs.c */
void mlx5vf_sim_debugfs(struct mlx5vf_device *mvdev, struct dentry *dir);

/* mdev.c: the mdev parent and its instances */
int mlx5vf_sim_mdev_init(void);
void mlx5vf_sim_mdev_exit(void);

#endif /* MLX5VF_SIM_VF_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared state of the mlx5vf shim. One struct mlx5vf_pci_dev per bound VF.
 *
 * Locking: state_mutex serialises every call into the core for this device
 * (arcs, data_fd reads/writes/ioctls, the simulated firmware and its work
 * items). Readers sleep on mig_wq without it. reset_lock and deferred_reset
 * implement the deferred reset: reset_done() cannot wait for state_mutex,
 * whose holders may be faulting in user pages.
 */
#ifndef MLX5VF_SHIM_H
#define MLX5VF_SHIM_H

#include <linux/debugfs.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/vfio_pci_core.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include <mlx5vf/mig.h>

#include "compat.h"

struct mlx5vf_mig_file;
struct mlx5vf_mlx5;

/* The simulated firmware's clock: completions and device activity. */
struct mlx5vf_sim_backend {
	struct mlx5vf_sim *sim;
	struct delayed_work complete_work; /* delivers the pending SAVE completion */
	struct delayed_work activity_work; /* the function writes its state */
	u64 due_ns;                        /* when the pending completion is due */
	bool armed;                        /* a completion is scheduled */
	u64 saved_checksum;                /* state when STOP_COPY was entered */
	u64 loaded_checksum;               /* state when RESUMING was left */
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

struct mlx5vf_pci_dev {
	struct vfio_pci_core_device core;
	struct mutex state_mutex; /* the core device, its files, the sim */
	spinlock_t reset_lock;    /* deferred_reset */
	bool deferred_reset;     /* guarded by reset_lock */
	struct mlx5vf_dev *mig;  /* NULL: migration is off (or the VF is gone) */
	struct mlx5vf_mlx5 *mlx5; /* the mlx5 firmware backend, if any */
	struct mlx5vf_sim_backend simb;
	struct mlx5vf_mig_file *saving;   /* attached data_fds; the device holds */
	struct mlx5vf_mig_file *resuming; /* a reference on each */
	wait_queue_head_t mig_wq;         /* readers and pollers of the data_fds */
	/* The PRECOPY_INFOv2 opt-in where the VFIO core lacks it (compat.h). */
	bool precopy_info_v2;
	struct dentry *debugfs;
};

/* One data_fd. It pins its device (get_device) for as long as it lives. */
struct mlx5vf_mig_file {
	struct file *filp;
	struct mlx5vf_pci_dev *mvdev;
	struct mlx5vf_save_file *save;     /* exactly one of save/resume */
	struct mlx5vf_resume_file *resume;
};

static inline struct mlx5vf_pci_dev *to_mlx5vf(struct vfio_device *vdev)
{
	return container_of(vdev, struct mlx5vf_pci_dev, core.vdev);
}

/* main.c */
u64 mlx5vf_max_image_size(void);

/* mig.c */
extern const struct vfio_migration_ops mlx5vf_mig_ops;
int mlx5vf_device_feature(struct vfio_device *vdev, u32 flags, void __user *arg, size_t argsz);
void mlx5vf_state_mutex_lock(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_state_mutex_unlock(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_mig_reset_done(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_mig_open(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_mig_close(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_sync_files(struct mlx5vf_pci_dev *mvdev);

bool mlx5vf_precopy_v2(struct mlx5vf_pci_dev *mvdev);

/* mig_file.c */
struct file *mlx5vf_mig_file_open(struct mlx5vf_pci_dev *mvdev, struct mlx5vf_mig_file *mf,
				  struct mlx5vf_save_file *save, struct mlx5vf_resume_file *resume);

/* sim.c */
int mlx5vf_sim_init(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_sim_uninit(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_sim_after_arc(struct mlx5vf_pci_dev *mvdev, enum mlx5vf_mig_state from,
			  enum mlx5vf_mig_state to);
extern const struct mlx5vf_dev_ops mlx5vf_sim_dev_ops;
int mlx5vf_sim_inject(struct mlx5vf_pci_dev *mvdev, const char *op, unsigned int nth,
		      const char *fault);
int mlx5vf_sim_reconfigure(struct mlx5vf_pci_dev *mvdev, u64 pages);
int mlx5vf_sim_set_dma_window(struct mlx5vf_pci_dev *mvdev, u64 iova, u64 length);
void mlx5vf_sim_dma_enable(struct mlx5vf_pci_dev *mvdev, bool open);

/* dirty.c */
const char *mlx5vf_dirty_setup(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_dirty_close(struct mlx5vf_pci_dev *mvdev);

/* trace.c: the core's clock and events (ctx: the struct mlx5vf_pci_dev) */
extern const struct mlx5vf_observer_ops mlx5vf_observer_ops;

/* debugfs.c */
void mlx5vf_debugfs_init(void);
void mlx5vf_debugfs_exit(void);
void mlx5vf_debugfs_add(struct mlx5vf_pci_dev *mvdev);
void mlx5vf_debugfs_remove(struct mlx5vf_pci_dev *mvdev);

#endif /* MLX5VF_SHIM_H */

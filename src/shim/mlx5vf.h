/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared state of the mlx5vf shim. One struct mlx5vf_device per VFIO device
 * that mlx5vf migrates: a VF this module binds (struct mlx5vf_pci_dev), or a
 * device of a backend in another module (the simulator's mdev instances),
 * which embeds it in its own VFIO device.
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

struct iova_bitmap;
struct mlx5vf_mig_file;
struct mlx5vf_mlx5;
struct rb_root_cached;

struct mlx5vf_device;

/*
 * A firmware backend in another module: the simulated VF (mlx5vf_sim.ko),
 * for the devices it binds through mlx5vf_pci_bind(). setup creates the core
 * device (mlx5vf_mig_dev_create) or fails the bind; teardown undoes it when
 * the last reference to the device goes, which a data_fd can delay past the
 * unbind (so the backend's module stays pinned while data_fds live).
 * open/close run under the state mutex; debugfs may add files to the
 * device's directory.
 */
struct mlx5vf_backend_ops {
	struct module *owner;
	int (*setup)(struct mlx5vf_device *mvdev);
	void (*teardown)(struct mlx5vf_device *mvdev);
	void (*open)(struct mlx5vf_device *mvdev);
	void (*close)(struct mlx5vf_device *mvdev);
	void (*debugfs)(struct mlx5vf_device *mvdev, struct dentry *dir);
};

struct mlx5vf_device {
	struct vfio_device *vdev; /* the VFIO device it migrates */
	struct device *dev;       /* its device (the PCI function, the mdev): names, logs */
	struct mutex state_mutex; /* the core device, its files, the sim */
	spinlock_t reset_lock;    /* deferred_reset */
	bool deferred_reset;     /* guarded by reset_lock */
	struct mlx5vf_dev *mig;  /* NULL: migration is off (or the VF is gone) */
	struct mlx5vf_mlx5 *mlx5; /* the mlx5 firmware backend, if any */
	const struct mlx5vf_backend_ops *backend; /* ... or one in another module */
	/* The embedding type's DMA logging forwarders (NULL: none in this kernel). */
	const struct vfio_log_ops *log_ops;
	void *backend_priv;			  /* that backend's own state */
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
	struct mlx5vf_device *mvdev;
	struct mlx5vf_save_file *save;     /* exactly one of save/resume */
	struct mlx5vf_resume_file *resume;
};

/* A VF bound to this module (main.c), or through mlx5vf_pci_bind(). */
struct mlx5vf_pci_dev {
	struct vfio_pci_core_device core;
	struct mlx5vf_device mvdev;
};

static inline struct mlx5vf_device *to_mlx5vf(struct vfio_device *vdev)
{
	return &container_of(vdev, struct mlx5vf_pci_dev, core.vdev)->mvdev;
}

/* main.c; the API for backends in other modules (namespace MLX5VF) */
int mlx5vf_pci_bind(struct pci_dev *pdev, const struct mlx5vf_backend_ops *backend);
void mlx5vf_pci_unbind(struct pci_dev *pdev);
extern const struct pci_error_handlers mlx5vf_pci_err_handlers;
u64 mlx5vf_max_image_size(void);
bool mlx5vf_accept_fw_build_mismatch(void);

/*
 * mig.c. A VFIO device of another module embeds a struct mlx5vf_device:
 * mlx5vf_device_init() once, mlx5vf_device_attach() to give it a backend
 * (which sets the device's migration_flags and, where the backend's firmware
 * tracks dirty pages, its DMA logging ops), and its vfio_migration_ops and
 * device_feature op forward to mlx5vf_mig_set_state() and the rest.
 */
void mlx5vf_device_init(struct mlx5vf_device *mvdev, struct vfio_device *vdev,
			const struct vfio_log_ops *log_ops);
void mlx5vf_device_destroy(struct mlx5vf_device *mvdev);
int mlx5vf_device_attach(struct mlx5vf_device *mvdev, const struct mlx5vf_backend_ops *backend);
void mlx5vf_device_release(struct mlx5vf_device *mvdev);
void mlx5vf_device_offer(struct mlx5vf_device *mvdev);
struct file *mlx5vf_mig_set_state(struct mlx5vf_device *mvdev, enum vfio_device_mig_state state);
int mlx5vf_mig_get_state(struct mlx5vf_device *mvdev, enum vfio_device_mig_state *state);
int mlx5vf_mig_get_data_size(struct mlx5vf_device *mvdev, unsigned long *stop_copy_length);
int mlx5vf_mig_device_feature(struct mlx5vf_device *mvdev, u32 flags, void __user *arg,
			      size_t argsz);
void mlx5vf_state_lock(struct mlx5vf_device *mvdev);
void mlx5vf_state_unlock(struct mlx5vf_device *mvdev);
void mlx5vf_mig_reset_done(struct mlx5vf_device *mvdev);
void mlx5vf_mig_open(struct mlx5vf_device *mvdev);
void mlx5vf_mig_close(struct mlx5vf_device *mvdev);
void mlx5vf_mig_file_closed(void *ctx, struct mlx5vf_save_file *save,
			    struct mlx5vf_resume_file *resume);
int mlx5vf_mig_dev_create(struct mlx5vf_device *mvdev, struct mlx5vf_dev_config *cfg);
void mlx5vf_mig_dev_destroy(struct mlx5vf_device *mvdev);
void mlx5vf_mig_close_files(struct mlx5vf_device *mvdev);

bool mlx5vf_precopy_v2(struct mlx5vf_device *mvdev);

/* mig_file.c */
struct file *mlx5vf_mig_file_open(struct mlx5vf_device *mvdev, struct mlx5vf_mig_file *mf,
				  struct mlx5vf_save_file *save, struct mlx5vf_resume_file *resume);

/* dirty.c */
void mlx5vf_dirty_offer(struct mlx5vf_device *mvdev);
#ifdef MLX5VF_HAVE_IOVA_BITMAP
int mlx5vf_dirty_log_start(struct mlx5vf_device *mvdev, struct rb_root_cached *ranges, u32 nnodes,
			   u64 *page_size);
int mlx5vf_dirty_log_stop(struct mlx5vf_device *mvdev);
int mlx5vf_dirty_log_read_and_clear(struct mlx5vf_device *mvdev, unsigned long iova,
				    unsigned long length, struct iova_bitmap *dirty);
#endif
const char *mlx5vf_dirty_summary(const struct mlx5vf_device *mvdev);
void mlx5vf_dirty_close(struct mlx5vf_device *mvdev);

/* trace.c: the core's clock and events (ctx: the struct mlx5vf_device) */
extern const struct mlx5vf_observer_ops mlx5vf_observer_ops;

/* debugfs.c */
void mlx5vf_debugfs_init(void);
void mlx5vf_debugfs_exit(void);
void mlx5vf_debugfs_add(struct mlx5vf_device *mvdev);
void mlx5vf_debugfs_remove(struct mlx5vf_device *mvdev);

#endif /* MLX5VF_SHIM_H */

/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The core's migration objects as the shim sees them: opaque handles and
 * plain C calls (see abi.h for the conventions). Every function returning int
 * returns 0 or a negative errno; long-returning I/O calls return a byte count
 * or a negative errno.
 *
 * Locking the shim provides (the core takes none):
 *  - dev_*: the device's state mutex;
 *  - save_read, resume calls: the file's mutex (resume_write also needs the
 *    state mutex, as LOAD is a firmware command);
 *  - save_readable / save_in_flight: no lock (for poll and wait queues);
 */
#ifndef MLX5VF_MIG_H
#define MLX5VF_MIG_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mlx5vf_dev;
struct mlx5vf_save_file;
struct mlx5vf_resume_file;
struct mlx5vf_fw_ops;

/* A cursor over a user buffer; each call advances it. */
struct mlx5vf_user_io {
	int (*to_user)(struct mlx5vf_user_io *io, const void *src, size_t len);
	int (*from_user)(struct mlx5vf_user_io *io, void *dst, size_t len);
	int (*skip)(struct mlx5vf_user_io *io, size_t len);
};

/* What must match between source and destination (the stream's COMPAT record). */
struct mlx5vf_compat_info {
	uint16_t pci_vendor_id;
	uint16_t pci_device_id;
	uint32_t vhca_state_format;
	uint64_t fw_identity;
};

struct mlx5vf_dev_ops {
	/*
	 * Sleep until the file's in-flight SAVE has completed, under the state
	 * mutex. interruptible (a user's state change): 0, or -ERESTARTSYS on
	 * a signal with the SAVE still in flight. Otherwise (release, reset,
	 * remove, PF detach) return 0 only once the completion has run, however
	 * long the command interface takes to deliver it (it always does, if
	 * need be by force): until then the SAVE owns its buffer.
	 */
	int (*wait_save_idle)(void *ctx, struct mlx5vf_save_file *file, bool interruptible);
};

/*
 * Firmware commands as the observer sees them (enum mlx5vf_fw_cmd_kind) and
 * what the core tells its observer as it happens. The shim implements these
 * as tracepoints; every callback may be called with the state mutex held,
 * and fw_cmd also from a SAVE's completion context (atomic), so none may
 * sleep. now_ns is the core's only clock (monotonic nanoseconds).
 */
enum mlx5vf_fw_cmd_kind {
	MLX5VF_FW_CMD_QUERY = 0,
	MLX5VF_FW_CMD_SUSPEND = 1,
	MLX5VF_FW_CMD_RESUME = 2,
	MLX5VF_FW_CMD_SAVE = 3,
	MLX5VF_FW_CMD_LOAD = 4,
	MLX5VF_FW_CMD_TRACK_START = 5,
	MLX5VF_FW_CMD_TRACK_REPORT = 6,
};

struct mlx5vf_fw_cmd_info {
	uint32_t kind;	       /* enum mlx5vf_fw_cmd_kind */
	uint32_t op_mod;       /* SUSPEND/RESUME op_mod, SAVE kind, QUERY flags */
	uint64_t bytes;	       /* SAVE: image bytes written; LOAD: bytes loaded; QUERY: size */
	uint64_t duration_ns;  /* SAVE: submission to completion */
	int32_t err;	       /* 0 or a negative errno */
	uint32_t status;       /* SAVE: enum mlx5vf_fw_status */
	uint32_t syndrome;     /* SAVE: the firmware's syndrome of a failure (mlx5), or 0 */
};

struct mlx5vf_observer_ops {
	uint64_t (*now_ns)(void *ctx);
	/* One single arc of the state machine (a set_state walks several). */
	void (*arc)(void *ctx, uint32_t from, uint32_t to, uint64_t duration_ns, int err);
	void (*fw_cmd)(void *ctx, const struct mlx5vf_fw_cmd_info *info);
	/* A stream record queued for the reader (save) or parsed (resume). */
	void (*record)(void *ctx, bool save, uint32_t tag, uint64_t length);
	/*
	 * The device closed (detached) a file it had handed out: exactly one of
	 * save and resume, once per file, on whatever path closed it (an arc,
	 * reset, close_files, a failed set_state, forget_save/forget_resume of
	 * an attached file, destroy). The file object stays the caller's until
	 * it destroys it. The shim drops the data_fd's device reference here.
	 */
	void (*file_closed)(void *ctx, struct mlx5vf_save_file *save,
			    struct mlx5vf_resume_file *resume);
};

/*
 * Migration statistics, owned by the core. Bytes are data_fd bytes
 * (headers included). A migration starts when the device leaves RUNNING,
 * or when a second data_fd opens without RUNNING in between; "last" then
 * starts from zero. "total" counts since the device was created (bind).
 */
struct mlx5vf_mig_counters {
	uint64_t migrations;	     /* saving or resuming files opened */
	uint64_t precopy_bytes;	     /* read in PRE_COPY / PRE_COPY_P2P */
	uint64_t stop_copy_bytes;    /* read after the arc to STOP_COPY */
	uint64_t resume_bytes;	     /* written to the resuming data_fd */
	uint64_t precopy_rounds;     /* incremental SAVEs started by PRECOPY_INFO */
	uint64_t save_chunks;	     /* FW_DATA records queued (one per SAVE with data) */
	uint64_t load_chunks;	     /* LOAD commands issued */
	uint64_t records_written;    /* save side, every record type */
	uint64_t records_read;	     /* resume side, every record type */
	uint64_t suspend_ns;	     /* time in SUSPEND_VHCA commands */
	uint64_t save_ns;	     /* SAVE submission to completion */
	uint64_t load_ns;	     /* time in LOAD_VHCA_STATE commands */
	uint64_t stop_copy_to_end_ns; /* STOP_COPY arc to the stream's end being read */
	int32_t last_error;	     /* last failed firmware command: errno (0: none) */
	uint32_t last_error_cmd;     /* ... its enum mlx5vf_fw_cmd_kind */
	uint32_t last_error_status;  /* ... SAVE: enum mlx5vf_fw_status */
	uint32_t last_error_syndrome; /* ... SAVE: the firmware's syndrome (mlx5), or 0 */
};

struct mlx5vf_mig_stats {
	struct mlx5vf_mig_counters last;  /* the current or last migration */
	struct mlx5vf_mig_counters total; /* since bind */
};

struct mlx5vf_dev_config {
	/* The firmware backend (include/mlx5vf/fw.h): mlx5, or the simulated VF. */
	const struct mlx5vf_fw_ops *fw_ops;
	void *fw_ctx;
	const struct mlx5vf_dev_ops *ops;
	void *ops_ctx;
	struct mlx5vf_compat_info compat;
	uint32_t features;       /* MLX5VF_MIG_FEATURE_* */
	uint64_t max_chunk_size; /* 0: the default (8 MiB) */
	/*
	 * The largest device image (FW_DATA record) a resuming file loads;
	 * larger ones fail the write with -EOVERFLOW. 0: the format's limit
	 * (4 GiB - 1, a LOAD's 32-bit size).
	 */
	uint64_t max_image_size;
	/*
	 * A resuming file loads a stream whose COMPAT record differs from
	 * ours only in the firmware build (the low 32 bits of fw_identity),
	 * with one warning; false: it is refused with -EPROTONOSUPPORT.
	 */
	bool accept_fw_build_mismatch;
	const struct mlx5vf_observer_ops *obs; /* NULL: no clock, no events */
	void *obs_ctx;
};

int mlx5vf_core_dev_create(const struct mlx5vf_dev_config *cfg, struct mlx5vf_dev **out);
void mlx5vf_core_dev_destroy(struct mlx5vf_dev *dev);
/* What the device offers (MLX5VF_MIG_FEATURE_*): VFIO's migration_flags. */
uint32_t mlx5vf_core_dev_features(const struct mlx5vf_dev *dev);
enum mlx5vf_mig_state mlx5vf_core_dev_state(const struct mlx5vf_dev *dev);
/*
 * Walk to target. A file opened by the final arc is returned in *save or
 * *resume (the caller owns it). owner is stored in a saving file and carried
 * by each of its SAVE requests (fw.h, struct mlx5vf_fw_save_req), for the
 * backend to pin it while that SAVE is in flight. On error the device stays
 * in the last state reached and its files are closed.
 */
int mlx5vf_core_dev_set_state(struct mlx5vf_dev *dev, uint32_t target, void *owner,
			      struct mlx5vf_save_file **save, struct mlx5vf_resume_file **resume);
int mlx5vf_core_dev_data_size(struct mlx5vf_dev *dev, uint64_t *size);
/*
 * VFIO_MIG_GET_PRECOPY_INFO. v2: userspace opted in to PRECOPY_INFOv2; then
 * *flags may carry MLX5VF_PRECOPY_INFO_REINIT, else it is always 0.
 */
int mlx5vf_core_dev_precopy_info(struct mlx5vf_dev *dev, struct mlx5vf_save_file *file, bool v2,
				 uint32_t *flags, uint64_t *initial, uint64_t *dirty);
long mlx5vf_core_dev_resume_write(struct mlx5vf_dev *dev, struct mlx5vf_resume_file *file,
				  struct mlx5vf_user_io *io, size_t len);
/* Under the state mutex. */
void mlx5vf_core_dev_stats(const struct mlx5vf_dev *dev, struct mlx5vf_mig_stats *st);
void mlx5vf_core_dev_reset(struct mlx5vf_dev *dev);
void mlx5vf_core_dev_close_files(struct mlx5vf_dev *dev);
void mlx5vf_core_dev_detach(struct mlx5vf_dev *dev);
void mlx5vf_core_dev_attach(struct mlx5vf_dev *dev);
/* Any value: a state's name, or a placeholder for a value that is none. */
const char *mlx5vf_core_mig_state_name(uint32_t state);
/* The fd is being released: detach the file if it is still attached. */
void mlx5vf_core_dev_forget_save(struct mlx5vf_dev *dev, struct mlx5vf_save_file *file);
void mlx5vf_core_dev_forget_resume(struct mlx5vf_dev *dev, struct mlx5vf_resume_file *file);

/*
 * VFIO DMA logging (device dirty tracking), under the state mutex. start
 * takes the ranges in any order and returns the page size in use; report
 * sets the dirty bytes of [iova, iova + length) through bm->set() and
 * clears them on the device. After a tracker error every report fails with
 * -EIO until stop + start.
 */
struct mlx5vf_dirty_bitmap {
	void (*set)(struct mlx5vf_dirty_bitmap *bm, uint64_t iova, uint64_t length);
};

struct mlx5vf_log_status {
	bool active;
	uint64_t page_size;
	uint32_t nr_ranges; /* after combining */
	uint64_t reports;
	uint64_t pages_reported;
	const char *error; /* why the last request failed or the tracker latched; NULL: none */
};

bool mlx5vf_core_dev_log_supported(const struct mlx5vf_dev *dev);
int mlx5vf_core_dev_log_start(struct mlx5vf_dev *dev, const struct mlx5vf_iova_range *ranges,
			      uint32_t nr_ranges, uint64_t *page_size);
void mlx5vf_core_dev_log_stop(struct mlx5vf_dev *dev);
int mlx5vf_core_dev_log_report(struct mlx5vf_dev *dev, uint64_t iova, uint64_t length,
			       struct mlx5vf_dirty_bitmap *bm);
void mlx5vf_core_dev_log_status(const struct mlx5vf_dev *dev, struct mlx5vf_log_status *st);

/* Bytes read, 0 at the end, -ENOMSG, -EAGAIN (block or return it), -ENODEV, -EFAULT. */
long mlx5vf_core_save_read(struct mlx5vf_save_file *file, struct mlx5vf_user_io *io, size_t len);
bool mlx5vf_core_save_readable(const struct mlx5vf_save_file *file);
bool mlx5vf_core_save_in_flight(const struct mlx5vf_save_file *file);
void mlx5vf_core_save_destroy(struct mlx5vf_save_file *file);
/* Why the stream was refused (NULL if it was not) and at which stream offset. */
const char *mlx5vf_core_resume_error(const struct mlx5vf_resume_file *file, uint64_t *offset);
void mlx5vf_core_resume_destroy(struct mlx5vf_resume_file *file);

#ifdef __cplusplus
}
#endif

#endif /* MLX5VF_MIG_H */

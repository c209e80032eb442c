/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The firmware seam as a C ABI: an ops table that a firmware backend in the
 * shim implements (the mlx5 backend, src/shim/mlx5_fw.c) and that the core
 * adapts to its Firmware interface (src/core/shim_firmware.cpp, contract in
 * src/core/firmware.h). Conventions as in abi.h: an int result is 0 or a
 * negative errno; types are the compiler's own, valid in C and C++.
 *
 * Contexts:
 *  - every op runs in process context with the device's state mutex held and
 *    may sleep, except that alloc_buffer must not sleep when asked for an
 *    MLX5VF_ALLOC_ATOMIC buffer (a backend that cannot do that fails it);
 *  - save() only submits. For every save() that returned 0 the backend calls
 *    mlx5vf_core_fw_save_done() exactly once, from its completion context,
 *    which may be atomic; for a save() that failed, never;
 *  - at most one save is in flight per device (the core guarantees it, the
 *    adapter checks it).
 *
 * Fields the backend fills that C++ reads are plain unsigned ints, so that
 * any value a C backend stores is well defined on the C++ side.
 *
 * Buffers: the backend owns the memory and describes it with a struct
 * mlx5vf_fw_buffer that stays valid and unchanged until free_buffer(). The
 * CPU sees it as segment_count pieces of segment_size bytes (the last one
 * may be shorter); firmware sees it through fw_key (mlx5: an MTT mkey).
 * Between commands the CPU owns the contents; the backend makes them
 * visible to the device before a command and to the CPU after it.
 *
 * Dirty-page tracking (VFIO DMA logging): the core validates and shapes the
 * request (ranges combined to max_ranges, page size clamped, address space
 * checked) before track_start(), so a backend receives only requests that
 * fit its caps. track_report() reports and clears: the backend calls
 * mlx5vf_core_fw_report_dirty() once per dirty page it read, then returns;
 * an error return means the tracker is broken (the core latches it until
 * the next track_start). track_* ops run in process context under the state
 * mutex and may sleep. A device with max_ranges == 0 cannot track.
 */
#ifndef MLX5VF_FW_H
#define MLX5VF_FW_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

enum mlx5vf_fw_dir {
	MLX5VF_FW_DIR_FROM_DEVICE = 0, /* SAVE target: firmware writes, CPU reads */
	MLX5VF_FW_DIR_TO_DEVICE = 1,   /* LOAD source: CPU writes, firmware reads */
};

/*
 * op_mod of SUSPEND_VHCA and RESUME_VHCA. The initiator side stops the
 * function issuing DMA (RUNNING_P2P), the responder side stops it answering
 * too (STOP). The two commands number the sides the other way round; the
 * values mirror mlx5_ifc.h and are pinned against it in src/shim/mlx5_cmd.c,
 * the core's side-to-op_mod mapping in src/core/shim_firmware.h.
 */
enum mlx5vf_fw_suspend_op_mod {
	MLX5VF_FW_SUSPEND_INITIATOR = 0,
	MLX5VF_FW_SUSPEND_RESPONDER = 1,
};

enum mlx5vf_fw_resume_op_mod {
	MLX5VF_FW_RESUME_RESPONDER = 0,
	MLX5VF_FW_RESUME_INITIATOR = 1,
};

/* QUERY_VHCA_MIGRATION_STATE: what the size is asked for. */
enum mlx5vf_fw_query_flag {
	MLX5VF_FW_QUERY_INCREMENTAL = 1u << 0, /* changes since the last tracked save */
	MLX5VF_FW_QUERY_CHUNK = 1u << 1,       /* report remaining_total (chunk mode) */
	MLX5VF_FW_QUERY_CLEANUP = 1u << 2,     /* for the save that abandons precopy */
};

enum mlx5vf_fw_save_kind {
	MLX5VF_FW_SAVE_FULL = 0,
	MLX5VF_FW_SAVE_INCREMENTAL = 1,
	MLX5VF_FW_SAVE_CLEANUP = 2, /* precopy abandoned: tracking released, image discarded */
};

enum mlx5vf_fw_status {
	MLX5VF_FW_STATUS_OK = 0,
	MLX5VF_FW_STATUS_BAD_RESOURCE_STATE = 1, /* precopy tracking lost */
	MLX5VF_FW_STATUS_FAILED = 2,		 /* any other firmware or transport error */
	MLX5VF_FW_STATUS_DETACHED = 3,		 /* the PF went away meanwhile */
	MLX5VF_FW_STATUS_TIMED_OUT = 4,		 /* forced completion: the device may still write */
};

/*
 * QUERY_VHCA_MIGRATION_STATE's migration_state field, mirroring mlx5_ifc.h
 * (pinned in src/shim/mlx5_cmd.c where the kernel has it). Init: new initial
 * state appeared during precopy (a reconfiguration).
 */
enum mlx5vf_fw_mig_state {
	MLX5VF_FW_MIG_STATE_UNINITIALIZED = 0,
	MLX5VF_FW_MIG_STATE_IDLE = 1,
	MLX5VF_FW_MIG_STATE_READY = 2,
	MLX5VF_FW_MIG_STATE_DIRTY = 3,
	MLX5VF_FW_MIG_STATE_INIT = 4,
};

struct mlx5vf_fw_caps {
	bool precopy;	 /* tracking and multiple loads */
	bool chunk_mode; /* images may span several SAVEs */
	unsigned int max_image_size;
	bool migration_state; /* queries report enum mlx5vf_fw_mig_state */
};

struct mlx5vf_fw_state_size {
	unsigned int required;		     /* smallest buffer for the next SAVE */
	unsigned long long remaining_total; /* whole remaining image (chunk mode) */
	unsigned int migration_state;	     /* enum mlx5vf_fw_mig_state, if caps say so */
};

struct mlx5vf_fw_buffer {
	unsigned char *const *segments; /* segment_count CPU addresses */
	unsigned int segment_count;
	unsigned int segment_size;
	unsigned long long capacity;	/* at least the size asked for */
	unsigned int fw_key;		/* firmware's handle: the mkey */
	unsigned int dir;		/* enum mlx5vf_fw_dir */
};

struct mlx5vf_fw_save_req {
	struct mlx5vf_fw_buffer *buffer;
	/*
	 * The owner of the file the image is for (set_state's owner): what the
	 * backend pins while the SAVE is in flight, so that it never asks the
	 * core which file is saving. The shim's struct mlx5vf_mig_file.
	 */
	void *owner;
	enum mlx5vf_fw_save_kind kind;
	bool track; /* start or keep tracking changes for a later incremental save */
};

struct mlx5vf_fw_save_result {
	unsigned int status;	    /* enum mlx5vf_fw_status */
	unsigned int image_size;    /* bytes written from the buffer's start */
	unsigned int next_required; /* chunk mode: nonzero while the image goes on */
	unsigned int syndrome;	    /* a failed command's firmware syndrome, or 0 */
};

struct mlx5vf_fw_track_caps {
	unsigned int max_ranges; /* 0: no dirty-page tracking */
	unsigned int log_min_page_size;
	unsigned int log_max_page_size;
	unsigned int log_min_addr_space;
	unsigned int log_max_addr_space;
	unsigned int log_min_msg_size; /* report message sizes (mlx5 only; sim: 0) */
	unsigned int log_max_msg_size;
};

struct mlx5vf_fw_track_req {
	const struct mlx5vf_iova_range *ranges; /* sorted, disjoint, page aligned */
	unsigned int nr_ranges;			 /* 1 .. max_ranges */
	unsigned int log_page_size;		 /* within the caps */
	unsigned int log_addr_space;		 /* within the caps; >= the ranges' total size */
};

/* The core's receiver of one report's dirty pages (opaque). */
struct mlx5vf_fw_dirty_sink;

/* The core's receiver of one save's completion (opaque). */
struct mlx5vf_fw_save_done;

struct mlx5vf_fw_ops {
	void (*caps)(void *ctx, struct mlx5vf_fw_caps *caps);
	int (*query_state)(void *ctx, unsigned int flags, struct mlx5vf_fw_state_size *size);
	int (*suspend)(void *ctx, enum mlx5vf_fw_suspend_op_mod op_mod);
	int (*resume)(void *ctx, enum mlx5vf_fw_resume_op_mod op_mod);
	int (*save)(void *ctx, const struct mlx5vf_fw_save_req *req,
		    struct mlx5vf_fw_save_done *done);
	/* Load size bytes from the start of buf (one complete image). */
	int (*load)(void *ctx, struct mlx5vf_fw_buffer *buf, unsigned int size);
	int (*alloc_buffer)(void *ctx, unsigned long long size, enum mlx5vf_fw_dir dir,
			    enum mlx5vf_alloc_ctx actx, struct mlx5vf_fw_buffer **out);
	void (*free_buffer)(void *ctx, struct mlx5vf_fw_buffer *buf);
	/* The function was reset (FLR): suspension and tracking are gone. */
	void (*function_reset)(void *ctx);
	/* Dirty-page tracking; see above. All four may be NULL together. */
	void (*track_caps)(void *ctx, struct mlx5vf_fw_track_caps *caps);
	int (*track_start)(void *ctx, const struct mlx5vf_fw_track_req *req);
	void (*track_stop)(void *ctx);
	int (*track_report)(void *ctx, unsigned long long iova, unsigned long long length,
			    struct mlx5vf_fw_dirty_sink *sink);
};

/*
 * A save finished. Called by the backend from its completion context (atomic
 * allowed): neither sleeps nor allocates. done is invalid afterwards.
 */
void mlx5vf_core_fw_save_done(struct mlx5vf_fw_save_done *done,
			      const struct mlx5vf_fw_save_result *result);

/*
 * One dirty page of the tracker's page size (page_iova aligned to it), read
 * during track_report(). Process context, the same call chain as the report.
 */
void mlx5vf_core_fw_report_dirty(struct mlx5vf_fw_dirty_sink *sink, unsigned long long page_iova);

#ifdef __cplusplus
}
#endif

#endif /* MLX5VF_FW_H */

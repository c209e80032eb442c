/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated VF's firmware (src/core/sim_vhca.h) as a C ABI, for the
 * simulator module (src/sim/) and the tests. The simulated VHCA reaches the
 * core through the same firmware seam as the mlx5 backend: pass
 * mlx5vf_sim_fw_ops with the struct mlx5vf_sim as fw_ctx in a
 * struct mlx5vf_dev_config. Conventions as in abi.h.
 *
 * Locking: the sim has none. Every call, the fw_ops and
 * mlx5vf_core_sim_deliver() included, runs under the simulated device's
 * state mutex.
 */
#ifndef MLX5VF_SIM_H
#define MLX5VF_SIM_H

#include "fw.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mlx5vf_sim;

/* The simulated VHCA behind the firmware seam; ctx: its struct mlx5vf_sim. */
extern const struct mlx5vf_fw_ops mlx5vf_sim_fw_ops;

struct mlx5vf_sim_config {
	uint64_t state_size;
	uint64_t identity;
	uint64_t seed;
	uint64_t latency_ns;
	uint64_t bandwidth_bytes_per_ms; /* 0: unlimited */
	uint32_t track_page_size;        /* 0: 4096 */
	uint32_t max_chunk;              /* chunk mode only; 0: 8 MiB */
	uint32_t segment_size;           /* 0: 4096 */
	uint32_t track_max_ranges;       /* dirty tracker's range limit; 0: the default (4) */
	uint64_t configured_size;        /* state configured at power-on; 0: all of it */
	bool chunk_mode;
	bool migration_state;            /* FW cap: queries report the migration state */
	bool no_page_tracker;            /* FW cap: the VHCA has no dirty-page tracker */
	/* Arrange one mlx5vf_core_sim_deliver() delay_ns from now; must not sleep. */
	void (*request_completion)(void *ctx, uint64_t delay_ns);
	void *sched_ctx;
};

enum mlx5vf_sim_op {
	MLX5VF_SIM_QUERY,
	MLX5VF_SIM_SUSPEND,
	MLX5VF_SIM_RESUME,
	MLX5VF_SIM_SAVE,
	MLX5VF_SIM_LOAD,
	MLX5VF_SIM_ALLOC,
	MLX5VF_SIM_TRACK_START,
	MLX5VF_SIM_TRACK_REPORT,
};

enum mlx5vf_sim_fault {
	MLX5VF_SIM_FAULT_ERROR,
	MLX5VF_SIM_FAULT_SAVE_COMPLETE_ERROR,
	MLX5VF_SIM_FAULT_BAD_RESOURCE_STATE,
	MLX5VF_SIM_FAULT_SHORT_IMAGE,
	MLX5VF_SIM_FAULT_LOSE_DIRTY, /* track reports clear their pages unreported, until restarted */
	MLX5VF_SIM_FAULT_FORCED_TIMEOUT, /* a SAVE completed by mlx5_core's timeout */
};

/*
 * The simulated function's DMA into guest memory: next_dma fills buf (len
 * bytes, a power of two) with fresh data and picks its address inside the
 * window; the shim writes it through the VFIO DMA path and then reports it
 * with dma_written, which logs it in the dirty tracker. -EAGAIN while the
 * function may not issue DMA (not RUNNING).
 */
struct mlx5vf_sim_dma_stats {
	uint64_t dma_writes;	   /* writes handed out */
	uint64_t pages_marked;	   /* clean -> dirty transitions in the tracker */
	uint64_t dirty_pages;	   /* dirty now, not yet reported */
	uint64_t untracked_writes; /* writes outside every tracked range */
};

int mlx5vf_core_sim_next_dma(struct mlx5vf_sim *sim, uint64_t window, uint64_t window_len, void *buf,
			     uint32_t len, uint64_t *iova);
void mlx5vf_core_sim_dma_written(struct mlx5vf_sim *sim, uint64_t iova, uint64_t len);
void mlx5vf_core_sim_dma_stats(const struct mlx5vf_sim *sim, struct mlx5vf_sim_dma_stats *st);

int mlx5vf_core_sim_create(const struct mlx5vf_sim_config *cfg, struct mlx5vf_sim **out);
void mlx5vf_core_sim_destroy(struct mlx5vf_sim *sim);
/* The scheduled completion fires (atomic context allowed). */
void mlx5vf_core_sim_deliver(struct mlx5vf_sim *sim);
bool mlx5vf_core_sim_completion_pending(const struct mlx5vf_sim *sim);
uint32_t mlx5vf_core_sim_run_activity(struct mlx5vf_sim *sim, uint32_t writes);
uint64_t mlx5vf_core_sim_checksum(const struct mlx5vf_sim *sim);
int mlx5vf_core_sim_inject_fault(struct mlx5vf_sim *sim, enum mlx5vf_sim_op op, uint32_t nth,
				 enum mlx5vf_sim_fault fault);
/*
 * Reconfigure the running function: configure up to pages more state pages
 * (new initial state during precopy). *added: how many it did. -EINVAL for
 * 0, -ENOSPC when all are configured, -EAGAIN while it is quiesced (STOP).
 */
int mlx5vf_core_sim_reconfigure(struct mlx5vf_sim *sim, uint64_t pages, uint64_t *added);

/*
 * The state the function last froze (responder SUSPEND: what a STOP_COPY
 * image carries) and the state after its last successful LOAD (what a
 * destination received), for comparing the two ends of a migration.
 */
uint64_t mlx5vf_core_sim_saved_checksum(const struct mlx5vf_sim *sim);
uint64_t mlx5vf_core_sim_loaded_checksum(const struct mlx5vf_sim *sim);

#ifdef __cplusplus
}
#endif

#endif /* MLX5VF_SIM_H */

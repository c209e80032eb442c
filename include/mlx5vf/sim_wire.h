/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The simulated VHCA (src/core/sim_vhca.h) as the emulated ConnectX PF
 * (kunit/mlx5vf_emu.c) drives it: each command as it arrives in a mailbox
 * (the bits mlx5_ifc.h gives QUERY, SUSPEND, RESUME, SAVE and LOAD_VHCA_STATE)
 * and each buffer as the pages behind its mkey, which the simulated firmware
 * writes (SAVE) or reads (LOAD) as its DMA would. What a SAVE's bits mean is
 * decided here, once: on the wire a cleanup is an untracked full SAVE that
 * only a tracking VHCA takes for one. Test builds only, never mlx5vf.ko.
 *
 * A SAVE runs in two steps, as the firmware runs one: mlx5vf_core_sim_wire_save()
 * writes the image into the pages at once (the simulated firmware captures
 * at submit) and mlx5vf_core_sim_wire_save_done(), when the emulator
 * answers, gives its result. Until then another SAVE, a SUSPEND and an
 * incremental QUERY get -EBUSY (rule 4: the driver waits for the SAVE).
 * Locking: none; the emulator serialises every call (its mutex).
 * Errors: 0, or a negative errno (abi.h): -EINVAL the firmware refuses the
 * command in this state (SUSPEND/RESUME out of order, an untracked delta,
 * set_track after SUSPEND responder, LOAD while running), -ENOSPC
 * the buffer is smaller than the image, -EBUSY a SAVE is in flight (rule 4),
 * -EOVERFLOW an image too large for
 * one command, -EIO a LOAD's image refused (corrupt, foreign, a chunk out of
 * order, a delta without a base image) or a SAVE voided by a reset,
 * -ERANGE a write beyond the state, -EAGAIN a quiesced function.
 */
#ifndef MLX5VF_SIM_WIRE_H
#define MLX5VF_SIM_WIRE_H

#include "abi.h"

#ifdef __cplusplus
extern "C" {
#endif

struct mlx5vf_sim_wire;

/* Bytes of the header every image (every chunk of one) begins with. */
#define MLX5VF_SIM_WIRE_IMAGE_HEADER 64u

struct mlx5vf_sim_wire_config {
	uint64_t state_size; /* a nonzero multiple of 4096 */
	uint64_t seed;       /* power-on state and activity pattern */
	uint64_t identity;   /* firmware identity stamped into images */
	uint32_t max_chunk;  /* chunk mode: largest SAVE image, header included */
	bool chunk_mode;     /* HCA_CAP_2 migration_in_chunks */
};

/* The pages behind an mkey, from its first byte: what a command's DMA reaches. */
struct mlx5vf_sim_wire_buffer {
	uint8_t *const *pages;
	uint32_t page_count;
	uint32_t page_size;
	uint32_t size; /* the command's size: at most page_count * page_size */
};

/* What a SAVE's bits asked for, as the simulated firmware took them. */
enum mlx5vf_sim_wire_save_kind {
	MLX5VF_SIM_WIRE_SAVE_FULL,         /* a new full image */
	MLX5VF_SIM_WIRE_SAVE_INCREMENTAL,  /* a new image of the tracked changes */
	MLX5VF_SIM_WIRE_SAVE_CONTINUATION, /* the next chunk of the open image */
	MLX5VF_SIM_WIRE_SAVE_CLEANUP,      /* untracked full SAVE while tracking: ends it */
};

/* What a submitted SAVE is; its pages must stay until save_done. */
struct mlx5vf_sim_wire_save_kind_of {
	enum mlx5vf_sim_wire_save_kind kind;
	bool restarted; /* a full SAVE dropped chunks of an open image */
};

struct mlx5vf_sim_wire_save_result {
	uint32_t image_size;    /* actual_image_size */
	uint32_t next_required; /* next_required_umem_size: 0 when the image is complete */
};

struct mlx5vf_sim_wire_state {
	bool initiator_suspended;
	bool responder_suspended;
	bool tracking;
	bool image_open; /* a chunked image has chunks to come */
	uint64_t checksum;
};

int mlx5vf_core_sim_wire_create(const struct mlx5vf_sim_wire_config *cfg,
				struct mlx5vf_sim_wire **out);
void mlx5vf_core_sim_wire_destroy(struct mlx5vf_sim_wire *w);

int mlx5vf_core_sim_wire_query(struct mlx5vf_sim_wire *w, bool incremental, bool chunk,
			       uint32_t *required, uint64_t *remaining_total);
int mlx5vf_core_sim_wire_suspend(struct mlx5vf_sim_wire *w, bool responder);
int mlx5vf_core_sim_wire_resume(struct mlx5vf_sim_wire *w, bool responder);
int mlx5vf_core_sim_wire_save(struct mlx5vf_sim_wire *w, bool incremental, bool set_track,
			      const struct mlx5vf_sim_wire_buffer *buf,
			      struct mlx5vf_sim_wire_save_kind_of *kind);
/*
 * The submitted SAVE completes: its result, or -EIO when the function was
 * reset meanwhile (the image is void), -EINVAL when none is in flight.
 */
int mlx5vf_core_sim_wire_save_done(struct mlx5vf_sim_wire *w,
				   struct mlx5vf_sim_wire_save_result *res);
bool mlx5vf_core_sim_wire_save_pending(const struct mlx5vf_sim_wire *w);
/* *why: the refusal's name for the log (sim_image.h SimLoadError), "" if none. */
int mlx5vf_core_sim_wire_load(struct mlx5vf_sim_wire *w, const struct mlx5vf_sim_wire_buffer *buf,
			      const char **why);
/*
 * The firmware lost tracking (a SAVE answered BAD_RESOURCE_STATE, rule 14):
 * the image in progress and every change record are gone.
 */
void mlx5vf_core_sim_wire_lose_tracking(struct mlx5vf_sim_wire *w);
/* FLR: both sides running, untracked, no image open, power-on state. */
void mlx5vf_core_sim_wire_function_reset(struct mlx5vf_sim_wire *w);

/* The function's own writes: run_activity's pattern, or bytes a test picks. */
uint32_t mlx5vf_core_sim_wire_run_activity(struct mlx5vf_sim_wire *w, uint32_t writes);
int mlx5vf_core_sim_wire_write(struct mlx5vf_sim_wire *w, uint64_t offset, uint64_t len,
			       uint8_t value);
void mlx5vf_core_sim_wire_state(const struct mlx5vf_sim_wire *w, struct mlx5vf_sim_wire_state *st);

#ifdef __cplusplus
}
#endif

#endif /* MLX5VF_SIM_WIRE_H */

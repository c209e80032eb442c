/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An emulated ConnectX PF with one VF, at the mlx5_core boundary of the mlx5
 * backend (src/shim/mlx5_seam.h): for the KUnit suite and the VM's test
 * module (src/emu-vf/), never for mlx5vf.ko. See mlx5vf_emu.c.
 */
#ifndef MLX5VF_KUNIT_EMU_H
#define MLX5VF_KUNIT_EMU_H

#include <linux/pci.h>
#include <linux/types.h>

struct mlx5vf_emu;

struct mlx5vf_emu_config {
	u16 vhca_id;
	bool chunk_mode;     /* HCA_CAP_2 migration_in_chunks */
	u32 state_size;      /* bytes of VF state: a multiple of 4096 */
	/*
	 * Chunk mode: the chunk QUERY reports as required, and the backend's
	 * chunk size (mlx5vf_seam_max_chunk_size()), header included.
	 */
	u32 max_chunk;
	u64 seed;            /* power-on state and the VF's activity pattern */
	bool dma_coherent;   /* the DMA API needs no syncs (dma_need_sync() false) */
	bool page_tracker;   /* offer dirty-page tracking (an emulated PAGE_TRACK object) */
	u8 track_log_max_queue; /* log_max_qp_sz and log_max_cq_sz; 0: 10 */
	/* The tracker's wait between looks at its object, jiffies; 0: its own. */
	unsigned long track_poll;
	u8 track_log_max_msg;   /* pg_track_log_max_msg_size; 0: 21 */
	/*
	 * The firmware tracker sends a message only when its receiver-not-ready
	 * retry finds a receive posted, never because the driver armed the CQ:
	 * the order hardware keeps, one retry period per refill of the ring.
	 */
	bool track_rnr_only;
	/*
	 * Told of every misuse: a mailbox no driver may send, a page the
	 * device may not touch. The KUnit suite fails the test; the VM's
	 * module logs and counts. May run under the emulator's lock: it must
	 * not call back into the emulator.
	 */
	void (*report)(void *ctx, const char *msg);
	void *report_ctx;
	/* The real function this PF's VF is (the VM's module); NULL: an emulated one. */
	struct pci_dev *vf;
};

/* What the emulator saw; the tests check these. */
struct mlx5vf_emu_stats {
	u32 saves;
	u32 continuation_saves;   /* SAVEs of a chunked image after its first */
	u32 continuation_bad_bits; /* ... with set_track=1 */
	u32 images_restarted;     /* a full SAVE while chunks of an image remained */
	u32 cleanups;             /* untracked full SAVEs while tracking (rule 15) */
	const char *load_refusal; /* why the VHCA last refused a LOAD's image, or NULL */
	bool tracking;            /* the VHCA tracks its writes now */
	u32 loads;
	u32 queries;
	u32 mkeys_live;
	u32 pds_live;
	u32 pages_mapped;
	u32 dma_syncs;            /* per-page syncs, either way */
	u32 dma_map_calls;        /* DMA map calls, whatever they map */
	u32 mkeys_created;
	u32 mkey_pages_max;       /* the largest mkey's pages */
	u32 out_err_calls;        /* mlx5_cmd_out_err() */
	u32 out_err_syndrome;     /* ... the last one's syndrome */
	u32 late_writes;          /* a given-up SAVE wrote a still-registered buffer */
	u32 saves_into_given_up_mkey; /* a new SAVE reused the given-up SAVE's mkey */
	int core_dev_refs;
	int notifiers;            /* SR-IOV blocking notifiers */
	int trackers_live;        /* PAGE_TRACK objects */
	u32 reports;              /* tracker reports that ran (MODIFY to REPORTING) */
	u32 report_msgs;          /* report messages sent, one CQE each */
	u32 reports_cut;          /* trackers destroyed mid-report */
	u32 cq_arms;              /* arm doorbells of the report channel's CQ */
	u32 rnr_retries;          /* the sender's looks at an empty ring after its RNR wait */
	u32 track_objs_kept;      /* CQs, QPs and PAGE_TRACK objects alive */
	u32 misuses;              /* what was reported (cfg.report), refused if a mailbox */
	u32 dirty_pages_reported; /* pages the firmware tracker sent in reports */
	u32 dirty_pages_lost;     /* ... and cleared unreported (mlx5vf_emu_lose_dirty()) */
	/* The report channel's resources alive: the tests want all at 0 after. */
	u32 cqs_live;
	u32 qps_live;
	u32 uars_live;
	u32 dbs_live;
	u32 frag_bufs_live;
	int eq_notifiers;
};

struct mlx5vf_emu *mlx5vf_emu_create(const struct mlx5vf_emu_config *cfg);
void mlx5vf_emu_destroy(struct mlx5vf_emu *emu);
struct pci_dev *mlx5vf_emu_vf(struct mlx5vf_emu *emu);
void mlx5vf_emu_stats(struct mlx5vf_emu *emu, struct mlx5vf_emu_stats *st);
/* Checksum of the VF's state. */
u64 mlx5vf_emu_state_sum(struct mlx5vf_emu *emu);
/*
 * The running VF writes its state: dirty while tracked. Not its first 8
 * bytes (the simulated VHCA's configuration register).
 */
void mlx5vf_emu_vf_write(struct mlx5vf_emu *emu, u32 offset, u32 len, u8 value);
/* The VF's own activity: up to writes pseudo-random writes; returns those done. */
u32 mlx5vf_emu_vf_activity(struct mlx5vf_emu *emu, u32 writes);
/* Whether the VF's VHCA runs (not suspended): only then does it write. */
bool mlx5vf_emu_vf_running(struct mlx5vf_emu *emu);
/*
 * The running VF wrote [iova, iova + len) of guest memory: the firmware
 * tracker, while one exists, logs those of its ranges' pages and reports
 * each once.
 */
void mlx5vf_emu_vf_dma_written(struct mlx5vf_emu *emu, u64 iova, u32 len);
/*
 * A negative control: the firmware tracker clears the pages it would report
 * without reporting them, as a tracker that loses its reports would.
 */
void mlx5vf_emu_lose_dirty(struct mlx5vf_emu *emu, bool lose);
/* The VF's function level reset: its VHCA runs again, untracked, no image open. */
void mlx5vf_emu_vf_flr(struct mlx5vf_emu *emu);
/*
 * The next command with this opcode fails with status and syndrome; also
 * the tracker's calls mlx5_core answers itself (CREATE/DESTROY_CQ,
 * CREATE/DESTROY_MKEY, ALLOC_UAR for a UAR page). Up to four at once.
 */
void mlx5vf_emu_fail_next(struct mlx5vf_emu *emu, u16 opcode, u8 status, u32 syndrome);
/* The same, after nth commands of that opcode have passed. */
void mlx5vf_emu_fail_nth(struct mlx5vf_emu *emu, u16 opcode, u32 nth, u8 status, u32 syndrome);
/* Hold asynchronous commands: accepted, not answered until told. */
void mlx5vf_emu_hold_async(struct mlx5vf_emu *emu, bool hold);
bool mlx5vf_emu_async_held(struct mlx5vf_emu *emu);
/*
 * Complete the held command: status 0 runs it; a negative errno completes it
 * unanswered, as mlx5_core does a command it gave up on (-ETIMEDOUT), and
 * remembers it: mlx5vf_emu_late_save() then lets the firmware finish it.
 */
void mlx5vf_emu_complete_held(struct mlx5vf_emu *emu, int status);
/* The given-up SAVE writes its image now, if its mkey is still registered. */
void mlx5vf_emu_late_save(struct mlx5vf_emu *emu);
/* Wait for every asynchronous completion queued so far. */
void mlx5vf_emu_flush(struct mlx5vf_emu *emu);
/*
 * The PF's SR-IOV blocking notifier (MLX5_PF_NOTIFY_*). With a held SAVE,
 * complete_held_after_ms > 0 completes it (with status 0) that long after
 * the event began, from another thread, as the firmware would.
 */
int mlx5vf_emu_pf_event(struct mlx5vf_emu *emu, unsigned long event,
			unsigned int complete_held_after_ms);
/*
 * A PF reload: DISABLE_VF, the firmware drops every PD and mkey (numbers
 * are not reused), ENABLE_VF. Leaked buffers stay DMA-mapped.
 */
int mlx5vf_emu_pf_reload(struct mlx5vf_emu *emu);

/*
 * The next tracker create fails (its PAGE_TRACK object) and firmware keeps
 * objects of it in the PD (the host QP's DESTROY fails) until a PF reload:
 * a DEALLOC_PD of that PD before then is a bug (reported).
 */
void mlx5vf_emu_track_fail_keeping_pd(struct mlx5vf_emu *emu);
/* Hold dirty reports: the firmware sends nothing until released. */
void mlx5vf_emu_hold_report(struct mlx5vf_emu *emu, bool hold);
/* Whether the PAGE_TRACK object is REPORTING. */
bool mlx5vf_emu_report_running(struct mlx5vf_emu *emu);
/* Wait up to ms for a report to be running; false if none came. */
bool mlx5vf_emu_wait_report_running(struct mlx5vf_emu *emu, unsigned int ms);
/*
 * The next report fails after after_msgs messages: an error CQE with this
 * syndrome (mlx5dv.h MLX5_CQE_SYNDROME_*), the host QP and the object in
 * their error states.
 */
void mlx5vf_emu_track_fail_report(struct mlx5vf_emu *emu, int after_msgs, u8 syndrome);
/*
 * The firmware fails the tracker now: the object goes to ERROR (a running
 * report ends unsent) and the EQ notifiers hear of it, by an OBJECT_CHANGE
 * event for the object or, with qp_event, a WQ_CATAS_ERROR for the host QP.
 */
void mlx5vf_emu_track_fail_object(struct mlx5vf_emu *emu, bool qp_event);

#endif /* MLX5VF_KUNIT_EMU_H */

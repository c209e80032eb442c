// SPDX-License-Identifier: GPL-2.0-only
// SimVhca: a behavioural model of a ConnectX VF's migration firmware, the
// second implementation of the firmware seam (firmware.h). It runs the same
// core on the host (GoogleTest), in KUnit and behind the simulated VF that
// real QEMU migrates.
//
// What it models (upstream-mlx5.md §2.3, §3.1-3.3):
//  - a state blob that changes while the function runs and freezes once the
//    responder side is suspended (run_activity);
//  - SUSPEND/RESUME_VHCA per side, in the only orders the real driver issues;
//  - QUERY_VHCA_MIGRATION_STATE sizes that match the images SAVE produces;
//  - SAVE_VHCA_STATE: full, incremental (dirty-page tracking), cleanup;
//    captured at submit, completed later through a CompletionScheduler;
//    chunk mode with next_required, every chunk loadable on its own;
//  - LOAD_VHCA_STATE that validates images (sim_image.h) and records why it
//    refused one;
//  - command latency and bandwidth, and fault injection on any command;
//  - reconfiguration during precopy (reconfigure()) and the migration_state
//    the firmware reports for it (see "Reconfiguration" below).
//
// Reconfiguration. The state has a capacity (state_size) of which a prefix
// of pages is configured; the rest is zero and the function never writes it.
// How many pages are configured is itself device state: a little-endian u64
// in the first bytes of page 0 (the configuration register), so it travels
// in images like any other byte and a destination runs with the source's
// configuration once loaded. reconfigure() configures more pages (fresh
// content) and, while tracking, marks them and page 0 dirty: they reach the
// destination in the next incremental image, or in the final one.
// Where the rules come from (the in-tree mlx5 driver, Linux 7.3, and its
// mlx5_ifc.h):
//  - HCA_CAP_2 migration_state says QUERY_VHCA_MIGRATION_STATE reports the
//    migration_state field (SimConfig::migration_state; off: Uninitialized);
//  - the field's values are mlx5_ifc.h's (UNINITIALIZED, OPER_MIGRATION_IDLE,
//    _READY, _DIRTY, _INIT); the driver gives only INIT a meaning: seen by an
//    incremental QUERY in PRE_COPY it is "new init state", which the driver
//    answers at once with a tracked incremental SAVE counted as initial
//    bytes. So the sim reports Init from a reconfiguration while tracking
//    until a SAVE starts a new image (which captures the new pages); tracking
//    lost (Cleanup, BadResourceState, FLR) forgets it too. That an untracked
//    or full image also ends Init, and the Idle/Ready/Dirty choice (not
//    tracking / nothing dirty / pages dirty), are our reading of the names:
//    no driver depends on them.
//
// Device-side legality (anything else returns Err::Invalid, changes nothing;
// each rule's source and test: Documentation/firmware-contract.rst):
//  - suspend(Initiator) when running; suspend(Responder) after the initiator;
//    resume(Responder) when stopped; resume(Initiator) after the responder.
//    Invariant: responder suspended => initiator suspended.
//  - load() only while suspended as both initiator and responder.
//  - queries carry the chunk flag exactly when the firmware is in chunk mode;
//    incremental and cleanup queries (incremental=1 on the wire) only while
//    tracking.
//  - save(Incremental) starting an image only while tracking (set by a
//    tracked save, lost by an untracked save, Cleanup, BadResourceState and
//    function_reset()) and with no image open; save(Cleanup) only while
//    tracking (untracked, the same command would start a full image).
//  - track only on a save that starts an image (never Cleanup), and never
//    after SUSPEND of the responder.
//  - chunk mode: once an image has reported next_required != 0, it continues
//    only with save(Incremental, track = false), whatever its first save was;
//    Cleanup abandons it; a Full save abandons it and starts a new image.
// Ordering with the single in-flight save (firmware.h guarantees it, the sim
// enforces it with Err::Busy): save, suspend and incremental/cleanup queries
// are refused while a completion is pending, as upstream serialises them on
// save_comp; full queries, resume and load are not.
//
// Concurrency: SimVhca has no locks. The owner serialises every call on one
// instance (the kernel shim under one lock; deliver_completion() and
// run_activity() from its timers take the same lock). No method sleeps or
// allocates except create() and alloc_buffer(), which allocate in the
// context they are given. free_buffer() frees, so it needs process context.
// Costs to budget under that lock: save() copies its image (or chunk) at
// submit, O(image); function_reset() rewrites the state, O(state_size).
// The sim never sets DataBuffer::length(): the owner does, from SaveResult.
#pragma once

#include "firmware.h"
#include "sim_image.h"
#include "sim_tracker.h"

namespace mlx5vf {

// Delivers a SimVhca's save completions later, like the mlx5 command
// interface's completion handler. The kernel shim arms a timer that calls
// SimVhca::deliver_completion(); host tests record the delay and pump.
class CompletionScheduler {
public:
	// Arrange one call of deliver_completion() delay_ns from now, from a
	// context serialised with the SimVhca's other calls. Called from save()
	// (possibly under the owner's spinlock): must not sleep and must not call
	// deliver_completion() before returning.
	virtual void request_completion(uint64_t delay_ns) = 0;

protected:
	~CompletionScheduler() = default;
};

struct SimConfig {
	// Bytes of device state: a nonzero multiple of track_page_size. Over
	// 4 GiB needs chunk_mode (32-bit command sizes, like the real firmware).
	uint64_t state_size = 64 * 1024;
	// Dirty-tracking granule: a power of two, at least 8.
	uint32_t track_page_size = 4096;
	// Model/firmware identity stamped into images; images of another
	// firmware line (stream::fw_identity_line()) are foreign, another build
	// of the same line loads.
	uint64_t identity = 0;
	// Seeds the power-on state content and the activity pattern.
	uint64_t seed = 1;
	// FW cap migration_in_chunks: images may be split over several SAVEs.
	bool chunk_mode = false;
	// Chunk mode: the chunk size query reports as `required` (upstream caps
	// its own chunks at 8 MiB). Must hold a header and one page record.
	uint32_t max_chunk = 8u << 20;
	// Buffers are allocated as separate segments of this size, like pages.
	uint32_t segment_size = 4096;
	// Save completion delay = latency_ns + image bytes / bandwidth.
	uint64_t latency_ns = 0;
	uint64_t bandwidth_bytes_per_ms = 0;	  // 0: unlimited
	CompletionScheduler *scheduler = nullptr; // required; outlives the SimVhca
	// Dirty-page tracker of guest memory (max_ranges 0: none). Small
	// max_ranges so that combining ranges is exercised.
	TrackCaps track_caps = {4, 12, 21, 12, 48};
	// Bytes of the state configured at power-on (and after FLR): a nonzero
	// multiple of track_page_size; 0: all of it (reconfigure() can add none).
	uint64_t configured_size = 0;
	// FW cap HCA_CAP_2 migration_state: queries report VhcaMigState.
	bool migration_state = true;
};

// Command kinds, for counting and fault injection.
enum class SimOp : uint8_t { Query, Suspend, Resume, Save, Load, Alloc, TrackStart, TrackReport };
inline constexpr unsigned kSimOpCount = 8;
// The syndrome an injected SaveCompleteError reports, so that observers can
// tell it was carried through (mlx5 syndromes are opaque numbers too).
inline constexpr uint32_t kSimSaveSyndrome = 0x5a5e0001;

enum class SimFault : uint8_t {
	Error,		   // any op: fails synchronously with Err::Io, nothing changes
			   // (Save: at submit; Alloc: as if CREATE_MKEY failed)
	SaveCompleteError, // Save: accepted, completes with FwStatus::Failed, nothing saved
	BadResourceState,  // Save: accepted, completes with BadResourceState; tracking lost
	ShortImage,	   // Save: completes Ok but image_size is one byte short
	LoseDirty,	   // TrackReport: from this report until the next track_start,
			   // reports succeed but clear their pages unreported
	ForcedTimeout,	   // Save: completes with FwStatus::TimedOut (mlx5_core's forced
			   // completion) while the device may still write the buffer:
			   // reusing it is reported, freeing it leaves it to the device
};

class SimVhca final : public Firmware {
	struct CreateKey {
		explicit CreateKey() = default;
	};

public:
	// Validates cfg (Err::Invalid) and allocates everything the model will
	// ever need except buffers: state, dirty and pending bitmaps.
	// Context: as ctx says (Sleepable uses large allocations).
	static kstd::Result<kstd::Owned<SimVhca>> create(const SimConfig &cfg, kstd::AllocCtx ctx);

	// Use create(); public only so kstd::make can construct it.
	SimVhca(CreateKey, const SimConfig &cfg, kstd::OwnedArray<uint8_t> state,
		kstd::OwnedArray<uint64_t> dirty, kstd::OwnedArray<uint64_t> pending);
	// The owner must first free every buffer and drain (or cancel) a pending
	// completion: a SaveCompletion must never be left without its call.
	~SimVhca();
	SimVhca(const SimVhca &) = delete;
	SimVhca &operator=(const SimVhca &) = delete;

	// Firmware (see the legality rules above). None of these sleep.
	FwCaps caps() const override;
	kstd::Result<StateSize> query_state(const QueryFlags &flags) override;
	kstd::Result<void> suspend(VhcaSide side) override;
	kstd::Result<void> resume(VhcaSide side) override;
	kstd::Result<void> save(const SaveRequest &req, SaveCompletion &done) override;
	kstd::Result<void> load(DataBuffer &buf, uint32_t size) override;
	// Segmented buffer of size bytes (1 .. 4 GiB - 1). Context: as ctx says.
	kstd::Result<DataBuffer *> alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx) override;
	// Process context. Freeing a buffer of another backend, one still on a
	// list, or one a pending save is using is a core bug: reported
	// (mlx5vf_shim_warn) and the buffer is leaked, never freed under a DMA.
	void free_buffer(DataBuffer *buf) override;
	// FLR: both sides running, tracking and any image in progress gone,
	// power-on state content, destination forgets its base image. A
	// completion already scheduled still arrives, with FwStatus::Failed.
	void function_reset() override;
	// Dirty-page tracking of guest memory (sim_tracker.h). track_start
	// allocates the bitmap (process context).
	TrackCaps track_caps() const override { return tracker_.caps(); }
	kstd::Result<void> track_start(const TrackRequest &req) override;
	void track_stop() override
	{
		losing_dirty_ = false;
		tracker_.stop();
	}
	kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) override;

	// Simulation controls. Any context (no sleep, no allocation).

	// Perform up to `writes` pseudo-random page writes: internal activity
	// while the initiator runs, incoming (peer) writes while only the
	// responder does, none once the responder is suspended. Tracked writes
	// mark their page dirty. Returns the writes performed.
	uint32_t run_activity(uint32_t writes);
	// A write of len bytes of value at offset of the state: deterministic
	// activity for tests, under run_activity()'s rules (lands unless the
	// responder is suspended; marks tracked pages dirty; counted as internal
	// or incoming). Err::Range beyond the configured pages or over the
	// configuration register (the first 8 bytes), Err::Invalid for len 0,
	// Err::Again once the responder is suspended.
	kstd::Result<void> write_state(uint64_t offset, uint64_t len, uint8_t value);
	// The function's next DMA write into guest memory: while the initiator
	// runs (RUNNING), fill buf with fresh data for an address inside
	// [window, window + window_len), aligned to buf's size, and return that
	// address; the owner performs the write and then calls dma_written().
	// Err::Again while the function may not issue DMA, Err::Invalid if the
	// window cannot hold buf.
	kstd::Result<uint64_t> next_dma(uint64_t window, uint64_t window_len, kstd::Bytes buf);
	// A DMA write completed: the tracker logs it.
	void dma_written(uint64_t iova, uint64_t length) { tracker_.dma_written(iova, length); }
	const SimPageTracker &tracker() const { return tracker_; }
	uint64_t dma_writes() const { return dma_writes_; }

	// A reconfiguration of the running function (see "Reconfiguration"):
	// configures up to `pages` more pages and returns how many it did.
	// Err::Invalid for 0, Err::NoSpc when everything is configured already,
	// Err::Again once the responder is suspended (a quiesced function takes
	// no configuration).
	kstd::Result<uint64_t> reconfigure(uint64_t pages);
	// Pages configured now (the configuration register, within 1..pages).
	uint64_t configured_pages() const;
	// The firmware could not keep tracking (what a SAVE failing with
	// BAD_RESOURCE_STATE means, rule 14): the image in progress and every
	// change record are gone; only a full image helps now.
	void lose_tracking();
	// What QUERY_VHCA_MIGRATION_STATE reports in migration_state now.
	VhcaMigState migration_state() const;

	// The scheduler's callback (atomic context allowed): delivers the pending
	// save completion, if any, to its SaveCompletion.
	void deliver_completion();
	bool completion_pending() const { return completion_.done != nullptr; }
	// Buffers allocated and not yet freed, and of those freed, the ones the
	// device may still write (ForcedTimeout): kept until the SimVhca goes.
	uint32_t live_buffers() const { return live_buffers_; }
	uint32_t kept_buffers() const { return kept_count_; }
	// Delay reported for a save that moved image_bytes.
	uint64_t completion_delay_ns(uint64_t image_bytes) const;

	// Make the nth next command of kind op (1 = the next one) fail with
	// fault; one armed fault per op, re-arming replaces it. The command
	// consumes the fault even if it fails for its own reason first.
	// Err::Invalid for nth = 0 or a save-only fault on another op.
	kstd::Result<void> inject_fault(SimOp op, uint32_t nth, SimFault fault);
	// Commands of kind op issued so far (refused ones included).
	uint32_t command_count(SimOp op) const { return counts_[static_cast<unsigned>(op)]; }
	// Why the last load() failed; None after a successful one.
	SimLoadError last_load_error() const { return last_load_error_; }

	// Observation, for tests and debugfs.
	uint64_t state_checksum() const; // FNV-1a 64 of the state
	kstd::ConstBytes state() const { return kstd::ConstBytes(state_.data(), state_.size()); }
	const SimConfig &config() const { return cfg_; }
	bool initiator_suspended() const { return initiator_suspended_; }
	bool responder_suspended() const { return responder_suspended_; }
	bool tracking() const { return tracking_; }
	uint64_t dirty_pages() const { return dirty_count_; }
	bool image_in_progress() const { return image_.active; }
	uint64_t internal_writes() const { return internal_writes_; }
	uint64_t incoming_writes() const { return incoming_writes_; }

private:
	// A chunked image between its first and last chunk (chunk mode only).
	struct ImageCursor {
		bool active = false;
		SimImageKind kind = SimImageKind::Full;
		uint32_t next_chunk = 0;
		uint64_t next_offset = 0; // Full: first state byte not yet saved
	};
	struct PendingCompletion {
		SaveCompletion *done = nullptr; // non-null while a completion is owed
		const DataBuffer *buffer = nullptr;
		SaveResult result;
	};
	struct ArmedFault {
		uint32_t countdown = 0; // 0: disarmed; 1: the next command fires
		SimFault fault = SimFault::Error;
	};

	bool take_fault(SimOp op, SimFault *fault);
	uint64_t next_random();
	void fill_power_on_state();
	void mark_dirty(uint64_t page);
	void set_configured_pages(uint64_t pages);
	void drop_tracking();
	void abandon_image();
	kstd::Result<uint64_t> take_pending_page();
	bool continuing(SimImageKind kind) const;
	bool continues_image(const SaveRequest &req) const;
	kstd::Result<uint64_t> image_bytes(SimImageKind kind, uint64_t chunk_cap, bool cont) const;
	kstd::Result<void> check_save_room(const SaveRequest &req, uint64_t capacity, bool cont) const;
	SimImageHeader header_for(SimImageKind kind) const;
	void start_image(const SaveRequest &req);
	kstd::Result<uint32_t> write_full_chunk(DataBuffer &buf, uint64_t room);
	kstd::Result<uint32_t> write_incremental_chunk(DataBuffer &buf, uint64_t room);
	kstd::Result<uint32_t> write_image(const SaveRequest &req, DataBuffer &buf, uint32_t *next_required,
					   bool cont);
	kstd::Result<void> reject_load(SimLoadError why);
	SimLoadError check_image_order(const SimImageHeader &h) const;
	kstd::Result<SimLoadError> check_payload(const DataBuffer &buf, const SimImageHeader &h) const;
	kstd::Result<void> apply_image(const DataBuffer &buf, const SimImageHeader &h);

	const SimConfig cfg_;
	const uint64_t page_count_;
	const uint64_t record_size_; // incremental record: index + page
	kstd::OwnedArray<uint8_t> state_;
	// Pages written since the tracked baseline (only while tracking_).
	kstd::OwnedArray<uint64_t> dirty_;
	// Pages of the incremental image being saved and not yet in a chunk.
	// Empty unless an incremental image is being written.
	kstd::OwnedArray<uint64_t> pending_;
	uint64_t dirty_count_ = 0;
	uint64_t pending_count_ = 0;
	uint64_t pending_scan_ = 0; // no pending page below this index
	uint64_t activity_rng_;

	bool initiator_suspended_ = false;
	bool responder_suspended_ = false;
	bool tracking_ = false;
	bool new_init_ = false; // reconfigured while tracking; no image has captured it yet
	ImageCursor image_;

	// Destination side: a full image has been loaded completely (so
	// incrementals apply), or one is being loaded chunk by chunk.
	bool have_base_ = false;
	bool full_load_active_ = false;
	uint64_t full_load_next_offset_ = 0;
	SimLoadError last_load_error_ = SimLoadError::None;

	PendingCompletion completion_;
	// Buffers of SAVEs that completed ForcedTimeout: the device may still
	// write them. Still the caller's (up to kMaxMayWrite), or freed: kept_.
	static constexpr uint32_t kMaxMayWrite = 4;
	const DataBuffer *may_write_[kMaxMayWrite] = {};
	kstd::List<DataBuffer> kept_;
	uint32_t kept_count_ = 0;
	uint32_t live_buffers_ = 0;
	bool device_may_write(const DataBuffer *buf) const;
	ArmedFault faults_[kSimOpCount];
	uint32_t counts_[kSimOpCount] = {};
	uint32_t next_fw_key_ = 1;
	uint64_t internal_writes_ = 0;
	uint64_t incoming_writes_ = 0;
	SimPageTracker tracker_;
	bool losing_dirty_ = false; // an injected LoseDirty fired
	uint64_t dma_seq_ = 0;
	uint64_t dma_writes_ = 0;
};

} // namespace mlx5vf

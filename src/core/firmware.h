// SPDX-License-Identifier: GPL-2.0-only
// The firmware seam: what the VF's migration firmware offers the core.
//
// Two implementations: the mlx5 backend in the shim (QUERY_VHCA_MIGRATION_STATE,
// SUSPEND_VHCA, RESUME_VHCA, SAVE_VHCA_STATE, LOAD_VHCA_STATE and the PD/MKEY
// buffer plumbing, issued on the PF for the VF's vhca_id) and SimVhca in the
// core. Everything above this interface is shared by both.
//
// Concurrency contract (both implementations):
//  - query/suspend/resume/load/alloc/free are called in process context under
//    the device's state lock and may sleep;
//  - save() only submits; the completion runs later, possibly in atomic
//    context, exactly once for every save() that returned Ok;
//  - at most one save is in flight per device (the core guarantees it).
#pragma once

#include "data_buffer.h"
#include "kstd/alloc.h"
#include "kstd/span.h"

namespace mlx5vf {

// SUSPEND_VHCA/RESUME_VHCA scope. Initiator: the function stops issuing DMA
// (RUNNING_P2P); Responder: it also stops answering (STOP). The mlx5 op_mod
// numbers differ between the two commands; the backend maps them.
enum class VhcaSide : uint8_t { Initiator, Responder };

struct QueryFlags {
	bool incremental = false; // size of the changes since the last tracked save
	bool chunk = false;	  // the device saves in chunks: report remaining_total too
	bool cleanup = false;	  // size for the cleanup save when precopy is abandoned
};

// QUERY_VHCA_MIGRATION_STATE's migration_state (mlx5_ifc.h
// MLX5_QUERY_VHCA_MIG_STATE_*), valid only where FwCaps::migration_state says
// the firmware reports it. The in-tree driver gives one value a meaning: Init
// from an incremental query in PRE_COPY is new initial state (a
// reconfiguration during precopy) that the next tracked incremental SAVE
// captures.
enum class VhcaMigState : uint8_t {
	Uninitialized = 0,
	Idle = 1,  // OPER_MIGRATION_IDLE
	Ready = 2, // OPER_MIGRATION_READY
	Dirty = 3, // OPER_MIGRATION_DIRTY
	Init = 4,  // OPER_MIGRATION_INIT: new initial state to save
};

struct StateSize {
	uint32_t required = 0;	      // minimum buffer for the next SAVE (required_umem_size)
	uint64_t remaining_total = 0; // whole remaining image (chunk mode; else == required)
	VhcaMigState state = VhcaMigState::Uninitialized; // meaningful with FwCaps::migration_state
};

enum class SaveKind : uint8_t {
	Full,	     // the whole state
	Incremental, // changes since the last tracked save (needs tracking)
	Cleanup,     // precopy abandoned: release tracking, image discarded
};

struct SaveRequest {
	DataBuffer *buffer = nullptr;
	SaveKind kind = SaveKind::Full;
	bool track = false;    // start/continue tracking changes for a later incremental save
	void *owner = nullptr; // the file's owner (the shim's data_fd), pinned while in flight
};

// Firmware status of a completed command, beyond "it worked".
enum class FwStatus : uint8_t {
	Ok,
	BadResourceState, // precopy tracking lost: fall back to a full final image
	Failed,		  // any other firmware or transport error
	Detached,	  // the PF went away while the command was in flight
	TimedOut,	  // forced completion: the command interface gave up waiting, the
			  // device may still write the buffer (never reuse or free it)
};

struct SaveResult {
	FwStatus status = FwStatus::Ok;
	uint32_t image_size = 0;    // bytes written into the buffer (actual_image_size)
	uint32_t next_required = 0; // chunk mode: nonzero while more chunks of this image remain
	uint32_t syndrome = 0;	    // a failed SAVE's firmware syndrome (mlx5), or 0
};

// Receives save completions. May be called in atomic context: no sleeping,
// no allocation other than AllocCtx::Atomic.
class SaveCompletion {
public:
	virtual void save_done(const SaveResult &result) = 0;

protected:
	~SaveCompletion() = default;
};

struct FwCaps {
	bool precopy = true;	      // tracking + multiple loads (migration_multi_load/tracking_state)
	bool chunk_mode = false;      // migration_in_chunks
	bool migration_state = false; // HCA_CAP_2 migration_state: queries report VhcaMigState
	uint32_t max_image_size = 0xffffffffu;
};

// Device dirty-page tracking (VFIO DMA logging), as the firmware offers it.
// Page sizes and address spaces are log2 values.
struct TrackCaps {
	uint32_t max_ranges = 0; // 0: the device cannot track
	uint8_t log_min_page_size = 12;
	uint8_t log_max_page_size = 12;
	uint8_t log_min_addr_space = 12;
	uint8_t log_max_addr_space = 12;
};

struct IovaRange {
	uint64_t iova = 0;
	uint64_t length = 0;
	uint64_t end() const { return iova + length; } // one past the last byte
};

// What DirtyTracker hands the firmware: always within TrackCaps.
struct TrackRequest {
	kstd::Span<const IovaRange> ranges; // sorted, disjoint, page aligned, 1..max_ranges
	uint8_t log_page_size = 12;
	uint8_t log_addr_space = 12; // the ranges' total size is at most 1 << log_addr_space
};

// Receives one report's dirty pages (page_iova aligned to the tracker's page).
class DirtySink {
public:
	virtual void dirty_page(uint64_t page_iova) = 0;

protected:
	~DirtySink() = default;
};

class Firmware {
public:
	virtual FwCaps caps() const = 0;
	virtual kstd::Result<StateSize> query_state(const QueryFlags &flags) = 0;
	virtual kstd::Result<void> suspend(VhcaSide side) = 0;
	virtual kstd::Result<void> resume(VhcaSide side) = 0;
	virtual kstd::Result<void> save(const SaveRequest &req, SaveCompletion &done) = 0;
	// Load size bytes from the start of buf (one complete FW_DATA record).
	virtual kstd::Result<void> load(DataBuffer &buf, uint32_t size) = 0;
	virtual kstd::Result<DataBuffer *> alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx) = 0;
	virtual void free_buffer(DataBuffer *buf) = 0;
	// The function was reset (FLR): suspension and state tracking are gone
	// (dirty-page tracking is the PF's and survives).
	virtual void function_reset() = 0;

	// Dirty-page tracking. Process context, may sleep. track_report() reports
	// and clears the dirty pages in [iova, iova + length); an error means the
	// tracker is broken.
	virtual TrackCaps track_caps() const = 0;
	virtual kstd::Result<void> track_start(const TrackRequest &req) = 0;
	virtual void track_stop() = 0;
	virtual kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) = 0;

protected:
	~Firmware() = default;
};

} // namespace mlx5vf

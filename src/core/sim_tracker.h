// SPDX-License-Identifier: GPL-2.0-only
// SimPageTracker: the simulated VF's dirty-page tracker, the model of the
// mlx5 PAGE_TRACK object. The simulated function's DMA writes into guest
// memory (SimVhca::next_dma/dma_written, performed by the shim through the
// VFIO DMA path) mark pages here; a report hands the dirty pages of a window
// to a DirtySink and clears them, exactly like a firmware report.
//
// Firmware-side legality (anything else is Err::Invalid, nothing changes):
// ranges sorted, disjoint, aligned to the page size, 1..max_ranges of them,
// their total size within the address space; page size within the caps; one
// tracker at a time.
//
// Concurrency: none of its own; SimVhca's owner serialises every call.
// start() allocates (Sleepable); nothing else does.
#pragma once

#include "firmware.h"

namespace mlx5vf {

class SimPageTracker {
public:
	// A bitmap bigger than this many pages is refused (Err::NoSpc), as a
	// real tracker has finite memory too.
	static constexpr uint64_t kMaxPages = uint64_t{1} << 27;

	explicit SimPageTracker(const TrackCaps &caps) : caps_(caps) {}

	const TrackCaps &caps() const { return caps_; }
	kstd::Result<void> start(const TrackRequest &req);
	void stop();
	// Report and clear the dirty pages of [iova, iova + length). With lose,
	// clear them without reporting (fault injection: a tracker losing data).
	kstd::Result<void> report(uint64_t iova, uint64_t length, DirtySink &sink, bool lose);
	// The function wrote [iova, iova + length) (length > 0).
	void dma_written(uint64_t iova, uint64_t length);

	bool active() const { return active_; }
	uint64_t page_size() const { return uint64_t{1} << log_page_; }
	uint64_t dirty_pages() const { return dirty_count_; }
	uint64_t pages_marked() const { return pages_marked_; }	 // clean -> dirty transitions
	uint64_t untracked_writes() const { return untracked_; } // writes outside every range

private:
	// Index of the bitmap bit for page_iova, or -1 if it is not tracked.
	int64_t bit_of(uint64_t page_iova) const;

	const TrackCaps caps_;
	kstd::OwnedArray<IovaRange> ranges_;
	kstd::OwnedArray<uint64_t> first_bit_; // bit index of each range's first page
	kstd::OwnedArray<uint64_t> bits_;
	uint32_t log_page_ = 12;
	bool active_ = false;
	uint64_t dirty_count_ = 0;
	uint64_t pages_marked_ = 0;
	uint64_t untracked_ = 0;
};

} // namespace mlx5vf

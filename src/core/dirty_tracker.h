// SPDX-License-Identifier: GPL-2.0-only
// DirtyTracker: VFIO DMA logging (device dirty-page tracking) for one
// function, over the tracking part of the firmware seam.
//
// It turns what userspace asks for into what the device can do, and the
// device's page reports back into bitmap bits:
//  - start: validate the ranges (non-empty, page aligned, disjoint, no
//    wrap), clamp the page size to the device's limits (the size used is
//    returned to userspace), widen the ranges to that page size, combine
//    them down to the device's range count by merging across the smallest
//    gaps first, and check that their total size fits the device's address
//    space (its size limit for what one tracker covers);
//  - report: the window must be whole pages of the size in use (a report
//    clears whole device pages; a page sticking out of the window would be
//    cleared unreported). Validate every page the firmware reports, coalesce
//    runs of pages and hand them to one bitmap callback;
//  - errors: a firmware failure or a nonsensical report latches the tracker:
//    every later report fails with EIO until tracking is stopped and started
//    again. Bad requests from userspace do not latch.
//
// Locking: the device's state lock, for every method. Allocation: start()
// only (process context); report() allocates nothing.
#pragma once

#include "firmware.h"

namespace mlx5vf {

// Where reported dirty bytes go (the shim: iova_bitmap_set).
class DirtyBitmap {
public:
	virtual void set(uint64_t iova, uint64_t length) = 0;

protected:
	~DirtyBitmap() = default;
};

class DirtyTracker {
public:
	// Upper bound on the ranges one start() may name (the VFIO core's own
	// limit is 256); bounds the allocation a request can cause.
	static constexpr uint32_t kMaxRequestRanges = 4096;
	static constexpr uint64_t kMinPageSize = 4096;

	explicit DirtyTracker(Firmware &fw) : fw_(fw) {}
	~DirtyTracker() { stop(); }
	DirtyTracker(const DirtyTracker &) = delete;
	DirtyTracker &operator=(const DirtyTracker &) = delete;

	// The device can track at all (else the shim registers no DMA logging).
	bool supported() const { return fw_.track_caps().max_ranges != 0; }

	// Start tracking. Returns the page size in use (>= the requested one).
	// Err::Busy if already tracking, Err::Invalid / Err::Overflow for a bad
	// request, Err::TooBig if it exceeds the device's address space,
	// Err::OpNotSupp on a device that cannot track; else the firmware's error.
	kstd::Result<uint64_t> start(kstd::Span<const IovaRange> ranges, uint64_t page_size);
	// Stop tracking (also clears a latched error). Idempotent.
	void stop();
	// Report and clear [iova, iova + length) into out. Err::Invalid if not
	// tracking, or the window leaves the tracked space or is not made of
	// whole pages of page_size(); Err::Io once latched.
	kstd::Result<void> report(uint64_t iova, uint64_t length, DirtyBitmap &out);
	// The PF went away: whatever the device tracked is lost.
	void lose(const char *why);

	bool active() const { return active_; }
	bool latched() const { return latched_ != nullptr; }
	// Why the last start/report failed or the tracker latched (nullptr: none).
	const char *last_error() const { return latched_ ? latched_ : last_error_; }
	uint64_t page_size() const { return page_size_; }
	kstd::Span<const IovaRange> ranges() const
	{
		return kstd::Span<const IovaRange>(ranges_.data(), range_count_);
	}
	uint64_t reports() const { return reports_; }
	uint64_t pages_reported() const { return pages_reported_; }

private:
	kstd::Result<void> refuse(kstd::Err err, const char *why)
	{
		last_error_ = why;
		return err;
	}
	kstd::Result<void> latch(kstd::Err err, const char *why);
	bool inside_tracked(uint64_t first, uint64_t last) const;

	Firmware &fw_;
	kstd::OwnedArray<IovaRange> ranges_; // combined; capacity = the request's count
	uint32_t range_count_ = 0;
	uint64_t page_size_ = 0;
	bool active_ = false;
	const char *latched_ = nullptr;	   // non-null: every report fails with EIO
	const char *last_error_ = nullptr; // the last refused request
	uint64_t reports_ = 0;
	uint64_t pages_reported_ = 0;
};

// The shaping steps of start(), exposed for tests. All work in place on a
// sorted, disjoint array and return the new count.
namespace track {
// Round every range outward to page (a power of two) and merge the ones
// that then touch or overlap. False if a rounded end would overflow.
bool widen(IovaRange *ranges, uint32_t count, uint64_t page, uint32_t *out_count);
// Merge neighbours across the smallest gap (lowest address first on ties)
// until at most max ranges remain (max >= 1).
uint32_t combine(IovaRange *ranges, uint32_t count, uint32_t max);
// log2 of the address space the ranges need (their total size, rounded up
// to a power of two, at least the device's minimum), or -1 if that exceeds
// log_max_addr_space.
int addr_space_log(const IovaRange *ranges, uint32_t count, const TrackCaps &caps);
} // namespace track

} // namespace mlx5vf

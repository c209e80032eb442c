// SPDX-License-Identifier: GPL-2.0-only
#include "dirty_tracker.h"

#include "kstd/bits.h"

namespace mlx5vf {

namespace track {

bool widen(IovaRange *ranges, uint32_t count, uint64_t page, uint32_t *out_count)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < count; i++) {
		const uint64_t start = ranges[i].iova & ~(page - 1);
		uint64_t end;
		if (!kstd::align_up(ranges[i].end(), page, &end) || end == 0)
			return false;
		// Sorted input stays sorted; a widened range can only reach back
		// into the one before it.
		if (n && start <= ranges[n - 1].end()) {
			if (end > ranges[n - 1].end())
				ranges[n - 1].length = end - ranges[n - 1].iova;
			continue;
		}
		ranges[n++] = IovaRange{start, end - start};
	}
	*out_count = n;
	return true;
}

uint32_t combine(IovaRange *ranges, uint32_t count, uint32_t max)
{
	while (count > max) {
		uint32_t best = 0;
		uint64_t best_gap = ~uint64_t{0};
		for (uint32_t i = 0; i + 1 < count; i++) {
			const uint64_t gap = ranges[i + 1].iova - ranges[i].end();
			if (gap < best_gap) {
				best_gap = gap;
				best = i;
			}
		}
		ranges[best].length = ranges[best + 1].end() - ranges[best].iova;
		for (uint32_t i = best + 1; i + 1 < count; i++)
			ranges[i] = ranges[i + 1];
		count--;
	}
	return count;
}

int addr_space_log(const IovaRange *ranges, uint32_t count, const TrackCaps &caps)
{
	// The space the device tracks is the ranges' total size (gaps merged
	// into a range included), not their highest address.
	uint64_t total = 0;
	for (uint32_t i = 0; i < count; i++)
		if (kstd::add_overflows(total, ranges[i].length, &total))
			return -1;
	unsigned log = kstd::ilog2(total);
	if (!kstd::is_pow2(total))
		log++;
	if (log < caps.log_min_addr_space)
		log = caps.log_min_addr_space;
	if (log > caps.log_max_addr_space || log > 63)
		return -1;
	return static_cast<int>(log);
}

} // namespace track

namespace {

// Insertion sort by start: the VFIO core hands ranges in order already, so
// this is one pass; anything else still ends up sorted.
void sort_ranges(IovaRange *r, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		const IovaRange v = r[i];
		uint32_t j = i;
		for (; j > 0 && r[j - 1].iova > v.iova; j--)
			r[j] = r[j - 1];
		r[j] = v;
	}
}

// Collects the firmware's pages for one report: validates each against the
// window and the page size, coalesces runs and forwards them.
class ReportCollector final : public DirtySink {
public:
	ReportCollector(uint64_t first, uint64_t last, uint64_t page, DirtyBitmap &out)
	    : first_(first), last_(last), page_(page), out_(out)
	{
	}

	void dirty_page(uint64_t page_iova) override
	{
		if (bad_)
			return;
		if ((page_iova & (page_ - 1)) || page_iova < first_ || page_iova > last_ - (page_ - 1)) {
			bad_ = true;
			return;
		}
		pages_++;
		if (run_len_ && page_iova == run_start_ + run_len_) {
			run_len_ += page_;
			return;
		}
		flush();
		run_start_ = page_iova;
		run_len_ = page_;
	}

	void flush()
	{
		if (run_len_)
			out_.set(run_start_, run_len_);
		run_len_ = 0;
	}

	bool bad() const { return bad_; }
	uint64_t pages() const { return pages_; }

private:
	const uint64_t first_, last_; // the window, inclusive
	const uint64_t page_;
	DirtyBitmap &out_;
	uint64_t run_start_ = 0;
	uint64_t run_len_ = 0;
	uint64_t pages_ = 0;
	bool bad_ = false;
};

} // namespace

kstd::Result<uint64_t> DirtyTracker::start(kstd::Span<const IovaRange> req, uint64_t page_size)
{
	const TrackCaps caps = fw_.track_caps();

	if (!caps.max_ranges)
		return refuse(kstd::Err::OpNotSupp, "the device has no dirty-page tracker").error();
	if (active_)
		return refuse(kstd::Err::Busy, "dirty tracking is already started").error();
	if (req.empty())
		return refuse(kstd::Err::Invalid, "no ranges to track").error();
	if (req.size() > kMaxRequestRanges)
		return refuse(kstd::Err::TooBig, "too many ranges").error();
	if (page_size < kMinPageSize || !kstd::is_pow2(page_size))
		return refuse(kstd::Err::Invalid, "page size is not a power of two >= 4 KiB").error();

	auto arr = kstd::OwnedArray<IovaRange>::create(req.size(), kstd::AllocCtx::Sleepable);
	if (arr.is_error())
		return arr.error();
	IovaRange *r = arr.value().data();
	for (size_t i = 0; i < req.size(); i++) {
		uint64_t end;
		if (!req[i].length || (req[i].iova | req[i].length) & (page_size - 1))
			return refuse(kstd::Err::Invalid, "a range is empty or not page aligned").error();
		if (kstd::add_overflows(req[i].iova, req[i].length, &end))
			return refuse(kstd::Err::Overflow, "a range wraps the address space").error();
		r[i] = req[i];
	}
	auto n = static_cast<uint32_t>(req.size());
	sort_ranges(r, n);
	for (uint32_t i = 1; i < n; i++)
		if (r[i].iova < r[i - 1].end())
			return refuse(kstd::Err::Invalid, "ranges overlap").error();

	const uint64_t min_page = uint64_t{1} << caps.log_min_page_size;
	const uint64_t max_page = uint64_t{1} << caps.log_max_page_size;
	uint64_t page = page_size < min_page ? min_page : page_size;
	if (page > max_page)
		page = max_page;
	// Ranges aligned to the requested size are aligned to a smaller one.
	if (page > page_size && !track::widen(r, n, page, &n))
		return refuse(kstd::Err::Overflow, "a range wraps once widened to the device page").error();
	n = track::combine(r, n, caps.max_ranges);
	const int log_space = track::addr_space_log(r, n, caps);
	if (log_space < 0)
		return refuse(kstd::Err::TooBig, "ranges add up to more than the device can track").error();

	TrackRequest fw_req;
	fw_req.ranges = kstd::Span<const IovaRange>(r, n);
	fw_req.log_page_size = static_cast<uint8_t>(kstd::ilog2(page));
	fw_req.log_addr_space = static_cast<uint8_t>(log_space);
	auto started = fw_.track_start(fw_req);
	if (started.is_error())
		return refuse(started.error(), "firmware refused to start tracking").error();

	ranges_ = kstd::move(arr.value());
	range_count_ = n;
	page_size_ = page;
	active_ = true;
	latched_ = nullptr;
	last_error_ = nullptr;
	reports_ = 0;
	pages_reported_ = 0;
	return page;
}

void DirtyTracker::stop()
{
	if (active_)
		fw_.track_stop();
	active_ = false;
	latched_ = nullptr;
	ranges_.reset();
	range_count_ = 0;
}

void DirtyTracker::lose(const char *why)
{
	if (active_ && !latched_)
		latched_ = why;
}

kstd::Result<void> DirtyTracker::latch(kstd::Err err, const char *why)
{
	latched_ = why;
	return err == kstd::Err::NotConn ? err : kstd::Err::Io;
}

bool DirtyTracker::inside_tracked(uint64_t first, uint64_t last) const
{
	// Combined ranges are sorted and disjoint: the window must lie in one.
	for (uint32_t i = 0; i < range_count_; i++)
		if (first >= ranges_[i].iova && last <= ranges_[i].end() - 1)
			return true;
	return false;
}

kstd::Result<void> DirtyTracker::report(uint64_t iova, uint64_t length, DirtyBitmap &out)
{
	uint64_t last;

	if (!active_)
		return refuse(kstd::Err::Invalid, "dirty tracking is not started");
	if (latched_)
		return kstd::Err::Io;
	if (!length)
		return refuse(kstd::Err::Invalid, "empty report window");
	if (kstd::add_overflows(iova, length - 1, &last))
		return refuse(kstd::Err::Overflow, "report window wraps the address space");
	if (!inside_tracked(iova, last))
		return refuse(kstd::Err::Invalid, "report window is not inside a tracked range");
	// A report clears whole device pages: the part of a page outside the
	// window would be cleared unreported, i.e. lost. So windows must be
	// made of whole pages of the size start() returned.
	if ((iova | length) & (page_size_ - 1))
		return refuse(kstd::Err::Invalid, "report window is not aligned to the tracking page size");

	ReportCollector collect(iova, last, page_size_, out);
	auto r = fw_.track_report(iova, length, collect);
	if (r.is_error())
		return latch(r.error(), "the firmware failed a dirty-page report");
	if (collect.bad())
		return latch(kstd::Err::Io, "the firmware reported a page outside the window");
	collect.flush();
	reports_++;
	pages_reported_ += collect.pages();
	return kstd::ok();
}

} // namespace mlx5vf

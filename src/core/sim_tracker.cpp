// SPDX-License-Identifier: GPL-2.0-only
#include "sim_tracker.h"

#include "kstd/bits.h"

namespace mlx5vf {

kstd::Result<void> SimPageTracker::start(const TrackRequest &req)
{
	const uint64_t n = req.ranges.size();

	if (active_ || !caps_.max_ranges || !n || n > caps_.max_ranges)
		return kstd::Err::Invalid;
	if (req.log_page_size < caps_.log_min_page_size || req.log_page_size > caps_.log_max_page_size ||
	    req.log_addr_space < caps_.log_min_addr_space || req.log_addr_space > caps_.log_max_addr_space ||
	    req.log_addr_space > 63)
		return kstd::Err::Invalid;
	const uint64_t page = uint64_t{1} << req.log_page_size;
	uint64_t pages = 0;
	for (uint64_t i = 0; i < n; i++) {
		const IovaRange &r = req.ranges[i];
		uint64_t end;
		if (!r.length || (r.iova | r.length) & (page - 1) ||
		    kstd::add_overflows(r.iova, r.length, &end))
			return kstd::Err::Invalid;
		if (i && r.iova < req.ranges[i - 1].end())
			return kstd::Err::Invalid;
		pages += r.length >> req.log_page_size;
	}
	// The object's address space must hold every tracked page.
	if (pages > (uint64_t{1} << (req.log_addr_space - req.log_page_size)))
		return kstd::Err::Invalid;
	if (pages > kMaxPages)
		return kstd::Err::NoSpc;

	auto ranges = kstd::OwnedArray<IovaRange>::create(n, kstd::AllocCtx::Sleepable);
	auto first = kstd::OwnedArray<uint64_t>::create(n, kstd::AllocCtx::Sleepable);
	auto bits = kstd::OwnedArray<uint64_t>::create((pages + 63) / 64, kstd::AllocCtx::Sleepable);
	if (ranges.is_error() || first.is_error() || bits.is_error())
		return kstd::Err::NoMem;
	uint64_t bit = 0;
	for (uint64_t i = 0; i < n; i++) {
		ranges.value()[i] = req.ranges[i];
		first.value()[i] = bit;
		bit += req.ranges[i].length >> req.log_page_size;
	}
	for (size_t w = 0; w < bits.value().size(); w++)
		bits.value()[w] = 0;
	ranges_ = kstd::move(ranges.value());
	first_bit_ = kstd::move(first.value());
	bits_ = kstd::move(bits.value());
	log_page_ = req.log_page_size;
	dirty_count_ = 0;
	pages_marked_ = 0;
	untracked_ = 0;
	active_ = true;
	return kstd::ok();
}

void SimPageTracker::stop()
{
	ranges_.reset();
	first_bit_.reset();
	bits_.reset();
	active_ = false;
	dirty_count_ = 0;
}

int64_t SimPageTracker::bit_of(uint64_t page_iova) const
{
	// Few ranges (max_ranges is small): a linear scan.
	for (size_t i = 0; i < ranges_.size(); i++) {
		const IovaRange &r = ranges_[i];
		if (page_iova >= r.iova && page_iova - r.iova < r.length)
			return static_cast<int64_t>(first_bit_[i] + ((page_iova - r.iova) >> log_page_));
	}
	return -1;
}

void SimPageTracker::dma_written(uint64_t iova, uint64_t length)
{
	if (!active_ || !length)
		return;
	const uint64_t page = page_size();
	uint64_t last;
	if (kstd::add_overflows(iova, length - 1, &last))
		last = ~uint64_t{0};
	bool untracked = false;
	for (uint64_t p = iova & ~(page - 1);; p += page) {
		const int64_t b = bit_of(p);
		if (b < 0) {
			untracked = true;
		} else {
			uint64_t &word = bits_[static_cast<uint64_t>(b) / 64];
			const uint64_t mask = uint64_t{1} << (static_cast<uint64_t>(b) % 64);
			if (!(word & mask)) {
				word |= mask;
				dirty_count_++;
				pages_marked_++;
			}
		}
		if (last - p < page)
			break;
	}
	if (untracked)
		untracked_++;
}

kstd::Result<void> SimPageTracker::report(uint64_t iova, uint64_t length, DirtySink &sink, bool lose)
{
	const uint64_t page = page_size();
	uint64_t end;

	if (!active_ || !length || (iova | length) & (page - 1) || kstd::add_overflows(iova, length, &end))
		return kstd::Err::Invalid;
	for (size_t i = 0; i < ranges_.size(); i++) {
		const IovaRange &r = ranges_[i];
		const uint64_t lo = iova > r.iova ? iova : r.iova;
		const uint64_t hi = end < r.end() ? end : r.end();
		if (lo >= hi)
			continue;
		uint64_t b = first_bit_[i] + ((lo - r.iova) >> log_page_);
		const uint64_t b_end = first_bit_[i] + ((hi - r.iova) >> log_page_);
		while (b < b_end) {
			uint64_t &word = bits_[b / 64];
			const uint64_t bit = b % 64;
			const uint64_t span = b_end - b < 64 - bit ? b_end - b : 64 - bit;
			const uint64_t mask = (span == 64 ? ~uint64_t{0} : ((uint64_t{1} << span) - 1))
					      << bit;
			uint64_t hits = word & mask;
			word &= ~mask;
			while (hits) {
				const unsigned k = static_cast<unsigned>(__builtin_ctzll(hits));
				hits &= hits - 1;
				dirty_count_--;
				if (!lose)
					sink.dirty_page(r.iova +
							((b - first_bit_[i] + (k - bit)) << log_page_));
			}
			b += span;
		}
	}
	return kstd::ok();
}

} // namespace mlx5vf

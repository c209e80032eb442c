// SPDX-License-Identifier: GPL-2.0-only
// ResumeFile's memory and size rules (review issue 9, item 4b): the image
// buffer follows the bytes that actually arrived, a claimed size buys at most
// a bounded preallocation, and the only ceiling is the format's (or the
// operator's), never one derived from the destination's own idle image.
#include "resume_file.h"

#include "host_shim.h"
#include "kstd/bits.h"
#include "sim_rig.h"

#include <gtest/gtest.h>

#include <vector>

using namespace mlx5vf;

namespace {

constexpr uint64_t M1 = 1ull << 20;

// A destination whose own (idle) image is small, and whose LOAD takes any
// bytes and keeps a copy: the busy source's image is legitimate by
// definition here. Buffers are the simulated backend's (segmented, counted by
// the host shim).
class IdleDestFw final : public Firmware {
public:
	IdleDestFw(SimVhca &sim, uint64_t own_image) : sim_(sim), own_image_(own_image) {}
	std::vector<std::vector<uint8_t>> loaded;
	uint64_t live_bytes = 0, peak_bytes = 0, allocs = 0;

	FwCaps caps() const override { return FwCaps{}; }
	kstd::Result<StateSize> query_state(const QueryFlags &) override
	{
		StateSize s;
		s.required = static_cast<uint32_t>(own_image_);
		s.remaining_total = own_image_;
		return s;
	}
	kstd::Result<void> suspend(VhcaSide) override { return kstd::ok(); }
	kstd::Result<void> resume(VhcaSide) override { return kstd::ok(); }
	kstd::Result<void> save(const SaveRequest &, SaveCompletion &) override { return kstd::Err::Invalid; }
	kstd::Result<void> load(DataBuffer &b, uint32_t n) override
	{
		std::vector<uint8_t> bytes(n);
		TRY(b.read(0, kstd::Bytes(bytes.data(), bytes.size())));
		loaded.push_back(std::move(bytes));
		return kstd::ok();
	}
	kstd::Result<DataBuffer *> alloc_buffer(uint64_t n, DmaDir d, kstd::AllocCtx c) override
	{
		DataBuffer *b = TRY(sim_.alloc_buffer(n, d, c));
		allocs++;
		live_bytes += b->capacity();
		peak_bytes = std::max(peak_bytes, live_bytes);
		return b;
	}
	void free_buffer(DataBuffer *b) override
	{
		if (b)
			live_bytes -= b->capacity();
		sim_.free_buffer(b);
	}
	void function_reset() override {}
	TrackCaps track_caps() const override { return {}; }
	kstd::Result<void> track_start(const TrackRequest &) override { return kstd::Err::OpNotSupp; }
	void track_stop() override {}
	kstd::Result<void> track_report(uint64_t, uint64_t, DirtySink &) override
	{
		return kstd::Err::OpNotSupp;
	}

private:
	SimVhca &sim_;
	const uint64_t own_image_;
};

struct Rig {
	rig::Scheduler scheduler;
	kstd::Owned<SimVhca> sim;
	kstd::Owned<IdleDestFw> fw;
	stream::CompatInfo compat = rig::Side::compat_for(7);

	explicit Rig(uint64_t own_image)
	{
		SimConfig c = rig::small_sim();
		c.scheduler = &scheduler;
		c.segment_size = 64 * 1024; // fewer host allocations for big images
		sim = SimVhca::create(c, kstd::AllocCtx::Sleepable).release_value();
		fw = kstd::make<IdleDestFw>(kstd::AllocCtx::Sleepable, *sim, own_image).release_value();
	}
	~Rig()
	{
		fw.reset();
		sim.reset();
	}
};

std::vector<uint8_t> header(uint64_t size, uint32_t flags, uint32_t tag)
{
	std::vector<uint8_t> h(16, 0);
	kstd::store_le64(&h[0], size);
	kstd::store_le32(&h[8], flags);
	kstd::store_le32(&h[12], tag);
	return h;
}

std::vector<uint8_t> stop_copy_size(uint64_t bytes)
{
	std::vector<uint8_t> r = header(8, 1, 1);
	r.resize(24);
	kstd::store_le64(&r[16], bytes);
	return r;
}

std::vector<uint8_t> pattern(uint64_t n, uint8_t seed)
{
	std::vector<uint8_t> p(n);
	for (uint64_t i = 0; i < n; i++)
		p[i] = static_cast<uint8_t>(seed + i * 131 + (i >> 12));
	return p;
}

// Writes bytes in pieces of seg, as userspace may.
kstd::Result<void> write_all(ResumeFile &f, const std::vector<uint8_t> &bytes, size_t seg = 3 * M1 + 5)
{
	for (size_t off = 0; off < bytes.size();) {
		const size_t n = std::min(seg, bytes.size() - off);
		rig::VecUser u;
		u.data.assign(bytes.begin() + off, bytes.begin() + off + n);
		const size_t done = TRY(f.write(u, n));
		if (done != n)
			return kstd::Err::Io;
		off += n;
	}
	return kstd::ok();
}

// The finding: a busy source's one unchunked image, larger than twice the
// destination's idle image and than the 64 MiB floor, was refused with
// EOVERFLOW although the format (32-bit LOAD size) carries it.
TEST(ResumeFile, BusySourceImageBeyondTwiceOwnAnd64MiBLoads)
{
	Rig r(1 * M1); // the destination's own idle image: 1 MiB
	auto file = ResumeFile::create(*r.fw, r.compat);
	ASSERT_TRUE(file.is_ok());
	ResumeFile &f = *file.value();
	const uint64_t size = 64 * M1 + 12345;
	const std::vector<uint8_t> image = pattern(size, 3);
	std::vector<uint8_t> s = stop_copy_size(size);
	const std::vector<uint8_t> h = header(size, 0, 0);
	s.insert(s.end(), h.begin(), h.end());
	s.insert(s.end(), image.begin(), image.end());
	auto w = write_all(f, s);
	ASSERT_TRUE(w.is_ok()) << kstd::to_errno(w.error());
	ASSERT_TRUE(f.finish().is_ok());
	ASSERT_EQ(1u, r.fw->loaded.size());
	EXPECT_TRUE(r.fw->loaded[0] == image);
}

// The same with no STOP_COPY_SIZE and a STOP_COPY_SIZE far beyond the
// preallocation bound: the image still loads, every byte intact, and memory
// never exceeds twice the bytes that arrived (plus the one buffer being
// replaced while it grows).
TEST(ResumeFile, LargeImageGrowsWithItsBytes)
{
	for (const bool hint : {false, true}) {
		Rig r(256 * 1024);
		auto file = ResumeFile::create(*r.fw, r.compat);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		EXPECT_EQ(stream::kMaxLoadSize, f.load_limit());
		EXPECT_EQ(ResumeLimits{}.prealloc_floor, f.prealloc_limit());
		const uint64_t size = 3 * f.prealloc_limit() + 7;
		const std::vector<uint8_t> image = pattern(size, 9);
		std::vector<uint8_t> s = hint ? stop_copy_size(size) : std::vector<uint8_t>{};
		const std::vector<uint8_t> h = header(size, 0, 0);
		s.insert(s.end(), h.begin(), h.end());
		s.insert(s.end(), image.begin(), image.end());
		ASSERT_TRUE(write_all(f, s, 1 * M1 + 3).is_ok()) << hint;
		ASSERT_TRUE(f.finish().is_ok());
		ASSERT_EQ(1u, r.fw->loaded.size());
		EXPECT_TRUE(r.fw->loaded[0] == image) << hint;
		EXPECT_EQ(size, f.preallocated()) << "the last growth stops at the record's size";
		EXPECT_LE(r.fw->peak_bytes, 3 * size) << hint;
		EXPECT_STREQ("a device image outgrew the preallocated buffer: growing it as its bytes arrive",
			     host_shim::last_log());
	}
}

// A hostile header (or hint) claims the format's maximum and sends little or
// nothing: the destination allocates the bounded preallocation, and beyond it
// only in proportion to the bytes that came.
TEST(ResumeFile, ClaimedSizesBuyOnlyTheBoundedPreallocation)
{
	Rig r(64 * 1024);
	auto file = ResumeFile::create(*r.fw, r.compat);
	ASSERT_TRUE(file.is_ok());
	ResumeFile &f = *file.value();
	const uint64_t bound = f.prealloc_limit();
	EXPECT_EQ(8 * M1, bound); // the floor: twice our 64 KiB image is less
	ASSERT_TRUE(write_all(f, stop_copy_size(stream::kMaxLoadSize)).is_ok());
	EXPECT_EQ(bound, f.preallocated());
	EXPECT_EQ(bound, r.fw->peak_bytes);
	host_shim::reset_allocation_counters();
	ASSERT_TRUE(write_all(f, header(stream::kMaxLoadSize, 0, 0)).is_ok());
	EXPECT_EQ(0, host_shim::allocation_attempts()) << "the header allocated";
	// Bytes up to the preallocation: still nothing new.
	ASSERT_TRUE(write_all(f, pattern(bound, 1)).is_ok());
	EXPECT_EQ(0, host_shim::allocation_attempts());
	EXPECT_EQ(bound, r.fw->peak_bytes);
	// One byte more: the buffer doubles, no more.
	ASSERT_TRUE(write_all(f, pattern(1, 2)).is_ok());
	EXPECT_EQ(2 * bound, f.preallocated());
	EXPECT_EQ(2 * bound, r.fw->live_bytes);
	EXPECT_EQ(3 * bound, r.fw->peak_bytes); // the old buffer while its bytes move
	// The stream ends there: truncated, nothing loaded.
	EXPECT_EQ(kstd::Err::BadMsg, f.finish().error());
	EXPECT_TRUE(r.fw->loaded.empty());
	f.close();
	EXPECT_EQ(0u, r.fw->live_bytes);

	// A header with no hint before it: the same bound.
	auto second = ResumeFile::create(*r.fw, r.compat);
	ASSERT_TRUE(second.is_ok());
	ASSERT_TRUE(write_all(*second.value(), header(stream::kMaxLoadSize, 0, 0)).is_ok());
	EXPECT_EQ(bound, second.value()->preallocated());
}

// The operator's ceiling (the shim's max_image_mib): an image at the limit
// loads, one byte more is refused on its header with EOVERFLOW before any
// allocation, and the reason names the setting. Hints are capped by it too.
TEST(ResumeFile, OperatorCeilingRefusesLargerImages)
{
	Rig r(64 * 1024);
	ResumeLimits limits;
	limits.max_image = 1 * M1;
	{
		auto file = ResumeFile::create(*r.fw, r.compat, limits);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		EXPECT_EQ(1 * M1, f.load_limit());
		EXPECT_EQ(1 * M1, f.prealloc_limit());
		ASSERT_TRUE(write_all(f, stop_copy_size(64 * M1)).is_ok());
		EXPECT_EQ(1 * M1, f.preallocated());
		std::vector<uint8_t> s = header(1 * M1, 0, 0);
		const std::vector<uint8_t> image = pattern(1 * M1, 4);
		s.insert(s.end(), image.begin(), image.end());
		ASSERT_TRUE(write_all(f, s).is_ok());
		ASSERT_TRUE(f.finish().is_ok());
		EXPECT_TRUE(r.fw->loaded.at(0) == image);
		EXPECT_EQ(nullptr, f.error_reason());
	}
	auto file = ResumeFile::create(*r.fw, r.compat, limits);
	ASSERT_TRUE(file.is_ok());
	ResumeFile &f = *file.value();
	host_shim::reset_allocation_counters();
	const auto w = write_all(f, header(1 * M1 + 1, 0, 0));
	EXPECT_EQ(kstd::Err::Overflow, w.error());
	EXPECT_EQ(-75, kstd::to_errno(kstd::Err::Overflow)); // -EOVERFLOW: what write() returns
	EXPECT_EQ(0, host_shim::allocation_attempts());
	EXPECT_STREQ("device image larger than the max_image_mib module parameter allows", f.error_reason());
	EXPECT_EQ(kstd::Err::Overflow, write_all(f, pattern(10, 1)).error()) << "latched";

	// 0 and anything above the format's limit mean the format's limit.
	for (const uint64_t v : {uint64_t{0}, uint64_t{1} << 40}) {
		limits.max_image = v;
		auto g = ResumeFile::create(*r.fw, r.compat, limits);
		ASSERT_TRUE(g.is_ok());
		EXPECT_EQ(stream::kMaxLoadSize, g.value()->load_limit()) << v;
	}
}

// Growth needs memory like any allocation: a failure fails the stream with
// NoMem and leaves nothing behind (the host shim's leak check).
TEST(ResumeFile, FailedGrowthFailsTheStreamCleanly)
{
	Rig r(64 * 1024);
	auto file = ResumeFile::create(*r.fw, r.compat);
	ASSERT_TRUE(file.is_ok());
	ResumeFile &f = *file.value();
	const uint64_t size = f.prealloc_limit() + 100;
	ASSERT_TRUE(write_all(f, header(size, 0, 0)).is_ok());
	ASSERT_TRUE(write_all(f, pattern(f.prealloc_limit(), 5)).is_ok());
	host_shim::fail_nth_allocation(1);
	EXPECT_EQ(kstd::Err::NoMem, write_all(f, pattern(100, 6)).error());
	host_shim::fail_nth_allocation(0);
	EXPECT_EQ(f.prealloc_limit(), r.fw->live_bytes);
}

} // namespace

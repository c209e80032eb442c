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

#include <utility>
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

std::vector<uint8_t> compat_record(const stream::CompatInfo &info)
{
	std::vector<uint8_t> r = header(stream::kCompatPayloadSizeV1_0, stream::kRecordOptional,
					static_cast<uint32_t>(stream::RecordTag::Compat));
	r.resize(stream::kRecordHeaderSize + stream::kCompatPayloadSizeV1_0);
	EXPECT_TRUE(stream::encode_compat_payload(
			    kstd::Bytes(&r[stream::kRecordHeaderSize], stream::kCompatPayloadSizeV1_0), info)
			    .is_ok());
	return r;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts)
{
	std::vector<uint8_t> all;
	for (const auto &p : parts)
		all.insert(all.end(), p.begin(), p.end());
	return all;
}

std::vector<uint8_t> image_record(const std::vector<uint8_t> &image)
{
	return cat({header(image.size(), 0, 0), image});
}

// Issue 9, item 4i through the real sink: optional records (a STOP_COPY_SIZE
// hint, an unknown optional record) before COMPAT are skipped and the COMPAT
// after them is still judged; a device image before COMPAT makes the COMPAT
// record a refusal (EBADMSG, and the log line says why).
TEST(ResumeFile, OptionalRecordsMayPrecedeCompatButNoImage)
{
	Rig r(64 * 1024);
	const std::vector<uint8_t> image = pattern(100, 1);
	const std::vector<uint8_t> unknown =
		cat({header(5, stream::kRecordOptional, 0x40000000), pattern(5, 9)});
	{
		auto file = ResumeFile::create(*r.fw, r.compat);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		ASSERT_TRUE(write_all(f, cat({stop_copy_size(100), unknown, compat_record(r.compat),
					      image_record(image)}))
				    .is_ok())
			<< f.error_reason();
		ASSERT_TRUE(f.finish().is_ok());
		ASSERT_EQ(1u, r.fw->loaded.size());
	}
	{
		stream::CompatInfo other = r.compat;
		other.pci_device_id++;
		auto file = ResumeFile::create(*r.fw, r.compat);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		EXPECT_EQ(kstd::Err::ProtoNotSupp,
			  write_all(f, cat({stop_copy_size(100), unknown, compat_record(other)})).error());
		EXPECT_STREQ("COMPAT refused: another device model", f.error_reason());
	}
	auto file = ResumeFile::create(*r.fw, r.compat);
	ASSERT_TRUE(file.is_ok());
	ResumeFile &f = *file.value();
	const auto w = write_all(f, cat({stop_copy_size(100), image_record(image), compat_record(r.compat)}));
	EXPECT_EQ(kstd::Err::BadMsg, w.error());
	EXPECT_EQ(-74, kstd::to_errno(kstd::Err::BadMsg)); // -EBADMSG
	EXPECT_STREQ("COMPAT record after a device image", f.error_reason());
	EXPECT_EQ(24u + 16u + 100u + 16u, f.parser().offset()); // judged on its header
	// A mandatory record we do not know is refused wherever it stands.
	auto g = ResumeFile::create(*r.fw, r.compat);
	ASSERT_TRUE(g.is_ok());
	EXPECT_EQ(kstd::Err::ProtoNotSupp,
		  write_all(*g.value(), cat({stop_copy_size(100), header(5, 0, 0x40000000)})).error());
	EXPECT_STREQ("unknown mandatory record", g.value()->error_reason());
}

// Issue 9, item 6: a source of another firmware build (same device, PSID and
// firmware major) is refused unless the operator allows it
// (ResumeLimits::compat_policy, the shim's accept_fw_build_mismatch); then it
// loads with one warning naming both builds. Another firmware line is refused
// either way.
TEST(ResumeFile, FirmwareBuildMismatchLoadsOnlyWhenTheOperatorAllowsIt)
{
	Rig r(64 * 1024);
	// As the mlx5 backend composes it: PSID fold 0x1c3a, firmware 28.39.1100.
	r.compat.fw_identity = 0x1c3a001c0027044cULL;
	stream::CompatInfo source = r.compat;
	source.fw_identity = 0x1c3a001c002703eaULL; // firmware 28.39.1002
	const std::vector<uint8_t> image = pattern(100, 1);
	const std::vector<uint8_t> s = cat({compat_record(source), stop_copy_size(100), image_record(image)});
	ResumeLimits accept;
	accept.compat_policy.accept_fw_build_mismatch = true;
	{
		auto file = ResumeFile::create(*r.fw, r.compat);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		EXPECT_EQ(kstd::Err::ProtoNotSupp, write_all(f, s).error());
		EXPECT_EQ(-93, kstd::to_errno(kstd::Err::ProtoNotSupp)); // -EPROTONOSUPPORT
		EXPECT_STREQ("COMPAT refused: another firmware build (see accept_fw_build_mismatch)",
			     f.error_reason());
		EXPECT_EQ(uint64_t{stream::kRecordHeaderSize + stream::kCompatPayloadSizeV1_0},
			  f.parser().offset());
		EXPECT_TRUE(r.fw->loaded.empty());
	}
	{
		auto file = ResumeFile::create(*r.fw, r.compat, accept);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		ASSERT_TRUE(write_all(f, s).is_ok()) << f.error_reason();
		EXPECT_STREQ("accepting a migration stream from firmware build 39.1002 on firmware build "
			     "39.1100 (accept_fw_build_mismatch is set)",
			     host_shim::last_log());
		ASSERT_TRUE(f.finish().is_ok());
		ASSERT_EQ(1u, r.fw->loaded.size());
		EXPECT_TRUE(r.fw->loaded[0] == image);
		EXPECT_EQ(nullptr, f.error_reason());
	}
	// The same build is simply compatible: no warning.
	{
		auto file = ResumeFile::create(*r.fw, r.compat, accept);
		ASSERT_TRUE(file.is_ok());
		const char *before = host_shim::last_log();
		ASSERT_TRUE(write_all(*file.value(), cat({compat_record(r.compat), image_record(image)}))
				    .is_ok());
		EXPECT_EQ(before, host_shim::last_log());
	}
	// Another PSID or major, another device: never waived.
	stream::CompatInfo other_line = source, other_device = r.compat;
	other_line.fw_identity ^= 1ull << 48; // the PSID fold
	other_device.pci_device_id++;
	const std::pair<const stream::CompatInfo *, const char *> refused[] = {
		{&other_line, "COMPAT refused: another firmware (PSID or major version)"},
		{&other_device, "COMPAT refused: another device model"},
	};
	for (const auto &[peer, why] : refused) {
		auto file = ResumeFile::create(*r.fw, r.compat, accept);
		ASSERT_TRUE(file.is_ok());
		ResumeFile &f = *file.value();
		EXPECT_EQ(kstd::Err::ProtoNotSupp,
			  write_all(f, cat({compat_record(*peer), image_record(image)})).error());
		EXPECT_STREQ(why, f.error_reason());
	}
	EXPECT_EQ(2u, r.fw->loaded.size());
}

} // namespace

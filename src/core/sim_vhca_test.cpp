// SPDX-License-Identifier: GPL-2.0-only
#include "sim_vhca.h"

#include <gtest/gtest.h>
#include <gtest/gtest-spi.h>

#include <cstring>
#include <vector>

#include "host_shim.h"

namespace mlx5vf {
namespace {

using Image = std::vector<uint8_t>;
constexpr uint32_t kH = kSimHeaderSize;
constexpr uint32_t kPage = 4096;
constexpr uint32_t kRecord = kSimPageIndexSize + kPage;

// Host tests pump completions by hand; the delays are what the kernel timer
// would have been armed with.
class ManualScheduler final : public CompletionScheduler {
public:
	void request_completion(uint64_t delay_ns) override { delays.push_back(delay_ns); }
	std::vector<uint64_t> delays;
};

class Recorder final : public SaveCompletion {
public:
	void save_done(const SaveResult &r) override { results.push_back(r); }
	std::vector<SaveResult> results;
};

// A SimVhca with its own scheduler; not movable (the sim keeps &scheduler).
class Device {
public:
	explicit Device(SimConfig cfg = SimConfig{})
	{
		cfg.scheduler = &scheduler;
		auto made = SimVhca::create(cfg, kstd::AllocCtx::Sleepable);
		EXPECT_TRUE(made.is_ok());
		if (made.is_ok())
			sim_ = made.release_value();
	}
	Device(const Device &) = delete;
	SimVhca *operator->() const { return sim_.get(); }
	SimVhca &operator*() const { return *sim_; }

	ManualScheduler scheduler;

private:
	kstd::Owned<SimVhca> sim_;
};

// A buffer freed at scope exit.
class Buffer {
public:
	Buffer(SimVhca &sim, uint64_t size, DmaDir dir) : sim_(sim)
	{
		auto b = sim.alloc_buffer(size, dir, kstd::AllocCtx::Sleepable);
		EXPECT_TRUE(b.is_ok());
		if (b.is_ok())
			buf_ = b.value();
	}
	Buffer(const Buffer &) = delete;
	~Buffer() { sim_.free_buffer(buf_); }
	DataBuffer *get() const { return buf_; }
	DataBuffer &operator*() const { return *buf_; }
	DataBuffer *operator->() const { return buf_; }

private:
	SimVhca &sim_;
	DataBuffer *buf_ = nullptr;
};

SimConfig config(uint64_t state_size, uint64_t identity = 7, uint64_t seed = 1)
{
	SimConfig cfg;
	cfg.state_size = state_size;
	cfg.identity = identity;
	cfg.seed = seed;
	return cfg;
}

SimConfig chunk_config(uint64_t state_size, uint32_t max_chunk)
{
	SimConfig cfg = config(state_size);
	cfg.chunk_mode = true;
	cfg.max_chunk = max_chunk;
	return cfg;
}

void stop(SimVhca &sim)
{
	ASSERT_TRUE(sim.suspend(VhcaSide::Initiator).is_ok());
	ASSERT_TRUE(sim.suspend(VhcaSide::Responder).is_ok());
}

void start(SimVhca &sim)
{
	ASSERT_TRUE(sim.resume(VhcaSide::Responder).is_ok());
	ASSERT_TRUE(sim.resume(VhcaSide::Initiator).is_ok());
}

// Submit a save and pump its completion.
SaveResult save_now(SimVhca &sim, DataBuffer *buf, SaveKind kind, bool track)
{
	Recorder done;
	auto submitted = sim.save(SaveRequest{buf, kind, track}, done);
	EXPECT_TRUE(submitted.is_ok()) << static_cast<int>(submitted.error());
	if (submitted.is_error())
		return SaveResult{FwStatus::Failed, 0, 0};
	EXPECT_TRUE(sim.completion_pending());
	EXPECT_TRUE(done.results.empty()); // never before the scheduler fires
	sim.deliver_completion();
	EXPECT_FALSE(sim.completion_pending());
	EXPECT_EQ(1u, done.results.size());
	return done.results.empty() ? SaveResult{FwStatus::Failed, 0, 0} : done.results[0];
}

Image read_image(const DataBuffer &buf, uint32_t size)
{
	Image img(size);
	EXPECT_TRUE(buf.read(0, kstd::Bytes(img.data(), img.size())).is_ok());
	return img;
}

// Query, allocate exactly `required`, save, and return the (unchunked) image.
Image save_image(SimVhca &sim, SaveKind kind, bool track)
{
	QueryFlags q;
	q.incremental = kind == SaveKind::Incremental;
	q.cleanup = kind == SaveKind::Cleanup;
	q.chunk = sim.config().chunk_mode; // every query carries the mode's chunk bit
	auto size = sim.query_state(q);
	EXPECT_TRUE(size.is_ok());
	if (size.is_error())
		return {};
	Buffer buf(sim, size.value().required, DmaDir::FromDevice);
	const SaveResult r = save_now(sim, buf.get(), kind, track);
	EXPECT_EQ(FwStatus::Ok, r.status);
	EXPECT_EQ(0u, r.next_required);
	EXPECT_EQ(size.value().required, r.image_size);
	return read_image(*buf, r.image_size);
}

// Chunk mode: save an image in chunks, each into a buffer of exactly the size
// the firmware asked for; checks the sizes add up to remaining_total.
std::vector<Image> save_chunks(SimVhca &sim, SaveKind kind, bool track)
{
	QueryFlags q;
	q.incremental = kind == SaveKind::Incremental;
	q.chunk = true;
	auto size = sim.query_state(q);
	EXPECT_TRUE(size.is_ok());
	if (size.is_error())
		return {};
	std::vector<Image> chunks;
	uint64_t total = 0;
	uint32_t need = size.value().required;
	while (need && chunks.size() < 10000) {
		Buffer buf(sim, need, DmaDir::FromDevice);
		// Chunks after the first continue the image: incremental, untracked.
		const bool first = chunks.empty();
		const SaveResult r =
			save_now(sim, buf.get(), first ? kind : SaveKind::Incremental, first && track);
		EXPECT_EQ(FwStatus::Ok, r.status);
		if (r.status != FwStatus::Ok)
			break;
		EXPECT_LE(r.image_size, need);
		chunks.push_back(read_image(*buf, r.image_size));
		total += r.image_size;
		need = r.next_required;
	}
	EXPECT_EQ(size.value().remaining_total, total);
	return chunks;
}

// The destination side: copy an image into a LOAD buffer and load it.
kstd::Result<void> load_image(SimVhca &sim, const Image &img)
{
	Buffer buf(sim, img.empty() ? 1 : img.size(), DmaDir::ToDevice);
	if (!buf.get())
		return kstd::Err::NoMem;
	EXPECT_TRUE(buf->write(0, kstd::ConstBytes(img.data(), img.size())).is_ok());
	return sim.load(*buf, static_cast<uint32_t>(img.size()));
}

void expect_loads(SimVhca &sim, const Image &img)
{
	auto r = load_image(sim, img);
	EXPECT_TRUE(r.is_ok()) << sim_load_error_name(sim.last_load_error());
	EXPECT_EQ(SimLoadError::None, sim.last_load_error());
}

void expect_rejected(SimVhca &sim, const Image &img, SimLoadError why)
{
	const uint64_t before = sim.state_checksum();
	auto r = load_image(sim, img);
	ASSERT_TRUE(r.is_error());
	EXPECT_EQ(kstd::Err::Io, r.error());
	EXPECT_EQ(why, sim.last_load_error()) << "got " << sim_load_error_name(sim.last_load_error())
					      << ", want " << sim_load_error_name(why);
	EXPECT_EQ(before, sim.state_checksum()); // a refused image changes nothing
}

TEST(SimVhca, CreateValidatesTheConfiguration)
{
	ManualScheduler sched;
	auto attempt = [&](SimConfig cfg, bool with_scheduler = true) {
		if (with_scheduler)
			cfg.scheduler = &sched;
		return SimVhca::create(cfg, kstd::AllocCtx::Sleepable).error();
	};
	EXPECT_EQ(kstd::Err::Invalid, attempt(config(65536), false));
	EXPECT_EQ(kstd::Err::Invalid, attempt(config(0)));
	EXPECT_EQ(kstd::Err::Invalid, attempt(config(65536 + 100))); // not whole pages
	SimConfig odd_page = config(65536);
	odd_page.track_page_size = 3000;
	EXPECT_EQ(kstd::Err::Invalid, attempt(odd_page));
	SimConfig tiny_page = config(65536);
	tiny_page.track_page_size = 4;
	EXPECT_EQ(kstd::Err::Invalid, attempt(tiny_page));
	SimConfig no_segments = config(65536);
	no_segments.segment_size = 0;
	EXPECT_EQ(kstd::Err::Invalid, attempt(no_segments));
	// A chunk must hold a header and one page record.
	EXPECT_EQ(kstd::Err::Invalid, attempt(chunk_config(65536, kH + kRecord - 1)));
	// Without chunk mode a full image must fit a 32-bit SAVE.
	EXPECT_EQ(kstd::Err::Invalid, attempt(config(4ULL << 30)));
	// The configured part is whole pages within the state.
	SimConfig odd_configured = config(65536);
	odd_configured.configured_size = kPage + 8;
	EXPECT_EQ(kstd::Err::Invalid, attempt(odd_configured));
	SimConfig over_configured = config(65536);
	over_configured.configured_size = 65536 + kPage;
	EXPECT_EQ(kstd::Err::Invalid, attempt(over_configured));
	EXPECT_EQ(0, host_shim::outstanding_allocations());
}

TEST(SimVhca, PowerOnStateIsDeterminedBySeed)
{
	Device a(config(65536, 7, 42)), b(config(65536, 9, 42)), c(config(65536, 7, 43));
	EXPECT_EQ(a->state_checksum(), b->state_checksum());
	EXPECT_NE(a->state_checksum(), c->state_checksum());
	EXPECT_EQ(65536u, a->state().size());
}

TEST(SimVhca, WriteStateFollowsTheActivityRules)
{
	Device dev(config(65536));
	const uint64_t sum = dev->state_checksum();
	ASSERT_TRUE(dev->write_state(4000, 200, 0x5e).is_ok());
	EXPECT_NE(sum, dev->state_checksum());
	EXPECT_EQ(0x5e, dev->state()[4000]);
	EXPECT_EQ(0x5e, dev->state()[4199]);
	EXPECT_EQ(1u, dev->internal_writes());
	EXPECT_EQ(kstd::Err::Range, dev->write_state(0, 16, 1).error()); // the configuration register
	EXPECT_EQ(kstd::Err::Range, dev->write_state(65536 - 8, 9, 1).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->write_state(64, 0, 1).error());

	// Tracked: both pages the write spans are dirty.
	Buffer buf(*dev, 65536 + kH, DmaDir::FromDevice);
	EXPECT_EQ(FwStatus::Ok, save_now(*dev, buf.get(), SaveKind::Full, true).status);
	EXPECT_EQ(0u, dev->dirty_pages());
	ASSERT_TRUE(dev->write_state(4000, 200, 0x11).is_ok());
	EXPECT_EQ(2u, dev->dirty_pages());

	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	ASSERT_TRUE(dev->write_state(64, 8, 0x22).is_ok());
	EXPECT_EQ(1u, dev->incoming_writes());
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	const uint64_t frozen = dev->state_checksum();
	EXPECT_EQ(kstd::Err::Again, dev->write_state(64, 8, 0x33).error());
	EXPECT_EQ(frozen, dev->state_checksum());
}

TEST(SimVhca, ActivityChangesStateUntilTheResponderIsSuspended)
{
	Device dev(config(65536));
	uint64_t sum = dev->state_checksum();
	EXPECT_EQ(100u, dev->run_activity(100));
	EXPECT_NE(sum, dev->state_checksum());
	EXPECT_EQ(100u, dev->internal_writes());

	// RUNNING_P2P: it no longer initiates, but peers still write to it.
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	sum = dev->state_checksum();
	EXPECT_EQ(50u, dev->run_activity(50));
	EXPECT_NE(sum, dev->state_checksum());
	EXPECT_EQ(50u, dev->incoming_writes());

	// STOP: frozen.
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	sum = dev->state_checksum();
	EXPECT_EQ(0u, dev->run_activity(1000));
	EXPECT_EQ(sum, dev->state_checksum());

	start(*dev);
	dev->run_activity(10);
	EXPECT_NE(sum, dev->state_checksum());
	EXPECT_EQ(110u, dev->internal_writes());
}

TEST(SimVhca, SuspendAndResumeAcceptOnlyTheDriversOrder)
{
	Device dev;
	const kstd::Err bad = kstd::Err::Invalid;
	// RUNNING
	EXPECT_EQ(bad, dev->suspend(VhcaSide::Responder).error());
	EXPECT_EQ(bad, dev->resume(VhcaSide::Initiator).error());
	EXPECT_EQ(bad, dev->resume(VhcaSide::Responder).error());
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	// RUNNING_P2P
	EXPECT_EQ(bad, dev->suspend(VhcaSide::Initiator).error());
	EXPECT_EQ(bad, dev->resume(VhcaSide::Responder).error());
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	// STOP
	EXPECT_TRUE(dev->initiator_suspended());
	EXPECT_TRUE(dev->responder_suspended());
	EXPECT_EQ(bad, dev->suspend(VhcaSide::Responder).error());
	EXPECT_EQ(bad, dev->suspend(VhcaSide::Initiator).error());
	EXPECT_EQ(bad, dev->resume(VhcaSide::Initiator).error());
	ASSERT_TRUE(dev->resume(VhcaSide::Responder).is_ok());
	ASSERT_TRUE(dev->resume(VhcaSide::Initiator).is_ok());
	EXPECT_FALSE(dev->initiator_suspended());
	EXPECT_EQ(12u, dev->command_count(SimOp::Suspend) + dev->command_count(SimOp::Resume));
}

TEST(SimVhca, FullImageLoadedElsewhereReproducesTheState)
{
	Device src(config(256 << 10, 7, 1)), dst(config(256 << 10, 7, 2));
	src->run_activity(500);
	stop(*src);
	const Image img = save_image(*src, SaveKind::Full, false);
	EXPECT_EQ(kH + (256u << 10), img.size());
	EXPECT_NE(src->state_checksum(), dst->state_checksum());
	stop(*dst);
	expect_loads(*dst, img);
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
	EXPECT_EQ(0, memcmp(src->state().data(), dst->state().data(), src->state().size()));
}

TEST(SimVhca, PrecopyRoundsThenFinalIncrementalReproduceTheState)
{
	Device src(config(256 << 10, 7, 1)), dst(config(256 << 10, 7, 2));
	stop(*dst);
	// PRE_COPY: initial image while running, then rounds of changes.
	expect_loads(*dst, save_image(*src, SaveKind::Full, true));
	EXPECT_TRUE(src->tracking());
	for (int round = 0; round < 4; round++) {
		src->run_activity(20);
		EXPECT_GT(src->dirty_pages(), 0u);
		expect_loads(*dst, save_image(*src, SaveKind::Incremental, true));
		EXPECT_EQ(0u, src->dirty_pages());
	}
	src->run_activity(20);
	// STOP_COPY: quiesce, then the final incremental ends tracking.
	stop(*src);
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, false));
	EXPECT_FALSE(src->tracking());
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, ChunkedImageLoadsChunkByChunk)
{
	Device src(chunk_config(1 << 20, 64 << 10)), dst(chunk_config(1 << 20, 64 << 10));
	src->run_activity(300);
	stop(*src);
	stop(*dst);
	QueryFlags q;
	q.chunk = true;
	const StateSize size = src->query_state(q).value();
	EXPECT_EQ(64u << 10, size.required);
	EXPECT_EQ(1049664u, size.remaining_total); // 17 headers + 1 MiB

	const std::vector<Image> chunks = save_chunks(*src, SaveKind::Full, false);
	ASSERT_EQ(17u, chunks.size());
	for (size_t i = 0; i < chunks.size(); i++) {
		SimImageHeader h;
		uint8_t raw[kH];
		memcpy(raw, chunks[i].data(), kH);
		ASSERT_EQ(SimLoadError::None, sim_decode_header(raw, &h));
		EXPECT_EQ(i, h.chunk_index);
		EXPECT_EQ(i + 1 == chunks.size(), (h.flags & kSimChunkLast) != 0);
		// Every chunk is a loadable image of its own.
		expect_loads(*dst, chunks[i]);
	}
	EXPECT_FALSE(src->image_in_progress());
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, ChunkedPrecopyWithActivityBetweenChunks)
{
	const SimConfig cfg = chunk_config(256 << 10, 16 << 10);
	Device src(cfg), dst(cfg);
	stop(*dst);
	// Tracked full image in chunks while the function keeps running.
	QueryFlags q;
	q.chunk = true;
	uint32_t need = src->query_state(q).value().required;
	int chunks = 0;
	while (need) {
		Buffer buf(*src, need, DmaDir::FromDevice);
		const SaveResult r = chunks ? save_now(*src, buf.get(), SaveKind::Incremental, false)
					    : save_now(*src, buf.get(), SaveKind::Full, true);
		ASSERT_EQ(FwStatus::Ok, r.status);
		expect_loads(*dst, read_image(*buf, r.image_size));
		src->run_activity(5);
		need = r.next_required;
		chunks++;
	}
	EXPECT_EQ(17, chunks);
	for (int round = 0; round < 3; round++) {
		src->run_activity(40);
		for (const Image &c : save_chunks(*src, SaveKind::Incremental, true))
			expect_loads(*dst, c);
	}
	src->run_activity(40);
	stop(*src);
	const std::vector<Image> final_chunks = save_chunks(*src, SaveKind::Incremental, false);
	EXPECT_GT(final_chunks.size(), 1u);
	for (const Image &c : final_chunks)
		expect_loads(*dst, c);
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

// Foreign: another firmware line (the identity's high 32 bits). Another
// build of the same line loads; whether it may is the driver's decision.
TEST(SimVhca, LoadRejectsAForeignImage)
{
	Device src(config(65536, 7)), dst(config(65536, 7 | 1ull << 32));
	stop(*src);
	stop(*dst);
	expect_rejected(*dst, save_image(*src, SaveKind::Full, false), SimLoadError::Foreign);
	Device other_build(config(65536, 8));
	stop(*other_build);
	expect_loads(*other_build, save_image(*src, SaveKind::Full, false));
	EXPECT_EQ(src->state_checksum(), other_build->state_checksum());
}

TEST(SimVhca, LoadRejectsAnImageOfOtherGeometry)
{
	Device src(config(65536)), dst(config(131072));
	stop(*src);
	stop(*dst);
	expect_rejected(*dst, save_image(*src, SaveKind::Full, false), SimLoadError::Incompatible);
}

TEST(SimVhca, LoadRejectsAnyFlippedByte)
{
	Device src(config(16 << 10)), dst(config(16 << 10));
	stop(*dst);
	const Image full = save_image(*src, SaveKind::Full, true);
	src->run_activity(3);
	const Image inc = save_image(*src, SaveKind::Incremental, true);
	ASSERT_GT(inc.size(), kH);

	for (size_t i = 0; i < full.size(); i += (i < kH ? 1 : 997)) {
		Image bad = full;
		bad[i] ^= 0x10;
		expect_rejected(*dst, bad, i < 4 ? SimLoadError::NotAnImage : SimLoadError::Corrupt);
	}
	expect_loads(*dst, full);
	for (size_t i = kH; i < inc.size(); i += 101) {
		Image bad = inc;
		bad[i] ^= 0x01;
		expect_rejected(*dst, bad, SimLoadError::Corrupt);
	}
	// A page index out of range is refused even when the checksum agrees.
	Image wild = inc;
	wild[kH + 7] = 0x80;
	expect_rejected(*dst, wild, SimLoadError::Corrupt);
	expect_loads(*dst, inc);
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, LoadRejectsTruncatedImagesAndTrailingBytes)
{
	Device src(config(65536)), dst(config(65536));
	stop(*src);
	stop(*dst);
	const Image img = save_image(*src, SaveKind::Full, false);
	for (size_t keep : {img.size() - 1, size_t{kH} + 1, size_t{kH}, size_t{kH} - 1, size_t{1}, size_t{0}})
		expect_rejected(*dst, Image(img.begin(), img.begin() + keep), SimLoadError::Truncated);
	Image longer = img;
	longer.push_back(0);
	expect_rejected(*dst, longer, SimLoadError::Corrupt);
}

TEST(SimVhca, LoadRejectsIncrementalsBeforeAFullImage)
{
	Device src(config(65536)), dst(config(65536));
	stop(*dst);
	const Image full = save_image(*src, SaveKind::Full, true);
	src->run_activity(10);
	const Image inc = save_image(*src, SaveKind::Incremental, true);
	expect_rejected(*dst, inc, SimLoadError::NoBase);
	expect_loads(*dst, full);
	expect_loads(*dst, inc);
	// A reset destination forgets its base.
	dst->function_reset();
	stop(*dst);
	expect_rejected(*dst, inc, SimLoadError::NoBase);
}

TEST(SimVhca, LoadRejectsChunksOutOfOrderAndIncrementalsMidImage)
{
	const SimConfig cfg = chunk_config(64 << 10, 16 << 10);
	Device src(cfg), dst(cfg);
	stop(*dst);
	const std::vector<Image> full = save_chunks(*src, SaveKind::Full, true);
	ASSERT_EQ(5u, full.size());
	src->run_activity(10);
	const std::vector<Image> inc = save_chunks(*src, SaveKind::Incremental, true);

	expect_rejected(*dst, full[1], SimLoadError::OutOfOrder);
	expect_loads(*dst, full[0]);
	expect_rejected(*dst, full[2], SimLoadError::OutOfOrder);
	expect_rejected(*dst, inc[0], SimLoadError::NoBase); // base not complete yet
	for (size_t i = 1; i < full.size(); i++)
		expect_loads(*dst, full[i]);
	for (const Image &c : inc)
		expect_loads(*dst, c);
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, LoadNeedsTheFunctionFullySuspended)
{
	Device src(config(65536)), dst(config(65536));
	stop(*src);
	const Image img = save_image(*src, SaveKind::Full, false);
	const uint64_t before = dst->state_checksum();
	for (VhcaSide next : {VhcaSide::Initiator, VhcaSide::Responder}) {
		auto r = load_image(*dst, img); // RUNNING, then RUNNING_P2P
		ASSERT_TRUE(r.is_error());
		EXPECT_EQ(kstd::Err::Invalid, r.error());
		EXPECT_EQ(SimLoadError::NotSuspended, dst->last_load_error());
		EXPECT_EQ(before, dst->state_checksum());
		ASSERT_TRUE(dst->suspend(next).is_ok());
	}
	expect_loads(*dst, img);
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, LoadRefusesBuffersItCannotUse)
{
	Device src(config(65536)), dst(config(65536));
	stop(*src);
	stop(*dst);
	const Image img = save_image(*src, SaveKind::Full, false);
	Buffer wrong_dir(*dst, img.size(), DmaDir::FromDevice);
	EXPECT_EQ(kstd::Err::Invalid, dst->load(*wrong_dir, static_cast<uint32_t>(img.size())).error());
	EXPECT_EQ(SimLoadError::BadParameter, dst->last_load_error());
	Buffer other_backend(*src, img.size(), DmaDir::ToDevice);
	EXPECT_EQ(kstd::Err::Invalid, dst->load(*other_backend, static_cast<uint32_t>(img.size())).error());
	Buffer small(*dst, 100, DmaDir::ToDevice);
	EXPECT_EQ(kstd::Err::Invalid, dst->load(*small, 101).error());
}

TEST(SimVhca, QuerySizesMatchTheImagesProduced)
{
	Device dev(config(128 << 10));
	QueryFlags full;
	EXPECT_EQ(kH + (128u << 10), dev->query_state(full).value().required);
	EXPECT_EQ(kH + (128u << 10), dev->query_state(full).value().remaining_total);
	(void)save_image(*dev, SaveKind::Full, true); // checks query == image inside

	QueryFlags inc;
	inc.incremental = true;
	EXPECT_EQ(kH, dev->query_state(inc).value().required); // nothing changed yet
	EXPECT_EQ(size_t{kH}, save_image(*dev, SaveKind::Incremental, true).size());
	for (uint32_t writes : {1u, 7u, 100u}) {
		dev->run_activity(writes);
		const uint64_t dirty = dev->dirty_pages();
		EXPECT_EQ(kH + dirty * kRecord, dev->query_state(inc).value().required);
		EXPECT_EQ(kH + dirty * kRecord, save_image(*dev, SaveKind::Incremental, true).size());
	}
	QueryFlags cleanup;
	cleanup.incremental = cleanup.cleanup = true;
	EXPECT_EQ(kH, dev->query_state(cleanup).value().required);
	EXPECT_EQ(size_t{kH}, save_image(*dev, SaveKind::Cleanup, false).size());
	EXPECT_FALSE(dev->tracking());

	QueryFlags chunk;
	chunk.chunk = true;
	EXPECT_EQ(kstd::Err::OpNotSupp, dev->query_state(chunk).error());
}

TEST(SimVhca, ChunkQueryReportsRequiredAndRemaining)
{
	Device dev(chunk_config(64 << 10, 16 << 10));
	QueryFlags q;
	q.chunk = true;
	StateSize s = dev->query_state(q).value();
	EXPECT_EQ(16u << 10, s.required);
	EXPECT_EQ((64u << 10) + 5 * kH, s.remaining_total);
	// Mid-image, the SAVE's next_required sizes the next chunk; a full
	// query sizes the new image a full SAVE would start (rule 11): the
	// in-tree driver sizes a migration's first buffers from that query,
	// even with the last migration's image left unfinished.
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	const SaveResult r = save_now(*dev, buf.get(), SaveKind::Full, true);
	EXPECT_EQ(16u << 10, r.image_size);
	EXPECT_EQ(16u << 10, r.next_required);
	s = dev->query_state(q).value();
	EXPECT_EQ(16u << 10, s.required);
	EXPECT_EQ((64u << 10) + 5 * kH, s.remaining_total);
	// An image smaller than a chunk is required whole.
	Device small(chunk_config(8 << 10, 16 << 10));
	EXPECT_EQ((8u << 10) + kH, small->query_state(q).value().required);
	// A query without the chunk bit is refused in chunk mode.
	EXPECT_EQ(kstd::Err::Invalid, small->query_state(QueryFlags{}).error());
	// Abandon the half-saved image so nothing is left in progress.
	(void)save_image(*dev, SaveKind::Cleanup, false);
	EXPECT_FALSE(dev->image_in_progress());
}

TEST(SimVhca, IncrementalSavesNeedTracking)
{
	Device dev(config(65536));
	Buffer buf(*dev, 65536 + kH, DmaDir::FromDevice);
	Recorder done;
	QueryFlags inc;
	inc.incremental = true;
	auto refused = [&] {
		return dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error() ==
			       kstd::Err::Invalid &&
		       dev->query_state(inc).error() == kstd::Err::Invalid;
	};
	EXPECT_TRUE(refused()); // never tracked
	(void)save_now(*dev, buf.get(), SaveKind::Full, false);
	EXPECT_TRUE(refused()); // untracked full image
	(void)save_now(*dev, buf.get(), SaveKind::Full, true);
	EXPECT_TRUE(dev->tracking());
	EXPECT_EQ(FwStatus::Ok, save_now(*dev, buf.get(), SaveKind::Incremental, true).status);
	(void)save_now(*dev, buf.get(), SaveKind::Cleanup, false);
	EXPECT_TRUE(refused()); // cleanup released tracking
	(void)save_now(*dev, buf.get(), SaveKind::Full, true);
	EXPECT_EQ(FwStatus::Ok, save_now(*dev, buf.get(), SaveKind::Incremental, false).status);
	EXPECT_TRUE(refused()); // the final incremental ends tracking
	EXPECT_TRUE(done.results.empty());
}

TEST(SimVhca, BadResourceStateLosesTrackingUntilATrackedFullSave)
{
	Device src(config(65536)), dst(config(65536));
	stop(*dst);
	expect_loads(*dst, save_image(*src, SaveKind::Full, true));
	src->run_activity(10);
	ASSERT_TRUE(src->inject_fault(SimOp::Save, 1, SimFault::BadResourceState).is_ok());
	Buffer buf(*src, 65536 + kH, DmaDir::FromDevice);
	const SaveResult r = save_now(*src, buf.get(), SaveKind::Incremental, true);
	EXPECT_EQ(FwStatus::BadResourceState, r.status);
	EXPECT_EQ(0u, r.image_size);
	EXPECT_FALSE(src->tracking());
	EXPECT_EQ(0u, src->dirty_pages());

	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  src->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error());
	EXPECT_EQ(kstd::Err::Invalid,
		  src->save(SaveRequest{buf.get(), SaveKind::Incremental, false}, done).error());
	// The way out: a tracked full image, then incrementals again.
	expect_loads(*dst, save_image(*src, SaveKind::Full, true));
	src->run_activity(10);
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, true));
	stop(*src);
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, false));
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

// Track the first MiB of guest memory at 4 KiB.
TrackRequest one_range_request()
{
	static const IovaRange kRange{0, 1 << 20};
	TrackRequest req;
	req.ranges = kstd::Span<const IovaRange>(&kRange, 1);
	req.log_page_size = 12;
	req.log_addr_space = 20;
	return req;
}

// Issues one command of kind op that succeeds unless a fault fires, and
// repairs the device state afterwards so the next one is legal again.
kstd::Err issue(SimOp op, SimVhca &sim, DataBuffer *save_buf, const Image &full_image)
{
	auto err = [](const auto &r) { return r.is_ok() ? kstd::Err{} : r.error(); };
	switch (op) {
	case SimOp::Query: return err(sim.query_state(QueryFlags{}));
	case SimOp::Suspend: {
		const kstd::Err e = err(sim.suspend(VhcaSide::Initiator));
		if (e == kstd::Err{}) {
			EXPECT_TRUE(sim.resume(VhcaSide::Initiator).is_ok());
		}
		return e;
	}
	case SimOp::Resume: {
		EXPECT_TRUE(sim.suspend(VhcaSide::Initiator).is_ok());
		const kstd::Err e = err(sim.resume(VhcaSide::Initiator));
		if (e != kstd::Err{}) {
			EXPECT_TRUE(sim.resume(VhcaSide::Initiator).is_ok());
		}
		return e;
	}
	case SimOp::Save: {
		Recorder done;
		const kstd::Err e = err(sim.save(SaveRequest{save_buf, SaveKind::Full, false}, done));
		sim.deliver_completion();
		return e;
	}
	case SimOp::Load: {
		EXPECT_TRUE(sim.suspend(VhcaSide::Initiator).is_ok());
		EXPECT_TRUE(sim.suspend(VhcaSide::Responder).is_ok());
		const kstd::Err e = err(load_image(sim, full_image));
		start(sim);
		return e;
	}
	case SimOp::Alloc: {
		auto b = sim.alloc_buffer(100, DmaDir::ToDevice, kstd::AllocCtx::Atomic);
		if (b.is_ok())
			sim.free_buffer(b.value());
		return err(b);
	}
	case SimOp::TrackStart: {
		const kstd::Err e = err(sim.track_start(one_range_request()));
		sim.track_stop();
		return e;
	}
	case SimOp::TrackReport: {
		if (!sim.tracker().active()) {
			EXPECT_TRUE(sim.track_start(one_range_request()).is_ok());
		}
		struct : DirtySink {
			void dirty_page(uint64_t) override {}
		} sink;
		return err(sim.track_report(0, 4096, sink));
	}
	}
	return kstd::Err::Invalid;
}

TEST(SimVhca, EachInjectedErrorFiresOnExactlyTheNthCommand)
{
	constexpr uint32_t kCommands = 5;
	for (unsigned o = 0; o < kSimOpCount; o++) {
		const auto op = static_cast<SimOp>(o);
		for (uint32_t nth = 1; nth <= kCommands; nth++) {
			Device dev(config(16 << 10));
			Image full;
			{
				Device other(config(16 << 10));
				stop(*other);
				full = save_image(*other, SaveKind::Full, false);
			}
			Buffer save_buf(*dev, (16 << 10) + kH, DmaDir::FromDevice);
			const uint32_t before = dev->command_count(op);
			ASSERT_TRUE(dev->inject_fault(op, nth, SimFault::Error).is_ok());
			for (uint32_t i = 1; i <= kCommands; i++) {
				const uint32_t count = dev->command_count(op);
				const kstd::Err e = issue(op, *dev, save_buf.get(), full);
				EXPECT_EQ(i == nth ? kstd::Err::Io : kstd::Err{}, e)
					<< "op " << o << " nth " << nth << " command " << i;
				if (op == SimOp::Load) {
					EXPECT_EQ(i == nth ? SimLoadError::Injected : SimLoadError::None,
						  dev->last_load_error());
				}
				EXPECT_EQ(count + 1 + (op == SimOp::Resume && i == nth ? 1 : 0),
					  dev->command_count(op));
			}
			EXPECT_GE(dev->command_count(op) - before, kCommands);
		}
	}
}

TEST(SimVhca, InjectFaultRejectsNonsense)
{
	Device dev;
	EXPECT_EQ(kstd::Err::Invalid, dev->inject_fault(SimOp::Query, 0, SimFault::Error).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->inject_fault(SimOp::Load, 1, SimFault::ShortImage).error());
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->inject_fault(SimOp::Suspend, 1, SimFault::BadResourceState).error());
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->inject_fault(static_cast<SimOp>(kSimOpCount), 1, SimFault::Error).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->inject_fault(SimOp::Save, 1, SimFault::LoseDirty).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->inject_fault(SimOp::TrackReport, 1, SimFault::ShortImage).error());
}

TEST(SimVhca, SaveCompletionFaultsFireOnTheNthSave)
{
	for (SimFault fault :
	     {SimFault::SaveCompleteError, SimFault::ShortImage, SimFault::BadResourceState}) {
		for (uint32_t nth = 1; nth <= 3; nth++) {
			Device dev(config(16 << 10));
			stop(*dev);
			Buffer buf(*dev, (16 << 10) + kH, DmaDir::FromDevice);
			ASSERT_TRUE(dev->inject_fault(SimOp::Save, nth, fault).is_ok());
			for (uint32_t i = 1; i <= 3; i++) {
				const SaveResult r = save_now(*dev, buf.get(), SaveKind::Full, false);
				if (i != nth) {
					EXPECT_EQ(FwStatus::Ok, r.status);
					EXPECT_EQ((16u << 10) + kH, r.image_size);
					continue;
				}
				switch (fault) {
				case SimFault::SaveCompleteError:
					EXPECT_EQ(FwStatus::Failed, r.status);
					EXPECT_EQ(0u, r.image_size);
					break;
				case SimFault::BadResourceState:
					EXPECT_EQ(FwStatus::BadResourceState, r.status);
					break;
				default: {
					EXPECT_EQ(FwStatus::Ok, r.status);
					EXPECT_EQ((16u << 10) + kH - 1, r.image_size);
					Device dst(config(16 << 10));
					stop(*dst);
					expect_rejected(*dst, read_image(*buf, r.image_size),
							SimLoadError::Truncated);
				}
				}
			}
		}
	}
}

TEST(SimVhca, InjectedSubmitErrorChangesNothing)
{
	Device dev(config(65536));
	(void)save_image(*dev, SaveKind::Full, true);
	dev->run_activity(5);
	const uint64_t dirty = dev->dirty_pages();
	Buffer buf(*dev, 65536 + kH, DmaDir::FromDevice);
	Recorder done;
	ASSERT_TRUE(dev->inject_fault(SimOp::Save, 1, SimFault::Error).is_ok());
	EXPECT_EQ(kstd::Err::Io,
		  dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error());
	EXPECT_FALSE(dev->completion_pending());
	EXPECT_EQ(1u, dev.scheduler.delays.size()); // only the first, successful save
	EXPECT_TRUE(dev->tracking());
	EXPECT_EQ(dirty, dev->dirty_pages());
}

TEST(SimVhca, CompletionDelayIsLatencyPlusSizeOverBandwidth)
{
	SimConfig cfg = chunk_config(64 << 10, 16 << 10);
	cfg.latency_ns = 50000;
	cfg.bandwidth_bytes_per_ms = 3000000; // 3 GB/s
	Device dev(cfg);
	stop(*dev);
	const std::vector<Image> chunks = save_chunks(*dev, SaveKind::Full, false);
	ASSERT_EQ(chunks.size(), dev.scheduler.delays.size());
	for (size_t i = 0; i < chunks.size(); i++)
		EXPECT_EQ(50000 + chunks[i].size() * 1000000 / 3000000, dev.scheduler.delays[i]);
	EXPECT_EQ(50000u + 5461u, dev.scheduler.delays[0]); // 16384 B at 3 B/ns, rounded down

	// A completion that moved nothing costs only the latency.
	dev.scheduler.delays.clear();
	ASSERT_TRUE(dev->inject_fault(SimOp::Save, 1, SimFault::SaveCompleteError).is_ok());
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	(void)save_now(*dev, buf.get(), SaveKind::Full, false);
	ASSERT_EQ(1u, dev.scheduler.delays.size());
	EXPECT_EQ(50000u, dev.scheduler.delays[0]);
	EXPECT_EQ(50000u, dev->completion_delay_ns(0));
	EXPECT_EQ(~0ULL, dev->completion_delay_ns(~0ULL)); // saturates, never wraps
}

TEST(SimVhca, OneSaveInFlightAndWhatWaitsForIt)
{
	Device dev(config(65536));
	(void)save_image(*dev, SaveKind::Full, true);
	Buffer buf(*dev, 65536 + kH, DmaDir::FromDevice);
	Recorder done, other;
	ASSERT_TRUE(dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).is_ok());
	EXPECT_EQ(kstd::Err::Busy, dev->save(SaveRequest{buf.get(), SaveKind::Full, false}, other).error());
	EXPECT_EQ(kstd::Err::Busy, dev->suspend(VhcaSide::Initiator).error());
	QueryFlags inc;
	inc.incremental = true;
	EXPECT_EQ(kstd::Err::Busy, dev->query_state(inc).error());
	EXPECT_TRUE(dev->query_state(QueryFlags{}).is_ok()); // full queries do not wait
	dev->deliver_completion();
	dev->deliver_completion(); // a stale timer is harmless
	EXPECT_EQ(1u, done.results.size());
	EXPECT_TRUE(other.results.empty());
	EXPECT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
}

TEST(SimVhca, SaveValidatesItsBuffer)
{
	Device dev(config(65536)), other(config(65536));
	Recorder done;
	Buffer to_device(*dev, 65536 + kH, DmaDir::ToDevice);
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{to_device.get(), SaveKind::Full, false}, done).error());
	Buffer foreign(*other, 65536 + kH, DmaDir::FromDevice);
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{foreign.get(), SaveKind::Full, false}, done).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->save(SaveRequest{nullptr, SaveKind::Full, false}, done).error());
	Buffer small(*dev, 65536 + kH - 1, DmaDir::FromDevice);
	EXPECT_EQ(kstd::Err::NoSpc, dev->save(SaveRequest{small.get(), SaveKind::Full, false}, done).error());
	EXPECT_FALSE(dev->completion_pending());
	EXPECT_TRUE(dev.scheduler.delays.empty());
	// A cleanup (which needs tracking) takes a header at least.
	Buffer whole(*dev, 65536 + kH, DmaDir::FromDevice);
	(void)save_now(*dev, whole.get(), SaveKind::Full, true);
	Buffer tiny(*dev, kH - 1, DmaDir::FromDevice);
	EXPECT_EQ(kstd::Err::NoSpc,
		  dev->save(SaveRequest{tiny.get(), SaveKind::Cleanup, false}, done).error());
	EXPECT_FALSE(dev->completion_pending());
	EXPECT_EQ(1u, dev.scheduler.delays.size());
}

TEST(SimVhca, ChunkedImageMustBeFinishedOrCleanedUp)
{
	Device dev(chunk_config(64 << 10, 16 << 10));
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	const SaveResult first = save_now(*dev, buf.get(), SaveKind::Full, true);
	ASSERT_NE(0u, first.next_required);
	EXPECT_TRUE(dev->image_in_progress());
	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error());
	EXPECT_EQ(FwStatus::Ok, save_now(*dev, buf.get(), SaveKind::Cleanup, false).status);
	EXPECT_FALSE(dev->image_in_progress());
	EXPECT_FALSE(dev->tracking());
	// A buffer larger than the chunk size takes more per chunk.
	Buffer big(*dev, 40 << 10, DmaDir::FromDevice);
	const SaveResult r = save_now(*dev, big.get(), SaveKind::Full, false);
	EXPECT_EQ(40u << 10, r.image_size);
	EXPECT_EQ(16u << 10, r.next_required);
	// Smaller than required is refused.
	Buffer small(*dev, (16 << 10) - 1, DmaDir::FromDevice);
	EXPECT_EQ(kstd::Err::NoSpc, dev->save(SaveRequest{small.get(), SaveKind::Full, false}, done).error());
	while (dev->image_in_progress())
		(void)save_now(*dev, buf.get(), SaveKind::Incremental, false);
}

TEST(SimVhca, TrackedIncrementalIsClippedAndTheRestStaysDirty)
{
	Device src(config(256 << 10)), dst(config(256 << 10));
	stop(*dst);
	expect_loads(*dst, save_image(*src, SaveKind::Full, true));
	src->run_activity(200);
	const uint64_t dirty = src->dirty_pages();
	ASSERT_GT(dirty, 3u);
	// The buffer was sized for two pages; more were dirtied since.
	Buffer buf(*src, kH + 2 * kRecord, DmaDir::FromDevice);
	const SaveResult r = save_now(*src, buf.get(), SaveKind::Incremental, true);
	EXPECT_EQ(kH + 2 * kRecord, r.image_size);
	EXPECT_EQ(0u, r.next_required);
	EXPECT_EQ(dirty - 2, src->dirty_pages());
	expect_loads(*dst, read_image(*buf, r.image_size));
	// The final incremental must take everything at once.
	stop(*src);
	Recorder done;
	EXPECT_EQ(kstd::Err::NoSpc,
		  src->save(SaveRequest{buf.get(), SaveKind::Incremental, false}, done).error());
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, false));
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, FunctionResetFailsTheInFlightSaveAndRestoresPowerOn)
{
	Device dev(config(65536)), fresh(config(65536));
	(void)save_image(*dev, SaveKind::Full, true);
	dev->run_activity(30);
	Buffer buf(*dev, 65536 + kH, DmaDir::FromDevice);
	Recorder done;
	ASSERT_TRUE(dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).is_ok());
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).error() == kstd::Err::Busy);
	dev->function_reset();
	EXPECT_TRUE(dev->completion_pending()); // the scheduled completion still comes
	dev->deliver_completion();
	ASSERT_EQ(1u, done.results.size());
	EXPECT_EQ(FwStatus::Failed, done.results[0].status);
	EXPECT_EQ(0u, done.results[0].image_size);
	EXPECT_FALSE(dev->initiator_suspended());
	EXPECT_FALSE(dev->responder_suspended());
	EXPECT_FALSE(dev->tracking());
	EXPECT_EQ(fresh->state_checksum(), dev->state_checksum());
}

TEST(SimVhca, BuffersAreSegmentedLikePages)
{
	SimConfig cfg = config(64 << 10);
	cfg.segment_size = 1000; // deliberately not a divisor of anything
	Device src(cfg), dst(cfg);
	Buffer buf(*src, 2500, DmaDir::ToDevice);
	EXPECT_EQ(2500u, buf->capacity());
	std::vector<uint8_t> pattern(2500);
	for (size_t i = 0; i < pattern.size(); i++)
		pattern[i] = static_cast<uint8_t>(i * 7);
	ASSERT_TRUE(buf->write(0, kstd::ConstBytes(pattern.data(), pattern.size())).is_ok());
	std::vector<uint8_t> back(2500);
	ASSERT_TRUE(buf->read(0, kstd::Bytes(back.data(), back.size())).is_ok());
	EXPECT_EQ(pattern, back);
	EXPECT_EQ(kstd::Err::Range, buf->read(2000, kstd::Bytes(back.data(), 501)).error());

	stop(*dst);
	expect_loads(*dst, save_image(*src, SaveKind::Full, true));
	src->run_activity(20);
	stop(*src);
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, false));
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
}

TEST(SimVhca, AllocBufferRefusesUnusableSizesAndHandsOutDistinctKeys)
{
	Device dev;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->alloc_buffer(0, DmaDir::ToDevice, kstd::AllocCtx::Sleepable).error());
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->alloc_buffer(1ULL << 32, DmaDir::ToDevice, kstd::AllocCtx::Sleepable).error());
	Buffer a(*dev, 10, DmaDir::ToDevice), b(*dev, 10, DmaDir::FromDevice);
	EXPECT_NE(a->fw_key(), b->fw_key());
	EXPECT_EQ(DmaDir::FromDevice, b->dir());
	dev->free_buffer(nullptr);
}

TEST(SimVhca, CreateFailsCleanlyAtEveryAllocation)
{
	ManualScheduler sched;
	SimConfig cfg = config(64 << 10);
	cfg.scheduler = &sched;
	const long baseline = host_shim::outstanding_allocations();
	host_shim::reset_allocation_counters();
	{
		auto ok = SimVhca::create(cfg, kstd::AllocCtx::Sleepable);
		ASSERT_TRUE(ok.is_ok());
	}
	const long attempts = host_shim::allocation_attempts();
	EXPECT_EQ(4, attempts); // object, state, dirty and pending bitmaps
	for (long nth = 1; nth <= attempts; nth++) {
		host_shim::fail_nth_allocation(nth);
		auto failed = SimVhca::create(cfg, kstd::AllocCtx::Sleepable);
		EXPECT_EQ(kstd::Err::NoMem, failed.error()) << "allocation " << nth;
		EXPECT_EQ(baseline, host_shim::outstanding_allocations()) << "allocation " << nth;
	}
	host_shim::fail_nth_allocation(0);
}

TEST(SimVhca, AllocBufferFailsCleanlyAtEveryAllocation)
{
	Device dev;
	for (kstd::AllocCtx ctx : {kstd::AllocCtx::Sleepable, kstd::AllocCtx::Atomic}) {
		const long baseline = host_shim::outstanding_allocations();
		host_shim::reset_allocation_counters();
		auto ok = dev->alloc_buffer(3 * 4096 + 100, DmaDir::FromDevice, ctx);
		ASSERT_TRUE(ok.is_ok());
		dev->free_buffer(ok.value());
		const long attempts = host_shim::allocation_attempts();
		EXPECT_EQ(6, attempts); // segment table, 4 segments, buffer object
		for (long nth = 1; nth <= attempts; nth++) {
			host_shim::fail_nth_allocation(nth);
			auto failed = dev->alloc_buffer(3 * 4096 + 100, DmaDir::FromDevice, ctx);
			EXPECT_EQ(kstd::Err::NoMem, failed.error()) << "allocation " << nth;
			EXPECT_EQ(baseline, host_shim::outstanding_allocations()) << "allocation " << nth;
		}
		host_shim::fail_nth_allocation(0);
	}
}

TEST(SimVhca, NothingAllocatesAfterCreateExceptBuffers)
{
	Device src(chunk_config(64 << 10, 16 << 10)), dst(chunk_config(64 << 10, 16 << 10));
	Buffer out(*src, 16 << 10, DmaDir::FromDevice), in(*dst, 16 << 10, DmaDir::ToDevice);
	stop(*dst);
	host_shim::reset_allocation_counters();
	Recorder done;
	auto pump = [&](SaveKind kind, bool track) {
		uint32_t next;
		bool first = true;
		do {
			// Chunks after the first continue the image: incremental, untracked.
			const SaveRequest req = first ? SaveRequest{out.get(), kind, track}
						      : SaveRequest{out.get(), SaveKind::Incremental, false};
			first = false;
			ASSERT_TRUE(src->save(req, done).is_ok());
			src->deliver_completion();
			const SaveResult r = done.results.back();
			ASSERT_EQ(FwStatus::Ok, r.status);
			std::vector<uint8_t> bytes(r.image_size);
			ASSERT_TRUE(out->read(0, kstd::Bytes(bytes.data(), bytes.size())).is_ok());
			ASSERT_TRUE(in->write(0, kstd::ConstBytes(bytes.data(), bytes.size())).is_ok());
			ASSERT_TRUE(dst->load(*in, r.image_size).is_ok());
			next = r.next_required;
		} while (next);
	};
	pump(SaveKind::Full, true);
	src->run_activity(50);
	QueryFlags q;
	q.incremental = q.chunk = true;
	ASSERT_TRUE(src->query_state(q).is_ok());
	pump(SaveKind::Incremental, true);
	stop(*src);
	pump(SaveKind::Incremental, false);
	src->function_reset();
	EXPECT_EQ(0, host_shim::allocation_attempts());
}

TEST(SimVhca, FreeingTheBufferOfAnInFlightSaveIsReportedAndRefused)
{
	Device dev(config(16 << 10));
	auto b = dev->alloc_buffer((16 << 10) + kH, DmaDir::FromDevice, kstd::AllocCtx::Sleepable);
	ASSERT_TRUE(b.is_ok());
	Recorder done;
	ASSERT_TRUE(dev->save(SaveRequest{b.value(), SaveKind::Full, false}, done).is_ok());
	EXPECT_NONFATAL_FAILURE(dev->free_buffer(b.value()), "in-flight save");
	dev->deliver_completion();
	dev->free_buffer(b.value()); // still allocated: the refused free leaked nothing
}

// ---- Reconfiguration and the migration_state the firmware reports --------

SimConfig half_configured(uint64_t seed = 1, uint64_t state = 256 << 10)
{
	SimConfig cfg = config(state, 7, seed);
	cfg.configured_size = state / 2;
	return cfg;
}

bool all_zero(kstd::ConstBytes b)
{
	for (uint8_t v : b)
		if (v)
			return false;
	return true;
}

TEST(SimVhca, ActivityStaysInTheConfiguredPagesAndSparesTheRegister)
{
	Device dev(half_configured());
	const uint64_t half = dev->state().size() / 2;
	EXPECT_EQ(half / kPage, dev->configured_pages());
	EXPECT_TRUE(all_zero(dev->state().subspan(half, half)));
	dev->run_activity(5000);
	EXPECT_TRUE(all_zero(dev->state().subspan(half, half)));
	EXPECT_EQ(half / kPage, dev->configured_pages());
	// Fully configured by default.
	Device full(config(65536));
	EXPECT_EQ(65536u / kPage, full->configured_pages());
	EXPECT_EQ(kstd::Err::NoSpc, full->reconfigure(1).error());
}

TEST(SimVhca, ReconfigureDuringPrecopyIsInitUntilASaveCapturesIt)
{
	Device src(half_configured(1)), dst(half_configured(2));
	stop(*dst);
	EXPECT_EQ(VhcaMigState::Idle, src->migration_state());
	expect_loads(*dst, save_image(*src, SaveKind::Full, true));
	EXPECT_EQ(VhcaMigState::Ready, src->migration_state());
	src->run_activity(10);
	EXPECT_EQ(VhcaMigState::Dirty, src->migration_state());
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, true));

	const uint64_t before = src->configured_pages();
	auto added = src->reconfigure(6);
	ASSERT_TRUE(added.is_ok());
	EXPECT_EQ(6u, added.value());
	EXPECT_EQ(before + 6, src->configured_pages());
	EXPECT_FALSE(all_zero(src->state().subspan(before * kPage, 6 * kPage)));
	EXPECT_EQ(7u, src->dirty_pages()); // the new pages and the register's page
	// Every incremental query says Init until a save takes the new state.
	for (int i = 0; i < 3; i++) {
		auto q = src->query_state({.incremental = true});
		ASSERT_TRUE(q.is_ok());
		EXPECT_EQ(VhcaMigState::Init, q.value().state);
		EXPECT_EQ(kH + 7 * kRecord, q.value().required);
	}
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, true));
	EXPECT_EQ(VhcaMigState::Ready, src->query_state({.incremental = true}).value().state);

	// The grown configuration is state like any other: equal after the final image.
	src->run_activity(30);
	stop(*src);
	expect_loads(*dst, save_image(*src, SaveKind::Incremental, false));
	EXPECT_EQ(src->state_checksum(), dst->state_checksum());
	EXPECT_EQ(before + 6, dst->configured_pages()); // it runs with the source's configuration
}

TEST(SimVhca, ReconfigureLimitsAndWhereInitIsNotReported)
{
	Device dev(half_configured(1, 64 << 10));
	EXPECT_EQ(kstd::Err::Invalid, dev->reconfigure(0).error());
	// Not tracking: the configuration grows, but that is no new *migration* state.
	EXPECT_EQ(3u, dev->reconfigure(3).value());
	EXPECT_EQ(VhcaMigState::Idle, dev->migration_state());
	EXPECT_EQ(0u, dev->dirty_pages());
	// At most the capacity.
	EXPECT_EQ(16u - 8 - 3, dev->reconfigure(100).value());
	EXPECT_EQ(16u, dev->configured_pages());
	EXPECT_EQ(kstd::Err::NoSpc, dev->reconfigure(1).error());

	// Tracking lost (a cleanup save) forgets Init.
	Device d2(half_configured(1, 64 << 10));
	save_image(*d2, SaveKind::Full, true);
	ASSERT_TRUE(d2->reconfigure(1).is_ok());
	EXPECT_EQ(VhcaMigState::Init, d2->migration_state());
	save_image(*d2, SaveKind::Cleanup, false);
	EXPECT_EQ(VhcaMigState::Idle, d2->migration_state());
	// A quiesced function takes no configuration.
	stop(*d2);
	EXPECT_EQ(kstd::Err::Again, d2->reconfigure(1).error());
	// FLR: back to the power-on configuration.
	d2->function_reset();
	EXPECT_EQ(8u, d2->configured_pages());
}

TEST(SimVhca, WithoutTheCapQueriesReportNoMigrationState)
{
	SimConfig cfg = half_configured(1, 64 << 10);
	cfg.migration_state = false;
	Device dev(cfg);
	EXPECT_FALSE(dev->caps().migration_state);
	save_image(*dev, SaveKind::Full, true);
	ASSERT_TRUE(dev->reconfigure(2).is_ok());
	EXPECT_EQ(VhcaMigState::Uninitialized, dev->query_state({.incremental = true}).value().state);
	EXPECT_EQ(3u, dev->dirty_pages()); // the data still travels as changes
	Device with_cap(half_configured(1, 64 << 10));
	EXPECT_TRUE(with_cap->caps().migration_state);
}

} // namespace
} // namespace mlx5vf

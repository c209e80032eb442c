// SPDX-License-Identifier: GPL-2.0-only
// The firmware contract (Documentation/firmware-contract.rst): one test per
// rule the simulated VF enforces that no older test pins, and the core's side
// of the rules that the strict simulator exposed (issue 9, item 4a).
#include "save_file.h"
#include "sim_vhca.h"

#include <gtest/gtest.h>

#include <vector>

#include "host_shim.h"
#include "sim_rig.h"

namespace mlx5vf {
namespace {

class ManualScheduler final : public CompletionScheduler {
public:
	void request_completion(uint64_t) override {}
};

class Recorder final : public SaveCompletion {
public:
	void save_done(const SaveResult &r) override { results.push_back(r); }
	std::vector<SaveResult> results;
};

// A SimVhca with its own scheduler; not movable (the sim keeps &scheduler).
class Device {
public:
	explicit Device(SimConfig cfg)
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
	DataBuffer *operator->() const { return buf_; }

private:
	SimVhca &sim_;
	DataBuffer *buf_ = nullptr;
};

SimConfig chunked(uint64_t state_size = 64 << 10, uint32_t max_chunk = 16 << 10)
{
	SimConfig cfg;
	cfg.state_size = state_size;
	cfg.identity = 7;
	cfg.chunk_mode = true;
	cfg.max_chunk = max_chunk;
	return cfg;
}

SimConfig unchunked(uint64_t state_size = 64 << 10)
{
	SimConfig cfg;
	cfg.state_size = state_size;
	cfg.identity = 7;
	return cfg;
}

// Submits one SAVE and delivers its completion.
kstd::Result<SaveResult> save_now(SimVhca &sim, DataBuffer *buf, SaveKind kind, bool track)
{
	Recorder done;
	TRY(sim.save(SaveRequest{buf, kind, track}, done));
	sim.deliver_completion();
	if (done.results.size() != 1)
		return kstd::Err::Io;
	return done.results[0];
}

SaveResult save_ok(SimVhca &sim, DataBuffer *buf, SaveKind kind, bool track)
{
	auto r = save_now(sim, buf, kind, track);
	EXPECT_TRUE(r.is_ok());
	if (r.is_error())
		return SaveResult{FwStatus::Failed, 0, 0};
	EXPECT_EQ(FwStatus::Ok, r.value().status);
	return r.value();
}

SimImageHeader header_of(DataBuffer *buf)
{
	uint8_t raw[kSimHeaderSize];
	EXPECT_TRUE(buf->read(0, kstd::Bytes(raw, sizeof(raw))).is_ok());
	SimImageHeader h;
	EXPECT_EQ(SimLoadError::None, sim_decode_header(raw, &h));
	return h;
}

QueryFlags query(bool incremental, bool chunk, bool cleanup = false)
{
	QueryFlags q;
	q.incremental = incremental;
	q.chunk = chunk;
	q.cleanup = cleanup;
	return q;
}

// Rule "continuation chunks": every chunk after an image's first is SAVE
// incremental=1 set_track=0 (in-tree mlx5vf_mig_file_save_work), even for a
// full image; it continues the image where the last chunk ended.
TEST(FwContract, ContinuationChunkIsIncrementalUntracked)
{
	Device dev(chunked());
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	SaveResult r = save_ok(*dev, buf.get(), SaveKind::Full, false);
	ASSERT_NE(0u, r.next_required);
	uint64_t offset = header_of(buf.get()).payload_size;
	for (uint32_t chunk = 1; r.next_required; chunk++) {
		r = save_ok(*dev, buf.get(), SaveKind::Incremental, false);
		const SimImageHeader h = header_of(buf.get());
		EXPECT_EQ(SimImageKind::Full, h.kind); // still the full image
		EXPECT_EQ(chunk, h.chunk_index);
		EXPECT_EQ(offset, h.offset);
		offset += h.payload_size;
		ASSERT_LT(chunk, 10u);
	}
	EXPECT_EQ(dev->config().state_size, offset);
	EXPECT_FALSE(dev->image_in_progress());
}

// The same for an image whose first SAVE set tracking: the continuation does
// not set it again, and tracking holds for the deltas after the image.
TEST(FwContract, ContinuationOfATrackedImageCarriesNoTrack)
{
	Device dev(chunked());
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	SaveResult r = save_ok(*dev, buf.get(), SaveKind::Full, true);
	ASSERT_NE(0u, r.next_required);
	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error());
	while (r.next_required)
		r = save_ok(*dev, buf.get(), SaveKind::Incremental, false);
	EXPECT_TRUE(dev->tracking());
	EXPECT_TRUE(dev->query_state(query(true, true)).is_ok());
}

// What a driver that asks for a full image at chunk 2 gets (issue 9, 4a): a
// new image from offset 0, so the old one never ends. In-tree relies on a
// full SAVE starting over: its next migration's first SAVE after a
// STOP_COPY -> STOP that left chunks unsaved.
TEST(FwContract, FullSaveMidImageStartsANewImage)
{
	Device dev(chunked());
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	ASSERT_NE(0u, save_ok(*dev, buf.get(), SaveKind::Full, false).next_required);
	for (int i = 0; i < 3; i++) {
		const SaveResult r = save_ok(*dev, buf.get(), SaveKind::Full, false);
		EXPECT_NE(0u, r.next_required);
		EXPECT_EQ(0u, header_of(buf.get()).offset);
		EXPECT_EQ(0u, header_of(buf.get()).chunk_index);
	}
	EXPECT_TRUE(dev->image_in_progress());
}

// Rule "set_track": the in-tree driver sets it with the initiator suspended
// (RUNNING_P2P -> PRE_COPY_P2P, mlx5vf_pci_save_device_data) but never after
// SUSPEND responder, and its comment in mlx5vf_cmd_suspend_vhca says a
// tracked SAVE against a suspended VHCA fails.
TEST(FwContract, SetTrackFailsAfterSuspendResponder)
{
	Device dev(unchunked());
	Buffer buf(*dev, (64 << 10) + kSimHeaderSize, DmaDir::FromDevice);
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	save_ok(*dev, buf.get(), SaveKind::Full, true); // RUNNING_P2P -> PRE_COPY_P2P
	EXPECT_TRUE(dev->tracking());
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->save(SaveRequest{buf.get(), SaveKind::Full, true}, done).error());
	EXPECT_TRUE(done.results.empty());
	// The untracked final delta is what STOP allows.
	EXPECT_TRUE(save_now(*dev, buf.get(), SaveKind::Incremental, false).is_ok());
	EXPECT_FALSE(dev->tracking());
}

// Rule "cleanup": SAVE incremental=0 set_track=0 with a buffer sized by an
// incremental query; it carries no track bit (in-tree
// mlx5vf_pci_step_device_state_locked, PRE_COPY -> RUNNING).
TEST(FwContract, CleanupSaveNeverSetsTrack)
{
	Device dev(unchunked());
	Buffer buf(*dev, (64 << 10) + kSimHeaderSize, DmaDir::FromDevice);
	save_ok(*dev, buf.get(), SaveKind::Full, true);
	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Cleanup, true}, done).error());
	EXPECT_TRUE(dev->tracking());
}

// Rule "cleanup only while tracking": untracked, the same command would start
// a full image, not clean anything up. Tracked, it ends tracking and any
// image still open.
TEST(FwContract, CleanupSaveNeedsTrackingAndEndsIt)
{
	Device dev(chunked());
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Cleanup, false}, done).error());
	ASSERT_NE(0u, save_ok(*dev, buf.get(), SaveKind::Full, true).next_required);
	auto size = dev->query_state(query(false, true, true));
	ASSERT_TRUE(size.is_ok());
	save_ok(*dev, buf.get(), SaveKind::Cleanup, false);
	EXPECT_FALSE(dev->tracking());
	EXPECT_FALSE(dev->image_in_progress());
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Cleanup, false}, done).error());
}

// Rule "QUERY on a VHCA that is not tracking": incremental=1 fails (in-tree
// comment in mlx5vf_cmd_query_vhca_migration_state); the cleanup query is
// incremental=1 on the wire too. A full query always answers.
TEST(FwContract, IncrementalQueryFailsWithoutTracking)
{
	Device dev(unchunked());
	EXPECT_EQ(kstd::Err::Invalid, dev->query_state(query(true, false)).error());
	EXPECT_EQ(kstd::Err::Invalid, dev->query_state(query(false, false, true)).error());
	EXPECT_TRUE(dev->query_state(query(false, false)).is_ok());
	Buffer buf(*dev, (64 << 10) + kSimHeaderSize, DmaDir::FromDevice);
	save_ok(*dev, buf.get(), SaveKind::Full, true);
	EXPECT_TRUE(dev->query_state(query(true, false)).is_ok());
	EXPECT_TRUE(dev->query_state(query(false, false, true)).is_ok());
	// An untracked SAVE ends tracking: the incremental query fails again.
	save_ok(*dev, buf.get(), SaveKind::Full, false);
	EXPECT_EQ(kstd::Err::Invalid, dev->query_state(query(true, false)).error());
}

// Rule "chunk bit": set on every QUERY exactly when the firmware saves in
// chunks (in-tree sets it from migration_in_chunks on every query).
TEST(FwContract, QueryChunkBitFollowsTheCapability)
{
	Device chunk(chunked());
	EXPECT_EQ(kstd::Err::Invalid, chunk->query_state(query(false, false)).error());
	EXPECT_TRUE(chunk->query_state(query(false, true)).is_ok());
	Device plain(unchunked());
	EXPECT_EQ(kstd::Err::OpNotSupp, plain->query_state(query(false, true)).error());
	EXPECT_TRUE(plain->query_state(query(false, false)).is_ok());
}

// Rule "a new delta needs the last image finished": an incremental SAVE that
// would start a delta while chunks of another image remain is no command the
// in-tree driver issues; refused.
TEST(FwContract, NewDeltaWhileChunksRemainIsRefused)
{
	Device dev(chunked());
	Buffer buf(*dev, 16 << 10, DmaDir::FromDevice);
	ASSERT_NE(0u, save_ok(*dev, buf.get(), SaveKind::Full, true).next_required);
	(void)dev->run_activity(8);
	Recorder done;
	EXPECT_EQ(kstd::Err::Invalid,
		  dev->save(SaveRequest{buf.get(), SaveKind::Incremental, true}, done).error());
	EXPECT_TRUE(done.results.empty());
}

// ---- The core against the contract ------------------------------------------

// Forwards to a SimVhca and records every SAVE request.
class SaveLog final : public Firmware {
public:
	explicit SaveLog(SimVhca &sim) : sim_(sim) {}
	struct Entry {
		SaveKind kind;
		bool track;
	};
	std::vector<Entry> saves;
	std::vector<QueryFlags> queries;
	// Bytes a full query leaves out of remaining_total: a running function
	// whose state grows between the QUERY and the SAVE.
	uint64_t full_underestimate = 0;

	FwCaps caps() const override { return sim_.caps(); }
	kstd::Result<StateSize> query_state(const QueryFlags &f) override
	{
		queries.push_back(f);
		auto r = sim_.query_state(f);
		if (r.is_ok() && !f.incremental && full_underestimate) {
			StateSize s = r.value();
			s.remaining_total -= kstd::min(s.remaining_total - s.required, full_underestimate);
			return s;
		}
		return r;
	}
	kstd::Result<void> suspend(VhcaSide s) override { return sim_.suspend(s); }
	kstd::Result<void> resume(VhcaSide s) override { return sim_.resume(s); }
	kstd::Result<void> save(const SaveRequest &r, SaveCompletion &d) override
	{
		saves.push_back({r.kind, r.track});
		return sim_.save(r, d);
	}
	kstd::Result<void> load(DataBuffer &b, uint32_t n) override { return sim_.load(b, n); }
	kstd::Result<DataBuffer *> alloc_buffer(uint64_t n, DmaDir d, kstd::AllocCtx c) override
	{
		return sim_.alloc_buffer(n, d, c);
	}
	void free_buffer(DataBuffer *b) override { sim_.free_buffer(b); }
	void function_reset() override { sim_.function_reset(); }
	TrackCaps track_caps() const override { return sim_.track_caps(); }
	kstd::Result<void> track_start(const TrackRequest &req) override { return sim_.track_start(req); }
	void track_stop() override { sim_.track_stop(); }
	kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) override
	{
		return sim_.track_report(iova, length, sink);
	}

private:
	SimVhca &sim_;
};

kstd::Result<kstd::Owned<SaveFile>> open_save(SaveLog &fw, SaveFile::Mode mode)
{
	SaveFile::Config cfg;
	cfg.fw = &fw;
	cfg.compat = rig::Side::compat_for(7);
	cfg.mode = mode;
	cfg.max_chunk_size = 16 << 10;
	return SaveFile::create(cfg);
}

// Reads what is there, delivering completions, at most `rounds` times.
kstd::Result<size_t> read_some(SaveFile &file, SimVhca &sim, std::vector<uint8_t> &out, int rounds)
{
	size_t total = 0;
	for (int i = 0; i < rounds; i++) {
		rig::VecUser u;
		auto r = file.read(u, 1 << 20);
		if (r.is_ok()) {
			if (!r.value())
				return total;
			out.insert(out.end(), u.data.begin(), u.data.end());
			total += r.value();
			continue;
		}
		if (r.error() == kstd::Err::NoMsg)
			return total;
		if (r.error() != kstd::Err::Again || !sim.completion_pending())
			return r.error();
		sim.deliver_completion();
	}
	return kstd::Err::TimedOut;
}

void close_file(SaveFile &file, SimVhca &sim)
{
	if (sim.completion_pending())
		sim.deliver_completion();
	file.quiesce();
	file.close();
}

// Found by the VM's precopy suite on a busy machine: an initial image that
// outgrows the QUERY that sized it (the function runs on between the two)
// let initial_bytes reach 0 with chunks of it still to come, so QEMU would
// have acknowledged switchover early. It must count the image until the
// image has been queued whole, and every byte read lowers it by one.
TEST(SaveFileContract, InitialBytesOutlastAnUnderestimatedImage)
{
	Device dev(chunked(64 << 10, 16 << 10));
	SaveLog fw(*dev);
	fw.full_underestimate = 40 << 10;
	auto file = open_save(fw, SaveFile::Mode::PreCopy);
	ASSERT_TRUE(file.is_ok());
	SaveFile &f = *file.value();
	size_t got = 0;
	for (int step = 0; step < 1000; step++) {
		auto info = f.precopy_info(true);
		ASSERT_TRUE(info.is_ok());
		if (!info.value().initial_bytes)
			break;
		EXPECT_EQ(0u, info.value().dirty_bytes) << "step " << step;
		rig::VecUser u;
		auto r = f.read(u, kstd::min<uint64_t>(info.value().initial_bytes, 4096));
		if (r.is_error()) {
			ASSERT_EQ(kstd::Err::Again, r.error()) << "step " << step;
			ASSERT_TRUE(dev->completion_pending());
			dev->deliver_completion();
			continue;
		}
		got += r.value();
	}
	// (The PRECOPY_INFO that said 0 may have started a delta's SAVE.)
	EXPECT_FALSE(dev->image_in_progress() && !dev->completion_pending())
		<< "initial_bytes reached 0 after " << got << " bytes";
	// The whole full image (COMPAT, STOP_COPY_SIZE, 64 KiB in 16 KiB chunks).
	EXPECT_GT(got, size_t{64 << 10});
	close_file(f, *dev);
}

// Issue 9, 4a: a chunked STOP -> STOP_COPY image asked for a new full image
// at chunk 2. Every chunk after the first must be incremental and untracked.
TEST(SaveFileContract, StopCopyChunksContinueIncrementalUntracked)
{
	Device dev(chunked(64 << 10, 16 << 10));
	SaveLog fw(*dev);
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	auto file = open_save(fw, SaveFile::Mode::StopCopy);
	ASSERT_TRUE(file.is_ok());
	std::vector<uint8_t> stream;
	EXPECT_TRUE(read_some(*file.value(), *dev, stream, 100).is_ok());
	ASSERT_GE(fw.saves.size(), 4u);
	EXPECT_EQ(SaveKind::Full, fw.saves[0].kind);
	EXPECT_FALSE(fw.saves[0].track);
	for (size_t i = 1; i < fw.saves.size(); i++) {
		EXPECT_EQ(SaveKind::Incremental, fw.saves[i].kind) << "chunk " << i;
		EXPECT_FALSE(fw.saves[i].track) << "chunk " << i;
	}
	EXPECT_FALSE(dev->image_in_progress());
	close_file(*file.value(), *dev);
}

// Issue 9, 4a: precopy's chunked initial image followed next_required with
// tracked continuation SAVEs, also after PRE_COPY_P2P -> STOP_COPY suspended
// the responder, where set_track fails. Continuations are incremental and
// untracked; the final image follows the initial one.
TEST(SaveFileContract, PrecopyChunksContinueUntrackedAfterSuspend)
{
	Device dev(chunked(64 << 10, 16 << 10));
	SaveLog fw(*dev);
	auto file = open_save(fw, SaveFile::Mode::PreCopy);
	ASSERT_TRUE(file.is_ok());
	SaveFile &f = *file.value();
	// The first chunk completes; the arcs to STOP_COPY find no save in
	// flight and suspend the function with chunks of the image left.
	if (dev->completion_pending())
		dev->deliver_completion();
	rig::VecUser u;
	(void)f.read(u, 1); // integrates the completion, starts the next chunk
	if (dev->completion_pending())
		dev->deliver_completion();
	ASSERT_TRUE(dev->image_in_progress());
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	ASSERT_TRUE(f.start_final_save().is_ok());
	std::vector<uint8_t> stream;
	auto r = read_some(f, *dev, stream, 100);
	EXPECT_TRUE(r.is_ok()) << static_cast<int>(r.is_error() ? r.error() : kstd::Err::Io);
	EXPECT_FALSE(f.failed());
	EXPECT_FALSE(dev->image_in_progress());
	ASSERT_GE(fw.saves.size(), 5u);
	EXPECT_EQ(SaveKind::Full, fw.saves[0].kind);
	EXPECT_TRUE(fw.saves[0].track);
	for (size_t i = 1; i < fw.saves.size(); i++) {
		EXPECT_EQ(SaveKind::Incremental, fw.saves[i].kind) << "save " << i;
		EXPECT_FALSE(fw.saves[i].track) << "save " << i;
	}
	EXPECT_FALSE(dev->tracking()); // the untracked final image ended it
	close_file(f, *dev);
}

// Rule "cleanup": needed only while the firmware tracks. A stop-copy closed
// mid-image sends nothing (in-tree STOP_COPY -> STOP sends nothing either);
// the next migration's full SAVE starts over.
TEST(SaveFileContract, NoCleanupWithoutTracking)
{
	Device dev(chunked(64 << 10, 16 << 10));
	SaveLog fw(*dev);
	ASSERT_TRUE(dev->suspend(VhcaSide::Initiator).is_ok());
	ASSERT_TRUE(dev->suspend(VhcaSide::Responder).is_ok());
	auto file = open_save(fw, SaveFile::Mode::StopCopy);
	ASSERT_TRUE(file.is_ok());
	if (dev->completion_pending())
		dev->deliver_completion();
	file.value()->quiesce();
	EXPECT_TRUE(dev->image_in_progress());
	EXPECT_FALSE(file.value()->needs_fw_cleanup());
	const size_t saves = fw.saves.size();
	EXPECT_TRUE(file.value()->start_cleanup_save().is_ok());
	EXPECT_EQ(saves, fw.saves.size());
	close_file(*file.value(), *dev);
	auto again = open_save(fw, SaveFile::Mode::StopCopy);
	ASSERT_TRUE(again.is_ok());
	std::vector<uint8_t> stream;
	EXPECT_TRUE(read_some(*again.value(), *dev, stream, 100).is_ok());
	EXPECT_FALSE(dev->image_in_progress());
	close_file(*again.value(), *dev);
}

// Rule "cleanup": an abandoned precopy's cleanup query carries the chunk bit
// like every query, and its SAVE ends tracking.
TEST(SaveFileContract, PrecopyCleanupQueryCarriesTheChunkBit)
{
	Device dev(chunked(64 << 10, 16 << 10));
	SaveLog fw(*dev);
	auto file = open_save(fw, SaveFile::Mode::PreCopy);
	ASSERT_TRUE(file.is_ok());
	std::vector<uint8_t> stream;
	EXPECT_TRUE(read_some(*file.value(), *dev, stream, 100).is_ok());
	ASSERT_TRUE(dev->tracking());
	file.value()->quiesce();
	ASSERT_TRUE(file.value()->needs_fw_cleanup());
	ASSERT_TRUE(file.value()->start_cleanup_save().is_ok());
	ASSERT_FALSE(fw.queries.empty());
	EXPECT_TRUE(fw.queries.back().cleanup);
	EXPECT_TRUE(fw.queries.back().chunk);
	EXPECT_EQ(SaveKind::Cleanup, fw.saves.back().kind);
	dev->deliver_completion();
	EXPECT_FALSE(dev->tracking());
	close_file(*file.value(), *dev);
}

// Rule "set_track" from the other side: precopy entered from RUNNING_P2P
// sets track with the initiator suspended, as in-tree does, and a chunked
// migration through PRE_COPY_P2P reproduces the state on the strict VF.
TEST(SaveFileContract, PrecopyEnteredFromRunningP2pMigrates)
{
	using S = MigState;
	rig::Side src, dst;
	rig::SimConfig cfg = chunked(256 << 10, 32 << 10);
	ASSERT_TRUE(src.init(cfg, 32 << 10).is_ok());
	cfg.seed = 3;
	ASSERT_TRUE(dst.init(cfg, 32 << 10).is_ok());
	src.sim->run_activity(200);
	ASSERT_TRUE(src.go(S::RunningP2p).is_ok());
	ASSERT_TRUE(src.go(S::PreCopyP2p).is_ok());
	EXPECT_TRUE(src.sim->tracking());
	std::vector<uint8_t> stream;
	ASSERT_TRUE(src.drain(stream, 5000).is_ok());
	ASSERT_TRUE(src.go(S::StopCopy).is_ok());
	ASSERT_TRUE(src.drain(stream, 5000).is_ok());
	EXPECT_FALSE(src.sim->tracking());
	EXPECT_FALSE(src.sim->image_in_progress());
	ASSERT_TRUE(src.go(S::Stop).is_ok());
	ASSERT_TRUE(dst.go(S::Resuming).is_ok());
	ASSERT_TRUE(dst.feed(stream, 0, stream.size(), 3000).is_ok());
	ASSERT_TRUE(dst.go(S::Running).is_ok());
	EXPECT_EQ(src.sim->state_checksum(), dst.sim->state_checksum());
}

} // namespace
} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
// Migration statistics and observer events: exact byte, record and chunk
// counts for migrations of a simulated VF, checked against the stream
// itself; per-migration reset and cumulative totals; the events the shim
// turns into tracepoints.
#include "mig_stats.h"

#include <gtest/gtest.h>

#include "host_shim.h"
#include "sim_rig.h"

namespace mlx5vf {
namespace {

using rig::Side;
using S = MigState;

// A clock that advances 1000 ns at every look, and every event it is told.
class Recorder final : public Observer {
public:
	struct Arc {
		MigState from, to;
		int err;
	};
	struct Record {
		bool save;
		uint32_t tag;
		uint64_t length;
	};
	uint64_t clock = 0;
	std::vector<Arc> arcs;
	std::vector<mlx5vf_fw_cmd_info> cmds;
	std::vector<Record> records;

	uint64_t now_ns() override { return clock += 1000; }
	void arc(MigState from, MigState to, uint64_t duration_ns, int err) override
	{
		EXPECT_GT(duration_ns, 0u);
		arcs.push_back({from, to, err});
	}
	void fw_cmd(const mlx5vf_fw_cmd_info &info) override { cmds.push_back(info); }
	void record(bool save, uint32_t tag, uint64_t length) override
	{
		records.push_back({save, tag, length});
	}

	uint64_t cmd_bytes(FwCmdKind kind) const
	{
		uint64_t n = 0;
		for (const auto &c : cmds)
			if (c.kind == static_cast<uint32_t>(kind) && !c.err)
				n += c.bytes;
		return n;
	}
	size_t cmd_count(FwCmdKind kind) const
	{
		size_t n = 0;
		for (const auto &c : cmds)
			n += c.kind == static_cast<uint32_t>(kind);
		return n;
	}
};

// What a stream holds, from its own headers.
struct StreamShape {
	size_t records = 0;
	size_t fw_data = 0;
	uint64_t fw_data_bytes = 0; // payload only
};

StreamShape shape_of(const std::vector<uint8_t> &s)
{
	StreamShape sh;
	for (size_t off = 0; off < s.size();) {
		auto h = stream::decode_record_header(kstd::ConstBytes(s.data() + off, s.size() - off));
		EXPECT_TRUE(h.is_ok());
		if (h.is_error())
			break;
		sh.records++;
		if (h.value().tag == stream::RecordTag::FwData) {
			sh.fw_data++;
			sh.fw_data_bytes += h.value().record_size;
		}
		off += stream::kRecordHeaderSize + h.value().record_size;
	}
	return sh;
}

MigCounters last_of(const MigDevice &dev)
{
	MigCounters last, total;
	dev.stats().snapshot(last, total);
	return last;
}

MigCounters total_of(const MigDevice &dev)
{
	MigCounters last, total;
	dev.stats().snapshot(last, total);
	return total;
}

struct Pair {
	Recorder src_obs, dst_obs;
	Side src, dst;

	void init(bool chunk = false)
	{
		SimConfig s = rig::small_sim(7, 1), d = rig::small_sim(7, 2);
		s.chunk_mode = d.chunk_mode = chunk;
		s.max_chunk = d.max_chunk = 16 * 1024;
		ASSERT_TRUE(src.init(s, 16 * 1024, {}, &src_obs).is_ok());
		ASSERT_TRUE(dst.init(d, 16 * 1024, {}, &dst_obs).is_ok());
	}

	// A stop-copy only migration; returns the stream.
	std::vector<uint8_t> stop_copy()
	{
		std::vector<uint8_t> stream;
		EXPECT_TRUE(src.go(S::StopCopy).is_ok());
		EXPECT_TRUE(dst.go(S::Resuming).is_ok());
		EXPECT_TRUE(src.drain(stream, 3000).is_ok());
		EXPECT_TRUE(dst.feed(stream, 0, stream.size(), 5000).is_ok());
		EXPECT_TRUE(dst.go(S::Stop).is_ok());
		EXPECT_TRUE(src.go(S::Stop).is_ok());
		return stream;
	}
};

TEST(MigStats, StopCopyCountsEveryByteRecordAndChunkOnBothSides)
{
	for (bool chunk : {false, true}) {
		SCOPED_TRACE(chunk ? "chunk mode" : "one image");
		Pair p;
		p.init(chunk);
		const std::vector<uint8_t> stream = p.stop_copy();
		const StreamShape sh = shape_of(stream);
		ASSERT_GT(sh.fw_data, chunk ? 1u : 0u);

		const MigCounters s = last_of(*p.src.dev);
		EXPECT_EQ(s.migrations, 1u);
		EXPECT_EQ(s.precopy_bytes, 0u);
		EXPECT_EQ(s.stop_copy_bytes, stream.size());
		EXPECT_EQ(s.resume_bytes, 0u);
		EXPECT_EQ(s.precopy_rounds, 0u);
		EXPECT_EQ(s.save_chunks, sh.fw_data);
		EXPECT_EQ(s.records_written, sh.records);
		EXPECT_EQ(s.records_read, 0u);
		EXPECT_EQ(s.load_chunks, 0u);
		EXPECT_EQ(s.last_error, 0);
		// RUNNING -> RUNNING_P2P -> STOP: two suspensions of 1000 ns each.
		EXPECT_EQ(s.suspend_ns, 2000u);
		EXPECT_GT(s.save_ns, 0u);
		EXPECT_GT(s.stop_copy_to_end_ns, 0u);

		const MigCounters d = last_of(*p.dst.dev);
		EXPECT_EQ(d.migrations, 1u);
		EXPECT_EQ(d.resume_bytes, stream.size());
		EXPECT_EQ(d.records_read, sh.records);
		EXPECT_EQ(d.load_chunks, sh.fw_data);
		EXPECT_EQ(d.stop_copy_bytes + d.precopy_bytes + d.save_chunks, 0u);
		EXPECT_GT(d.load_ns, 0u);

		// Firmware events carry the stream's sizes: SAVE bytes are the
		// FW_DATA payloads read, LOAD bytes the payloads written.
		EXPECT_EQ(p.src_obs.cmd_bytes(FwCmdKind::Save), sh.fw_data_bytes);
		EXPECT_EQ(p.src_obs.cmd_count(FwCmdKind::Save), sh.fw_data);
		EXPECT_EQ(p.dst_obs.cmd_bytes(FwCmdKind::Load), sh.fw_data_bytes);
		EXPECT_EQ(p.dst_obs.cmd_count(FwCmdKind::Load), sh.fw_data);
		// Record events: the same records, in stream order, on both sides.
		ASSERT_EQ(p.src_obs.records.size(), sh.records);
		ASSERT_EQ(p.dst_obs.records.size(), sh.records);
		for (size_t i = 0; i < sh.records; i++) {
			EXPECT_TRUE(p.src_obs.records[i].save);
			EXPECT_FALSE(p.dst_obs.records[i].save);
			EXPECT_EQ(p.src_obs.records[i].tag, p.dst_obs.records[i].tag);
			EXPECT_EQ(p.src_obs.records[i].length, p.dst_obs.records[i].length);
		}
	}
}

TEST(MigStats, ArcsAreReportedOneByOneWithTheirResult)
{
	Pair p;
	p.init();
	p.stop_copy();
	const std::vector<std::pair<S, S>> want = {{S::Running, S::RunningP2p},
						   {S::RunningP2p, S::Stop},
						   {S::Stop, S::StopCopy},
						   {S::StopCopy, S::Stop}};
	ASSERT_EQ(p.src_obs.arcs.size(), want.size());
	for (size_t i = 0; i < want.size(); i++) {
		EXPECT_EQ(p.src_obs.arcs[i].from, want[i].first);
		EXPECT_EQ(p.src_obs.arcs[i].to, want[i].second);
		EXPECT_EQ(p.src_obs.arcs[i].err, 0);
	}
	// The destination: RUNNING -> RUNNING_P2P -> STOP -> RESUMING -> STOP.
	ASSERT_EQ(p.dst_obs.arcs.size(), 4u);
	EXPECT_EQ(p.dst_obs.arcs[2].to, S::Resuming);
	EXPECT_EQ(p.dst_obs.arcs[3].from, S::Resuming);
}

TEST(MigStats, PrecopyBytesAndRoundsThenStopCopy)
{
	Pair p;
	p.init();
	std::vector<uint8_t> stream;
	ASSERT_TRUE(p.src.go(S::PreCopy).is_ok());
	ASSERT_TRUE(p.src.drain(stream).is_ok());
	const uint64_t initial = stream.size();
	// Two rounds: the device writes, PRECOPY_INFO starts a delta, it is read.
	for (int round = 0; round < 2; round++) {
		p.src.sim->run_activity(8);
		auto info = p.src.dev->precopy_info(*p.src.save);
		ASSERT_TRUE(info.is_ok());
		EXPECT_GT(info.value().dirty_bytes, 0u);
		ASSERT_TRUE(p.src.drain(stream).is_ok());
	}
	const uint64_t precopy = stream.size();
	EXPECT_GT(precopy, initial);
	EXPECT_EQ(last_of(*p.src.dev).precopy_bytes, precopy);
	EXPECT_EQ(last_of(*p.src.dev).precopy_rounds, 2u);
	EXPECT_EQ(last_of(*p.src.dev).stop_copy_to_end_ns, 0u);

	ASSERT_TRUE(p.src.go(S::StopCopy).is_ok());
	ASSERT_TRUE(p.src.drain(stream).is_ok());
	const MigCounters s = last_of(*p.src.dev);
	EXPECT_EQ(s.precopy_bytes, precopy);
	EXPECT_EQ(s.stop_copy_bytes, stream.size() - precopy);
	EXPECT_EQ(s.precopy_rounds, 2u);
	EXPECT_EQ(s.save_chunks, shape_of(stream).fw_data);
	EXPECT_EQ(s.records_written, shape_of(stream).records);
	EXPECT_GT(s.stop_copy_to_end_ns, 0u);
	// The final image was asked for in the arc to STOP_COPY: after it.
	EXPECT_EQ(p.src_obs.arcs.back().to, S::StopCopy);

	ASSERT_TRUE(p.dst.go(S::Resuming).is_ok());
	ASSERT_TRUE(p.dst.feed(stream, 0, stream.size(), 4096).is_ok());
	ASSERT_TRUE(p.dst.go(S::Stop).is_ok());
	EXPECT_EQ(last_of(*p.dst.dev).resume_bytes, stream.size());
	EXPECT_EQ(last_of(*p.dst.dev).load_chunks, shape_of(stream).fw_data);
	EXPECT_EQ(p.dst.sim->state_checksum(), p.src.sim->state_checksum());
}

TEST(MigStats, LastStartsOverAtEachMigrationTotalAccumulates)
{
	Pair p;
	p.init();
	const std::vector<uint8_t> first = p.stop_copy();
	ASSERT_TRUE(p.src.go(S::Running).is_ok());
	ASSERT_TRUE(p.dst.go(S::Running).is_ok());
	p.src.sim->run_activity(4);
	const std::vector<uint8_t> second = p.stop_copy();

	const MigCounters last = last_of(*p.src.dev), total = total_of(*p.src.dev);
	EXPECT_EQ(last.migrations, 1u);
	EXPECT_EQ(total.migrations, 2u);
	EXPECT_EQ(last.stop_copy_bytes, second.size());
	EXPECT_EQ(total.stop_copy_bytes, first.size() + second.size());
	EXPECT_EQ(total.save_chunks, shape_of(first).fw_data + shape_of(second).fw_data);
	EXPECT_EQ(last.suspend_ns, 2000u);
	EXPECT_EQ(total.suspend_ns, 4000u);
	EXPECT_EQ(total_of(*p.dst.dev).resume_bytes, first.size() + second.size());
	EXPECT_EQ(last_of(*p.dst.dev).resume_bytes, second.size());
	EXPECT_EQ(total_of(*p.dst.dev).migrations, 2u);
}

TEST(MigStats, AFailedSaveIsTheLastErrorAndItsEventSaysSo)
{
	Pair p;
	p.init();
	ASSERT_TRUE(p.src.sim->inject_fault(SimOp::Save, 1, SimFault::SaveCompleteError).is_ok());
	std::vector<uint8_t> stream;
	ASSERT_TRUE(p.src.go(S::StopCopy).is_ok());
	EXPECT_TRUE(p.src.drain(stream).is_error());
	const MigCounters s = last_of(*p.src.dev);
	EXPECT_EQ(s.last_error, -MLX5VF_EIO);
	EXPECT_EQ(s.last_error_cmd, static_cast<uint32_t>(MLX5VF_FW_CMD_SAVE));
	EXPECT_EQ(s.last_error_status, static_cast<uint32_t>(MLX5VF_FW_STATUS_FAILED));
	EXPECT_EQ(s.last_error_syndrome, kSimSaveSyndrome);
	EXPECT_EQ(total_of(*p.src.dev).last_error, -MLX5VF_EIO);
	ASSERT_FALSE(p.src_obs.cmds.empty());
	EXPECT_EQ(p.src_obs.cmd_count(FwCmdKind::Save), 1u);
	EXPECT_EQ(p.src_obs.cmds.back().kind, static_cast<uint32_t>(MLX5VF_FW_CMD_SAVE));
	EXPECT_EQ(p.src_obs.cmds.back().syndrome, kSimSaveSyndrome);
	EXPECT_EQ(p.src_obs.cmds.back().err, -MLX5VF_EIO);
	// The next migration starts with a clean slate; the total remembers.
	ASSERT_TRUE(p.src.go(S::Stop).is_ok());
	ASSERT_TRUE(p.src.go(S::StopCopy).is_ok());
	EXPECT_EQ(last_of(*p.src.dev).last_error, 0);
	EXPECT_EQ(last_of(*p.src.dev).last_error_syndrome, 0u);
	EXPECT_EQ(total_of(*p.src.dev).last_error, -MLX5VF_EIO);
}

TEST(MigStats, NoObserverMeansNoTimesButTheSameCounts)
{
	Side src;
	ASSERT_TRUE(src.init(rig::small_sim()).is_ok());
	std::vector<uint8_t> stream;
	ASSERT_TRUE(src.go(S::StopCopy).is_ok());
	ASSERT_TRUE(src.drain(stream).is_ok());
	const MigCounters s = last_of(*src.dev);
	EXPECT_EQ(s.stop_copy_bytes, stream.size());
	EXPECT_EQ(s.save_chunks, shape_of(stream).fw_data);
	EXPECT_EQ(s.suspend_ns + s.save_ns + s.stop_copy_to_end_ns, 0u);
}

} // namespace
} // namespace mlx5vf

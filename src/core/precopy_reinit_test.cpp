// SPDX-License-Identifier: GPL-2.0-only
// VFIO_PRECOPY_INFO_REINIT through the whole core: a simulated VF reconfigured
// during precopy, reported (PRECOPY_INFOv2) or carried as dirty bytes (v1),
// and in every case the destination ends with the source's state.
#include "mig_device.h"

#include <gtest/gtest.h>

#include "host_shim.h"
#include "sim_rig.h"

namespace mlx5vf {
namespace {

using rig::Side;
using S = MigState;

constexpr uint64_t kPage = 4096;

SimConfig reconfigurable(uint64_t seed, bool chunk = false)
{
	SimConfig c = rig::small_sim(7, seed);
	c.state_size = chunk ? 1 << 20 : 256 << 10;
	c.configured_size = c.state_size / 2;
	c.chunk_mode = chunk;
	c.max_chunk = 64 * 1024;
	return c;
}

// A source in PRE_COPY whose initial image the destination (RESUMING) has.
struct Pair {
	Side src, dst;
	std::vector<uint8_t> stream;
	size_t fed = 0;

	void start(bool chunk = false, bool cap = true)
	{
		SimConfig s = reconfigurable(1, chunk), d = reconfigurable(2, chunk);
		s.migration_state = cap;
		ASSERT_TRUE(src.init(s, 64 * 1024).is_ok());
		ASSERT_TRUE(dst.init(d, 64 * 1024).is_ok());
		ASSERT_TRUE(src.go(S::PreCopy).is_ok());
		ASSERT_TRUE(dst.go(S::Resuming).is_ok());
		forward();
	}
	// Everything the source has now goes to the destination.
	void forward()
	{
		ASSERT_TRUE(src.drain(stream).is_ok());
		ASSERT_TRUE(dst.feed(stream, fed, stream.size(), 5000).is_ok());
		fed = stream.size();
	}
	PrecopyInfo info(bool v2)
	{
		auto r = src.dev->precopy_info(*src.save, v2);
		EXPECT_TRUE(r.is_ok());
		return r.is_ok() ? r.value() : PrecopyInfo{};
	}
	// The save in flight completes and the file takes the result in.
	void settle()
	{
		src.pump();
		rig::VecUser u;
		(void)src.save->read(u, 0);
	}
	// Reads up to n stream bytes, pumping completions as a blocked reader would.
	size_t read_some(size_t n)
	{
		for (int guard = 0; guard < 1000; guard++) {
			rig::VecUser u;
			auto r = src.save->read(u, n);
			if (r.is_ok()) {
				stream.insert(stream.end(), u.data.begin(), u.data.end());
				return r.value();
			}
			if (r.error() != kstd::Err::Again || !src.sim->completion_pending())
				return 0;
			src.pump();
		}
		return 0;
	}
	void finish()
	{
		ASSERT_TRUE(src.go(S::PreCopyP2p).is_ok());
		ASSERT_TRUE(src.go(S::StopCopy).is_ok());
		forward();
		ASSERT_TRUE(src.go(S::Stop).is_ok());
		ASSERT_TRUE(dst.go(S::Running).is_ok());
		EXPECT_EQ(src.sim->state_checksum(), dst.sim->state_checksum());
		EXPECT_EQ(src.sim->configured_pages(), dst.sim->configured_pages());
	}
};

TEST(PrecopyReinit, V2ReportsReinitAndTheNewInitialBytesCountDownToZero)
{
	Pair p;
	p.start();
	PrecopyInfo i = p.info(true);
	EXPECT_EQ(0u, i.flags);
	EXPECT_EQ(0u, i.initial_bytes);
	p.settle();
	p.forward(); // an empty delta (the device reports a header's worth)
	const uint64_t configured = p.src.sim->configured_pages();
	ASSERT_EQ(8u, p.src.sim->reconfigure(8).value());

	i = p.info(true);
	EXPECT_EQ(kPrecopyReinit, i.flags);
	EXPECT_EQ(0u, i.dirty_bytes);
	// Nothing was queued: the new image (8 pages and the register's page).
	EXPECT_GT(i.initial_bytes, 9 * kPage);
	EXPECT_LT(i.initial_bytes, 10 * kPage);
	uint64_t left = i.initial_bytes;
	// Reported once: the save that captures the new state has started.
	i = p.info(true);
	EXPECT_EQ(0u, i.flags);
	EXPECT_EQ(left, i.initial_bytes);
	EXPECT_EQ(0u, i.dirty_bytes);
	// It counts down by exactly what is read, to zero.
	while (left) {
		const size_t n = p.read_some(3000);
		ASSERT_GT(n, 0u);
		left -= n;
		i = p.info(true);
		EXPECT_EQ(0u, i.flags);
		EXPECT_EQ(left, i.initial_bytes);
		// Then only what changed after the new initial state: with no
		// activity, the header of an empty delta at most.
		EXPECT_LE(i.dirty_bytes, left ? 0u : uint64_t{kSimHeaderSize});
	}
	p.settle();
	p.forward();
	p.src.sim->run_activity(5);
	i = p.info(true);
	EXPECT_EQ(0u, i.flags);
	EXPECT_EQ(0u, i.initial_bytes);
	EXPECT_GT(i.dirty_bytes, 0u);
	p.forward();
	p.finish();
	EXPECT_EQ(configured + 8, p.dst.sim->configured_pages());
}

TEST(PrecopyReinit, V2CountsQueuedUnreadBytesAsInitial)
{
	Pair p;
	p.start();
	// A delta is queued and not read when the device is reconfigured.
	p.src.sim->run_activity(20);
	PrecopyInfo i = p.info(true);
	EXPECT_EQ(0u, i.flags);
	EXPECT_GT(i.dirty_bytes, 0u);
	p.settle();
	const uint64_t queued = p.src.save->queued_bytes();
	ASSERT_GT(queued, 0u);
	ASSERT_TRUE(p.src.sim->reconfigure(4).is_ok());
	i = p.info(true);
	EXPECT_EQ(kPrecopyReinit, i.flags);
	EXPECT_EQ(0u, i.dirty_bytes);
	EXPECT_GT(i.initial_bytes, queued + 5 * kPage);
	// The new state's save waits for the buffer the queued delta holds; the
	// reader frees it, and every byte up to the new state's end is initial.
	uint64_t left = i.initial_bytes;
	while (left) {
		const size_t n = p.read_some(5000);
		ASSERT_GT(n, 0u);
		ASSERT_LE(n, left);
		left -= n;
		i = p.info(true);
		EXPECT_EQ(left, i.initial_bytes);
	}
	ASSERT_TRUE(p.dst.feed(p.stream, p.fed, p.stream.size(), 5000).is_ok());
	p.fed = p.stream.size();
	p.finish();
}

TEST(PrecopyReinit, V1LeavesFlagsAloneAndCarriesTheNewStateAsDirtyBytes)
{
	Pair p;
	p.start();
	ASSERT_TRUE(p.src.sim->reconfigure(8).is_ok());
	PrecopyInfo i = p.info(false);
	EXPECT_EQ(0u, i.flags);
	EXPECT_EQ(0u, i.initial_bytes);
	EXPECT_GT(i.dirty_bytes, 9 * kPage);
	p.forward();
	i = p.info(false);
	EXPECT_EQ(0u, i.flags);
	EXPECT_EQ(0u, i.initial_bytes);
	p.finish();
}

TEST(PrecopyReinit, V1WithInitialBytesLeftReportsThemAsBefore)
{
	Side src;
	ASSERT_TRUE(src.init(reconfigurable(1)).is_ok());
	ASSERT_TRUE(src.go(S::PreCopy).is_ok());
	src.pump();
	const uint32_t queries = src.sim->command_count(SimOp::Query);
	ASSERT_TRUE(src.sim->reconfigure(2).is_ok());
	auto i = src.dev->precopy_info(*src.save, false);
	ASSERT_TRUE(i.is_ok());
	EXPECT_EQ(0u, i.value().flags);
	EXPECT_EQ(src.save->queued_bytes(), i.value().initial_bytes);
	EXPECT_EQ(queries, src.sim->command_count(SimOp::Query)); // v1 asks nothing here
	// v2 asks, and the new state joins the initial bytes.
	i = src.dev->precopy_info(*src.save, true);
	ASSERT_TRUE(i.is_ok());
	EXPECT_EQ(kPrecopyReinit, i.value().flags);
	EXPECT_GT(i.value().initial_bytes, src.save->queued_bytes() + 3 * kPage);
}

TEST(PrecopyReinit, NoReinitInPreCopyP2p)
{
	Pair p;
	p.start();
	ASSERT_TRUE(p.src.go(S::PreCopyP2p).is_ok());
	ASSERT_TRUE(p.src.sim->reconfigure(8).is_ok()); // the responder still answers
	const uint32_t queries = p.src.sim->command_count(SimOp::Query);
	PrecopyInfo i = p.info(true);
	EXPECT_EQ(0u, i.flags);
	EXPECT_EQ(queries, p.src.sim->command_count(SimOp::Query)); // never asked in P2P
	// The final image carries the new state.
	ASSERT_TRUE(p.src.go(S::StopCopy).is_ok());
	p.forward();
	ASSERT_TRUE(p.src.go(S::Stop).is_ok());
	ASSERT_TRUE(p.dst.go(S::Running).is_ok());
	EXPECT_EQ(p.src.sim->state_checksum(), p.dst.sim->state_checksum());
	EXPECT_EQ(p.src.sim->configured_pages(), p.dst.sim->configured_pages());
}

TEST(PrecopyReinit, WithoutTheFirmwareCapV2SeesNoReinit)
{
	Pair p;
	p.start(false, false);
	ASSERT_TRUE(p.src.sim->reconfigure(8).is_ok());
	PrecopyInfo i = p.info(true);
	EXPECT_EQ(0u, i.flags);
	EXPECT_GT(i.dirty_bytes, 9 * kPage);
	p.forward();
	p.finish();
}

TEST(PrecopyReinit, ChunkedReinitOfManyPagesLoadsEqual)
{
	for (bool v2 : {false, true}) {
		SCOPED_TRACE(v2 ? "v2" : "v1");
		Pair p;
		p.start(true);
		ASSERT_EQ(100u, p.src.sim->reconfigure(100).value());
		PrecopyInfo i = p.info(v2);
		EXPECT_EQ(v2 ? kPrecopyReinit : 0u, i.flags);
		EXPECT_GT(v2 ? i.initial_bytes : i.dirty_bytes, 100 * kPage);
		// Small reads: the chunks wait for free buffers.
		for (int guard = 0; guard < 10000 && p.read_some(7000); guard++) {
			i = p.info(v2);
			EXPECT_EQ(0u, i.flags);
		}
		EXPECT_EQ(0u, p.info(v2).initial_bytes);
		ASSERT_TRUE(p.dst.feed(p.stream, p.fed, p.stream.size(), 5000).is_ok());
		p.fed = p.stream.size();
		p.src.sim->run_activity(30);
		p.finish();
	}
}

TEST(PrecopyReinit, SecondReconfigurationIsASecondReinit)
{
	Pair p;
	p.start();
	ASSERT_TRUE(p.src.sim->reconfigure(2).is_ok());
	EXPECT_EQ(kPrecopyReinit, p.info(true).flags);
	p.forward();
	EXPECT_EQ(0u, p.info(true).flags);
	p.settle();
	p.forward();
	ASSERT_TRUE(p.src.sim->reconfigure(3).is_ok());
	const PrecopyInfo i = p.info(true);
	EXPECT_EQ(kPrecopyReinit, i.flags);
	EXPECT_GT(i.initial_bytes, 4 * kPage);
	p.forward();
	p.finish();
}

} // namespace
} // namespace mlx5vf

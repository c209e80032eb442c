// SPDX-License-Identifier: GPL-2.0-only
// Waiting for an in-flight SAVE (issue 9, items 4c and 4d): a user's wait may
// be interrupted and then changes nothing; the kernel's own paths wait for
// the completion; no buffer the device may still write is reused or freed.
#include "mig_device.h"

#include <gtest/gtest.h>

#include "host_shim.h"
#include "sim_rig.h"

namespace mlx5vf {
namespace {

using rig::Side;
using S = MigState;

rig::SimConfig sim_config(bool chunk)
{
	rig::SimConfig c = rig::small_sim();
	c.chunk_mode = chunk;
	return c;
}

// 4d: a signal while an arc waits for the SAVE in flight. The arc fails with
// ERESTARTSYS before it changed anything: same state, same file, same SAVE;
// the request made again succeeds and the stream is whole.
TEST(SaveWait, InterruptedArcChangesNothingAndCanBeMadeAgain)
{
	Side src, dst;
	ASSERT_TRUE(src.init(rig::small_sim()).is_ok());
	ASSERT_TRUE(dst.init(rig::small_sim(7, 2)).is_ok());
	ASSERT_TRUE(src.go(S::PreCopy).is_ok());
	ASSERT_TRUE(src.save->save_in_flight());
	for (S target : {S::PreCopyP2p, S::StopCopy, S::Running}) {
		SCOPED_TRACE(mig_state_name(target));
		src.waiter.interrupt = true;
		EXPECT_EQ(kstd::Err::RestartSys, src.go(target).error());
		EXPECT_EQ(S::PreCopy, src.dev->state());
		EXPECT_EQ(src.save.get(), src.dev->saving());
		EXPECT_FALSE(src.save->closed());
		EXPECT_TRUE(src.save->save_in_flight());
		EXPECT_FALSE(src.sim->initiator_suspended());
	}
	ASSERT_TRUE(src.go(S::StopCopy).is_ok());
	std::vector<uint8_t> stream;
	ASSERT_TRUE(src.drain(stream).is_ok());
	ASSERT_TRUE(dst.go(S::Resuming).is_ok());
	ASSERT_TRUE(dst.feed(stream, 0, stream.size(), 1 << 20).is_ok());
	ASSERT_TRUE(dst.go(S::Running).is_ok());
	EXPECT_EQ(src.sim->state_checksum(), dst.sim->state_checksum());
}

// What makes an interrupted arc safe to make again: every step that waits
// for the SAVE in flight, and may be interrupted, is its arc's first.
TEST(SaveWait, InterruptibleWaitsComeFirstInEveryPlan)
{
	for (uint32_t from = 0; from < kMigStateCount; from++) {
		for (uint32_t to = 0; to < kMigStateCount; to++) {
			const ArcPlan *plan = arc_plan(static_cast<S>(from), static_cast<S>(to));
			if (!plan)
				continue;
			for (size_t i = 1; i < sizeof(plan->steps) / sizeof(plan->steps[0]); i++) {
				const ArcStep step = plan->steps[i];
				EXPECT_TRUE(step != ArcStep::WaitSaveIdle && step != ArcStep::CloseSaveFile &&
					    step != ArcStep::AbandonPrecopy)
					<< from << " -> " << to << " step " << i;
			}
		}
	}
}

// STOP_COPY -> STOP with a chunk in flight (the reader is slow): the same.
TEST(SaveWait, InterruptedStopCopyToStopKeepsTheStream)
{
	Side src;
	ASSERT_TRUE(src.init(rig::small_sim(), 16 << 10).is_ok());
	ASSERT_TRUE(src.go(S::StopCopy).is_ok());
	ASSERT_TRUE(src.save->save_in_flight());
	src.waiter.interrupt = true;
	EXPECT_EQ(kstd::Err::RestartSys, src.go(S::Stop).error());
	EXPECT_EQ(S::StopCopy, src.dev->state());
	EXPECT_FALSE(src.save->closed());
	std::vector<uint8_t> stream;
	EXPECT_TRUE(src.drain(stream).is_ok());
	EXPECT_TRUE(src.go(S::Stop).is_ok());
}

// 4c: the device's own paths (reset, device close, the fd going, the
// device going) close a file with a SAVE in flight only once its completion
// has run, and free its buffers then, under the device's call, never later
// from the fd's release. Their waits cannot be interrupted.
TEST(SaveWait, ClosingPathsWaitForTheCompletionAndFreeEveryBuffer)
{
	enum class Path { Reset, CloseFiles, Forget, Destroy };
	for (Path path : {Path::Reset, Path::CloseFiles, Path::Forget, Path::Destroy}) {
		SCOPED_TRACE(static_cast<int>(path));
		Side src;
		ASSERT_TRUE(src.init(rig::small_sim()).is_ok());
		ASSERT_TRUE(src.go(S::PreCopy).is_ok());
		ASSERT_TRUE(src.save->save_in_flight());
		ASSERT_LT(0u, src.sim->live_buffers());
		src.waiter.interrupt = true; // a signal pending: it must not matter
		switch (path) {
		case Path::Reset: src.dev->reset(); break;
		case Path::CloseFiles: src.dev->close_files(); break;
		case Path::Forget: src.dev->forget(src.save.get()); break;
		case Path::Destroy: src.dev.reset(); break;
		}
		EXPECT_FALSE(src.sim->completion_pending());
		EXPECT_TRUE(src.save->closed());
		EXPECT_EQ(0u, src.sim->live_buffers());
		EXPECT_EQ(0u, src.waiter.interruptible_waits);
		EXPECT_LT(0u, src.waiter.uninterruptible_waits);
		src.save.reset(); // the fd's release: nothing left to free
		EXPECT_EQ(0u, src.sim->live_buffers());
	}
}

// 4c: mlx5_core's forced completion (its command timeout) says nothing of
// the device: the buffer may still be written. The file fails; the buffer is
// never used again (not by the abandoning cleanup SAVE either) and goes back
// to the backend at once, which keeps it from the allocator.
TEST(SaveWait, BufferOfATimedOutSaveIsNeverReused)
{
	for (bool chunk : {false, true}) {
		SCOPED_TRACE(chunk);
		Side src;
		ASSERT_TRUE(src.init(sim_config(chunk), 16 << 10).is_ok());
		ASSERT_TRUE(src.sim->inject_fault(rig::SimOp::Save, 1, rig::SimFault::ForcedTimeout).is_ok());
		ASSERT_TRUE(src.go(S::PreCopy).is_ok());
		src.pump();
		rig::VecUser u;
		EXPECT_EQ(kstd::Err::NoDev, src.save->read(u, 16).error());
		EXPECT_EQ(1u, src.sim->kept_buffers());
		const uint32_t saves = src.sim->command_count(rig::SimOp::Save);
		EXPECT_TRUE(src.go(S::Running).is_ok());
		// A cleanup, if any, went into the other chunk buffer.
		EXPECT_GE(saves + (chunk ? 1u : 0u), src.sim->command_count(rig::SimOp::Save));
		EXPECT_EQ(0u, src.sim->live_buffers());
		// The device stays usable.
		ASSERT_TRUE(src.go(S::StopCopy).is_ok());
		std::vector<uint8_t> stream;
		EXPECT_TRUE(src.drain(stream).is_ok());
	}
}

} // namespace
} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
// Fault injection at every firmware command and every allocation of a whole
// precopy migration: each run ends with a clean error or a correct result,
// nothing leaks, the source keeps running, and both devices stay usable.
#include "mig_device.h"

#include <gtest/gtest.h>

#include "host_shim.h"
#include "sim_rig.h"

namespace mlx5vf {
namespace {

using rig::Side;
using rig::SimFault;
using rig::SimOp;
using S = MigState;

// A QEMU-shaped precopy migration: two delta rounds, switchover, load.
#define STEP(x)                                                                                              \
	do {                                                                                                 \
		auto _r = (x);                                                                               \
		if (_r.is_error()) {                                                                         \
			if (getenv("MIGFAULT_DEBUG"))                                                        \
				fprintf(stderr, "%s failed: %d\n", #x, static_cast<int>(_r.error()));        \
			return _r.error();                                                                   \
		}                                                                                            \
	} while (0)

kstd::Result<void> migrate(Side &src, Side &dst)
{
	std::vector<uint8_t> stream;
	size_t fed = 0;
	STEP(src.go(S::PreCopy));
	STEP(dst.go(S::Resuming));
	for (int round = 0; round < 3; round++) {
		STEP(src.dev->precopy_info(*src.save));
		STEP(src.drain(stream, 5000));
		STEP(dst.feed(stream, fed, stream.size(), 3000));
		fed = stream.size();
		src.sim->run_activity(8);
	}
	STEP(src.go(S::PreCopyP2p));
	STEP(src.go(S::StopCopy));
	STEP(src.drain(stream, 5000));
	STEP(dst.feed(stream, fed, stream.size(), 3000));
	STEP(src.go(S::Stop));
	STEP(dst.go(S::Running));
	if (src.sim->state_checksum() != dst.sim->state_checksum())
		return kstd::Err::Io;
	return kstd::ok();
}

// What QEMU does after a failure: the source asks for RUNNING (and resets if
// that fails too); a failed destination QEMU exits, and closing the device
// resets it.
void recover(Side &side)
{
	if (side.dev->state() == S::Resuming || side.go(S::Running).is_error()) {
		side.dev->reset();
		side.pump();
	}
	side.drop_save();
	side.drop_resume();
}

rig::SimConfig chunked(uint64_t seed)
{
	rig::SimConfig c = rig::small_sim(7, seed);
	c.state_size = 128 * 1024;
	c.chunk_mode = true;
	c.max_chunk = 16 * 1024;
	return c;
}

struct Counts {
	uint32_t src[rig::kSimOpCount];
	uint32_t dst[rig::kSimOpCount];
};

Counts clean_run_counts()
{
	Side src, dst;
	EXPECT_TRUE(src.init(chunked(1), 16 * 1024).is_ok());
	EXPECT_TRUE(dst.init(chunked(2), 16 * 1024).is_ok());
	EXPECT_TRUE(migrate(src, dst).is_ok());
	Counts c;
	for (unsigned op = 0; op < rig::kSimOpCount; op++) {
		c.src[op] = src.sim->command_count(static_cast<SimOp>(op));
		c.dst[op] = dst.sim->command_count(static_cast<SimOp>(op));
	}
	return c;
}

void check_usable_after(Side &src, Side &dst, const char *what)
{
	recover(src);
	recover(dst);
	EXPECT_EQ(S::Running, src.dev->state()) << what;
	EXPECT_FALSE(src.sim->initiator_suspended()) << what << ": source VM must keep running";
	// Both devices still migrate correctly.
	src.sim->run_activity(5);
	EXPECT_TRUE(migrate(src, dst).is_ok()) << what << ": device unusable afterwards";
}

TEST(MigFault, EveryFirmwareCommandFailingEndsCleanly)
{
	const Counts clean = clean_run_counts();
	const SimFault faults[] = {SimFault::Error, SimFault::SaveCompleteError, SimFault::BadResourceState,
				   SimFault::ShortImage};
	int runs = 0, failed = 0;
	for (int on_dst = 0; on_dst < 2; on_dst++) {
		for (unsigned op = 0; op < rig::kSimOpCount; op++) {
			const uint32_t n = on_dst ? clean.dst[op] : clean.src[op];
			for (SimFault fault : faults) {
				if (fault != SimFault::Error && static_cast<SimOp>(op) != SimOp::Save)
					continue;
				for (uint32_t nth = 1; nth <= n; nth++) {
					const long base = host_shim::outstanding_allocations();
					{
						Side src, dst;
						ASSERT_TRUE(src.init(chunked(1), 16 * 1024).is_ok());
						ASSERT_TRUE(dst.init(chunked(2), 16 * 1024).is_ok());
						Side &victim = on_dst ? dst : src;
						ASSERT_TRUE(victim.sim
								    ->inject_fault(static_cast<SimOp>(op),
										   nth, fault)
								    .is_ok());
						auto r = migrate(src, dst);
						runs++;
						failed += r.is_error();
						char what[96];
						snprintf(what, sizeof(what), "%s op %u fault %u nth %u",
							 on_dst ? "dst" : "src", op,
							 static_cast<unsigned>(fault), nth);
						check_usable_after(src, dst, what);
					}
					ASSERT_EQ(base, host_shim::outstanding_allocations()) << "leak";
				}
			}
		}
	}
	EXPECT_GT(runs, 50);
	EXPECT_GT(failed, 10);
}

TEST(MigFault, EveryAllocationFailingEndsCleanly)
{
	long attempts;
	{
		Side src, dst;
		ASSERT_TRUE(src.init(chunked(1), 16 * 1024).is_ok());
		ASSERT_TRUE(dst.init(chunked(2), 16 * 1024).is_ok());
		host_shim::reset_allocation_counters();
		ASSERT_TRUE(migrate(src, dst).is_ok());
		attempts = host_shim::allocation_attempts();
	}
	ASSERT_GT(attempts, 5);
	int failed = 0;
	for (long nth = 1; nth <= attempts; nth++) {
		const long base = host_shim::outstanding_allocations();
		{
			Side src, dst;
			ASSERT_TRUE(src.init(chunked(1), 16 * 1024).is_ok());
			ASSERT_TRUE(dst.init(chunked(2), 16 * 1024).is_ok());
			host_shim::reset_allocation_counters();
			host_shim::fail_nth_allocation(nth);
			auto r = migrate(src, dst);
			host_shim::fail_nth_allocation(0);
			if (r.is_error()) {
				failed++;
				EXPECT_EQ(kstd::Err::NoMem, r.error()) << "allocation " << nth;
			}
			check_usable_after(src, dst, "allocation failure");
		}
		ASSERT_EQ(base, host_shim::outstanding_allocations())
			<< "leak after failing allocation " << nth;
	}
	EXPECT_GT(failed, 0);
}

} // namespace
} // namespace mlx5vf

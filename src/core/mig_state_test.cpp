// SPDX-License-Identifier: GPL-2.0-only
#include "mig_state.h"

#include <gtest/gtest.h>

namespace mlx5vf {
namespace {

constexpr uint32_t kAll = kMigStopCopy | kMigP2p | kMigPreCopy;

MigState st(unsigned i)
{
	return static_cast<MigState>(i);
}

// Oracle: the VFIO core's documented next-hop choice for a device with every
// optional feature, one row per current state, columns in uAPI order
// (ERROR STOP RUNNING STOP_COPY RESUMING RUNNING_P2P PRE_COPY PRE_COPY_P2P).
// Letters: E S R C M(resuming) P(running_p2p) Q(pre_copy) W(pre_copy_p2p).
// For devices without some features the VFIO core re-consults the row of
// any hop the device lacks, which oracle_next() reproduces.
constexpr const char *kNextHop[kMigStateCount] = {
	"EEEEEEEE", // ERROR
	"ESPCMPPP", // STOP
	"EPRPPPQP", // RUNNING
	"ESSCSSEE", // STOP_COPY
	"ESSSMSSS", // RESUMING
	"ESRSSPRW", // RUNNING_P2P
	"ERRWRRQW", // PRE_COPY
	"EPPCPPQW", // PRE_COPY_P2P
};

MigState letter(char c)
{
	switch (c) {
	case 'S': return MigState::Stop;
	case 'R': return MigState::Running;
	case 'C': return MigState::StopCopy;
	case 'M': return MigState::Resuming;
	case 'P': return MigState::RunningP2p;
	case 'Q': return MigState::PreCopy;
	case 'W': return MigState::PreCopyP2p;
	default: return MigState::Error;
	}
}

bool oracle_next(MigState cur, MigState target, uint32_t f, MigState *out)
{
	if (!mig_state_supported(cur, f) || !mig_state_supported(target, f))
		return false;
	MigState next = letter(kNextHop[static_cast<unsigned>(cur)][static_cast<unsigned>(target)]);
	while (next != MigState::Error && !mig_state_supported(next, f))
		next = letter(kNextHop[static_cast<unsigned>(next)][static_cast<unsigned>(target)]);
	*out = next;
	return next != MigState::Error;
}

TEST(MigState, EveryPairMatchesTheVfioCoreForEveryFeatureSet)
{
	int compared = 0;
	for (uint32_t f = 0; f <= kAll; f++) {
		for (unsigned c = 0; c < kMigStateCount; c++) {
			for (unsigned t = 0; t < kMigStateCount; t++) {
				MigState want;
				const bool legal = oracle_next(st(c), st(t), f, &want);
				auto got = next_step(st(c), st(t), f);
				ASSERT_EQ(legal, got.is_ok())
					<< "features " << f << " " << mig_state_name(st(c)) << " -> "
					<< mig_state_name(st(t));
				if (legal)
					EXPECT_EQ(want, got.value())
						<< "features " << f << " " << mig_state_name(st(c)) << " -> "
						<< mig_state_name(st(t));
				else
					EXPECT_EQ(kstd::Err::Invalid, got.error());
				compared++;
			}
		}
	}
	EXPECT_EQ(8 * 64, compared);
}

TEST(MigState, EveryLegalRequestArrivesThroughSingleArcs)
{
	for (uint32_t f = kMigStopCopy; f <= kAll; f++) {
		if (!(f & kMigStopCopy))
			continue;
		for (unsigned c = 1; c < kMigStateCount; c++) {
			for (unsigned t = 1; t < kMigStateCount; t++) {
				MigState cur = st(c);
				if (!mig_state_supported(cur, f) || !next_step(cur, st(t), f).is_ok())
					continue;
				int hops = 0;
				while (cur != st(t)) {
					auto next = next_step(cur, st(t), f);
					ASSERT_TRUE(next.is_ok());
					ASSERT_TRUE(mig_arc_is_single(cur, next.value(), f))
						<< mig_state_name(cur) << " -> "
						<< mig_state_name(next.value());
					cur = next.value();
					ASSERT_LT(++hops, 6);
				}
			}
		}
	}
}

TEST(MigState, FullFeatureDeviceImplementsExactlyTheDocumentedArcs)
{
	using S = MigState;
	const S arcs[][2] = {
		{S::Running, S::RunningP2p},	{S::RunningP2p, S::Running}, {S::RunningP2p, S::Stop},
		{S::Stop, S::RunningP2p},	{S::Stop, S::StopCopy},	     {S::StopCopy, S::Stop},
		{S::Stop, S::Resuming},		{S::Resuming, S::Stop},	     {S::Running, S::PreCopy},
		{S::RunningP2p, S::PreCopyP2p}, {S::PreCopy, S::PreCopyP2p}, {S::PreCopyP2p, S::PreCopy},
		{S::PreCopyP2p, S::StopCopy},	{S::PreCopy, S::Running},    {S::PreCopyP2p, S::RunningP2p},
	};
	int single = 0;
	for (unsigned c = 0; c < kMigStateCount; c++)
		for (unsigned t = 0; t < kMigStateCount; t++)
			single += mig_arc_is_single(st(c), st(t), kAll);
	EXPECT_EQ(static_cast<int>(sizeof(arcs) / sizeof(arcs[0])), single);
	for (const auto &a : arcs)
		EXPECT_TRUE(mig_arc_is_single(a[0], a[1], kAll))
			<< mig_state_name(a[0]) << " -> " << mig_state_name(a[1]);
}

TEST(MigState, OutOfRangeValuesAreRejectedNotUndefined)
{
	EXPECT_EQ(kstd::Err::Invalid, next_step(static_cast<MigState>(8), MigState::Stop, kAll).error());
	EXPECT_EQ(kstd::Err::Invalid, next_step(MigState::Stop, static_cast<MigState>(200), kAll).error());
	EXPECT_STREQ("INVALID", mig_state_name(static_cast<MigState>(9)));
}

} // namespace
} // namespace mlx5vf

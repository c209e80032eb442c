// SPDX-License-Identifier: GPL-2.0-only
#include "mig_state.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

constexpr unsigned idx(MigState s)
{
	return static_cast<unsigned>(s);
}

constexpr bool is_precopy(MigState s)
{
	return s == MigState::PreCopy || s == MigState::PreCopyP2p;
}

// States the path-finder may pass through. StopCopy and Resuming open data
// files, so they are only ever targets, never stepping stones.
constexpr bool may_pass_through(MigState s)
{
	return s == MigState::Stop || s == MigState::Running || s == MigState::RunningP2p ||
	       s == MigState::PreCopy || s == MigState::PreCopyP2p;
}

} // namespace

const char *mig_state_name(MigState s)
{
	switch (s) {
	case MigState::Error: return "ERROR";
	case MigState::Stop: return "STOP";
	case MigState::Running: return "RUNNING";
	case MigState::StopCopy: return "STOP_COPY";
	case MigState::Resuming: return "RESUMING";
	case MigState::RunningP2p: return "RUNNING_P2P";
	case MigState::PreCopy: return "PRE_COPY";
	case MigState::PreCopyP2p: return "PRE_COPY_P2P";
	}
	return "INVALID";
}

bool mig_state_supported(MigState s, uint32_t features)
{
	if (!(features & kMigStopCopy))
		return false;
	switch (s) {
	case MigState::Stop:
	case MigState::Running:
	case MigState::StopCopy:
	case MigState::Resuming: return true;
	case MigState::RunningP2p: return features & kMigP2p;
	case MigState::PreCopy: return features & kMigPreCopy;
	case MigState::PreCopyP2p: return (features & kMigPreCopy) && (features & kMigP2p);
	case MigState::Error: return false;
	}
	return false;
}

bool mig_arc_is_single(MigState cur, MigState next, uint32_t features)
{
	if (!mig_state_supported(cur, features) || !mig_state_supported(next, features) || cur == next)
		return false;
	const bool p2p = features & kMigP2p;
	using S = MigState;
	auto arc = [&](S a, S b) { return cur == a && next == b; };

	// Saving and resuming always pivot on STOP.
	if (arc(S::Stop, S::StopCopy) || arc(S::StopCopy, S::Stop) || arc(S::Stop, S::Resuming) ||
	    arc(S::Resuming, S::Stop))
		return true;
	// Quiescing: with P2P the device stops in two steps, through RUNNING_P2P.
	if (p2p && (arc(S::Running, S::RunningP2p) || arc(S::RunningP2p, S::Running) ||
		    arc(S::RunningP2p, S::Stop) || arc(S::Stop, S::RunningP2p)))
		return true;
	if (!p2p && (arc(S::Running, S::Stop) || arc(S::Stop, S::Running)))
		return true;
	// Precopy runs beside RUNNING (and RUNNING_P2P) and ends in STOP_COPY.
	if (arc(S::Running, S::PreCopy) || arc(S::PreCopy, S::Running))
		return true;
	if (p2p)
		return arc(S::PreCopy, S::PreCopyP2p) || arc(S::PreCopyP2p, S::PreCopy) ||
		       arc(S::RunningP2p, S::PreCopyP2p) || arc(S::PreCopyP2p, S::RunningP2p) ||
		       arc(S::PreCopyP2p, S::StopCopy);
	return arc(S::PreCopy, S::StopCopy);
}

kstd::Result<MigState> next_step(MigState cur, MigState target, uint32_t features)
{
	if (!mig_state_supported(cur, features) || !mig_state_supported(target, features))
		return kstd::Err::Invalid;
	if (cur == target)
		return cur;
	// A saving file that reached STOP_COPY cannot go back to precopy.
	if (cur == MigState::StopCopy && is_precopy(target))
		return kstd::Err::Invalid;

	// Breadth-first search backwards from target: dist[s] = arcs from s to
	// target, walking only through states that may be passed through.
	constexpr uint8_t kFar = 0xff;
	uint8_t dist[kMigStateCount];
	for (auto &d : dist)
		d = kFar;
	dist[idx(target)] = 0;
	for (uint8_t round = 0; round < kMigStateCount; round++) {
		for (unsigned s = 0; s < kMigStateCount; s++) {
			const auto from = static_cast<MigState>(s);
			if (dist[s] != kFar)
				continue;
			for (unsigned n = 0; n < kMigStateCount; n++) {
				const auto to = static_cast<MigState>(n);
				if (dist[n] != round || !mig_arc_is_single(from, to, features))
					continue;
				if (to != target && !may_pass_through(to))
					continue;
				dist[s] = static_cast<uint8_t>(round + 1);
			}
		}
	}
	if (dist[idx(cur)] == kFar)
		return kstd::Err::Invalid;

	// Among the arcs that start a shortest path, leave precopy as early as
	// possible: an abandoned precopy closes its file before anything else
	// happens, and a precopy state is never entered as a mere stepping stone
	// when a plain state does as well.
	MigState best = MigState::Error;
	for (unsigned n = 0; n < kMigStateCount; n++) {
		const auto to = static_cast<MigState>(n);
		if (!mig_arc_is_single(cur, to, features) || dist[n] + 1 != dist[idx(cur)])
			continue;
		if (to != target && !may_pass_through(to))
			continue;
		if (best == MigState::Error || (is_precopy(best) && !is_precopy(to)))
			best = to;
	}
	return best;
}

} // namespace mlx5vf

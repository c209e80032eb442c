// SPDX-License-Identifier: GPL-2.0-only
// The VFIO migration states and the path between them.
//
// The VFIO core asks a driver to take one arc at a time; it computes the next
// arc itself with vfio_mig_get_next_state(). The core keeps its own copy of
// that path-finding (next_step) so that the decision about which firmware work
// an arc needs can be checked on the host against every (current, target)
// pair, and so the simulated device behaves exactly like the kernel drives it.
#pragma once

#include "kstd/result.h"

namespace mlx5vf {

// Numbers are the uAPI's enum vfio_device_mig_state (include/mlx5vf/abi.h).
enum class MigState : uint8_t {
	Error = MLX5VF_MIG_ERROR,	      // unrecoverable until reset; no arc leaves it
	Stop = MLX5VF_MIG_STOP,		      // quiesced: no DMA, no state change, no data file
	Running = MLX5VF_MIG_RUNNING,	      // normal operation
	StopCopy = MLX5VF_MIG_STOP_COPY,      // quiesced; saving file yields the final image, then EOF
	Resuming = MLX5VF_MIG_RESUMING,	      // quiesced; resuming file accepts an image
	RunningP2p = MLX5VF_MIG_RUNNING_P2P,  // running, but initiates no peer-to-peer DMA
	PreCopy = MLX5VF_MIG_PRE_COPY,	      // running; saving file streams initial and dirty state
	PreCopyP2p = MLX5VF_MIG_PRE_COPY_P2P, // PreCopy without outgoing P2P DMA
};

inline constexpr unsigned kMigStateCount = 8;

// uAPI VFIO_MIGRATION_* feature bits (pinned in the shim).
enum MigFeature : uint32_t {
	kMigStopCopy = MLX5VF_MIG_FEATURE_STOP_COPY,
	kMigP2p = MLX5VF_MIG_FEATURE_P2P,
	kMigPreCopy = MLX5VF_MIG_FEATURE_PRE_COPY,
};

const char *mig_state_name(MigState s);

// True when s exists for a device that advertises the given features.
bool mig_state_supported(MigState s, uint32_t features);

// True when cur -> next is a single arc a driver with these features must
// implement (the arcs the VFIO core may hand to it).
bool mig_arc_is_single(MigState cur, MigState next, uint32_t features);

// The next single arc on the way from cur to target, as the VFIO core would
// choose it. Err::Invalid for unsupported states, ERROR on either end, and the
// blocked requests (StopCopy -> PreCopy*). next_step(s, s) == s.
kstd::Result<MigState> next_step(MigState cur, MigState target, uint32_t features);

} // namespace mlx5vf

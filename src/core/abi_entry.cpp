// SPDX-License-Identifier: GPL-2.0-only
// The core's extern "C" entry points: thin conversions between the C ABI and
// the core's types. No logic lives here.
#include <mlx5vf/abi.h>

#include "mig_state.h"

#include "kstd/enforce.h"

extern "C" const char *mlx5vf_core_version(void)
{
	return "mlx5vf-core 0.1";
}

extern "C" int mlx5vf_core_next_mig_state(uint32_t cur, uint32_t target, unsigned int features)
{
	if (cur >= mlx5vf::kMigStateCount || target >= mlx5vf::kMigStateCount)
		return -MLX5VF_EINVAL;
	auto next = mlx5vf::next_step(static_cast<mlx5vf::MigState>(cur),
				      static_cast<mlx5vf::MigState>(target), features);
	if (next.is_error())
		return kstd::to_errno(next.error());
	return static_cast<int>(next.value());
}

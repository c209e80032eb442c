// SPDX-License-Identifier: GPL-2.0-only
// Host stand-in for the kernel shim: malloc-backed allocation with failure
// injection and leak accounting, logging into a buffer, abort() for bugs.
#include "host_shim.h"

#include <mlx5vf/abi.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
std::atomic<long> outstanding{0};
std::atomic<long> attempts{0};
std::atomic<long> fail_at{0};
char last_message[512];
} // namespace

namespace host_shim {
long outstanding_allocations()
{
	return outstanding.load();
}
void fail_nth_allocation(long nth)
{
	fail_at = nth ? attempts.load() + nth : 0;
}
long allocation_attempts()
{
	return attempts.load();
}
void reset_allocation_counters()
{
	attempts = 0;
	fail_at = 0;
}
const char *last_log()
{
	return last_message;
}
} // namespace host_shim

extern "C" void *mlx5vf_shim_alloc(size_t size, enum mlx5vf_alloc_ctx)
{
	const long n = ++attempts;
	if (fail_at && n == fail_at)
		return nullptr;
	void *p = calloc(1, size ? size : 1);
	if (p)
		++outstanding;
	return p;
}

extern "C" void *mlx5vf_shim_alloc_large(size_t size)
{
	return mlx5vf_shim_alloc(size, MLX5VF_ALLOC_SLEEPABLE);
}

extern "C" void mlx5vf_shim_free(void *ptr)
{
	if (!ptr)
		return;
	--outstanding;
	free(ptr);
}

extern "C" void mlx5vf_shim_log(enum mlx5vf_log_level, const char *msg)
{
	snprintf(last_message, sizeof(last_message), "%s", msg);
}

// A broken invariant fails the test in progress, loudly.
extern "C" void mlx5vf_shim_warn(const char *what)
{
	ADD_FAILURE() << "core invariant broken: " << what;
	fprintf(stderr, "core invariant broken: %s\n", what);
}

namespace {

// Every test must give back every allocation it made: a leak on any path,
// error paths included, fails the test that caused it.
class LeakCheck : public testing::EmptyTestEventListener {
	long at_start_ = 0;
	void OnTestStart(const testing::TestInfo &) override
	{
		host_shim::reset_allocation_counters();
		at_start_ = outstanding.load();
	}
	void OnTestEnd(const testing::TestInfo &info) override
	{
		if (outstanding.load() != at_start_)
			ADD_FAILURE_AT(info.file(), info.line())
				<< (outstanding.load() - at_start_) << " allocation(s) leaked by "
				<< info.name();
	}
};

class LeakCheckInstaller : public testing::Environment {
	void SetUp() override { testing::UnitTest::GetInstance()->listeners().Append(new LeakCheck); }
};

[[maybe_unused]] testing::Environment *const leak_check_env =
	testing::AddGlobalTestEnvironment(new LeakCheckInstaller);

} // namespace

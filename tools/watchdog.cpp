// SPDX-License-Identifier: GPL-2.0-only
#include "watchdog.h"

#include <cstdio>
#include <ctime>
#include <thread>
#include <unistd.h>

namespace mig {

namespace detail {
std::atomic<uint64_t> progress_count{0};
std::atomic<const char *> last_call{"start"};
} // namespace detail

namespace {

std::atomic<uint64_t> output_count{0};

uint64_t seconds_now()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec);
}

[[noreturn]] void bail_out(unsigned stall_s)
{
	char msg[256];
	const int n = snprintf(msg, sizeof(msg),
			       "Bail out! mlx5vf-mig: watchdog: no call returned for %u s (a call "
			       "hung; the last to return was %s)\n",
			       stall_s, detail::last_call.load(std::memory_order_relaxed));
	ssize_t r = write(1, msg, n > 0 ? static_cast<size_t>(n) : 0);
	(void)r;
	_exit(2);
}

void watch(unsigned stall_s, unsigned heartbeat_s)
{
	uint64_t seen = detail::progress_count.load(std::memory_order_relaxed);
	uint64_t seen_out = output_count.load(std::memory_order_relaxed);
	uint64_t since_progress = seconds_now();
	uint64_t since_output = since_progress;
	uint64_t calls_since_output = 0;
	for (;;) {
		sleep(1);
		const uint64_t now = seconds_now();
		const uint64_t count = detail::progress_count.load(std::memory_order_relaxed);
		const uint64_t out = output_count.load(std::memory_order_relaxed);
		if (count != seen) {
			calls_since_output += count - seen;
			seen = count;
			since_progress = now;
		} else if (now - since_progress >= stall_s) {
			bail_out(stall_s);
		}
		if (out != seen_out) {
			seen_out = out;
			since_output = now;
			calls_since_output = 0;
		} else if (now - since_output >= heartbeat_s && calls_since_output) {
			printf("# mlx5vf-mig: working (%llu calls returned in %llu s, the last %s)\n",
			       static_cast<unsigned long long>(calls_since_output),
			       static_cast<unsigned long long>(now - since_output),
			       detail::last_call.load(std::memory_order_relaxed));
			fflush(stdout);
			since_output = now;
			calls_since_output = 0;
		}
	}
}

} // namespace

void start_watchdog(unsigned stall_s, unsigned heartbeat_s)
{
	std::thread(watch, stall_s, heartbeat_s).detach();
}

void output_written()
{
	output_count.fetch_add(1, std::memory_order_relaxed);
}

} // namespace mig

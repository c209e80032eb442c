// SPDX-License-Identifier: GPL-2.0-only
// mlx5vf-mig: hang detection by lack of progress, never by a time budget.
//
// Every call into the driver that returns (read, write, ioctl, a TAP line) counts
// as progress. A watchdog thread bails out only when no call has returned for a
// whole stall period: a slow machine or a debug kernel makes each call slower,
// which no total budget can foresee, but a hung call stops the count. While calls
// keep returning without a TAP line, the thread prints a "# working" heartbeat, so
// the layers above (the VM's /init, the runner) see output and need no budget of
// their own either.
#pragma once

#include <atomic>
#include <cstdint>

namespace mig {

namespace detail {
extern std::atomic<uint64_t> progress_count;
extern std::atomic<const char *> last_call;
} // namespace detail

// A call named what (a string literal) has just returned.
inline void progress(const char *what)
{
	detail::last_call.store(what, std::memory_order_relaxed);
	detail::progress_count.fetch_add(1, std::memory_order_relaxed);
}

// Starts the watchdog thread: bail out (exit 2) after stall_s seconds without
// progress; a heartbeat after heartbeat_s seconds of progress without output.
void start_watchdog(unsigned stall_s, unsigned heartbeat_s);

// A TAP line went out (the heartbeat is then not needed).
void output_written();

} // namespace mig

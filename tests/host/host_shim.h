// SPDX-License-Identifier: GPL-2.0-only
// Test controls of the host stand-in for the shim ABI.
#pragma once

#include <stddef.h>

namespace host_shim {

// Allocations made and not yet freed (must return to zero after every test).
long outstanding_allocations();
// Fail the nth allocation from now (1 = the next one); 0 disarms.
void fail_nth_allocation(long nth);
// Allocations attempted since the last reset (to sweep fail_nth over a run).
long allocation_attempts();
void reset_allocation_counters();
// Last message the core logged, for tests that check the one useful line.
const char *last_log();

} // namespace host_shim

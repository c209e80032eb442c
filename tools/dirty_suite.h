// SPDX-License-Identifier: GPL-2.0-only
// VFIO DMA logging through the uAPI (tools/dirty_suite.cpp).
#pragma once

#include "mig_util.h"

namespace mig {

// Opens dev again on the way (closing the device must end tracking).
void suite_dirty(Device &dev);

} // namespace mig

// SPDX-License-Identifier: GPL-2.0-only
// Included last by every core .cpp: after this point any use of the standard
// library namespace is a compile error, so nothing slips in through a header.
#pragma once
#pragma GCC poison std

// SPDX-License-Identifier: GPL-2.0-only
// Bit and integer helpers that compile to plain instructions: no libgcc calls
// (the kernel has no __popcountdi2 or __udivti3).
#pragma once

#include "utility.h"

namespace kstd {

// SWAR population count: __builtin_popcountll would call libgcc without -mpopcnt.
constexpr unsigned popcount64(uint64_t v)
{
	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return static_cast<unsigned>((v * 0x0101010101010101ULL) >> 56);
}

constexpr bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

// Floor of log2; ilog2(0) is defined as 0 so callers never hit UB.
constexpr unsigned ilog2(uint64_t v)
{
	return v ? 63 - static_cast<unsigned>(__builtin_clzll(v)) : 0;
}

// Round up to a power-of-two alignment; false on overflow.
constexpr bool align_up(uint64_t v, uint64_t align, uint64_t *out)
{
	uint64_t r;
	if (__builtin_add_overflow(v, align - 1, &r))
		return false;
	*out = r & ~(align - 1);
	return true;
}

template <typename T> constexpr bool add_overflows(T a, T b, T *out)
{
	return __builtin_add_overflow(a, b, out);
}
template <typename T> constexpr bool mul_overflows(T a, T b, T *out)
{
	return __builtin_mul_overflow(a, b, out);
}

// Little-endian loads and stores, byte by byte: alignment-free and
// host-endianness-free; GCC folds them into single moves on x86.
constexpr uint32_t load_le32(const uint8_t *p)
{
	return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
	       static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

constexpr uint64_t load_le64(const uint8_t *p)
{
	return static_cast<uint64_t>(load_le32(p)) | static_cast<uint64_t>(load_le32(p + 4)) << 32;
}

constexpr void store_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = static_cast<uint8_t>(v >> (8 * i));
}

constexpr void store_le64(uint8_t *p, uint64_t v)
{
	store_le32(p, static_cast<uint32_t>(v));
	store_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

} // namespace kstd

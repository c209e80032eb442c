// SPDX-License-Identifier: GPL-2.0-only
// The simulated VHCA's image format: what SimVhca's SAVE writes and its LOAD
// accepts. Opaque to everything above the firmware seam (the core carries it
// as FW_DATA records, exactly like the real firmware's images).
//
// Every chunk is a self-contained image piece: a 64-byte header followed by
// its payload, so the destination LOADs chunk by chunk without concatenating.
//
// Header, little endian:
//   0  u32 magic "SVHC"          28 u32 chunk_index (within one image)
//   4  u16 version (1)           32 u64 offset (Full: state byte of payload[0])
//   6  u8  kind (SimImageKind)   40 u64 payload_size (bytes after the header)
//   7  u8  flags (kSimChunkLast) 48 u64 payload_checksum (FNV-1a 64)
//   8  u64 identity (source)     56 u64 header_checksum (FNV-1a 64 of bytes 0..55)
//  16  u64 state_size
//  24  u32 page_size
//
// Payload: Full = state bytes [offset, offset + payload_size);
// Incremental = records of { u64 page_index, page bytes }; Cleanup = empty.
#pragma once

#include "kstd/result.h"
#include "kstd/span.h"

namespace mlx5vf {

// Why SimVhca refused a LOAD (SimVhca::last_load_error()). The first three
// are caller mistakes (Err::Invalid, or Err::Io for an injected fault); the
// rest are the firmware rejecting the image (Err::Io).
enum class SimLoadError : uint8_t {
	None,
	BadParameter, // foreign buffer, wrong DMA direction, size beyond capacity
	NotSuspended, // the function is not suspended as initiator and responder
	Injected,     // fault injection
	Truncated,    // fewer bytes than the header says
	NotAnImage,   // bad magic
	Corrupt,      // checksum mismatch or inconsistent structure
	Unsupported,  // unknown format version
	Foreign,      // made by a device of another identity
	Incompatible, // same identity, different state or page size
	NoBase,	      // incremental image before any complete full image
	OutOfOrder,   // full-image chunk that does not continue the previous one
};

const char *sim_load_error_name(SimLoadError e);

enum class SimImageKind : uint8_t {
	Full = 1,	 // state bytes
	Incremental = 2, // changed pages since the previous tracked image
	Cleanup = 3,	 // header only; precopy abandoned, nothing to apply
};

inline constexpr uint32_t kSimImageMagic = 0x43485653; // "SVHC" as little-endian bytes
inline constexpr uint16_t kSimImageVersion = 1;
inline constexpr uint32_t kSimHeaderSize = 64;
inline constexpr uint8_t kSimChunkLast = 1u << 0; // no more chunks of this image follow
inline constexpr uint32_t kSimPageIndexSize = 8;  // u64 page index before each page

struct SimImageHeader {
	SimImageKind kind = SimImageKind::Full;
	uint8_t flags = 0;
	uint64_t identity = 0;
	uint64_t state_size = 0;
	uint32_t page_size = 0;
	uint32_t chunk_index = 0;
	uint64_t offset = 0;
	uint64_t payload_size = 0;
	uint64_t payload_checksum = 0;
};

// Writes magic, version and header checksum along with h.
void sim_encode_header(const SimImageHeader &h, uint8_t (&out)[kSimHeaderSize]);
// Checks magic, header checksum, version, kind and flags (in that order);
// returns None and fills *out, or the reason.
SimLoadError sim_decode_header(const uint8_t (&in)[kSimHeaderSize], SimImageHeader *out);

inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ULL;
inline constexpr uint64_t kFnv1a64Prime = 0x100000001b3ULL;

// FNV-1a 64, continued from hash (start with kFnv1a64Offset).
constexpr uint64_t fnv1a64(uint64_t hash, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hash = (hash ^ p[i]) * kFnv1a64Prime;
	return hash;
}

// Image sizes, 64-bit throughout (chunk mode exists for states over 4 GiB).
// chunk_cap = 0: one unchunked image; else every chunk, header included, is
// at most chunk_cap bytes and the image is split into as few as possible.
// Err::Invalid if chunk_cap cannot hold a header plus one byte (Full) or one
// page record (Incremental); Err::Overflow if the size does not fit 64 bits.
kstd::Result<uint64_t> sim_full_image_size(uint64_t state_bytes, uint64_t chunk_cap);
kstd::Result<uint64_t> sim_incremental_image_size(uint64_t pages, uint32_t page_size, uint64_t chunk_cap);

} // namespace mlx5vf

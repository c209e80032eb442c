// SPDX-License-Identifier: GPL-2.0-only
#include "sim_image.h"

#include "kstd/bits.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

constexpr uint32_t kHeaderChecksumOffset = 56;

uint64_t header_checksum(const uint8_t (&bytes)[kSimHeaderSize])
{
	return fnv1a64(kFnv1a64Offset, bytes, kHeaderChecksumOffset);
}

// chunks * header + payload, where chunks = max(1, ceil(units / units_per_chunk)).
kstd::Result<uint64_t> chunked_size(uint64_t units, uint64_t unit_size, uint64_t units_per_chunk)
{
	uint64_t chunks = units / units_per_chunk + (units % units_per_chunk ? 1 : 0);
	if (!chunks)
		chunks = 1; // an empty image is still one header
	uint64_t headers, payload, total;
	if (kstd::mul_overflows<uint64_t>(chunks, kSimHeaderSize, &headers) ||
	    kstd::mul_overflows<uint64_t>(units, unit_size, &payload) ||
	    kstd::add_overflows<uint64_t>(headers, payload, &total))
		return kstd::Err::Overflow;
	return total;
}

} // namespace

const char *sim_load_error_name(SimLoadError e)
{
	switch (e) {
	case SimLoadError::None: return "none";
	case SimLoadError::BadParameter: return "bad parameter";
	case SimLoadError::NotSuspended: return "not suspended";
	case SimLoadError::Injected: return "injected fault";
	case SimLoadError::Truncated: return "truncated";
	case SimLoadError::NotAnImage: return "not an image";
	case SimLoadError::Corrupt: return "corrupt";
	case SimLoadError::Unsupported: return "unsupported version";
	case SimLoadError::Foreign: return "foreign";
	case SimLoadError::Incompatible: return "incompatible geometry";
	case SimLoadError::NoBase: return "incremental without base";
	case SimLoadError::OutOfOrder: return "chunk out of order";
	}
	return "unknown";
}

void sim_encode_header(const SimImageHeader &h, uint8_t (&out)[kSimHeaderSize])
{
	kstd::store_le32(out + 0, kSimImageMagic);
	out[4] = static_cast<uint8_t>(kSimImageVersion);
	out[5] = static_cast<uint8_t>(kSimImageVersion >> 8);
	out[6] = static_cast<uint8_t>(h.kind);
	out[7] = h.flags;
	kstd::store_le64(out + 8, h.identity);
	kstd::store_le64(out + 16, h.state_size);
	kstd::store_le32(out + 24, h.page_size);
	kstd::store_le32(out + 28, h.chunk_index);
	kstd::store_le64(out + 32, h.offset);
	kstd::store_le64(out + 40, h.payload_size);
	kstd::store_le64(out + 48, h.payload_checksum);
	kstd::store_le64(out + kHeaderChecksumOffset, header_checksum(out));
}

SimLoadError sim_decode_header(const uint8_t (&in)[kSimHeaderSize], SimImageHeader *out)
{
	if (kstd::load_le32(in) != kSimImageMagic)
		return SimLoadError::NotAnImage;
	if (kstd::load_le64(in + kHeaderChecksumOffset) != header_checksum(in))
		return SimLoadError::Corrupt;
	const uint16_t version = static_cast<uint16_t>(in[4] | in[5] << 8);
	if (version != kSimImageVersion)
		return SimLoadError::Unsupported;
	const uint8_t kind = in[6];
	if (kind < static_cast<uint8_t>(SimImageKind::Full) ||
	    kind > static_cast<uint8_t>(SimImageKind::Cleanup))
		return SimLoadError::Corrupt;
	if (in[7] & ~kSimChunkLast)
		return SimLoadError::Corrupt;

	out->kind = static_cast<SimImageKind>(kind);
	out->flags = in[7];
	out->identity = kstd::load_le64(in + 8);
	out->state_size = kstd::load_le64(in + 16);
	out->page_size = kstd::load_le32(in + 24);
	out->chunk_index = kstd::load_le32(in + 28);
	out->offset = kstd::load_le64(in + 32);
	out->payload_size = kstd::load_le64(in + 40);
	out->payload_checksum = kstd::load_le64(in + 48);
	return SimLoadError::None;
}

kstd::Result<uint64_t> sim_full_image_size(uint64_t state_bytes, uint64_t chunk_cap)
{
	if (!chunk_cap)
		return chunked_size(state_bytes, 1, ~uint64_t{0});
	if (chunk_cap <= kSimHeaderSize)
		return kstd::Err::Invalid;
	return chunked_size(state_bytes, 1, chunk_cap - kSimHeaderSize);
}

kstd::Result<uint64_t> sim_incremental_image_size(uint64_t pages, uint32_t page_size, uint64_t chunk_cap)
{
	const uint64_t record = uint64_t{kSimPageIndexSize} + page_size;
	if (!chunk_cap)
		return chunked_size(pages, record, ~uint64_t{0});
	if (chunk_cap < kSimHeaderSize + record)
		return kstd::Err::Invalid;
	return chunked_size(pages, record, (chunk_cap - kSimHeaderSize) / record);
}

} // namespace mlx5vf

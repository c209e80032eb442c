// SPDX-License-Identifier: GPL-2.0-only
#include "sim_image.h"

#include <gtest/gtest.h>

#include <cstring>

namespace mlx5vf {
namespace {

TEST(SimImage, Fnv1a64MatchesPublishedVectors)
{
	const uint8_t a[] = {'a'};
	const uint8_t foobar[] = {'f', 'o', 'o', 'b', 'a', 'r'};
	EXPECT_EQ(0xcbf29ce484222325ULL, fnv1a64(kFnv1a64Offset, nullptr, 0));
	EXPECT_EQ(0xaf63dc4c8601ec8cULL, fnv1a64(kFnv1a64Offset, a, sizeof(a)));
	EXPECT_EQ(0x85944171f73967e8ULL, fnv1a64(kFnv1a64Offset, foobar, sizeof(foobar)));
	// Continuation equals one pass.
	EXPECT_EQ(fnv1a64(kFnv1a64Offset, foobar, 6),
		  fnv1a64(fnv1a64(kFnv1a64Offset, foobar, 2), foobar + 2, 4));
}

SimImageHeader sample_header()
{
	SimImageHeader h;
	h.kind = SimImageKind::Incremental;
	h.flags = kSimChunkLast;
	h.identity = 0x1122334455667788ULL;
	h.state_size = 5ULL << 32;
	h.page_size = 4096;
	h.chunk_index = 7;
	h.offset = 0;
	h.payload_size = 3 * 4104;
	h.payload_checksum = 0xfeedfacecafebeefULL;
	return h;
}

TEST(SimImage, HeaderRoundTripsLittleEndian)
{
	uint8_t raw[kSimHeaderSize];
	sim_encode_header(sample_header(), raw);
	EXPECT_EQ('S', raw[0]);
	EXPECT_EQ('V', raw[1]);
	EXPECT_EQ('H', raw[2]);
	EXPECT_EQ('C', raw[3]);
	EXPECT_EQ(0x88, raw[8]); // identity, least significant byte first

	SimImageHeader out;
	ASSERT_EQ(SimLoadError::None, sim_decode_header(raw, &out));
	const SimImageHeader in = sample_header();
	EXPECT_EQ(in.kind, out.kind);
	EXPECT_EQ(in.flags, out.flags);
	EXPECT_EQ(in.identity, out.identity);
	EXPECT_EQ(in.state_size, out.state_size);
	EXPECT_EQ(in.page_size, out.page_size);
	EXPECT_EQ(in.chunk_index, out.chunk_index);
	EXPECT_EQ(in.offset, out.offset);
	EXPECT_EQ(in.payload_size, out.payload_size);
	EXPECT_EQ(in.payload_checksum, out.payload_checksum);
}

// Rewrites the header checksum, as a hostile or buggy producer could.
void reseal(uint8_t (&raw)[kSimHeaderSize])
{
	const uint64_t sum = fnv1a64(kFnv1a64Offset, raw, 56);
	for (int i = 0; i < 8; i++)
		raw[56 + i] = static_cast<uint8_t>(sum >> (8 * i));
}

TEST(SimImage, DecodeNamesTheFirstProblem)
{
	SimImageHeader out;
	uint8_t raw[kSimHeaderSize];

	sim_encode_header(sample_header(), raw);
	raw[0] ^= 1;
	EXPECT_EQ(SimLoadError::NotAnImage, sim_decode_header(raw, &out));

	for (unsigned i = 4; i < kSimHeaderSize; i++) {
		sim_encode_header(sample_header(), raw);
		raw[i] ^= 0x40;
		EXPECT_EQ(SimLoadError::Corrupt, sim_decode_header(raw, &out)) << "byte " << i;
	}

	sim_encode_header(sample_header(), raw);
	raw[4] = 2; // version 2, properly sealed
	reseal(raw);
	EXPECT_EQ(SimLoadError::Unsupported, sim_decode_header(raw, &out));

	sim_encode_header(sample_header(), raw);
	raw[6] = 9; // unknown kind
	reseal(raw);
	EXPECT_EQ(SimLoadError::Corrupt, sim_decode_header(raw, &out));

	sim_encode_header(sample_header(), raw);
	raw[7] = 0x80; // unknown flag
	reseal(raw);
	EXPECT_EQ(SimLoadError::Corrupt, sim_decode_header(raw, &out));
}

TEST(SimImage, UnchunkedSizesAreHeaderPlusPayload)
{
	EXPECT_EQ(64u + 65536u, sim_full_image_size(65536, 0).value());
	EXPECT_EQ(64u, sim_incremental_image_size(0, 4096, 0).value());
	EXPECT_EQ(64u + 3u * 4104u, sim_incremental_image_size(3, 4096, 0).value());
}

TEST(SimImage, ChunkedSizesCountOneHeaderPerChunk)
{
	// 1 MiB in 64 KiB chunks: 65472 payload bytes per chunk -> 17 chunks.
	EXPECT_EQ(1049664u, sim_full_image_size(1 << 20, 64 << 10).value());
	// Exactly one chunk's payload: one chunk.
	EXPECT_EQ(65536u, sim_full_image_size(65536 - 64, 65536).value());
	// Incremental: 15 records of 4104 fit 64 KiB; 16 pages -> 2 chunks.
	EXPECT_EQ(2u * 64 + 16u * 4104, sim_incremental_image_size(16, 4096, 65536).value());
	EXPECT_EQ(64u, sim_incremental_image_size(0, 4096, 65536).value());
}

TEST(SimImage, ChunkArithmeticHoldsBeyondFourGiB)
{
	// 8 GiB in upstream's 8 MiB chunks: 1025 chunks.
	EXPECT_EQ(8590000192ULL, sim_full_image_size(8ULL << 30, 8 << 20).value());
	// 2 Mi dirty 4 KiB pages: 2043 records per 8 MiB chunk, 1027 chunks.
	EXPECT_EQ(8606777536ULL, sim_incremental_image_size(2ULL << 20, 4096, 8 << 20).value());
}

TEST(SimImage, SizeRejectsUselessChunksAndOverflow)
{
	EXPECT_EQ(kstd::Err::Invalid, sim_full_image_size(100, 64).error());
	EXPECT_EQ(kstd::Err::Invalid, sim_incremental_image_size(1, 4096, 64 + 4103).error());
	EXPECT_EQ(kstd::Err::Overflow, sim_full_image_size(~0ULL, 0).error());
	EXPECT_EQ(kstd::Err::Overflow, sim_incremental_image_size(~0ULL >> 4, 4096, 0).error());
}

TEST(SimImage, EveryLoadErrorHasAName)
{
	for (unsigned e = 0; e <= static_cast<unsigned>(SimLoadError::OutOfOrder); e++)
		EXPECT_STRNE("unknown", sim_load_error_name(static_cast<SimLoadError>(e)));
}

} // namespace
} // namespace mlx5vf

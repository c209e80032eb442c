// SPDX-License-Identifier: GPL-2.0-only
// The wire format and the record builders, pinned byte for byte. The golden
// vectors are written out literally from the in-tree driver's layout
// (drivers/vfio/pci/mlx5: mlx5vf_add_stop_copy_header, add_buf_header), not
// computed by the code under test.
#include "stream_format.h"
#include "stream_writer.h"

#include "kstd/bits.h"

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <vector>

namespace mlx5vf::stream {
namespace {

using Buf = std::vector<uint8_t>;

Buf bytes_of(kstd::Result<size_t> written, const uint8_t *out)
{
	EXPECT_TRUE(written.is_ok());
	if (!written.is_ok())
		return {};
	return Buf(out, out + written.value());
}

// In-tree STOP_COPY_SIZE record, stop_copy_size = 0x123456789.
const uint8_t kGoldenStopCopySize[] = {
	0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // record_size = 8
	0x01, 0x00, 0x00, 0x00,				// flags = OPTIONAL
	0x01, 0x00, 0x00, 0x00,				// tag = STOP_COPY_SIZE
	0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, // le64 0x123456789
};

// In-tree FW_DATA header for a 5-byte image.
const uint8_t kGoldenFwDataHeader5[] = {
	0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // record_size = 5
	0x00, 0x00, 0x00, 0x00,				// flags = mandatory
	0x00, 0x00, 0x00, 0x00,				// tag = FW_DATA
};

constexpr CompatInfo kCx7 = {
	.pci_vendor_id = 0x15b3,
	.pci_device_id = 0x101e,
	.fw_identity = 0x0123456789abcdefULL,
	.vhca_state_format = 7,
};

// Our COMPAT record for kCx7, version 1.0: pinned so the layout never drifts
// silently between two releases of this driver.
const uint8_t kGoldenCompatCx7[] = {
	0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // record_size = 32
	0x01, 0x00, 0x00, 0x00,				// flags = OPTIONAL
	'm',  '5',  'v',  'f',				// tag = COMPAT
	'M',  '5',  'V',  'C',				// magic
	0x01, 0x00, 0x00, 0x00,				// version 1.0
	0x20, 0x00, 0x00, 0x00,				// length = 32
	0xb3, 0x15, 0x1e, 0x10,				// 15b3:101e
	0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, // fw_identity
	0x07, 0x00, 0x00, 0x00,				// vhca_state_format
	0x00, 0x00, 0x00, 0x00,				// reserved
};

TEST(StreamFormat, ConstantsMatchTheInTreeDriver)
{
	EXPECT_EQ(16u, kRecordHeaderSize);
	EXPECT_EQ((1ULL << 32) - 1, kMaxLoadSize);
	EXPECT_EQ(0u, static_cast<uint32_t>(RecordTag::FwData));
	EXPECT_EQ(1u, static_cast<uint32_t>(RecordTag::StopCopySize));
	EXPECT_EQ(1u, static_cast<uint32_t>(kRecordOptional));
	EXPECT_EQ(24u, kStopCopySizeRecordSize);
	EXPECT_EQ(48u, kCompatRecordSize);
}

TEST(StreamFormat, CompatTagStaysClearOfUpstreamTagSpace)
{
	// Upstream tags are bits; ours must never be one, nor small.
	const uint32_t tag = static_cast<uint32_t>(RecordTag::Compat);
	EXPECT_FALSE(kstd::is_pow2(tag));
	EXPECT_GT(tag, 0xffffu);
	uint8_t wire[4];
	kstd::store_le32(wire, tag);
	EXPECT_EQ(0, memcmp(wire, "m5vf", 4));
}

TEST(StreamFormat, StopCopySizeRecordIsByteIdenticalToInTree)
{
	uint8_t out[64];
	EXPECT_EQ(Buf(std::begin(kGoldenStopCopySize), std::end(kGoldenStopCopySize)),
		  bytes_of(write_stop_copy_size_record(kstd::Bytes(out), 0x123456789ULL), out));
}

TEST(StreamFormat, FwDataHeaderIsByteIdenticalToInTree)
{
	uint8_t out[64];
	EXPECT_EQ(Buf(std::begin(kGoldenFwDataHeader5), std::end(kGoldenFwDataHeader5)),
		  bytes_of(write_fw_data_header(kstd::Bytes(out), 5), out));
}

TEST(StreamFormat, CompatRecordLayoutIsPinned)
{
	uint8_t out[64];
	EXPECT_EQ(Buf(std::begin(kGoldenCompatCx7), std::end(kGoldenCompatCx7)),
		  bytes_of(write_compat_record(kstd::Bytes(out), kCx7), out));
}

TEST(StreamFormat, DecodesInTreeHeaders)
{
	auto stop = decode_record_header(kstd::ConstBytes(kGoldenStopCopySize));
	ASSERT_TRUE(stop.is_ok());
	EXPECT_EQ(8u, stop.value().record_size);
	EXPECT_TRUE(stop.value().optional());
	EXPECT_EQ(RecordTag::StopCopySize, stop.value().tag);
	EXPECT_EQ(0x123456789ULL, kstd::load_le64(kGoldenStopCopySize + kRecordHeaderSize));

	auto fw = decode_record_header(kstd::ConstBytes(kGoldenFwDataHeader5));
	ASSERT_TRUE(fw.is_ok());
	EXPECT_EQ(5u, fw.value().record_size);
	EXPECT_FALSE(fw.value().optional());
	EXPECT_EQ(RecordTag::FwData, fw.value().tag);
}

TEST(StreamFormat, HeaderRoundTripKeepsUnknownTagsAndFlags)
{
	const RecordHeader in = {
		.record_size = ~0ULL,
		.flags = 0xfffffffeU,
		.tag = static_cast<RecordTag>(0xdeadbeefU),
	};
	uint8_t out[kRecordHeaderSize];
	ASSERT_EQ(kRecordHeaderSize, encode_record_header(kstd::Bytes(out), in).value());
	auto back = decode_record_header(kstd::ConstBytes(out));
	ASSERT_TRUE(back.is_ok());
	EXPECT_EQ(in.record_size, back.value().record_size);
	EXPECT_EQ(in.flags, back.value().flags);
	EXPECT_FALSE(back.value().optional());
	EXPECT_EQ(0xdeadbeefU, static_cast<uint32_t>(back.value().tag));
}

TEST(StreamFormat, ShortBuffersAreRefusedAndLeftUntouched)
{
	uint8_t out[kCompatRecordSize];
	memset(out, 0xaa, sizeof(out));
	EXPECT_EQ(kstd::Err::NoSpc, encode_record_header(kstd::Bytes(out, 15), {}).error());
	EXPECT_EQ(kstd::Err::NoSpc, write_stop_copy_size_record(kstd::Bytes(out, 23), 1).error());
	EXPECT_EQ(kstd::Err::NoSpc, write_compat_record(kstd::Bytes(out, 47), kCx7).error());
	EXPECT_EQ(kstd::Err::NoSpc, write_fw_data_header(kstd::Bytes(out, 15), 1).error());
	EXPECT_EQ(kstd::Err::NoSpc, encode_compat_payload(kstd::Bytes(out, 31), kCx7).error());
	for (uint8_t b : out)
		ASSERT_EQ(0xaa, b);
	EXPECT_EQ(kstd::Err::BadMsg,
		  decode_record_header(kstd::ConstBytes(kGoldenFwDataHeader5, 15)).error());
	EXPECT_EQ(kstd::Err::BadMsg, decode_record_header({}).error());
}

TEST(StreamFormat, FwDataHeaderRefusesImagesNoLoadCanTake)
{
	uint8_t out[kRecordHeaderSize];
	EXPECT_TRUE(write_fw_data_header(kstd::Bytes(out), kMaxLoadSize).is_ok());
	EXPECT_EQ(kstd::Err::Overflow, write_fw_data_header(kstd::Bytes(out), kMaxLoadSize + 1).error());
	EXPECT_EQ(kstd::Err::Overflow, write_fw_data_header(kstd::Bytes(out), ~0ULL).error());
	EXPECT_TRUE(write_fw_data_header(kstd::Bytes(out), 0).is_ok());
}

// The COMPAT payload of kCx7 (the golden record without its header).
Buf cx7_payload()
{
	return Buf(std::begin(kGoldenCompatCx7) + kRecordHeaderSize, std::end(kGoldenCompatCx7));
}

kstd::ConstBytes view(const Buf &b)
{
	return kstd::ConstBytes(b.data(), b.size());
}

TEST(StreamFormat, CompatDecodesWhatItEncodes)
{
	auto peer = decode_compat_payload(view(cx7_payload()));
	ASSERT_TRUE(peer.is_ok());
	EXPECT_EQ(1, peer.value().version_major);
	EXPECT_EQ(0, peer.value().version_minor);
	EXPECT_EQ(0x15b3, peer.value().info.pci_vendor_id);
	EXPECT_EQ(0x101e, peer.value().info.pci_device_id);
	EXPECT_EQ(kCx7.fw_identity, peer.value().info.fw_identity);
	EXPECT_EQ(7u, peer.value().info.vhca_state_format);
	EXPECT_TRUE(check_compat(kCx7, view(cx7_payload())).is_ok());
}

TEST(StreamFormat, CompatAcceptsANewerMinorWithAppendedFields)
{
	Buf p = cx7_payload();
	p[6] = 9;				     // minor 9
	p.insert(p.end(), {1, 2, 3, 4, 5, 6, 7, 8}); // a field of minor 9
	p[8] = static_cast<uint8_t>(p.size());	     // length follows
	EXPECT_TRUE(check_compat(kCx7, view(p)).is_ok());
	EXPECT_EQ(9, decode_compat_payload(view(p)).value().version_minor);
	// ...and ignores what it does not know in the reserved word.
	p[28] = 0xff;
	EXPECT_TRUE(check_compat(kCx7, view(p)).is_ok());
}

TEST(StreamFormat, CompatRefusesAnotherMajorWithoutReadingPastTheVersion)
{
	Buf p = cx7_payload();
	p[4] = 2;
	EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p)).error());
	p[4] = 0;
	EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p)).error());
	// A major-2 payload may be just the prefix, or any other layout.
	Buf prefix(p.begin(), p.begin() + kCompatVersionPrefixSize);
	prefix[4] = 2;
	EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(prefix)).error());
}

// Issue 9, item 6: the identity is PSID and firmware (line: high 32 bits)
// plus the firmware build (low 32 bits). By default every part must match;
// the operator's policy waives the build, and nothing else.
TEST(StreamFormat, CompatFirmwareBuildMismatchFollowsThePolicy)
{
	const CompatPolicy refuse, accept{.accept_fw_build_mismatch = true};
	EXPECT_FALSE(refuse.accept_fw_build_mismatch); // the default
	EXPECT_EQ(0x01234567u, fw_identity_line(kCx7.fw_identity));
	EXPECT_EQ(0x89abcdefu, fw_identity_build(kCx7.fw_identity));

	CompatInfo other_build = kCx7;
	other_build.fw_identity ^= 0x0000000000010000ULL; // another minor: build
	Buf p(kCompatPayloadSizeV1_0);
	ASSERT_TRUE(encode_compat_payload(kstd::Bytes(p.data(), p.size()), other_build).is_ok());
	EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p)).error());
	EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p), refuse).error());
	EXPECT_STREQ("COMPAT refused: another firmware build (see accept_fw_build_mismatch)",
		     compat_refusal(kCx7, other_build, refuse));
	auto peer = check_compat(kCx7, view(p), accept);
	ASSERT_TRUE(peer.is_ok());
	EXPECT_EQ(other_build.fw_identity, peer.value().info.fw_identity); // to name it in the log
	EXPECT_EQ(nullptr, compat_refusal(kCx7, other_build, accept));
	EXPECT_EQ(nullptr, compat_refusal(kCx7, kCx7, refuse));

	// Not waivable: another PSID or major (the line), device or state format.
	CompatInfo other_psid = kCx7, other_major = kCx7, other_device = kCx7, other_format = kCx7;
	other_psid.fw_identity ^= 1ULL << 63;
	other_major.fw_identity ^= 1ULL << 32;
	other_device.pci_device_id = 0x1021;
	other_format.vhca_state_format++;
	for (const CompatInfo *bad : {&other_psid, &other_major}) {
		EXPECT_STREQ("COMPAT refused: another firmware (PSID or major version)",
			     compat_refusal(kCx7, *bad, accept));
		ASSERT_TRUE(encode_compat_payload(kstd::Bytes(p.data(), p.size()), *bad).is_ok());
		EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p), accept).error());
	}
	// Even when the build differs too.
	other_psid.fw_identity ^= 1;
	EXPECT_NE(nullptr, compat_refusal(kCx7, other_psid, accept));
	EXPECT_STREQ("COMPAT refused: another device model", compat_refusal(kCx7, other_device, accept));
	EXPECT_STREQ("COMPAT refused: another device state format",
		     compat_refusal(kCx7, other_format, accept));
	for (const CompatInfo *bad : {&other_device, &other_format}) {
		ASSERT_TRUE(encode_compat_payload(kstd::Bytes(p.data(), p.size()), *bad).is_ok());
		EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p), accept).error());
	}
}

TEST(StreamFormat, CompatRefusesAnotherDevice)
{
	const size_t identity_bytes[] = {12, 13, 14, 15, 16, 23, 24, 27};
	for (size_t at : identity_bytes) {
		Buf p = cx7_payload();
		p[at] ^= 0x01;
		EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(kCx7, view(p)).error()) << "byte " << at;
	}
	CompatInfo other = kCx7;
	other.pci_device_id = 0xa2dc; // BlueField-3 PF id: not our VF
	EXPECT_EQ(kstd::Err::ProtoNotSupp, check_compat(other, view(cx7_payload())).error());
}

TEST(StreamFormat, CompatRefusesMalformedPayloads)
{
	const Buf good = cx7_payload();
	// Too short for the version prefix, at every length.
	for (size_t n = 0; n < kCompatVersionPrefixSize; n++)
		EXPECT_EQ(kstd::Err::BadMsg, check_compat(kCx7, kstd::ConstBytes(good.data(), n)).error());
	// Our major but missing 1.0 fields, at every length.
	for (size_t n = kCompatVersionPrefixSize; n < kCompatPayloadSizeV1_0; n++)
		EXPECT_EQ(kstd::Err::BadMsg, check_compat(kCx7, kstd::ConstBytes(good.data(), n)).error());
	Buf p = good;
	p[0] ^= 0x20; // magic
	EXPECT_EQ(kstd::Err::BadMsg, check_compat(kCx7, view(p)).error());
	p = good;
	p[8] = 33; // length disagrees with the payload
	EXPECT_EQ(kstd::Err::BadMsg, check_compat(kCx7, view(p)).error());
	p = good;
	p.push_back(0); // payload longer than its length says
	EXPECT_EQ(kstd::Err::BadMsg, check_compat(kCx7, view(p)).error());
	p = good;
	p[11] = 1; // length 2^24 + 32
	EXPECT_EQ(kstd::Err::BadMsg, check_compat(kCx7, view(p)).error());
}

} // namespace
} // namespace mlx5vf::stream

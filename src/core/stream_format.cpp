// SPDX-License-Identifier: GPL-2.0-only
#include "stream_format.h"

#include "kstd/bits.h"

#include "kstd/enforce.h"

namespace mlx5vf::stream {
namespace {

// Field offsets; the header comment in stream_format.h is the specification.
constexpr size_t kHeaderSizeOffset = 0;
constexpr size_t kHeaderFlagsOffset = 8;
constexpr size_t kHeaderTagOffset = 12;

constexpr size_t kCompatMagicOffset = 0;
constexpr size_t kCompatMajorOffset = 4;
constexpr size_t kCompatMinorOffset = 6;
constexpr size_t kCompatLengthOffset = 8;
constexpr size_t kCompatVendorOffset = 12;
constexpr size_t kCompatDeviceOffset = 14;
constexpr size_t kCompatFwIdentityOffset = 16;
constexpr size_t kCompatStateFormatOffset = 24;
constexpr size_t kCompatReservedOffset = 28;

static_assert(kCompatReservedOffset + 4 == kCompatPayloadSizeV1_0);
static_assert(kCompatMajorOffset + 4 == kCompatVersionPrefixSize);
static_assert(kCompatPayloadSizeV1_0 <= kCompatPayloadMax);

constexpr uint16_t load_le16(const uint8_t *p)
{
	return static_cast<uint16_t>(p[0] | p[1] << 8);
}

constexpr void store_le16(uint8_t *p, uint16_t v)
{
	p[0] = static_cast<uint8_t>(v);
	p[1] = static_cast<uint8_t>(v >> 8);
}

} // namespace

kstd::Result<size_t> encode_record_header(kstd::Bytes out, const RecordHeader &header)
{
	if (out.size() < kRecordHeaderSize)
		return kstd::Err::NoSpc;
	uint8_t *p = out.data();
	kstd::store_le64(p + kHeaderSizeOffset, header.record_size);
	kstd::store_le32(p + kHeaderFlagsOffset, header.flags);
	kstd::store_le32(p + kHeaderTagOffset, static_cast<uint32_t>(header.tag));
	return kRecordHeaderSize;
}

kstd::Result<RecordHeader> decode_record_header(kstd::ConstBytes in)
{
	if (in.size() < kRecordHeaderSize)
		return kstd::Err::BadMsg;
	const uint8_t *p = in.data();
	RecordHeader header;
	header.record_size = kstd::load_le64(p + kHeaderSizeOffset);
	header.flags = kstd::load_le32(p + kHeaderFlagsOffset);
	// A fixed-underlying-type enum holds any value of that type: unknown
	// tags survive decoding and are judged by the parser.
	header.tag = static_cast<RecordTag>(kstd::load_le32(p + kHeaderTagOffset));
	return header;
}

kstd::Result<size_t> encode_compat_payload(kstd::Bytes out, const CompatInfo &local)
{
	if (out.size() < kCompatPayloadSizeV1_0)
		return kstd::Err::NoSpc;
	uint8_t *p = out.data();
	kstd::store_le32(p + kCompatMagicOffset, kCompatMagic);
	store_le16(p + kCompatMajorOffset, kCompatVersionMajor);
	store_le16(p + kCompatMinorOffset, kCompatVersionMinor);
	kstd::store_le32(p + kCompatLengthOffset, static_cast<uint32_t>(kCompatPayloadSizeV1_0));
	store_le16(p + kCompatVendorOffset, local.pci_vendor_id);
	store_le16(p + kCompatDeviceOffset, local.pci_device_id);
	kstd::store_le64(p + kCompatFwIdentityOffset, local.fw_identity);
	kstd::store_le32(p + kCompatStateFormatOffset, local.vhca_state_format);
	kstd::store_le32(p + kCompatReservedOffset, 0);
	return kCompatPayloadSizeV1_0;
}

kstd::Result<CompatPeer> decode_compat_payload(kstd::ConstBytes payload)
{
	// The version prefix is the only layout every major shares: judge the
	// magic and the major before trusting anything else.
	if (payload.size() < kCompatVersionPrefixSize)
		return kstd::Err::BadMsg;
	const uint8_t *p = payload.data();
	if (kstd::load_le32(p + kCompatMagicOffset) != kCompatMagic)
		return kstd::Err::BadMsg;
	CompatPeer peer;
	peer.version_major = load_le16(p + kCompatMajorOffset);
	peer.version_minor = load_le16(p + kCompatMinorOffset);
	if (peer.version_major != kCompatVersionMajor)
		return kstd::Err::ProtoNotSupp;

	// Major 1: the 1.0 fields must be present, and the length must account
	// for exactly the bytes we were given (a later minor appends after them).
	if (payload.size() < kCompatPayloadSizeV1_0)
		return kstd::Err::BadMsg;
	if (kstd::load_le32(p + kCompatLengthOffset) != payload.size())
		return kstd::Err::BadMsg;
	peer.info.pci_vendor_id = load_le16(p + kCompatVendorOffset);
	peer.info.pci_device_id = load_le16(p + kCompatDeviceOffset);
	peer.info.fw_identity = kstd::load_le64(p + kCompatFwIdentityOffset);
	peer.info.vhca_state_format = kstd::load_le32(p + kCompatStateFormatOffset);
	return peer;
}

const char *compat_refusal(const CompatInfo &local, const CompatInfo &remote, const CompatPolicy &policy)
{
	if (remote.pci_vendor_id != local.pci_vendor_id || remote.pci_device_id != local.pci_device_id)
		return "COMPAT refused: another device model";
	if (remote.vhca_state_format != local.vhca_state_format)
		return "COMPAT refused: another device state format";
	if (fw_identity_line(remote.fw_identity) != fw_identity_line(local.fw_identity))
		return "COMPAT refused: another firmware (PSID or major version)";
	// Same line: only the build can differ, and the operator may allow that.
	if (remote.fw_identity != local.fw_identity && !policy.accept_fw_build_mismatch)
		return "COMPAT refused: another firmware build (see accept_fw_build_mismatch)";
	return nullptr;
}

kstd::Result<CompatPeer> check_compat(const CompatInfo &local, kstd::ConstBytes payload,
				      const CompatPolicy &policy)
{
	const CompatPeer peer = TRY(decode_compat_payload(payload));
	if (compat_refusal(local, peer.info, policy))
		return kstd::Err::ProtoNotSupp;
	return peer;
}

} // namespace mlx5vf::stream

// SPDX-License-Identifier: GPL-2.0-only
// The migration stream's wire format: what the bytes on a VFIO data_fd mean.
//
// The stream is byte-compatible with the in-tree mlx5-vfio-pci driver
// (drivers/vfio/pci/mlx5, struct mlx5_vf_migration_header), so a VM migrates
// in both directions between a host running it and a host running us. It is
// a sequence of records, each a 16-byte little-endian header followed by
// record_size payload bytes:
//
//   offset 0   le64 record_size   payload bytes that follow the header
//   offset 8   le32 flags         bit 0: OPTIONAL (a reader that does not know
//                                 the tag skips the record); others ignored
//   offset 12  le32 tag           what the payload is (RecordTag)
//   offset 16  payload[record_size]
//
// Our extensions are OPTIONAL records only, so an in-tree destination skips
// them, and every record an in-tree source emits is accepted by us.
//
// This header holds the layout (constants, header codec, the COMPAT payload
// codec and check); stream_writer.h builds whole records, stream_parser.h
// reads them back. Nothing here allocates.
#pragma once

#include "kstd/result.h"
#include "kstd/span.h"

namespace mlx5vf::stream {

inline constexpr size_t kRecordHeaderSize = 16;

// LOAD_VHCA_STATE carries the image size in a 32-bit field, so no FW_DATA
// record can be larger. The in-tree reader applies the limit to every record
// before it looks at the tag (its MAX_LOAD_SIZE); so do we, which bounds even
// the optional records we merely skip.
inline constexpr uint64_t kMaxLoadSize = 0xffffffffULL;

enum RecordFlags : uint32_t {
	kRecordMandatory = 0,
	kRecordOptional = 1u << 0, // MLX5_MIGF_HEADER_FLAGS_TAG_OPTIONAL
};

// Upstream numbers its tags as bits (enum mlx5_vf_migf_header_tag:
// FW_DATA = 0, STOP_COPY_SIZE = 1 << 0), so any small value or single bit may
// be taken by a future in-tree record. Our COMPAT tag is neither: 18 bits set,
// chosen so that its wire bytes read "m5vf" in a hex dump of the stream.
enum class RecordTag : uint32_t {
	FwData = 0,	      // mandatory: one firmware image, one LOAD
	StopCopySize = 1,     // optional: le64 size of the source's stop-copy buffer
	Compat = 0x6676356dU, // optional, ours: CompatInfo, before any FW_DATA if present
};

struct RecordHeader {
	uint64_t record_size = 0;
	uint32_t flags = 0;
	RecordTag tag = RecordTag::FwData; // may hold any 32-bit value (unknown tags)

	bool optional() const { return flags & kRecordOptional; }
};

// Writes the 16 header bytes at the start of out. Err::NoSpc if out is
// shorter than kRecordHeaderSize. Does not judge the values: the writer and
// the parser own the policy.
kstd::Result<size_t> encode_record_header(kstd::Bytes out, const RecordHeader &header);

// Reads a header from the first 16 bytes of in; Err::BadMsg if in is shorter.
kstd::Result<RecordHeader> decode_record_header(kstd::ConstBytes in);

// STOP_COPY_SIZE payload: one le64, the source's stop-copy buffer size, so
// the destination can allocate the image buffer during precopy (in-tree
// struct mlx5_vf_migration_tag_stop_copy_data).
inline constexpr size_t kStopCopySizePayloadSize = 8;

// COMPAT payload (our extension): who produced the stream, so that a
// destination that cannot load it fails during precopy, before the source VM
// stops, instead of at the final LOAD. All fields little endian.
//
//   offset 0   le32 magic              kCompatMagic (wire bytes "M5VC")
//   offset 4   le16 version_major      a reader refuses a major it does not know
//   offset 6   le16 version_minor      a newer minor only appends fields
//   offset 8   le32 length             payload bytes, this prefix included; must
//                                      equal the record's size
//   offset 12  le16 pci_vendor_id
//   offset 14  le16 pci_device_id
//   offset 16  le64 fw_identity        firmware/model identity of the VF: bits
//                                      63..32 its line (what must always
//                                      match), 31..0 its build (see
//                                      fw_identity_build())
//   offset 24  le32 vhca_state_format  version of the VHCA state image format
//   offset 28  le32 reserved           written as zero, ignored on read
//   offset 32  fields of later minors
//
// Only magic and version (the first 8 bytes) are promised by every major;
// everything after them belongs to the major. Major 1 also promises that the
// payload never exceeds kCompatPayloadMax bytes, so a reader can hold it in a
// fixed buffer.
inline constexpr uint32_t kCompatMagic = 0x4356354dU;
inline constexpr uint16_t kCompatVersionMajor = 1;
inline constexpr uint16_t kCompatVersionMinor = 0;
inline constexpr size_t kCompatVersionPrefixSize = 8;
inline constexpr size_t kCompatPayloadSizeV1_0 = 32;
inline constexpr size_t kCompatPayloadMax = 256;

// Every saving stream starts with COMPAT and STOP_COPY_SIZE: the bytes a
// reader takes before the first FW_DATA record.
inline constexpr size_t kStreamPreambleSize =
	2 * kRecordHeaderSize + kCompatPayloadSizeV1_0 + kStopCopySizePayloadSize;

// What must match between source and destination for an image to load.
struct CompatInfo {
	uint16_t pci_vendor_id = 0;
	uint16_t pci_device_id = 0;
	uint64_t fw_identity = 0;
	uint32_t vhca_state_format = 0;
};

// fw_identity is opaque to the core except for one split, which each backend
// composes to: the high 32 bits are the firmware line, which must always match
// (mlx5: the board's PSID, folded to 16 bits, and the firmware major, the
// device family's firmware), the low 32 bits its build (mlx5: minor and
// subminor, the "yy.zzzz" of firmware version xx.yy.zzzz). NVIDIA's
// documentation for VF live migration requires identical firmware on both
// hosts; the in-tree driver does not check it, we do (check_compat()), and an
// operator may knowingly waive the build part (CompatPolicy).
constexpr uint64_t fw_identity_line(uint64_t id)
{
	return id >> 32;
}
constexpr uint32_t fw_identity_build(uint64_t id)
{
	return static_cast<uint32_t>(id);
}

// What a destination accepts beyond identical CompatInfo.
struct CompatPolicy {
	// Load a stream from the same device model, state format and firmware
	// line but another firmware build (the operator's
	// accept_fw_build_mismatch module parameter).
	bool accept_fw_build_mismatch = false;
};

// A decoded COMPAT payload: the peer's identity and the version it wrote.
struct CompatPeer {
	uint16_t version_major = 0;
	uint16_t version_minor = 0;
	CompatInfo info;
};

// Writes our version (kCompatVersionMajor.kCompatVersionMinor) and local
// into out; returns kCompatPayloadSizeV1_0. Err::NoSpc if out is too short.
kstd::Result<size_t> encode_compat_payload(kstd::Bytes out, const CompatInfo &local);

// Decodes a COMPAT payload. Err::BadMsg: too short for the version prefix,
// wrong magic, or (major 1) too short for the 1.0 fields or a length field
// that disagrees with the payload size. Err::ProtoNotSupp: a major other than
// kCompatVersionMajor (its layout is unknown, so nothing past the prefix is
// read). Any minor of our major is accepted; fields of later minors are
// ignored.
kstd::Result<CompatPeer> decode_compat_payload(kstd::ConstBytes payload);

// Why an image from remote cannot load on local under policy (a fixed
// sentence for the log), or nullptr when it can: every CompatInfo field equal,
// or only the firmware build differing and the policy accepting that.
const char *compat_refusal(const CompatInfo &local, const CompatInfo &remote,
			   const CompatPolicy &policy = {});

// Can an image described by payload load on this device (local)? The decoded
// peer when compat_refusal() has no objection; Err::ProtoNotSupp for an
// unknown major or an identity it refuses; Err::BadMsg for a malformed
// payload. The caller compares builds to see whether the policy was used.
kstd::Result<CompatPeer> check_compat(const CompatInfo &local, kstd::ConstBytes payload,
				      const CompatPolicy &policy = {});

} // namespace mlx5vf::stream

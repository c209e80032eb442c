// SPDX-License-Identifier: GPL-2.0-only
#include "stream_writer.h"

#include "kstd/bits.h"

#include "kstd/enforce.h"

namespace mlx5vf::stream {

kstd::Result<size_t> write_stop_copy_size_record(kstd::Bytes out, uint64_t stop_copy_size)
{
	// Check the whole record first so a short buffer is left untouched.
	if (out.size() < kStopCopySizeRecordSize)
		return kstd::Err::NoSpc;
	const RecordHeader header = {
		.record_size = kStopCopySizePayloadSize,
		.flags = kRecordOptional,
		.tag = RecordTag::StopCopySize,
	};
	const size_t header_bytes = TRY(encode_record_header(out, header));
	kstd::store_le64(out.data() + header_bytes, stop_copy_size);
	return kStopCopySizeRecordSize;
}

kstd::Result<size_t> write_compat_record(kstd::Bytes out, const CompatInfo &local)
{
	if (out.size() < kCompatRecordSize)
		return kstd::Err::NoSpc;
	const RecordHeader header = {
		.record_size = kCompatPayloadSizeV1_0,
		.flags = kRecordOptional,
		.tag = RecordTag::Compat,
	};
	const size_t header_bytes = TRY(encode_record_header(out, header));
	const size_t payload_bytes = TRY(encode_compat_payload(out.subspan(header_bytes), local));
	return header_bytes + payload_bytes;
}

kstd::Result<size_t> write_fw_data_header(kstd::Bytes out, uint64_t image_size)
{
	if (image_size > kMaxLoadSize)
		return kstd::Err::Overflow;
	const RecordHeader header = {
		.record_size = image_size,
		.flags = kRecordMandatory,
		.tag = RecordTag::FwData,
	};
	return encode_record_header(out, header);
}

} // namespace mlx5vf::stream

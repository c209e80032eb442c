// SPDX-License-Identifier: GPL-2.0-only
// The saving side's record builders: the only producer-side code that knows
// the layout of stream_format.h. Each writes one record (or, for FW_DATA,
// the header in front of a firmware image that the caller queues behind it)
// at the start of a caller-provided buffer and returns the bytes written.
// Nothing allocates, so they run anywhere, including the SAVE completion.
//
// A stream we produce looks like
//   [COMPAT][STOP_COPY_SIZE][FW_DATA initial image][FW_DATA incremental]...
// which an in-tree destination reads as its own format with one optional
// record (COMPAT) to skip.
#pragma once

#include "stream_format.h"

namespace mlx5vf::stream {

inline constexpr size_t kStopCopySizeRecordSize = kRecordHeaderSize + kStopCopySizePayloadSize;
inline constexpr size_t kCompatRecordSize = kRecordHeaderSize + kCompatPayloadSizeV1_0;

// OPTIONAL STOP_COPY_SIZE record carrying stop_copy_size as given (the
// reader clamps it). Err::NoSpc if out is shorter than kStopCopySizeRecordSize.
kstd::Result<size_t> write_stop_copy_size_record(kstd::Bytes out, uint64_t stop_copy_size);

// OPTIONAL COMPAT record describing local, at our format version.
// Err::NoSpc if out is shorter than kCompatRecordSize.
kstd::Result<size_t> write_compat_record(kstd::Bytes out, const CompatInfo &local);

// MANDATORY FW_DATA header for an image of image_size bytes (0 allowed: the
// reader hands it to its sink like any image). Err::Overflow if image_size
// exceeds kMaxLoadSize (no destination could LOAD it), Err::NoSpc if out is
// shorter than kRecordHeaderSize.
kstd::Result<size_t> write_fw_data_header(kstd::Bytes out, uint64_t image_size);

} // namespace mlx5vf::stream

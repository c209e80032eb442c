// SPDX-License-Identifier: GPL-2.0-only
// ResumeFile: the resuming side of a migration (the data_fd returned for
// RESUMING). It feeds whatever userspace writes, split anywhere, through the
// stream parser, copies image bytes from user memory straight into a firmware
// buffer and issues one LOAD per complete FW_DATA record.
//
// The image buffer is allocated when STOP_COPY_SIZE arrives (during precopy,
// before the source VM stops) so the final image needs no allocation.
//
// Context: write() and finish() run under the device's state lock and the
// file's lock (LOAD is a firmware command); everything may sleep.
#pragma once

#include "firmware.h"
#include "kstd/alloc.h"
#include "mig_stats.h"
#include "stream_parser.h"

namespace mlx5vf {

class ResumeFile final : public stream::Sink {
public:
	// stats: the device's counters (resume bytes, records), or null.
	static kstd::Result<kstd::Owned<ResumeFile>> create(Firmware &fw, const stream::CompatInfo &local,
							    MigStats *stats = nullptr);
	~ResumeFile();

	// Consumes up to len bytes from user. Returns len, or the error that
	// broke the stream (latched: every later write returns it).
	kstd::Result<size_t> write(UserIo &user, size_t len);
	// The RESUMING -> STOP arc: the stream must have ended between records
	// after at least one image was loaded.
	kstd::Result<void> finish();
	// Detach from the device: frees the image buffer; later writes fail with
	// Err::NoDev. Idempotent.
	void close();
	bool closed() const { return closed_; }

	const stream::Parser &parser() const { return parser_; }
	// Bytes of image buffer held now, and the largest image this file loads.
	uint64_t preallocated() const { return image_ ? image_->capacity() : 0; }
	uint64_t load_limit() const { return load_limit_; }
	uint64_t prealloc_limit() const { return prealloc_limit_; }

	// stream::Sink
	kstd::Result<void> on_stop_copy_size(uint64_t bytes) override;
	kstd::Result<void> on_compat(kstd::ConstBytes payload) override;
	kstd::Result<void> begin_image(uint64_t size) override;
	kstd::Result<kstd::Bytes> image_space(uint64_t offset) override;
	kstd::Result<void> end_image() override;
	void on_record(const stream::RecordHeader &header) override;

private:
	ResumeFile(Firmware &fw, const stream::CompatInfo &local, uint64_t load_limit,
		   uint64_t prealloc_limit, MigStats *stats)
	    : fw_(fw), local_(local), load_limit_(load_limit), prealloc_limit_(prealloc_limit),
	      parser_(*this), stats_(stats)
	{
	}
	kstd::Result<void> ensure_buffer(uint64_t size);
	kstd::Result<void> write_some(UserIo &user, size_t len, size_t &done);

	Firmware &fw_;
	const stream::CompatInfo local_;
	// The largest image this device could plausibly be sent: a stream must
	// not buy memory just by claiming a size.
	const uint64_t load_limit_;
	// The most a STOP_COPY_SIZE hint preallocates: twice our own image.
	const uint64_t prealloc_limit_;
	stream::Parser parser_;
	DataBuffer *image_ = nullptr; // ToDevice buffer, reused across records
	uint64_t image_size_ = 0;     // size of the record being filled
	bool closed_ = false;
	MigStats *stats_; // null once closed
};

} // namespace mlx5vf

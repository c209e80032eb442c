// SPDX-License-Identifier: GPL-2.0-only
// ResumeFile: the resuming side of a migration (the data_fd returned for
// RESUMING). It feeds whatever userspace writes, split anywhere, through the
// stream parser, copies image bytes from user memory straight into a firmware
// buffer and issues one LOAD per complete FW_DATA record.
//
// Memory follows the bytes that arrived, never a size the stream claims:
// STOP_COPY_SIZE (during precopy, before the source VM stops) and an FW_DATA
// header preallocate at most prealloc_limit() bytes, so the final image of a
// device like ours needs no allocation on the downtime path; an image beyond
// that grows its buffer as its bytes arrive (geometrically, each buffer made
// of the backend's segments), so a stream that claims 4 GiB and sends nothing
// gets the bounded preallocation only. The one ceiling on an image is the
// format's (kMaxLoadSize, the 32-bit LOAD size) or the operator's
// (ResumeLimits::max_image, the shim's max_image_mib), never one derived from
// this device's own image: a busy source's image may be any multiple of an
// idle destination's.
//
// Context: write() and finish() run under the device's state lock and the
// file's lock (LOAD is a firmware command); everything may sleep.
#pragma once

#include "firmware.h"
#include "kstd/alloc.h"
#include "mig_stats.h"
#include "stream_parser.h"

namespace mlx5vf {

struct ResumeLimits {
	// The largest image (FW_DATA record) this destination loads: an
	// operator's setting, at most the format's. Larger ones: Err::Overflow,
	// and error_reason() names the setting.
	uint64_t max_image = stream::kMaxLoadSize;
	// A claimed size preallocates up to twice our own full image, but never
	// less than this (an idle device's image may be far smaller than a busy
	// one's) and never more than max_image.
	uint64_t prealloc_floor = 8ull << 20;
	// Which sources' COMPAT records this destination accepts (the shim's
	// accept_fw_build_mismatch); a refusal's error_reason() says why.
	stream::CompatPolicy compat_policy;
};

class ResumeFile final : public stream::Sink {
public:
	// stats: the device's counters (resume bytes, records), or null.
	static kstd::Result<kstd::Owned<ResumeFile>> create(Firmware &fw, const stream::CompatInfo &local,
							    const ResumeLimits &limits = {},
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
	// Why the stream was refused (nullptr if it was not): the parser's
	// reason, or ours when the refusal was an operator's limit.
	const char *error_reason() const { return refusal_ ? refusal_ : parser_.error_reason(); }
	// Bytes of image buffer held now, and the largest image this file loads.
	uint64_t preallocated() const { return image_ ? image_->capacity() : 0; }
	uint64_t load_limit() const { return load_limit_; }
	// The most a claimed size (STOP_COPY_SIZE, an FW_DATA header) allocates
	// before the bytes arrive.
	uint64_t prealloc_limit() const { return prealloc_limit_; }

	// stream::Sink
	kstd::Result<void> on_stop_copy_size(uint64_t bytes) override;
	kstd::Result<void> on_compat(kstd::ConstBytes payload) override;
	kstd::Result<void> begin_image(uint64_t size) override;
	kstd::Result<kstd::Bytes> image_space(uint64_t offset) override;
	kstd::Result<void> end_image() override;
	void on_record(const stream::RecordHeader &header) override;

private:
	ResumeFile(Firmware &fw, const stream::CompatInfo &local, const stream::CompatPolicy &policy,
		   uint64_t load_limit, uint64_t prealloc_limit, MigStats *stats)
	    : fw_(fw), local_(local), policy_(policy), load_limit_(load_limit),
	      prealloc_limit_(prealloc_limit), parser_(*this), stats_(stats)
	{
	}
	kstd::Result<void> ensure_buffer(uint64_t size);
	kstd::Result<void> grow_buffer(uint64_t filled);
	kstd::Result<void> write_some(UserIo &user, size_t len, size_t &done);

	Firmware &fw_;
	const stream::CompatInfo local_;
	const stream::CompatPolicy policy_;
	// The largest image this file loads: the format's or the operator's.
	const uint64_t load_limit_;
	// The most a claimed size buys before its bytes arrive (see create()).
	const uint64_t prealloc_limit_;
	stream::Parser parser_;
	DataBuffer *image_ = nullptr; // ToDevice buffer, reused across records
	uint64_t image_size_ = 0;     // size of the record being filled
	const char *refusal_ = nullptr;
	bool grew_ = false; // logged once: an image outgrew the preallocation
	bool closed_ = false;
	MigStats *stats_; // null once closed
};

} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
#include "resume_file.h"

#include "kstd/enforce.h"

namespace mlx5vf {

namespace {

// The largest image this destination loads: the operator's limit when one is
// set, never more than a FW_DATA record can carry (32-bit LOAD size). Not
// derived from our own image: a busy source's may be any multiple of it.
uint64_t load_limit_for(const ResumeLimits &limits)
{
	return limits.max_image ? kstd::min(limits.max_image, stream::kMaxLoadSize) : stream::kMaxLoadSize;
}

// What a claimed size (STOP_COPY_SIZE, an FW_DATA header) may allocate before
// its bytes arrive. STOP_COPY_SIZE exists so that the final image needs no
// allocation while the VM is stopped, but a claim is not evidence: the stream
// is untrusted, and memory for bytes nobody sent must not be taken (it is
// charged to the VMM's cgroup, and 4 GiB per open data_fd is a lot). Twice our
// own full image (state grows; a device of our model rarely sends more) with a
// floor (our idle image may be tiny next to a busy source's) keeps the
// downtime path allocation-free in the common case; a larger image grows its
// buffer as its bytes come, so a stream pays in bytes for what it gets.
uint64_t prealloc_limit_for(const StateSize &own, bool chunk_mode, const ResumeLimits &limits)
{
	const uint64_t image = chunk_mode ? own.remaining_total : own.required;
	const uint64_t twice = image > stream::kMaxLoadSize ? stream::kMaxLoadSize : 2 * image;
	return kstd::min(kstd::max(twice, limits.prealloc_floor), load_limit_for(limits));
}

// The core has no printf: the log line naming both builds is put together
// here. Each helper writes at p and returns the end; the caller sizes the
// buffer for the longest line.
char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

char *put_dec(char *p, uint32_t v)
{
	char digits[10];
	size_t n = 0;
	do {
		digits[n++] = static_cast<char>('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
}

// A build as its two 16-bit halves (mlx5: the "yy.zzzz" of xx.yy.zzzz).
char *put_build(char *p, uint32_t build)
{
	p = put_dec(p, build >> 16);
	*p++ = '.';
	return put_dec(p, build & 0xffff);
}

constexpr char kHead[] = "accepting a migration stream from firmware build ";
constexpr char kMid[] = " on firmware build ";
constexpr char kTail[] = " (accept_fw_build_mismatch is set)";

void log_build_accepted(uint32_t source, uint32_t local)
{
	char msg[sizeof(kHead) + sizeof(kMid) + sizeof(kTail) + 2 * 11];
	char *p = put_build(put_str(msg, kHead), source);
	p = put_build(put_str(p, kMid), local);
	*put_str(p, kTail) = '\0';
	mlx5vf_shim_log(MLX5VF_LOG_WARN, msg);
}

} // namespace

kstd::Result<kstd::Owned<ResumeFile>> ResumeFile::create(Firmware &fw, const stream::CompatInfo &local,
							 const ResumeLimits &limits, MigStats *stats)
{
	const bool chunk = fw.caps().chunk_mode;
	const StateSize own = TRY(fw.query_state({.incremental = false, .chunk = chunk}));
	void *mem = kstd::alloc_bytes(sizeof(ResumeFile), kstd::AllocCtx::Sleepable);
	if (!mem)
		return kstd::Err::NoMem;
	return kstd::Owned<ResumeFile>(new (kstd::PlacementTag{}, mem) ResumeFile(
		fw, local, limits.compat_policy, load_limit_for(limits),
		prealloc_limit_for(own, chunk, limits), stats));
}

ResumeFile::~ResumeFile()
{
	close();
}

void ResumeFile::close()
{
	if (image_)
		fw_.free_buffer(image_);
	image_ = nullptr;
	closed_ = true;
	stats_ = nullptr;
}

void ResumeFile::on_record(const stream::RecordHeader &header)
{
	if (stats_)
		stats_->record(false, static_cast<uint32_t>(header.tag), header.record_size);
}

kstd::Result<void> ResumeFile::ensure_buffer(uint64_t size)
{
	if (image_ && image_->capacity() >= size)
		return kstd::ok();
	if (image_)
		fw_.free_buffer(image_);
	image_ = nullptr;
	image_ = TRY(fw_.alloc_buffer(size ? size : 1, DmaDir::ToDevice, kstd::AllocCtx::Sleepable));
	return kstd::ok();
}

// The record's bytes have filled the buffer (filled == its capacity): move
// them into one twice as large (never beyond the record). Doubling keeps the
// copying linear in the image and the memory within twice what arrived; the
// old buffer is freed at once. Each buffer is the backend's segments (pages),
// never one contiguous allocation.
kstd::Result<void> ResumeFile::grow_buffer(uint64_t filled)
{
	const uint64_t cap = image_->capacity();
	const uint64_t want = cap >= image_size_ - cap ? image_size_ : 2 * cap;
	DataBuffer *bigger = TRY(fw_.alloc_buffer(want, DmaDir::ToDevice, kstd::AllocCtx::Sleepable));
	for (uint64_t off = 0; off < filled;) {
		const kstd::Bytes piece = image_->contiguous_at(off);
		const size_t n = static_cast<size_t>(kstd::min<uint64_t>(piece.size(), filled - off));
		auto r = n ? bigger->write(off, kstd::ConstBytes(piece.data(), n))
			   : kstd::Result<void>(kstd::Err::Range);
		if (r.is_error()) {
			fw_.free_buffer(bigger);
			return r;
		}
		off += n;
	}
	fw_.free_buffer(image_);
	image_ = bigger;
	if (!grew_)
		mlx5vf_shim_log(
			MLX5VF_LOG_INFO,
			"a device image outgrew the preallocated buffer: growing it as its bytes arrive");
	grew_ = true;
	return kstd::ok();
}

kstd::Result<void> ResumeFile::on_stop_copy_size(uint64_t bytes)
{
	// Preallocate during precopy; if memory is short now, begin_image tries
	// again later, so this never fails the stream. Only a hint: it buys at
	// most prealloc_limit_ (prealloc_limit_for()).
	if (ensure_buffer(kstd::min(bytes, prealloc_limit_)).is_error())
		mlx5vf_shim_log(MLX5VF_LOG_WARN, "could not preallocate the stop-copy image buffer");
	return kstd::ok();
}

kstd::Result<void> ResumeFile::on_compat(kstd::ConstBytes payload)
{
	const stream::CompatPeer peer = TRY(stream::decode_compat_payload(payload));
	if (const char *why = stream::compat_refusal(local_, peer.info, policy_)) {
		refusal_ = why; // the operator's log line says which part differs
		return kstd::Err::ProtoNotSupp;
	}
	// Accepted, so at most the build differs: the operator chose to run
	// outside what NVIDIA supports, which the log must show.
	if (peer.info.fw_identity != local_.fw_identity)
		log_build_accepted(stream::fw_identity_build(peer.info.fw_identity),
				   stream::fw_identity_build(local_.fw_identity));
	return kstd::ok();
}

kstd::Result<void> ResumeFile::begin_image(uint64_t size)
{
	if (size > load_limit_) {
		// Only an operator's limit can be below the format's, which the
		// parser enforces itself.
		refusal_ = "device image larger than the max_image_mib module parameter allows";
		return kstd::Err::Overflow;
	}
	// The header's size is a claim too: memory beyond the preallocation
	// comes as the bytes do (image_space()).
	TRY(ensure_buffer(kstd::min(size, prealloc_limit_)));
	image_size_ = size;
	return kstd::ok();
}

kstd::Result<kstd::Bytes> ResumeFile::image_space(uint64_t offset)
{
	if (!image_ || offset >= image_size_)
		return kstd::Err::Range;
	if (offset >= image_->capacity())
		TRY(grow_buffer(offset));
	kstd::Bytes space = image_->contiguous_at(offset);
	return space.first(static_cast<size_t>(kstd::min<uint64_t>(space.size(), image_size_ - offset)));
}

kstd::Result<void> ResumeFile::end_image()
{
	image_->set_length(image_size_);
	return fw_.load(*image_, static_cast<uint32_t>(image_size_));
}

kstd::Result<size_t> ResumeFile::write(UserIo &user, size_t len)
{
	if (closed_)
		return kstd::Err::NoDev;
	size_t done = 0;
	auto r = write_some(user, len, done);
	if (stats_ && done)
		stats_->add(&MigCounters::resume_bytes, done);
	if (r.is_error())
		return r.error();
	return done;
}

// Takes up to len bytes; done counts what the parser accepted, even when an
// error ends the write.
kstd::Result<void> ResumeFile::write_some(UserIo &user, size_t len, size_t &done)
{
	while (done < len) {
		const stream::InputWindow w = TRY(parser_.input_window());
		size_t n;
		if (!w.copy_to.empty()) {
			n = kstd::min(len - done, w.copy_to.size());
			TRY(user.from_user(w.copy_to.first(n)));
		} else {
			n = kstd::min(len - done, w.discard);
			TRY(user.skip(n));
		}
		TRY(parser_.commit(n));
		done += n;
	}
	return kstd::ok();
}

kstd::Result<void> ResumeFile::finish()
{
	if (closed_)
		return kstd::Err::NoDev;
	return parser_.finish();
}

} // namespace mlx5vf

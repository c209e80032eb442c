// SPDX-License-Identifier: GPL-2.0-only
#include "resume_file.h"

#include "kstd/enforce.h"

namespace mlx5vf {

namespace {

// Images from a compatible source come from the same model of device: twice
// our own full image (state grows), and never less than a few chunks.
constexpr uint64_t kLoadLimitFloor = 64ull << 20;

uint64_t twice_own_image(const StateSize &own, bool chunk_mode)
{
	const uint64_t image = chunk_mode ? own.remaining_total : own.required;
	return image > stream::kMaxLoadSize / 2 ? stream::kMaxLoadSize : 2 * image;
}

uint64_t load_limit_for(const StateSize &own, bool chunk_mode)
{
	return kstd::min(kstd::max(twice_own_image(own, chunk_mode), kLoadLimitFloor), stream::kMaxLoadSize);
}

} // namespace

kstd::Result<kstd::Owned<ResumeFile>> ResumeFile::create(Firmware &fw, const stream::CompatInfo &local,
							 MigStats *stats)
{
	const bool chunk = fw.caps().chunk_mode;
	const StateSize own = TRY(fw.query_state({.incremental = false, .chunk = chunk}));
	void *mem = kstd::alloc_bytes(sizeof(ResumeFile), kstd::AllocCtx::Sleepable);
	if (!mem)
		return kstd::Err::NoMem;
	return kstd::Owned<ResumeFile>(new (kstd::PlacementTag{}, mem) ResumeFile(
		fw, local, load_limit_for(own, chunk), twice_own_image(own, chunk), stats));
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

kstd::Result<void> ResumeFile::on_stop_copy_size(uint64_t bytes)
{
	// Preallocate during precopy; if memory is short now, begin_image tries
	// again with the exact size later, so this never fails the stream.
	// Only a hint: never more than an image of our own could need.
	if (ensure_buffer(kstd::min(bytes, prealloc_limit_)).is_error())
		mlx5vf_shim_log(MLX5VF_LOG_WARN, "could not preallocate the stop-copy image buffer");
	return kstd::ok();
}

kstd::Result<void> ResumeFile::on_compat(kstd::ConstBytes payload)
{
	return stream::check_compat(local_, payload);
}

kstd::Result<void> ResumeFile::begin_image(uint64_t size)
{
	if (size > load_limit_)
		return kstd::Err::Overflow;
	TRY(ensure_buffer(size));
	image_size_ = size;
	return kstd::ok();
}

kstd::Result<kstd::Bytes> ResumeFile::image_space(uint64_t offset)
{
	if (!image_ || offset >= image_size_)
		return kstd::Err::Range;
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

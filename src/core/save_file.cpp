// SPDX-License-Identifier: GPL-2.0-only
#include "save_file.h"

#include "kstd/bits.h"
#include "stream_writer.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

// Record slots: COMPAT and STOP_COPY_SIZE, a precopy image (a new delta is
// only saved once the queue has drained), two stop-copy chunks, and spare.
constexpr size_t kRecordSlots = 8;

// In non-chunk mode the final image must fit one buffer allocated during
// precopy; leave headroom for state that grows meanwhile.
constexpr uint64_t with_headroom(uint64_t size)
{
	const uint64_t grown = size + size / 8;
	return grown > 0xffffffffull ? 0xffffffffull : grown;
}

template <typename T> T load_acquire(const T &v)
{
	return __atomic_load_n(&v, __ATOMIC_ACQUIRE);
}

template <typename T> void store_release(T &v, T x)
{
	__atomic_store_n(&v, x, __ATOMIC_RELEASE);
}

} // namespace

SaveFile::SaveFile(const Config &cfg)
    : fw_(*cfg.fw), compat_(cfg.compat), mode_(cfg.mode), owner_(cfg.owner),
      max_chunk_size_(cfg.max_chunk_size ? cfg.max_chunk_size : kMaxChunkSize),
      phase_(cfg.mode == Mode::PreCopy ? Phase::PreCopy : Phase::StopCopy)
{
}

kstd::Result<kstd::Owned<SaveFile>> SaveFile::create(const Config &cfg)
{
	if (!cfg.fw)
		return kstd::Err::Invalid;
	auto file = TRY(kstd::make<SaveFile>(kstd::AllocCtx::Sleepable, cfg));
	TRY(file->init());
	return file;
}

kstd::Result<void> SaveFile::init()
{
	record_store_ = TRY(kstd::OwnedArray<Record>::create(kRecordSlots, kstd::AllocCtx::Sleepable));
	for (size_t i = 0; i < kRecordSlots; i++)
		free_records_.push_back(*new (kstd::PlacementTag{}, &record_store_[i]) Record());

	const FwCaps caps = fw_.caps();
	if (mode_ == Mode::PreCopy && !caps.precopy)
		return kstd::Err::OpNotSupp;

	// Size the stop-copy buffers now, while the VM still runs.
	const StateSize full = TRY(fw_.query_state({.incremental = false, .chunk = caps.chunk_mode}));
	if (caps.chunk_mode) {
		chunk_size_ =
			kstd::max<uint64_t>(full.required, kstd::min(max_chunk_size_, full.remaining_total));
		chunk_size_ = kstd::min<uint64_t>(chunk_size_, caps.max_image_size);
	} else {
		chunk_size_ = mode_ == Mode::PreCopy ? with_headroom(full.required) : full.required;
	}
	if (!chunk_size_)
		return kstd::Err::Io;
	const uint32_t chunk_buffers = caps.chunk_mode ? kChunkBuffers : 1;
	for (uint32_t i = 0; i < chunk_buffers; i++)
		chunk_bufs_[i] =
			TRY(fw_.alloc_buffer(chunk_size_, DmaDir::FromDevice, kstd::AllocCtx::Sleepable));

	TRY(queue_inline([](kstd::Bytes out, const SaveFile &f) {
		return stream::write_compat_record(out, f.compat_);
	}));
	TRY(queue_inline([](kstd::Bytes out, const SaveFile &f) {
		return stream::write_stop_copy_size_record(out, f.chunk_size_);
	}));

	if (mode_ == Mode::StopCopy) {
		initial_done_ = true;
		initial_end_ = stream_end_;
		final_kind_ = SaveKind::Full;
		auto buf = TRY(take_buffer(full.required, true));
		return submit(SaveKind::Full, false, buf);
	}
	// The initial image: everything, with tracking on so deltas can follow.
	// Until it completes, the initial bytes count its expected size.
	initial_end_ = stream_end_ + stream::kRecordHeaderSize + full.required;
	auto buf = TRY(take_buffer(full.required, false));
	TRY(submit(SaveKind::Full, true, buf));
	tracking_ = true;
	return kstd::ok();
}

SaveFile::~SaveFile()
{
	// The shim keeps the file alive while a save is in flight; the device
	// closes it (freeing firmware buffers) before that, except when the file
	// never got past create().
	if (load_acquire(inflight_) && !load_acquire(completion_ready_))
		mlx5vf_shim_bug("save file destroyed with a save in flight");
	close();
}

kstd::Result<void> SaveFile::queue_inline(kstd::Result<size_t> (*write)(kstd::Bytes, const SaveFile &))
{
	Record *rec = free_records_.pop_front();
	if (!rec)
		return kstd::Err::NoSpc;
	auto len = write(kstd::Bytes(rec->head, sizeof(rec->head)), *this);
	if (len.is_error()) {
		free_records_.push_back(*rec);
		return len.error();
	}
	rec->head_len = static_cast<uint32_t>(len.value());
	push(*rec);
	return kstd::ok();
}

void SaveFile::push(Record &rec)
{
	rec.consumed = 0;
	ready_.push_back(rec);
	stream_end_ += rec.size();
}

// A buffer of at least size bytes: a stop-copy chunk buffer, or a precopy
// spare (reused when big enough, else replaced).
kstd::Result<DataBuffer *> SaveFile::take_buffer(uint64_t size, bool stop_copy)
{
	if (stop_copy) {
		for (uint32_t i = 0; i < kChunkBuffers; i++) {
			if (!chunk_bufs_[i] || chunk_busy_[i])
				continue;
			if (chunk_bufs_[i]->capacity() < size) {
				// The final image outgrew the precopy estimate:
				// a late allocation, on the downtime path.
				fw_.free_buffer(chunk_bufs_[i]);
				chunk_bufs_[i] = nullptr;
				chunk_bufs_[i] = TRY(fw_.alloc_buffer(size, DmaDir::FromDevice,
								      kstd::AllocCtx::Sleepable));
				mlx5vf_shim_log(MLX5VF_LOG_WARN,
						"final image larger than preallocated; reallocated");
			}
			chunk_busy_[i] = true;
			return chunk_bufs_[i];
		}
		return kstd::Err::Busy;
	}
	while (DataBuffer *spare = spare_buffers_.pop_front()) {
		if (spare->capacity() >= size)
			return spare;
		fw_.free_buffer(spare);
	}
	return fw_.alloc_buffer(size ? size : 1, DmaDir::FromDevice, kstd::AllocCtx::Sleepable);
}

void SaveFile::return_buffer(DataBuffer *buf)
{
	for (uint32_t i = 0; i < kChunkBuffers; i++) {
		if (chunk_bufs_[i] == buf) {
			chunk_busy_[i] = false;
			return;
		}
	}
	spare_buffers_.push_back(*buf);
}

kstd::Result<void> SaveFile::submit(SaveKind kind, bool track, DataBuffer *buf)
{
	if (load_acquire(inflight_)) {
		return_buffer(buf);
		return kstd::Err::Busy;
	}
	Record *rec = free_records_.pop_front();
	if (!rec) {
		return_buffer(buf);
		return kstd::Err::NoSpc;
	}
	inflight_buf_ = buf;
	inflight_kind_ = kind;
	inflight_rec_ = rec;
	store_release(completion_ready_, false);
	store_release(inflight_, true);
	auto r = fw_.save({.buffer = buf, .kind = kind, .track = track}, *this);
	if (r.is_error()) {
		store_release(inflight_, false);
		inflight_buf_ = nullptr;
		inflight_rec_ = nullptr;
		free_records_.push_back(*rec);
		return_buffer(buf);
		return r.error();
	}
	return kstd::ok();
}

void SaveFile::save_done(const SaveResult &result)
{
	completion_ = result;
	store_release(completion_ready_, true);
}

bool SaveFile::save_in_flight() const
{
	return load_acquire(inflight_) && !load_acquire(completion_ready_);
}

bool SaveFile::readable() const
{
	// Lock-free: the fields below change under the file lock; a stale view
	// only costs the waiter one more wake-up.
	if (load_acquire(completion_ready_) ||
	    __atomic_load_n(&stream_end_, __ATOMIC_RELAXED) != __atomic_load_n(&read_pos_, __ATOMIC_RELAXED))
		return true;
	switch (__atomic_load_n(&phase_, __ATOMIC_RELAXED)) {
	case Phase::PreCopy:
	case Phase::PreCopyError: return !load_acquire(inflight_); // ENOMSG is an answer too
	case Phase::StopCopy: return false;
	case Phase::Complete:
	case Phase::Error:
	case Phase::Closed: return true;
	}
	return true;
}

void SaveFile::collect()
{
	if (!load_acquire(inflight_) || !load_acquire(completion_ready_))
		return;
	const SaveResult r = completion_;
	store_release(completion_ready_, false);
	store_release(inflight_, false);
	integrate(r);
}

void SaveFile::fail()
{
	if (phase_ != Phase::Closed)
		phase_ = Phase::Error;
}

void SaveFile::integrate(const SaveResult &r)
{
	DataBuffer *buf = inflight_buf_;
	Record *rec = inflight_rec_;
	inflight_buf_ = nullptr;
	inflight_rec_ = nullptr;
	saves_completed_++;

	if (phase_ == Phase::Closed || r.status != FwStatus::Ok || inflight_kind_ == SaveKind::Cleanup ||
	    r.image_size > buf->capacity()) {
		free_records_.push_back(*rec);
		return_buffer(buf);
		if (phase_ == Phase::Closed || inflight_kind_ == SaveKind::Cleanup)
			return;
		if (r.status == FwStatus::BadResourceState &&
		    (phase_ == Phase::PreCopy || phase_ == Phase::PreCopyError)) {
			// Tracking is gone; precopy carries on with nothing more to
			// offer, and the final image will be a full one.
			mlx5vf_shim_log(MLX5VF_LOG_WARN, "precopy tracking lost; final image will be full");
			phase_ = Phase::PreCopyError;
			tracking_ = false;
			if (!initial_done_) {
				initial_done_ = true;
				initial_end_ = stream_end_;
			}
			return;
		}
		mlx5vf_shim_log(MLX5VF_LOG_ERR, r.image_size > buf->capacity()
							? "firmware image overran its buffer"
							: "firmware SAVE failed");
		fail();
		return;
	}

	if (!r.image_size) {
		// Nothing changed: no record (a destination cannot load nothing).
		free_records_.push_back(*rec);
		return_buffer(buf);
	} else if (auto queued = queue_image(*rec, *buf, r.image_size); queued.is_error()) {
		fail();
		return;
	}
	if (!initial_done_) {
		initial_done_ = true;
		initial_end_ = stream_end_;
	}
	if (phase_ != Phase::StopCopy)
		return;
	next_chunk_need_ = r.next_required;
	if (!next_chunk_need_) {
		phase_ = Phase::Complete;
		return;
	}
	if (submit_next_chunk().is_error())
		fail();
}

kstd::Result<void> SaveFile::queue_image(Record &rec, DataBuffer &buf, uint32_t image_size)
{
	buf.set_length(image_size);
	auto hdr = stream::write_fw_data_header(kstd::Bytes(rec.head, sizeof(rec.head)), image_size);
	if (hdr.is_error()) {
		free_records_.push_back(rec);
		return_buffer(&buf);
		return hdr.error();
	}
	rec.head_len = static_cast<uint32_t>(hdr.value());
	rec.data = &buf;
	rec.data_len = image_size;
	push(rec);
	return kstd::ok();
}

// Submits the next chunk of the final image when a chunk buffer is free;
// otherwise the reader's draining of one will (back-pressure: two chunks).
kstd::Result<void> SaveFile::submit_next_chunk()
{
	if (!next_chunk_need_ || load_acquire(inflight_))
		return kstd::ok();
	auto buf = take_buffer(next_chunk_need_, true);
	if (buf.is_error())
		return buf.error() == kstd::Err::Busy ? kstd::ok() : kstd::Result<void>(buf.error());
	next_chunk_need_ = 0;
	return submit(final_kind_, false, buf.value());
}

kstd::Result<size_t> SaveFile::read(UserIo &user, size_t len)
{
	collect();
	if (phase_ == Phase::Error || phase_ == Phase::Closed)
		return kstd::Err::NoDev;

	size_t copied = 0;
	while (copied < len) {
		Record *rec = ready_.front();
		if (!rec)
			break;
		const uint64_t n = kstd::min<uint64_t>(len - copied, rec->size() - rec->consumed);
		uint64_t done = 0;
		if (rec->consumed < rec->head_len) {
			const uint64_t h = kstd::min<uint64_t>(n, rec->head_len - rec->consumed);
			auto r = user.to_user(kstd::ConstBytes(rec->head + rec->consumed, h));
			if (r.is_error())
				return copied ? kstd::Result<size_t>(copied)
					      : kstd::Result<size_t>(r.error());
			done = h;
		}
		if (done < n) {
			const uint64_t off = rec->consumed + done - rec->head_len;
			auto r = rec->data->copy_to_user(off, n - done, user);
			if (r.is_error()) {
				// Bytes of a partly copied piece are not counted: the
				// reader gets them again.
				rec->consumed += done;
				read_pos_ += done;
				copied += done;
				return copied ? kstd::Result<size_t>(copied)
					      : kstd::Result<size_t>(r.error());
			}
		}
		rec->consumed += n;
		read_pos_ += n;
		copied += n;
		if (rec->consumed < rec->size())
			break;
		ready_.remove(*rec);
		if (rec->data)
			return_buffer(rec->data);
		rec->data = nullptr;
		rec->data_len = 0;
		free_records_.push_back(*rec);
		if (submit_next_chunk().is_error()) {
			fail();
			break;
		}
	}
	if (copied)
		return copied;
	switch (phase_) {
	case Phase::PreCopy:
	case Phase::PreCopyError: return load_acquire(inflight_) ? kstd::Err::Again : kstd::Err::NoMsg;
	case Phase::StopCopy: return kstd::Err::Again;
	case Phase::Complete: return size_t{0};
	case Phase::Error:
	case Phase::Closed: break;
	}
	return kstd::Err::NoDev;
}

kstd::Result<PrecopyInfo> SaveFile::precopy_info(bool device_running)
{
	collect();
	if (phase_ == Phase::Error || phase_ == Phase::Closed)
		return kstd::Err::NoDev;
	if (phase_ != Phase::PreCopy && phase_ != Phase::PreCopyError)
		return kstd::Err::Invalid;

	PrecopyInfo info;
	if (read_pos_ < initial_end_) {
		info.initial_bytes = initial_end_ - read_pos_;
		return info;
	}
	// Ask the device only while it runs, tracks and is not busy saving.
	if (device_running && phase_ == Phase::PreCopy && !load_acquire(inflight_)) {
		auto est = fw_.query_state({.incremental = true, .chunk = false});
		if (est.is_error()) {
			fail();
			return est.error();
		}
		last_estimate_ = est.value().required;
	}
	if (phase_ == Phase::PreCopyError)
		last_estimate_ = 0;
	info.dirty_bytes = (stream_end_ - read_pos_) + last_estimate_;

	if (device_running && phase_ == Phase::PreCopy && stream_end_ == read_pos_ && last_estimate_ &&
	    !load_acquire(inflight_)) {
		auto buf = TRY(take_buffer(last_estimate_, false));
		auto r = submit(SaveKind::Incremental, true, buf);
		if (r.is_error()) {
			fail();
			return r.error();
		}
	}
	return info;
}

kstd::Result<void> SaveFile::start_final_save()
{
	collect();
	if (phase_ == Phase::Error || phase_ == Phase::Closed)
		return kstd::Err::NoDev;
	if (phase_ != Phase::PreCopy && phase_ != Phase::PreCopyError)
		return kstd::Err::Invalid;
	if (load_acquire(inflight_))
		return kstd::Err::Busy;

	final_kind_ = tracking_ ? SaveKind::Incremental : SaveKind::Full;
	const FwCaps caps = fw_.caps();
	auto size = fw_.query_state({.incremental = tracking_, .chunk = caps.chunk_mode});
	if (size.is_error()) {
		fail();
		return size.error();
	}
	phase_ = Phase::StopCopy;
	auto buf = take_buffer(size.value().required, true);
	if (buf.is_error()) {
		fail();
		return buf.error();
	}
	auto r = submit(final_kind_, false, buf.value());
	if (r.is_error())
		fail();
	return r;
}

kstd::Result<void> SaveFile::start_cleanup_save()
{
	collect();
	if (phase_ != Phase::PreCopy || !tracking_)
		return kstd::ok(); // nothing is tracked any more
	if (load_acquire(inflight_))
		return kstd::Err::Busy;
	auto size = TRY(fw_.query_state({.cleanup = true}));
	auto buf = TRY(take_buffer(size.required, false));
	tracking_ = false;
	return submit(SaveKind::Cleanup, false, buf);
}

void SaveFile::close()
{
	collect();
	if (load_acquire(inflight_))
		mlx5vf_shim_bug("save file closed with a save in flight");
	phase_ = Phase::Closed;
	while (Record *rec = ready_.pop_front()) {
		if (rec->data)
			return_buffer(rec->data);
		rec->data = nullptr;
		free_records_.push_back(*rec);
	}
	while (DataBuffer *spare = spare_buffers_.pop_front())
		fw_.free_buffer(spare);
	for (uint32_t i = 0; i < kChunkBuffers; i++) {
		if (chunk_bufs_[i])
			fw_.free_buffer(chunk_bufs_[i]);
		chunk_bufs_[i] = nullptr;
		chunk_busy_[i] = false;
	}
	stream_end_ = read_pos_;
	next_chunk_need_ = 0;
}

} // namespace mlx5vf

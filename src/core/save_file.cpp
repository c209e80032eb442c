// SPDX-License-Identifier: GPL-2.0-only
#include "save_file.h"

#include "kstd/atomic.h"
#include "kstd/bits.h"
#include "stream_writer.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

// Record slots: COMPAT, STOP_COPY_SIZE, one per buffer, and spare.
constexpr size_t kRecordSlots = 8;

// Without chunk mode one buffer holds every image; leave headroom for state
// that grows while precopy runs.
constexpr uint64_t with_headroom(uint64_t size)
{
	const uint64_t grown = size + size / 8;
	return grown > 0xffffffffull ? 0xffffffffull : grown;
}

// Bytes an image of this estimate adds to the stream: its payload and one
// FW_DATA header per chunk.
uint64_t stream_bytes_of(const StateSize &est, bool chunk_mode)
{
	const uint64_t total = chunk_mode ? est.remaining_total : est.required;
	if (!total || !est.required)
		return total;
	const uint64_t chunks = (total + est.required - 1) / est.required;
	return total + chunks * stream::kRecordHeaderSize;
}

using kstd::load_acquire;
using kstd::load_relaxed;
using kstd::store_release;

} // namespace

SaveFile::SaveFile(const Config &cfg)
    : fw_(*cfg.fw), compat_(cfg.compat), mode_(cfg.mode), owner_(cfg.owner),
      max_chunk_size_(cfg.max_chunk_size ? cfg.max_chunk_size : kMaxChunkSize),
      phase_(cfg.mode == Mode::PreCopy ? Phase::PreCopy : Phase::StopCopy), stats_(cfg.stats)
{
	if (stats_ && mode_ == Mode::StopCopy)
		stop_copy_start_ = stats_->now();
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

	// Size every buffer now, while the VM still runs: nothing on the
	// downtime path allocates unless the final image outgrows them.
	const StateSize full = TRY(fw_.query_state({.incremental = false, .chunk = caps.chunk_mode}));
	uint64_t buf_size;
	uint32_t nbufs;
	if (caps.chunk_mode) {
		buf_size =
			kstd::max<uint64_t>(full.required, kstd::min(max_chunk_size_, full.remaining_total));
		buf_size = kstd::min<uint64_t>(buf_size, caps.max_image_size);
		nbufs = kChunkBuffers;
	} else {
		buf_size = mode_ == Mode::PreCopy ? with_headroom(full.required) : full.required;
		nbufs = 1;
	}
	if (!buf_size || !full.required)
		return kstd::Err::Io;
	for (uint32_t i = 0; i < nbufs; i++)
		bufs_[i] = TRY(fw_.alloc_buffer(buf_size, DmaDir::FromDevice, kstd::AllocCtx::Sleepable));

	TRY(queue_inline([](kstd::Bytes out, const SaveFile &f) {
		return stream::write_compat_record(out, f.compat_);
	}));
	TRY(queue_inline([](kstd::Bytes out, const SaveFile &f) {
		// The destination preallocates one image buffer of this size.
		return stream::write_stop_copy_size_record(out, f.bufs_[0]->capacity());
	}));

	if (mode_ == Mode::StopCopy) {
		initial_done_ = true;
		initial_end_ = stream_end_;
		start_image(SaveKind::Full, false, true, full.required);
		return pump_saves();
	}
	// The initial image: everything, with tracking on so deltas can follow.
	// Until it has been saved, the initial bytes count its expected size.
	initial_end_ = stream_end_ + stream_bytes_of(full, caps.chunk_mode);
	start_image(SaveKind::Full, true, false, full.required);
	image_.initial = true;
	TRY(pump_saves());
	tracking_ = true;
	return kstd::ok();
}

SaveFile::~SaveFile()
{
	// The shim keeps the file alive while a save is in flight; closing
	// first is the device's job, except when create() failed half-way.
	if (save_in_flight()) {
		// Firmware may still write into our buffers: leak them rather
		// than free memory under a DMA.
		mlx5vf_shim_warn("save file destroyed with a save in flight");
		return;
	}
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
	if (stats_) {
		auto h = stream::decode_record_header(kstd::ConstBytes(rec.head, rec.head_len));
		if (h.is_ok())
			stats_->record(true, static_cast<uint32_t>(h.value().tag), h.value().record_size);
		if (rec.data)
			stats_->add(&MigCounters::save_chunks, 1);
	}
	rec.consumed = 0;
	ready_.push_back(rec);
	stream_end_ += rec.size();
}

// A free buffer of at least size bytes; Err::Busy while every buffer holds
// unread data.
kstd::Result<DataBuffer *> SaveFile::take_buffer(uint64_t size)
{
	for (uint32_t i = 0; i < kChunkBuffers; i++) {
		if (!bufs_[i] || buf_busy_[i])
			continue;
		if (bufs_[i]->capacity() < size) {
			// The image outgrew what create() measured: a late
			// allocation, possibly on the downtime path, but correct.
			mlx5vf_shim_log(MLX5VF_LOG_WARN,
					"device image larger than preallocated; reallocating");
			fw_.free_buffer(bufs_[i]);
			bufs_[i] = nullptr;
			bufs_[i] = TRY(fw_.alloc_buffer(size, DmaDir::FromDevice, kstd::AllocCtx::Sleepable));
		}
		buf_busy_[i] = true;
		return bufs_[i];
	}
	return kstd::Err::Busy;
}

void SaveFile::return_buffer(DataBuffer *buf)
{
	for (uint32_t i = 0; i < kChunkBuffers; i++)
		if (bufs_[i] == buf)
			buf_busy_[i] = false;
}

// The device may still write buf (a forced completion): never use it again.
// The backend gets it back at once and keeps it from the allocator.
void SaveFile::retire_buffer(DataBuffer *buf)
{
	for (uint32_t i = 0; i < kChunkBuffers; i++) {
		if (bufs_[i] == buf) {
			bufs_[i] = nullptr;
			buf_busy_[i] = false;
		}
	}
	fw_.free_buffer(buf);
}

void SaveFile::start_image(SaveKind kind, bool track, bool final, uint32_t first_need)
{
	image_ = Image{.active = true,
		       .initial = false,
		       .final = final,
		       .kind = kind,
		       .track = track,
		       .need = first_need ? first_need : 1,
		       .next_size = first_need};
}

// The initial bytes are an estimate until the initial image is queued whole,
// then exact. A function that runs on between the QUERY and its SAVE can make
// the image outgrow the estimate: until its last chunk is queued, it still
// counts at least what is queued plus the next chunk the firmware announced.
// (PRECOPY_INFO reporting 0 too early would let QEMU acknowledge switchover.)
uint64_t SaveFile::initial_left() const
{
	uint64_t end = initial_end_;
	if (!initial_done_ && image_.active && image_.initial)
		end = kstd::max(end, stream_end_ + stream::kRecordHeaderSize + image_.next_size);
	return end > read_pos_ ? end - read_pos_ : 0;
}

// Submits whatever SAVE is due: the next chunk of the current image when a
// buffer is free, else the final image once the current one has ended.
kstd::Result<void> SaveFile::pump_saves()
{
	if (load_acquire(inflight_) || abandoned_ || phase_ == Phase::Error || phase_ == Phase::Closed)
		return kstd::ok();
	if (!image_.active && final_requested_) {
		final_requested_ = false;
		const SaveKind kind = tracking_ ? SaveKind::Incremental : SaveKind::Full;
		const StateSize size =
			TRY(fw_.query_state({.incremental = tracking_, .chunk = fw_.caps().chunk_mode}));
		start_image(kind, false, true, size.required);
	}
	if (!image_.active || !image_.need)
		return kstd::ok();
	return submit(image_.need);
}

kstd::Result<void> SaveFile::submit(uint32_t need)
{
	auto taken = take_buffer(need);
	if (taken.is_error())
		return taken.error() == kstd::Err::Busy ? kstd::ok() : kstd::Result<void>(taken.error());
	DataBuffer *buf = taken.value();
	Record *rec = free_records_.pop_front();
	if (!rec) {
		return_buffer(buf);
		return kstd::Err::NoSpc;
	}
	inflight_buf_ = buf;
	inflight_rec_ = rec;
	image_.need = 0;
	store_release(completion_ready_, false);
	store_release(inflight_, true);
	// Chunks after an image's first continue it: incremental, untracked,
	// whatever the first was (firmware-contract.rst, "Chunks"). Asking for
	// the image's own kind again would start a new image.
	const SaveRequest req =
		image_.continuing
			? SaveRequest{.buffer = buf,
				      .kind = SaveKind::Incremental,
				      .track = false,
				      .owner = owner_}
			: SaveRequest{
				  .buffer = buf, .kind = image_.kind, .track = image_.track, .owner = owner_};
	auto r = fw_.save(req, *this);
	if (r.is_error()) {
		store_release(inflight_, false);
		inflight_buf_ = nullptr;
		inflight_rec_ = nullptr;
		free_records_.push_back(*rec);
		return_buffer(buf);
		return r.error();
	}
	// The final image is untracked: once its first SAVE is in, the firmware
	// tracks no more (firmware-contract.rst, rule 15), so nothing needs a
	// cleanup from here on.
	if (image_.final && !req.track)
		tracking_ = false;
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
	if (load_acquire(completion_ready_) || load_relaxed(stream_end_) != load_relaxed(read_pos_))
		return true;
	switch (load_relaxed(phase_)) {
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
	image_.active = false;
	final_requested_ = false;
}

void SaveFile::integrate(const SaveResult &r)
{
	DataBuffer *buf = inflight_buf_;
	Record *rec = inflight_rec_;
	inflight_buf_ = nullptr;
	inflight_rec_ = nullptr;
	saves_completed_++;

	if (r.status == FwStatus::TimedOut) {
		free_records_.push_back(*rec);
		retire_buffer(buf);
		mlx5vf_shim_log(MLX5VF_LOG_ERR, "firmware SAVE timed out; its buffer is left to the device");
		image_.active = false;
		fail();
		return;
	}

	const bool usable = r.status == FwStatus::Ok && r.image_size <= buf->capacity() &&
			    image_.kind != SaveKind::Cleanup && phase_ != Phase::Closed;
	if (!usable || !r.image_size) {
		free_records_.push_back(*rec);
		return_buffer(buf);
	}
	if (phase_ == Phase::Closed || image_.kind == SaveKind::Cleanup) {
		image_.active = false;
		return;
	}
	if (r.status == FwStatus::BadResourceState && !image_.final && phase_ != Phase::StopCopy) {
		// Tracking is gone: precopy goes on with nothing more to offer,
		// and the final image will be a full one.
		mlx5vf_shim_log(MLX5VF_LOG_WARN, "precopy tracking lost; the final image will be full");
		phase_ = Phase::PreCopyError;
		tracking_ = false;
		image_.active = false;
		if (!initial_done_) {
			initial_done_ = true;
			initial_end_ = stream_end_;
		}
		return;
	}
	if (!usable) {
		mlx5vf_shim_log(MLX5VF_LOG_ERR, r.status == FwStatus::Ok ? "firmware image overran its buffer"
									 : "firmware SAVE failed");
		fail();
		return;
	}
	if (r.image_size && queue_image(*rec, *buf, r.image_size).is_error()) {
		fail();
		return;
	}
	if (r.next_required) {
		image_.need = r.next_required; // the image continues
		image_.next_size = r.next_required;
		image_.continuing = true;
	} else {
		image_.active = false;
		if (image_.initial && !initial_done_) {
			initial_done_ = true;
			initial_end_ = stream_end_;
		}
		if (image_.final)
			phase_ = Phase::Complete;
	}
	if (pump_saves().is_error())
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

kstd::Result<size_t> SaveFile::read(UserIo &user, size_t len)
{
	auto r = read_records(user, len);
	if (r.is_ok() && r.value())
		count_read(r.value());
	return r;
}

// Bytes by the phase they were read in; the stream's end as soon as its
// last byte is read.
void SaveFile::count_read(size_t n)
{
	if (!stats_)
		return;
	const bool stop = phase_ == Phase::StopCopy || phase_ == Phase::Complete;
	stats_->add(stop ? &MigCounters::stop_copy_bytes : &MigCounters::precopy_bytes, n);
	if (phase_ == Phase::Complete && read_pos_ == stream_end_ && !end_counted_) {
		end_counted_ = true;
		const uint64_t now = stats_->now();
		stats_->set_stop_copy_to_end(now > stop_copy_start_ ? now - stop_copy_start_ : 0);
	}
}

kstd::Result<size_t> SaveFile::read_records(UserIo &user, size_t len)
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
				// A partly copied piece is not counted: the reader
				// gets those bytes again.
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
		// A buffer came free: the next chunk can go.
		if (pump_saves().is_error()) {
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

kstd::Result<PrecopyInfo> SaveFile::precopy_info(bool device_running, bool v2)
{
	collect();
	if (phase_ == Phase::Error || phase_ == Phase::Closed)
		return kstd::Err::NoDev;
	if (phase_ != Phase::PreCopy && phase_ != Phase::PreCopyError)
		return kstd::Err::Invalid;

	const FwCaps caps = fw_.caps();
	// Ask the device only while it runs and tracks, between images.
	const bool idle = !load_acquire(inflight_) && !image_.active;
	const bool may_query = device_running && phase_ == Phase::PreCopy && idle;
	// With v2 new initial state may arrive at any time, so the device is
	// asked even while initial bytes remain; v1 answers those unasked.
	const bool watch_reinit = v2 && caps.migration_state && may_query;

	PrecopyInfo info;
	info.initial_bytes = initial_left();
	if (info.initial_bytes && !watch_reinit)
		return info;
	StateSize est;
	if (may_query) {
		auto q = fw_.query_state({.incremental = true, .chunk = caps.chunk_mode});
		if (q.is_error()) {
			fail();
			return q.error();
		}
		est = q.value();
		if (watch_reinit && est.state == VhcaMigState::Init)
			return start_reinit(est);
		last_estimate_ = caps.chunk_mode ? est.remaining_total : est.required;
	}
	if (info.initial_bytes)
		return info;
	if (phase_ == Phase::PreCopyError)
		last_estimate_ = 0;
	info.dirty_bytes = (stream_end_ - read_pos_) + last_estimate_;

	// The reader has drained everything: save the next delta now.
	if (may_query && stream_end_ == read_pos_ && last_estimate_) {
		if (stats_)
			stats_->add(&MigCounters::precopy_rounds, 1);
		start_image(SaveKind::Incremental, true, false, est.required);
		auto r = pump_saves();
		if (r.is_error()) {
			fail();
			return r.error();
		}
	}
	return info;
}

// The firmware has new initial state (VhcaMigState::Init). As the in-tree
// driver does: every byte already queued becomes initial (the reader must
// pass it to reach the new state), the tracked incremental SAVE that
// captures the new state starts now (it waits for a free buffer if the queue
// holds them all), and its bytes are initial too. Its size is an estimate
// until the image completes, then exact (integrate()).
kstd::Result<PrecopyInfo> SaveFile::start_reinit(const StateSize &est)
{
	const uint64_t image = stream_bytes_of(est, fw_.caps().chunk_mode);
	last_estimate_ = 0; // dirty bytes restart after the new initial bytes
	initial_end_ = stream_end_ + image;
	if (image) {
		if (stats_)
			stats_->add(&MigCounters::precopy_rounds, 1);
		initial_done_ = false;
		start_image(SaveKind::Incremental, true, false, est.required);
		image_.initial = true;
		auto r = pump_saves();
		if (r.is_error()) {
			fail();
			return r.error();
		}
	}
	PrecopyInfo info;
	info.flags = kPrecopyReinit;
	info.initial_bytes = initial_left();
	return info;
}

kstd::Result<void> SaveFile::start_final_save()
{
	collect();
	if (phase_ == Phase::Error || phase_ == Phase::Closed)
		return kstd::Err::NoDev;
	if (phase_ != Phase::PreCopy && phase_ != Phase::PreCopyError)
		return kstd::Err::Invalid;
	// The final image follows whatever image is still being saved, once
	// the reader frees a buffer if need be.
	phase_ = Phase::StopCopy;
	final_requested_ = true;
	if (stats_)
		stop_copy_start_ = stats_->now();
	auto r = pump_saves();
	if (r.is_error())
		fail();
	return r;
}

kstd::Result<void> SaveFile::start_cleanup_save()
{
	// No new chunk may start once the stream is abandoned, not even from
	// the completion integrated just below.
	abandoned_ = true;
	collect();
	if (phase_ == Phase::Closed || !needs_fw_cleanup())
		return kstd::ok();
	if (load_acquire(inflight_))
		return kstd::Err::Busy;
	// The stream is abandoned: unread data goes, and the cleanup replaces
	// any image still in progress. It runs even on a failed file: that is
	// when the firmware is most likely to hold leftovers.
	drop_queue();
	const StateSize size = TRY(fw_.query_state({.chunk = fw_.caps().chunk_mode, .cleanup = true}));
	tracking_ = false;
	final_requested_ = false;
	start_image(SaveKind::Cleanup, false, false, size.required);
	auto buf = take_buffer(image_.need);
	if (buf.is_error())
		return buf.error();
	return_buffer(buf.value());
	return submit(image_.need);
}

void SaveFile::drop_queue()
{
	while (Record *rec = ready_.pop_front()) {
		if (rec->data)
			return_buffer(rec->data);
		rec->data = nullptr;
		rec->data_len = 0;
		free_records_.push_back(*rec);
	}
	read_pos_ = stream_end_;
}

void SaveFile::quiesce()
{
	abandoned_ = true;
	collect();
}

void SaveFile::close()
{
	stats_ = nullptr; // the device's counters may go before this object
	quiesce();
	if (load_acquire(inflight_)) {
		// The device may still write the buffers: leave them to it for
		// good (never freed, not even by a later close()).
		mlx5vf_shim_warn("save file closed with a save in flight");
		phase_ = Phase::Closed;
		for (DataBuffer *&buf : bufs_)
			buf = nullptr;
		return;
	}
	phase_ = Phase::Closed;
	image_.active = false;
	final_requested_ = false;
	drop_queue();
	for (uint32_t i = 0; i < kChunkBuffers; i++) {
		if (bufs_[i])
			fw_.free_buffer(bufs_[i]);
		bufs_[i] = nullptr;
		buf_busy_[i] = false;
	}
}

} // namespace mlx5vf

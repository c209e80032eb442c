// SPDX-License-Identifier: GPL-2.0-only
#include "shim_firmware.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

static_assert(static_cast<int>(MLX5VF_FW_DIR_FROM_DEVICE) != static_cast<int>(MLX5VF_FW_DIR_TO_DEVICE));

constexpr mlx5vf_fw_dir to_c(DmaDir dir)
{
	return dir == DmaDir::FromDevice ? MLX5VF_FW_DIR_FROM_DEVICE : MLX5VF_FW_DIR_TO_DEVICE;
}

constexpr DmaDir dir_of(unsigned int dir)
{
	return dir == MLX5VF_FW_DIR_FROM_DEVICE ? DmaDir::FromDevice : DmaDir::ToDevice;
}

constexpr mlx5vf_fw_save_kind to_c(SaveKind kind)
{
	switch (kind) {
	case SaveKind::Full: return MLX5VF_FW_SAVE_FULL;
	case SaveKind::Incremental: return MLX5VF_FW_SAVE_INCREMENTAL;
	case SaveKind::Cleanup: return MLX5VF_FW_SAVE_CLEANUP;
	}
	return MLX5VF_FW_SAVE_FULL;
}

// Anything the backend reports that is not one of ours is a failure.
constexpr FwStatus status_of(unsigned int status)
{
	switch (status) {
	case MLX5VF_FW_STATUS_OK: return FwStatus::Ok;
	case MLX5VF_FW_STATUS_BAD_RESOURCE_STATE: return FwStatus::BadResourceState;
	case MLX5VF_FW_STATUS_FAILED: return FwStatus::Failed;
	case MLX5VF_FW_STATUS_DETACHED: return FwStatus::Detached;
	case MLX5VF_FW_STATUS_TIMED_OUT: return FwStatus::TimedOut;
	}
	return FwStatus::Failed;
}

static_assert(status_of(MLX5VF_FW_STATUS_OK) == FwStatus::Ok);
static_assert(status_of(77) == FwStatus::Failed);

constexpr int kMaxErrno = 4095;

// 0 or -errno from C; anything else is a backend bug, reported as an I/O error.
kstd::Result<void> from_rc(int rc)
{
	if (!rc)
		return kstd::ok();
	if (rc < 0 && rc >= -kMaxErrno)
		return static_cast<kstd::Err>(-rc);
	return kstd::Err::Io;
}

bool plausible(const mlx5vf_fw_buffer &d, uint64_t size, DmaDir dir)
{
	if (!d.segments || !d.segment_size || !d.segment_count || d.capacity < size ||
	    d.dir != static_cast<unsigned int>(to_c(dir)))
		return false;
	const uint64_t seg = d.segment_size;
	// Every segment is needed and together they cover the capacity.
	if (static_cast<uint64_t>(d.segment_count) * seg < d.capacity ||
	    static_cast<uint64_t>(d.segment_count - 1) * seg >= d.capacity)
		return false;
	for (uint32_t i = 0; i < d.segment_count; i++)
		if (!d.segments[i])
			return false;
	return true;
}

} // namespace

class ShimFirmware::Buffer final : public DataBuffer {
public:
	Buffer(mlx5vf_fw_buffer *desc, ShimFirmware *fw)
	    : DataBuffer(dir_of(desc->dir), desc->capacity, desc->segments, desc->segment_count,
			 desc->segment_size, desc->fw_key, fw),
	      desc_(desc)
	{
	}
	mlx5vf_fw_buffer *desc() const { return desc_; }

private:
	mlx5vf_fw_buffer *const desc_;
};

kstd::Result<kstd::Owned<ShimFirmware>> ShimFirmware::create(const mlx5vf_fw_ops *ops, void *ctx)
{
	if (!ops || !ops->caps || !ops->query_state || !ops->suspend || !ops->resume || !ops->save ||
	    !ops->load || !ops->alloc_buffer || !ops->free_buffer || !ops->function_reset)
		return kstd::Err::Invalid;
	// Tracking is optional, but all of it or none.
	const int track_ops =
		!!ops->track_caps + !!ops->track_start + !!ops->track_stop + !!ops->track_report;
	if (track_ops != 0 && track_ops != 4)
		return kstd::Err::Invalid;
	auto fw = TRY(kstd::make<ShimFirmware>(kstd::AllocCtx::Sleepable, *ops, ctx));
	fw->slot_.fw = fw.get();
	return fw;
}

ShimFirmware::~ShimFirmware()
{
	// The backend would complete into freed memory, or keep DMA buffers
	// nobody can free any more: both are the owner's bugs.
	if (save_in_flight())
		mlx5vf_shim_warn("firmware adapter destroyed with a save in flight");
	if (live_buffers_)
		mlx5vf_shim_warn("firmware adapter destroyed with buffers outstanding");
}

FwCaps ShimFirmware::caps() const
{
	mlx5vf_fw_caps c = {};
	ops_.caps(ctx_, &c);
	FwCaps caps;
	caps.precopy = c.precopy;
	caps.chunk_mode = c.chunk_mode;
	caps.migration_state = c.migration_state;
	caps.max_image_size = c.max_image_size;
	return caps;
}

kstd::Result<StateSize> ShimFirmware::query_state(const QueryFlags &flags)
{
	unsigned int f = 0;
	if (flags.incremental)
		f |= MLX5VF_FW_QUERY_INCREMENTAL;
	if (flags.chunk)
		f |= MLX5VF_FW_QUERY_CHUNK;
	if (flags.cleanup)
		f |= MLX5VF_FW_QUERY_CLEANUP;
	mlx5vf_fw_state_size s = {};
	TRY(from_rc(ops_.query_state(ctx_, f, &s)));
	StateSize size;
	size.required = s.required;
	size.remaining_total = flags.chunk ? s.remaining_total : s.required;
	// A value outside the enumerators (a newer firmware's) carries no meaning we know.
	if (s.migration_state <= MLX5VF_FW_MIG_STATE_INIT)
		size.state = static_cast<VhcaMigState>(s.migration_state);
	return size;
}

static_assert(static_cast<unsigned>(VhcaMigState::Idle) == MLX5VF_FW_MIG_STATE_IDLE &&
		      static_cast<unsigned>(VhcaMigState::Ready) == MLX5VF_FW_MIG_STATE_READY &&
		      static_cast<unsigned>(VhcaMigState::Dirty) == MLX5VF_FW_MIG_STATE_DIRTY &&
		      static_cast<unsigned>(VhcaMigState::Init) == MLX5VF_FW_MIG_STATE_INIT,
	      "VhcaMigState mirrors enum mlx5vf_fw_mig_state");

kstd::Result<void> ShimFirmware::suspend(VhcaSide side)
{
	return from_rc(ops_.suspend(ctx_, suspend_op_mod(side)));
}

kstd::Result<void> ShimFirmware::resume(VhcaSide side)
{
	return from_rc(ops_.resume(ctx_, resume_op_mod(side)));
}

ShimFirmware::Buffer *ShimFirmware::ours(DataBuffer &buf) const
{
	if (buf.backend() != this)
		return nullptr;
	return static_cast<Buffer *>(&buf);
}

kstd::Result<void> ShimFirmware::save(const SaveRequest &req, SaveCompletion &done)
{
	Buffer *buf = req.buffer ? ours(*req.buffer) : nullptr;
	if (!buf)
		return kstd::Err::Invalid;
	if (save_in_flight())
		return kstd::Err::Busy;
	mlx5vf_fw_save_req creq = {};
	creq.buffer = buf->desc();
	creq.kind = to_c(req.kind);
	creq.track = req.track;
	creq.owner = req.owner;
	// Armed before submission: the completion may run before save() returns.
	slot_.done = &done;
	slot_.buffer = buf;
	__atomic_store_n(&slot_.busy, true, __ATOMIC_RELEASE);
	auto *token = reinterpret_cast<mlx5vf_fw_save_done *>(&slot_);
	auto r = from_rc(ops_.save(ctx_, &creq, token));
	if (r.is_error())
		__atomic_store_n(&slot_.busy, false, __ATOMIC_RELEASE);
	return r;
}

void ShimFirmware::complete(mlx5vf_fw_save_done *token, const mlx5vf_fw_save_result &result)
{
	auto *slot = reinterpret_cast<SaveSlot *>(token);
	if (!slot || !slot->fw) {
		mlx5vf_shim_warn("firmware completion without a token");
		return;
	}
	SaveCompletion *done = slot->done;
	// Free the slot first: the receiver may submit the next save at once.
	if (!__atomic_exchange_n(&slot->busy, false, __ATOMIC_ACQ_REL) || !done) {
		mlx5vf_shim_warn("firmware completion without a save in flight");
		return;
	}
	SaveResult r;
	r.status = status_of(result.status);
	r.image_size = result.image_size;
	r.next_required = result.next_required;
	r.syndrome = result.syndrome;
	if (r.status != FwStatus::Ok) {
		r.image_size = 0;
		r.next_required = 0;
	}
	done->save_done(r);
}

kstd::Result<void> ShimFirmware::load(DataBuffer &buf, uint32_t size)
{
	Buffer *b = ours(buf);
	if (!b || size > b->capacity())
		return kstd::Err::Invalid;
	return from_rc(ops_.load(ctx_, b->desc(), size));
}

kstd::Result<DataBuffer *> ShimFirmware::alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx)
{
	if (!size)
		return kstd::Err::Invalid;
	// The wrapper first: a failure then never has to free a mapped buffer.
	void *mem = kstd::alloc_bytes(sizeof(Buffer), ctx);
	if (!mem)
		return kstd::Err::NoMem;
	mlx5vf_fw_buffer *desc = nullptr;
	auto r = from_rc(ops_.alloc_buffer(ctx_, size, to_c(dir), static_cast<mlx5vf_alloc_ctx>(ctx), &desc));
	if (r.is_ok() && !desc)
		r = kstd::Err::Io;
	if (r.is_error()) {
		mlx5vf_shim_free(mem);
		return r.error();
	}
	if (!plausible(*desc, size, dir)) {
		mlx5vf_shim_warn("firmware backend returned a buffer that does not match the request");
		// Freeing may sleep: an atomic caller leaks it instead.
		if (ctx == kstd::AllocCtx::Sleepable)
			ops_.free_buffer(ctx_, desc);
		mlx5vf_shim_free(mem);
		return kstd::Err::Io;
	}
	live_buffers_++;
	return static_cast<DataBuffer *>(new (kstd::PlacementTag{}, mem) Buffer(desc, this));
}

void ShimFirmware::free_buffer(DataBuffer *buf)
{
	if (!buf)
		return;
	Buffer *b = ours(*buf);
	if (!b) {
		mlx5vf_shim_warn("freeing a buffer of another firmware backend");
		return;
	}
	// Core bugs: report and leak rather than free memory still in use.
	const char *bug = buf->linked()				  ? "freeing a buffer still on a list"
			  : save_in_flight() && slot_.buffer == b ? "freeing a buffer a save is writing into"
								  : nullptr;
	if (bug) {
		mlx5vf_shim_warn(bug);
		return;
	}
	ops_.free_buffer(ctx_, b->desc());
	b->~Buffer();
	mlx5vf_shim_free(b);
	live_buffers_--;
}

void ShimFirmware::function_reset()
{
	ops_.function_reset(ctx_);
}

TrackCaps ShimFirmware::track_caps() const
{
	TrackCaps caps;
	if (!ops_.track_caps)
		return caps; // max_ranges 0: no tracker
	mlx5vf_fw_track_caps c = {};
	ops_.track_caps(ctx_, &c);
	// Values a sane device reports; anything else means no tracker.
	if (c.log_min_page_size < 12 || c.log_min_page_size > c.log_max_page_size ||
	    c.log_max_page_size > 63 || c.log_min_addr_space > c.log_max_addr_space ||
	    c.log_max_addr_space > 64)
		return caps;
	caps.max_ranges = c.max_ranges;
	caps.log_min_page_size = static_cast<uint8_t>(c.log_min_page_size);
	caps.log_max_page_size = static_cast<uint8_t>(c.log_max_page_size);
	caps.log_min_addr_space = static_cast<uint8_t>(c.log_min_addr_space);
	caps.log_max_addr_space = static_cast<uint8_t>(c.log_max_addr_space);
	return caps;
}

kstd::Result<void> ShimFirmware::track_start(const TrackRequest &req)
{
	if (!ops_.track_start)
		return kstd::Err::OpNotSupp;
	static_assert(sizeof(IovaRange) == sizeof(mlx5vf_iova_range) &&
		      __builtin_offsetof(IovaRange, length) == __builtin_offsetof(mlx5vf_iova_range, length));
	mlx5vf_fw_track_req c = {};
	c.ranges = reinterpret_cast<const mlx5vf_iova_range *>(req.ranges.data());
	c.nr_ranges = static_cast<unsigned int>(req.ranges.size());
	c.log_page_size = req.log_page_size;
	c.log_addr_space = req.log_addr_space;
	return from_rc(ops_.track_start(ctx_, &c));
}

void ShimFirmware::track_stop()
{
	if (ops_.track_stop)
		ops_.track_stop(ctx_);
}

kstd::Result<void> ShimFirmware::track_report(uint64_t iova, uint64_t length, DirtySink &sink)
{
	if (!ops_.track_report)
		return kstd::Err::OpNotSupp;
	return from_rc(
		ops_.track_report(ctx_, iova, length, reinterpret_cast<mlx5vf_fw_dirty_sink *>(&sink)));
}

} // namespace mlx5vf

extern "C" void mlx5vf_core_fw_save_done(mlx5vf_fw_save_done *done, const mlx5vf_fw_save_result *result)
{
	mlx5vf_fw_save_result failed = {};
	if (!result) {
		// Still complete: the receiver must not wait forever.
		mlx5vf_shim_warn("firmware completion without a result");
		failed.status = MLX5VF_FW_STATUS_FAILED;
		result = &failed;
	}
	mlx5vf::ShimFirmware::complete(done, *result);
}

extern "C" void mlx5vf_core_fw_report_dirty(mlx5vf_fw_dirty_sink *sink, unsigned long long page_iova)
{
	reinterpret_cast<mlx5vf::DirtySink *>(sink)->dirty_page(page_iova);
}

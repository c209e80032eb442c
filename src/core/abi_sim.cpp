// SPDX-License-Identifier: GPL-2.0-only
// include/mlx5vf/sim.h: the simulated VHCA as a C handle, and behind the
// firmware seam's ops table (include/mlx5vf/fw.h). Through that table the
// simulated VF reaches the core by the same adapter (ShimFirmware) as the
// mlx5 backend, so the product's path is the one the simulation exercises.
// Linked into the simulator module and the tests, never into mlx5vf.ko.
#include <mlx5vf/sim.h>

#include "shim_firmware.h"
#include "sim_vhca.h"

#include "kstd/enforce.h"

using namespace mlx5vf;

namespace {

class CScheduler final : public CompletionScheduler {
public:
	void (*fn)(void *ctx, uint64_t delay_ns) = nullptr;
	void *ctx = nullptr;
	void request_completion(uint64_t delay_ns) override { fn(ctx, delay_ns); }
};

// Hands the simulated VHCA's completion to the core through the seam.
class CSaveDone final : public SaveCompletion {
public:
	mlx5vf_fw_save_done *token = nullptr;
	void save_done(const SaveResult &r) override
	{
		mlx5vf_fw_save_result c = {};
		c.status = r.status == FwStatus::Ok		    ? MLX5VF_FW_STATUS_OK
			   : r.status == FwStatus::BadResourceState ? MLX5VF_FW_STATUS_BAD_RESOURCE_STATE
			   : r.status == FwStatus::Detached	    ? MLX5VF_FW_STATUS_DETACHED
			   : r.status == FwStatus::TimedOut	    ? MLX5VF_FW_STATUS_TIMED_OUT
								    : MLX5VF_FW_STATUS_FAILED;
		c.image_size = r.image_size;
		c.next_required = r.next_required;
		c.syndrome = r.syndrome;
		mlx5vf_fw_save_done *t = token;
		token = nullptr;
		mlx5vf_core_fw_save_done(t, &c);
	}
};

class CDirtySink final : public DirtySink {
public:
	explicit CDirtySink(mlx5vf_fw_dirty_sink *sink) : sink_(sink) {}
	void dirty_page(uint64_t page_iova) override { mlx5vf_core_fw_report_dirty(sink_, page_iova); }

private:
	mlx5vf_fw_dirty_sink *sink_;
};

// A simulated buffer as the seam describes it; desc first, so the seam's
// pointer is the wrapper's.
struct SimFwBuffer {
	mlx5vf_fw_buffer desc;
	DataBuffer *buf;
};

int to_rc(const kstd::Result<void> &r)
{
	return r.is_ok() ? 0 : kstd::to_errno(r.error());
}

} // namespace

struct mlx5vf_sim {
	CScheduler scheduler;
	CSaveDone save_done; // at most one save in flight (the seam's contract)
	uint64_t saved_checksum = 0;
	uint64_t loaded_checksum = 0;
	kstd::Owned<SimVhca> sim;
};

extern "C" int mlx5vf_core_sim_create(const mlx5vf_sim_config *cfg, mlx5vf_sim **out)
{
	if (!cfg->request_completion)
		return -MLX5VF_EINVAL;
	auto handle = kstd::make<mlx5vf_sim>(kstd::AllocCtx::Sleepable);
	if (handle.is_error())
		return kstd::to_errno(handle.error());
	mlx5vf_sim &h = *handle.value();
	h.scheduler.fn = cfg->request_completion;
	h.scheduler.ctx = cfg->sched_ctx;
	SimConfig sc;
	sc.state_size = cfg->state_size;
	sc.identity = cfg->identity;
	sc.seed = cfg->seed;
	sc.latency_ns = cfg->latency_ns;
	sc.bandwidth_bytes_per_ms = cfg->bandwidth_bytes_per_ms;
	if (cfg->track_page_size)
		sc.track_page_size = cfg->track_page_size;
	if (cfg->max_chunk)
		sc.max_chunk = cfg->max_chunk;
	if (cfg->segment_size)
		sc.segment_size = cfg->segment_size;
	if (cfg->track_max_ranges)
		sc.track_caps.max_ranges = cfg->track_max_ranges;
	if (cfg->no_page_tracker)
		sc.track_caps.max_ranges = 0; // what the caps of such a VHCA say
	sc.configured_size = cfg->configured_size;
	sc.chunk_mode = cfg->chunk_mode;
	sc.migration_state = cfg->migration_state;
	sc.scheduler = &h.scheduler;
	auto sim = SimVhca::create(sc, kstd::AllocCtx::Sleepable);
	if (sim.is_error())
		return kstd::to_errno(sim.error());
	h.sim = sim.release_value();
	*out = handle.value().release();
	return 0;
}

extern "C" void mlx5vf_core_sim_destroy(mlx5vf_sim *sim)
{
	kstd::Owned<mlx5vf_sim> owned(sim);
}

extern "C" void mlx5vf_core_sim_deliver(mlx5vf_sim *sim)
{
	sim->sim->deliver_completion();
}

extern "C" bool mlx5vf_core_sim_completion_pending(const mlx5vf_sim *sim)
{
	return sim->sim->completion_pending();
}

extern "C" uint32_t mlx5vf_core_sim_run_activity(mlx5vf_sim *sim, uint32_t writes)
{
	return sim->sim->run_activity(writes);
}

extern "C" uint64_t mlx5vf_core_sim_checksum(const mlx5vf_sim *sim)
{
	return sim->sim->state_checksum();
}

extern "C" int mlx5vf_core_sim_inject_fault(mlx5vf_sim *sim, enum mlx5vf_sim_op op, uint32_t nth,
					    enum mlx5vf_sim_fault fault)
{
	if (static_cast<unsigned>(op) >= kSimOpCount ||
	    static_cast<unsigned>(fault) > MLX5VF_SIM_FAULT_FORCED_TIMEOUT)
		return -MLX5VF_EINVAL;
	return to_rc(sim->sim->inject_fault(static_cast<SimOp>(op), nth, static_cast<SimFault>(fault)));
}

extern "C" int mlx5vf_core_sim_reconfigure(mlx5vf_sim *sim, uint64_t pages, uint64_t *added)
{
	auto r = sim->sim->reconfigure(pages);
	if (r.is_error())
		return kstd::to_errno(r.error());
	*added = r.value();
	return 0;
}
extern "C" int mlx5vf_core_sim_next_dma(mlx5vf_sim *sim, uint64_t window, uint64_t window_len, void *buf,
					uint32_t len, uint64_t *iova)
{
	auto r = sim->sim->next_dma(window, window_len, kstd::Bytes(static_cast<uint8_t *>(buf), len));
	if (r.is_error())
		return kstd::to_errno(r.error());
	*iova = r.value();
	return 0;
}

extern "C" void mlx5vf_core_sim_dma_written(mlx5vf_sim *sim, uint64_t iova, uint64_t len)
{
	sim->sim->dma_written(iova, len);
}

extern "C" void mlx5vf_core_sim_dma_stats(const mlx5vf_sim *sim, mlx5vf_sim_dma_stats *st)
{
	const SimVhca &s = *sim->sim;
	st->dma_writes = s.dma_writes();
	st->pages_marked = s.tracker().pages_marked();
	st->dirty_pages = s.tracker().dirty_pages();
	st->untracked_writes = s.tracker().untracked_writes();
}

extern "C" uint64_t mlx5vf_core_sim_saved_checksum(const mlx5vf_sim *sim)
{
	return sim->saved_checksum;
}

extern "C" uint64_t mlx5vf_core_sim_loaded_checksum(const mlx5vf_sim *sim)
{
	return sim->loaded_checksum;
}

static_assert(static_cast<unsigned>(SimOp::TrackStart) == MLX5VF_SIM_TRACK_START &&
	      static_cast<unsigned>(SimOp::TrackReport) == MLX5VF_SIM_TRACK_REPORT &&
	      kSimOpCount == MLX5VF_SIM_TRACK_REPORT + 1);
static_assert(static_cast<unsigned>(SimFault::LoseDirty) == MLX5VF_SIM_FAULT_LOSE_DIRTY &&
	      static_cast<unsigned>(SimFault::ForcedTimeout) == MLX5VF_SIM_FAULT_FORCED_TIMEOUT);

namespace {

mlx5vf_sim *sim_of(void *ctx)
{
	return static_cast<mlx5vf_sim *>(ctx);
}

void sim_fw_caps(void *ctx, mlx5vf_fw_caps *c)
{
	const FwCaps caps = sim_of(ctx)->sim->caps();
	c->precopy = caps.precopy;
	c->chunk_mode = caps.chunk_mode;
	c->max_image_size = caps.max_image_size;
	c->migration_state = caps.migration_state;
}

int sim_fw_query_state(void *ctx, unsigned int flags, mlx5vf_fw_state_size *size)
{
	QueryFlags f;
	f.incremental = flags & MLX5VF_FW_QUERY_INCREMENTAL;
	f.chunk = flags & MLX5VF_FW_QUERY_CHUNK;
	f.cleanup = flags & MLX5VF_FW_QUERY_CLEANUP;
	auto r = sim_of(ctx)->sim->query_state(f);
	if (r.is_error())
		return kstd::to_errno(r.error());
	size->required = r.value().required;
	size->remaining_total = r.value().remaining_total;
	size->migration_state = static_cast<unsigned int>(r.value().state);
	return 0;
}

int sim_fw_suspend(void *ctx, enum mlx5vf_fw_suspend_op_mod op_mod)
{
	mlx5vf_sim *s = sim_of(ctx);
	const VhcaSide side =
		op_mod == MLX5VF_FW_SUSPEND_INITIATOR ? VhcaSide::Initiator : VhcaSide::Responder;
	const int rc = to_rc(s->sim->suspend(side));
	if (!rc && side == VhcaSide::Responder)
		s->saved_checksum = s->sim->state_checksum();
	return rc;
}

int sim_fw_resume(void *ctx, enum mlx5vf_fw_resume_op_mod op_mod)
{
	const VhcaSide side =
		op_mod == MLX5VF_FW_RESUME_INITIATOR ? VhcaSide::Initiator : VhcaSide::Responder;
	return to_rc(sim_of(ctx)->sim->resume(side));
}

int sim_fw_save(void *ctx, const mlx5vf_fw_save_req *req, mlx5vf_fw_save_done *done)
{
	mlx5vf_sim *s = sim_of(ctx);
	if (!req->buffer || s->save_done.token)
		return -MLX5VF_EBUSY;
	SaveRequest r;
	r.buffer = reinterpret_cast<SimFwBuffer *>(req->buffer)->buf;
	r.kind = req->kind == MLX5VF_FW_SAVE_INCREMENTAL ? SaveKind::Incremental
		 : req->kind == MLX5VF_FW_SAVE_CLEANUP	 ? SaveKind::Cleanup
							 : SaveKind::Full;
	r.track = req->track;
	s->save_done.token = done;
	const int rc = to_rc(s->sim->save(r, s->save_done));
	if (rc)
		s->save_done.token = nullptr;
	return rc;
}

int sim_fw_load(void *ctx, mlx5vf_fw_buffer *buf, unsigned int size)
{
	mlx5vf_sim *s = sim_of(ctx);
	const int rc = to_rc(s->sim->load(*reinterpret_cast<SimFwBuffer *>(buf)->buf, size));
	if (!rc)
		s->loaded_checksum = s->sim->state_checksum();
	return rc;
}

int sim_fw_alloc_buffer(void *ctx, unsigned long long size, enum mlx5vf_fw_dir dir,
			enum mlx5vf_alloc_ctx actx, mlx5vf_fw_buffer **out)
{
	const auto ctx_kind = static_cast<kstd::AllocCtx>(actx);
	auto wrapper = kstd::make<SimFwBuffer>(ctx_kind);
	if (wrapper.is_error())
		return kstd::to_errno(wrapper.error());
	auto buf = sim_of(ctx)->sim->alloc_buffer(
		size, dir == MLX5VF_FW_DIR_FROM_DEVICE ? DmaDir::FromDevice : DmaDir::ToDevice, ctx_kind);
	if (buf.is_error())
		return kstd::to_errno(buf.error());
	SimFwBuffer &w = *wrapper.value();
	DataBuffer *b = buf.value();
	w.buf = b;
	w.desc.segments = b->segments();
	w.desc.segment_count = b->segment_count();
	w.desc.segment_size = b->segment_size();
	w.desc.capacity = b->capacity();
	w.desc.fw_key = b->fw_key();
	w.desc.dir = dir;
	*out = &wrapper.value().release()->desc;
	return 0;
}

void sim_fw_free_buffer(void *ctx, mlx5vf_fw_buffer *desc)
{
	if (!desc)
		return;
	kstd::Owned<SimFwBuffer> w(reinterpret_cast<SimFwBuffer *>(desc));
	sim_of(ctx)->sim->free_buffer(w->buf);
}

void sim_fw_function_reset(void *ctx)
{
	sim_of(ctx)->sim->function_reset();
}

void sim_fw_track_caps(void *ctx, mlx5vf_fw_track_caps *c)
{
	const TrackCaps caps = sim_of(ctx)->sim->track_caps();
	c->max_ranges = caps.max_ranges;
	c->log_min_page_size = caps.log_min_page_size;
	c->log_max_page_size = caps.log_max_page_size;
	c->log_min_addr_space = caps.log_min_addr_space;
	c->log_max_addr_space = caps.log_max_addr_space;
	c->log_min_msg_size = 0;
	c->log_max_msg_size = 0;
}

int sim_fw_track_start(void *ctx, const mlx5vf_fw_track_req *req)
{
	TrackRequest r;
	r.ranges =
		kstd::Span<const IovaRange>(reinterpret_cast<const IovaRange *>(req->ranges), req->nr_ranges);
	r.log_page_size = static_cast<uint8_t>(req->log_page_size);
	r.log_addr_space = static_cast<uint8_t>(req->log_addr_space);
	return to_rc(sim_of(ctx)->sim->track_start(r));
}

void sim_fw_track_stop(void *ctx)
{
	sim_of(ctx)->sim->track_stop();
}

int sim_fw_track_report(void *ctx, unsigned long long iova, unsigned long long length,
			mlx5vf_fw_dirty_sink *sink)
{
	CDirtySink out(sink);
	return to_rc(sim_of(ctx)->sim->track_report(iova, length, out));
}

} // namespace

extern "C" const mlx5vf_fw_ops mlx5vf_sim_fw_ops = {
	.caps = sim_fw_caps,
	.query_state = sim_fw_query_state,
	.suspend = sim_fw_suspend,
	.resume = sim_fw_resume,
	.save = sim_fw_save,
	.load = sim_fw_load,
	.alloc_buffer = sim_fw_alloc_buffer,
	.free_buffer = sim_fw_free_buffer,
	.function_reset = sim_fw_function_reset,
	.track_caps = sim_fw_track_caps,
	.track_start = sim_fw_track_start,
	.track_stop = sim_fw_track_stop,
	.track_report = sim_fw_track_report,
};

// SPDX-License-Identifier: GPL-2.0-only
// include/mlx5vf/sim_wire.h: the simulated VHCA behind the emulated ConnectX
// PF. The emulator decodes each mailbox; this file gives its bits their
// meaning for the SimVhca (the one place that reads a SAVE's incremental and
// set_track as a kind) and lets the SimVhca's DMA reach the mkey's pages.
// Linked into the test builds that carry the emulator, never into mlx5vf.ko.
#include <mlx5vf/sim_wire.h>

#include "sim_vhca.h"

using namespace mlx5vf;

static_assert(MLX5VF_SIM_WIRE_IMAGE_HEADER == kSimHeaderSize);

namespace {

// The emulator answers a SAVE when it decides (mlx5vf_core_sim_wire_save_done()):
// the delay the SimVhca asks for is the emulator's to model, not ours.
class NoScheduler final : public CompletionScheduler {
public:
	void request_completion(uint64_t) override {}
};

class ResultTaker final : public SaveCompletion {
public:
	void save_done(const SaveResult &r) override
	{
		result = r;
		delivered = true;
	}
	SaveResult result;
	bool delivered = false;
};

int to_rc(const kstd::Result<void> &r)
{
	return r.is_ok() ? 0 : kstd::to_errno(r.error());
}

// The mkey's pages as a DataBuffer of the SimVhca's, so that its checks on
// buffers hold: for one LOAD, or for a SAVE until its completion.
class WireBuffer final : public DataBuffer {
public:
	WireBuffer(SimVhca *sim, DmaDir dir, const mlx5vf_sim_wire_buffer &b)
	    : DataBuffer(dir, b.size, b.pages, b.page_count, b.page_size, 0, sim)
	{
	}
};

} // namespace

// Members go in reverse order: the SimVhca first, while the completion and
// the buffer it may still point at are alive.
struct mlx5vf_sim_wire {
	NoScheduler scheduler;
	ResultTaker taker;		     // the SAVE in flight's completion
	kstd::Owned<WireBuffer> save_buffer; // the SAVE in flight's pages, until save_done
	kstd::Owned<SimVhca> sim;
};

namespace {

bool buffer_ok(const mlx5vf_sim_wire_buffer *b)
{
	return b && b->pages && b->page_size && b->size && uint64_t{b->page_count} * b->page_size >= b->size;
}

} // namespace

extern "C" int mlx5vf_core_sim_wire_create(const mlx5vf_sim_wire_config *cfg, mlx5vf_sim_wire **out)
{
	auto handle = kstd::make<mlx5vf_sim_wire>(kstd::AllocCtx::Sleepable);
	if (handle.is_error())
		return kstd::to_errno(handle.error());
	SimConfig sc;
	sc.state_size = cfg->state_size;
	sc.seed = cfg->seed;
	sc.identity = cfg->identity;
	sc.chunk_mode = cfg->chunk_mode;
	if (cfg->chunk_mode)
		sc.max_chunk = cfg->max_chunk;
	// The emulator's own PAGE_TRACK object tracks guest memory; this VHCA
	// reports no migration_state (the emulated PF's caps do not offer it).
	sc.track_caps.max_ranges = 0;
	sc.migration_state = false;
	sc.scheduler = &handle.value()->scheduler;
	auto sim = SimVhca::create(sc, kstd::AllocCtx::Sleepable);
	if (sim.is_error())
		return kstd::to_errno(sim.error());
	handle.value()->sim = sim.release_value();
	*out = handle.value().release();
	return 0;
}

extern "C" void mlx5vf_core_sim_wire_destroy(mlx5vf_sim_wire *w)
{
	kstd::Owned<mlx5vf_sim_wire> owned(w);
	if (w && w->sim)
		w->sim->deliver_completion(); // a SAVE never answered: its image is void
}

// On the wire one bit asks for both an incremental and a cleanup size: the
// firmware answers with the tracked changes either way.
extern "C" int mlx5vf_core_sim_wire_query(mlx5vf_sim_wire *w, bool incremental, bool chunk,
					  uint32_t *required, uint64_t *remaining_total)
{
	QueryFlags f;
	f.incremental = incremental;
	f.chunk = chunk;
	auto r = w->sim->query_state(f);
	if (r.is_error())
		return kstd::to_errno(r.error());
	*required = r.value().required;
	*remaining_total = r.value().remaining_total;
	return 0;
}

extern "C" int mlx5vf_core_sim_wire_suspend(mlx5vf_sim_wire *w, bool responder)
{
	return to_rc(w->sim->suspend(responder ? VhcaSide::Responder : VhcaSide::Initiator));
}

extern "C" int mlx5vf_core_sim_wire_resume(mlx5vf_sim_wire *w, bool responder)
{
	return to_rc(w->sim->resume(responder ? VhcaSide::Responder : VhcaSide::Initiator));
}

extern "C" int mlx5vf_core_sim_wire_save(mlx5vf_sim_wire *w, bool incremental, bool set_track,
					 const mlx5vf_sim_wire_buffer *buf,
					 mlx5vf_sim_wire_save_kind_of *kind)
{
	SimVhca &sim = *w->sim;
	if (!buffer_ok(buf))
		return -MLX5VF_EINVAL;
	if (sim.completion_pending())
		return -MLX5VF_EBUSY; // rule 4, before the buffer is even looked at
	auto target =
		kstd::make<WireBuffer>(kstd::AllocCtx::Sleepable, w->sim.get(), DmaDir::FromDevice, *buf);
	if (target.is_error())
		return kstd::to_errno(target.error());
	SaveRequest req;
	req.buffer = target.value().get();
	req.track = set_track;
	const bool open = sim.image_in_progress();
	*kind = mlx5vf_sim_wire_save_kind_of{};
	if (incremental) {
		req.kind = SaveKind::Incremental;
		kind->kind = open && !set_track ? MLX5VF_SIM_WIRE_SAVE_CONTINUATION
						: MLX5VF_SIM_WIRE_SAVE_INCREMENTAL;
	} else if (!set_track && sim.tracking()) {
		req.kind = SaveKind::Cleanup;
		kind->kind = MLX5VF_SIM_WIRE_SAVE_CLEANUP;
	} else {
		req.kind = SaveKind::Full;
		kind->kind = MLX5VF_SIM_WIRE_SAVE_FULL;
		kind->restarted = open;
	}
	w->taker.delivered = false;
	const int rc = to_rc(sim.save(req, w->taker));
	if (!rc)
		w->save_buffer = target.release_value();
	return rc;
}

extern "C" int mlx5vf_core_sim_wire_save_done(mlx5vf_sim_wire *w, mlx5vf_sim_wire_save_result *res)
{
	if (!w->sim->completion_pending())
		return -MLX5VF_EINVAL;
	w->sim->deliver_completion();
	w->save_buffer = kstd::Owned<WireBuffer>();
	*res = mlx5vf_sim_wire_save_result{};
	// No fault is armed here: only a function reset fails a SAVE in flight.
	if (!w->taker.delivered || w->taker.result.status != FwStatus::Ok)
		return -MLX5VF_EIO;
	res->image_size = w->taker.result.image_size;
	res->next_required = w->taker.result.next_required;
	return 0;
}

extern "C" bool mlx5vf_core_sim_wire_save_pending(const mlx5vf_sim_wire *w)
{
	return w->sim->completion_pending();
}

extern "C" int mlx5vf_core_sim_wire_load(mlx5vf_sim_wire *w, const mlx5vf_sim_wire_buffer *buf,
					 const char **why)
{
	*why = "";
	if (!buffer_ok(buf))
		return -MLX5VF_EINVAL;
	WireBuffer source(w->sim.get(), DmaDir::ToDevice, *buf);
	const int rc = to_rc(w->sim->load(source, buf->size));
	if (rc)
		*why = sim_load_error_name(w->sim->last_load_error());
	return rc;
}

extern "C" void mlx5vf_core_sim_wire_lose_tracking(mlx5vf_sim_wire *w)
{
	w->sim->lose_tracking();
}

extern "C" void mlx5vf_core_sim_wire_function_reset(mlx5vf_sim_wire *w)
{
	w->sim->function_reset();
}

extern "C" uint32_t mlx5vf_core_sim_wire_run_activity(mlx5vf_sim_wire *w, uint32_t writes)
{
	return w->sim->run_activity(writes);
}

extern "C" int mlx5vf_core_sim_wire_write(mlx5vf_sim_wire *w, uint64_t offset, uint64_t len, uint8_t value)
{
	return to_rc(w->sim->write_state(offset, len, value));
}

extern "C" void mlx5vf_core_sim_wire_state(const mlx5vf_sim_wire *w, mlx5vf_sim_wire_state *st)
{
	const SimVhca &sim = *w->sim;
	st->initiator_suspended = sim.initiator_suspended();
	st->responder_suspended = sim.responder_suspended();
	st->tracking = sim.tracking();
	st->image_open = sim.image_in_progress();
	st->checksum = sim.state_checksum();
}

// SPDX-License-Identifier: GPL-2.0-only
// FirmwareGate: the device's single door to its firmware. When the PF goes
// away (SR-IOV disable, mlx5_core unbind) the shim closes the gate and every
// command fails with Err::NotConn from then on, without touching the backend;
// buffers can still be given back. Opening it again (PF re-attached) is the
// shim's call after the VF is usable again.
//
// Every command that passes the gate is timed and reported to MigStats
// (counters, the observer's fw_cmd event), so both backends are covered.
#pragma once

#include <mlx5vf/fw.h>

#include "firmware.h"
#include "mig_stats.h"

namespace mlx5vf {

class FirmwareGate final : public Firmware, private SaveCompletion {
public:
	FirmwareGate(Firmware &inner, MigStats &stats) : inner_(inner), stats_(stats) {}

	// Guarded by the device's state lock; read without it by save paths that
	// only need a hint (a racing detach fails the command in the backend).
	void detach() { __atomic_store_n(&detached_, true, __ATOMIC_RELEASE); }
	void attach() { __atomic_store_n(&detached_, false, __ATOMIC_RELEASE); }
	bool detached() const { return __atomic_load_n(&detached_, __ATOMIC_ACQUIRE); }

	FwCaps caps() const override { return inner_.caps(); }
	kstd::Result<StateSize> query_state(const QueryFlags &flags) override
	{
		if (detached())
			return kstd::Err::NotConn;
		const uint64_t t = stats_.now();
		auto r = inner_.query_state(flags);
		stats_.fw_cmd_done(FwCmdKind::Query, query_code(flags),
				   r.is_ok() ? r.value().remaining_total : 0, t, r);
		return r;
	}
	kstd::Result<void> suspend(VhcaSide side) override
	{
		if (detached())
			return kstd::Err::NotConn;
		const uint64_t t = stats_.now();
		auto r = inner_.suspend(side);
		stats_.fw_cmd_done(FwCmdKind::Suspend, side_code(side), 0, t, r);
		return r;
	}
	kstd::Result<void> resume(VhcaSide side) override
	{
		if (detached())
			return kstd::Err::NotConn;
		const uint64_t t = stats_.now();
		auto r = inner_.resume(side);
		stats_.fw_cmd_done(FwCmdKind::Resume, side_code(side), 0, t, r);
		return r;
	}
	kstd::Result<void> save(const SaveRequest &req, SaveCompletion &done) override
	{
		if (detached())
			return kstd::Err::NotConn;
		// One save in flight per device: the gate relays its completion.
		save_kind_ = static_cast<uint32_t>(req.kind);
		save_start_ = stats_.now();
		save_done_ = &done;
		auto r = inner_.save(req, *this);
		if (r.is_error())
			stats_.fw_cmd_done(FwCmdKind::Save, save_kind_, 0, save_start_, r);
		return r;
	}
	kstd::Result<void> load(DataBuffer &buf, uint32_t size) override
	{
		if (detached())
			return kstd::Err::NotConn;
		const uint64_t t = stats_.now();
		auto r = inner_.load(buf, size);
		stats_.fw_cmd_done(FwCmdKind::Load, 0, size, t, r);
		return r;
	}
	kstd::Result<DataBuffer *> alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx) override
	{
		if (detached())
			return kstd::Err::NotConn;
		return inner_.alloc_buffer(size, dir, ctx);
	}
	void free_buffer(DataBuffer *buf) override { inner_.free_buffer(buf); }
	void function_reset() override { inner_.function_reset(); }
	TrackCaps track_caps() const override { return inner_.track_caps(); }
	kstd::Result<void> track_start(const TrackRequest &req) override
	{
		if (detached())
			return kstd::Err::NotConn;
		const uint64_t t = stats_.now();
		auto r = inner_.track_start(req);
		stats_.fw_cmd_done(FwCmdKind::TrackStart, req.log_page_size, 0, t, r);
		return r;
	}
	// Releasing is always allowed: the backend knows what is left to free.
	void track_stop() override { inner_.track_stop(); }
	kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) override
	{
		if (detached())
			return kstd::Err::NotConn;
		const uint64_t t = stats_.now();
		auto r = inner_.track_report(iova, length, sink);
		stats_.fw_cmd_done(FwCmdKind::TrackReport, 0, length, t, r);
		return r;
	}

private:
	// op_mod as the observer shows it: SUSPEND's numbering for both (0:
	// initiator, 1: responder).
	static uint32_t side_code(VhcaSide side) { return side == VhcaSide::Responder ? 1u : 0u; }
	// A query's flags as fw.h numbers them (MLX5VF_FW_QUERY_*).
	static uint32_t query_code(const QueryFlags &f)
	{
		uint32_t code = 0;
		if (f.incremental)
			code |= static_cast<uint32_t>(MLX5VF_FW_QUERY_INCREMENTAL);
		if (f.chunk)
			code |= static_cast<uint32_t>(MLX5VF_FW_QUERY_CHUNK);
		if (f.cleanup)
			code |= static_cast<uint32_t>(MLX5VF_FW_QUERY_CLEANUP);
		return code;
	}

	// The backend's completion (maybe atomic): count, report, pass on.
	void save_done(const SaveResult &result) override
	{
		SaveCompletion *done = save_done_;
		const int err = result.status == FwStatus::Ok	      ? 0
				: result.status == FwStatus::Detached ? -MLX5VF_ENOTCONN
								      : -MLX5VF_EIO;
		stats_.fw_cmd_done(FwCmdKind::Save, save_kind_, result.image_size, save_start_, err,
				   static_cast<uint32_t>(result.status), result.syndrome);
		done->save_done(result);
	}

	Firmware &inner_;
	MigStats &stats_;
	bool detached_ = false;
	// The save in flight (set before submitting it, read by its completion).
	SaveCompletion *save_done_ = nullptr;
	uint64_t save_start_ = 0;
	uint32_t save_kind_ = 0;
};

} // namespace mlx5vf

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

	// Out of line, in fw_gate.cpp: inline virtual overrides would be emitted
	// as COMDAT copies, which GCC 12's patchable function entries cannot
	// survive when the linker drops a duplicate.
	FwCaps caps() const override;
	kstd::Result<StateSize> query_state(const QueryFlags &flags) override;
	kstd::Result<void> suspend(VhcaSide side) override;
	kstd::Result<void> resume(VhcaSide side) override;
	kstd::Result<void> save(const SaveRequest &req, SaveCompletion &done) override;
	kstd::Result<void> load(DataBuffer &buf, uint32_t size) override;
	kstd::Result<DataBuffer *> alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx) override;
	void free_buffer(DataBuffer *buf) override;
	void function_reset() override;
	TrackCaps track_caps() const override;
	kstd::Result<void> track_start(const TrackRequest &req) override;
	// Releasing is always allowed: the backend knows what is left to free.
	void track_stop() override;
	kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) override;

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
	void save_done(const SaveResult &result) override;

	Firmware &inner_;
	MigStats &stats_;
	bool detached_ = false;
	// The save in flight (set before submitting it, read by its completion).
	SaveCompletion *save_done_ = nullptr;
	uint64_t save_start_ = 0;
	uint32_t save_kind_ = 0;
};

} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
// ShimFirmware: the core's Firmware interface over a C ops table that a
// backend in the shim implements (include/mlx5vf/fw.h; the mlx5 backend is
// src/shim/mlx5_fw.c). It converts, checks and forwards; the decisions stay
// in the core above it, the command building in the shim below it.
//
// What it adds over a plain translation:
//  - DataBuffer wrappers around the backend's buffer descriptors, allocated
//    in the AllocCtx the core names, checked against what was asked for;
//  - the single save in flight is tracked in a slot the backend's completion
//    goes through (mlx5vf_core_fw_save_done): a second save while one is in
//    flight is refused (Err::Busy), a completion without a save is reported
//    and dropped. The completion path only publishes (atomic context safe:
//    no lock, no allocation, no sleep);
//  - SUSPEND/RESUME sides become their op_mod numbers here, pinned below.
//
// Concurrency: as firmware.h. Every method but the completion runs under the
// device's state lock; the completion may race with those only through the
// slot's atomics.
#pragma once

#include <mlx5vf/fw.h>

#include "firmware.h"

namespace mlx5vf {

// The asymmetric op_mod numbering of SUSPEND_VHCA and RESUME_VHCA, by side.
constexpr mlx5vf_fw_suspend_op_mod suspend_op_mod(VhcaSide side)
{
	return side == VhcaSide::Initiator ? MLX5VF_FW_SUSPEND_INITIATOR : MLX5VF_FW_SUSPEND_RESPONDER;
}

constexpr mlx5vf_fw_resume_op_mod resume_op_mod(VhcaSide side)
{
	return side == VhcaSide::Initiator ? MLX5VF_FW_RESUME_INITIATOR : MLX5VF_FW_RESUME_RESPONDER;
}

static_assert(suspend_op_mod(VhcaSide::Initiator) == 0 && suspend_op_mod(VhcaSide::Responder) == 1,
	      "SUSPEND_VHCA: initiator 0, responder 1 (mlx5_ifc.h)");
static_assert(resume_op_mod(VhcaSide::Initiator) == 1 && resume_op_mod(VhcaSide::Responder) == 0,
	      "RESUME_VHCA: responder 0, initiator 1 (mlx5_ifc.h)");

class ShimFirmware final : public Firmware {
public:
	// Every op must be set (Err::Invalid otherwise). ops and ctx outlive the
	// adapter. Process context.
	static kstd::Result<kstd::Owned<ShimFirmware>> create(const mlx5vf_fw_ops *ops, void *ctx);

	// The owner frees every buffer and lets the last save complete first.
	~ShimFirmware();
	ShimFirmware(const ShimFirmware &) = delete;
	ShimFirmware &operator=(const ShimFirmware &) = delete;

	FwCaps caps() const override;
	kstd::Result<StateSize> query_state(const QueryFlags &flags) override;
	kstd::Result<void> suspend(VhcaSide side) override;
	kstd::Result<void> resume(VhcaSide side) override;
	kstd::Result<void> save(const SaveRequest &req, SaveCompletion &done) override;
	kstd::Result<void> load(DataBuffer &buf, uint32_t size) override;
	kstd::Result<DataBuffer *> alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx) override;
	// A buffer another backend made is reported and leaked, never freed.
	void free_buffer(DataBuffer *buf) override;
	void function_reset() override;
	// Forwarded when the backend has the track ops (else max_ranges 0).
	TrackCaps track_caps() const override;
	kstd::Result<void> track_start(const TrackRequest &req) override;
	void track_stop() override;
	kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) override;

	// The backend's completion (any context): publish it to the waiting
	// SaveCompletion. A token with no save in flight is reported and dropped.
	static void complete(mlx5vf_fw_save_done *token, const mlx5vf_fw_save_result &result);

	bool save_in_flight() const { return __atomic_load_n(&slot_.busy, __ATOMIC_ACQUIRE); }
	uint32_t live_buffers() const { return live_buffers_; }

private:
	KSTD_FACTORY_ACCESS;
	ShimFirmware(const mlx5vf_fw_ops &ops, void *ctx) : ops_(ops), ctx_(ctx) {}

	class Buffer;
	Buffer *ours(DataBuffer &buf) const;

	// The one save in flight. Its address is the token the backend gets.
	struct SaveSlot {
		ShimFirmware *fw = nullptr;
		SaveCompletion *done = nullptr;
		Buffer *buffer = nullptr; // the buffer firmware writes into
		bool busy = false;	  // atomic: set at submit, cleared by complete()
	};

	const mlx5vf_fw_ops ops_;
	void *const ctx_;
	SaveSlot slot_;
	uint32_t live_buffers_ = 0;
};

} // namespace mlx5vf

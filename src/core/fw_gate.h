// SPDX-License-Identifier: GPL-2.0-only
// FirmwareGate: the device's single door to its firmware. When the PF goes
// away (SR-IOV disable, mlx5_core unbind) the shim closes the gate and every
// command fails with Err::NotConn from then on, without touching the backend;
// buffers can still be given back. Opening it again (PF re-attached) is the
// shim's call after the VF is usable again.
#pragma once

#include "firmware.h"

namespace mlx5vf {

class FirmwareGate final : public Firmware {
public:
	explicit FirmwareGate(Firmware &inner) : inner_(inner) {}

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
		return inner_.query_state(flags);
	}
	kstd::Result<void> suspend(VhcaSide side) override
	{
		if (detached())
			return kstd::Err::NotConn;
		return inner_.suspend(side);
	}
	kstd::Result<void> resume(VhcaSide side) override
	{
		if (detached())
			return kstd::Err::NotConn;
		return inner_.resume(side);
	}
	kstd::Result<void> save(const SaveRequest &req, SaveCompletion &done) override
	{
		if (detached())
			return kstd::Err::NotConn;
		return inner_.save(req, done);
	}
	kstd::Result<void> load(DataBuffer &buf, uint32_t size) override
	{
		if (detached())
			return kstd::Err::NotConn;
		return inner_.load(buf, size);
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
		return inner_.track_start(req);
	}
	// Releasing is always allowed: the backend knows what is left to free.
	void track_stop() override { inner_.track_stop(); }
	kstd::Result<void> track_report(uint64_t iova, uint64_t length, DirtySink &sink) override
	{
		if (detached())
			return kstd::Err::NotConn;
		return inner_.track_report(iova, length, sink);
	}

private:
	Firmware &inner_;
	bool detached_ = false;
};

} // namespace mlx5vf

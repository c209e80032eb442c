// SPDX-License-Identifier: GPL-2.0-only
#include "fw_gate.h"

namespace mlx5vf {

FwCaps FirmwareGate::caps() const
{
	return inner_.caps();
}

kstd::Result<StateSize> FirmwareGate::query_state(const QueryFlags &flags)
{
	if (detached())
		return kstd::Err::NotConn;
	const uint64_t t = stats_.now();
	auto r = inner_.query_state(flags);
	stats_.fw_cmd_done(FwCmdKind::Query, query_code(flags), r.is_ok() ? r.value().remaining_total : 0, t,
			   r);
	return r;
}

kstd::Result<void> FirmwareGate::suspend(VhcaSide side)
{
	if (detached())
		return kstd::Err::NotConn;
	const uint64_t t = stats_.now();
	auto r = inner_.suspend(side);
	stats_.fw_cmd_done(FwCmdKind::Suspend, side_code(side), 0, t, r);
	return r;
}

kstd::Result<void> FirmwareGate::resume(VhcaSide side)
{
	if (detached())
		return kstd::Err::NotConn;
	const uint64_t t = stats_.now();
	auto r = inner_.resume(side);
	stats_.fw_cmd_done(FwCmdKind::Resume, side_code(side), 0, t, r);
	return r;
}

kstd::Result<void> FirmwareGate::save(const SaveRequest &req, SaveCompletion &done)
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

kstd::Result<void> FirmwareGate::load(DataBuffer &buf, uint32_t size)
{
	if (detached())
		return kstd::Err::NotConn;
	const uint64_t t = stats_.now();
	auto r = inner_.load(buf, size);
	stats_.fw_cmd_done(FwCmdKind::Load, 0, size, t, r);
	return r;
}

kstd::Result<DataBuffer *> FirmwareGate::alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx)
{
	if (detached())
		return kstd::Err::NotConn;
	return inner_.alloc_buffer(size, dir, ctx);
}

void FirmwareGate::free_buffer(DataBuffer *buf)
{
	inner_.free_buffer(buf);
}

void FirmwareGate::function_reset()
{
	inner_.function_reset();
}

TrackCaps FirmwareGate::track_caps() const
{
	return inner_.track_caps();
}

kstd::Result<void> FirmwareGate::track_start(const TrackRequest &req)
{
	if (detached())
		return kstd::Err::NotConn;
	const uint64_t t = stats_.now();
	auto r = inner_.track_start(req);
	stats_.fw_cmd_done(FwCmdKind::TrackStart, req.log_page_size, 0, t, r);
	return r;
}

void FirmwareGate::track_stop()
{
	inner_.track_stop();
}

kstd::Result<void> FirmwareGate::track_report(uint64_t iova, uint64_t length, DirtySink &sink)
{
	if (detached())
		return kstd::Err::NotConn;
	const uint64_t t = stats_.now();
	auto r = inner_.track_report(iova, length, sink);
	stats_.fw_cmd_done(FwCmdKind::TrackReport, 0, length, t, r);
	return r;
}

void FirmwareGate::save_done(const SaveResult &result)
{
	SaveCompletion *done = save_done_;
	const int err = result.status == FwStatus::Ok	      ? 0
			: result.status == FwStatus::Detached ? -MLX5VF_ENOTCONN
			: result.status == FwStatus::TimedOut ? -MLX5VF_ETIMEDOUT
							      : -MLX5VF_EIO;
	stats_.fw_cmd_done(FwCmdKind::Save, save_kind_, result.image_size, save_start_, err,
			   static_cast<uint32_t>(result.status), result.syndrome);
	done->save_done(result);
}

} // namespace mlx5vf

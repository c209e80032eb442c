// SPDX-License-Identifier: GPL-2.0-only
#include "mig_stats.h"

namespace mlx5vf {
namespace {

// Every 64-bit counter of struct mlx5vf_mig_counters.
constexpr uint64_t MigCounters::*kU64Fields[] = {
	&MigCounters::migrations,	   &MigCounters::precopy_bytes,	  &MigCounters::stop_copy_bytes,
	&MigCounters::resume_bytes,	   &MigCounters::precopy_rounds,  &MigCounters::save_chunks,
	&MigCounters::load_chunks,	   &MigCounters::records_written, &MigCounters::records_read,
	&MigCounters::suspend_ns,	   &MigCounters::save_ns,	  &MigCounters::load_ns,
	&MigCounters::stop_copy_to_end_ns,
};

} // namespace

void MigStats::reset_last()
{
	// Field by field: a reader may look at any time (relaxed atomics).
	for (uint64_t MigCounters::*f : kU64Fields)
		__atomic_store_n(&(last_.*f), 0, __ATOMIC_RELAXED);
	__atomic_store_n(&last_.last_error, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&last_.last_error_cmd, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&last_.last_error_status, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&last_.last_error_syndrome, 0, __ATOMIC_RELAXED);
}

void MigStats::set_stop_copy_to_end(uint64_t ns)
{
	__atomic_store_n(&last_.stop_copy_to_end_ns, ns, __ATOMIC_RELAXED);
	add_to(total_.stop_copy_to_end_ns, ns);
}

void MigStats::fw_cmd_done(FwCmdKind kind, uint32_t op_mod, uint64_t bytes, uint64_t start_ns, int err,
			   uint32_t status, uint32_t syndrome)
{
	const uint64_t end = now();
	const uint64_t ns = end > start_ns ? end - start_ns : 0;
	switch (kind) {
	case FwCmdKind::Suspend: add(&MigCounters::suspend_ns, ns); break;
	case FwCmdKind::Save: add(&MigCounters::save_ns, ns); break;
	case FwCmdKind::Load:
		add(&MigCounters::load_ns, ns);
		add(&MigCounters::load_chunks, 1);
		break;
	default: break;
	}
	if (err || status) {
		MigCounters *both[] = {&last_, &total_};
		for (MigCounters *c : both) {
			__atomic_store_n(&c->last_error, err ? err : -MLX5VF_EIO, __ATOMIC_RELAXED);
			__atomic_store_n(&c->last_error_cmd, static_cast<uint32_t>(kind), __ATOMIC_RELAXED);
			__atomic_store_n(&c->last_error_status, status, __ATOMIC_RELAXED);
			__atomic_store_n(&c->last_error_syndrome, syndrome, __ATOMIC_RELAXED);
		}
	}
	if (!obs_)
		return;
	mlx5vf_fw_cmd_info info = {};
	info.kind = static_cast<uint32_t>(kind);
	info.op_mod = op_mod;
	info.bytes = bytes;
	info.duration_ns = ns;
	info.err = err;
	info.status = status;
	info.syndrome = syndrome;
	obs_->fw_cmd(info);
}

void MigStats::record(bool save, uint32_t tag, uint64_t length)
{
	add(save ? &MigCounters::records_written : &MigCounters::records_read, 1);
	if (obs_)
		obs_->record(save, tag, length);
}

void MigStats::arc(MigState from, MigState to, uint64_t start_ns, const kstd::Result<void> &r)
{
	if (!obs_)
		return;
	const uint64_t end = obs_->now_ns();
	obs_->arc(from, to, end > start_ns ? end - start_ns : 0, r.is_ok() ? 0 : kstd::to_errno(r.error()));
}

void MigStats::copy(MigCounters &to, const MigCounters &from)
{
	for (uint64_t MigCounters::*f : kU64Fields)
		to.*f = __atomic_load_n(&(from.*f), __ATOMIC_RELAXED);
	to.last_error = __atomic_load_n(&from.last_error, __ATOMIC_RELAXED);
	to.last_error_cmd = __atomic_load_n(&from.last_error_cmd, __ATOMIC_RELAXED);
	to.last_error_status = __atomic_load_n(&from.last_error_status, __ATOMIC_RELAXED);
	to.last_error_syndrome = __atomic_load_n(&from.last_error_syndrome, __ATOMIC_RELAXED);
}

void MigStats::snapshot(MigCounters &last, MigCounters &total) const
{
	copy(last, last_);
	copy(total, total_);
}

} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
// MigStats: the one owner of a device's migration counters (bytes per
// phase, precopy rounds, chunks, firmware time), and its door to the
// observer (the shim's clock and tracepoints; include/mlx5vf/mig.h).
//
// The core has no clock: durations are differences of the observer's
// now_ns(). Without an observer every time is 0 and no event is sent.
//
// Contexts: everything runs under the device's state lock except the SAVE
// completion (maybe atomic), which adds save_ns and sends its fw_cmd event.
// So every counter is updated and read with relaxed atomics: a reader sees
// each field whole, not a consistent snapshot of all of them.
#pragma once

#include <mlx5vf/mig.h>

#include "kstd/result.h"
#include "mig_state.h"

namespace mlx5vf {

class SaveFile;
class ResumeFile;

using MigCounters = mlx5vf_mig_counters;

enum class FwCmdKind : uint32_t {
	Query = MLX5VF_FW_CMD_QUERY,
	Suspend = MLX5VF_FW_CMD_SUSPEND,
	Resume = MLX5VF_FW_CMD_RESUME,
	Save = MLX5VF_FW_CMD_SAVE,
	Load = MLX5VF_FW_CMD_LOAD,
	TrackStart = MLX5VF_FW_CMD_TRACK_START,
	TrackReport = MLX5VF_FW_CMD_TRACK_REPORT,
};

class Observer {
public:
	virtual uint64_t now_ns() = 0;
	virtual void arc(MigState from, MigState to, uint64_t duration_ns, int err) = 0;
	virtual void fw_cmd(const mlx5vf_fw_cmd_info &info) = 0;
	virtual void record(bool save, uint32_t tag, uint64_t length) = 0;
	// The device closed (detached) one file it had handed out: exactly one
	// of save and resume, once per file (MigDevice, on every closing path).
	virtual void file_closed(SaveFile *save, ResumeFile *resume)
	{
		(void)save;
		(void)resume;
	}

protected:
	~Observer() = default;
};

class MigStats {
public:
	explicit MigStats(Observer *obs = nullptr) : obs_(obs) {}

	uint64_t now() const { return obs_ ? obs_->now_ns() : 0; }
	Observer *observer() const { return obs_; }

	// A new migration: "last" starts over (MigDevice decides when).
	void reset_last();

	// Adds to the current migration and the total alike.
	void add(uint64_t MigCounters::*field, uint64_t n)
	{
		add_to(last_.*field, n);
		add_to(total_.*field, n);
	}
	// stop_copy_to_end_ns: one per migration.
	void set_stop_copy_to_end(uint64_t ns);
	// A firmware command finished (any context); err 0: it succeeded.
	// err: 0 or a negative errno.
	void fw_cmd_done(FwCmdKind kind, uint32_t op_mod, uint64_t bytes, uint64_t start_ns, int err,
			 uint32_t status = 0, uint32_t syndrome = 0);
	template <typename T>
	void fw_cmd_done(FwCmdKind kind, uint32_t op_mod, uint64_t bytes, uint64_t start_ns,
			 const kstd::Result<T> &r)
	{
		fw_cmd_done(kind, op_mod, bytes, start_ns, r.is_ok() ? 0 : kstd::to_errno(r.error()));
	}
	void record(bool save, uint32_t tag, uint64_t length);
	void arc(MigState from, MigState to, uint64_t start_ns, const kstd::Result<void> &r);

	void snapshot(MigCounters &last, MigCounters &total) const;

private:
	static void add_to(uint64_t &field, uint64_t n) { __atomic_fetch_add(&field, n, __ATOMIC_RELAXED); }
	static void copy(MigCounters &to, const MigCounters &from);

	Observer *const obs_;
	MigCounters last_ = {};
	MigCounters total_ = {};
};

} // namespace mlx5vf

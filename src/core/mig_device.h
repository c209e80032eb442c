// SPDX-License-Identifier: GPL-2.0-only
// MigDevice: one migratable function as the VFIO migration uAPI sees it.
//
// It owns the current migration state, takes the arcs the VFIO core asks for
// (each arc is a small plan of firmware actions, kArcPlans), and holds the
// saving and resuming files while they are attached. The same class drives a
// real ConnectX-7 VF (mlx5 firmware backend in the shim) and a simulated one.
//
// Locking: every method needs the device's state lock (a mutex in the shim),
// except where noted. Files outlive their attachment: the shim owns each
// file object and destroys it when userspace releases the fd; the device only
// closes (detaches) them.
#pragma once

#include "dirty_tracker.h"
#include "fw_gate.h"
#include "mig_state.h"
#include "mig_stats.h"
#include "resume_file.h"
#include "save_file.h"

namespace mlx5vf {

// Blocking the caller until the file's in-flight SAVE has completed: the shim
// sleeps on its wait queue; host tests deliver the simulated completion.
//
// interruptible: a user's request (an arc) waits; a signal ends the wait with
// Err::RestartSys, the SAVE still in flight. Otherwise the kernel's own paths
// (reset, device close, the fd going, teardown, PF detach) wait, and the wait
// returns only once the completion has run: the backend relies on its command
// interface completing every command it accepted, if need be by force
// (firmware-contract.rst, rule 16). Until then the SAVE owns its buffer.
class SaveWaiter {
public:
	virtual kstd::Result<void> wait_save_idle(SaveFile &file, bool interruptible) = 0;

protected:
	~SaveWaiter() = default;
};

// What an arc does, in order. Data, so tests can check every plan.
enum class ArcStep : uint8_t {
	End = 0,
	SuspendInitiator, // stop issuing DMA (RUNNING_P2P)
	SuspendResponder, // stop answering too (STOP)
	ResumeResponder,
	ResumeInitiator,
	WaitSaveIdle,	  // firmware serialises SAVE with SUSPEND/QUERY
	OpenPrecopyFile,  // new saving file: initial image with tracking
	OpenStopCopyFile, // new saving file: one full image
	StartFinalSave,	  // saving file: final delta (or full) image
	CloseSaveFile,	  // the stream ends; the firmware needs no command
	AbandonPrecopy,	  // cleanup SAVE first if the firmware still tracks, then close
	OpenResumeFile,
	FinishResume, // the stream must be complete; loads happened in write()
	CloseResumeFile,
};

struct ArcPlan {
	MigState from;
	MigState to;
	ArcStep steps[4];
};

// The plan for a single arc, or nullptr if no device takes that arc.
const ArcPlan *arc_plan(MigState from, MigState to);

class MigDevice {
public:
	struct Config {
		Firmware *fw = nullptr;
		SaveWaiter *waiter = nullptr;
		stream::CompatInfo compat;
		uint32_t features = kMigStopCopy | kMigP2p | kMigPreCopy;
		uint64_t max_chunk_size = SaveFile::kMaxChunkSize;
		ResumeLimits resume_limits;   // for every resuming file
		Observer *observer = nullptr; // clock and events; none: times are 0
	};

	static kstd::Result<kstd::Owned<MigDevice>> create(const Config &cfg);
	~MigDevice();

	MigState state() const { return state_; }
	uint32_t features() const { return features_; }

	// A file a successful set_state() opened; ownership passes to the caller.
	struct Opened {
		SaveFile *save = nullptr;
		ResumeFile *resume = nullptr;
	};

	// Walks to target one arc at a time. On failure the device stays in the
	// last state it reached and its files are closed; the error says why.
	// Except Err::RestartSys: a signal interrupted an arc's wait for the SAVE
	// in flight, which comes before the arc changes anything; the device and
	// its files are as the last whole arc left them, and the same request
	// can be made again. file_owner is stored in a new saving file (the
	// shim's struct file).
	kstd::Result<Opened> set_state(MigState target, void *file_owner = nullptr);

	// VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: bytes a stop-copy would produce now.
	kstd::Result<uint64_t> data_size();
	// VFIO_MIG_GET_PRECOPY_INFO on file (the file's lock held too). v2: the
	// user opted in to PRECOPY_INFOv2 (SaveFile::precopy_info).
	kstd::Result<PrecopyInfo> precopy_info(SaveFile &file, bool v2 = false);
	// write() on a resuming file (the file's lock held too).
	kstd::Result<size_t> resume_write(ResumeFile &file, UserIo &user, size_t len);

	// The function was reset (FLR or VFIO_DEVICE_RESET): back to RUNNING,
	// both files closed.
	void reset();
	// Close both files (device fd closed, or teardown).
	void close_files();
	// The shim drops a file object: forget it if still attached.
	void forget(const SaveFile *file);
	void forget(const ResumeFile *file);

	// PF gone / back. While detached every firmware command fails with
	// Err::NotConn, and a running dirty tracker has lost its data.
	void detach()
	{
		gate_.detach();
		tracker_.lose("the PF detached while tracking");
	}
	void attach() { gate_.attach(); }
	bool detached() const { return gate_.detached(); }

	// VFIO DMA logging (dirty_tracker.h); stopped when the device is closed.
	DirtyTracker &tracker() { return tracker_; }
	const DirtyTracker &tracker() const { return tracker_; }

	// Migration statistics (mig_stats.h).
	const MigStats &stats() const { return stats_; }

	SaveFile *saving() const { return saving_; }
	ResumeFile *resuming() const { return resuming_; }

private:
	KSTD_FACTORY_ACCESS;
	explicit MigDevice(const Config &cfg);
	kstd::Result<void> run_step(ArcStep step, void *file_owner, Opened &opened);
	kstd::Result<void> wait_idle(bool interruptible);
	void wait_completion();
	void file_opened();
	void close_save_file(bool fw_cleanup);
	void close_resume_file();
	void announce_closed(SaveFile *save, ResumeFile *resume);

	MigStats stats_; // before gate_, which reports to it
	FirmwareGate gate_;
	DirtyTracker tracker_; // over gate_
	SaveWaiter &waiter_;
	const stream::CompatInfo compat_;
	const uint32_t features_;
	const uint64_t max_chunk_size_;
	const ResumeLimits resume_limits_;
	MigState state_ = MigState::Running;
	SaveFile *saving_ = nullptr;	  // attached saving file (owned by the shim)
	ResumeFile *resuming_ = nullptr;  // attached resuming file (owned by the shim)
	bool migration_has_file_ = false; // since RUNNING was left (stats_'s "last")
};

} // namespace mlx5vf

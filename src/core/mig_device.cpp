// SPDX-License-Identifier: GPL-2.0-only
#include "mig_device.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

using S = MigState;
using A = ArcStep;

// Every single arc any feature set uses (mig_arc_is_single), and what it
// costs. The P2P device stops in two steps; a device without P2P does both
// suspensions in one arc.
constexpr ArcPlan kArcPlans[] = {
	{S::Running, S::RunningP2p, {A::SuspendInitiator}},
	{S::RunningP2p, S::Running, {A::ResumeInitiator}},
	{S::RunningP2p, S::Stop, {A::SuspendResponder}},
	{S::Stop, S::RunningP2p, {A::ResumeResponder}},
	{S::Running, S::Stop, {A::SuspendInitiator, A::SuspendResponder}},
	{S::Stop, S::Running, {A::ResumeResponder, A::ResumeInitiator}},
	{S::Stop, S::StopCopy, {A::OpenStopCopyFile}},
	{S::StopCopy, S::Stop, {A::CloseSaveFile}},
	{S::Stop, S::Resuming, {A::OpenResumeFile}},
	{S::Resuming, S::Stop, {A::FinishResume, A::CloseResumeFile}},
	{S::Running, S::PreCopy, {A::OpenPrecopyFile}},
	{S::RunningP2p, S::PreCopyP2p, {A::OpenPrecopyFile}},
	{S::PreCopy, S::PreCopyP2p, {A::WaitSaveIdle, A::SuspendInitiator}},
	{S::PreCopyP2p, S::PreCopy, {A::ResumeInitiator}},
	{S::PreCopyP2p, S::StopCopy, {A::WaitSaveIdle, A::SuspendResponder, A::StartFinalSave}},
	{S::PreCopy,
	 S::StopCopy,
	 {A::WaitSaveIdle, A::SuspendInitiator, A::SuspendResponder, A::StartFinalSave}},
	{S::PreCopy, S::Running, {A::AbandonPrecopy}},
	{S::PreCopyP2p, S::RunningP2p, {A::AbandonPrecopy}},
};

} // namespace

const ArcPlan *arc_plan(MigState from, MigState to)
{
	for (const ArcPlan &plan : kArcPlans)
		if (plan.from == from && plan.to == to)
			return &plan;
	return nullptr;
}

MigDevice::MigDevice(const Config &cfg)
    : stats_(cfg.observer), gate_(*cfg.fw, stats_), tracker_(gate_), waiter_(*cfg.waiter),
      compat_(cfg.compat), features_(cfg.features), max_chunk_size_(cfg.max_chunk_size),
      resume_limits_(cfg.resume_limits)
{
}

kstd::Result<kstd::Owned<MigDevice>> MigDevice::create(const Config &cfg)
{
	if (!cfg.fw || !cfg.waiter || !(cfg.features & kMigStopCopy))
		return kstd::Err::Invalid;
	if ((cfg.features & kMigPreCopy) && !cfg.fw->caps().precopy)
		return kstd::Err::OpNotSupp;
	return kstd::make<MigDevice>(kstd::AllocCtx::Sleepable, cfg);
}

MigDevice::~MigDevice()
{
	close_files();
}

kstd::Result<MigDevice::Opened> MigDevice::set_state(MigState target, void *file_owner)
{
	Opened opened;
	while (state_ != target) {
		const MigState next = TRY(next_step(state_, target, features_));
		const ArcPlan *plan = arc_plan(state_, next);
		if (!plan) {
			mlx5vf_shim_warn("path-finder chose an arc without a plan");
			return kstd::Err::Invalid;
		}
		if (state_ == MigState::Running) {
			// Leaving RUNNING starts a migration (its suspensions count).
			stats_.reset_last();
			migration_has_file_ = false;
		}
		const uint64_t start = stats_.now();
		kstd::Result<void> r = kstd::ok();
		uint32_t steps_done = 0;
		for (ArcStep step : plan->steps) {
			if (step == ArcStep::End)
				break;
			r = run_step(step, file_owner, opened);
			if (r.is_error())
				break;
			steps_done++;
		}
		stats_.arc(state_, next, start, r);
		// Interrupted in its first step, the wait for the SAVE in
		// flight: the arc has changed nothing, so nothing is undone.
		if (r.is_error() && r.error() == kstd::Err::RestartSys && !steps_done)
			return r.error();
		if (r.is_error()) {
			// Opening a file is always an arc's last step, so a
			// failing arc never leaves a new file behind.
			close_files();
			return r.error();
		}
		state_ = next;
	}
	return opened;
}

// A data_fd opens: a migration's, or the next one's if this one had its file
// already (STOP -> STOP_COPY -> STOP -> STOP_COPY never passes RUNNING).
void MigDevice::file_opened()
{
	if (migration_has_file_)
		stats_.reset_last();
	migration_has_file_ = true;
	stats_.add(&MigCounters::migrations, 1);
}

kstd::Result<void> MigDevice::wait_idle(bool interruptible)
{
	if (!saving_ || !saving_->save_in_flight())
		return kstd::ok();
	return waiter_.wait_save_idle(*saving_, interruptible);
}

// The kernel's own paths: the backend returns once the completion has run
// (SaveWaiter). Should it not, close() leaves the buffers to the SAVE.
void MigDevice::wait_completion()
{
	if (wait_idle(false).is_error())
		mlx5vf_shim_warn("uninterruptible wait for a save returned before its completion");
}

kstd::Result<void> MigDevice::run_step(ArcStep step, void *file_owner, Opened &opened)
{
	switch (step) {
	case ArcStep::End: return kstd::ok();
	case ArcStep::SuspendInitiator: return gate_.suspend(VhcaSide::Initiator);
	case ArcStep::SuspendResponder: return gate_.suspend(VhcaSide::Responder);
	case ArcStep::ResumeResponder: return gate_.resume(VhcaSide::Responder);
	case ArcStep::ResumeInitiator: return gate_.resume(VhcaSide::Initiator);
	case ArcStep::WaitSaveIdle: return wait_idle(true);
	case ArcStep::OpenPrecopyFile:
	case ArcStep::OpenStopCopyFile: {
		close_save_file(true);
		SaveFile::Config cfg;
		cfg.fw = &gate_;
		cfg.compat = compat_;
		cfg.mode =
			step == ArcStep::OpenPrecopyFile ? SaveFile::Mode::PreCopy : SaveFile::Mode::StopCopy;
		cfg.owner = file_owner;
		cfg.max_chunk_size = max_chunk_size_;
		cfg.stats = &stats_;
		file_opened();
		auto file = TRY(SaveFile::create(cfg));
		saving_ = opened.save = file.release();
		return kstd::ok();
	}
	case ArcStep::StartFinalSave:
		if (!saving_)
			return kstd::Err::BadF; // userspace lost the file mid-precopy
		return saving_->start_final_save();
	// A user's arc: wait where a signal may still stop it unchanged.
	case ArcStep::CloseSaveFile:
		TRY(wait_idle(true));
		close_save_file(false);
		return kstd::ok();
	case ArcStep::AbandonPrecopy:
		TRY(wait_idle(true));
		close_save_file(true);
		return kstd::ok();
	case ArcStep::OpenResumeFile: {
		close_resume_file();
		file_opened();
		auto file = TRY(ResumeFile::create(gate_, compat_, resume_limits_, &stats_));
		resuming_ = opened.resume = file.release();
		return kstd::ok();
	}
	case ArcStep::FinishResume:
		if (!resuming_)
			return kstd::Err::BadF;
		return resuming_->finish();
	case ArcStep::CloseResumeFile: close_resume_file(); return kstd::ok();
	}
	return kstd::Err::Invalid;
}

void MigDevice::close_save_file(bool fw_cleanup)
{
	if (!saving_)
		return;
	// The SAVE in flight owns its buffer until its completion has run:
	// wait for it (uninterruptibly; bounded by the command interface),
	// then free the buffers here, under the state lock, while the PF is
	// still there, never later from the fd's release.
	wait_completion();
	saving_->quiesce();
	// Leave the firmware as a new migration expects it. Best effort: a
	// failing cleanup must not keep a running device in precopy, and a
	// function reset clears the firmware anyway.
	if (fw_cleanup && !saving_->save_in_flight() && !gate_.detached() && saving_->needs_fw_cleanup()) {
		if (saving_->start_cleanup_save().is_error())
			mlx5vf_shim_log(MLX5VF_LOG_WARN,
					"firmware cleanup save failed; tracking may linger until reset");
		wait_completion();
	}
	saving_->close();
	SaveFile *const closed = saving_;
	saving_ = nullptr;
	announce_closed(closed, nullptr);
}

void MigDevice::close_resume_file()
{
	if (!resuming_)
		return;
	resuming_->close();
	ResumeFile *const closed = resuming_;
	resuming_ = nullptr;
	announce_closed(nullptr, closed);
}

// The one place a detached file is announced: the shim drops its data_fd's
// device reference then (include/mlx5vf/mig.h, file_closed).
void MigDevice::announce_closed(SaveFile *save, ResumeFile *resume)
{
	if (Observer *obs = stats_.observer())
		obs->file_closed(save, resume);
}

void MigDevice::close_files()
{
	close_save_file(true);
	close_resume_file();
}

void MigDevice::forget(const SaveFile *file)
{
	if (saving_ == file)
		close_save_file(true);
}

void MigDevice::forget(const ResumeFile *file)
{
	if (resuming_ == file)
		close_resume_file();
}

// Counted in data_fd bytes, as the uAPI defines stop_copy_length, not in
// firmware image bytes: a stop-copy entered now reads the preamble (unless a
// precopy file already carries it), whatever precopy left unread, and the
// image with one FW_DATA header per SAVE (chunk). A direct stop-copy reads
// exactly that much while the device's state size holds. After precopy the
// final image is a delta, sized here as a full image: smaller unless the
// device rewrote nearly all of its state, when a delta's per-page framing
// can make it larger (an estimate then, as the uAPI allows).
kstd::Result<uint64_t> MigDevice::data_size()
{
	const bool chunk = gate_.caps().chunk_mode;
	const StateSize size = TRY(gate_.query_state({.incremental = false, .chunk = chunk}));
	const uint64_t image = chunk ? size.remaining_total : uint64_t{size.required};
	const uint64_t per_save = chunk && size.required ? size.required : kstd::max<uint64_t>(image, 1);
	const uint64_t records = kstd::max<uint64_t>((image + per_save - 1) / per_save, 1);
	const uint64_t before = saving_ ? saving_->unread_bytes() : stream::kStreamPreambleSize;
	return before + image + records * stream::kRecordHeaderSize;
}

kstd::Result<PrecopyInfo> MigDevice::precopy_info(SaveFile &file, bool v2)
{
	if (state_ != MigState::PreCopy && state_ != MigState::PreCopyP2p)
		return kstd::Err::Invalid;
	if (&file != saving_)
		return kstd::Err::NoDev;
	return file.precopy_info(state_ == MigState::PreCopy, v2);
}

kstd::Result<size_t> MigDevice::resume_write(ResumeFile &file, UserIo &user, size_t len)
{
	if (&file != resuming_ || state_ != MigState::Resuming)
		return kstd::Err::NoDev;
	return file.write(user, len);
}

void MigDevice::reset()
{
	// The reset itself clears the firmware: no cleanup commands.
	close_save_file(false);
	close_resume_file();
	gate_.function_reset();
	state_ = MigState::Running;
}

} // namespace mlx5vf

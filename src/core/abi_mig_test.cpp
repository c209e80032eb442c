// SPDX-License-Identifier: GPL-2.0-only
// The C ABI the shim uses, end to end: the same migration as mig_device_test,
// driven only through include/mlx5vf/mig.h handles and C callbacks.
#include <mlx5vf/mig.h>
#include <mlx5vf/sim.h>

#include <gtest/gtest.h>

#include "c_user_io.h"
#include "host_shim.h"

#include <cstring>
#include <vector>

namespace {

struct Pending {
	mlx5vf_sim *sim = nullptr;
	int requests = 0;
	bool interrupt = false; // a signal is pending for an interruptible wait
};

void request_completion(void *ctx, uint64_t)
{
	static_cast<Pending *>(ctx)->requests++;
}

int wait_save_idle(void *ctx, mlx5vf_save_file *, bool interruptible)
{
	auto *p = static_cast<Pending *>(ctx);
	if (p->interrupt && interruptible)
		return -MLX5VF_ERESTARTSYS;
	if (mlx5vf_core_sim_completion_pending(p->sim))
		mlx5vf_core_sim_deliver(p->sim);
	return 0;
}

const mlx5vf_dev_ops kOps = {.wait_save_idle = wait_save_idle};

using c_user_io::VecIo;

struct CSide {
	Pending pending;
	mlx5vf_sim *sim = nullptr;
	mlx5vf_dev *dev = nullptr;
	mlx5vf_save_file *save = nullptr;
	mlx5vf_resume_file *resume = nullptr;
	uint64_t configured = 0; // set before init()
	bool mig_state_cap = false;
	const mlx5vf_observer_ops *obs = nullptr;	  // set before init()
	const mlx5vf_fw_ops *fw_ops = &mlx5vf_sim_fw_ops; // set before init()
	void *obs_ctx = nullptr;
	bool accept_fw_build_mismatch = false; // set before init()
	bool no_page_tracker = false;	       // set before init()

	void init(uint64_t identity, uint64_t seed)
	{
		mlx5vf_sim_config sc = {};
		sc.state_size = 32 * 1024;
		sc.configured_size = configured;
		sc.migration_state = mig_state_cap;
		sc.no_page_tracker = no_page_tracker;
		sc.identity = identity;
		sc.seed = seed;
		sc.request_completion = request_completion;
		sc.sched_ctx = &pending;
		ASSERT_EQ(0, mlx5vf_core_sim_create(&sc, &sim));
		pending.sim = sim;
		mlx5vf_dev_config dc = {};
		dc.fw_ops = fw_ops;
		dc.fw_ctx = sim;
		dc.ops = &kOps;
		dc.ops_ctx = &pending;
		dc.obs = obs;
		dc.obs_ctx = obs_ctx;
		dc.compat = {0x15b3, 0x101e, 1, identity};
		dc.features =
			MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P | MLX5VF_MIG_FEATURE_PRE_COPY;
		dc.accept_fw_build_mismatch = accept_fw_build_mismatch;
		ASSERT_EQ(0, mlx5vf_core_dev_create(&dc, &dev));
	}
	int go(uint32_t s)
	{
		mlx5vf_save_file *sf;
		mlx5vf_resume_file *rf;
		const int rc = mlx5vf_core_dev_set_state(dev, s, this, &sf, &rf);
		if (sf)
			save = sf;
		if (rf)
			resume = rf;
		return rc;
	}
	~CSide()
	{
		if (save) {
			mlx5vf_core_dev_forget_save(dev, save);
			mlx5vf_core_save_destroy(save);
		}
		if (resume) {
			mlx5vf_core_dev_forget_resume(dev, resume);
			mlx5vf_core_resume_destroy(resume);
		}
		if (dev)
			mlx5vf_core_dev_destroy(dev);
		if (sim)
			mlx5vf_core_sim_destroy(sim);
	}
};

long read_to_eof(CSide &s, std::vector<uint8_t> &out)
{
	for (;;) {
		VecIo v = c_user_io::over(out);
		const long n = mlx5vf_core_save_read(s.save, &v.io, 4096);
		if (n == -MLX5VF_EAGAIN) {
			if (!mlx5vf_core_sim_completion_pending(s.sim))
				return n;
			mlx5vf_core_sim_deliver(s.sim);
			continue;
		}
		if (n <= 0)
			return n;
	}
}

TEST(AbiMig, PrecopyMigrationThroughTheCAbi)
{
	CSide src, dst;
	src.init(3, 1);
	dst.init(3, 2);
	ASSERT_NE(mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_checksum(dst.sim));
	ASSERT_EQ(0, src.go(MLX5VF_MIG_PRE_COPY));
	ASSERT_NE(nullptr, src.save);
	uint64_t initial = 0, dirty = 0;
	uint32_t flags = ~0u;
	ASSERT_EQ(0, mlx5vf_core_dev_precopy_info(src.dev, src.save, true, &flags, &initial, &dirty));
	EXPECT_GT(initial, 32u * 1024);
	EXPECT_EQ(0u, flags);
	std::vector<uint8_t> stream;
	EXPECT_EQ(-MLX5VF_ENOMSG, read_to_eof(src, stream));
	EXPECT_EQ(1, src.pending.requests);
	mlx5vf_core_sim_run_activity(src.sim, 10);
	ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
	// The responder SUSPEND froze the state the image carries.
	EXPECT_EQ(mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_saved_checksum(src.sim));
	EXPECT_EQ(0u, mlx5vf_core_sim_loaded_checksum(dst.sim));
	EXPECT_EQ(0, read_to_eof(src, stream));
	uint64_t size = 0;
	EXPECT_EQ(0, mlx5vf_core_dev_data_size(src.dev, &size));

	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
	VecIo v = c_user_io::over(stream);
	EXPECT_EQ(static_cast<long>(stream.size()),
		  mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &v.io, stream.size()));
	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RUNNING));
	EXPECT_EQ(mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_checksum(dst.sim));
	EXPECT_EQ(mlx5vf_core_sim_saved_checksum(src.sim), mlx5vf_core_sim_loaded_checksum(dst.sim));
	EXPECT_EQ(MLX5VF_MIG_RUNNING, mlx5vf_core_dev_state(dst.dev));
}

TEST(AbiMig, RefusedStreamExplainsItself)
{
	CSide src, dst;
	src.init(3, 1);
	dst.init(4, 2);
	ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
	std::vector<uint8_t> stream;
	EXPECT_EQ(0, read_to_eof(src, stream));
	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
	VecIo v = c_user_io::over(stream);
	EXPECT_EQ(-MLX5VF_EPROTONOSUPPORT,
		  mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &v.io, stream.size()));
	uint64_t offset = 1;
	const char *why = mlx5vf_core_resume_error(dst.resume, &offset);
	ASSERT_NE(nullptr, why);
	// Identities 3 and 4 share the firmware line (high 32 bits): only the
	// build differs, which the reason names with the setting that waives it.
	EXPECT_STREQ("COMPAT refused: another firmware build (see accept_fw_build_mismatch)", why);
	EXPECT_EQ(48u, offset); // detected at the end of the COMPAT record
	EXPECT_EQ(-MLX5VF_EINVAL,
		  mlx5vf_core_sim_inject_fault(src.sim, MLX5VF_SIM_LOAD, 0, MLX5VF_SIM_FAULT_ERROR));
	mlx5vf_core_dev_detach(src.dev);
	EXPECT_EQ(-MLX5VF_ENOTCONN, mlx5vf_core_dev_data_size(src.dev, &offset));
	mlx5vf_core_dev_attach(src.dev);
	mlx5vf_core_dev_reset(dst.dev);
	EXPECT_EQ(MLX5VF_MIG_RUNNING, mlx5vf_core_dev_state(dst.dev));
}

// Every fault the simulated firmware has can be armed through the C ABI
// (debugfs "inject" passes its index): a SAVE that mlx5_core completes by
// force fails the file (reads: ENODEV, as for any failed file), the device
// goes back to RUNNING and migrates again with fresh buffers.
TEST(AbiMig, ForcedSaveTimeoutArmedThroughTheCAbi)
{
	CSide src, dst;
	src.init(3, 1);
	dst.init(3, 2);
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_inject_fault(src.sim, MLX5VF_SIM_SAVE, 1,
							       static_cast<mlx5vf_sim_fault>(
								       MLX5VF_SIM_FAULT_FORCED_TIMEOUT + 1)));
	ASSERT_EQ(0,
		  mlx5vf_core_sim_inject_fault(src.sim, MLX5VF_SIM_SAVE, 1, MLX5VF_SIM_FAULT_FORCED_TIMEOUT));
	ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
	std::vector<uint8_t> stream;
	EXPECT_EQ(-MLX5VF_ENODEV, read_to_eof(src, stream));
	ASSERT_EQ(0, src.go(MLX5VF_MIG_RUNNING));
	mlx5vf_core_dev_forget_save(src.dev, src.save);
	mlx5vf_core_save_destroy(src.save);
	src.save = nullptr;
	stream.clear();
	ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
	ASSERT_EQ(0, read_to_eof(src, stream));
	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
	VecIo v = c_user_io::over(stream);
	ASSERT_EQ(static_cast<long>(stream.size()),
		  mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &v.io, stream.size()));
	EXPECT_EQ(0, dst.go(MLX5VF_MIG_RUNNING));
}

// Issue 9, item 6: the shim's accept_fw_build_mismatch reaches the resuming
// file through the device config. With it, another build of the same firmware
// line migrates (the simulated firmware loads any build of its line) and the
// state arrives intact; another line is still refused.
TEST(AbiMig, AcceptedFirmwareBuildMismatchMigrates)
{
	for (const uint64_t src_identity : {uint64_t{3}, (uint64_t{1} << 32) | 4}) {
		const bool same_line = src_identity >> 32 == 0;
		CSide src, dst;
		dst.accept_fw_build_mismatch = true;
		src.init(src_identity, 1);
		dst.init(4, 2);
		ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
		std::vector<uint8_t> stream;
		EXPECT_EQ(0, read_to_eof(src, stream));
		ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
		VecIo v = c_user_io::over(stream);
		const long n = mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &v.io, stream.size());
		uint64_t offset = 0;
		if (!same_line) {
			EXPECT_EQ(-MLX5VF_EPROTONOSUPPORT, n);
			EXPECT_STREQ("COMPAT refused: another firmware (PSID or major version)",
				     mlx5vf_core_resume_error(dst.resume, &offset));
			continue;
		}
		EXPECT_EQ(static_cast<long>(stream.size()), n)
			<< mlx5vf_core_resume_error(dst.resume, &offset);
		EXPECT_STREQ("accepting a migration stream from firmware build 0.3 on firmware build 0.4 "
			     "(accept_fw_build_mismatch is set)",
			     host_shim::last_log());
		ASSERT_EQ(0, dst.go(MLX5VF_MIG_RUNNING));
		EXPECT_EQ(mlx5vf_core_sim_saved_checksum(src.sim), mlx5vf_core_sim_loaded_checksum(dst.sim));
		EXPECT_EQ(mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_checksum(dst.sim));
	}
}

} // namespace

namespace {

// Found by the uAPI client: 0x102 was truncated to a valid state.
TEST(AbiMig, OutOfRangeStatesAreRefusedWithTheStateUnchanged)
{
	CSide s;
	s.init(3, 1);
	for (unsigned bad : {8u, 0x102u, 0xffffffffu}) {
		EXPECT_EQ(-MLX5VF_EINVAL, s.go(bad)) << bad;
		EXPECT_EQ(MLX5VF_MIG_RUNNING, mlx5vf_core_dev_state(s.dev));
	}
}

// A VHCA without a page tracker (an mdev type of mlx5vf_sim): the device
// offers no DMA logging and refuses a start, the one with it tracks.
TEST(AbiMig, PageTrackerFollowsTheSimulatedCaps)
{
	for (bool tracker : {false, true}) {
		CSide s;
		s.no_page_tracker = !tracker;
		s.init(3, 1);
		EXPECT_EQ(tracker, mlx5vf_core_dev_log_supported(s.dev));
		const mlx5vf_iova_range r = {0x100000, 0x10000};
		uint64_t page = 4096;
		const int rc = mlx5vf_core_dev_log_start(s.dev, &r, 1, &page);
		if (tracker) {
			EXPECT_EQ(0, rc);
			mlx5vf_core_dev_log_stop(s.dev);
		} else {
			EXPECT_EQ(-MLX5VF_EOPNOTSUPP, rc);
		}
	}
}

TEST(AbiMig, ReconfigureReportsReinitOnlyWithV2)
{
	for (bool v2 : {false, true}) {
		CSide src, dst;
		src.configured = dst.configured = 16 * 1024;
		src.mig_state_cap = true;
		src.init(3, 1);
		dst.init(3, 2);
		ASSERT_EQ(0, src.go(MLX5VF_MIG_PRE_COPY));
		std::vector<uint8_t> stream;
		EXPECT_EQ(-MLX5VF_ENOMSG, read_to_eof(src, stream));
		uint64_t added = 0, initial = 0, dirty = 0;
		uint32_t flags = ~0u;
		EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_reconfigure(src.sim, 0, &added));
		ASSERT_EQ(0, mlx5vf_core_sim_reconfigure(src.sim, 2, &added));
		EXPECT_EQ(2u, added);
		ASSERT_EQ(0, mlx5vf_core_dev_precopy_info(src.dev, src.save, v2, &flags, &initial, &dirty));
		EXPECT_EQ(v2 ? uint32_t{MLX5VF_PRECOPY_INFO_REINIT} : 0u, flags);
		EXPECT_GT(v2 ? initial : dirty, 3u * 4096);
		EXPECT_EQ(-MLX5VF_ENOMSG, read_to_eof(src, stream));
		ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
		EXPECT_EQ(0, read_to_eof(src, stream));
		ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
		VecIo in = c_user_io::over(stream);
		ASSERT_EQ(static_cast<long>(stream.size()),
			  mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &in.io, stream.size()));
		ASSERT_EQ(0, dst.go(MLX5VF_MIG_RUNNING));
		EXPECT_EQ(mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_checksum(dst.sim));
	}
}

// The observer as the shim implements it: a C clock and C event callbacks.
struct Events {
	uint64_t clock = 0;
	std::vector<std::pair<uint32_t, uint32_t>> arcs;
	std::vector<mlx5vf_fw_cmd_info> cmds;
	uint64_t records = 0, record_bytes = 0;
};

uint64_t ev_now(void *ctx)
{
	return static_cast<Events *>(ctx)->clock += 500;
}

void ev_arc(void *ctx, uint32_t from, uint32_t to, uint64_t duration_ns, int err)
{
	EXPECT_EQ(0, err);
	EXPECT_GE(duration_ns, 500u);
	static_cast<Events *>(ctx)->arcs.emplace_back(from, to);
}

void ev_fw_cmd(void *ctx, const mlx5vf_fw_cmd_info *info)
{
	static_cast<Events *>(ctx)->cmds.push_back(*info);
}

void ev_record(void *ctx, bool, uint32_t, uint64_t length)
{
	auto *e = static_cast<Events *>(ctx);
	e->records++;
	e->record_bytes += length + 16;
}

const mlx5vf_observer_ops kObs = {.now_ns = ev_now, .arc = ev_arc, .fw_cmd = ev_fw_cmd, .record = ev_record};

TEST(AbiMig, ObserverAndStatisticsThroughTheCAbi)
{
	Events se, de;
	CSide src, dst;
	src.obs = dst.obs = &kObs;
	src.obs_ctx = &se;
	dst.obs_ctx = &de;
	src.init(3, 1);
	dst.init(3, 2);
	ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
	std::vector<uint8_t> stream;
	EXPECT_EQ(0, read_to_eof(src, stream));
	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
	VecIo v = c_user_io::over(stream);
	EXPECT_EQ(static_cast<long>(stream.size()),
		  mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &v.io, stream.size()));
	ASSERT_EQ(0, dst.go(MLX5VF_MIG_STOP));

	const std::vector<std::pair<uint32_t, uint32_t>> want = {{MLX5VF_MIG_RUNNING, MLX5VF_MIG_RUNNING_P2P},
								 {MLX5VF_MIG_RUNNING_P2P, MLX5VF_MIG_STOP},
								 {MLX5VF_MIG_STOP, MLX5VF_MIG_STOP_COPY}};
	EXPECT_EQ(want, se.arcs);
	// Every stream byte is in a record the observer saw, on both sides.
	EXPECT_EQ(stream.size(), se.record_bytes);
	EXPECT_EQ(stream.size(), de.record_bytes);
	EXPECT_EQ(se.records, de.records);

	mlx5vf_mig_stats st = {};
	mlx5vf_core_dev_stats(src.dev, &st);
	EXPECT_EQ(stream.size(), st.last.stop_copy_bytes);
	EXPECT_EQ(0u, st.last.precopy_bytes);
	EXPECT_EQ(se.records, st.last.records_written);
	EXPECT_EQ(1u, st.total.migrations);
	EXPECT_EQ(1000u, st.last.suspend_ns); // two SUSPENDs, 500 ns each on this clock
	uint64_t saves = 0, save_bytes = 0;
	for (const auto &c : se.cmds) {
		if (c.kind == MLX5VF_FW_CMD_SAVE) {
			saves++;
			save_bytes += c.bytes;
		}
	}
	EXPECT_EQ(saves, st.last.save_chunks);
	EXPECT_GT(save_bytes, 0u);
	mlx5vf_core_dev_stats(dst.dev, &st);
	EXPECT_EQ(stream.size(), st.last.resume_bytes);
	EXPECT_EQ(de.records, st.last.records_read);
	EXPECT_EQ(saves, st.last.load_chunks);
	EXPECT_GT(st.last.load_ns, 0u);
}

} // namespace

namespace {

// Issue 9, item 5: the core tells the shim when it closes (detaches) a file it
// handed out, so the shim drops the data_fd's device reference then instead of
// diffing the attached files after every call.
struct Closed {
	std::vector<std::pair<mlx5vf_save_file *, mlx5vf_resume_file *>> files;
	size_t count(mlx5vf_save_file *s) const
	{
		size_t n = 0;
		for (const auto &f : files)
			n += f.first == s && !f.second;
		return n;
	}
	size_t count(mlx5vf_resume_file *r) const
	{
		size_t n = 0;
		for (const auto &f : files)
			n += f.second == r && !f.first;
		return n;
	}
};

void ev_file_closed(void *ctx, mlx5vf_save_file *save, mlx5vf_resume_file *resume)
{
	EXPECT_TRUE(!save != !resume) << "exactly one file per call";
	static_cast<Closed *>(ctx)->files.emplace_back(save, resume);
}

const mlx5vf_observer_ops kClosedObs = {.file_closed = ev_file_closed};

struct ClosingSide : CSide {
	Closed closed;
	void init(uint64_t seed)
	{
		obs = &kClosedObs;
		obs_ctx = &closed;
		CSide::init(3, seed);
	}
	// The file a set_state opened: the caller drops it (as a data_fd would),
	// after the core closed it.
	void drop_save()
	{
		mlx5vf_core_dev_forget_save(dev, save);
		mlx5vf_core_save_destroy(save);
		save = nullptr;
	}
	void drop_resume()
	{
		mlx5vf_core_dev_forget_resume(dev, resume);
		mlx5vf_core_resume_destroy(resume);
		resume = nullptr;
	}
};

TEST(AbiMigFileClosed, ArcsThatCloseAFileSayWhichOnce)
{
	ClosingSide s;
	s.init(1);
	// PRE_COPY -> STOP_COPY keeps the file; STOP_COPY -> STOP closes it.
	ASSERT_EQ(0, s.go(MLX5VF_MIG_PRE_COPY));
	mlx5vf_save_file *first = s.save;
	ASSERT_NE(nullptr, first);
	EXPECT_TRUE(s.closed.files.empty());
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP_COPY));
	EXPECT_EQ(first, s.save);
	EXPECT_TRUE(s.closed.files.empty());
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP));
	ASSERT_EQ(1u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(first));
	s.drop_save();
	EXPECT_EQ(1u, s.closed.files.size()); // dropping a closed file is no second close

	// PRE_COPY -> RUNNING closes the precopy file.
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RUNNING));
	ASSERT_EQ(0, s.go(MLX5VF_MIG_PRE_COPY));
	mlx5vf_save_file *second = s.save;
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RUNNING));
	ASSERT_EQ(2u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(second));
	s.drop_save();

	// RESUMING -> STOP closes the resuming file (here: an empty stream, refused).
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP));
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RESUMING));
	mlx5vf_resume_file *resume = s.resume;
	ASSERT_NE(nullptr, resume);
	EXPECT_NE(0, s.go(MLX5VF_MIG_STOP));
	ASSERT_EQ(3u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(resume));
	s.drop_resume();
	EXPECT_EQ(3u, s.closed.files.size());
}

TEST(AbiMigFileClosed, ResetAndCloseFilesSayWhichOnce)
{
	ClosingSide s;
	s.init(1);
	mlx5vf_core_dev_reset(s.dev); // no file: nothing to say
	mlx5vf_core_dev_close_files(s.dev);
	EXPECT_TRUE(s.closed.files.empty());

	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP_COPY));
	mlx5vf_save_file *save = s.save;
	mlx5vf_core_dev_reset(s.dev);
	ASSERT_EQ(1u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(save));
	mlx5vf_core_dev_reset(s.dev);
	mlx5vf_core_dev_close_files(s.dev);
	EXPECT_EQ(1u, s.closed.files.size());
	s.drop_save();

	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP));
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RESUMING));
	mlx5vf_resume_file *resume = s.resume;
	mlx5vf_core_dev_close_files(s.dev);
	ASSERT_EQ(2u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(resume));
	mlx5vf_core_dev_close_files(s.dev);
	EXPECT_EQ(2u, s.closed.files.size());
	s.drop_resume();

	mlx5vf_core_dev_reset(s.dev);
	ASSERT_EQ(0, s.go(MLX5VF_MIG_PRE_COPY));
	save = s.save;
	mlx5vf_core_dev_reset(s.dev); // a SAVE in flight: waited for, then closed
	ASSERT_EQ(3u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(save));
	s.drop_save();
	EXPECT_EQ(3u, s.closed.files.size());
}

TEST(AbiMigFileClosed, FailedArcsAndReleasedFdsSayWhichOnce)
{
	ClosingSide s;
	s.init(1);
	// A failing arc closes the device's files.
	ASSERT_EQ(0, s.go(MLX5VF_MIG_PRE_COPY));
	mlx5vf_save_file *save = s.save;
	ASSERT_EQ(0, mlx5vf_core_sim_inject_fault(s.sim, MLX5VF_SIM_SUSPEND, 1, MLX5VF_SIM_FAULT_ERROR));
	EXPECT_NE(0, s.go(MLX5VF_MIG_STOP_COPY));
	ASSERT_EQ(1u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(save));
	s.drop_save();
	EXPECT_EQ(1u, s.closed.files.size());

	// The fd of an attached file released (the shim could not wrap the file):
	// forgetting it closes it.
	mlx5vf_core_dev_reset(s.dev);
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP_COPY));
	save = s.save;
	s.drop_save();
	ASSERT_EQ(2u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(save));

	// The device goes with a file attached.
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP));
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RESUMING));
	mlx5vf_resume_file *resume = s.resume;
	mlx5vf_core_dev_destroy(s.dev);
	s.dev = nullptr;
	ASSERT_EQ(3u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(resume));
	mlx5vf_core_resume_destroy(resume);
	s.resume = nullptr;
}

// A signal during a state change's wait for the SAVE: -ERESTARTSYS through
// the C ABI, the state and the file untouched. A reset then waits whatever
// signal is pending and closes the file, once.
TEST(AbiMigFileClosed, InterruptedStateChangeClosesNothing)
{
	ClosingSide s;
	s.init(1);
	ASSERT_EQ(0, s.go(MLX5VF_MIG_PRE_COPY));
	mlx5vf_save_file *save = s.save;
	ASSERT_TRUE(mlx5vf_core_save_in_flight(save));
	s.pending.interrupt = true;
	EXPECT_EQ(-MLX5VF_ERESTARTSYS, s.go(MLX5VF_MIG_STOP_COPY));
	EXPECT_EQ(MLX5VF_MIG_PRE_COPY, mlx5vf_core_dev_state(s.dev));
	EXPECT_TRUE(mlx5vf_core_save_in_flight(save));
	EXPECT_EQ(0u, s.closed.files.size());
	mlx5vf_core_dev_reset(s.dev);
	s.pending.interrupt = false;
	EXPECT_FALSE(mlx5vf_core_save_in_flight(save));
	ASSERT_EQ(1u, s.closed.files.size());
	EXPECT_EQ(1u, s.closed.count(save));
	s.drop_save();
	EXPECT_EQ(1u, s.closed.files.size());
}

} // namespace

namespace {

// Issue 9, item 5 (c): every SAVE request carries the owner of the file it
// fills (what the backend pins while the SAVE is in flight), so the mlx5
// backend never asks the core which file is saving.
struct OwnerSeen {
	std::vector<void *> owners;
	std::vector<uint32_t> kinds;
};
OwnerSeen *g_seen;

int recording_save(void *ctx, const mlx5vf_fw_save_req *req, mlx5vf_fw_save_done *done)
{
	g_seen->owners.push_back(req->owner);
	g_seen->kinds.push_back(req->kind);
	return mlx5vf_sim_fw_ops.save(ctx, req, done);
}

TEST(AbiMigSaveOwner, EverySaveRequestCarriesItsFilesOwner)
{
	OwnerSeen seen;
	g_seen = &seen;
	mlx5vf_fw_ops ops = mlx5vf_sim_fw_ops;
	ops.save = recording_save;
	CSide s;
	s.fw_ops = &ops;
	s.init(3, 1);
	// The initial image, the final delta: the precopy file's owner.
	ASSERT_EQ(0, s.go(MLX5VF_MIG_PRE_COPY));
	std::vector<uint8_t> stream;
	EXPECT_EQ(-MLX5VF_ENOMSG, read_to_eof(s, stream));
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP_COPY));
	EXPECT_EQ(0, read_to_eof(s, stream));
	ASSERT_GE(seen.owners.size(), 2u);
	for (void *o : seen.owners)
		EXPECT_EQ(&s, o);
	// Another file, another owner: a precopy abandoned (its cleanup SAVE too).
	ASSERT_EQ(0, s.go(MLX5VF_MIG_STOP));
	mlx5vf_core_dev_forget_save(s.dev, s.save);
	mlx5vf_core_save_destroy(s.save);
	s.save = nullptr;
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RUNNING));
	int other = 0;
	seen.owners.clear();
	seen.kinds.clear();
	mlx5vf_save_file *sf = nullptr;
	mlx5vf_resume_file *rf = nullptr;
	ASSERT_EQ(0, mlx5vf_core_dev_set_state(s.dev, MLX5VF_MIG_PRE_COPY, &other, &sf, &rf));
	s.save = sf;
	ASSERT_EQ(0, s.go(MLX5VF_MIG_RUNNING));
	ASSERT_GE(seen.owners.size(), 2u);
	EXPECT_EQ(MLX5VF_FW_SAVE_CLEANUP, seen.kinds.back());
	for (void *o : seen.owners)
		EXPECT_EQ(&other, o);
	g_seen = nullptr;
}

} // namespace

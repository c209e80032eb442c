// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: whole migrations through the real mlx5 backend (src/shim/mlx5_fw.c)
 * and the real core, against the emulated PF of mlx5vf_emu.c. The backend is
 * driven as mig.c and mig_file.c drive it: mlx5vf_mlx5_init(), the core's
 * ABI under the device's state mutex, mlx5vf_mlx5_uninit().
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/mlx5/driver.h>
#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <mlx5vf/fw.h>
#include <mlx5vf/mig.h>
#include <mlx5vf/sim_wire.h>

#include "../src/shim/mlx5_fw.h"
#include "../src/shim/mlx5_seam.h"
#include "../src/shim/mlx5_track.h"
#include "../src/shim/mlx5vf.h"
#include "mlx5vf_emu.h"
#include "mlx5vf_kbuf_io.h"

#define STATE_SIZE 40960
#define MAX_CHUNK 8192

#define STREAM_MAX (512 * 1024)
/* Chunks of a whole-state image: 40960 bytes, 8128 per chunk (sim_image.h). */
#define FULL_CHUNKS DIV_ROUND_UP(STATE_SIZE, MAX_CHUNK - MLX5VF_SIM_WIRE_IMAGE_HEADER)

/* A chunked PF whose VF offers dirty-page tracking. */
static const struct mlx5vf_emu_config tracked_cfg = {
	.vhca_id = 7,
	.chunk_mode = true,
	.state_size = STATE_SIZE,
	.max_chunk = MAX_CHUNK,
	.seed = 1,
	.page_tracker = true,
};

struct eside {
	struct kunit *test;
	struct mlx5vf_emu *emu;
	struct mlx5vf_device mvdev;
	struct mlx5vf_mig_file owner; /* no data_fd: nothing to pin */
	struct mlx5vf_save_file *save;
	struct mlx5vf_resume_file *resume;
};

/* The emulator's misuse reports fail the test. */
static void side_emu_report(void *ctx, const char *msg)
{
	struct kunit *test = ctx;

	KUNIT_FAIL(test, "mlx5vf_emu: %s", msg);
}

static void side_init_cfg(struct kunit *test, struct eside *s,
			  const struct mlx5vf_emu_config *cfg)
{
	struct mlx5vf_emu_config reporting = *cfg;
	struct mlx5vf_emu_stats st;

	memset(s, 0, sizeof(*s));
	s->test = test;
	reporting.report = side_emu_report;
	reporting.report_ctx = test;
	s->emu = mlx5vf_emu_create(&reporting);
	KUNIT_ASSERT_NOT_NULL(test, s->emu);
	s->mvdev.dev = &mlx5vf_emu_vf(s->emu)->dev;
	mutex_init(&s->mvdev.state_mutex);
	spin_lock_init(&s->mvdev.reset_lock);
	init_waitqueue_head(&s->mvdev.mig_wq);
	s->owner.mvdev = &s->mvdev;
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_mlx5_init(&s->mvdev));
	KUNIT_ASSERT_NOT_NULL(test, s->mvdev.mig);
	mlx5vf_emu_stats(s->emu, &st);
	/* init holds the PF only while it sets up; it stays on the notifier chain. */
	KUNIT_EXPECT_EQ(test, 0, st.core_dev_refs);
	KUNIT_EXPECT_EQ(test, 1, st.notifiers);
}

static void side_init_mode(struct kunit *test, struct eside *s, u16 vhca_id, u8 seed, bool chunks)
{
	struct mlx5vf_emu_config cfg = {
		.vhca_id = vhca_id,
		.chunk_mode = chunks,
		.state_size = STATE_SIZE,
		.max_chunk = MAX_CHUNK,
		.seed = seed,
	};

	side_init_cfg(test, s, &cfg);
}

static void side_init(struct kunit *test, struct eside *s, u16 vhca_id, u8 seed)
{
	side_init_mode(test, s, vhca_id, seed, true);
}

static void side_drop_files(struct eside *s)
{
	mlx5vf_state_lock(&s->mvdev);
	if (s->save) {
		mlx5vf_core_dev_forget_save(s->mvdev.mig, s->save);
		mlx5vf_core_save_destroy(s->save);
		s->save = NULL;
	}
	if (s->resume) {
		mlx5vf_core_dev_forget_resume(s->mvdev.mig, s->resume);
		mlx5vf_core_resume_destroy(s->resume);
		s->resume = NULL;
	}
	mlx5vf_state_unlock(&s->mvdev);
}

/*
 * Tear down as release does; every firmware resource must be gone but the
 * buffers of SAVEs mlx5_core gave up on (leaked: their mkey, mapping and PD).
 */
static void side_fini_leaking(struct eside *s, unsigned int leaked_buffers, bool leaked_pages)
{
	struct mlx5vf_emu_stats st;

	side_drop_files(s);
	mlx5vf_mlx5_uninit(&s->mvdev);
	mlx5vf_emu_stats(s->emu, &st);
	KUNIT_EXPECT_EQ(s->test, leaked_buffers, st.mkeys_live);
	KUNIT_EXPECT_EQ(s->test, leaked_buffers ? 1u : 0u, st.pds_live);
	if (leaked_buffers || leaked_pages)
		KUNIT_EXPECT_GT(s->test, st.pages_mapped, 0u);
	else
		KUNIT_EXPECT_EQ(s->test, 0u, st.pages_mapped);
	KUNIT_EXPECT_EQ(s->test, 0, st.notifiers);
	KUNIT_EXPECT_EQ(s->test, 0, st.trackers_live);
	mlx5vf_emu_destroy(s->emu);
	mutex_destroy(&s->mvdev.state_mutex);
}

static void side_fini(struct eside *s)
{
	side_fini_leaking(s, 0, false);
}

static int side_go(struct eside *s, enum mlx5vf_mig_state target)
{
	struct mlx5vf_save_file *save = NULL;
	struct mlx5vf_resume_file *resume = NULL;
	int ret;

	mlx5vf_state_lock(&s->mvdev);
	ret = mlx5vf_core_dev_set_state(s->mvdev.mig, target, &s->owner, &save, &resume);
	mlx5vf_state_unlock(&s->mvdev);
	if (save) {
		side_drop_files(s);
		s->save = save;
	}
	if (resume)
		s->resume = resume;
	return ret;
}

/* VFIO_DEVICE_RESET: the VF's FLR, then the shim's reset_done. */
static void side_reset(struct eside *s)
{
	mlx5vf_emu_vf_flr(s->emu);
	mlx5vf_state_lock(&s->mvdev);
	mlx5vf_core_dev_reset(s->mvdev.mig);
	mlx5vf_state_unlock(&s->mvdev);
}

static enum mlx5vf_mig_state side_state(struct eside *s)
{
	enum mlx5vf_mig_state st;

	mlx5vf_state_lock(&s->mvdev);
	st = mlx5vf_core_dev_state(s->mvdev.mig);
	mlx5vf_state_unlock(&s->mvdev);
	return st;
}

/*
 * Read until ENOMSG (precopy), EOF (stop-copy) or an error, appending at
 * *len. A SAVE in flight (-EAGAIN) is waited for as a reader would.
 */
static long side_drain(struct eside *s, u8 *stream, size_t *len)
{
	struct kbuf_io k;
	int idle = 0;
	long n;

	for (;;) {
		kbuf_init(&k, stream + *len, min_t(size_t, STREAM_MAX - *len, 5000));
		mlx5vf_state_lock(&s->mvdev);
		n = mlx5vf_core_save_read(s->save, &k.io, k.cap);
		mlx5vf_state_unlock(&s->mvdev);
		if (n > 0) {
			*len += n;
			idle = 0;
			continue;
		}
		if (n != -EAGAIN || ++idle > 200)
			return n;
		mlx5vf_emu_flush(s->emu);
		usleep_range(1000, 2000);
	}
}

static long side_feed(struct eside *s, u8 *stream, size_t from, size_t to)
{
	struct kbuf_io k;
	long n;

	while (from < to) {
		size_t chunk = min_t(size_t, 3000, to - from);

		kbuf_init(&k, stream + from, chunk);
		mlx5vf_state_lock(&s->mvdev);
		n = mlx5vf_core_dev_resume_write(s->mvdev.mig, s->resume, &k.io, chunk);
		mlx5vf_state_unlock(&s->mvdev);
		if (n < 0)
			return n;
		from += chunk;
	}
	return 0;
}

static void stream_free(void *stream)
{
	kvfree(stream);
}

static u8 *stream_alloc(struct kunit *test)
{
	u8 *stream = kvzalloc(STREAM_MAX, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, stream);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, stream_free, stream));
	return stream;
}

/* A whole stop-copy migration from src to dst; the states must match after. */
static void stop_copy_to(struct kunit *test, struct eside *src, struct eside *dst, u8 *stream)
{
	size_t len = 0;

	KUNIT_ASSERT_EQ(test, 0, side_go(src, MLX5VF_MIG_STOP_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_drain(src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_go(dst, MLX5VF_MIG_RESUMING));
	KUNIT_ASSERT_EQ(test, 0, side_feed(dst, stream, 0, len));
	KUNIT_ASSERT_EQ(test, 0, side_go(dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_emu_state_sum(src->emu), mlx5vf_emu_state_sum(dst->emu));
}

/*
 * The state checksum is what says that state arrived (here and in the VM's
 * tests/vm/12-mlx5-emu.t), so it must tell states apart: a polynomial sum
 * with multiplier 31 over the VM's 256 KiB gives seeds 0 and 0x5a the same
 * value, and any history of 64-byte writes nearly the same.
 */
static void state_sum_tells_states_apart(struct kunit *test)
{
	struct mlx5vf_emu_config cfg = {
		.vhca_id = 7,
		.state_size = SZ_256K,
		.max_chunk = SZ_64K,
		.report = side_emu_report,
		.report_ctx = test,
	};
	struct mlx5vf_emu *a, *b;
	u64 sum;

	a = mlx5vf_emu_create(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, a);
	cfg.seed = 0x5a;
	cfg.vhca_id = 9;
	b = mlx5vf_emu_create(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, b);
	KUNIT_EXPECT_NE(test, mlx5vf_emu_state_sum(a), mlx5vf_emu_state_sum(b));
	sum = mlx5vf_emu_state_sum(a);
	mlx5vf_emu_vf_write(a, SZ_256K - 64, 64, 0x11);
	KUNIT_EXPECT_NE(test, sum, mlx5vf_emu_state_sum(a));
	mlx5vf_emu_destroy(b);
	mlx5vf_emu_destroy(a);
}

/*
 * QEMU resets a destination whose stream failed, then resumes the stream
 * [0, len) again: the destination must end with the source's state.
 */
static void resume_again_after_reset(struct kunit *test, struct eside *src, struct eside *dst,
				     u8 *stream, size_t len)
{
	side_drop_files(dst);
	side_reset(dst);
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RUNNING, side_state(dst));
	KUNIT_ASSERT_EQ(test, 0, side_go(dst, MLX5VF_MIG_RESUMING));
	KUNIT_ASSERT_EQ(test, 0, side_feed(dst, stream, 0, len));
	KUNIT_ASSERT_EQ(test, 0, side_go(dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_emu_state_sum(src->emu), mlx5vf_emu_state_sum(dst->emu));
}

/*
 * A byte of the device image flipped in transit: the stream has no checksum
 * over FW_DATA, the simulated firmware's image has its own, so the
 * destination VHCA refuses that LOAD with a status the backend reports. The
 * destination is still usable: after its reset the intact stream migrates.
 */
static void corrupt_image_is_refused_by_the_vhca(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	size_t len = 0;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_GT(test, len, (size_t)STATE_SIZE);
	/* Inside the last chunk's state bytes. */
	stream[len - 100] ^= 0x40;
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	KUNIT_EXPECT_LT(test, side_feed(&dst, stream, 0, len), 0L);
	mlx5vf_emu_stats(dst.emu, &st);
	KUNIT_EXPECT_STREQ(test, "corrupt", st.load_refusal ?: "(none)");
	KUNIT_EXPECT_EQ(test, 1u, st.out_err_calls);

	stream[len - 100] ^= 0x40;
	resume_again_after_reset(test, &src, &dst, stream, len);
	side_fini(&src);
	side_fini(&dst);
}

/* (b) STOP -> STOP_COPY without precopy, the image in chunks. */
static void stop_copy_chunked_image_arrives_whole(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats sst, dst_st;
	struct eside src, dst;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_NE(test, mlx5vf_emu_state_sum(src.emu), mlx5vf_emu_state_sum(dst.emu));
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP));
	stop_copy_to(test, &src, &dst, stream);
	mlx5vf_emu_stats(src.emu, &sst);
	mlx5vf_emu_stats(dst.emu, &dst_st);
	/* One image of FULL_CHUNKS SAVEs, every one after the first a continuation. */
	KUNIT_EXPECT_EQ(test, (u32)FULL_CHUNKS - 1, sst.continuation_saves);
	KUNIT_EXPECT_EQ(test, 0u, sst.continuation_bad_bits);
	KUNIT_EXPECT_EQ(test, 0u, sst.images_restarted);
	KUNIT_EXPECT_GE(test, dst_st.loads, (u32)FULL_CHUNKS);
	side_fini(&src);
	side_fini(&dst);
}

/* (a) Precopy rounds over a dirtying VF, then stop-copy; chunked throughout. */
static void precopy_chunked_rounds_reproduce_state(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats sst;
	struct eside src, dst;
	u64 initial, dirty;
	size_t len = 0, fed = 0;
	u32 flags;
	int round;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	for (round = 0; round < 3; round++) {
		mlx5vf_state_lock(&src.mvdev);
		KUNIT_ASSERT_EQ(test, 0,
				mlx5vf_core_dev_precopy_info(src.mvdev.mig, src.save, false, &flags,
							     &initial, &dirty));
		mlx5vf_state_unlock(&src.mvdev);
		KUNIT_EXPECT_EQ(test, -ENOMSG, side_drain(&src, stream, &len));
		KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
		fed = len;
		/* More than a chunk dirty: the incremental image spans SAVEs too. */
		mlx5vf_emu_vf_write(src.emu, 1000 + round * 3000, 10000, 0xa0 + round);
	}
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY_P2P));
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_EXPECT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_emu_state_sum(src.emu), mlx5vf_emu_state_sum(dst.emu));
	mlx5vf_emu_stats(src.emu, &sst);
	/* The initial image's continuations and at least one incremental image's. */
	KUNIT_EXPECT_GE(test, sst.continuation_saves, (u32)FULL_CHUNKS);
	KUNIT_EXPECT_EQ(test, 0u, sst.continuation_bad_bits);
	KUNIT_EXPECT_EQ(test, 0u, sst.images_restarted);
	side_fini(&src);
	side_fini(&dst);
}

static u32 wait_out_err(struct mlx5vf_emu *emu, u32 calls)
{
	struct mlx5vf_emu_stats st;
	int i;

	/* The backend prints a SAVE's syndrome from a work item. */
	for (i = 0; i < 200; i++) {
		mlx5vf_emu_stats(emu, &st);
		if (st.out_err_calls >= calls)
			break;
		usleep_range(10000, 20000);
	}
	return st.out_err_calls;
}

/* The syndrome the core's statistics kept (out of line: the callers' frames are full). */
static noinline_for_stack u32 side_last_syndrome(struct eside *s)
{
	struct mlx5vf_mig_stats ms;

	mlx5vf_state_lock(&s->mvdev);
	mlx5vf_core_dev_stats(s->mvdev.mig, &ms);
	mlx5vf_state_unlock(&s->mvdev);
	return ms.last.last_error_syndrome;
}

/* (c) A SAVE failing with a syndrome: a precise errno, the syndrome logged, usable. */
static void save_syndrome_surfaces_and_device_recovers(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	size_t len = 0;
	long ret;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	mlx5vf_emu_fail_next(src.emu, MLX5_CMD_OP_SAVE_VHCA_STATE, MLX5_CMD_STAT_BAD_PARAM_ERR,
			     0x5a5a5a);
	ret = side_go(&src, MLX5VF_MIG_STOP_COPY);
	if (!ret)
		ret = side_drain(&src, stream, &len);
	/* The file is broken (the core's ENODEV); the syndrome is kept and logged. */
	KUNIT_EXPECT_EQ(test, -ENODEV, ret);
	KUNIT_EXPECT_EQ(test, 1u, wait_out_err(src.emu, 1));
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_EQ(test, 0x5a5a5au, st.out_err_syndrome);
	KUNIT_EXPECT_EQ(test, 0x5a5a5au, side_last_syndrome(&src));

	/* QEMU's recovery: back to RUNNING, else reset; then migrate again. */
	side_drop_files(&src);
	if (side_go(&src, MLX5VF_MIG_RUNNING))
		side_reset(&src);
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RUNNING, side_state(&src));
	stop_copy_to(test, &src, &dst, stream);
	side_fini(&src);
	side_fini(&dst);
}

/* (c) A synchronous command failing: mlx5_core's errno for the status, usable. */
static void suspend_syndrome_is_precise_errno(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	/* BAD_SYS_STATE: -EIO in mlx5_core; RES_BUSY would be -EBUSY. */
	mlx5vf_emu_fail_next(src.emu, MLX5_CMD_OP_SUSPEND_VHCA, MLX5_CMD_STAT_RES_BUSY, 0x777);
	KUNIT_EXPECT_EQ(test, -EBUSY, side_go(&src, MLX5VF_MIG_STOP));
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.out_err_calls);
	KUNIT_EXPECT_EQ(test, 0x777u, st.out_err_syndrome);
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RUNNING, side_state(&src));
	stop_copy_to(test, &src, &dst, stream);
	side_fini(&src);
	side_fini(&dst);
}

/*
 * (d) mlx5_core gives up on the SAVE (-ETIMEDOUT). The firmware may still
 * finish it later: whatever its buffer is by then must not be ours to use.
 */
static void save_timeout_keeps_buffer_from_reuse(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	size_t len = 0;
	long ret;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	mlx5vf_emu_hold_async(src.emu, true);
	ret = side_go(&src, MLX5VF_MIG_STOP_COPY);
	KUNIT_ASSERT_EQ(test, 0, ret);
	KUNIT_ASSERT_TRUE(test, mlx5vf_emu_async_held(src.emu));
	mlx5vf_emu_hold_async(src.emu, false);
	mlx5vf_emu_complete_held(src.emu, -ETIMEDOUT);
	ret = side_drain(&src, stream, &len);
	KUNIT_EXPECT_EQ(test, -ENODEV, ret);

	/* Recover and migrate again while the given-up SAVE is still out there. */
	if (side_go(&src, MLX5VF_MIG_RUNNING))
		side_reset(&src);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	/* The firmware finishes the SAVE it was given, now. */
	mlx5vf_emu_late_save(src.emu);
	len = 0;
	KUNIT_ASSERT_EQ(test, 0, side_drain(&src, stream, &len));
	mlx5vf_emu_stats(src.emu, &st);
	/* No new SAVE may go into the mkey the given-up one still targets. */
	KUNIT_EXPECT_EQ(test, 0u, st.saves_into_given_up_mkey);
	/* The late write lands in the given-up buffer, which nobody frees. */
	KUNIT_EXPECT_GT(test, st.late_writes, 0u);
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, 0, len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_emu_state_sum(src.emu), mlx5vf_emu_state_sum(dst.emu));
	side_fini_leaking(&src, 1, false);
	side_fini(&dst);
}

/* (e) The PF disables the VF while a SAVE is in flight, then enables it again. */
static void pf_detach_mid_save_releases_and_reattaches(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	size_t len = 0;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	mlx5vf_emu_hold_async(src.emu, true);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_ASSERT_TRUE(test, mlx5vf_emu_async_held(src.emu));
	mlx5vf_emu_hold_async(src.emu, false);
	/* The firmware answers the SAVE 100 ms into the PF's teardown. */
	KUNIT_EXPECT_EQ(test, 0, mlx5vf_emu_pf_event(src.emu, MLX5_PF_NOTIFY_DISABLE_VF, 100));
	KUNIT_EXPECT_FALSE(test, mlx5vf_emu_async_held(src.emu));
	mlx5vf_emu_stats(src.emu, &st);
	/* Detached: every buffer, its mkey and the PD released. */
	KUNIT_EXPECT_EQ(test, 0u, st.mkeys_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pages_mapped);
	KUNIT_EXPECT_LT(test, side_drain(&src, stream, &len), 0L);
	side_drop_files(&src);

	KUNIT_EXPECT_EQ(test, 0, mlx5vf_emu_pf_event(src.emu, MLX5_PF_NOTIFY_ENABLE_VF, 0));
	if (side_go(&src, MLX5VF_MIG_RUNNING))
		side_reset(&src);
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RUNNING, side_state(&src));
	stop_copy_to(test, &src, &dst, stream);
	side_fini(&src);
	side_fini(&dst);
}

/* (c) LOAD failing with a syndrome: the write fails with mlx5_core's errno. */
static void load_syndrome_fails_write_and_destination_recovers(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	size_t len = 0;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	mlx5vf_emu_fail_next(dst.emu, MLX5_CMD_OP_LOAD_VHCA_STATE, MLX5_CMD_STAT_BAD_RES_STATE_ERR,
			     0x10ad);
	KUNIT_EXPECT_EQ(test, -EINVAL, side_feed(&dst, stream, 0, len));
	mlx5vf_emu_stats(dst.emu, &st);
	KUNIT_EXPECT_EQ(test, 0x10adu, st.out_err_syndrome);
	resume_again_after_reset(test, &src, &dst, stream, len);
	side_fini(&src);
	side_fini(&dst);
}

/* A PF without migration_in_chunks: every image in one SAVE, unchunked queries. */
static void unchunked_precopy_migrates(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats sst;
	struct eside src, dst;
	u64 initial, dirty;
	size_t len = 0, fed = 0;
	u32 flags;

	side_init_mode(test, &src, 7, 1, false);
	side_init_mode(test, &dst, 9, 2, false);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	KUNIT_EXPECT_EQ(test, -ENOMSG, side_drain(&src, stream, &len));
	mlx5vf_emu_vf_write(src.emu, 30000, 9000, 0x5e);
	mlx5vf_state_lock(&src.mvdev);
	KUNIT_ASSERT_EQ(test, 0,
			mlx5vf_core_dev_precopy_info(src.mvdev.mig, src.save, false, &flags,
						     &initial, &dirty));
	mlx5vf_state_unlock(&src.mvdev);
	KUNIT_EXPECT_EQ(test, -ENOMSG, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
	fed = len;
	mlx5vf_emu_vf_write(src.emu, 64, 100, 0x11);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_EXPECT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_emu_state_sum(src.emu), mlx5vf_emu_state_sum(dst.emu));
	mlx5vf_emu_stats(src.emu, &sst);
	KUNIT_EXPECT_EQ(test, 0u, sst.continuation_saves);
	KUNIT_EXPECT_GE(test, sst.saves, 3u);
	side_fini(&src);
	side_fini(&dst);
}

/*
 * Rule 14: a precopy delta's SAVE fails with BAD_RES_STATE, the firmware
 * lost tracking. The migration goes on: the final image is a full one (an
 * untracked full SAVE, which a VHCA still tracking would take for the
 * cleanup and send a bare header), and the destination ends equal.
 */
static void precopy_tracking_lost_sends_full_final_image(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	u64 initial, dirty;
	size_t len = 0, fed = 0;
	u32 flags;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	KUNIT_EXPECT_EQ(test, -ENOMSG, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
	fed = len;
	mlx5vf_emu_vf_write(src.emu, 9000, 5000, 0x3c);
	mlx5vf_emu_fail_next(src.emu, MLX5_CMD_OP_SAVE_VHCA_STATE,
			     MLX5_CMD_STAT_BAD_RES_STATE_ERR, 0xbad5);
	mlx5vf_state_lock(&src.mvdev);
	KUNIT_ASSERT_EQ(test, 0,
			mlx5vf_core_dev_precopy_info(src.mvdev.mig, src.save, false, &flags,
						     &initial, &dirty));
	mlx5vf_state_unlock(&src.mvdev);
	side_drain(&src, stream, &len);
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_FALSE(test, st.tracking);
	mlx5vf_emu_vf_write(src.emu, 20000, 100, 0x3d);
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
	fed = len;
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_EXPECT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_emu_state_sum(src.emu), mlx5vf_emu_state_sum(dst.emu));
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_EQ(test, 0u, st.cleanups);
	side_fini(&src);
	side_fini(&dst);
}

/*
 * PRE_COPY abandoned mid-image (back to RUNNING): one cleanup SAVE ends the
 * VHCA's tracking, and the next migration starts from a full image.
 */
static void abandoned_precopy_cleans_up_tracking(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	struct kbuf_io k;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY));
	/* One read: the initial image's first chunk, more chunks to come. */
	kbuf_init(&k, stream, 5000);
	mlx5vf_emu_flush(src.emu);
	mlx5vf_state_lock(&src.mvdev);
	KUNIT_EXPECT_GT(test, mlx5vf_core_save_read(src.save, &k.io, k.cap), 0L);
	mlx5vf_state_unlock(&src.mvdev);
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_TRUE(test, st.tracking);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_RUNNING));
	mlx5vf_emu_flush(src.emu);
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.cleanups);
	KUNIT_EXPECT_FALSE(test, st.tracking);
	side_drop_files(&src);
	stop_copy_to(test, &src, &dst, stream);
	side_fini(&src);
	side_fini(&dst);
}

/* A buffer whose CREATE_MKEY fails unwinds its pages and the PD; nothing leaks. */
static void create_mkey_failure_unwinds(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;
	int ret;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	mlx5vf_emu_fail_next(src.emu, MLX5_CMD_OP_CREATE_MKEY, MLX5_CMD_STAT_LIM_ERR, 0x3c3c);
	ret = side_go(&src, MLX5VF_MIG_STOP_COPY);
	KUNIT_EXPECT_EQ(test, -ENOMEM, ret);
	side_drop_files(&src);
	if (side_go(&src, MLX5VF_MIG_RUNNING))
		side_reset(&src);
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_EXPECT_EQ(test, 0u, st.mkeys_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pages_mapped);
	stop_copy_to(test, &src, &dst, stream);
	side_fini(&src);
	side_fini(&dst);
}

/*
 * A buffer leaks (DESTROY_MKEY fails) and keeps its PD; the PF then reloads,
 * which ends that PD in firmware. The next buffers must get a new PD, not
 * the stale number.
 */
static void pf_reload_after_leak_allocates_new_pd(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats st;
	struct eside src, dst;

	side_init(test, &src, 7, 1);
	side_init(test, &dst, 9, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	mlx5vf_emu_flush(src.emu);
	mlx5vf_emu_fail_next(src.emu, MLX5_CMD_OP_DESTROY_MKEY, MLX5_CMD_STAT_INT_ERR, 0x4d4d);
	side_drop_files(&src);
	if (side_go(&src, MLX5VF_MIG_RUNNING))
		side_reset(&src);
	mlx5vf_emu_stats(src.emu, &st);
	KUNIT_ASSERT_EQ(test, 1u, st.mkeys_live);
	KUNIT_ASSERT_EQ(test, 1u, st.pds_live);

	KUNIT_ASSERT_EQ(test, 0, mlx5vf_emu_pf_reload(src.emu));
	stop_copy_to(test, &src, &dst, stream);
	side_drop_files(&src);
	mlx5vf_mlx5_uninit(&src.mvdev);
	mlx5vf_emu_stats(src.emu, &st);
	/* The leaked buffer's pages stay mapped; everything since is released. */
	KUNIT_EXPECT_EQ(test, 0u, st.mkeys_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0, st.notifiers);
	mlx5vf_emu_destroy(src.emu);
	mutex_destroy(&src.mvdev.state_mutex);
	side_fini(&dst);
}

/*
 * The last release comes after the VF was removed (a data_fd held it): the
 * PF's chain must not keep our notifier_block, or the chain would call into
 * this module after rmmod.
 */
static void release_after_vf_removal_leaves_pf_chain(struct kunit *test)
{
	struct eside src;

	side_init(test, &src, 7, 1);
	mlx5vf_emu_vf(src.emu)->dev.kobj.state_in_sysfs = 0;
	side_fini(&src);
}

/*
 * On a DMA-coherent PF the backend syncs nothing: no per-page work in the
 * SAVE completion (atomic context) nor anywhere else. The same migration
 * on a non-coherent PF syncs every page it hands over, both ways.
 */
static void coherent_dma_needs_no_syncs(struct kunit *test)
{
	struct mlx5vf_emu_config cfg = {
		.vhca_id = 7,
		.chunk_mode = true,
		.state_size = STATE_SIZE,
		.max_chunk = MAX_CHUNK,
		.seed = 1,
		.dma_coherent = true,
	};
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats sst, dst_st;
	struct eside src, dst;

	side_init_cfg(test, &src, &cfg);
	side_init(test, &dst, 9, 2);
	stop_copy_to(test, &src, &dst, stream);
	mlx5vf_emu_stats(src.emu, &sst);
	mlx5vf_emu_stats(dst.emu, &dst_st);
	kunit_info(test, "syncs: coherent source %u, non-coherent destination %u (%u loads)",
		   sst.dma_syncs, dst_st.dma_syncs, dst_st.loads);
	KUNIT_EXPECT_EQ(test, 0u, sst.dma_syncs);
	KUNIT_EXPECT_GT(test, dst_st.dma_syncs, 0u);
	side_fini(&src);
	side_fini(&dst);
}

/*
 * (4g) A buffer is one sg_table mapped by one call, however many pages it
 * has, and its mkey's MTT is read from that mapping. Unchunked, a SAVE
 * buffer holds the whole state (ten pages), and so does a LOAD buffer.
 */
static void buffer_maps_in_one_call(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	struct mlx5vf_emu_stats sst, dst_st;
	struct eside src, dst;

	side_init_mode(test, &src, 7, 1, false);
	side_init_mode(test, &dst, 9, 2, false);
	stop_copy_to(test, &src, &dst, stream);
	mlx5vf_emu_stats(src.emu, &sst);
	mlx5vf_emu_stats(dst.emu, &dst_st);
	kunit_info(test, "buffers (largest), map calls: source %u (%u pages), %u; destination %u (%u), %u",
		   sst.mkeys_created, sst.mkey_pages_max, sst.dma_map_calls,
		   dst_st.mkeys_created, dst_st.mkey_pages_max, dst_st.dma_map_calls);
	KUNIT_EXPECT_GT(test, sst.mkeys_created, 0u);
	KUNIT_EXPECT_GT(test, dst_st.mkeys_created, 0u);
	KUNIT_EXPECT_GT(test, sst.mkey_pages_max, 1u);
	KUNIT_EXPECT_GT(test, dst_st.mkey_pages_max, 1u);
	KUNIT_EXPECT_EQ(test, sst.mkeys_created, sst.dma_map_calls);
	KUNIT_EXPECT_EQ(test, dst_st.mkeys_created, dst_st.dma_map_calls);
	side_fini(&src);
	side_fini(&dst);
}

static void count_dirty(struct mlx5vf_dirty_bitmap *bm, uint64_t iova, uint64_t length)
{
}

struct report_thread {
	struct eside *side;
	struct completion done;
	int ret;
};

/* A VFIO DMA-logging report, as the ioctl makes it: under the state mutex. */
static int report_thread_fn(void *data)
{
	struct report_thread *r = data;
	struct mlx5vf_dirty_bitmap bm = { .set = count_dirty };

	allow_signal(SIGKILL); /* end_report_thread() */
	mlx5vf_state_lock(&r->side->mvdev);
	r->ret = mlx5vf_core_dev_log_report(r->side->mvdev.mig, 0, 1ull << 30, &bm);
	mlx5vf_state_unlock(&r->side->mvdev);
	complete(&r->done);
	return 0;
}

/*
 * (4f) DISABLE_VF comes under the PF's devlink and interface locks: it must
 * not wait for a dirty report that keeps going (firmware still sending). The
 * backend aborts the running report first; the report fails, the tracker
 * goes with the detach.
 */
static void pf_detach_aborts_running_report(struct kunit *test)
{
	const struct mlx5vf_iova_range range = { .iova = 0, .length = 1ull << 30 };
	struct report_thread r = { .ret = 1 };
	struct task_struct *task;
	struct mlx5vf_emu_stats st;
	unsigned long start, took;
	u64 page_size = 4096; /* asked for; the one in use comes back */
	struct eside s;

	side_init_cfg(test, &s, &tracked_cfg);
	mlx5vf_state_lock(&s.mvdev);
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_log_start(s.mvdev.mig, &range, 1, &page_size));
	mlx5vf_state_unlock(&s.mvdev);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_ASSERT_EQ(test, 1, st.trackers_live);

	r.side = &s;
	init_completion(&r.done);
	mlx5vf_emu_hold_report(s.emu, true);
	task = kthread_run(report_thread_fn, &r, "mlx5vf-report");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	KUNIT_EXPECT_TRUE(test, mlx5vf_emu_wait_report_running(s.emu, 30000));

	start = jiffies;
	KUNIT_EXPECT_EQ(test, 0, mlx5vf_emu_pf_event(s.emu, MLX5_PF_NOTIFY_DISABLE_VF, 0));
	took = jiffies - start;
	kunit_info(test, "DISABLE_VF returned after %u ms", jiffies_to_msecs(took));
	wait_for_completion(&r.done);
	mlx5vf_emu_hold_report(s.emu, false);
	/*
	 * The held report ends only when aborted (mlx5vf_track_abort():
	 * -ECANCELED, which the core reports as a failure) or, should the
	 * detach wait for it instead, by the tracker's own give-up after 30 s
	 * without a message: how it ended is the test, not how long the
	 * detach took. Either way the object went mid-report.
	 */
	KUNIT_EXPECT_LT(test, r.ret, 0);
	KUNIT_EXPECT_LT(test, jiffies_to_msecs(jiffies - start), 10000u);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.reports_cut);
	KUNIT_EXPECT_EQ(test, 0, st.trackers_live);
	KUNIT_EXPECT_EQ(test, 0u, st.qps_live);
	KUNIT_EXPECT_EQ(test, 0u, st.cqs_live);

	KUNIT_EXPECT_EQ(test, 0, mlx5vf_emu_pf_event(s.emu, MLX5_PF_NOTIFY_ENABLE_VF, 0));
	mlx5vf_state_lock(&s.mvdev);
	mlx5vf_core_dev_log_stop(s.mvdev.mig);
	mlx5vf_state_unlock(&s.mvdev);
	side_fini(&s);
}

/*
 * (4h) Tracker setup fails and firmware keeps some of its objects (their
 * DESTROY failed) in the PD: the PD must stay allocated, not go back to
 * firmware with objects in it (the emulator fails the test on such a
 * DEALLOC_PD). A PF reload ends it; tracking then works on a new PD.
 */
static void track_create_failure_keeps_busy_pd(struct kunit *test)
{
	const struct mlx5vf_iova_range range = { .iova = 0, .length = 1ull << 30 };
	u64 page_size = 4096;
	struct mlx5vf_emu_stats st;
	struct eside s;

	side_init_cfg(test, &s, &tracked_cfg);
	mlx5vf_emu_track_fail_keeping_pd(s.emu);
	mlx5vf_state_lock(&s.mvdev);
	KUNIT_EXPECT_EQ(test, -EINVAL,
			mlx5vf_core_dev_log_start(s.mvdev.mig, &range, 1, &page_size));
	mlx5vf_state_unlock(&s.mvdev);
	mlx5vf_emu_stats(s.emu, &st);
	/* The host QP, and the CQ it completes on (firmware refuses that DESTROY). */
	KUNIT_EXPECT_EQ(test, 2u, st.track_objs_kept);
	KUNIT_EXPECT_EQ(test, 1u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0, st.trackers_live);

	KUNIT_ASSERT_EQ(test, 0, mlx5vf_emu_pf_reload(s.emu));
	page_size = 4096;
	mlx5vf_state_lock(&s.mvdev);
	KUNIT_EXPECT_EQ(test, 0, mlx5vf_core_dev_log_start(s.mvdev.mig, &range, 1, &page_size));
	mlx5vf_state_unlock(&s.mvdev);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 1, st.trackers_live);
	mlx5vf_state_lock(&s.mvdev);
	mlx5vf_core_dev_log_stop(s.mvdev.mig);
	mlx5vf_state_unlock(&s.mvdev);
	/* The failed tracker's memory stays leaked, and mapped: firmware could reach it. */
	side_fini_leaking(&s, 0, true);
}

/* What a report set: how many bytes, from where to where. */
struct dirty_sum {
	struct mlx5vf_dirty_bitmap bm;
	u64 bytes, lo, hi;
};

static void sum_dirty(struct mlx5vf_dirty_bitmap *bm, uint64_t iova, uint64_t length)
{
	struct dirty_sum *d = container_of(bm, struct dirty_sum, bm);

	d->lo = d->bytes ? min(d->lo, iova) : iova;
	d->hi = max(d->hi, iova + length);
	d->bytes += length;
}

static u64 report_all(struct eside *s, struct dirty_sum *d)
{
	int ret;

	*d = (struct dirty_sum){ .bm.set = sum_dirty };
	mlx5vf_state_lock(&s->mvdev);
	ret = mlx5vf_core_dev_log_report(s->mvdev.mig, 0, 1ull << 30, &d->bm);
	mlx5vf_state_unlock(&s->mvdev);
	KUNIT_EXPECT_EQ(s->test, 0, ret);
	return d->bytes;
}

/*
 * The tracker (mlx5_track.c over the emulated firmware's) reports the guest
 * pages the VF wrote while tracked (the VM's module writes through VFIO):
 * each page once, nothing written before tracking started.
 */
static void written_guest_pages_reported_once(struct kunit *test)
{
	const struct mlx5vf_iova_range range = { .iova = 0, .length = 1ull << 30 };
	u64 page_size = 4096;
	struct mlx5vf_emu_stats st;
	struct dirty_sum d;
	struct eside s;

	side_init_cfg(test, &s, &tracked_cfg);
	mlx5vf_emu_vf_dma_written(s.emu, 0x3000, 1024); /* untracked: never reported */
	mlx5vf_state_lock(&s.mvdev);
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_log_start(s.mvdev.mig, &range, 1, &page_size));
	mlx5vf_state_unlock(&s.mvdev);
	KUNIT_ASSERT_EQ(test, 4096ull, page_size);
	mlx5vf_emu_vf_dma_written(s.emu, 0x5000 + 100, 1024);
	mlx5vf_emu_vf_dma_written(s.emu, 0x7800, 4096); /* pages 7 and 8 */
	mlx5vf_emu_vf_dma_written(s.emu, 0x5400, 1024); /* page 5 again */
	KUNIT_EXPECT_EQ(test, 3ull * 4096, report_all(&s, &d));
	KUNIT_EXPECT_EQ(test, 0x5000ull, d.lo);
	KUNIT_EXPECT_EQ(test, 0x9000ull, d.hi);
	KUNIT_EXPECT_EQ(test, 0ull, report_all(&s, &d));
	/* The negative control: a written page cleared, never reported. */
	mlx5vf_emu_lose_dirty(s.emu, true);
	mlx5vf_emu_vf_dma_written(s.emu, 0xa000, 1024);
	KUNIT_EXPECT_EQ(test, 0ull, report_all(&s, &d));
	mlx5vf_emu_lose_dirty(s.emu, false);
	KUNIT_EXPECT_EQ(test, 0ull, report_all(&s, &d));
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 3u, st.dirty_pages_reported);
	KUNIT_EXPECT_EQ(test, 1u, st.dirty_pages_lost);
	KUNIT_EXPECT_EQ(test, 0u, st.misuses);
	mlx5vf_state_lock(&s.mvdev);
	mlx5vf_core_dev_log_stop(s.mvdev.mig);
	mlx5vf_state_unlock(&s.mvdev);
	side_fini(&s);
}

/* ---- The real tracker (mlx5_track.c) over the emulated firmware tracker ---- */

#define TRACK_SPAN BIT_ULL(30)
#define TRACK_PAGES (TRACK_SPAN >> 12)
/* A small report channel: 8 slots of 64 bytes (8 pages each), an 8-entry CQ. */
#define SMALL_SLOTS 8
#define SMALL_ENTRIES 8

static const struct mlx5vf_emu_config small_ring_cfg = {
	.vhca_id = 7,
	.chunk_mode = true,
	.state_size = STATE_SIZE,
	.max_chunk = MAX_CHUNK,
	.seed = 1,
	.page_tracker = true,
	.track_log_max_queue = 3,
	.track_log_max_msg = 6,
};

static int track_start(struct eside *s)
{
	const struct mlx5vf_iova_range range = { .iova = 0, .length = TRACK_SPAN };
	u64 page_size = 4096;
	int ret;

	mlx5vf_state_lock(&s->mvdev);
	ret = mlx5vf_core_dev_log_start(s->mvdev.mig, &range, 1, &page_size);
	mlx5vf_state_unlock(&s->mvdev);
	if (!ret)
		KUNIT_EXPECT_EQ(s->test, 4096ull, page_size);
	return ret;
}

static void track_stop(struct eside *s)
{
	mlx5vf_state_lock(&s->mvdev);
	mlx5vf_core_dev_log_stop(s->mvdev.mig);
	mlx5vf_state_unlock(&s->mvdev);
}

/* Nothing of a tracker left: no object, queue, doorbell, UAR, mkey or mapping. */
static void expect_no_tracker(struct eside *s)
{
	struct mlx5vf_emu_stats st;

	mlx5vf_emu_stats(s->emu, &st);
	KUNIT_EXPECT_EQ(s->test, 0, st.trackers_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.qps_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.cqs_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.uars_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.dbs_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.frag_bufs_live);
	KUNIT_EXPECT_EQ(s->test, 0, st.eq_notifiers);
	KUNIT_EXPECT_EQ(s->test, 0u, st.mkeys_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.pages_mapped);
	KUNIT_EXPECT_EQ(s->test, 0u, st.pds_live);
	KUNIT_EXPECT_EQ(s->test, 0u, st.misuses);
}

/* Which pages a report set, one bit per 4 KiB page of TRACK_SPAN. */
struct dirty_pages {
	struct mlx5vf_dirty_bitmap bm;
	unsigned long *bits;
	u64 pages; /* as many as set() covered, overlaps counted twice */
	bool outside;
};

static void set_pages(struct mlx5vf_dirty_bitmap *bm, uint64_t iova, uint64_t length)
{
	struct dirty_pages *d = container_of(bm, struct dirty_pages, bm);

	if (iova + length > TRACK_SPAN || iova % 4096 || length % 4096) {
		d->outside = true;
		return;
	}
	bitmap_set(d->bits, iova >> 12, length >> 12);
	d->pages += length >> 12;
}

static int report_pages(struct eside *s, struct dirty_pages *d)
{
	int ret;

	bitmap_zero(d->bits, TRACK_PAGES);
	d->bm.set = set_pages;
	d->pages = 0;
	d->outside = false;
	mlx5vf_state_lock(&s->mvdev);
	ret = mlx5vf_core_dev_log_report(s->mvdev.mig, 0, TRACK_SPAN, &d->bm);
	mlx5vf_state_unlock(&s->mvdev);
	return ret;
}

static void dirty_pages_init(struct kunit *test, struct dirty_pages *d)
{
	d->bits = kunit_kcalloc(test, BITS_TO_LONGS(TRACK_PAGES), sizeof(long), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, d->bits);
}

/* The VF writes every page of [first, first + n * stride) at that stride. */
static void write_pages(struct eside *s, u64 first, u64 n, u64 stride)
{
	u64 i;

	for (i = 0; i < n; i++)
		mlx5vf_emu_vf_dma_written(s->emu, (first + i * stride) << 12, 1);
}

/* Exactly the pages write_pages() wrote, each once. */
static void expect_pages(struct kunit *test, struct dirty_pages *d, u64 first, u64 n, u64 stride)
{
	u64 i, missing = 0;

	KUNIT_EXPECT_FALSE(test, d->outside);
	KUNIT_EXPECT_EQ(test, n, d->pages);
	KUNIT_EXPECT_EQ(test, n, (u64)bitmap_weight(d->bits, TRACK_PAGES));
	for (i = 0; i < n; i++)
		missing += !test_bit(first + i * stride, d->bits);
	KUNIT_EXPECT_EQ(test, 0ull, missing);
}

/*
 * Reports of many messages through an 8-slot ring: the ring, the CQ's
 * owner bit and, over 65536 messages, the CQEs' 16-bit WQE counter wrap.
 * Every page written is reported once, nothing else. Under KASAN (the debug
 * kernel, on TCG) 73728 messages take minutes and trip the hung-task
 * watchdog over insmod: one round there wraps the ring and the owner bit
 * a thousand times, and the UML run wraps the counter.
 */
static void track_report_wraps_ring_and_wqe_counter(struct kunit *test)
{
	const u32 rounds = IS_ENABLED(CONFIG_KASAN) ? 1 : 9;
	struct mlx5vf_emu_stats st, before;
	struct dirty_pages d;
	struct eside s;
	u32 round;

	dirty_pages_init(test, &d);
	side_init_cfg(test, &s, &small_ring_cfg);
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	/* Rounds of 65536 pages: 8192 messages each, 73728 in 9. */
	for (round = 0; round < rounds; round++) {
		mlx5vf_emu_stats(s.emu, &before);
		write_pages(&s, round % 4, TRACK_PAGES / 4, 4);
		KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
		expect_pages(test, &d, round % 4, TRACK_PAGES / 4, 4);
		mlx5vf_emu_stats(s.emu, &st);
		KUNIT_EXPECT_EQ(test, before.report_msgs + TRACK_PAGES / 4 / SMALL_ENTRIES,
				(u64)st.report_msgs);
	}
	kunit_info(test, "%u messages, %u arms of the CQ", st.report_msgs, st.cq_arms);
	if (rounds == 9)
		KUNIT_EXPECT_GT(test, st.report_msgs, 65536u);
	KUNIT_EXPECT_EQ(test, 0u, st.misuses);
	track_stop(&s);
	expect_no_tracker(&s);
	side_fini(&s);
}

/*
 * Hardware's order: the firmware's sender looks at the ring again after its
 * receiver-not-ready wait, whether or not the CQ was armed. With a firmware
 * that sends on nothing else, a report of three ringfuls still arrives
 * whole: the tracker does not depend on the arm doorbell to be sent to.
 */
static void track_report_arrives_by_rnr_retries_alone(struct kunit *test)
{
	const u64 ring_pages = SMALL_SLOTS * SMALL_ENTRIES;
	struct mlx5vf_emu_config cfg = small_ring_cfg;
	struct mlx5vf_emu_stats st;
	struct dirty_pages d;
	struct eside s;

	cfg.track_rnr_only = true;
	dirty_pages_init(test, &d);
	side_init_cfg(test, &s, &cfg);
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	write_pages(&s, 7, 3 * ring_pages, 2);
	KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
	expect_pages(test, &d, 7, 3 * ring_pages, 2);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 3u * SMALL_SLOTS, st.report_msgs);
	KUNIT_EXPECT_GT(test, st.rnr_retries, 0u);
	track_stop(&s);
	expect_no_tracker(&s);
	side_fini(&s);
}

/*
 * Reports whose last, full message lands in the last slot and ends at the
 * ring's end: 8 and then 16 full messages from slot 0.
 */
static void track_full_message_in_last_slot(struct kunit *test)
{
	const u64 ring_pages = SMALL_SLOTS * SMALL_ENTRIES;
	struct mlx5vf_emu_stats st;
	struct dirty_pages d;
	struct eside s;

	dirty_pages_init(test, &d);
	side_init_cfg(test, &s, &small_ring_cfg);
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	write_pages(&s, 1000, ring_pages, 1);
	KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
	expect_pages(test, &d, 1000, ring_pages, 1);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, (u32)SMALL_SLOTS, st.report_msgs);
	write_pages(&s, 5, 2 * ring_pages, 3);
	KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
	expect_pages(test, &d, 5, 2 * ring_pages, 3);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 3u * SMALL_SLOTS, st.report_msgs);
	track_stop(&s);
	expect_no_tracker(&s);
	side_fini(&s);
}

/* A report of nothing: one empty message that ends it. */
static void track_report_without_dirty_pages(struct kunit *test)
{
	struct mlx5vf_emu_stats st;
	struct dirty_pages d;
	struct eside s;

	dirty_pages_init(test, &d);
	side_init_cfg(test, &s, &small_ring_cfg);
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
	expect_pages(test, &d, 0, 0, 1);
	write_pages(&s, 77, 1, 1);
	KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
	expect_pages(test, &d, 77, 1, 1);
	KUNIT_ASSERT_EQ(test, 0, report_pages(&s, &d));
	expect_pages(test, &d, 0, 0, 1);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 3u, st.reports);
	KUNIT_EXPECT_EQ(test, 3u, st.report_msgs);
	track_stop(&s);
	expect_no_tracker(&s);
	side_fini(&s);
}

/*
 * An error CQE mid-report (the firmware failed the receive): the report
 * fails with -EIO, the tracker is broken (later reports fail at once, no
 * command sent), and stopping still releases everything.
 */
static void track_error_cqe_breaks_tracker(struct kunit *test)
{
	struct mlx5vf_emu_stats st;
	struct dirty_pages d;
	struct eside s;

	dirty_pages_init(test, &d);
	side_init_cfg(test, &s, &small_ring_cfg);
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	write_pages(&s, 0, 100, 2);
	mlx5vf_emu_track_fail_report(s.emu, 3, 0x22);
	KUNIT_EXPECT_EQ(test, -EIO, report_pages(&s, &d));
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.reports);
	KUNIT_EXPECT_EQ(test, 3u, st.report_msgs);
	KUNIT_EXPECT_EQ(test, -EIO, report_pages(&s, &d));
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.reports);
	track_stop(&s);
	expect_no_tracker(&s);
	side_fini(&s);
}

/*
 * Tracker setup failing at each firmware step unwinds completely (the PD
 * too), and the next setup works.
 */
static void track_create_failure_at_each_step_unwinds(struct kunit *test)
{
	static const struct {
		u16 opcode;
		u32 nth;
	} steps[] = {
		{ MLX5_CMD_OP_ALLOC_UAR, 0 },
		{ MLX5_CMD_OP_CREATE_MKEY, 0 },
		{ MLX5_CMD_OP_CREATE_CQ, 0 },
		{ MLX5_CMD_OP_CREATE_QP, 0 },	 /* the host QP */
		{ MLX5_CMD_OP_CREATE_QP, 1 },	 /* the firmware QP */
		{ MLX5_CMD_OP_RST2INIT_QP, 0 },
		{ MLX5_CMD_OP_INIT2RTR_QP, 0 },
		{ MLX5_CMD_OP_RST2INIT_QP, 1 },
		{ MLX5_CMD_OP_INIT2RTR_QP, 1 },
		{ MLX5_CMD_OP_RTR2RTS_QP, 0 },
		{ MLX5_CMD_OP_CREATE_GENERAL_OBJECT, 0 },
	};
	struct mlx5vf_emu_stats st;
	struct eside s;
	u32 i;

	side_init_cfg(test, &s, &small_ring_cfg);
	for (i = 0; i < ARRAY_SIZE(steps); i++) {
		mlx5vf_emu_fail_nth(s.emu, steps[i].opcode, steps[i].nth,
				    MLX5_CMD_STAT_BAD_PARAM_ERR, 0xd000 + i);
		KUNIT_EXPECT_EQ_MSG(test, -EINVAL, track_start(&s), "step %u (opcode 0x%x #%u)",
				    i, steps[i].opcode, steps[i].nth);
		mlx5vf_emu_stats(s.emu, &st);
		KUNIT_EXPECT_EQ_MSG(test, 0xd000 + i, st.out_err_syndrome, "step %u", i);
		expect_no_tracker(&s);
	}
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 1, st.trackers_live);
	KUNIT_EXPECT_EQ(test, 2u, st.qps_live);
	track_stop(&s);
	expect_no_tracker(&s);
	side_fini(&s);
}

/*
 * Setup fails and, in the unwind, firmware refuses to destroy the firmware
 * QP: it stays in the PD, so the PD must stay allocated until a PF reload
 * (the emulator fails the test on a DEALLOC_PD of a PD with a QP in it).
 */
static void track_fw_qp_kept_keeps_pd(struct kunit *test)
{
	struct mlx5vf_emu_stats st;
	struct eside s;

	side_init_cfg(test, &s, &small_ring_cfg);
	mlx5vf_emu_fail_next(s.emu, MLX5_CMD_OP_CREATE_GENERAL_OBJECT,
			     MLX5_CMD_STAT_BAD_PARAM_ERR, 0xd100);
	mlx5vf_emu_fail_next(s.emu, MLX5_CMD_OP_DESTROY_QP, MLX5_CMD_STAT_INT_ERR, 0xd101);
	KUNIT_EXPECT_EQ(test, -EINVAL, track_start(&s));
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.qps_live);
	KUNIT_EXPECT_EQ(test, 1u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0u, st.misuses);

	KUNIT_ASSERT_EQ(test, 0, mlx5vf_emu_pf_reload(s.emu));
	KUNIT_ASSERT_EQ(test, 0, track_start(&s));
	track_stop(&s);
	mlx5vf_emu_stats(s.emu, &st);
	KUNIT_EXPECT_EQ(test, 0u, st.qps_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0, st.trackers_live);
	side_fini(&s);
}

/*
 * The tracker alone (no backend): a report the firmware holds, then
 * mlx5vf_track_abort() from another thread, as the backend's DISAB_VF path
 * does. The report returns -ECANCELED at once, the tracker stays broken
 * (-EIO), and destroying it releases everything.
 */
struct held_report {
	struct mlx5vf_track *t;
	struct completion done;
	int ret;
};

/*
 * The tracker's poll is an hour in the cases below: only a wake-up ends a
 * held report's wait. Should it not come, the report is ended by a fatal
 * signal after this long, so that the test fails instead of leaving the
 * thread on its stack.
 */
#define REPORT_WAKE_GIVE_UP (120 * HZ)
#define TRACK_POLL_HOUR (3600 * HZ)

/* A report thread the wake-up under test did not end: end it, and wait. */
static void end_report_thread(struct task_struct *task, struct completion *done)
{
	send_sig(SIGKILL, task, 1);
	wait_for_completion(done);
}

static int held_report_fn(void *data)
{
	struct held_report *h = data;

	allow_signal(SIGKILL); /* end_report_thread() */
	/* No sink: the firmware sends nothing while it holds the report. */
	h->ret = mlx5vf_track_report(h->t, 0, TRACK_SPAN, NULL);
	complete(&h->done);
	return 0;
}

static void track_abort_cancels_held_report(struct kunit *test)
{
	const struct mlx5vf_iova_range range = { .iova = 0, .length = TRACK_SPAN };
	const struct mlx5vf_fw_track_req req = {
		.ranges = &range,
		.nr_ranges = 1,
		.log_page_size = 12,
		.log_addr_space = 30,
	};
	u32 out[MLX5_ST_SZ_DW(alloc_pd_out)] = {};
	u32 in[MLX5_ST_SZ_DW(alloc_pd_in)] = {};
	u32 din[MLX5_ST_SZ_DW(dealloc_pd_in)] = {};
	u32 dout[MLX5_ST_SZ_DW(dealloc_pd_out)] = {};
	struct mlx5vf_emu_config cfg = small_ring_cfg;
	struct mlx5vf_fw_track_caps caps;
	struct held_report h = { .ret = 1 };
	struct mlx5vf_emu_stats st;
	struct mlx5_core_dev *mdev;
	struct task_struct *task;
	struct mlx5vf_emu *emu;
	unsigned long start, ended;
	bool pd_busy;
	u32 pdn;

	cfg.report = side_emu_report;
	cfg.report_ctx = test;
	cfg.track_poll = TRACK_POLL_HOUR;
	emu = mlx5vf_emu_create(&cfg);
	KUNIT_ASSERT_NOT_NULL(test, emu);
	mdev = mlx5vf_seam_get_core_dev(mlx5vf_emu_vf(emu));
	KUNIT_ASSERT_NOT_NULL(test, mdev);
	MLX5_SET(alloc_pd_in, in, opcode, MLX5_CMD_OP_ALLOC_PD);
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_seam_exec_inout(mdev, alloc_pd, in, out));
	pdn = MLX5_GET(alloc_pd_out, out, pd);
	mlx5vf_track_caps(mdev, &caps);
	KUNIT_ASSERT_GT(test, caps.max_ranges, 0u);

	h.t = mlx5vf_track_create(mdev, &mlx5vf_emu_vf(emu)->dev, cfg.vhca_id, pdn, &caps, &req,
				  &pd_busy);
	KUNIT_ASSERT_FALSE(test, IS_ERR(h.t));
	init_completion(&h.done);
	mlx5vf_emu_hold_report(emu, true);
	task = kthread_run(held_report_fn, &h, "mlx5vf-held-report");
	KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	get_task_struct(task);
	/* Held by the firmware: the report runs until something ends it. */
	KUNIT_EXPECT_TRUE(test, mlx5vf_emu_wait_report_running(emu, 30000));
	KUNIT_EXPECT_FALSE(test, completion_done(&h.done));
	start = jiffies;
	mlx5vf_track_abort(h.t);
	ended = wait_for_completion_timeout(&h.done, REPORT_WAKE_GIVE_UP);
	KUNIT_EXPECT_TRUE_MSG(test, ended, "the abort did not wake the report (poll: 1 h)");
	if (!ended)
		end_report_thread(task, &h.done);
	put_task_struct(task);
	kunit_info(test, "the report returned %u ms after the abort",
		   jiffies_to_msecs(jiffies - start));
	KUNIT_EXPECT_EQ(test, -ECANCELED, h.ret);
	KUNIT_EXPECT_TRUE(test, mlx5vf_emu_report_running(emu));
	KUNIT_EXPECT_EQ(test, -EIO, mlx5vf_track_report(h.t, 0, TRACK_SPAN, NULL));
	/* The firmware finishes the report into a ring nobody reads any more. */
	mlx5vf_emu_hold_report(emu, false);
	KUNIT_EXPECT_FALSE(test, mlx5vf_emu_report_running(emu));

	KUNIT_EXPECT_TRUE(test, mlx5vf_track_destroy(h.t));
	mlx5vf_emu_stats(emu, &st);
	KUNIT_EXPECT_EQ(test, 1u, st.reports);
	KUNIT_EXPECT_EQ(test, 1u, st.report_msgs);
	KUNIT_EXPECT_EQ(test, 0u, st.reports_cut);
	MLX5_SET(dealloc_pd_in, din, opcode, MLX5_CMD_OP_DEALLOC_PD);
	MLX5_SET(dealloc_pd_in, din, pd, pdn);
	KUNIT_EXPECT_EQ(test, 0, mlx5vf_seam_exec_inout(mdev, dealloc_pd, din, dout));
	mlx5vf_seam_put_core_dev(mdev);
	mlx5vf_emu_stats(emu, &st);
	KUNIT_EXPECT_EQ(test, 0, st.trackers_live);
	KUNIT_EXPECT_EQ(test, 0u, st.qps_live);
	KUNIT_EXPECT_EQ(test, 0u, st.cqs_live);
	KUNIT_EXPECT_EQ(test, 0u, st.uars_live);
	KUNIT_EXPECT_EQ(test, 0u, st.dbs_live);
	KUNIT_EXPECT_EQ(test, 0u, st.frag_bufs_live);
	KUNIT_EXPECT_EQ(test, 0, st.eq_notifiers);
	KUNIT_EXPECT_EQ(test, 0u, st.mkeys_live);
	KUNIT_EXPECT_EQ(test, 0u, st.pages_mapped);
	KUNIT_EXPECT_EQ(test, 0u, st.pds_live);
	KUNIT_EXPECT_EQ(test, 0, st.core_dev_refs);
	KUNIT_EXPECT_EQ(test, 0u, st.misuses);
	mlx5vf_emu_destroy(emu);
}

/*
 * The firmware fails the tracker mid-report and says so by an event, an
 * OBJECT_CHANGE of the object (the tracker queries it: ERROR) or a QP
 * error: the held report fails at once, not at the tracker's next poll,
 * and stopping releases everything.
 */
static void track_error_event_fails_held_report(struct kunit *test)
{
	struct mlx5vf_emu_config cfg = small_ring_cfg;
	struct mlx5vf_emu_stats st;
	struct report_thread r;
	struct task_struct *task;
	unsigned long start, ended;
	struct eside s;
	int qp_event;

	cfg.track_poll = TRACK_POLL_HOUR;
	for (qp_event = 0; qp_event < 2; qp_event++) {
		side_init_cfg(test, &s, &cfg);
		KUNIT_ASSERT_EQ(test, 0, track_start(&s));
		r = (struct report_thread){ .side = &s, .ret = 1 };
		init_completion(&r.done);
		mlx5vf_emu_hold_report(s.emu, true);
		task = kthread_run(report_thread_fn, &r, "mlx5vf-report");
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
		get_task_struct(task);
		KUNIT_EXPECT_TRUE(test, mlx5vf_emu_wait_report_running(s.emu, 30000));
		start = jiffies;
		mlx5vf_emu_track_fail_object(s.emu, qp_event);
		ended = wait_for_completion_timeout(&r.done, REPORT_WAKE_GIVE_UP);
		KUNIT_EXPECT_TRUE_MSG(test, ended, "%s did not wake the report (poll: 1 h)",
				      qp_event ? "a QP error" : "an object change");
		if (!ended)
			end_report_thread(task, &r.done);
		put_task_struct(task);
		kunit_info(test, "%s: the report failed %u ms after the event",
			   qp_event ? "QP error" : "object change",
			   jiffies_to_msecs(jiffies - start));
		KUNIT_EXPECT_LT(test, r.ret, 0);
		mlx5vf_emu_hold_report(s.emu, false);
		mlx5vf_emu_stats(s.emu, &st);
		KUNIT_EXPECT_EQ(test, 0u, st.report_msgs);
		track_stop(&s);
		expect_no_tracker(&s);
		side_fini(&s);
	}
}

static struct kunit_case mlx5vf_mlx5_emu_cases[] = {
	KUNIT_CASE(state_sum_tells_states_apart),
	KUNIT_CASE(precopy_tracking_lost_sends_full_final_image),
	KUNIT_CASE(corrupt_image_is_refused_by_the_vhca),
	KUNIT_CASE(stop_copy_chunked_image_arrives_whole),
	KUNIT_CASE(precopy_chunked_rounds_reproduce_state),
	KUNIT_CASE(save_syndrome_surfaces_and_device_recovers),
	KUNIT_CASE(suspend_syndrome_is_precise_errno),
	KUNIT_CASE(save_timeout_keeps_buffer_from_reuse),
	KUNIT_CASE(pf_detach_mid_save_releases_and_reattaches),
	KUNIT_CASE(load_syndrome_fails_write_and_destination_recovers),
	KUNIT_CASE(create_mkey_failure_unwinds),
	KUNIT_CASE(abandoned_precopy_cleans_up_tracking),
	KUNIT_CASE(unchunked_precopy_migrates),
	KUNIT_CASE(pf_reload_after_leak_allocates_new_pd),
	KUNIT_CASE(release_after_vf_removal_leaves_pf_chain),
	KUNIT_CASE(coherent_dma_needs_no_syncs),
	KUNIT_CASE(buffer_maps_in_one_call),
	KUNIT_CASE(pf_detach_aborts_running_report),
	KUNIT_CASE(track_create_failure_keeps_busy_pd),
	KUNIT_CASE(written_guest_pages_reported_once),
	KUNIT_CASE(track_report_wraps_ring_and_wqe_counter),
	KUNIT_CASE(track_full_message_in_last_slot),
	KUNIT_CASE(track_report_arrives_by_rnr_retries_alone),
	KUNIT_CASE(track_report_without_dirty_pages),
	KUNIT_CASE(track_error_cqe_breaks_tracker),
	KUNIT_CASE(track_create_failure_at_each_step_unwinds),
	KUNIT_CASE(track_fw_qp_kept_keeps_pd),
	KUNIT_CASE(track_abort_cancels_held_report),
	KUNIT_CASE(track_error_event_fails_held_report),
	{}
};

static struct kunit_suite mlx5vf_mlx5_emu_suite = {
	.name = "mlx5vf_mlx5_emu",
	.test_cases = mlx5vf_mlx5_emu_cases,
};

kunit_test_suite(mlx5vf_mlx5_emu_suite);

MODULE_LICENSE("GPL");
/* Its own module in the debug kernel's KUnit build (Kbuild: mlx5vf_mlx5_emu_test.ko). */
MODULE_DESCRIPTION("mlx5vf test only: the mlx5 backend against an emulated ConnectX PF (KUnit)");

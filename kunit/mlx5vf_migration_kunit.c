// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: whole migrations through the C ABI of include/mlx5vf/mig.h, on two
 * simulated VFs, inside the kernel: the core's allocations go through the
 * real shim runtime (kzalloc/kvzalloc), its copies through a user-io cursor
 * over kernel memory. Completions are delivered when the core waits for them,
 * as the simulated-VF shim does.
 */
#include <kunit/test.h>
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>

#include <mlx5vf/mig.h>
#include <mlx5vf/sim.h>
#include "mlx5vf_kbuf_io.h"

#define STATE_SIZE (64 * 1024)
#define STREAM_MAX (1024 * 1024)

struct side {
	struct mlx5vf_sim *sim;
	struct mlx5vf_dev *dev;
	struct mlx5vf_save_file *save;
	struct mlx5vf_resume_file *resume;
};

static void request_completion(void *ctx, u64 delay_ns)
{
}

static int wait_save_idle(void *ctx, struct mlx5vf_save_file *file, bool interruptible)
{
	struct side *s = ctx;

	if (mlx5vf_core_sim_completion_pending(s->sim))
		mlx5vf_core_sim_deliver(s->sim);
	return 0;
}

static const struct mlx5vf_dev_ops side_ops = {
	.wait_save_idle = wait_save_idle,
};

static void side_init(struct kunit *test, struct side *s, u64 identity, u64 seed)
{
	struct mlx5vf_sim_config sc = {
		.state_size = STATE_SIZE,
		.identity = identity,
		.seed = seed,
		.chunk_mode = true,
		.max_chunk = 16 * 1024,
		.request_completion = request_completion,
	};
	struct mlx5vf_dev_config dc = {
		.ops = &side_ops,
		.ops_ctx = s,
		.compat = { .pci_vendor_id = 0x15b3, .pci_device_id = 0x101e,
			    .vhca_state_format = 1, .fw_identity = identity },
		.features = MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P |
			    MLX5VF_MIG_FEATURE_PRE_COPY,
		.max_chunk_size = 16 * 1024,
	};

	memset(s, 0, sizeof(*s));
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_sim_create(&sc, &s->sim));
	dc.fw_ops = &mlx5vf_sim_fw_ops;
	dc.fw_ctx = s->sim;
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_create(&dc, &s->dev));
}

static void side_fini(struct side *s)
{
	if (s->save) {
		mlx5vf_core_dev_forget_save(s->dev, s->save);
		mlx5vf_core_save_destroy(s->save);
	}
	if (s->resume) {
		mlx5vf_core_dev_forget_resume(s->dev, s->resume);
		mlx5vf_core_resume_destroy(s->resume);
	}
	if (s->dev)
		mlx5vf_core_dev_destroy(s->dev);
	if (s->sim)
		mlx5vf_core_sim_destroy(s->sim);
}

static int side_go(struct side *s, enum mlx5vf_mig_state target)
{
	struct mlx5vf_save_file *save;
	struct mlx5vf_resume_file *resume;
	int ret = mlx5vf_core_dev_set_state(s->dev, target, s, &save, &resume);

	if (save) {
		if (s->save) {
			mlx5vf_core_dev_forget_save(s->dev, s->save);
			mlx5vf_core_save_destroy(s->save);
		}
		s->save = save;
	}
	if (resume)
		s->resume = resume;
	return ret;
}

/* Read until ENOMSG (precopy) or EOF (stop-copy), appending at *len. */
static long side_drain(struct side *s, u8 *stream, size_t *len)
{
	struct kbuf_io k;
	long n;

	for (;;) {
		kbuf_init(&k, stream + *len, STREAM_MAX - *len);
		n = mlx5vf_core_save_read(s->save, &k.io, 5000);
		if (n > 0) {
			*len += n;
			continue;
		}
		if (n != -EAGAIN || !mlx5vf_core_sim_completion_pending(s->sim))
			return n;
		mlx5vf_core_sim_deliver(s->sim);
	}
}

static long side_feed(struct side *s, u8 *stream, size_t from, size_t to, size_t seg)
{
	struct kbuf_io k;
	long n;

	while (from < to) {
		size_t chunk = min(seg, to - from);

		kbuf_init(&k, stream + from, chunk);
		n = mlx5vf_core_dev_resume_write(s->dev, s->resume, &k.io, chunk);
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

/* A stream buffer freed when the test ends, however it ends. */
static u8 *stream_alloc(struct kunit *test)
{
	u8 *stream = kvzalloc(STREAM_MAX, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, stream);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, stream_free, stream));
	return stream;
}

static void precopy_migration_reproduces_state(struct kunit *test)
{
	struct side src, dst;
	u8 *stream = stream_alloc(test);
	u64 initial, dirty;
	u32 flags;
	size_t len = 0, fed = 0;
	int round;

	side_init(test, &src, 5, 1);
	side_init(test, &dst, 5, 2);
	KUNIT_EXPECT_NE(test, mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_checksum(dst.sim));
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	for (round = 0; round < 3; round++) {
		KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_precopy_info(src.dev, src.save, false,
								      &flags, &initial, &dirty));
		KUNIT_EXPECT_EQ(test, 0u, flags);
		KUNIT_EXPECT_EQ(test, -ENOMSG, side_drain(&src, stream, &len));
		KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len, 3000));
		fed = len;
		mlx5vf_core_sim_run_activity(src.sim, 8);
	}
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY_P2P));
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_EXPECT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, fed, len, 1 << 16));
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RUNNING));
	KUNIT_EXPECT_EQ(test, mlx5vf_core_sim_checksum(src.sim), mlx5vf_core_sim_checksum(dst.sim));
	side_fini(&src);
	side_fini(&dst);
}

static void incompatible_destination_refuses_first_record(struct kunit *test)
{
	struct side src, dst;
	u8 *stream = stream_alloc(test);
	size_t len = 0;

	side_init(test, &src, 5, 1);
	side_init(test, &dst, 6, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_PRE_COPY));
	KUNIT_EXPECT_EQ(test, -ENOMSG, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	KUNIT_EXPECT_EQ(test, -EPROTONOSUPPORT, side_feed(&dst, stream, 0, len, 4096));
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_PRE_COPY, mlx5vf_core_dev_state(src.dev));
	KUNIT_EXPECT_EQ(test, 0, side_go(&src, MLX5VF_MIG_RUNNING));
	side_fini(&src);
	side_fini(&dst);
}

static void truncated_stream_is_refused_at_stop(struct kunit *test)
{
	struct side src, dst;
	u8 *stream = stream_alloc(test);
	size_t len = 0;

	side_init(test, &src, 5, 1);
	side_init(test, &dst, 5, 2);
	KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
	KUNIT_EXPECT_EQ(test, 0, side_drain(&src, stream, &len));
	KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
	KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, 0, len - 1, 4096));
	KUNIT_EXPECT_EQ(test, -EBADMSG, side_go(&dst, MLX5VF_MIG_STOP));
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RESUMING, mlx5vf_core_dev_state(dst.dev));
	mlx5vf_core_dev_reset(dst.dev);
	KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RUNNING, mlx5vf_core_dev_state(dst.dev));
	side_fini(&src);
	side_fini(&dst);
}

/* Every firmware command of a stop-copy migration failing in turn. */
static void every_failing_command_leaves_devices_usable(struct kunit *test)
{
	u8 *stream = stream_alloc(test);
	int op, nth, failures = 0;

	for (op = MLX5VF_SIM_QUERY; op <= MLX5VF_SIM_ALLOC; op++) {
		for (nth = 1; nth <= 4; nth++) {
			struct side src, dst;
			size_t len = 0;
			int ret;

			side_init(test, &src, 5, 1);
			side_init(test, &dst, 5, 2);
			ret = mlx5vf_core_sim_inject_fault(src.sim, op, nth,
							   MLX5VF_SIM_FAULT_ERROR);
			KUNIT_ASSERT_EQ(test, 0, ret);
			ret = side_go(&src, MLX5VF_MIG_STOP_COPY);
			if (!ret)
				ret = side_drain(&src, stream, &len);
			if (ret) {
				failures++;
				/* QEMU's recovery: back to RUNNING, else reset. */
				if (side_go(&src, MLX5VF_MIG_RUNNING))
					mlx5vf_core_dev_reset(src.dev);
				KUNIT_EXPECT_EQ(test, MLX5VF_MIG_RUNNING,
						mlx5vf_core_dev_state(src.dev));
				len = 0;
				KUNIT_ASSERT_EQ(test, 0, side_go(&src, MLX5VF_MIG_STOP_COPY));
				KUNIT_ASSERT_EQ(test, 0, side_drain(&src, stream, &len));
			}
			KUNIT_ASSERT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RESUMING));
			KUNIT_ASSERT_EQ(test, 0, side_feed(&dst, stream, 0, len, 7777));
			KUNIT_EXPECT_EQ(test, 0, side_go(&dst, MLX5VF_MIG_RUNNING));
			side_fini(&src);
			side_fini(&dst);
		}
	}
	KUNIT_EXPECT_GT(test, failures, 0);
}

static struct kunit_case mlx5vf_migration_cases[] = {
	KUNIT_CASE(precopy_migration_reproduces_state),
	KUNIT_CASE(incompatible_destination_refuses_first_record),
	KUNIT_CASE(truncated_stream_is_refused_at_stop),
	KUNIT_CASE(every_failing_command_leaves_devices_usable),
	{}
};

static struct kunit_suite mlx5vf_migration_suite = {
	.name = "mlx5vf_migration",
	.test_cases = mlx5vf_migration_cases,
};

kunit_test_suite(mlx5vf_migration_suite);

MODULE_LICENSE("GPL");

// SPDX-License-Identifier: GPL-2.0-only
/*
 * KUnit: device dirty tracking through the C ABI of include/mlx5vf/mig.h on a
 * simulated VF, inside the kernel: the simulated function's DMA, the core's
 * request shaping, reports into a bitmap callback like the shim's
 * iova_bitmap_set(), error latching and the data-losing tracker fault.
 */
#include <kunit/test.h>
#include <linux/bitmap.h>
#include <linux/errno.h>
#include <linux/slab.h>
#include <linux/sizes.h>

#include <mlx5vf/mig.h>
#include <mlx5vf/sim.h>

#define WINDOW_PAGES 256
#define WINDOW_IOVA SZ_1G
#define DMA_BYTES 1024

struct tracked_vf {
	struct mlx5vf_sim *sim;
	struct mlx5vf_dev *dev;
};

/* One bit per 4 KiB page of the window, set the way iova_bitmap_set() would. */
struct page_bits {
	struct mlx5vf_dirty_bitmap base;
	unsigned long bits[BITS_TO_LONGS(WINDOW_PAGES)];
	unsigned int calls;
};

static void page_bits_set(struct mlx5vf_dirty_bitmap *bm, u64 iova, u64 length)
{
	struct page_bits *p = container_of(bm, struct page_bits, base);

	p->calls++;
	bitmap_set(p->bits, (iova - WINDOW_IOVA) >> 12, length >> 12);
}

static void page_bits_init(struct page_bits *p)
{
	memset(p, 0, sizeof(*p));
	p->base.set = page_bits_set;
}

static void no_completion(void *ctx, u64 delay_ns)
{
}

static int no_wait(void *ctx, struct mlx5vf_save_file *file, bool interruptible)
{
	return 0;
}

static const struct mlx5vf_dev_ops tracked_ops = {
	.wait_save_idle = no_wait,
};

static void tracked_vf_init(struct kunit *test, struct tracked_vf *vf)
{
	struct mlx5vf_sim_config sc = {
		.state_size = 64 * 1024,
		.seed = 3,
		.track_max_ranges = 2,
		.request_completion = no_completion,
	};
	struct mlx5vf_dev_config dc = {
		.ops = &tracked_ops,
		.features = MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P,
	};

	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_sim_create(&sc, &vf->sim));
	dc.fw_ops = &mlx5vf_sim_fw_ops;
	dc.fw_ctx = vf->sim;
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_create(&dc, &vf->dev));
}

static void tracked_vf_fini(struct tracked_vf *vf)
{
	mlx5vf_core_dev_destroy(vf->dev);
	mlx5vf_core_sim_destroy(vf->sim);
}

static int start_window(struct tracked_vf *vf, u64 *page_size)
{
	struct mlx5vf_iova_range r = { WINDOW_IOVA, WINDOW_PAGES * SZ_4K };

	*page_size = SZ_4K;
	return mlx5vf_core_dev_log_start(vf->dev, &r, 1, page_size);
}

static int report(struct tracked_vf *vf, u64 length, struct page_bits *out)
{
	page_bits_init(out);
	return mlx5vf_core_dev_log_report(vf->dev, WINDOW_IOVA, length, &out->base);
}

/* One DMA write of the simulated function into the window; its page index. */
static long dma_once(struct kunit *test, struct tracked_vf *vf, u8 *buf)
{
	u64 iova;
	int ret;

	ret = mlx5vf_core_sim_next_dma(vf->sim, WINDOW_IOVA, WINDOW_PAGES * SZ_4K, buf, DMA_BYTES,
				       &iova);
	if (ret)
		return ret;
	KUNIT_EXPECT_TRUE(test, iova >= WINDOW_IOVA && iova < WINDOW_IOVA + WINDOW_PAGES * SZ_4K);
	mlx5vf_core_sim_dma_written(vf->sim, iova, DMA_BYTES);
	return (iova - WINDOW_IOVA) >> 12;
}

static void writes_are_reported_once(struct kunit *test)
{
	DECLARE_BITMAP(written, WINDOW_PAGES) = {};
	struct tracked_vf vf;
	struct page_bits out;
	u8 *buf = kunit_kzalloc(test, DMA_BYTES, GFP_KERNEL);
	u64 ps;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	tracked_vf_init(test, &vf);
	KUNIT_EXPECT_TRUE(test, mlx5vf_core_dev_log_supported(vf.dev));
	KUNIT_ASSERT_EQ(test, 0, start_window(&vf, &ps));
	KUNIT_EXPECT_EQ(test, ps, (u64)SZ_4K);
	for (i = 0; i < 40; i++) {
		long page = dma_once(test, &vf, buf);

		KUNIT_ASSERT_GE(test, page, 0);
		__set_bit(page, written);
	}
	KUNIT_EXPECT_EQ(test, 0, report(&vf, WINDOW_PAGES * SZ_4K, &out));
	KUNIT_EXPECT_TRUE(test, bitmap_equal(out.bits, written, WINDOW_PAGES));
	KUNIT_EXPECT_EQ(test, 0, report(&vf, WINDOW_PAGES * SZ_4K, &out));
	KUNIT_EXPECT_EQ(test, out.calls, 0U);
	mlx5vf_core_dev_log_stop(vf.dev);
	tracked_vf_fini(&vf);
}

static void bad_requests_are_refused(struct kunit *test)
{
	struct mlx5vf_iova_range overlap[] = { { 0, 2 * SZ_4K }, { SZ_4K, SZ_4K } };
	struct mlx5vf_iova_range three[] = { { 0, SZ_1M }, { 2 * SZ_1M, SZ_1M }, { SZ_1G, SZ_1M } };
	struct mlx5vf_iova_range huge = { 0, 1ULL << 49 }; /* over the sim's 2^48 */
	struct mlx5vf_log_status st;
	struct tracked_vf vf;
	struct page_bits out;
	u64 ps = 3 * 2048;

	tracked_vf_init(test, &vf);
	page_bits_init(&out);
	KUNIT_EXPECT_EQ(test, -EINVAL, mlx5vf_core_dev_log_report(vf.dev, 0, SZ_4K, &out.base));
	KUNIT_EXPECT_EQ(test, -EINVAL, mlx5vf_core_dev_log_start(vf.dev, three, 1, &ps));
	ps = SZ_4K;
	KUNIT_EXPECT_EQ(test, -EINVAL, mlx5vf_core_dev_log_start(vf.dev, overlap, 2, &ps));
	KUNIT_EXPECT_EQ(test, -E2BIG, mlx5vf_core_dev_log_start(vf.dev, &huge, 1, &ps));
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_log_start(vf.dev, three, 3, &ps));
	mlx5vf_core_dev_log_status(vf.dev, &st);
	KUNIT_EXPECT_TRUE(test, st.active);
	KUNIT_EXPECT_EQ(test, st.nr_ranges, 2U);
	KUNIT_EXPECT_EQ(test, -EBUSY, mlx5vf_core_dev_log_start(vf.dev, three, 3, &ps));
	KUNIT_EXPECT_EQ(test, -EINVAL, mlx5vf_core_dev_log_report(vf.dev, 4 * SZ_1M, SZ_4K,
								  &out.base));
	mlx5vf_core_dev_log_stop(vf.dev);
	mlx5vf_core_dev_log_stop(vf.dev);
	tracked_vf_fini(&vf);
}

static void tracker_errors_latch_until_restart(struct kunit *test)
{
	struct mlx5vf_log_status st;
	struct tracked_vf vf;
	struct page_bits out;
	u64 ps;

	tracked_vf_init(test, &vf);
	KUNIT_ASSERT_EQ(test, 0, start_window(&vf, &ps));
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_sim_inject_fault(vf.sim, MLX5VF_SIM_TRACK_REPORT, 1,
							      MLX5VF_SIM_FAULT_ERROR));
	KUNIT_EXPECT_EQ(test, -EIO, report(&vf, SZ_4K, &out));
	KUNIT_EXPECT_EQ(test, -EIO, report(&vf, SZ_4K, &out));
	mlx5vf_core_dev_log_status(vf.dev, &st);
	KUNIT_EXPECT_NOT_NULL(test, st.error);
	mlx5vf_core_dev_log_stop(vf.dev);
	KUNIT_ASSERT_EQ(test, 0, start_window(&vf, &ps));
	KUNIT_EXPECT_EQ(test, 0, report(&vf, SZ_4K, &out));
	mlx5vf_core_dev_log_stop(vf.dev);
	tracked_vf_fini(&vf);
}

static void losing_tracker_drops_pages(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, DMA_BYTES, GFP_KERNEL);
	struct tracked_vf vf;
	struct page_bits out;
	u64 ps;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	tracked_vf_init(test, &vf);
	KUNIT_ASSERT_EQ(test, 0, start_window(&vf, &ps));
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_sim_inject_fault(vf.sim, MLX5VF_SIM_TRACK_REPORT, 1,
							      MLX5VF_SIM_FAULT_LOSE_DIRTY));
	KUNIT_ASSERT_GE(test, dma_once(test, &vf, buf), 0L);
	KUNIT_EXPECT_EQ(test, 0, report(&vf, WINDOW_PAGES * SZ_4K, &out));
	KUNIT_EXPECT_TRUE(test, bitmap_empty(out.bits, WINDOW_PAGES));
	mlx5vf_core_dev_log_stop(vf.dev);
	tracked_vf_fini(&vf);
}

static void no_dma_once_stopped(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, DMA_BYTES, GFP_KERNEL);
	struct mlx5vf_save_file *save = NULL;
	struct mlx5vf_resume_file *resume = NULL;
	struct tracked_vf vf;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	tracked_vf_init(test, &vf);
	KUNIT_EXPECT_GE(test, dma_once(test, &vf, buf), 0L);
	KUNIT_ASSERT_EQ(test, 0, mlx5vf_core_dev_set_state(vf.dev, MLX5VF_MIG_RUNNING_P2P, NULL,
							   &save, &resume));
	KUNIT_EXPECT_EQ(test, (long)-EAGAIN, dma_once(test, &vf, buf));
	tracked_vf_fini(&vf);
}

static struct kunit_case mlx5vf_dirty_cases[] = {
	KUNIT_CASE(writes_are_reported_once),
	KUNIT_CASE(bad_requests_are_refused),
	KUNIT_CASE(tracker_errors_latch_until_restart),
	KUNIT_CASE(losing_tracker_drops_pages),
	KUNIT_CASE(no_dma_once_stopped),
	{}
};

static struct kunit_suite mlx5vf_dirty_suite = {
	.name = "mlx5vf_dirty",
	.test_cases = mlx5vf_dirty_cases,
};

kunit_test_suite(mlx5vf_dirty_suite);

MODULE_LICENSE("GPL");

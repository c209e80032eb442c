// SPDX-License-Identifier: GPL-2.0-only
#include <mlx5vf/sim_wire.h>

#include <gtest/gtest.h>

#include <vector>

#include "sim_image.h"

namespace {

constexpr uint32_t kPage = 4096;

// A handle freed at scope exit.
struct Wire {
	explicit Wire(mlx5vf_sim_wire_config cfg) { EXPECT_EQ(0, mlx5vf_core_sim_wire_create(&cfg, &w)); }
	~Wire() { mlx5vf_core_sim_wire_destroy(w); }
	Wire(const Wire &) = delete;
	mlx5vf_sim_wire_state state() const
	{
		mlx5vf_sim_wire_state st;
		mlx5vf_core_sim_wire_state(w, &st);
		return st;
	}
	mlx5vf_sim_wire *w = nullptr;
};

// Pages as an mkey's MTT would list them: separate allocations.
struct Pages {
	explicit Pages(uint32_t count) : mem(count, std::vector<uint8_t>(kPage))
	{
		for (auto &p : mem)
			ptrs.push_back(p.data());
	}
	mlx5vf_sim_wire_buffer buffer(uint32_t size) const
	{
		return {ptrs.data(), static_cast<uint32_t>(ptrs.size()), kPage, size};
	}
	std::vector<std::vector<uint8_t>> mem;
	std::vector<uint8_t *> ptrs;
};

mlx5vf_sim_wire_config config(uint64_t seed, bool chunk = false)
{
	mlx5vf_sim_wire_config c = {};
	c.state_size = 8 * kPage;
	c.seed = seed;
	c.identity = 3;
	c.chunk_mode = chunk;
	c.max_chunk = 2 * kPage;
	return c;
}

// Submit a SAVE and answer it at once; kind->kind tells what it was.
int save(mlx5vf_sim_wire *w, bool incremental, bool set_track, const mlx5vf_sim_wire_buffer *buf,
	 mlx5vf_sim_wire_save_kind_of *kind, mlx5vf_sim_wire_save_result *res)
{
	const int rc = mlx5vf_core_sim_wire_save(w, incremental, set_track, buf, kind);
	if (rc)
		return rc;
	EXPECT_TRUE(mlx5vf_core_sim_wire_save_pending(w));
	return mlx5vf_core_sim_wire_save_done(w, res);
}

void stop(mlx5vf_sim_wire *w)
{
	ASSERT_EQ(0, mlx5vf_core_sim_wire_suspend(w, false));
	ASSERT_EQ(0, mlx5vf_core_sim_wire_suspend(w, true));
}

// An unchunked VHCA and a 16-page mkey: the SAVE cases' setting.
class AbiSimWireSave : public ::testing::Test {
protected:
	Wire w{config(1)};
	Pages pages{16};
	const mlx5vf_sim_wire_buffer buf = pages.buffer(16 * kPage);
	mlx5vf_sim_wire_save_kind_of kind{};
	mlx5vf_sim_wire_save_result res{};
};

TEST(AbiSimWire, FullImageThroughPagesMigratesTheState)
{
	Wire src(config(1)), dst(config(2));
	ASSERT_NE(src.state().checksum, dst.state().checksum);
	uint32_t required = 0;
	uint64_t total = 0;
	ASSERT_EQ(0, mlx5vf_core_sim_wire_query(src.w, false, false, &required, &total));
	Pages pages((required + kPage - 1) / kPage);
	const mlx5vf_sim_wire_buffer buf = pages.buffer(required);
	// A buffer one byte short of the image is refused, and nothing changes.
	mlx5vf_sim_wire_buffer short_buf = buf;
	short_buf.size = required - 1;
	mlx5vf_sim_wire_save_kind_of kind;
	mlx5vf_sim_wire_save_result res;
	stop(src.w);
	EXPECT_EQ(-MLX5VF_ENOSPC, save(src.w, false, false, &short_buf, &kind, &res));
	ASSERT_EQ(0, save(src.w, false, false, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_FULL, kind.kind);
	EXPECT_EQ(required, res.image_size);
	EXPECT_EQ(0u, res.next_required);

	const char *why = nullptr;
	mlx5vf_sim_wire_buffer load = pages.buffer(res.image_size);
	// A running function refuses LOAD.
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_wire_load(dst.w, &load, &why));
	EXPECT_STRNE("", why);
	stop(dst.w);
	ASSERT_EQ(0, mlx5vf_core_sim_wire_load(dst.w, &load, &why));
	EXPECT_STREQ("", why);
	EXPECT_EQ(src.state().checksum, dst.state().checksum);
	// A corrupted image is refused.
	pages.mem[1][7] ^= 1;
	EXPECT_EQ(-MLX5VF_EIO, mlx5vf_core_sim_wire_load(dst.w, &load, &why));
}

TEST_F(AbiSimWireSave, UntrackedFullSaveWhileTrackingIsTheCleanup)
{
	ASSERT_EQ(0, save(w.w, false, true, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_FULL, kind.kind);
	EXPECT_TRUE(w.state().tracking);
	ASSERT_EQ(0, mlx5vf_core_sim_wire_write(w.w, 64, 8, 0x5a));
	ASSERT_EQ(0, save(w.w, true, true, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_INCREMENTAL, kind.kind);
	EXPECT_EQ(mlx5vf::kSimHeaderSize + mlx5vf::kSimPageIndexSize + kPage, res.image_size);
	ASSERT_EQ(0, save(w.w, false, false, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_CLEANUP, kind.kind);
	EXPECT_FALSE(w.state().tracking);
	// Untracked, the same bits start a full image; an incremental one is refused.
	ASSERT_EQ(0, save(w.w, false, false, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_FULL, kind.kind);
	EXPECT_EQ(-MLX5VF_EINVAL, save(w.w, true, false, &buf, &kind, &res));
	uint32_t required;
	uint64_t total;
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_wire_query(w.w, true, false, &required, &total));
}

TEST(AbiSimWire, ChunksContinueWithIncrementalUntrackedSaves)
{
	Wire w(config(1, true));
	Pages pages(2);
	const mlx5vf_sim_wire_buffer buf = pages.buffer(2 * kPage);
	mlx5vf_sim_wire_save_kind_of kind;
	mlx5vf_sim_wire_save_result res;
	uint32_t required;
	uint64_t total;
	// The chunk bit must follow migration_in_chunks.
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_wire_query(w.w, false, false, &required, &total));
	ASSERT_EQ(0, mlx5vf_core_sim_wire_query(w.w, false, true, &required, &total));
	EXPECT_EQ(2 * kPage, required);
	EXPECT_GT(total, uint64_t{8 * kPage});
	stop(w.w);
	ASSERT_EQ(0, save(w.w, false, false, &buf, &kind, &res));
	EXPECT_NE(0u, res.next_required);
	EXPECT_TRUE(w.state().image_open);
	ASSERT_EQ(0, save(w.w, true, false, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_CONTINUATION, kind.kind);
	// A full SAVE now drops the rest and starts over.
	ASSERT_EQ(0, save(w.w, false, false, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_FULL, kind.kind);
	EXPECT_TRUE(kind.restarted);
}

TEST_F(AbiSimWireSave, LostTrackingMakesTheNextUntrackedSaveAFullImage)
{
	ASSERT_EQ(0, save(w.w, false, true, &buf, &kind, &res));
	ASSERT_TRUE(w.state().tracking);
	mlx5vf_core_sim_wire_lose_tracking(w.w);
	EXPECT_FALSE(w.state().tracking);
	ASSERT_EQ(0, save(w.w, false, false, &buf, &kind, &res));
	EXPECT_EQ(MLX5VF_SIM_WIRE_SAVE_FULL, kind.kind);
	EXPECT_EQ(mlx5vf::kSimHeaderSize + 8 * kPage, res.image_size);
}

TEST_F(AbiSimWireSave, OneSaveInFlightAndWhatWaitsForIt)
{
	uint32_t required;
	uint64_t total;
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_wire_save_done(w.w, &res));
	ASSERT_EQ(0, mlx5vf_core_sim_wire_save(w.w, false, true, &buf, &kind));
	// The image is in the pages already; the answer comes later.
	EXPECT_NE(0, pages.mem[0][0] | pages.mem[0][1] | pages.mem[0][2] | pages.mem[0][3]);
	EXPECT_EQ(-MLX5VF_EBUSY, mlx5vf_core_sim_wire_save(w.w, true, false, &buf, &kind));
	EXPECT_EQ(-MLX5VF_EBUSY, mlx5vf_core_sim_wire_suspend(w.w, false));
	EXPECT_EQ(-MLX5VF_EBUSY, mlx5vf_core_sim_wire_query(w.w, true, false, &required, &total));
	// A full QUERY does not wait (MIG_DATA_SIZE).
	EXPECT_EQ(0, mlx5vf_core_sim_wire_query(w.w, false, false, &required, &total));
	ASSERT_EQ(0, mlx5vf_core_sim_wire_save_done(w.w, &res));
	EXPECT_EQ(required, res.image_size);
	EXPECT_FALSE(mlx5vf_core_sim_wire_save_pending(w.w));
	EXPECT_EQ(0, mlx5vf_core_sim_wire_suspend(w.w, false));

	// A reset while a SAVE is in flight voids it.
	ASSERT_EQ(0, mlx5vf_core_sim_wire_save(w.w, false, false, &buf, &kind));
	mlx5vf_core_sim_wire_function_reset(w.w);
	EXPECT_EQ(-MLX5VF_EIO, mlx5vf_core_sim_wire_save_done(w.w, &res));
	// One never answered is drained when the handle goes (ASan: nothing leaks).
	ASSERT_EQ(0, mlx5vf_core_sim_wire_save(w.w, false, false, &buf, &kind));
}

TEST(AbiSimWire, WritesStopAtTheResponderAndResetRestoresPowerOn)
{
	Wire w(config(9));
	const uint64_t power_on = w.state().checksum;
	EXPECT_EQ(50u, mlx5vf_core_sim_wire_run_activity(w.w, 50));
	EXPECT_NE(power_on, w.state().checksum);
	EXPECT_EQ(-MLX5VF_ERANGE, mlx5vf_core_sim_wire_write(w.w, 0, 8, 1));
	stop(w.w);
	EXPECT_EQ(-MLX5VF_EAGAIN, mlx5vf_core_sim_wire_write(w.w, 64, 8, 1));
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_sim_wire_suspend(w.w, true));
	mlx5vf_core_sim_wire_function_reset(w.w);
	EXPECT_FALSE(w.state().initiator_suspended);
	EXPECT_EQ(power_on, w.state().checksum);
}

} // namespace

// SPDX-License-Identifier: GPL-2.0-only
// ShimFirmware over C backends written here the way the kernel shim writes
// its own (include/mlx5vf/fw.h): a recording fake that checks every
// conversion, and a backend that puts SimVhca behind the C ABI so that whole
// migrations run through mlx5vf_core_dev_create(fw_ops) exactly as the mlx5
// backend will drive them.
#include "shim_firmware.h"

#include <mlx5vf/mig.h>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "c_user_io.h"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "host_shim.h"
#include "sim_vhca.h"

namespace mlx5vf {
namespace {

// ---- A recording fake backend -----------------------------------------

struct FakeBuf {
	mlx5vf_fw_buffer desc; // first: the backend hands out &desc
	std::vector<unsigned char *> segs;
	std::vector<std::vector<unsigned char>> mem;
};

struct Fake {
	mlx5vf_fw_caps caps = {true, false, 0xffffff00u};
	int rc = 0; // returned by every op that returns int
	unsigned int seg_size = 4096;
	bool corrupt_next = false; // next alloc returns a descriptor too small
	bool complete_inline = false;
	mlx5vf_fw_state_size size = {100, 1000};

	unsigned int query_flags = ~0u;
	std::vector<int> suspends, resumes;
	int saves = 0, loads = 0, resets = 0, frees = 0;
	mlx5vf_fw_save_req last_req = {};
	mlx5vf_fw_save_done *token = nullptr;
	unsigned int last_load_size = 0;
	mlx5vf_alloc_ctx last_actx = MLX5VF_ALLOC_SLEEPABLE;
	std::vector<std::unique_ptr<FakeBuf>> live;
};

Fake *fake_of(void *ctx)
{
	return static_cast<Fake *>(ctx);
}

void fake_caps(void *ctx, mlx5vf_fw_caps *caps)
{
	*caps = fake_of(ctx)->caps;
}

int fake_query(void *ctx, unsigned int flags, mlx5vf_fw_state_size *size)
{
	Fake *f = fake_of(ctx);
	f->query_flags = flags;
	*size = f->size;
	return f->rc;
}

int fake_suspend(void *ctx, mlx5vf_fw_suspend_op_mod op_mod)
{
	fake_of(ctx)->suspends.push_back(op_mod);
	return fake_of(ctx)->rc;
}

int fake_resume(void *ctx, mlx5vf_fw_resume_op_mod op_mod)
{
	fake_of(ctx)->resumes.push_back(op_mod);
	return fake_of(ctx)->rc;
}

int fake_save(void *ctx, const mlx5vf_fw_save_req *req, mlx5vf_fw_save_done *done)
{
	Fake *f = fake_of(ctx);
	f->saves++;
	f->last_req = *req;
	if (f->rc)
		return f->rc;
	f->token = done;
	if (f->complete_inline) {
		const mlx5vf_fw_save_result r = {MLX5VF_FW_STATUS_OK, 5, 0};
		mlx5vf_core_fw_save_done(done, &r);
	}
	return 0;
}

int fake_load(void *ctx, mlx5vf_fw_buffer *, unsigned int size)
{
	fake_of(ctx)->loads++;
	fake_of(ctx)->last_load_size = size;
	return fake_of(ctx)->rc;
}

int fake_alloc(void *ctx, unsigned long long size, mlx5vf_fw_dir dir, mlx5vf_alloc_ctx actx,
	       mlx5vf_fw_buffer **out)
{
	Fake *f = fake_of(ctx);
	f->last_actx = actx;
	if (f->rc)
		return f->rc;
	auto b = std::make_unique<FakeBuf>();
	const size_t n = (size + f->seg_size - 1) / f->seg_size;
	b->mem.resize(n, std::vector<unsigned char>(f->seg_size));
	for (auto &m : b->mem)
		b->segs.push_back(m.data());
	b->desc.segments = b->segs.data();
	b->desc.segment_count = static_cast<unsigned int>(n);
	b->desc.segment_size = f->seg_size;
	b->desc.capacity = f->corrupt_next ? size - 1 : size;
	b->desc.fw_key = 0x1234 + static_cast<unsigned int>(f->live.size());
	b->desc.dir = dir;
	f->corrupt_next = false;
	*out = &b->desc;
	f->live.push_back(std::move(b));
	return 0;
}

void fake_free(void *ctx, mlx5vf_fw_buffer *buf)
{
	Fake *f = fake_of(ctx);
	f->frees++;
	for (auto it = f->live.begin(); it != f->live.end(); ++it) {
		if (&(*it)->desc == buf) {
			f->live.erase(it);
			return;
		}
	}
	ADD_FAILURE() << "freeing a buffer the fake never made";
}

void fake_reset(void *ctx)
{
	fake_of(ctx)->resets++;
}

const mlx5vf_fw_ops kFakeOps = {
	.caps = fake_caps,
	.query_state = fake_query,
	.suspend = fake_suspend,
	.resume = fake_resume,
	.save = fake_save,
	.load = fake_load,
	.alloc_buffer = fake_alloc,
	.free_buffer = fake_free,
	.function_reset = fake_reset,
};

class Recorder final : public SaveCompletion {
public:
	void save_done(const SaveResult &r) override
	{
		last = r;
		count.fetch_add(1);
	}
	SaveResult last;
	std::atomic<int> count{0};
};

struct Adapter {
	Fake fake;
	kstd::Owned<ShimFirmware> fw;
	Adapter()
	{
		auto made = ShimFirmware::create(&kFakeOps, &fake);
		EXPECT_TRUE(made.is_ok());
		if (made.is_ok())
			fw = made.release_value();
	}
	DataBuffer *alloc(uint64_t size, DmaDir dir = DmaDir::FromDevice)
	{
		auto b = fw->alloc_buffer(size, dir, kstd::AllocCtx::Sleepable);
		EXPECT_TRUE(b.is_ok());
		return b.is_ok() ? b.value() : nullptr;
	}
};

TEST(ShimFirmware, CreateNeedsEveryOp)
{
	Fake fake;
	EXPECT_EQ(kstd::Err::Invalid, ShimFirmware::create(nullptr, &fake).error());
	// Every op before the optional tracking ones is required.
	const size_t required = offsetof(mlx5vf_fw_ops, track_caps) / sizeof(void *);
	for (size_t i = 0; i < required; i++) {
		mlx5vf_fw_ops ops = kFakeOps;
		reinterpret_cast<void **>(&ops)[i] = nullptr;
		EXPECT_EQ(kstd::Err::Invalid, ShimFirmware::create(&ops, &fake).error()) << "op " << i;
	}
	// Tracking: all four or none.
	mlx5vf_fw_ops partial = kFakeOps;
	partial.track_caps = [](void *, mlx5vf_fw_track_caps *) {};
	EXPECT_EQ(kstd::Err::Invalid, ShimFirmware::create(&partial, &fake).error());
	EXPECT_EQ(0, host_shim::outstanding_allocations());
}

TEST(ShimFirmware, SidesBecomeAsymmetricOpMods)
{
	Adapter a;
	ASSERT_TRUE(a.fw->suspend(VhcaSide::Initiator).is_ok());
	ASSERT_TRUE(a.fw->suspend(VhcaSide::Responder).is_ok());
	ASSERT_TRUE(a.fw->resume(VhcaSide::Responder).is_ok());
	ASSERT_TRUE(a.fw->resume(VhcaSide::Initiator).is_ok());
	EXPECT_EQ((std::vector<int>{0, 1}), a.fake.suspends);
	EXPECT_EQ((std::vector<int>{0, 1}), a.fake.resumes);
}

TEST(ShimFirmware, ErrorsPassThroughAsErrno)
{
	Adapter a;
	a.fake.rc = -MLX5VF_ENOTCONN;
	EXPECT_EQ(kstd::Err::NotConn, a.fw->suspend(VhcaSide::Initiator).error());
	a.fake.rc = -121; // EREMOTEIO: not one the core names, still carried
	EXPECT_EQ(-121, kstd::to_errno(a.fw->resume(VhcaSide::Initiator).error()));
	a.fake.rc = 3; // positive: a backend bug
	EXPECT_EQ(kstd::Err::Io, a.fw->query_state({}).error());
	a.fake.rc = -100000;
	EXPECT_EQ(kstd::Err::Io, a.fw->query_state({}).error());
}

TEST(ShimFirmware, QueryFlagsAndSizes)
{
	Adapter a;
	auto s = a.fw->query_state({});
	ASSERT_TRUE(s.is_ok());
	EXPECT_EQ(0u, a.fake.query_flags);
	EXPECT_EQ(100u, s.value().required);
	EXPECT_EQ(100u, s.value().remaining_total); // no chunk: the image is `required`
	s = a.fw->query_state({.incremental = true, .chunk = true});
	ASSERT_TRUE(s.is_ok());
	EXPECT_EQ(unsigned{MLX5VF_FW_QUERY_INCREMENTAL | MLX5VF_FW_QUERY_CHUNK}, a.fake.query_flags);
	EXPECT_EQ(1000u, s.value().remaining_total);
	ASSERT_TRUE(a.fw->query_state({.cleanup = true}).is_ok());
	EXPECT_EQ(unsigned{MLX5VF_FW_QUERY_CLEANUP}, a.fake.query_flags);
}

TEST(ShimFirmware, MigrationStateCapAndFieldPassThrough)
{
	Adapter a;
	EXPECT_FALSE(a.fw->caps().migration_state);
	a.fake.caps.migration_state = true;
	EXPECT_TRUE(a.fw->caps().migration_state);
	a.fake.size.migration_state = MLX5VF_FW_MIG_STATE_INIT;
	EXPECT_EQ(VhcaMigState::Init, a.fw->query_state({.incremental = true}).value().state);
	a.fake.size.migration_state = MLX5VF_FW_MIG_STATE_DIRTY;
	EXPECT_EQ(VhcaMigState::Dirty, a.fw->query_state({.incremental = true}).value().state);
	// A value the core does not know means nothing, least of all Init.
	a.fake.size.migration_state = 9;
	EXPECT_EQ(VhcaMigState::Uninitialized, a.fw->query_state({.incremental = true}).value().state);
}

TEST(ShimFirmware, CapsAndReset)
{
	Adapter a;
	a.fake.caps = {false, true, 4096};
	const FwCaps c = a.fw->caps();
	EXPECT_FALSE(c.precopy);
	EXPECT_TRUE(c.chunk_mode);
	EXPECT_EQ(4096u, c.max_image_size);
	a.fw->function_reset();
	EXPECT_EQ(1, a.fake.resets);
}

TEST(ShimFirmware, BufferWrapsTheDescriptor)
{
	Adapter a;
	a.fake.seg_size = 64;
	auto b = a.fw->alloc_buffer(200, DmaDir::ToDevice, kstd::AllocCtx::Atomic);
	ASSERT_TRUE(b.is_ok());
	DataBuffer *buf = b.value();
	EXPECT_EQ(MLX5VF_ALLOC_ATOMIC, a.fake.last_actx);
	EXPECT_EQ(DmaDir::ToDevice, buf->dir());
	EXPECT_EQ(200u, buf->capacity());
	EXPECT_EQ(0x1234u, buf->fw_key());
	EXPECT_EQ(a.fw.get(), buf->backend());
	EXPECT_EQ(1u, a.fw->live_buffers());
	// CPU copies land in the backend's segments.
	uint8_t in[200], out[200];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = static_cast<uint8_t>(i * 7);
	ASSERT_TRUE(buf->write(0, kstd::ConstBytes(in, sizeof(in))).is_ok());
	FakeBuf &fb = *a.fake.live.front();
	EXPECT_EQ(4u, fb.desc.segment_count);
	EXPECT_EQ(0, memcmp(fb.mem[1].data(), in + 64, 64));
	EXPECT_EQ(0, memcmp(fb.mem[3].data(), in + 192, 8));
	ASSERT_TRUE(buf->read(0, kstd::Bytes(out, sizeof(out))).is_ok());
	EXPECT_EQ(0, memcmp(in, out, sizeof(in)));
	EXPECT_TRUE(buf->write(1, kstd::ConstBytes(in, sizeof(in))).is_error());

	ASSERT_TRUE(a.fw->load(*buf, 150).is_ok());
	EXPECT_EQ(150u, a.fake.last_load_size);
	EXPECT_EQ(kstd::Err::Invalid, a.fw->load(*buf, 201).error());
	a.fw->free_buffer(buf);
	EXPECT_EQ(1, a.fake.frees);
	EXPECT_TRUE(a.fake.live.empty());
	EXPECT_EQ(0u, a.fw->live_buffers());
}

TEST(ShimFirmware, AllocationFailuresLeaveNothingBehind)
{
	Adapter a;
	const long base = host_shim::outstanding_allocations();
	// The wrapper fails first: the backend is never asked.
	host_shim::fail_nth_allocation(1);
	EXPECT_EQ(kstd::Err::NoMem,
		  a.fw->alloc_buffer(10, DmaDir::FromDevice, kstd::AllocCtx::Sleepable).error());
	EXPECT_TRUE(a.fake.live.empty());
	host_shim::fail_nth_allocation(0);
	// The backend fails: the wrapper goes.
	a.fake.rc = -MLX5VF_ENOMEM;
	EXPECT_EQ(kstd::Err::NoMem,
		  a.fw->alloc_buffer(10, DmaDir::FromDevice, kstd::AllocCtx::Sleepable).error());
	a.fake.rc = 0;
	EXPECT_EQ(base, host_shim::outstanding_allocations());
	EXPECT_EQ(kstd::Err::Invalid,
		  a.fw->alloc_buffer(0, DmaDir::FromDevice, kstd::AllocCtx::Sleepable).error());
	EXPECT_EQ(0u, a.fw->live_buffers());
}

TEST(ShimFirmware, ImplausibleDescriptorIsRefusedAndFreed)
{
	Adapter a;
	a.fake.corrupt_next = true;
	EXPECT_NONFATAL_FAILURE(
		{
			EXPECT_EQ(kstd::Err::Io,
				  a.fw->alloc_buffer(100, DmaDir::FromDevice, kstd::AllocCtx::Sleepable)
					  .error());
		},
		"does not match the request");
	EXPECT_EQ(1, a.fake.frees);
	EXPECT_TRUE(a.fake.live.empty());
}

TEST(ShimFirmware, ForeignBuffersAreNeverFreedOrUsed)
{
	Adapter a, b;
	DataBuffer *buf = b.alloc(100);
	ASSERT_NE(nullptr, buf);
	EXPECT_NONFATAL_FAILURE(a.fw->free_buffer(buf), "another firmware backend");
	EXPECT_EQ(0, a.fake.frees);
	EXPECT_EQ(kstd::Err::Invalid, a.fw->load(*buf, 10).error());
	Recorder rec;
	EXPECT_EQ(kstd::Err::Invalid, a.fw->save({.buffer = buf}, rec).error());
	EXPECT_EQ(0, a.fake.saves);
	b.fw->free_buffer(buf);
}

TEST(ShimFirmware, SaveCompletionIsForwardedOnce)
{
	Adapter a;
	DataBuffer *buf = a.alloc(4096);
	Recorder rec;
	ASSERT_TRUE(a.fw->save({.buffer = buf, .kind = SaveKind::Incremental, .track = true}, rec).is_ok());
	EXPECT_EQ(MLX5VF_FW_SAVE_INCREMENTAL, a.fake.last_req.kind);
	EXPECT_TRUE(a.fake.last_req.track);
	EXPECT_EQ(&a.fake.live.front()->desc, a.fake.last_req.buffer);
	EXPECT_TRUE(a.fw->save_in_flight());
	// One save at a time, and its buffer stays put.
	Recorder other;
	EXPECT_EQ(kstd::Err::Busy, a.fw->save({.buffer = buf}, other).error());
	EXPECT_EQ(1, a.fake.saves);
	EXPECT_NONFATAL_FAILURE(a.fw->free_buffer(buf), "a save is writing into");

	const mlx5vf_fw_save_result r = {MLX5VF_FW_STATUS_OK, 3000, 512};
	mlx5vf_core_fw_save_done(a.fake.token, &r);
	EXPECT_EQ(1, rec.count.load());
	EXPECT_EQ(FwStatus::Ok, rec.last.status);
	EXPECT_EQ(3000u, rec.last.image_size);
	EXPECT_EQ(512u, rec.last.next_required);
	EXPECT_FALSE(a.fw->save_in_flight());
	EXPECT_NONFATAL_FAILURE(mlx5vf_core_fw_save_done(a.fake.token, &r), "without a save in flight");
	EXPECT_EQ(1, rec.count.load());
	a.fw->free_buffer(buf);
}

TEST(ShimFirmware, SaveStatusesAndKinds)
{
	Adapter a;
	DataBuffer *buf = a.alloc(4096);
	const struct {
		unsigned int in;
		FwStatus out;
	} cases[] = {
		{MLX5VF_FW_STATUS_BAD_RESOURCE_STATE, FwStatus::BadResourceState},
		{MLX5VF_FW_STATUS_FAILED, FwStatus::Failed},
		{MLX5VF_FW_STATUS_DETACHED, FwStatus::Detached},
		{9, FwStatus::Failed},
	};
	for (const auto &c : cases) {
		Recorder rec;
		ASSERT_TRUE(a.fw->save({.buffer = buf, .kind = SaveKind::Cleanup}, rec).is_ok());
		EXPECT_EQ(MLX5VF_FW_SAVE_CLEANUP, a.fake.last_req.kind);
		const mlx5vf_fw_save_result r = {c.in, 100, 100};
		mlx5vf_core_fw_save_done(a.fake.token, &r);
		EXPECT_EQ(c.out, rec.last.status);
		EXPECT_EQ(0u, rec.last.image_size); // nothing usable from a failed save
		EXPECT_EQ(0u, rec.last.next_required);
	}
	Recorder rec;
	ASSERT_TRUE(a.fw->save({.buffer = buf, .kind = SaveKind::Full}, rec).is_ok());
	EXPECT_EQ(MLX5VF_FW_SAVE_FULL, a.fake.last_req.kind);
	EXPECT_FALSE(a.fake.last_req.track);
	EXPECT_NONFATAL_FAILURE(mlx5vf_core_fw_save_done(a.fake.token, nullptr), "without a result");
	EXPECT_EQ(FwStatus::Failed, rec.last.status);
	EXPECT_FALSE(a.fw->save_in_flight());
	a.fw->free_buffer(buf);
}

TEST(ShimFirmware, RefusedSaveLeavesNothingInFlight)
{
	Adapter a;
	DataBuffer *buf = a.alloc(4096);
	Recorder rec;
	a.fake.rc = -MLX5VF_EIO;
	EXPECT_EQ(kstd::Err::Io, a.fw->save({.buffer = buf}, rec).error());
	EXPECT_FALSE(a.fw->save_in_flight());
	a.fake.rc = 0;
	// A backend may complete before save() returns.
	a.fake.complete_inline = true;
	ASSERT_TRUE(a.fw->save({.buffer = buf}, rec).is_ok());
	EXPECT_EQ(1, rec.count.load());
	EXPECT_EQ(5u, rec.last.image_size);
	EXPECT_FALSE(a.fw->save_in_flight());
	a.fw->free_buffer(buf);
}

// The completion arrives on another CPU while the submitter polls, as the
// mlx5 command completion does; the next save may go as soon as it is seen.
TEST(ShimFirmware, CompletionFromAnotherThread)
{
	Adapter a;
	DataBuffer *buf = a.alloc(4096);
	for (int i = 0; i < 200; i++) {
		Recorder rec;
		ASSERT_TRUE(a.fw->save({.buffer = buf}, rec).is_ok());
		mlx5vf_fw_save_done *token = a.fake.token;
		std::thread t([token, i] {
			const mlx5vf_fw_save_result r = {MLX5VF_FW_STATUS_OK, static_cast<unsigned>(i), 0};
			mlx5vf_core_fw_save_done(token, &r);
		});
		while (rec.count.load() == 0)
			std::this_thread::yield();
		EXPECT_EQ(static_cast<uint32_t>(i), rec.last.image_size);
		t.join();
		EXPECT_FALSE(a.fw->save_in_flight());
	}
	a.fw->free_buffer(buf);
}

int fake_wait_save_idle(void *, mlx5vf_save_file *, bool)
{
	return 0;
}

const mlx5vf_dev_ops kFakeDevOps = {.wait_save_idle = fake_wait_save_idle};

// The arcs through the C ABI, recorded as the op_mods the mlx5 backend sends.
TEST(ShimFirmware, ArcsSendTheRightOpMods)
{
	Fake fake;
	mlx5vf_dev_config dc = {};
	dc.fw_ops = &kFakeOps;
	dc.fw_ctx = &fake;
	dc.ops = &kFakeDevOps;
	dc.features = MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P;
	mlx5vf_dev *dev = nullptr;
	ASSERT_EQ(0, mlx5vf_core_dev_create(&dc, &dev));
	mlx5vf_save_file *sf;
	mlx5vf_resume_file *rf;
	ASSERT_EQ(0, mlx5vf_core_dev_set_state(dev, MLX5VF_MIG_RUNNING_P2P, nullptr, &sf, &rf));
	EXPECT_EQ((std::vector<int>{0}), fake.suspends);
	ASSERT_EQ(0, mlx5vf_core_dev_set_state(dev, MLX5VF_MIG_STOP, nullptr, &sf, &rf));
	EXPECT_EQ((std::vector<int>{0, 1}), fake.suspends); // SUSPEND: initiator 0, responder 1
	EXPECT_TRUE(fake.resumes.empty());
	ASSERT_EQ(0, mlx5vf_core_dev_set_state(dev, MLX5VF_MIG_RUNNING, nullptr, &sf, &rf));
	EXPECT_EQ((std::vector<int>{0, 1}), fake.resumes); // RESUME: responder 0, initiator 1
	// A refusing backend stops the walk where it was.
	fake.rc = -MLX5VF_EIO;
	EXPECT_EQ(-MLX5VF_EIO, mlx5vf_core_dev_set_state(dev, MLX5VF_MIG_STOP, nullptr, &sf, &rf));
	EXPECT_EQ(MLX5VF_MIG_RUNNING, mlx5vf_core_dev_state(dev));
	fake.rc = 0;
	mlx5vf_core_dev_reset(dev);
	EXPECT_EQ(1, fake.resets);
	mlx5vf_core_dev_destroy(dev);
}

TEST(ShimFirmware, DestroyedWithBuffersOutstandingIsReported)
{
	auto a = std::make_unique<Adapter>();
	DataBuffer *buf = a->alloc(100);
	ASSERT_NE(nullptr, buf);
	EXPECT_NONFATAL_FAILURE(a->fw.reset(), "buffers outstanding");
	mlx5vf_shim_free(buf); // the wrapper the adapter could no longer free
}

// ---- SimVhca behind the C ABI ------------------------------------------
// What the mlx5 backend does with real commands, this backend does with the
// simulated firmware: translate op_mods back to sides the way mlx5_ifc.h
// defines them, describe buffers by segments, complete saves later.

class SimScheduler final : public CompletionScheduler {
public:
	void request_completion(uint64_t) override {}
};

struct SimBackend;

// Forwards the sim's completion to the core through the C entry point.
class Forwarder final : public SaveCompletion {
public:
	mlx5vf_fw_save_done *token = nullptr;
	void save_done(const SaveResult &r) override
	{
		mlx5vf_fw_save_result c = {};
		c.status = r.status == FwStatus::Ok		    ? MLX5VF_FW_STATUS_OK
			   : r.status == FwStatus::BadResourceState ? MLX5VF_FW_STATUS_BAD_RESOURCE_STATE
								    : MLX5VF_FW_STATUS_FAILED;
		c.image_size = r.image_size;
		c.next_required = r.next_required;
		mlx5vf_fw_save_done *t = token;
		token = nullptr;
		mlx5vf_core_fw_save_done(t, &c);
	}
};

struct SimBuf {
	mlx5vf_fw_buffer desc; // first
	DataBuffer *sim_buf;
	std::vector<unsigned char *> segs;
};

struct SimBackend {
	SimScheduler scheduler;
	kstd::Owned<SimVhca> sim;
	Forwarder fwd;
	int live = 0;

	explicit SimBackend(SimConfig cfg)
	{
		cfg.scheduler = &scheduler;
		auto made = SimVhca::create(cfg, kstd::AllocCtx::Sleepable);
		EXPECT_TRUE(made.is_ok());
		sim = made.release_value();
	}
	static SimBackend *of(void *ctx) { return static_cast<SimBackend *>(ctx); }
	static SimBuf *buf_of(mlx5vf_fw_buffer *d) { return reinterpret_cast<SimBuf *>(d); }
	static int rc(const kstd::Result<void> &r) { return r.is_ok() ? 0 : kstd::to_errno(r.error()); }

	static void caps(void *ctx, mlx5vf_fw_caps *out)
	{
		const FwCaps c = of(ctx)->sim->caps();
		out->precopy = c.precopy;
		out->chunk_mode = c.chunk_mode;
		out->max_image_size = c.max_image_size;
		out->migration_state = c.migration_state;
	}
	static int query(void *ctx, unsigned int flags, mlx5vf_fw_state_size *size)
	{
		auto s = of(ctx)->sim->query_state({.incremental = (flags & MLX5VF_FW_QUERY_INCREMENTAL) != 0,
						    .chunk = (flags & MLX5VF_FW_QUERY_CHUNK) != 0,
						    .cleanup = (flags & MLX5VF_FW_QUERY_CLEANUP) != 0});
		if (s.is_error())
			return kstd::to_errno(s.error());
		size->required = s.value().required;
		size->remaining_total = s.value().remaining_total;
		size->migration_state = static_cast<unsigned>(s.value().state);
		return 0;
	}
	// mlx5_ifc.h: SUSPEND initiator 0 / responder 1; RESUME responder 0 / initiator 1.
	static int suspend(void *ctx, mlx5vf_fw_suspend_op_mod op_mod)
	{
		return rc(of(ctx)->sim->suspend(op_mod == 0 ? VhcaSide::Initiator : VhcaSide::Responder));
	}
	static int resume(void *ctx, mlx5vf_fw_resume_op_mod op_mod)
	{
		return rc(of(ctx)->sim->resume(op_mod == 0 ? VhcaSide::Responder : VhcaSide::Initiator));
	}
	static int save(void *ctx, const mlx5vf_fw_save_req *req, mlx5vf_fw_save_done *done)
	{
		SimBackend *b = of(ctx);
		const SaveKind kind = req->kind == MLX5VF_FW_SAVE_FULL		? SaveKind::Full
				      : req->kind == MLX5VF_FW_SAVE_INCREMENTAL ? SaveKind::Incremental
										: SaveKind::Cleanup;
		b->fwd.token = done;
		auto r = b->sim->save(
			{.buffer = buf_of(req->buffer)->sim_buf, .kind = kind, .track = req->track}, b->fwd);
		if (r.is_error())
			b->fwd.token = nullptr;
		return rc(r);
	}
	static int load(void *ctx, mlx5vf_fw_buffer *buf, unsigned int size)
	{
		return rc(of(ctx)->sim->load(*buf_of(buf)->sim_buf, size));
	}
	static int alloc(void *ctx, unsigned long long size, mlx5vf_fw_dir dir, mlx5vf_alloc_ctx actx,
			 mlx5vf_fw_buffer **out)
	{
		SimBackend *b = of(ctx);
		auto made = b->sim->alloc_buffer(
			size, dir == MLX5VF_FW_DIR_FROM_DEVICE ? DmaDir::FromDevice : DmaDir::ToDevice,
			static_cast<kstd::AllocCtx>(actx));
		if (made.is_error())
			return kstd::to_errno(made.error());
		auto *sb = new SimBuf{};
		sb->sim_buf = made.value();
		const uint32_t seg = b->sim->config().segment_size;
		for (uint64_t off = 0; off < sb->sim_buf->capacity(); off += seg)
			sb->segs.push_back(sb->sim_buf->contiguous_at(off).data());
		sb->desc.segments = sb->segs.data();
		sb->desc.segment_count = static_cast<unsigned int>(sb->segs.size());
		sb->desc.segment_size = seg;
		sb->desc.capacity = sb->sim_buf->capacity();
		sb->desc.fw_key = sb->sim_buf->fw_key();
		sb->desc.dir = dir;
		b->live++;
		*out = &sb->desc;
		return 0;
	}
	static void free_buf(void *ctx, mlx5vf_fw_buffer *buf)
	{
		SimBuf *sb = buf_of(buf);
		of(ctx)->sim->free_buffer(sb->sim_buf);
		of(ctx)->live--;
		delete sb;
	}
	static void reset(void *ctx) { of(ctx)->sim->function_reset(); }

	void pump()
	{
		if (sim->completion_pending())
			sim->deliver_completion();
	}
};

const mlx5vf_fw_ops kSimOps = {
	.caps = SimBackend::caps,
	.query_state = SimBackend::query,
	.suspend = SimBackend::suspend,
	.resume = SimBackend::resume,
	.save = SimBackend::save,
	.load = SimBackend::load,
	.alloc_buffer = SimBackend::alloc,
	.free_buffer = SimBackend::free_buf,
	.function_reset = SimBackend::reset,
};

int sim_wait_save_idle(void *ctx, mlx5vf_save_file *file, bool)
{
	static_cast<SimBackend *>(ctx)->pump();
	return mlx5vf_core_save_in_flight(file) ? -MLX5VF_ETIMEDOUT : 0;
}

const mlx5vf_dev_ops kSimDevOps = {.wait_save_idle = sim_wait_save_idle};

using c_user_io::VecIo;

// One VF as the shim sees it: a core device over the C backend.
struct Vf {
	SimBackend backend;
	mlx5vf_dev *dev = nullptr;
	mlx5vf_save_file *save = nullptr;
	mlx5vf_resume_file *resume = nullptr;

	Vf(uint64_t identity, uint64_t seed, bool chunk) : backend(sim_config(identity, seed, chunk))
	{
		mlx5vf_dev_config dc = {};
		dc.fw_ops = &kSimOps;
		dc.fw_ctx = &backend;
		dc.ops = &kSimDevOps;
		dc.ops_ctx = &backend;
		dc.compat = {0x15b3, 0x101e, 1, identity};
		dc.features =
			MLX5VF_MIG_FEATURE_STOP_COPY | MLX5VF_MIG_FEATURE_P2P | MLX5VF_MIG_FEATURE_PRE_COPY;
		dc.max_chunk_size = 16 * 1024;
		EXPECT_EQ(0, mlx5vf_core_dev_create(&dc, &dev));
	}
	static SimConfig sim_config(uint64_t identity, uint64_t seed, bool chunk)
	{
		SimConfig c;
		c.state_size = 128 * 1024;
		c.identity = identity;
		c.seed = seed;
		c.chunk_mode = chunk;
		c.max_chunk = 16 * 1024;
		return c;
	}
	int go(mlx5vf_mig_state s)
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
	long read_all(std::vector<uint8_t> &out)
	{
		for (int guard = 0; guard < 100000; guard++) {
			VecIo v = c_user_io::over(out);
			const long n = mlx5vf_core_save_read(save, &v.io, 3000);
			if (n == -MLX5VF_EAGAIN) {
				if (!backend.sim->completion_pending())
					return n;
				backend.pump();
				continue;
			}
			if (n <= 0)
				return n;
		}
		return -MLX5VF_ETIMEDOUT;
	}
	~Vf()
	{
		if (save) {
			mlx5vf_core_dev_forget_save(dev, save);
			mlx5vf_core_save_destroy(save);
		}
		if (resume) {
			mlx5vf_core_dev_forget_resume(dev, resume);
			mlx5vf_core_resume_destroy(resume);
		}
		backend.pump();
		mlx5vf_core_dev_destroy(dev);
		EXPECT_EQ(0, backend.live);
	}
};

void migrate(bool chunk)
{
	Vf src(5, 1, chunk), dst(5, 2, chunk);
	ASSERT_NE(src.backend.sim->state_checksum(), dst.backend.sim->state_checksum());
	ASSERT_EQ(0, src.go(MLX5VF_MIG_PRE_COPY));
	ASSERT_NE(nullptr, src.save);
	EXPECT_TRUE(src.backend.sim->tracking() || src.backend.sim->completion_pending());
	std::vector<uint8_t> stream;
	EXPECT_EQ(-MLX5VF_ENOMSG, src.read_all(stream));
	src.backend.sim->run_activity(20);
	uint64_t initial = 0, dirty = 0;
	uint32_t flags = 0;
	ASSERT_EQ(0, mlx5vf_core_dev_precopy_info(src.dev, src.save, false, &flags, &initial, &dirty));
	EXPECT_EQ(-MLX5VF_ENOMSG, src.read_all(stream));
	src.backend.sim->run_activity(20);
	// Through RUNNING_P2P (SUSPEND initiator) to STOP_COPY (SUSPEND responder).
	ASSERT_EQ(0, src.go(MLX5VF_MIG_STOP_COPY));
	EXPECT_TRUE(src.backend.sim->initiator_suspended());
	EXPECT_TRUE(src.backend.sim->responder_suspended());
	EXPECT_EQ(0, src.read_all(stream));
	const uint64_t saved = src.backend.sim->state_checksum();

	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RESUMING));
	VecIo v = c_user_io::over(stream);
	EXPECT_EQ(static_cast<long>(stream.size()),
		  mlx5vf_core_dev_resume_write(dst.dev, dst.resume, &v.io, stream.size()));
	// RESUMING -> STOP -> RUNNING_P2P (RESUME responder) -> RUNNING (RESUME initiator).
	ASSERT_EQ(0, dst.go(MLX5VF_MIG_RUNNING));
	EXPECT_FALSE(dst.backend.sim->responder_suspended());
	EXPECT_FALSE(dst.backend.sim->initiator_suspended());
	EXPECT_EQ(saved, dst.backend.sim->state_checksum());
	ASSERT_EQ(0, src.go(MLX5VF_MIG_RUNNING));
}

TEST(ShimFirmwareMigration, PrecopyThroughTheCBackend)
{
	migrate(false);
}

TEST(ShimFirmwareMigration, ChunkedPrecopyThroughTheCBackend)
{
	migrate(true);
}

TEST(ShimFirmwareMigration, AbandonedPrecopyCleansUpAndDetachRefuses)
{
	Vf vf(5, 1, true);
	ASSERT_EQ(0, vf.go(MLX5VF_MIG_PRE_COPY));
	// Back to RUNNING with the initial save still in flight: the core waits,
	// then sends the cleanup save through the adapter.
	ASSERT_EQ(0, vf.go(MLX5VF_MIG_RUNNING));
	EXPECT_FALSE(vf.backend.sim->tracking());
	EXPECT_FALSE(vf.backend.sim->completion_pending());
	mlx5vf_core_dev_detach(vf.dev);
	uint64_t size;
	EXPECT_EQ(-MLX5VF_ENOTCONN, mlx5vf_core_dev_data_size(vf.dev, &size));
	mlx5vf_core_dev_attach(vf.dev);
	EXPECT_EQ(0, mlx5vf_core_dev_data_size(vf.dev, &size));
	EXPECT_GE(size, 128u * 1024); // the whole state, in the sim's image format
	mlx5vf_core_dev_reset(vf.dev);
	EXPECT_EQ(MLX5VF_MIG_RUNNING, mlx5vf_core_dev_state(vf.dev));
}

TEST(ShimFirmwareMigration, DevCreateTakesExactlyOneBackend)
{
	SimBackend backend(Vf::sim_config(1, 1, false));
	const long base = host_shim::outstanding_allocations();
	mlx5vf_dev_config dc = {};
	dc.ops = &kSimDevOps;
	dc.ops_ctx = &backend;
	dc.features = MLX5VF_MIG_FEATURE_STOP_COPY;
	mlx5vf_dev *dev = nullptr;
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_dev_create(&dc, &dev));
	mlx5vf_fw_ops partial = kSimOps;
	partial.load = nullptr;
	dc.fw_ops = &partial;
	dc.fw_ctx = &backend;
	EXPECT_EQ(-MLX5VF_EINVAL, mlx5vf_core_dev_create(&dc, &dev));
	EXPECT_EQ(nullptr, dev);
	EXPECT_EQ(base, host_shim::outstanding_allocations());
}

} // namespace
} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
// make bench: the core's data path against a baseline measured in the same
// run on the same machine (these machines are noisy: ratios, not times).
//
//  - stop-copy read: a chunked final image read through SaveFile::read, vs
//    a bare loop over the same simulated firmware (SAVE a chunk, copy it
//    out): the ratio is the core's own overhead;
//  - resume write: the stream written in 1 MiB pieces (QEMU's size) through
//    the parser into firmware buffers and loaded, vs a bare loop (copy each
//    chunk in, LOAD it);
//  - memory: peak bytes allocated during stop-copy over the image size, and
//    allocations made on the downtime path.
#include "mig_device.h"
#include "sim_vhca.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <vector>

using namespace mlx5vf;

namespace {

std::atomic<long> live_bytes{0}, peak_bytes{0}, allocations{0};

} // namespace

extern "C" void *mlx5vf_shim_alloc(size_t size, enum mlx5vf_alloc_ctx)
{
	void *p = calloc(1, size ? size : 1);
	if (p) {
		allocations++;
		live_bytes += static_cast<long>(malloc_usable_size(p));
		long peak = peak_bytes.load();
		while (live_bytes > peak && !peak_bytes.compare_exchange_weak(peak, live_bytes.load()))
			;
	}
	return p;
}
extern "C" void *mlx5vf_shim_alloc_large(size_t size)
{
	return mlx5vf_shim_alloc(size, MLX5VF_ALLOC_SLEEPABLE);
}
extern "C" void mlx5vf_shim_free(void *p)
{
	if (p)
		live_bytes -= static_cast<long>(malloc_usable_size(p));
	free(p);
}
extern "C" void mlx5vf_shim_log(enum mlx5vf_log_level, const char *) {}
extern "C" void mlx5vf_shim_warn(const char *what)
{
	fprintf(stderr, "core invariant broken: %s\n", what);
	abort();
}

namespace {

constexpr uint64_t kState = 64ull << 20;
constexpr uint32_t kChunk = 8u << 20;

struct Sched final : CompletionScheduler {
	void request_completion(uint64_t) override {}
};
struct Wait final : SaveWaiter {
	SimVhca *sim;
	kstd::Result<void> wait_save_idle(SaveFile &) override
	{
		if (sim->completion_pending())
			sim->deliver_completion();
		return kstd::ok();
	}
};
struct Mem final : UserIo {
	uint8_t *p;
	size_t pos = 0;
	kstd::Result<void> to_user(kstd::ConstBytes s) override
	{
		memcpy(p + pos, s.data(), s.size());
		pos += s.size();
		return kstd::ok();
	}
	kstd::Result<void> from_user(kstd::Bytes d) override
	{
		memcpy(d.data(), p + pos, d.size());
		pos += d.size();
		return kstd::ok();
	}
	kstd::Result<void> skip(size_t n) override
	{
		pos += n;
		return kstd::ok();
	}
};

struct Side {
	Sched sched;
	Wait wait;
	kstd::Owned<SimVhca> sim;
	kstd::Owned<MigDevice> dev;
	explicit Side(uint64_t seed)
	{
		SimConfig c;
		c.state_size = kState;
		c.identity = 1;
		c.seed = seed;
		c.chunk_mode = true;
		c.max_chunk = kChunk;
		c.segment_size = 4096;
		c.scheduler = &sched;
		sim = SimVhca::create(c, kstd::AllocCtx::Sleepable).release_value();
		wait.sim = sim.get();
		MigDevice::Config d;
		d.fw = sim.get();
		d.waiter = &wait;
		d.compat.fw_identity = 1;
		dev = MigDevice::create(d).release_value();
	}
};

// The least any driver must do with this firmware: no stream, no records.
struct Bare {
	std::vector<std::pair<size_t, size_t>> chunks; // offset, size in out

	double save_all(Side &src, uint8_t *out)
	{
		chunks.clear();
		const double t0 = now();
		(void)src.sim->suspend(VhcaSide::Initiator);
		(void)src.sim->suspend(VhcaSide::Responder);
		auto size = src.sim->query_state({.incremental = false, .chunk = true}).release_value();
		DataBuffer *buf = src.sim->alloc_buffer(kChunk, DmaDir::FromDevice, kstd::AllocCtx::Sleepable)
					  .release_value();
		struct Done final : SaveCompletion {
			SaveResult r;
			void save_done(const SaveResult &x) override { r = x; }
		} done;
		size_t pos = 0;
		uint32_t need = size.required;
		while (need) {
			(void)src.sim->save({.buffer = buf, .kind = SaveKind::Full, .track = false}, done);
			src.sim->deliver_completion();
			(void)buf->read(0, kstd::Bytes(out + pos, done.r.image_size));
			chunks.push_back({pos, done.r.image_size});
			pos += done.r.image_size;
			need = done.r.next_required;
		}
		src.sim->free_buffer(buf);
		return now() - t0;
	}

	double load_all(Side &dst, const uint8_t *in)
	{
		const double t0 = now();
		(void)dst.sim->suspend(VhcaSide::Initiator);
		(void)dst.sim->suspend(VhcaSide::Responder);
		DataBuffer *buf = dst.sim->alloc_buffer(kChunk, DmaDir::ToDevice, kstd::AllocCtx::Sleepable)
					  .release_value();
		for (auto [off, len] : chunks) {
			(void)buf->write(0, kstd::ConstBytes(in + off, len));
			(void)dst.sim->load(*buf, static_cast<uint32_t>(len));
		}
		dst.sim->free_buffer(buf);
		return now() - t0;
	}

	static double now()
	{
		return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
			.count();
	}
};

double now_s()
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v)
{
	std::sort(v.begin(), v.end());
	return v[v.size() / 2];
}

} // namespace

int main()
{
	constexpr int kRuns = 5;
	std::vector<uint8_t> stream(kState + (16u << 20)), scratch(kState), other(kState);
	std::vector<double> read_t, write_t, base_t, bare_read_t, bare_write_t;
	double peak_ratio = 0;
	long downtime_allocs = 0;
	size_t stream_len = 0;

	for (int run = 0; run < kRuns; run++) {
		// Baseline: the two copies no implementation can avoid.
		double t0 = now_s();
		memcpy(scratch.data(), other.data(), kState);
		memcpy(stream.data(), scratch.data(), kState);
		base_t.push_back(now_s() - t0);

		{
			Side bsrc(1), bdst(2);
			Bare bare;
			bare_read_t.push_back(bare.save_all(bsrc, stream.data()));
			bare_write_t.push_back(bare.load_all(bdst, stream.data()));
			if (bsrc.sim->state_checksum() != bdst.sim->state_checksum()) {
				fprintf(stderr, "bench: bare loop did not reproduce the state\n");
				return 1;
			}
		}

		Side src(1), dst(2);
		const long live_before = live_bytes, allocs_before = allocations;
		peak_bytes = live_bytes.load();
		Mem out;
		out.p = stream.data();
		t0 = now_s();
		auto opened = src.dev->set_state(MigState::StopCopy).release_value();
		kstd::Owned<SaveFile> save(opened.save);
		const long allocs_after_arc = allocations;
		for (;;) {
			auto r = save->read(out, 1u << 20);
			if (r.is_ok() && !r.value())
				break;
			if (r.is_error()) {
				src.sim->deliver_completion();
				continue;
			}
		}
		read_t.push_back(now_s() - t0);
		downtime_allocs = std::max(downtime_allocs, allocations - allocs_after_arc);
		peak_ratio = std::max(peak_ratio, double(peak_bytes - live_before) / double(kState));
		(void)allocs_before;
		stream_len = out.pos;
		(void)src.dev->set_state(MigState::Stop);
		src.dev->forget(save.get());

		auto ropen = dst.dev->set_state(MigState::Resuming).release_value();
		kstd::Owned<ResumeFile> resume(ropen.resume);
		Mem in;
		in.p = stream.data();
		t0 = now_s();
		for (size_t off = 0; off < stream_len; off += 1u << 20) {
			const size_t n = std::min<size_t>(1u << 20, stream_len - off);
			if (dst.dev->resume_write(*resume, in, n).is_error()) {
				fprintf(stderr, "bench: resume write failed\n");
				return 1;
			}
		}
		const bool resumed = dst.dev->set_state(MigState::Running).is_ok();
		write_t.push_back(now_s() - t0);
		if (!resumed || dst.sim->state_checksum() != src.sim->state_checksum()) {
			fprintf(stderr, "bench: migrated state differs\n");
			return 1;
		}
		dst.dev->forget(resume.get());
	}
	const double base = median(base_t);
	printf("image: %llu MiB in %u MiB chunks, %zu stream bytes; medians of %d runs\n",
	       static_cast<unsigned long long>(kState >> 20), kChunk >> 20, stream_len, kRuns);
	printf("reference: 2 x memcpy of the image %.1f ms; the simulated firmware hashes every byte\n",
	       base * 1e3);
	printf("stop-copy read:  %.3fx a bare SAVE+copy loop  (%.0f MiB/s)\n",
	       median(read_t) / median(bare_read_t), double(kState) / (1 << 20) / median(read_t));
	printf("resume write:    %.3fx a bare copy+LOAD loop  (%.0f MiB/s)\n",
	       median(write_t) / median(bare_write_t), double(kState) / (1 << 20) / median(write_t));
	printf("stop-copy peak memory: %.3fx the image size\n", peak_ratio);
	printf("allocations after the STOP_COPY arc (downtime path): %ld\n", downtime_allocs);
	return 0;
}

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
//    allocations made on the downtime path;
//  - dirty report: a 4 GiB tracked range with 1 page in 8 dirty, reported
//    through DirtyTracker into a bitmap, vs a bare loop that scans the same
//    dirty bitmap and sets the same output bits; allocations per report; and
//    the over-report ratio (4 KiB pages reported per 4 KiB page written) for
//    1 KiB DMA writes at 4 KiB and at 64 KiB device pages.
#include "dirty_tracker.h"
#include "mig_device.h"
#include "sim_vhca.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <random>
#include <set>
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
	kstd::Result<void> wait_save_idle(SaveFile &, bool) override
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

// A plain 4 KiB-granule output bitmap, like the iova_bitmap QEMU gets.
struct OutBitmap final : DirtyBitmap {
	std::vector<uint64_t> bits;
	explicit OutBitmap(uint64_t pages) : bits((pages + 63) / 64) {}
	void set(uint64_t iova, uint64_t length) override
	{
		for (uint64_t p = iova >> 12; p < (iova + length + 4095) >> 12; p++)
			bits[p / 64] |= uint64_t{1} << (p % 64);
	}
	uint64_t count() const
	{
		uint64_t n = 0;
		for (uint64_t w : bits)
			n += static_cast<uint64_t>(__builtin_popcountll(w));
		return n;
	}
};

struct TrackRig {
	Sched sched;
	kstd::Owned<SimVhca> sim;
	kstd::Owned<DirtyTracker> tracker;
	TrackRig(uint8_t log_page, uint64_t space)
	{
		SimConfig c;
		c.scheduler = &sched;
		c.track_caps = TrackCaps{4, log_page, 21, 12, 48};
		sim = SimVhca::create(c, kstd::AllocCtx::Sleepable).release_value();
		tracker = kstd::make<DirtyTracker>(kstd::AllocCtx::Sleepable, *sim).release_value();
		const IovaRange r{0, space};
		if (tracker->start(kstd::Span<const IovaRange>(&r, 1), 4096).is_error())
			abort();
	}
};

int dirty_bench()
{
	constexpr uint64_t kSpace = 4ull << 30, kPages = kSpace >> 12;
	constexpr int kRuns = 5;
	TrackRig rig(12, kSpace);
	std::vector<double> t_core, t_bare;
	long report_allocs = 0;
	uint64_t reported = 0;
	for (int run = 0; run < kRuns; run++) {
		std::vector<uint64_t> src((kPages + 63) / 64);
		for (uint64_t p = run; p < kPages; p += 8) {
			rig.sim->dma_written(p << 12, 1024);
			src[p / 64] |= uint64_t{1} << (p % 64);
		}
		OutBitmap out(kPages), bare(kPages);
		const long a0 = allocations;
		double t0 = now_s();
		if (rig.tracker->report(0, kSpace, out).is_error())
			return 1;
		t_core.push_back(now_s() - t0);
		report_allocs = std::max(report_allocs, allocations - a0);
		reported = out.count();
		// Bare: scan-and-clear the dirty bitmap, set each page's bit.
		t0 = now_s();
		for (uint64_t w = 0; w < src.size(); w++) {
			uint64_t hits = src[w];
			src[w] = 0;
			while (hits) {
				const uint64_t p = w * 64 + static_cast<uint64_t>(__builtin_ctzll(hits));
				hits &= hits - 1;
				bare.set(p << 12, 4096);
			}
		}
		t_bare.push_back(now_s() - t0);
		if (bare.bits != out.bits) {
			fprintf(stderr, "bench: the tracker's report differs from the written pages\n");
			return 1;
		}
	}
	printf("dirty report (4 GiB, %llu of %llu pages dirty): %.3fx a bare bitmap scan  (%.1f ms)\n",
	       static_cast<unsigned long long>(reported), static_cast<unsigned long long>(kPages),
	       median(t_core) / median(t_bare), median(t_core) * 1e3);
	printf("allocations per dirty report: %ld\n", report_allocs);

	for (uint8_t log_page : {uint8_t{12}, uint8_t{16}}) {
		TrackRig r(log_page, 64ull << 20);
		std::mt19937_64 rng(7);
		std::set<uint64_t> written;
		for (int i = 0; i < 2000; i++) {
			const uint64_t at = (rng() % ((64ull << 20) / 1024)) * 1024;
			r.sim->dma_written(at, 1024);
			written.insert(at >> 12);
		}
		OutBitmap out((64ull << 20) >> 12);
		if (r.tracker->report(0, 64ull << 20, out).is_error())
			return 1;
		printf("over-report, 1 KiB writes at %3u KiB device pages: %.2fx (%llu pages reported, %zu "
		       "written)\n",
		       1u << (log_page - 10), double(out.count()) / double(written.size()),
		       static_cast<unsigned long long>(out.count()), written.size());
	}
	return 0;
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
	return dirty_bench();
}

// SPDX-License-Identifier: GPL-2.0-only
// mlx5vf-mig: a VFIO migration uAPI client that exercises what QEMU never
// does: every arc from every state, hostile streams, odd write segmentation,
// data_fd/reset/close races and the precopy accounting. It opens devices by
// PCI address through the group/container API and prints TAP; exit status 0
// iff every case passed.
//
//   mlx5vf-mig --src BDF [--dst BDF] [SUITE...]
//   suites: flags arcs migrate hostile races precopy multifd dirty (= all, the
//           default),
//           slow (needs the module loaded with sim_latency_us >= 200000),
//           stats (one live migration against debugfs "statistics")
#include "dirty_suite.h"
#include "mig_util.h"
#include "vfio_uapi.h"
#include "watchdog.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

using namespace mig;

namespace {

// ---------------------------------------------------------------- helpers

struct Fd {
	int fd = -1;
	Fd() = default;
	explicit Fd(int f) : fd(f) {}
	~Fd() { reset(); }
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	void reset(int f = -1)
	{
		if (fd >= 0)
			close(fd);
		fd = f;
	}
	int get() const { return fd; }
};

bool in_saving_group(uint32_t s)
{
	return s == kPreCopy || s == kPreCopyP2p || s == kStopCopy;
}

bool has_session(uint32_t s)
{
	return in_saving_group(s) || s == kResuming;
}

void set_nonblock(int fd, bool on)
{
	const int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

// A 0-byte non-blocking probe: ENODEV once the driver detached the file,
// anything else while it is still the device's session.
int probe_fd(int fd, uint32_t state)
{
	set_nonblock(fd, true);
	char c;
	const long n = state == kResuming ? (write(fd, &c, 0) < 0 ? -errno : 0) : read_once(fd, &c, 0);
	set_nonblock(fd, false);
	return n < 0 ? static_cast<int>(-n) : 0;
}

// Back to RUNNING by the cheapest legal way: a state change, or a reset where
// the uAPI requires one (RESUMING can only be aborted by a reset).
bool to_running(Device &d)
{
	uint32_t s = d.state();
	if (s == kRunning)
		return true;
	if (s != kResuming && s != kError) {
		int fd;
		if (!d.set_state(kRunning, &fd)) {
			if (fd >= 0)
				close(fd);
			if (d.state() == kRunning)
				return true;
		}
	}
	if (const int err = d.reset())
		tap.diag("VFIO_DEVICE_RESET on %s: %s", d.bdf().c_str(), errname(err).c_str());
	s = d.state();
	if (s != kRunning)
		tap.diag("%s stuck in %s", d.bdf().c_str(), state_name(s));
	return s == kRunning;
}

struct Saved {
	Bytes stream;
	uint64_t checksum = 0; // debugfs saved_checksum of the source
};

// Stop-copy save from RUNNING (the combination arc RUNNING -> STOP_COPY).
bool save_stop_copy(Device &d, Saved *out, std::string *why, size_t chunk = 1 << 20)
{
	if (!to_running(d)) {
		*why = "cannot reach RUNNING";
		return false;
	}
	int fd;
	if (int err = d.set_state(kStopCopy, &fd)) {
		*why = "RUNNING -> STOP_COPY: " + errname(err);
		return false;
	}
	Fd f(fd);
	out->stream.clear();
	if (int err = read_to_eof(fd, &out->stream, chunk)) {
		*why = "read: " + errname(err);
		return false;
	}
	out->checksum = d.debugfs_hex("saved_checksum");
	int nfd;
	if (int err = d.set_state(kStop, &nfd)) {
		*why = "STOP_COPY -> STOP: " + errname(err);
		return false;
	}
	return to_running(d);
}

struct LoadResult {
	int write_err = 0;
	size_t failed_at = 0;
	int stop_err = 0;
	uint64_t loaded = 0;
	bool ok() const { return !write_err && !stop_err; }
	std::string str() const
	{
		if (write_err)
			return strf("write at %zu: %s", failed_at, errname(write_err).c_str());
		if (stop_err)
			return "RESUMING -> STOP: " + errname(stop_err);
		return strf("loaded_checksum %016llx", static_cast<unsigned long long>(loaded));
	}
};

// RUNNING -> RESUMING, write the stream cut at cuts, then RESUMING -> STOP
// and back to RUNNING. A refused stream leaves the device as the driver left it.
LoadResult load_stream(Device &d, const uint8_t *data, size_t len, const std::vector<size_t> &cuts)
{
	LoadResult r;
	if (!to_running(d)) {
		r.stop_err = EIO;
		return r;
	}
	int fd;
	if ((r.stop_err = d.set_state(kResuming, &fd)))
		return r;
	Fd f(fd);
	if ((r.write_err = write_cuts(fd, data, len, cuts, &r.failed_at)))
		return r;
	int nfd;
	if ((r.stop_err = d.set_state(kStop, &nfd)))
		return r;
	r.loaded = d.debugfs_hex("loaded_checksum");
	to_running(d);
	return r;
}

LoadResult load_stream(Device &d, const Bytes &s, const std::vector<size_t> &cuts)
{
	return load_stream(d, s.data(), s.size(), cuts);
}

std::vector<size_t> cuts_every(size_t n, size_t len)
{
	std::vector<size_t> c;
	for (size_t p = n; p < len; p += n)
		c.push_back(p);
	return c;
}

// 1-byte writes. A small stream is written a byte at a time whole. In a big one
// (a chunked image: 9 MiB is 9.4 million writes, six minutes under KASAN and
// TCG) what 1-byte writes exercise is where they stop: inside each record
// header and the image header, across each record boundary, and across the
// destination's page and MiB boundaries. So a window of bytewise writes covers
// each record's edges and each MiB of its payload, and 4093-byte writes (never
// page-aligned) carry the rest.
std::vector<size_t> cuts_bytewise(const Bytes &s)
{
	constexpr size_t kWhole = 2 << 20;
	constexpr size_t kWindow = 8192; // both sides of an edge: two pages and more
	std::vector<Record> recs;
	std::string why;
	if (s.size() <= kWhole || !parse_stream(s, &recs, &why))
		return cuts_every(1, s.size());
	std::vector<size_t> edges;
	for (const Record &r : recs) {
		edges.push_back(r.offset);
		for (size_t mib = 1 << 20; mib < r.size; mib += 1 << 20)
			edges.push_back(r.payload() + mib);
	}
	edges.push_back(s.size());
	std::vector<size_t> c;
	size_t p = 0; // the last cut (0: the stream's start)
	for (size_t e : edges) {
		const size_t lo = e > kWindow ? e - kWindow : 0;
		const size_t hi = std::min(e + kWindow, s.size());
		while (p + 4093 < lo)
			c.push_back(p += 4093);
		while (p + 1 < hi)
			c.push_back(++p);
	}
	return c;
}

// Odd sizes, including ones that split the 16-byte header and the 64-byte
// simulated image header in every way.
std::vector<size_t> cuts_odd(size_t len)
{
	static const size_t sizes[] = {1, 3, 7, 15, 16, 17, 31, 63, 65, 4093, 4097, 65521, 2, 9, 127};
	std::vector<size_t> c;
	size_t p = 0;
	for (size_t i = 0;; i++) {
		p += sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		if (p >= len)
			break;
		c.push_back(p);
	}
	return c;
}

// Writes that straddle records: each write holds the tail of one record and
// the head of the next, and every header is split.
std::vector<size_t> cuts_straddle(const Bytes &s)
{
	std::vector<Record> recs;
	std::string why;
	if (!parse_stream(s, &recs, &why))
		return cuts_odd(s.size());
	std::vector<size_t> c;
	for (const Record &r : recs) {
		for (long d : {-3L, 1L, 5L, 15L, 17L, 80L})
			if (static_cast<long>(r.offset) + d > 0)
				c.push_back(r.offset + d);
		for (size_t p = r.payload() + 100; p + 100 < r.end(); p += 65521)
			c.push_back(p);
	}
	std::sort(c.begin(), c.end());
	c.erase(std::unique(c.begin(), c.end()), c.end());
	while (!c.empty() && c.back() >= s.size())
		c.pop_back();
	return c;
}

std::string describe_stream(const Bytes &s)
{
	std::vector<Record> recs;
	std::string why;
	if (!parse_stream(s, &recs, &why))
		return "unparseable: " + why;
	std::string out = strf("%zu bytes:", s.size());
	for (const Record &r : recs)
		out += strf(" [tag %#x%s %llu]", r.tag, r.flags & kFlagOptional ? " opt" : "",
			    static_cast<unsigned long long>(r.size));
	return out;
}

// Our COMPAT record first, STOP_COPY_SIZE next, then FW_DATA records only.
bool stream_shape_ok(const Bytes &s, std::string *why)
{
	std::vector<Record> recs;
	if (!parse_stream(s, &recs, why))
		return false;
	if (recs.size() < 3 || recs[0].tag != kTagCompat || recs[1].tag != kTagStopCopySize) {
		*why = "expected COMPAT, STOP_COPY_SIZE, FW_DATA...: " + describe_stream(s);
		return false;
	}
	if (!(recs[0].flags & kFlagOptional) || !(recs[1].flags & kFlagOptional) || recs[1].size != 8) {
		*why = "COMPAT/STOP_COPY_SIZE must be optional, STOP_COPY_SIZE 8 bytes";
		return false;
	}
	for (size_t i = 2; i < recs.size(); i++) {
		if (recs[i].tag != kTagFwData || (recs[i].flags & kFlagOptional)) {
			*why = strf("record %zu is not a mandatory FW_DATA", i);
			return false;
		}
	}
	return true;
}

// The bytes of record r within s.
Bytes record_bytes(const Bytes &s, const Record &r)
{
	return Bytes(s.begin() + r.offset, s.begin() + r.end());
}

Bytes concat(std::initializer_list<Bytes> parts)
{
	Bytes out;
	for (const Bytes &p : parts)
		out.insert(out.end(), p.begin(), p.end());
	return out;
}

// A thread blocked in read() on a data_fd.
class Reader {
public:
	Reader(int fd, size_t len) : fd_(fd), buf_(len)
	{
		th_ = std::thread([this] {
			tid_.store(static_cast<int>(syscall(SYS_gettid)));
			result_.store(read_once(fd_, buf_.data(), buf_.size()));
			done_.store(true);
		});
	}
	~Reader()
	{
		if (!done_.load())
			interrupt();
		th_.join();
	}
	bool done() const { return done_.load(); }
	long result() const { return result_.load(); }
	bool wait(unsigned ms)
	{
		const uint64_t end = now_ms() + ms;
		while (!done_.load() && now_ms() < end)
			sleep_ms(2);
		return done_.load();
	}
	// True once the thread is seen asleep inside read(); false if it ended
	// or was not seen blocking within ms.
	bool wait_blocked(unsigned ms)
	{
		const uint64_t end = now_ms() + ms;
		while (now_ms() < end && !done_.load()) {
			const int tid = tid_.load();
			if (tid) {
				const std::string stat = read_text(strf("/proc/self/task/%d/stat", tid));
				const std::string sc = read_text(strf("/proc/self/task/%d/syscall", tid));
				const size_t paren = stat.rfind(')');
				const bool sleeping = paren != std::string::npos && paren + 2 < stat.size() &&
						      stat[paren + 2] == 'S';
				// syscall 0 is read on x86-64; without the file, trust the state.
				if (sleeping && (sc.empty() || sc.compare(0, 2, "0 ") == 0))
					return true;
			}
			sleep_ms(5);
		}
		return false;
	}
	void interrupt()
	{
		// SIGUSR1 has a handler without SA_RESTART: read() returns EINTR.
		pthread_kill(th_.native_handle(), SIGUSR1);
		wait(5000);
	}

private:
	int fd_;
	Bytes buf_;
	std::thread th_;
	std::atomic<int> tid_{0};
	std::atomic<long> result_{0};
	std::atomic<bool> done_{false};
};

struct Ctx {
	Device *src = nullptr;
	Device *dst = nullptr; // == src when only one VF was given
	Kmsg kmsg;
	Saved good; // a stop-copy stream of src
	bool have_good = false;
	bool good_stream()
	{
		if (have_good)
			return true;
		std::string why;
		have_good = save_stop_copy(*src, &good, &why);
		if (!have_good)
			tap.diag("could not save a reference stream from %s: %s", src->bdf().c_str(),
				 why.c_str());
		return have_good;
	}
};

bool reach(Device &d, uint32_t cur, int *fd, std::string *why);

// Kernel splats logged since the last c.kmsg.mark(), as diagnostics.
bool no_splat(Ctx &c)
{
	bool clean = true;
	for (const auto &l : c.kmsg.since()) {
		if (is_splat(l)) {
			if (clean)
				tap.diag("kmsg: %s", l.c_str());
			clean = false;
		}
	}
	return clean;
}

// The device takes arcs again: RUNNING -> STOP -> RUNNING, which needs the
// firmware to accept SUSPEND (it refuses with EBUSY while a SAVE left behind
// by an ended session is still owed a completion). Returns how many tries it
// took (1: usable at once), or -1 once timeout_ms passed without success;
// *last says why the last refused try failed.
long usable_within(Device &d, unsigned timeout_ms, std::string *last)
{
	const uint64_t t0 = now_ms();
	for (long tries = 1;; tries++) {
		int fd;
		std::string why;
		if (reach(d, kStop, &fd, &why) && to_running(d))
			return tries;
		*last = why;
		if (now_ms() - t0 > timeout_ms)
			return -1;
		sleep_ms(100);
	}
}

// ---------------------------------------------------------------- (a) flags

void suite_flags(Ctx &c)
{
	Device &d = *c.src;
	uint64_t flags = 0;
	int err = d.mig_flags(&flags);
	const uint64_t want = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;
	tap.check(!err && flags == want,
		  "flags: GET MIGRATION = %#llx (want STOP_COPY|P2P|PRE_COPY = %#llx), %s",
		  static_cast<unsigned long long>(flags), static_cast<unsigned long long>(want),
		  errname(err).c_str());

	err = d.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION,
			nullptr, 0);
	tap.check(!err, "flags: PROBE|GET MIGRATION succeeds (%s)", errname(err).c_str());
	uint64_t dummy = 0;
	err = d.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIGRATION, &dummy, sizeof(dummy));
	tap.check(err == EINVAL, "flags: SET MIGRATION is refused with EINVAL (%s)", errname(err).c_str());

	uint32_t st = 0;
	err = d.get_state(&st);
	tap.check(!err && st == kRunning, "flags: a freshly opened device is RUNNING (%s, %s)",
		  state_name(st), errname(err).c_str());

	uint64_t size = 0;
	err = d.data_size(&size);
	tap.check(!err && size > 0, "flags: GET MIG_DATA_SIZE = %llu (%s)",
		  static_cast<unsigned long long>(size), errname(err).c_str());
	err = d.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &dummy, sizeof(dummy));
	tap.check(err == EINVAL, "flags: SET MIG_DATA_SIZE is refused with EINVAL (%s)",
		  errname(err).c_str());

	// DMA logging is offered exactly where the kernel can carry reports
	// (debugfs says which); the dirty suite tests it.
	err = d.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
				VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
			nullptr, 0);
	std::string tracking;
	d.debugfs("dirty_tracking", &tracking);
	tap.check(tracking == "unavailable" ? err == ENOTTY : err == 0,
		  "flags: PROBE DMA_LOGGING_START = %s, debugfs dirty_tracking: %s", errname(err).c_str(),
		  tracking.c_str());

	struct vfio_device_feature_mig_state m = {.device_state = 0, .data_fd = -1};
	err = d.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &m, sizeof(m),
			sizeof(struct vfio_device_feature) + 4);
	tap.check(err == EINVAL, "flags: MIG_DEVICE_STATE with a short argsz is refused with EINVAL (%s)",
		  errname(err).c_str());
	err = d.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE |
				VFIO_DEVICE_FEATURE_SET,
			&m, sizeof(m));
	tap.check(err == EINVAL, "flags: GET|SET MIG_DEVICE_STATE together is refused with EINVAL (%s)",
		  errname(err).c_str());
}

// ---------------------------------------------------------------- (b) arcs

// Reach cur from RUNNING; *fd is its session's fd (or -1).
bool reach(Device &d, uint32_t cur, int *fd, std::string *why)
{
	*fd = -1;
	if (!to_running(d)) {
		*why = "cannot reach RUNNING";
		return false;
	}
	if (cur == kRunning)
		return true;
	if (int err = d.set_state(cur, fd)) {
		*why = strf("RUNNING -> %s: %s", state_name(cur), errname(err).c_str());
		return false;
	}
	if (has_session(cur) != (*fd >= 0)) {
		*why = strf("RUNNING -> %s returned data_fd %d", state_name(cur), *fd);
		return false;
	}
	return d.state() == cur;
}

void suite_arcs(Ctx &c)
{
	Device &d = *c.src;
	if (!c.good_stream()) {
		tap.check(false, "arcs: a reference stream to leave RESUMING with");
		return;
	}
	static const uint32_t curs[] = {kStop,	     kRunning, kStopCopy,  kResuming,
					kRunningP2p, kPreCopy, kPreCopyP2p};
	static const uint32_t targets[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 0x102, 0xffffffffu};
	for (uint32_t cur : curs) {
		for (uint32_t target : targets) {
			const std::string name =
				target < 8 ? state_name(target) : strf("%#x", static_cast<unsigned>(target));
			std::string why;
			int fd;
			if (!reach(d, cur, &fd, &why)) {
				tap.check(false, "arcs: %s -> %s: setup: %s", state_name(cur), name.c_str(),
					  why.c_str());
				continue;
			}
			Fd old(fd);
			const bool invalid =
				target == kError || target > 7 ||
				(cur == kStopCopy && (target == kPreCopy || target == kPreCopyP2p));
			// Leaving RESUMING commits the stream: give it a complete one.
			if (cur == kResuming && !invalid && target != cur) {
				if (int err = write_all(fd, c.good.stream)) {
					tap.check(false, "arcs: %s -> %s: writing the stream: %s",
						  state_name(cur), name.c_str(), errname(err).c_str());
					continue;
				}
			}
			int nfd;
			const int err = d.set_state(target, &nfd);
			Fd fresh(nfd);
			const uint32_t after = d.state();
			bool pass;
			std::string what;
			if (invalid) {
				const int probe = probe_fd(fd, cur);
				pass = err == EINVAL && nfd < 0 && after == cur &&
				       (fd < 0 || probe != ENODEV);
				what = strf("refused %s, state %s, no fd, session %s", errname(err).c_str(),
					    state_name(after),
					    fd < 0	      ? "n/a"
					    : probe == ENODEV ? "killed"
							      : "intact");
			} else {
				const bool new_fd =
					target != cur && (target == kResuming ||
							  (in_saving_group(target) && !in_saving_group(cur)));
				const bool keeps =
					target == cur || (in_saving_group(cur) && in_saving_group(target));
				const int probe = fd >= 0 ? probe_fd(fd, cur) : 0;
				const bool old_ok = fd < 0 || (keeps ? probe != ENODEV : probe == ENODEV);
				pass = !err && after == target && (nfd >= 0) == new_fd && old_ok;
				what = strf("%s, state %s, %s, old session %s", errname(err).c_str(),
					    state_name(after), nfd >= 0 ? "new fd" : "no new fd",
					    fd < 0	      ? "n/a"
					    : probe == ENODEV ? "ended (ENODEV)"
							      : ("alive (" + errname(probe) + ")").c_str());
				if (!pass)
					what += strf(" [want %s, %s, old session %s]", state_name(target),
						     new_fd ? "a new fd" : "no new fd",
						     keeps ? "alive" : "ended");
			}
			tap.check(pass, "arcs: %s -> %s: %s", state_name(cur), name.c_str(), what.c_str());
		}
	}
	to_running(d);
}

// ---------------------------------------------------------------- (c) migrate

void check_load(Device &dst, const Saved &s, const std::vector<size_t> &cuts, const char *desc)
{
	const uint64_t before = dst.debugfs_hex("sim_checksum");
	const uint64_t t0 = now_ms();
	const LoadResult r = load_stream(dst, s.stream, cuts);
	const bool pass = r.ok() && r.loaded == s.checksum && s.checksum != 0;
	tap.check(pass, "%s: %zu writes of %zu bytes into %s, %s, source saved %016llx (%llu ms)", desc,
		  cuts.size() + 1, s.stream.size(), dst.bdf().c_str(), r.str().c_str(),
		  static_cast<unsigned long long>(s.checksum),
		  static_cast<unsigned long long>(now_ms() - t0));
	if (pass && before == s.checksum)
		tap.diag("destination already held the source's state before the load");
}

// Precopy the QEMU way: PRE_COPY, drain initial and some dirty data, then
// PRE_COPY_P2P -> STOP_COPY and read to EOF. Every byte read goes to sink.
template <typename Sink>
// precopy_bytes (if given): what was read before the arc to STOP_COPY.
bool precopy_save(Device &d, unsigned rounds, Sink sink, uint64_t *checksum, std::string *why,
		  size_t *precopy_bytes = nullptr)
{
	size_t pre = 0;
	if (!to_running(d)) {
		*why = "cannot reach RUNNING";
		return false;
	}
	int fd;
	if (int err = d.set_state(kPreCopy, &fd)) {
		*why = "RUNNING -> PRE_COPY: " + errname(err);
		return false;
	}
	Fd f(fd);
	Bytes buf(4093);
	for (unsigned round = 0; round <= rounds; round++) {
		PrecopyInfo info;
		if (int err = precopy_info(fd, &info)) {
			*why = "PRECOPY_INFO: " + errname(err);
			return false;
		}
		for (;;) {
			const long n = read_once(fd, buf.data(), buf.size());
			if (n == -ENOMSG)
				break;
			if (n <= 0) {
				*why = strf("precopy read: %s", n ? errname(-n).c_str() : "EOF");
				return false;
			}
			pre += n;
			if (!sink(buf.data(), n)) {
				*why = "destination refused precopy data";
				return false;
			}
		}
		sleep_ms(20); // let the function dirty some pages
	}
	int nfd;
	if (int err = d.set_state(kPreCopyP2p, &nfd)) {
		*why = "PRE_COPY -> PRE_COPY_P2P: " + errname(err);
		return false;
	}
	if (int err = d.set_state(kStopCopy, &nfd)) {
		*why = "PRE_COPY_P2P -> STOP_COPY: " + errname(err);
		return false;
	}
	if (precopy_bytes)
		*precopy_bytes = pre;
	*checksum = d.debugfs_hex("saved_checksum");
	for (;;) {
		const long n = read_once(fd, buf.data(), buf.size());
		if (n == 0)
			break;
		if (n < 0) {
			*why = "stop-copy read: " + errname(-n);
			return false;
		}
		if (!sink(buf.data(), n)) {
			*why = "destination refused stop-copy data";
			return false;
		}
	}
	if (int err = d.set_state(kStop, &nfd)) {
		*why = "STOP_COPY -> STOP: " + errname(err);
		return false;
	}
	return to_running(d);
}

void suite_migrate(Ctx &c)
{
	Device &src = *c.src;
	Device &dst = *c.dst;
	Saved s1;
	std::string why;
	bool ok = save_stop_copy(src, &s1, &why);
	if (ok)
		ok = stream_shape_ok(s1.stream, &why);
	tap.check(ok && s1.checksum, "migrate: stop-copy save from %s: %s, saved_checksum %016llx%s%s",
		  src.bdf().c_str(), describe_stream(s1.stream).c_str(),
		  static_cast<unsigned long long>(s1.checksum), ok ? "" : ": ", ok ? "" : why.c_str());
	if (!ok)
		return;
	if (!c.have_good) {
		c.good = s1;
		c.have_good = true;
	}

	check_load(dst, s1, {}, "migrate: stop-copy stream in one write");
	const std::vector<size_t> bytewise = cuts_bytewise(s1.stream);
	check_load(dst, s1, bytewise,
		   bytewise.size() + 1 == s1.stream.size()
			   ? "migrate: stop-copy stream in 1-byte writes"
			   : "migrate: stop-copy stream in 1-byte writes at every record, header, page and "
			     "MiB edge");
	check_load(dst, s1, cuts_odd(s1.stream.size()), "migrate: stop-copy stream in odd-sized writes");
	check_load(dst, s1, cuts_straddle(s1.stream),
		   "migrate: stop-copy stream in writes straddling records");

	// One stream per RESUMING session; the next session starts clean.
	check_load(dst, s1, cuts_every(4096, s1.stream.size()),
		   "migrate: a second session on the same destination");

	Saved s2;
	ok = precopy_save(
		src, 3,
		[&](const uint8_t *p, size_t n) {
			s2.stream.insert(s2.stream.end(), p, p + n);
			return true;
		},
		&s2.checksum, &why);
	std::vector<Record> recs;
	std::string pwhy;
	const bool parsed = ok && parse_stream(s2.stream, &recs, &pwhy);
	tap.check(ok && parsed && recs.size() >= 4,
		  "migrate: precopy save from %s (3 dirty rounds, PRE_COPY_P2P, STOP_COPY): %s%s%s",
		  src.bdf().c_str(), describe_stream(s2.stream).c_str(), ok ? "" : ": ",
		  ok ? pwhy.c_str() : why.c_str());
	if (ok)
		check_load(dst, s2, cuts_straddle(s2.stream),
			   "migrate: precopy stream (initial + deltas + final)");

	if (&src == &dst) {
		tap.skip("one VF only", "migrate: live precopy migration between two VFs");
		tap.skip("one VF only", "migrate: reverse direction");
		return;
	}
	// Live: every piece read from the source goes straight to the destination,
	// as QEMU streams it, so the destination parses precopy data while the
	// source still produces it.
	ok = to_running(dst);
	int rfd = -1;
	int err = ok ? dst.set_state(kResuming, &rfd) : EIO;
	Fd r(rfd);
	uint64_t checksum = 0;
	size_t moved = 0;
	int werr = 0;
	if (!err) {
		ok = precopy_save(
			src, 3,
			[&](const uint8_t *p, size_t n) {
				moved += n;
				werr = write_cuts(rfd, p, n, {});
				return werr == 0;
			},
			&checksum, &why);
	}
	int nfd;
	const int stop = !err && ok ? dst.set_state(kStop, &nfd) : -1;
	const uint64_t loaded = dst.debugfs_hex("loaded_checksum");
	tap.check(!err && ok && !stop && loaded == checksum,
		  "migrate: live precopy %s -> %s, %zu bytes streamed: %s%s, RESUMING -> STOP %s, loaded "
		  "%016llx, "
		  "saved %016llx",
		  src.bdf().c_str(), dst.bdf().c_str(), moved,
		  err  ? errname(err).c_str()
		  : ok ? "ok"
		       : why.c_str(),
		  werr ? (" (" + errname(werr) + ")").c_str() : "",
		  stop < 0 ? "skipped" : errname(stop).c_str(), static_cast<unsigned long long>(loaded),
		  static_cast<unsigned long long>(checksum));
	r.reset();
	to_running(dst);

	Saved s3;
	ok = save_stop_copy(dst, &s3, &why, 4093);
	tap.check(ok, "migrate: reverse stop-copy save from %s in 4093-byte reads%s%s", dst.bdf().c_str(),
		  ok ? "" : ": ", ok ? "" : why.c_str());
	if (ok)
		check_load(src, s3, cuts_odd(s3.stream.size()),
			   "migrate: reverse direction, odd-sized writes");
}

// ---------------------------------------------------------------- stats

// stat_is DEV FIELD WANT: the field's "last" column is want, total at least.
void check_stat(const Device &d, const char *field, uint64_t want)
{
	uint64_t last = 0, total = 0;
	const bool have = d.stat(field, &last, &total);
	tap.check(have && last == want && total >= last, "stats: %s %s = %llu (want %llu), total %llu",
		  d.bdf().c_str(), field, static_cast<unsigned long long>(last),
		  static_cast<unsigned long long>(want), static_cast<unsigned long long>(total));
}

// One live precopy migration; the driver's debugfs statistics must count
// exactly the bytes, records and chunks this client moved. Its "# stats:"
// line is for tests/vm/09-trace.t, which checks the trace against it.
void suite_stats(Ctx &c)
{
	Device &src = *c.src;
	Device &dst = *c.dst;
	if (&src == &dst) {
		tap.skip("one VF only", "stats: live precopy migration between two VFs");
		return;
	}
	std::string why;
	bool ok = to_running(src) && to_running(dst);
	int rfd = -1;
	const int err = ok ? dst.set_state(kResuming, &rfd) : EIO;
	Fd r(rfd);
	Bytes stream;
	size_t pre = 0;
	uint64_t checksum = 0;
	int werr = 0;
	if (!err)
		ok = precopy_save(
			src, 3,
			[&](const uint8_t *p, size_t n) {
				stream.insert(stream.end(), p, p + n);
				werr = write_cuts(rfd, p, n, {});
				return werr == 0;
			},
			&checksum, &why, &pre);
	int nfd;
	const int stop = !err && ok ? dst.set_state(kStop, &nfd) : -1;
	r.reset();
	const uint64_t loaded = dst.debugfs_hex("loaded_checksum");
	std::vector<Record> recs;
	std::string pwhy;
	const bool parsed = ok && parse_stream(stream, &recs, &pwhy);
	tap.check(!err && ok && !stop && parsed && loaded == checksum,
		  "stats: live precopy %s -> %s, %zu bytes (%zu in precopy): %s%s", src.bdf().c_str(),
		  dst.bdf().c_str(), stream.size(), pre,
		  err  ? errname(err).c_str()
		  : ok ? "ok"
		       : why.c_str(),
		  parsed ? "" : (", " + pwhy).c_str());
	if (err || !ok || stop || !parsed)
		return;
	size_t fw_data = 0;
	uint64_t fw_bytes = 0;
	for (const Record &rec : recs) {
		if (rec.tag == kTagFwData) {
			fw_data++;
			fw_bytes += rec.size;
		}
	}
	printf("# stats: src=%s dst=%s precopy_read=%zu stop_copy_read=%zu written=%zu records=%zu "
	       "fw_data=%zu fw_data_bytes=%llu\n",
	       src.bdf().c_str(), dst.bdf().c_str(), pre, stream.size() - pre, stream.size(), recs.size(),
	       fw_data, static_cast<unsigned long long>(fw_bytes));
	fflush(stdout);

	check_stat(src, "migrations", 1);
	check_stat(src, "precopy_bytes", pre);
	check_stat(src, "stop_copy_bytes", stream.size() - pre);
	check_stat(src, "resume_bytes", 0);
	check_stat(src, "records_written", recs.size());
	check_stat(src, "save_chunks", fw_data);
	check_stat(dst, "migrations", 1);
	check_stat(dst, "resume_bytes", stream.size());
	check_stat(dst, "records_read", recs.size());
	check_stat(dst, "load_chunks", fw_data);
	check_stat(dst, "precopy_bytes", 0);
	uint64_t rounds = 0, total = 0, to_end = 0, save_ns = 0;
	src.stat("precopy_rounds", &rounds, &total);
	src.stat("stop_copy_to_end_ns", &to_end, &total);
	src.stat("save_ns", &save_ns, &total);
	// The function dirties pages all the time: each of the three rounds
	// that found the stream drained started an incremental SAVE.
	tap.check(rounds >= 1 && rounds <= 3 && to_end > 0 && save_ns > 0,
		  "stats: %s precopy_rounds %llu (1..3), stop_copy_to_end_ns %llu, save_ns %llu",
		  src.bdf().c_str(), static_cast<unsigned long long>(rounds),
		  static_cast<unsigned long long>(to_end), static_cast<unsigned long long>(save_ns));
	to_running(src);
}

// ---------------------------------------------------------------- (d) hostile

struct Hostile {
	const char *name;
	Bytes stream;
	int want;			// errno
	bool at_write;			// refused by write() (else by RESUMING -> STOP)
	bool latch = false;		// also check that later writes keep failing
	const char *log_says = nullptr; // the one kernel log line must contain it
};

void run_hostile(Ctx &c, const Hostile &h)
{
	Device &d = *c.dst;
	const char *where = h.at_write ? "write()" : "RESUMING -> STOP";
	if (!to_running(d)) {
		tap.check(false, "hostile: %s: setup", h.name);
		return;
	}
	// The driver logs write() refusals with dev_warn_ratelimited (a burst of
	// 10 per 5 s): stay under it so that every refusal can be seen.
	static uint64_t last_refusal_ms;
	const unsigned pace = 1100;
	if (h.at_write && now_ms() - last_refusal_ms < pace)
		sleep_ms(pace - (now_ms() - last_refusal_ms));
	if (h.at_write)
		last_refusal_ms = now_ms();
	c.kmsg.mark();
	int fd;
	int err = d.set_state(kResuming, &fd);
	Fd f(fd);
	size_t at = 0;
	int werr = err ? err : write_all(fd, h.stream, 4096, &at);
	int serr = 0;
	int nfd;
	if (!err && !werr)
		serr = d.set_state(kStop, &nfd);
	const std::vector<std::string> log = c.kmsg.since();
	const int got = h.at_write ? werr : serr;
	bool pass = !err && got == h.want && (h.at_write || !werr);
	std::string extra;
	if (pass && h.at_write) {
		// The refusal is latched: later writes and the commit fail too.
		if (h.latch) {
			const int again =
				write_cuts(fd, h.stream.data(), std::min<size_t>(16, h.stream.size()), {});
			pass = again == h.want;
			extra += ", next write " + errname(again);
		}
		const int stop = d.set_state(kStop, &nfd);
		pass = pass && stop != 0;
		extra += ", RESUMING -> STOP " + errname(stop);
	}
	tap.check(pass, "hostile: %s: %s refused with %s (want %s at %s%s%s)", h.name,
		  h.at_write ? "write" : "commit", errname(got).c_str(), errname(h.want).c_str(), where,
		  extra.c_str(),
		  werr && !h.at_write ? (", but write failed: " + errname(werr) + strf(" at %zu", at)).c_str()
				      : "");

	std::vector<std::string> mine = grep(log, d.bdf());
	std::vector<std::string> splats;
	for (const auto &l : log)
		if (is_splat(l))
			splats.push_back(l);
	const bool one = mine.size() == 1 && splats.empty() &&
			 (!h.log_says || mine[0].find(h.log_says) != std::string::npos);
	tap.check(one, "hostile: %s: exactly one kernel log line, no splat: \"%s\"", h.name,
		  mine.empty() ? "(none)" : mine[0].c_str());
	if (!one)
		for (const auto &l : log)
			tap.diag("kmsg: %s", l.c_str());

	f.reset();
	err = d.reset();
	const uint32_t st = d.state();
	// Usable again: a complete stream loads after the reset.
	const LoadResult lr =
		!err && st == kRunning ? load_stream(d, c.good.stream, {}) : LoadResult{EIO, 0, EIO, 0};
	tap.check(!err && st == kRunning && lr.ok() && lr.loaded == c.good.checksum,
		  "hostile: %s: VFIO_DEVICE_RESET %s, then %s, and a good stream loads (%s)", h.name,
		  errname(err).c_str(), state_name(st), lr.str().c_str());
}

void suite_hostile(Ctx &c)
{
	if (!c.good_stream()) {
		tap.check(false, "hostile: a reference stream from the source");
		return;
	}
	const Bytes &g = c.good.stream;
	std::vector<Record> recs;
	std::string why;
	if (!parse_stream(g, &recs, &why) || recs.size() < 3 || recs[0].tag != kTagCompat ||
	    recs[1].tag != kTagStopCopySize || recs[2].size <= kSimImageHeader + 200) {
		tap.check(false, "hostile: reference stream has the expected shape: %s",
			  describe_stream(g).c_str());
		return;
	}
	const Record &compat = recs[0];
	const Record &scs = recs[1];
	const Record &img = recs[2];
	const Bytes head = Bytes(g.begin(), g.begin() + img.offset); // COMPAT + STOP_COPY_SIZE
	const Bytes images = Bytes(g.begin() + img.offset, g.end());
	auto with = [&](size_t off, uint8_t xor_mask) {
		Bytes s = g;
		s[off] ^= xor_mask;
		return s;
	};
	auto first = [&](size_t n) { return Bytes(g.begin(), g.begin() + n); };
	Bytes pad8(8, 0);

	std::vector<Hostile> cases;
	cases.push_back({"truncated inside the last image", first(g.size() - 1000), EBADMSG, false});
	cases.push_back({"truncated inside a record header", first(img.offset + 7), EBADMSG, false});
	cases.push_back({"empty stream", {}, ENOMSG, false});
	cases.push_back({"COMPAT and STOP_COPY_SIZE only, no image", head, ENOMSG, false});
	cases.push_back(
		{"trailing bytes after a complete stream", concat({g, Bytes(5, 0x42)}), EBADMSG, false});
	cases.push_back(
		{"corrupt header: garbage record header", concat({Bytes(16, 0xa5), g}), EOVERFLOW, true});
	cases.push_back({"corrupt header: COMPAT magic", with(compat.payload(), 0x01), EBADMSG, true});
	{
		Bytes short_scs =
			concat({record_bytes(g, compat), make_header(4, kFlagOptional, kTagStopCopySize),
				Bytes(4, 0), images});
		cases.push_back(
			{"corrupt header: STOP_COPY_SIZE shorter than its le64", short_scs, EBADMSG, true});
	}
	cases.push_back({"COMPAT after a device image",
			 concat({record_bytes(g, scs), record_bytes(g, img), record_bytes(g, compat),
				 Bytes(g.begin() + img.end(), g.end())}),
			 EBADMSG, true});
	cases.push_back({"oversized FW_DATA record_size 4 GiB",
			 concat({head, make_header(1ull << 32, 0, kTagFwData), Bytes(64, 0)}), EOVERFLOW,
			 true});
	cases.push_back({"oversized optional record_size 2^63",
			 concat({head, make_header(1ull << 63, kFlagOptional, 0x55), Bytes(64, 0)}),
			 EOVERFLOW, true});
	cases.push_back({"unknown mandatory tag", concat({head, make_header(8, 0, 0x1234), pad8, images}),
			 EPROTONOSUPPORT, true, true});
	cases.push_back({"incompatible COMPAT: other firmware identity", with(compat.payload() + 16, 0x80),
			 EPROTONOSUPPORT, true});
	cases.push_back({"incompatible COMPAT: major version 2", with(compat.payload() + 4, 0x03),
			 EPROTONOSUPPORT, true});
	cases.push_back({"flipped image payload byte: LOAD fails",
			 with(img.payload() + kSimImageHeader + 100, 0x10), EIO, true, true});
	cases.push_back({"flipped image header byte: LOAD fails", with(img.payload() + 8, 0x01), EIO, true});
	{
		// FW_DATA one byte short: the image is cut and the next header is
		// read one byte early.
		Bytes s = g;
		put_le64(&s[img.offset], img.size - 1);
		cases.push_back({"FW_DATA record_size one byte short", s, EIO, true});
	}
	// The operator's image ceiling (05-uapi.t's pass 2 sets it): an image
	// one byte over it is refused on its header, and the log names it.
	const uint64_t max_mib =
		strtoull(read_text("/sys/module/mlx5vf/parameters/max_image_mib").c_str(), nullptr, 10);
	if (max_mib && max_mib < 4096)
		cases.push_back(
			{"FW_DATA one byte over max_image_mib",
			 concat({head, make_header((max_mib << 20) + 1, 0, kTagFwData), Bytes(64, 0)}),
			 EOVERFLOW, true, true, "max_image_mib"});
	else
		tap.diag("max_image_mib is %llu: images up to the format's 4 GiB - 1",
			 static_cast<unsigned long long>(max_mib));
	for (const Hostile &h : cases)
		run_hostile(c, h);

	// Positive controls: what a well-behaved reader must accept.
	Saved opt = c.good;
	opt.stream = concat({head, make_header(100, kFlagOptional, 0x77), Bytes(100, 0x33), images});
	check_load(*c.dst, opt, cuts_odd(opt.stream.size()), "hostile: unknown optional record is skipped");
	// Optional records are skippable wherever they stand, before COMPAT too.
	Saved before_compat = c.good;
	before_compat.stream = concat({record_bytes(g, scs), make_header(100, kFlagOptional, 0x77),
				       Bytes(100, 0x33), record_bytes(g, compat), images});
	check_load(*c.dst, before_compat, cuts_odd(before_compat.stream.size()),
		   "hostile: STOP_COPY_SIZE and an unknown optional record before COMPAT are accepted");
	Saved noc = c.good;
	noc.stream = Bytes(g.begin() + scs.offset, g.end());
	check_load(*c.dst, noc, {}, "hostile: a stream without COMPAT (in-tree source) loads");

	// A hostile header must not make the destination allocate what it claims.
	const uint64_t claim = 512ull << 20;
	struct {
		const char *name;
		Bytes stream;
	} hogs[] = {
		{"STOP_COPY_SIZE hint",
		 concat({record_bytes(g, compat), make_header(8, kFlagOptional, kTagStopCopySize),
			 [&] {
				 Bytes v(8);
				 put_le64(v.data(), claim);
				 return v;
			 }()})},
		{"FW_DATA header", concat({record_bytes(g, compat), make_header(claim, 0, kTagFwData)})},
		// Memory follows the bytes that came: 9 MiB of them grow the
		// buffer past its bounded preallocation to 16 MiB, not to the claim.
		{"FW_DATA header followed by 9 MiB of its bytes",
		 concat({record_bytes(g, compat), make_header(claim, 0, kTagFwData), Bytes(9 << 20, 0x5a)})},
	};
	for (auto &hog : hogs) {
		Device &d = *c.dst;
		to_running(d);
		const uint64_t before = mem_available();
		int fd;
		int err = d.set_state(kResuming, &fd);
		Fd f(fd);
		const int werr = err ? err : write_all(fd, hog.stream);
		const uint64_t during = mem_available();
		f.reset();
		const int rerr = d.reset();
		const uint64_t after = mem_available();
		const long long took =
			(static_cast<long long>(before) - static_cast<long long>(during)) >> 20;
		const long long kept = (static_cast<long long>(before) - static_cast<long long>(after)) >> 20;
		tap.check(!err && took < 64,
			  "hostile: a %llu MiB %s does not make the destination allocate it "
			  "(write %s, MemAvailable -%lld MiB)",
			  static_cast<unsigned long long>(claim >> 20), hog.name, errname(werr).c_str(),
			  took);
		tap.check(!rerr && kept < 32,
			  "hostile: after the %s session is reset its memory is back (%lld MiB still "
			  "gone)",
			  hog.name, kept);
	}
}

// ---------------------------------------------------------------- (e) races

void suite_races(Ctx &c)
{
	Device &d = *c.src;
	std::string why;
	int fd, nfd, err;
	Bytes buf(1 << 20);

	// Close the data_fd in PRE_COPY, then move on: the device still owns the
	// session until the state machine ends it.
	c.kmsg.mark();
	if (reach(d, kPreCopy, &fd, &why)) {
		read_once(fd, buf.data(), 100);
		close(fd);
		err = d.set_state(kRunning, &nfd);
		tap.check(!err && nfd < 0 && d.state() == kRunning && no_splat(c),
			  "races: data_fd closed in PRE_COPY, then PRE_COPY -> RUNNING: %s",
			  errname(err).c_str());
	} else {
		tap.check(false, "races: reach PRE_COPY: %s", why.c_str());
	}
	c.kmsg.mark();
	if (reach(d, kPreCopy, &fd, &why)) {
		close(fd);
		const int e1 = d.set_state(kPreCopyP2p, &nfd);
		const int e2 = d.set_state(kStopCopy, &nfd);
		const uint32_t s = d.state();
		const int e3 = d.set_state(kStop, &nfd);
		const int e4 = d.set_state(kRunning, &nfd);
		tap.check(!e1 && !e3 && !e4 && d.state() == kRunning && (e2 || s == kStopCopy) && no_splat(c),
			  "races: data_fd closed in PRE_COPY, then PRE_COPY_P2P (%s), STOP_COPY (%s, %s), "
			  "STOP (%s), "
			  "RUNNING (%s)",
			  errname(e1).c_str(), errname(e2).c_str(), state_name(s), errname(e3).c_str(),
			  errname(e4).c_str());
	} else {
		tap.check(false, "races: reach PRE_COPY: %s", why.c_str());
	}
	c.kmsg.mark();
	if (reach(d, kStopCopy, &fd, &why)) {
		read_once(fd, buf.data(), 1000);
		close(fd);
		const int e1 = d.set_state(kStop, &nfd);
		const int e2 = d.set_state(kRunning, &nfd);
		tap.check(!e1 && !e2 && d.state() == kRunning && no_splat(c),
			  "races: data_fd closed mid stop-copy, then STOP (%s), RUNNING (%s)",
			  errname(e1).c_str(), errname(e2).c_str());
	} else {
		tap.check(false, "races: reach STOP_COPY: %s", why.c_str());
	}
	if (c.good_stream() && reach(d, kResuming, &fd, &why)) {
		write_cuts(fd, c.good.stream.data(), c.good.stream.size() / 2, {});
		close(fd);
		const int e1 = d.set_state(kStop, &nfd);
		const int e2 = d.reset();
		tap.check(e1 == EBADMSG && !e2 && d.state() == kRunning,
			  "races: resuming fd closed after half a stream: RESUMING -> STOP %s (want "
			  "EBADMSG), reset %s, "
			  "%s",
			  errname(e1).c_str(), errname(e2).c_str(), state_name(d.state()));
	} else {
		tap.check(false, "races: reach RESUMING: %s", why.c_str());
	}

	// VFIO_DEVICE_RESET with a session open: the device runs, the fd is dead.
	for (uint32_t s : {kPreCopy, kPreCopyP2p, kStopCopy, kResuming}) {
		if (!reach(d, s, &fd, &why)) {
			tap.check(false, "races: reach %s: %s", state_name(s), why.c_str());
			continue;
		}
		Fd f(fd);
		if (s != kResuming)
			read_once(fd, buf.data(), 50);
		c.kmsg.mark();
		err = d.reset();
		const uint32_t after = d.state();
		long io;
		if (s == kResuming)
			io = write(fd, buf.data(), 16) < 0 ? -errno : 0;
		else
			io = read_once(fd, buf.data(), buf.size());
		PrecopyInfo info;
		const int pi = s == kResuming ? ENOTTY : precopy_info(fd, &info);
		struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
		const int pr = s == kResuming ? 1 : poll(&p, 1, 0);
		std::vector<std::string> splats;
		for (const auto &l : c.kmsg.since())
			if (is_splat(l))
				splats.push_back(l);
		tap.check(!err && after == kRunning && io == -ENODEV && (pi == EINVAL || pi == ENOTTY) &&
				  pr == 1 && splats.empty(),
			  "races: VFIO_DEVICE_RESET in %s with the data_fd open: reset %s, state %s, %s %s, "
			  "PRECOPY_INFO %s, poll %s",
			  state_name(s), errname(err).c_str(), state_name(after),
			  s == kResuming ? "write" : "read",
			  io < 0 ? errname(-io).c_str() : strf("%ld bytes", io).c_str(), errname(pi).c_str(),
			  pr == 1 ? "readable" : "not readable");
		for (const auto &l : splats)
			tap.diag("kmsg: %s", l.c_str());
	}

	// Closing the device fd ends its sessions; the data_fd outlives it.
	c.kmsg.mark();
	if (reach(d, kStopCopy, &fd, &why)) {
		Fd f(fd);
		read_once(fd, buf.data(), 1000);
		d.close();
		const long n = read_once(fd, buf.data(), buf.size());
		err = d.open(&why);
		const uint32_t s = err ? kError : d.state();
		f.reset();
		tap.check(n == -ENODEV && !err && s == kRunning && no_splat(c),
			  "races: device fd closed in STOP_COPY: read on the data_fd %s, reopened device %s, "
			  "%s",
			  n < 0 ? errname(-n).c_str() : strf("%ld bytes", n).c_str(), errname(err).c_str(),
			  state_name(s));
		if (err)
			tap.diag("reopen: %s", why.c_str());
	} else {
		tap.check(false, "races: reach STOP_COPY: %s", why.c_str());
	}

	// File operations a stream file must refuse.
	if (reach(d, kPreCopy, &fd, &why)) {
		Fd f(fd);
		const long pr = pread(fd, buf.data(), 16, 0) < 0 ? -errno : 0;
		const long pw = write(fd, buf.data(), 16) < 0 ? -errno : 0;
		const long ls = lseek(fd, 0, SEEK_SET) < 0 ? -errno : 0;
		const int bad = ioctl(fd, VFIO_DEVICE_RESET) < 0 ? errno : 0;
		PrecopyInfo info;
		const int small = precopy_info(fd, &info, 8);
		tap.check(pr == -ESPIPE, "races: pread on the saving fd = %s (want ESPIPE)",
			  errname(-pr).c_str());
		tap.check(pw == -EBADF, "races: write on the saving fd = %s (want EBADF)",
			  errname(-pw).c_str());
		tap.check(ls == -ESPIPE, "races: lseek on the saving fd = %s (want ESPIPE)",
			  errname(-ls).c_str());
		tap.check(bad == ENOTTY, "races: a foreign ioctl on the saving fd = %s (want ENOTTY)",
			  errname(bad).c_str());
		tap.check(small == EINVAL, "races: PRECOPY_INFO with argsz 8 = %s (want EINVAL)",
			  errname(small).c_str());
	} else {
		tap.check(false, "races: reach PRE_COPY: %s", why.c_str());
	}
	if (reach(d, kResuming, &fd, &why)) {
		Fd f(fd);
		const long pw = pwrite(fd, buf.data(), 16, 0) < 0 ? -errno : 0;
		const long rd = read(fd, buf.data(), 16) < 0 ? -errno : 0;
		PrecopyInfo info;
		const int pi = precopy_info(fd, &info);
		tap.check(pw == -ESPIPE, "races: pwrite on the resuming fd = %s (want ESPIPE)",
			  errname(-pw).c_str());
		tap.check(rd == -EBADF, "races: read on the resuming fd = %s (want EBADF)",
			  errname(-rd).c_str());
		tap.check(pi == ENOTTY, "races: PRECOPY_INFO on the resuming fd = %s (want ENOTTY)",
			  errname(pi).c_str());
	} else {
		tap.check(false, "races: reach RESUMING: %s", why.c_str());
	}

	// A reader thread against resets and state changes, many times: nobody
	// hangs, and the reader always ends (data, ENOMSG, EOF or ENODEV). No
	// time budget: the first read that starts after the reset or state change
	// returned must end the session (ENODEV, or EOF when the stream was
	// already whole); a read that never returns is the watchdog's (no
	// progress for a stall period ends the run).
	unsigned bad = 0, rounds = 40;
	std::string last;
	c.kmsg.mark();
	for (unsigned i = 0; i < rounds; i++) {
		const uint32_t s = i % 2 ? kStopCopy : kPreCopy;
		if (!reach(d, s, &fd, &why)) {
			bad++;
			last = why;
			continue;
		}
		Fd f(fd);
		bool got_enodev = false;
		long end_value = 0;
		{
			std::atomic<bool> changed{false}, stop{false};
			std::atomic<long> end{1};
			std::thread th([&] {
				Bytes b(8192);
				for (;;) {
					const bool after = changed.load();
					const long n = read_once(fd, b.data(), b.size());
					if (n < 0 && n != -ENOMSG && n != -EAGAIN) {
						end = n;
						return;
					}
					if (n == 0 || after || stop.load()) {
						end = n;
						return;
					}
					if (n == -ENOMSG)
						sleep_ms(1);
				}
			});
			sleep_ms(i % 7);
			int e;
			switch (i % 4) {
			case 0:
			case 1: e = d.reset(); break;
			case 2: e = d.set_state(kRunning, &nfd); break;
			default: e = d.set_state(kStop, &nfd); break;
			}
			changed = true;
			if (e) {
				bad++;
				last = strf("round %u: %s", i, errname(e).c_str());
				stop = true; // the session may live on: end the reader
			}
			th.join();
			end_value = end.load();
			got_enodev = end_value == -ENODEV || end_value == 0;
		}
		if (!got_enodev) {
			bad++;
			last = strf("round %u: reader ended with %ld", i, end_value);
		}
		to_running(d);
	}
	std::vector<std::string> splats;
	for (const auto &l : c.kmsg.since())
		if (is_splat(l))
			splats.push_back(l);
	tap.check(!bad && splats.empty(),
		  "races: %u rounds of a reader thread vs reset / state change: %u failed%s%s", rounds, bad,
		  last.empty() ? "" : ", last: ", last.c_str());
	for (const auto &l : splats)
		tap.diag("kmsg: %s", l.c_str());
	to_running(d);
}

// ---------------------------------------------------------------- (f) precopy

// Bytes after the 72 bytes of COMPAT and STOP_COPY_SIZE that a stop-copy
// stream adds to the device's data: 16 per FW_DATA record.
uint64_t overhead(const Bytes &s)
{
	std::vector<Record> recs;
	std::string why;
	uint64_t o = 0;
	if (!parse_stream(s, &recs, &why))
		return 0;
	for (const Record &r : recs)
		o += r.tag == kTagFwData ? kHeaderSize : kHeaderSize + r.size;
	return o;
}

uint64_t fw_bytes(const Bytes &s)
{
	std::vector<Record> recs;
	std::string why;
	uint64_t n = 0;
	if (parse_stream(s, &recs, &why))
		for (const Record &r : recs)
			if (r.tag == kTagFwData)
				n += r.size;
	return n;
}

// Waits until the simulated function has run at least once more (its state
// checksum changed), rather than sleeping for as long as a tick should take
// on an idle machine. False if it stays unchanged for 30 s: the function's
// activity work has stopped.
bool wait_for_activity(const Device &d)
{
	const uint64_t before = d.debugfs_hex("sim_checksum");
	for (int i = 0; i < 3000; i++) {
		sleep_ms(10);
		if (d.debugfs_hex("sim_checksum") != before)
			return true;
	}
	return false;
}

void suite_precopy(Ctx &c)
{
	Device &d = *c.src;
	std::string why;
	int fd, nfd;
	if (!reach(d, kPreCopy, &fd, &why)) {
		tap.check(false, "precopy: reach PRE_COPY: %s", why.c_str());
		return;
	}
	Fd f(fd);
	PrecopyInfo i0, i2;
	int err = precopy_info(fd, &i0);
	tap.check(!err && i0.initial_bytes > 0 && i0.dirty_bytes == 0,
		  "precopy: on entry initial_bytes %llu > 0, dirty_bytes %llu == 0 (%s)",
		  static_cast<unsigned long long>(i0.initial_bytes),
		  static_cast<unsigned long long>(i0.dirty_bytes), errname(err).c_str());

	// The initial image is saved asynchronously, in chunks in pass 2: until
	// its last chunk is queued, initial_bytes counts the device's estimate
	// (an upper bound), then the real size. Either way every byte read
	// lowers it by one. Read the image a piece at a time (a blocking read
	// waits for the next chunk) and sample initial_bytes before each read:
	// every sample plus what was read by then is the estimate, then (from
	// some point on, for good) the real size. No timing is assumed: the
	// loop ends when initial_bytes reaches 0 or a read fails.
	Bytes initial(72);
	long n = read_once(fd, initial.data(), initial.size());
	struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
	struct Sample {
		uint64_t read, left;
	};
	std::vector<Sample> samples;
	Bytes buf(1 << 20);
	uint64_t got = 0;
	bool rok = n == 72;
	if (!rok)
		why = n < 0 ? errname(-n) : strf("%ld of 72 bytes", n);
	while (rok) {
		PrecopyInfo now;
		err = precopy_info(fd, &now);
		// The sample that says 0 may report (and start saving) a delta.
		if (err || (now.initial_bytes && now.dirty_bytes)) {
			rok = false;
			why = err ? errname(err)
				  : strf("dirty_bytes %llu during the initial image",
					 static_cast<unsigned long long>(now.dirty_bytes));
			break;
		}
		samples.push_back({got, now.initial_bytes});
		if (!now.initial_bytes)
			break;
		// 100 bytes first, then up to 1 MiB a read.
		const uint64_t want = std::min<uint64_t>(now.initial_bytes, got ? buf.size() : 100);
		n = read_once(fd, buf.data(), want);
		if (n <= 0) {
			rok = false;
			why = n ? errname(-n) : "EOF";
			break;
		}
		initial.insert(initial.end(), buf.begin(), buf.begin() + n);
		got += n;
	}
	const uint64_t est = samples.empty() ? 0 : samples[0].left;
	size_t on_est = 0, on_real = 0, off = 0;
	for (const Sample &smp : samples) {
		const uint64_t sum = smp.read + smp.left;
		if (sum == est && !on_real)
			on_est++;
		else if (sum == got)
			on_real++;
		else
			off++;
	}
	// The first sample is the entry estimate less the metadata, or already
	// the real size if the image was saved by then.
	const uint64_t entry = i0.initial_bytes - 72;
	tap.check(rok && samples.size() >= 3 && (est == entry || est == got) && got > 0 && got <= entry,
		  "precopy: the initial image read in %zu pieces: %llu bytes, at most the estimate %llu "
		  "(on entry %llu - 72 metadata bytes; first sample %llu)%s%s",
		  samples.empty() ? 0 : samples.size() - 1, static_cast<unsigned long long>(got),
		  static_cast<unsigned long long>(entry), static_cast<unsigned long long>(i0.initial_bytes),
		  static_cast<unsigned long long>(est), rok ? "" : ": ", rok ? "" : why.c_str());
	tap.check(rok && off == 0 && samples.size() >= 2 && samples[1].read == 100,
		  "precopy: reading 100 bytes lowers initial_bytes by 100, and every read by what it read "
		  "(%zu samples on the estimate, then %zu on the real size, %zu off both)",
		  on_est, on_real, off);
	// initial_bytes 0: what follows is a delta the last PRECOPY_INFO may
	// have started, and then the temporary end of stream.
	Bytes first_delta;
	err = read_to_enomsg(fd, &first_delta);
	tap.check(!err && (first_delta.empty() || fw_bytes(first_delta) > 0),
		  "precopy: after the initial image, reads end at the temporary end of stream = ENOMSG "
		  "(%s; %zu delta bytes first)",
		  err < 0 ? "EOF" : errname(err).c_str(), first_delta.size());
	int pr = poll(&p, 1, 0);
	tap.check(pr == 1 && (p.revents & POLLIN),
		  "precopy: poll at the temporary end reports readable (ENOMSG is "
		  "an answer)");
	err = precopy_info(fd, &i2);
	std::string shape;
	const bool shaped = stream_shape_ok(initial, &shape);
	tap.check(rok && !err && i2.initial_bytes == 0 && shaped,
		  "precopy: the initial bytes are whole records (COMPAT, STOP_COPY_SIZE, full image), then "
		  "initial_bytes 0: %s%s%s",
		  describe_stream(initial).c_str(), rok ? "" : ", read ", rok ? "" : why.c_str());
	if (!shaped)
		tap.diag("%s", shape.c_str());

	// The function keeps running: it dirties state, PRECOPY_INFO reports it
	// and starts saving the delta.
	const bool ran = wait_for_activity(d);
	PrecopyInfo i3;
	err = precopy_info(fd, &i3);
	tap.check(ran && !err && i3.initial_bytes == 0 && i3.dirty_bytes > 0,
		  "precopy: after the function ran, dirty_bytes %llu > 0, initial_bytes %llu (%s)",
		  static_cast<unsigned long long>(i3.dirty_bytes),
		  static_cast<unsigned long long>(i3.initial_bytes), errname(err).c_str());
	Bytes delta;
	err = read_to_enomsg(fd, &delta);
	std::vector<Record> recs;
	bool parsed = parse_stream(delta, &recs, &why);
	bool all_fw = parsed && !recs.empty();
	for (const Record &r : recs)
		all_fw = all_fw && r.tag == kTagFwData;
	tap.check(!err && all_fw, "precopy: the delta reads as FW_DATA records up to ENOMSG: %s (%s)",
		  describe_stream(delta).c_str(), err < 0 ? "EOF" : errname(err).c_str());

	// PRE_COPY_P2P: the device is not asked again, so dirty_bytes follows
	// exactly what is read.
	wait_for_activity(d);
	PrecopyInfo i4, i5, i6;
	precopy_info(fd, &i4); // queues the next delta
	err = d.set_state(kPreCopyP2p, &nfd);
	const int e5 = precopy_info(fd, &i5);
	n = read_once(fd, buf.data(), 10);
	const int e6 = precopy_info(fd, &i6);
	tap.check(
		!err && !e5 && !e6 && n == 10 && i6.dirty_bytes + 10 == i5.dirty_bytes &&
			i5.initial_bytes == 0,
		"precopy: in PRE_COPY_P2P reading 10 bytes lowers dirty_bytes by 10 (%llu -> %llu; %s %s %s)",
		static_cast<unsigned long long>(i5.dirty_bytes),
		static_cast<unsigned long long>(i6.dirty_bytes), errname(err).c_str(), errname(e5).c_str(),
		errname(e6).c_str());

	// Drain what precopy queued (no new delta starts while the device is
	// P2P-quiesced), so the stop-copy data starts at a record boundary.
	Bytes queued;
	const int dq = read_to_enomsg(fd, &queued);
	uint64_t size = 0;
	const int ds = dq ? dq : d.data_size(&size);
	err = d.set_state(kStopCopy, &nfd);
	const int e7 = precopy_info(fd, &i5);
	tap.check(
		!err && nfd < 0 && e7 == EINVAL,
		"precopy: PRE_COPY_P2P -> STOP_COPY keeps the fd (%s), PRECOPY_INFO there = %s (want EINVAL)",
		errname(err).c_str(), errname(e7).c_str());
	Bytes rest;
	err = read_to_eof(fd, &rest);
	const long again = read_once(fd, buf.data(), buf.size());
	pr = poll(&p, 1, 0);
	tap.check(
		!err && again == 0 && pr == 1 && (p.revents & POLLIN),
		"precopy: stop-copy reads to EOF without ENOMSG (%s), EOF stays (%ld), poll readable at EOF",
		errname(err).c_str(), again);
	// What STOP_COPY reads must fit in what MIG_DATA_SIZE promised just
	// before, record headers included: it counts data_fd bytes.
	std::vector<Record> frecs;
	const bool fparsed = parse_stream(rest, &frecs, &why);
	tap.check(!ds && fparsed && !frecs.empty() && rest.size() <= size,
		  "precopy: MIG_DATA_SIZE %llu before STOP_COPY bounds the %zu bytes read after it: %s (%s)",
		  static_cast<unsigned long long>(size), rest.size(), describe_stream(rest).c_str(),
		  errname(ds).c_str());
	d.set_state(kStop, &nfd);
	f.reset();
	to_running(d);

	// A stale saving fd once precopy was abandoned.
	if (reach(d, kPreCopy, &fd, &why)) {
		Fd g(fd);
		d.set_state(kRunning, &nfd);
		err = precopy_info(fd, &i0);
		tap.check(err == EINVAL || err == ENODEV,
			  "precopy: PRECOPY_INFO on a saving fd after PRE_COPY -> RUNNING = %s (want EINVAL)",
			  errname(err).c_str());
	}

	// Direct stop-copy: MIG_DATA_SIZE against the stream it announces.
	if (reach(d, kStop, &fd, &why)) {
		err = d.data_size(&size);
		Saved s;
		int sfd;
		int e2 = d.set_state(kStopCopy, &sfd);
		Fd g(sfd);
		PrecopyInfo i;
		const int e3 = e2 ? EINVAL : precopy_info(sfd, &i);
		int e4 = e2 ? e2 : read_to_eof(sfd, &s.stream);
		const uint64_t total = s.stream.size();
		const uint64_t fw = fw_bytes(s.stream);
		const uint64_t oh = overhead(s.stream);
		tap.check(!err && !e2 && !e4 && total <= size,
			  "precopy: direct stop-copy: MIG_DATA_SIZE %llu >= the %llu-byte stream (%llu "
			  "device bytes, %llu bytes of records around them)",
			  static_cast<unsigned long long>(size), static_cast<unsigned long long>(total),
			  static_cast<unsigned long long>(fw), static_cast<unsigned long long>(oh));
		tap.check(e3 == EINVAL, "precopy: PRECOPY_INFO on a STOP_COPY fd = %s (want EINVAL)",
			  errname(e3).c_str());
		if (size > 2 * total)
			tap.diag("MIG_DATA_SIZE is a loose bound: %llu for a %llu-byte stream",
				 static_cast<unsigned long long>(size),
				 static_cast<unsigned long long>(total));
	}
	to_running(d);

	// MIG_DATA_SIZE answers in every state.
	std::string bad;
	for (uint32_t s : {kStop, kRunningP2p, kPreCopy, kPreCopyP2p, kStopCopy, kResuming}) {
		if (!reach(d, s, &fd, &why)) {
			bad += strf(" %s(setup)", state_name(s));
			continue;
		}
		Fd g(fd);
		uint64_t sz;
		if (int e = d.data_size(&sz))
			bad += strf(" %s(%s)", state_name(s), errname(e).c_str());
	}
	tap.check(bad.empty(), "precopy: MIG_DATA_SIZE succeeds in every state%s", bad.c_str());
	to_running(d);
}

// ---------------------------------------------------------------- multifd

// QEMU's multifd device-state transfer (QEMU >= 10.0): on the source a thread
// per device sets STOP_COPY itself and reads the data_fd, blocking, in 1 MiB
// pieces until read() returns 0. Any error, ENOMSG and EAGAIN included, fails
// the migration. On the destination a thread writes the pieces in order.
struct MultifdSave {
	Bytes stream;		// everything read, precopy part included
	uint64_t stop_copy = 0; // bytes read after STOP_COPY
	uint64_t data_size = 0; // MIG_DATA_SIZE just before STOP_COPY
	uint64_t checksum = 0;	// saved_checksum
	size_t reads = 0;	// read() calls after STOP_COPY
	std::string why;	// empty on success
};

enum class Before {
	Direct,	       // RUNNING -> STOP -> STOP_COPY, no precopy (QEMU's path without it)
	InitialUnread, // PRE_COPY, only the metadata read: the initial image is left
	DeltaOnItsWay, // PRE_COPY drained, PRECOPY_INFO started a delta
};

const char *before_name(Before b)
{
	switch (b) {
	case Before::Direct: return "direct STOP_COPY";
	case Before::InitialUnread: return "precopy left its initial image unread";
	case Before::DeltaOnItsWay: return "precopy with a delta on its way";
	}
	return "?";
}

void multifd_save(Device &d, Before before, MultifdSave *out)
{
	int fd = -1, nfd;
	if (!to_running(d)) {
		out->why = "cannot reach RUNNING";
		return;
	}
	Bytes buf(1 << 20);
	const uint32_t first = before == Before::Direct ? kStop : kPreCopy;
	if (int err = d.set_state(first, &fd)) {
		out->why = strf("RUNNING -> %s: %s", state_name(first), errname(err).c_str());
		return;
	}
	Fd f(fd);
	if (before != Before::Direct) {
		// The metadata is there at once.
		const long n = read_once(fd, buf.data(), 72);
		if (n != 72) {
			out->why = strf("precopy read: %ld", n);
			return;
		}
		out->stream.insert(out->stream.end(), buf.begin(), buf.begin() + n);
		if (before == Before::DeltaOnItsWay) {
			Bytes initial;
			if (int err = read_to_enomsg(fd, &initial)) {
				out->why = "precopy drain: " + errname(err);
				return;
			}
			out->stream.insert(out->stream.end(), initial.begin(), initial.end());
		}
		wait_for_activity(d); // the function dirties some state
		PrecopyInfo info;
		if (int err = precopy_info(fd, &info)) {
			out->why = "PRECOPY_INFO: " + errname(err);
			return;
		}
		if (int err = d.set_state(kPreCopyP2p, &nfd)) {
			out->why = "PRE_COPY -> PRE_COPY_P2P: " + errname(err);
			return;
		}
	}
	if (int err = d.data_size(&out->data_size)) {
		out->why = "MIG_DATA_SIZE: " + errname(err);
		return;
	}
	int sfd = -1;
	if (int err = d.set_state(kStopCopy, &sfd)) {
		out->why = "-> STOP_COPY: " + errname(err);
		return;
	}
	Fd g(sfd);
	const int rfd = before == Before::Direct ? sfd : fd;
	out->checksum = d.debugfs_hex("saved_checksum");
	for (;;) {
		const long n = read_once(rfd, buf.data(), buf.size());
		out->reads++;
		if (n == 0)
			break;
		if (n < 0) {
			out->why = strf("STOP_COPY read %zu (after %llu bytes): %s", out->reads,
					static_cast<unsigned long long>(out->stop_copy), errname(-n).c_str());
			return;
		}
		out->stream.insert(out->stream.end(), buf.begin(), buf.begin() + n);
		out->stop_copy += n;
	}
	if (int err = d.set_state(kStop, &nfd)) {
		out->why = "STOP_COPY -> STOP: " + errname(err);
		return;
	}
	if (!to_running(d))
		out->why = "cannot return to RUNNING";
}

// The destination's thread: the stream in the source's 1 MiB pieces.
LoadResult multifd_load(Device &d, const Bytes &s)
{
	std::vector<size_t> cuts;
	for (size_t c = 1 << 20; c < s.size(); c += 1 << 20)
		cuts.push_back(c);
	return load_stream(d, s, cuts);
}

void suite_multifd(Ctx &c)
{
	Device &src = *c.src;
	Device &dst = *c.dst;
	for (Before b : {Before::Direct, Before::InitialUnread, Before::DeltaOnItsWay}) {
		MultifdSave m;
		multifd_save(src, b, &m);
		tap.check(m.why.empty(),
			  "multifd: %s: blocking 1 MiB reads after STOP_COPY return data, then 0 (%zu "
			  "reads, %llu bytes)%s%s",
			  before_name(b), m.reads, static_cast<unsigned long long>(m.stop_copy),
			  m.why.empty() ? "" : ": ", m.why.c_str());
		if (!m.why.empty())
			continue;
		tap.check(m.stop_copy <= m.data_size,
			  "multifd: %s: MIG_DATA_SIZE %llu before STOP_COPY >= %llu bytes read after it",
			  before_name(b), static_cast<unsigned long long>(m.data_size),
			  static_cast<unsigned long long>(m.stop_copy));
		const LoadResult r = multifd_load(dst, m.stream);
		tap.check(r.ok() && m.checksum && r.loaded == m.checksum,
			  "multifd: %s: the stream loads on %s in 1 MiB writes: %s, saved %016llx",
			  before_name(b), dst.bdf().c_str(), r.str().c_str(),
			  static_cast<unsigned long long>(m.checksum));
	}

	// Two devices at once, a thread each, as QEMU saves a guest with two VFs:
	// nothing one does may wait for the other.
	if (&src == &dst) {
		tap.skip("one VF only", "multifd: two devices saved at once");
		return;
	}
	MultifdSave ms, md;
	std::thread ts([&] { multifd_save(src, Before::InitialUnread, &ms); });
	std::thread td([&] { multifd_save(dst, Before::InitialUnread, &md); });
	ts.join();
	td.join();
	tap.check(ms.why.empty() && md.why.empty() && ms.checksum != md.checksum,
		  "multifd: %s and %s saved at once by two threads (%llu, %llu bytes after STOP_COPY; "
		  "saved %016llx, %016llx)%s%s%s",
		  src.bdf().c_str(), dst.bdf().c_str(), static_cast<unsigned long long>(ms.stop_copy),
		  static_cast<unsigned long long>(md.stop_copy), static_cast<unsigned long long>(ms.checksum),
		  static_cast<unsigned long long>(md.checksum), ms.why.empty() && md.why.empty() ? "" : ": ",
		  ms.why.c_str(), md.why.c_str());
	if (!ms.why.empty() || !md.why.empty())
		return;
	// Each stream onto the other device, both at once.
	LoadResult ls, ld;
	std::thread ls_t([&] { ls = multifd_load(dst, ms.stream); });
	std::thread ld_t([&] { ld = multifd_load(src, md.stream); });
	ls_t.join();
	ld_t.join();
	tap.check(ls.ok() && ld.ok() && ls.loaded == ms.checksum && ld.loaded == md.checksum,
		  "multifd: both streams load at once, each on the other device: %s, %s", ls.str().c_str(),
		  ld.str().c_str());
}

// ---------------------------------------------------------------- reinit

// A value with REINIT (bit 0) clear: v1 hands flags back as the caller passed them.
constexpr uint32_t kFlagsSentinel = 0x5a5a5a5a;
// Pages one reconfiguration of the simulated VF adds (debugfs "reconfigure").
constexpr uint64_t kReconfigPages = 16;

PrecopyInfo info_with_sentinel(int fd, int *err)
{
	PrecopyInfo i;
	i.flags = kFlagsSentinel;
	*err = precopy_info(fd, &i);
	return i;
}

// A live precopy migration src -> dst during which the source is
// reconfigured (new initial data). v2: the PRECOPY_INFOv2 opt-in is on.
void reinit_migration(Ctx &c, bool v2)
{
	Device &src = *c.src;
	Device &dst = *c.dst;
	const char *v = v2 ? "reinit v2" : "reinit v1";
	const uint32_t idle_flags = v2 ? 0 : kFlagsSentinel; // v2 zeroes the output
	int fd = -1, rfd = -1, nfd;
	const bool setup = to_running(src) && to_running(dst) && !dst.set_state(kResuming, &rfd) &&
			   !src.set_state(kPreCopy, &fd);
	Fd f(fd), r(rfd);
	int werr = 0;
	// Everything the source has for now (up to ENOMSG) goes to the destination.
	auto forward = [&](Bytes *b) {
		Bytes got;
		const int e = read_to_enomsg(fd, &got);
		if (b)
			b->insert(b->end(), got.begin(), got.end());
		if (!werr && !got.empty())
			werr = write_cuts(rfd, got.data(), got.size(), {});
		return e ? e : werr;
	};
	int e1 = setup ? forward(nullptr) : EIO;
	int e2 = 0;
	const PrecopyInfo before = info_with_sentinel(fd, &e2);
	// That call may have started a delta: drain it, so nothing is in flight
	// when the device is reconfigured.
	const int e3 = e1 || e2 ? EIO : forward(nullptr);
	tap.check(setup && !e1 && !e2 && !e3 && before.flags == idle_flags && before.initial_bytes == 0,
		  "%s: initial data forwarded, PRECOPY_INFO flags %#x (want %#x), initial_bytes %llu (%s %s "
		  "%s)",
		  v, before.flags, idle_flags, static_cast<unsigned long long>(before.initial_bytes),
		  errname(e1).c_str(), errname(e2).c_str(), errname(e3).c_str());
	if (!setup || e1 || e2 || e3)
		return;

	const bool rc = src.debugfs_write("reconfigure", strf("%llu", (unsigned long long)kReconfigPages));
	int e4;
	const PrecopyInfo after = info_with_sentinel(fd, &e4);
	const uint64_t new_bytes = kReconfigPages * 4096;
	if (v2)
		tap.check(rc && !e4 && after.flags == VFIO_PRECOPY_INFO_REINIT &&
				  after.initial_bytes > before.initial_bytes &&
				  after.initial_bytes > new_bytes && after.dirty_bytes == 0,
			  "%s: after reconfiguring %llu pages PRECOPY_INFO says REINIT (flags %#x), "
			  "initial_bytes %llu -> %llu, dirty_bytes %llu (%s)",
			  v, static_cast<unsigned long long>(kReconfigPages), after.flags,
			  static_cast<unsigned long long>(before.initial_bytes),
			  static_cast<unsigned long long>(after.initial_bytes),
			  static_cast<unsigned long long>(after.dirty_bytes), errname(e4).c_str());
	else
		tap.check(rc && !e4 && after.flags == kFlagsSentinel && after.initial_bytes == 0 &&
				  after.dirty_bytes > new_bytes,
			  "%s: after reconfiguring %llu pages flags stay as passed (%#x), initial_bytes "
			  "%llu, the new data is dirty_bytes %llu (%s)",
			  v, static_cast<unsigned long long>(kReconfigPages), after.flags,
			  static_cast<unsigned long long>(after.initial_bytes),
			  static_cast<unsigned long long>(after.dirty_bytes), errname(e4).c_str());

	if (v2) {
		// The new initial bytes count down as they are read: an estimate
		// (an upper bound) until the tracked SAVE lands, then exact. Sample
		// initial_bytes before each read (100 bytes first) until it says 0;
		// every sample plus what was read by then is the first sample's
		// estimate, then the real size. No timing assumed.
		int e5 = 0;
		uint64_t got = 0;
		long n = 1;
		unsigned odd_flags = 0;
		std::vector<std::pair<uint64_t, uint64_t>> samples; // read, left
		while (!e5 && n > 0) {
			const PrecopyInfo now = info_with_sentinel(fd, &e5);
			if (e5)
				break;
			odd_flags |= now.flags;
			samples.push_back({got, now.initial_bytes});
			if (!now.initial_bytes)
				break;
			Bytes piece(std::min<uint64_t>(now.initial_bytes, got ? 1u << 20 : 100));
			n = read_once(fd, piece.data(), piece.size());
			if (n > 0 && !werr)
				werr = write_cuts(rfd, piece.data(), n, {});
			if (n > 0)
				got += n;
		}
		const uint64_t est = samples.empty() ? 0 : samples[0].second;
		size_t off = 0;
		bool on_real = false;
		for (const auto &[read, left] : samples) {
			if (read + left == est && !on_real)
				continue;
			if (read + left == got)
				on_real = true;
			else
				off++;
		}
		tap.check(!e5 && n > 0 && samples.size() >= 3 && est > 100 && got <= est &&
				  samples[1].first == 100 && off == 0 && odd_flags == 0,
			  "%s: reading 100 bytes lowers the new initial_bytes by 100 (%llu -> %llu), every "
			  "read "
			  "by what it read (%llu bytes, estimate %llu, %zu samples off), no second REINIT "
			  "(flags %#x) (%s)",
			  v, static_cast<unsigned long long>(est),
			  static_cast<unsigned long long>(samples.size() >= 2 ? samples[1].second : 0),
			  static_cast<unsigned long long>(got), static_cast<unsigned long long>(est), off,
			  odd_flags,
			  n > 0 ? errname(e5).c_str()
			  : n	? errname(-n).c_str()
				: "EOF");
		const int e7 = forward(nullptr);
		int e8;
		const PrecopyInfo i2 = info_with_sentinel(fd, &e8);
		tap.check(!e7 && !e8 && i2.initial_bytes == 0 && i2.flags == 0,
			  "%s: read to ENOMSG, initial_bytes %llu (want 0), flags %#x (%s %s)", v,
			  static_cast<unsigned long long>(i2.initial_bytes), i2.flags, errname(e7).c_str(),
			  errname(e8).c_str());
	}
	int e9 = forward(nullptr);

	// PRE_COPY_P2P: the device is not asked, so no REINIT even after
	// another reconfiguration; the final image carries it.
	const int e10 = e9 ? e9 : src.set_state(kPreCopyP2p, &nfd);
	const bool rc2 = !e10 && src.debugfs_write("reconfigure", "8");
	int e11 = EIO;
	const PrecopyInfo p2p = e10 ? PrecopyInfo{} : info_with_sentinel(fd, &e11);
	tap.check(!e10 && rc2 && !e11 && p2p.flags == idle_flags,
		  "%s: reconfigured in PRE_COPY_P2P, PRECOPY_INFO flags %#x (want %#x) (%s %s)", v, p2p.flags,
		  idle_flags, errname(e10).c_str(), errname(e11).c_str());

	Bytes rest;
	const int e12 = e10 ? e10 : forward(&rest); // what precopy queued
	const int e13 = e12 ? e12 : src.set_state(kStopCopy, &nfd);
	const uint64_t saved = src.debugfs_hex("saved_checksum");
	rest.clear();
	const int e14 = e13 ? e13 : read_to_eof(fd, &rest);
	if (!e14 && !werr && !rest.empty())
		werr = write_cuts(rfd, rest.data(), rest.size(), {});
	const int e15 = e14 ? e14 : src.set_state(kStop, &nfd);
	const int e16 = e15 || werr ? EIO : dst.set_state(kStop, &nfd);
	const uint64_t loaded = dst.debugfs_hex("loaded_checksum");
	tap.check(!e16 && saved && loaded == saved,
		  "%s: the destination loaded the reconfigured state: loaded %016llx, saved %016llx "
		  "(%s %s %s %s %s)",
		  v, static_cast<unsigned long long>(loaded), static_cast<unsigned long long>(saved),
		  errname(e13).c_str(), errname(e14).c_str(), errname(e15).c_str(), errname(werr).c_str(),
		  errname(e16).c_str());
	f.reset();
	r.reset();
	to_running(src);
	to_running(dst);
}

// VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 and VFIO_PRECOPY_INFO_REINIT.
void suite_reinit(Ctx &c)
{
	Device &d = *c.src;
	if (c.src == c.dst) {
		tap.skip("one VF only", "reinit: live migrations with a reconfiguration");
		return;
	}
	std::string why;
	// A fresh open: whatever an earlier suite did, no opt-in yet.
	int err = d.open(&why);
	tap.check(!err, "reinit: reopen %s: %s", d.bdf().c_str(), err ? why.c_str() : "ok");
	if (err)
		return;
	reinit_migration(c, false);

	const uint32_t v2 = VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2;
	err = d.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | v2, nullptr, 0);
	tap.check(!err, "reinit: PROBE|SET PRECOPY_INFOv2 succeeds on a PRE_COPY device (%s)",
		  errname(err).c_str());
	err = d.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | v2, nullptr, 0);
	tap.check(err == EINVAL, "reinit: PROBE|GET PRECOPY_INFOv2 = %s (want EINVAL: SET only)",
		  errname(err).c_str());
	err = d.feature(VFIO_DEVICE_FEATURE_SET | v2, nullptr, 0);
	tap.check(!err, "reinit: SET PRECOPY_INFOv2 succeeds (%s)", errname(err).c_str());
	reinit_migration(c, true);

	// The opt-in ends with the device's last close.
	err = d.open(&why);
	int fd = -1;
	const bool pre = !err && reach(d, kPreCopy, &fd, &why);
	Fd f(fd);
	int e2 = EIO;
	const PrecopyInfo i = pre ? info_with_sentinel(fd, &e2) : PrecopyInfo{};
	tap.check(pre && !e2 && i.flags == kFlagsSentinel,
		  "reinit: after close and reopen PRECOPY_INFO leaves flags as passed again (%#x) (%s)",
		  i.flags, pre ? errname(e2).c_str() : why.c_str());
	f.reset();
	to_running(d);
}

// ---------------------------------------------------------------- slow

// A session in state (STOP_COPY or PRE_COPY) whose metadata records (72
// bytes) were read and whose first SAVE is still in flight, so nothing is
// readable. A few tries: see the note on early completions below.
bool in_flight_session(Device &d, uint32_t state, int *fd, std::string *why)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		// Let a completion work item left over from an earlier SAVE run
		// first: the simulated VF's worker delivers whatever SAVE is armed
		// when it finally gets the lock, even one armed after it was
		// queued (reported as a simulator bug), which would complete the
		// new SAVE long before its latency.
		sleep_ms(100);
		if (!reach(d, state, fd, why))
			return false;
		Bytes meta(72);
		const long n = read_once(*fd, meta.data(), meta.size());
		struct pollfd p = {.fd = *fd, .events = POLLIN, .revents = 0};
		const int pr = poll(&p, 1, 0);
		if (n == 72 && pr == 0)
			return true;
		tap.diag("%s session: metadata read %ld, poll %d right after entry: the SAVE completed early",
			 state_name(state), n, pr);
		close(*fd);
		*fd = -1;
		to_running(d);
	}
	*why = "every try found the SAVE already complete";
	return false;
}

// Blocking behaviour needs a save that stays in flight long enough to be
// seen: the module loaded with a large sim_latency_us.
void suite_slow(Ctx &c)
{
	Device &d = *c.src;
	const unsigned latency_us =
		atoi(read_text("/sys/module/mlx5vf_sim/parameters/sim_latency_us").c_str());
	if (latency_us < 200000) {
		tap.skip("needs mlx5vf_sim loaded with sim_latency_us >= 200000",
			 "slow: blocking data_fd behaviour");
		return;
	}
	std::string why;
	int fd, nfd;
	Bytes buf(1 << 20);

	// STOP_COPY: metadata is there at once, the image follows the SAVE.
	sleep_ms(100);
	if (reach(d, kStopCopy, &fd, &why)) {
		Fd f(fd);
		const long first = read_once(fd, buf.data(), buf.size());
		set_nonblock(fd, true);
		const long nb = read_once(fd, buf.data(), buf.size());
		struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
		const int p0 = poll(&p, 1, 0);
		tap.check(first == 72 && nb == -EAGAIN && p0 == 0,
			  "slow: STOP_COPY with the SAVE in flight: first read %ld bytes (COMPAT + "
			  "STOP_COPY_SIZE), "
			  "O_NONBLOCK read %s (want EAGAIN), poll %d (want 0)",
			  first, nb < 0 ? errname(-nb).c_str() : strf("%ld bytes", nb).c_str(), p0);
		const uint64_t t0 = now_ms();
		const int p1 = poll(&p, 1, 10000);
		const uint64_t waited = now_ms() - t0;
		const long got = read_once(fd, buf.data(), buf.size());
		tap.check(p1 == 1 && (p.revents & POLLIN) && got > 0,
			  "slow: poll wakes when the SAVE completes (%llu ms, latency %u ms), then read %ld "
			  "bytes",
			  static_cast<unsigned long long>(waited), latency_us / 1000, got);
		set_nonblock(fd, false);
		Bytes rest;
		const int e = read_to_eof(fd, &rest);
		const int p2 = poll(&p, 1, 0);
		tap.check(!e && p2 == 1 && read_once(fd, buf.data(), 16) == 0,
			  "slow: blocking reads reach EOF (%s), poll readable at EOF, EOF stays",
			  errname(e).c_str());
		d.set_state(kStop, &nfd);
	} else {
		tap.check(false, "slow: reach STOP_COPY: %s", why.c_str());
	}

	// PRE_COPY with the initial SAVE in flight: EAGAIN, not ENOMSG.
	if (in_flight_session(d, kPreCopy, &fd, &why)) {
		Fd f(fd);
		set_nonblock(fd, true);
		const long nb = read_once(fd, buf.data(), buf.size());
		PrecopyInfo i;
		const int pe = precopy_info(fd, &i);
		tap.check(nb == -EAGAIN && !pe && i.initial_bytes > 0,
			  "slow: PRE_COPY with the initial SAVE in flight: O_NONBLOCK read %s (want EAGAIN), "
			  "initial_bytes %llu",
			  nb < 0 ? errname(-nb).c_str() : strf("%ld bytes", nb).c_str(),
			  static_cast<unsigned long long>(i.initial_bytes));
	} else {
		tap.check(false, "slow: reach PRE_COPY: %s", why.c_str());
	}
	to_running(d);

	// A blocked reader and what ends its session.
	struct Ender {
		const char *name;
		uint32_t state;
		int how; // 0 reset, 1 SET STOP, 2 SET RUNNING, 3 close the device fd, 4 signal
	};
	static const Ender enders[] = {
		{"VFIO_DEVICE_RESET", kStopCopy, 0},	 {"VFIO_DEVICE_RESET", kPreCopy, 0},
		{"STOP_COPY -> STOP", kStopCopy, 1},	 {"PRE_COPY -> RUNNING", kPreCopy, 2},
		{"closing the device fd", kStopCopy, 3}, {"a signal", kStopCopy, 4},
	};
	for (const Ender &e : enders) {
		if (!in_flight_session(d, e.state, &fd, &why)) {
			tap.check(false, "slow: a %s session with its SAVE in flight: %s",
				  state_name(e.state), why.c_str());
			continue;
		}
		Fd f(fd);
		c.kmsg.mark();
		Reader r(fd, buf.size());
		const bool blocked = r.wait_blocked(2000);
		int err = 0;
		const uint64_t t0 = now_ms();
		switch (e.how) {
		case 0: err = d.reset(); break;
		case 1: err = d.set_state(kStop, &nfd); break;
		case 2: err = d.set_state(kRunning, &nfd); break;
		case 3: d.close(); break;
		case 4: r.interrupt(); break;
		}
		const bool ended = r.wait(10000);
		const uint64_t took = now_ms() - t0;
		const long res = r.result();
		long want = e.how == 4 ? -EINTR : -ENODEV;
		std::vector<std::string> splats;
		for (const auto &l : c.kmsg.since())
			if (is_splat(l))
				splats.push_back(l);
		tap.check(blocked && ended && !err && res == want && splats.empty(),
			  "slow: reader blocked in %s, ended by %s: read %s (want %s) after %llu ms, %s",
			  state_name(e.state), e.name,
			  !ended    ? "still blocked"
			  : res < 0 ? errname(-res).c_str()
				    : strf("%ld bytes", res).c_str(),
			  errname(-want).c_str(), static_cast<unsigned long long>(took),
			  errname(err).c_str());
		if (!blocked)
			tap.diag("the reader was not seen blocking in read()");
		for (const auto &l : splats)
			tap.diag("kmsg: %s", l.c_str());
		if (e.how == 3) {
			err = d.open(&why);
			if (err)
				tap.diag("reopen: %s", why.c_str());
		}
		if (e.how == 4) {
			// The session survives a signal: the rest of the stream reads.
			Bytes rest;
			const int re = read_to_eof(fd, &rest);
			tap.check(!re && !rest.empty(),
				  "slow: after EINTR the stream reads on to EOF (%zu bytes, %s)", rest.size(),
				  errname(re).c_str());
		}
		f.reset();
		to_running(d);
		// Usable again at once: an ended session must not leave a SAVE
		// behind that makes the firmware refuse the next arc.
		c.kmsg.mark();
		std::string last;
		// Counted in tries, not milliseconds: a debug kernel under TCG
		// takes hundreds of ms for the two arcs, but never refuses one.
		const long tries = usable_within(d, 5 * latency_us / 1000, &last);
		tap.check(tries == 1 && no_splat(c),
			  "slow: right after %s the device takes arcs again at the first try "
			  "(RUNNING -> STOP -> RUNNING: %s)",
			  e.name, tries >= 0 ? strf("%ld tries", tries).c_str() : "never");
		if (tries != 1)
			tap.diag("refused: %s", last.c_str());
	}

	// A signal while a state change waits for the SAVE in flight (issue 9,
	// 4d): EINTR at once, the device still in PRE_COPY with its data_fd;
	// the same change made again succeeds and the stream reads to EOF. The
	// signal goes only once the thread is seen asleep in the ioctl (no
	// guess at how long getting there takes); a try whose SAVE completed
	// first is made again.
	bool tried = false;
	for (int attempt = 0; attempt < 3 && !tried; attempt++) {
		if (!in_flight_session(d, kPreCopy, &fd, &why)) {
			tap.check(false, "slow: reach PRE_COPY with a SAVE in flight: %s", why.c_str());
			tried = true;
			break;
		}
		Fd f(fd);
		std::atomic<int> set_err{-1}, tid{0};
		std::atomic<bool> done{false};
		std::thread th([&] {
			tid.store(static_cast<int>(syscall(SYS_gettid)));
			int opened = -1;
			set_err.store(d.set_state(kStopCopy, &opened));
			if (opened >= 0)
				close(opened);
			done.store(true);
		});
		bool blocked = false;
		while (!blocked && !done.load()) {
			const int t = tid.load();
			if (t) {
				const std::string stat = read_text(strf("/proc/self/task/%d/stat", t));
				const std::string sc = read_text(strf("/proc/self/task/%d/syscall", t));
				const size_t paren = stat.rfind(')');
				// syscall 16 is ioctl on x86-64.
				blocked = paren != std::string::npos && paren + 2 < stat.size() &&
					  stat[paren + 2] == 'S' && sc.compare(0, 3, "16 ") == 0;
			}
			if (!blocked)
				sleep_ms(2);
		}
		c.kmsg.mark();
		const uint64_t t0 = now_ms();
		if (blocked)
			pthread_kill(th.native_handle(), SIGUSR1);
		th.join();
		const uint64_t took = now_ms() - t0;
		if (!blocked) {
			tap.diag("slow: the SAVE completed before the state change was seen waiting; again");
			to_running(d);
			continue;
		}
		tried = true;
		const uint32_t st = d.state();
		tap.check(set_err.load() == EINTR && st == kPreCopy && no_splat(c),
			  "slow: a signal ends PRE_COPY -> STOP_COPY waiting for the SAVE: %s (want EINTR) "
			  "after %llu ms, state %s (want PRE_COPY)",
			  errname(set_err.load()).c_str(), static_cast<unsigned long long>(took),
			  state_name(st));
		int again_fd = -1;
		const int again = d.set_state(kStopCopy, &again_fd);
		Bytes all;
		const int re = again ? again : read_to_eof(fd, &all);
		tap.check(!again && again_fd == -1 && !re && !all.empty(),
			  "slow: after EINTR PRE_COPY -> STOP_COPY succeeds and the data_fd reads to EOF "
			  "(%zu bytes, %s)",
			  all.size(), errname(re).c_str());
	}
	if (!tried)
		tap.check(false, "slow: every try saw the SAVE complete before the state change waited");
	to_running(d);
	c.kmsg.mark();
	std::string last;
	const long tries = usable_within(d, 5 * latency_us / 1000, &last);
	tap.check(tries >= 0 && no_splat(c),
		  "slow: after the interrupted state change the device takes arcs again (%s)",
		  tries >= 0 ? strf("%ld tries", tries).c_str() : ("never: " + last).c_str());
}

// ---------------------------------------------------------------- main

void on_signal(int) {}

// A data_fd outlives its device: an mdev instance is removed while
// userspace still holds a RESUMING data_fd whose stream was refused, then
// writes to it and closes it. Nothing the instance took with it may be
// touched (the driver once kept the instance's struct device without a
// reference: KASAN reports that use after free on the debug kernel, and the
// per-suite kernel-log check fails). Leaves the instance removed.
void suite_orphan(Ctx &c)
{
	Device &d = *c.src;
	const std::string inst = "/sys/bus/mdev/devices/" + d.bdf();
	if (access((inst + "/remove").c_str(), W_OK)) {
		tap.check(false, "orphan: %s is not an mdev instance", d.bdf().c_str());
		return;
	}
	const std::vector<uint8_t> junk(64, 0xa5);
	int fd;
	const int err = d.set_state(kResuming, &fd);
	Fd f(fd);
	const int first = err ? err : write_cuts(fd, junk.data(), junk.size(), {});
	tap.check(!err && first, "orphan: RESUMING, a corrupt record refused with %s",
		  errname(err ? err : first).c_str());

	// Only the data_fd holds the device now; removal need not wait for it.
	d.close();
	const int rfd = open((inst + "/remove").c_str(), O_WRONLY | O_CLOEXEC);
	const bool wrote = rfd >= 0 && write(rfd, "1", 1) == 1;
	if (rfd >= 0)
		close(rfd);
	progress("remove the instance");
	const bool gone = access(inst.c_str(), F_OK) != 0;
	tap.check(wrote && gone, "orphan: instance removed while its data_fd is open (%s)",
		  gone ? "gone from sysfs" : "still there");

	c.kmsg.mark();
	const int after = write_cuts(fd, junk.data(), junk.size(), {});
	tap.check(after == ENODEV, "orphan: a write to the orphaned data_fd fails with %s (want ENODEV)",
		  errname(after).c_str());
	f.reset(); // the last reference: the instance's release runs now
	progress("close the orphaned data_fd");
	const std::vector<std::string> log = c.kmsg.since();
	const std::vector<std::string> mine = grep(log, d.bdf());
	size_t splats = 0;
	for (const auto &l : log)
		splats += is_splat(l);
	tap.check(!splats && mine.size() == 1, "orphan: write and close: %zu lines naming %s, no splat (%s)",
		  mine.size(), d.bdf().c_str(), mine.empty() ? "no line" : mine[0].c_str());
	if (splats)
		for (const auto &l : log)
			tap.diag("kmsg: %s", l.c_str());
}

int usage()
{
	fprintf(stderr,
		"usage: mlx5vf-mig --src BDF [--dst BDF] [--stall SECS] "
		"[flags|arcs|migrate|hostile|races|precopy|multifd|reinit|dirty|slow|stats|orphan|all]...\n"
		"       mlx5vf-mig --stall SECS --selftest hang|slow\n");
	return 2;
}

// The watchdog's own test (tests/hang/run, no device needed). hang: one call
// that never returns must end the run (exit 2). slow: calls that each take
// 1/4 of the stall period (so a busy machine's scheduling delays cannot make
// one look hung), 4.5 stall periods in all, must not; while they return
// without TAP output the heartbeat says so.
int selftest(const std::string &what, unsigned stall_s)
{
	start_watchdog(stall_s, 1);
	if (what == "hang") {
		int p[2];
		if (pipe(p))
			return 1;
		char c;
		ssize_t r = read(p[0], &c, 1); // nobody ever writes
		(void)r;
		return 1;
	}
	if (what != "slow")
		return usage();
	constexpr unsigned kCalls = 18; // 4.5 stall periods in all
	for (unsigned i = 0; i < kCalls; i++) {
		sleep_ms(stall_s * 250);
		progress("selftest call");
	}
	tap.check(true, "selftest: %u ms of calls that each returned within %u s", kCalls * stall_s * 250,
		  stall_s);
	tap.plan();
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	std::string src_bdf, dst_bdf, self;
	std::vector<std::string> suites;
	// A call that has not returned after this long is hung (see watchdog.h).
	unsigned stall_s = 60;
	for (int i = 1; i < argc; i++) {
		const std::string a = argv[i];
		if (a == "--src" && i + 1 < argc)
			src_bdf = argv[++i];
		else if (a == "--dst" && i + 1 < argc)
			dst_bdf = argv[++i];
		else if (a == "--stall" && i + 1 < argc)
			stall_s = atoi(argv[++i]);
		else if (a == "--selftest" && i + 1 < argc)
			self = argv[++i];
		else if (a == "-h" || a == "--help")
			return usage(), 0;
		else if (a[0] == '-')
			return usage();
		else
			suites.push_back(a);
	}
	if (!self.empty())
		return stall_s ? selftest(self, stall_s) : usage();
	if (src_bdf.empty())
		return usage();
	if (suites.empty() || (suites.size() == 1 && suites[0] == "all"))
		suites = {"flags",   "arcs",	"migrate", "hostile", "races",
			  "precopy", "multifd", "reinit",  "dirty"};

	struct sigaction sa = {};
	sa.sa_handler = on_signal; // no SA_RESTART: a blocked read() returns EINTR
	sigaction(SIGUSR1, &sa, nullptr);
	signal(SIGPIPE, SIG_IGN);
	if (!stall_s)
		return usage();
	start_watchdog(stall_s, 30);

	Device src(src_bdf);
	Device dst(dst_bdf.empty() ? src_bdf : dst_bdf);
	std::string why;
	if (src.open(&why)) {
		printf("Bail out! cannot open %s: %s\n", src_bdf.c_str(), why.c_str());
		return 1;
	}
	Ctx c;
	c.src = &src;
	c.dst = &src;
	if (!dst_bdf.empty() && dst_bdf != src_bdf) {
		if (dst.open(&why)) {
			printf("Bail out! cannot open %s: %s\n", dst_bdf.c_str(), why.c_str());
			return 1;
		}
		c.dst = &dst;
	}
	tap.diag("mlx5vf-mig: source %s, destination %s", src.bdf().c_str(), c.dst->bdf().c_str());
	Kmsg suite_log;
	for (const std::string &s : suites) {
		const uint64_t t0 = now_ms();
		suite_log.mark();
		if (s == "flags")
			suite_flags(c);
		else if (s == "arcs")
			suite_arcs(c);
		else if (s == "migrate")
			suite_migrate(c);
		else if (s == "stats")
			suite_stats(c);
		else if (s == "hostile")
			suite_hostile(c);
		else if (s == "races")
			suite_races(c);
		else if (s == "precopy")
			suite_precopy(c);
		else if (s == "reinit")
			suite_reinit(c);
		else if (s == "slow")
			suite_slow(c);
		else if (s == "multifd")
			suite_multifd(c);
		else if (s == "dirty")
			suite_dirty(*c.src);
		else if (s == "orphan")
			suite_orphan(c);
		else
			return usage();
		// Whatever a suite did, the kernel must not have complained.
		std::vector<std::string> splats;
		for (const auto &l : suite_log.since())
			if (is_splat(l))
				splats.push_back(l);
		tap.check(splats.empty(),
			  "%s: no WARNING/BUG in the kernel log during the suite (%zu lines, %llu ms)",
			  s.c_str(), splats.size(), static_cast<unsigned long long>(now_ms() - t0));
		for (size_t i = 0; i < splats.size() && i < 6; i++)
			tap.diag("kmsg: %s", splats[i].c_str());
	}
	tap.plan();
	return tap.failed() ? 1 : 0;
}

// SPDX-License-Identifier: GPL-2.0-only
// The "dirty" suite: VFIO DMA logging (device dirty tracking) through the
// uAPI, on a simulated VF.
//
// Where the kernel cannot offer it (no CONFIG_IOMMUFD_DRIVER) the device must
// not advertise it. Elsewhere: every bad request gets its errno and leaves the
// device usable; a double start is refused; a tracker error latches until
// restarted; closing the device ends tracking. And the property itself: the
// client maps a buffer of its own for the VF's DMA, the simulated function
// writes into it, and every page whose bytes changed is in a report (the
// report after the change, or the one after that when the write raced the
// first); a tracker that loses its reports is caught the same way.
#include "dirty_suite.h"

#include "vfio_uapi.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#include <vector>

namespace mig {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kBufIova = 0x40000000; // 1 GiB: clear of anything else
constexpr uint64_t kBufSize = 1 << 20;
constexpr uint64_t kPages = kBufSize / kPage;

using Range = struct vfio_device_feature_dma_logging_range;

int log_start(Device &dev, std::vector<Range> ranges, uint64_t *page_size)
{
	struct vfio_device_feature_dma_logging_control ctl = {};
	ctl.page_size = *page_size;
	ctl.num_ranges = static_cast<uint32_t>(ranges.size());
	ctl.ranges = reinterpret_cast<uintptr_t>(ranges.data());
	const int err = dev.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, &ctl,
				    sizeof(ctl));
	*page_size = ctl.page_size;
	return err;
}

int log_stop(Device &dev)
{
	return dev.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, nullptr, 0);
}

// One bit per 4 KiB page of [iova, iova + length).
int log_report(Device &dev, uint64_t iova, uint64_t length, std::vector<uint64_t> *bits,
	       uint64_t page = kPage)
{
	bits->assign((length / page + 63) / 64 + 1, 0);
	struct vfio_device_feature_dma_logging_report rep = {};
	rep.iova = iova;
	rep.length = length;
	rep.page_size = page;
	rep.bitmap = reinterpret_cast<uintptr_t>(bits->data());
	return dev.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, &rep,
			   sizeof(rep));
}

bool bit(const std::vector<uint64_t> &b, uint64_t i)
{
	return b[i / 64] >> (i % 64) & 1;
}

bool write_debugfs(const Device &dev, const char *file, const std::string &text)
{
	return dev.debugfs_write(file, text);
}

std::string field(const Device &dev, const char *name)
{
	std::string v;
	dev.debugfs(name, &v);
	return v;
}

// Rounds of report-then-read over the buffer: counts pages whose bytes changed
// without being reported by this report or the next (lost), changed pages and
// reported bits.
struct NoLoss {
	uint64_t changed = 0, reported = 0, lost = 0, rounds = 0;
	int err = 0;
};

NoLoss watch(Device &dev, const uint8_t *buf, unsigned rounds)
{
	NoLoss r;
	std::vector<uint8_t> prev(buf, buf + kBufSize), cur(kBufSize);
	std::vector<uint64_t> rep_now, rep_prev(kPages / 64 + 1, 0);
	std::vector<bool> suspect_prev(kPages, false);
	for (unsigned i = 0; i < rounds && !r.err; i++) {
		sleep_ms(20);
		if ((r.err = log_report(dev, kBufIova, kBufSize, &rep_now)))
			break;
		memcpy(cur.data(), buf, kBufSize);
		std::vector<bool> suspect(kPages, false);
		for (uint64_t p = 0; p < kPages; p++) {
			r.reported += bit(rep_now, p);
			// A page reported last round but unchanged until after it may
			// have been caught mid-write: nothing to settle.
			if (suspect_prev[p] && !bit(rep_now, p))
				r.lost++;
			if (memcmp(&prev[p * kPage], &cur[p * kPage], kPage) == 0)
				continue;
			r.changed++;
			// Changed between the last read and this one: reported now,
			// or (write landed after this report) next round.
			if (!bit(rep_now, p))
				suspect[p] = true;
		}
		suspect_prev.swap(suspect);
		prev.swap(cur);
		r.rounds++;
	}
	// Settle the last round's suspects with one more report.
	if (!r.err && !(r.err = log_report(dev, kBufIova, kBufSize, &rep_now)))
		for (uint64_t p = 0; p < kPages; p++)
			r.lost += suspect_prev[p] && !bit(rep_now, p);
	return r;
}

void requests(Device &dev)
{
	uint64_t ps = kPage;
	std::vector<uint64_t> bits;
	tap.check(log_report(dev, kBufIova, kBufSize, &bits) == EINVAL, "dirty: report before start: EINVAL");
	tap.check(log_start(dev, {}, &ps) == EINVAL, "dirty: start with no ranges: EINVAL");
	ps = 3 * 2048;
	tap.check(log_start(dev, {{0, 6 * 2048}}, &ps) == EINVAL,
		  "dirty: page size not a power of two: EINVAL");
	ps = 2048;
	tap.check(log_start(dev, {{0, 4096}}, &ps) == EINVAL, "dirty: page size below 4 KiB: EINVAL");
	ps = kPage;
	tap.check(log_start(dev, {{100, kPage}}, &ps) == EINVAL, "dirty: unaligned range: EINVAL");
	tap.check(log_start(dev, {{0, 2 * kPage}, {kPage, kPage}}, &ps) == EINVAL,
		  "dirty: overlapping ranges: EINVAL");
	tap.check(log_start(dev, {{~uint64_t{0} - kPage + 1, 2 * kPage}}, &ps) == EOVERFLOW,
		  "dirty: range wrapping the address space: EOVERFLOW");
	tap.check(log_start(dev, {{0, uint64_t{1} << 49}}, &ps) == E2BIG,
		  "dirty: more to track than the device's address space: E2BIG");
	tap.check(field(dev, "dirty_tracking") == "idle", "dirty: refused requests left tracking idle");

	// Five ranges: the simulated tracker takes two, merged across the smallest gaps.
	ps = kPage;
	const std::vector<Range> five = {{0, 1 << 20},
					 {2 << 20, 1 << 20},
					 {kBufIova, kBufSize},
					 {kBufIova + (4 << 20), 1 << 20},
					 {8ULL << 30, 1 << 20}};
	const int err = log_start(dev, five, &ps);
	tap.check(err == 0 && ps == kPage, "dirty: start with 5 ranges (%s, page size %llu)",
		  errname(err).c_str(), static_cast<unsigned long long>(ps));
	tap.check(field(dev, "dirty_ranges") == "2", "dirty: the device tracks them as 2 ranges (%s)",
		  field(dev, "dirty_ranges").c_str());
	tap.check(log_start(dev, five, &ps) == EBUSY, "dirty: a second start: EBUSY");
	tap.check(log_report(dev, 16ULL << 30, kBufSize, &bits) == EINVAL,
		  "dirty: report outside the ranges: EINVAL");
	tap.check(log_report(dev, kBufIova + 512, kPage, &bits, kPage) == EINVAL,
		  "dirty: report window not whole tracker pages: EINVAL");
	tap.check(log_report(dev, kBufIova, kBufSize, &bits) == 0,
		  "dirty: a good report after bad ones works");
	tap.check(log_stop(dev) == 0 && log_stop(dev) == 0, "dirty: stop, and stop again: both 0");
	tap.check(log_report(dev, kBufIova, kBufSize, &bits) == EINVAL, "dirty: report after stop: EINVAL");
}

void no_loss(Device &dev, uint8_t *buf)
{
	uint64_t ps = kPage;
	if (!tap.check(log_start(dev, {{kBufIova, kBufSize}}, &ps) == 0,
		       "dirty: start over the client's buffer"))
		return;
	write_debugfs(dev, "dma_window",
		      strf("%llu %llu", static_cast<unsigned long long>(kBufIova),
			   static_cast<unsigned long long>(kBufSize)));
	NoLoss r = watch(dev, buf, 50);
	// A function reset (FLR) does not end the PF's tracking of the VF.
	const int reset_err = dev.reset();
	std::vector<uint64_t> after_reset;
	tap.check(reset_err == 0 && log_report(dev, kBufIova, kBufSize, &after_reset) == 0,
		  "dirty: tracking survives a device reset (%s)", errname(reset_err).c_str());
	const NoLoss more = watch(dev, buf, 50);
	r.changed += more.changed;
	r.reported += more.reported;
	r.lost += more.lost;
	r.rounds += more.rounds;
	r.err = r.err ? r.err : more.err;
	tap.check(!r.err && r.changed > 20,
		  "dirty: the VF wrote the client's memory (%llu page changes in %llu rounds)",
		  static_cast<unsigned long long>(r.changed), static_cast<unsigned long long>(r.rounds));
	tap.check(r.lost == 0, "dirty: no changed page missing from the reports (%llu lost)",
		  static_cast<unsigned long long>(r.lost));
	if (r.changed)
		tap.diag("over-report: %llu bits for %llu page changes (%.2fx)",
			 static_cast<unsigned long long>(r.reported),
			 static_cast<unsigned long long>(r.changed),
			 static_cast<double>(r.reported) / static_cast<double>(r.changed));

	// Negative control: a tracker that drops its reports.
	write_debugfs(dev, "inject", "track-report 1 lose-dirty");
	r = watch(dev, buf, 50);
	tap.check(!r.err && r.lost > 0, "dirty: a data-losing tracker is caught (%llu lost of %llu)",
		  static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.changed));
	log_stop(dev);

	// Error latching: one failed report, then EIO until restarted.
	ps = kPage;
	log_start(dev, {{kBufIova, kBufSize}}, &ps);
	Kmsg k;
	k.mark();
	write_debugfs(dev, "inject", "track-report 1 error");
	std::vector<uint64_t> bits;
	const int e1 = log_report(dev, kBufIova, kBufSize, &bits);
	const int e2 = log_report(dev, kBufIova, kBufSize, &bits);
	tap.check(e1 == EIO && e2 == EIO,
		  "dirty: a tracker error fails this report and the next with EIO (%s, %s)",
		  errname(e1).c_str(), errname(e2).c_str());
	const auto lines = grep(k.since(), "dirty tracking: report failed");
	tap.check(!lines.empty(), "dirty: the kernel log says why (%s)",
		  lines.empty() ? "-" : lines[0].c_str());
	log_stop(dev);
	ps = kPage;
	tap.check(log_start(dev, {{kBufIova, kBufSize}}, &ps) == 0 &&
			  log_report(dev, kBufIova, kBufSize, &bits) == 0,
		  "dirty: restarted, reports work again");
	write_debugfs(dev, "dma_window", "0 0");
}

} // namespace

void suite_dirty(Device &dev)
{
	struct vfio_device_feature_dma_logging_control probe = {};
	const int err = dev.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
					    VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				    &probe, sizeof(probe));
	if (err == ENOTTY) {
		tap.check(
			field(dev, "dirty_tracking") == "unavailable",
			"dirty: no DMA logging offered, and debugfs agrees (kernel without IOMMUFD_DRIVER)");
		return;
	}
	if (!tap.check(err == 0, "dirty: DMA logging offered (probe: %s)", errname(err).c_str()))
		return;
	// Whatever earlier suites left: a running function (it DMAs only then).
	tap.check(dev.reset() == 0 && dev.state() == VFIO_DEVICE_STATE_RUNNING,
		  "dirty: device reset to RUNNING");

	void *mem = mmap(nullptr, kBufSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!tap.check(mem != MAP_FAILED, "dirty: client buffer"))
		return;
	memset(mem, 0, kBufSize);
	const int map_err = vfio.map_dma(kBufIova, mem, kBufSize);
	tap.check(map_err == 0, "dirty: buffer mapped for the VF's DMA (%s)", errname(map_err).c_str());

	requests(dev);
	if (!map_err)
		no_loss(dev, static_cast<uint8_t *>(mem));

	// Closing the device ends tracking left running.
	uint64_t ps = kPage;
	log_start(dev, {{kBufIova, kBufSize}}, &ps);
	std::string why;
	dev.close();
	const int open_err = dev.open(&why);
	tap.check(open_err == 0 && field(dev, "dirty_tracking") == "idle",
		  "dirty: closing the device stopped tracking (reopen: %s)", why.c_str());
	ps = kPage;
	tap.check(log_start(dev, {{kBufIova, kBufSize}}, &ps) == 0, "dirty: and a new start works");
	log_stop(dev);
	if (!map_err)
		vfio.unmap_dma(kBufIova, kBufSize);
	munmap(mem, kBufSize);
}

} // namespace mig

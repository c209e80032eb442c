// SPDX-License-Identifier: GPL-2.0-only
#include "mig_util.h"
#include "vfio_uapi.h"
#include "watchdog.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace mig {

Tap tap;
Vfio vfio;

// ---------------------------------------------------------------- TAP output

namespace {

// Output is progress too, and makes the watchdog's heartbeat unnecessary.
void tap_line_written()
{
	progress("TAP line");
	output_written();
}

} // namespace

std::string vstrf(const char *fmt, va_list ap)
{
	char buf[1024];
	va_list copy;
	va_copy(copy, ap);
	const int n = vsnprintf(buf, sizeof(buf), fmt, copy);
	va_end(copy);
	if (n < 0)
		return "";
	if (static_cast<size_t>(n) < sizeof(buf))
		return std::string(buf, n);
	std::string big(n + 1, '\0');
	vsnprintf(big.data(), big.size(), fmt, ap);
	big.resize(n);
	return big;
}

std::string strf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	std::string s = vstrf(fmt, ap);
	va_end(ap);
	return s;
}

bool Tap::check(bool cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const std::string desc = vstrf(fmt, ap);
	va_end(ap);
	n_++;
	if (!cond)
		failed_++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n_, desc.c_str());
	fflush(stdout);
	tap_line_written();
	return cond;
}

void Tap::skip(const char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const std::string desc = vstrf(fmt, ap);
	va_end(ap);
	n_++;
	printf("ok %d - %s # SKIP %s\n", n_, desc.c_str(), why);
	fflush(stdout);
	tap_line_written();
}

void Tap::diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	const std::string text = vstrf(fmt, ap);
	va_end(ap);
	size_t pos = 0;
	while (pos <= text.size()) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos)
			nl = text.size();
		printf("#   %s\n", text.substr(pos, nl - pos).c_str());
		pos = nl + 1;
	}
	fflush(stdout);
	tap_line_written();
}

void Tap::plan() const
{
	printf("1..%d\n", n_);
	fflush(stdout);
}

std::string errname(int err)
{
	static const struct {
		int err;
		const char *name;
	} names[] = {
		{EPERM, "EPERM"},	    {ENOENT, "ENOENT"},
		{EINTR, "EINTR"},	    {EIO, "EIO"},
		{EBADF, "EBADF"},	    {EAGAIN, "EAGAIN"},
		{ENOMEM, "ENOMEM"},	    {EFAULT, "EFAULT"},
		{EBUSY, "EBUSY"},	    {ENODEV, "ENODEV"},
		{EINVAL, "EINVAL"},	    {ENOSPC, "ENOSPC"},
		{ESPIPE, "ESPIPE"},	    {ERANGE, "ERANGE"},
		{ENOMSG, "ENOMSG"},	    {EBADMSG, "EBADMSG"},
		{EOVERFLOW, "EOVERFLOW"},   {ENOTTY, "ENOTTY"},
		{EOPNOTSUPP, "EOPNOTSUPP"}, {ENOTCONN, "ENOTCONN"},
		{ETIMEDOUT, "ETIMEDOUT"},   {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
		{ENXIO, "ENXIO"},	    {EEXIST, "EEXIST"},
		{EPIPE, "EPIPE"},
	};
	if (!err)
		return "0";
	for (const auto &n : names)
		if (n.err == err)
			return n.name;
	return strf("errno %d", err);
}

const char *state_name(uint32_t s)
{
	static const char *const names[] = {"ERROR",	"STOP",	       "RUNNING",  "STOP_COPY",
					    "RESUMING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"};
	return s < 8 ? names[s] : "(out of range)";
}

// ---------------------------------------------------------------- VFIO

int Vfio::init(std::string *why)
{
	if (container_ >= 0)
		return 0;
	container_ = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container_ < 0) {
		*why = strf("open /dev/vfio/vfio: %s", strerror(errno));
		return errno;
	}
	const int api = ioctl(container_, VFIO_GET_API_VERSION);
	if (api != VFIO_API_VERSION) {
		*why = strf("VFIO_GET_API_VERSION = %d, want %d", api, VFIO_API_VERSION);
		return EINVAL;
	}
	if (ioctl(container_, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		*why = "container lacks VFIO_TYPE1v2_IOMMU";
		return EINVAL;
	}
	return 0;
}

int Vfio::open_device(const std::string &bdf, std::string *why)
{
	if (int err = init(why))
		return -err;
	char link[256];
	// A PCI function by its address, or an mdev instance by its UUID.
	std::string path = "/sys/bus/pci/devices/" + bdf + "/iommu_group";
	if (access(path.c_str(), F_OK))
		path = "/sys/bus/mdev/devices/" + bdf + "/iommu_group";
	const ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
	if (n < 0) {
		*why = strf("readlink %s: %s", path.c_str(), strerror(errno));
		return -errno;
	}
	link[n] = '\0';
	const char *slash = strrchr(link, '/');
	const int group = atoi(slash ? slash + 1 : link);

	auto it = groups_.find(group);
	if (it == groups_.end()) {
		const std::string gpath = strf("/dev/vfio/%d", group);
		const int gfd = ::open(gpath.c_str(), O_RDWR | O_CLOEXEC);
		if (gfd < 0) {
			*why = strf("open %s: %s", gpath.c_str(), strerror(errno));
			return -errno;
		}
		struct vfio_group_status status = {.argsz = sizeof(status), .flags = 0};
		if (ioctl(gfd, VFIO_GROUP_GET_STATUS, &status) < 0 ||
		    !(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
			*why = strf("group %d is not viable (all its devices must be bound to vfio)", group);
			::close(gfd);
			return -EINVAL;
		}
		if (ioctl(gfd, VFIO_GROUP_SET_CONTAINER, &container_) < 0) {
			*why = strf("VFIO_GROUP_SET_CONTAINER: %s", strerror(errno));
			::close(gfd);
			return -errno;
		}
		// The IOMMU model is chosen once, after the first group joined.
		if (!iommu_set_) {
			if (ioctl(container_, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
				*why = strf("VFIO_SET_IOMMU type1v2: %s", strerror(errno));
				::close(gfd);
				return -errno;
			}
			iommu_set_ = true;
		}
		it = groups_.emplace(group, gfd).first;
	}
	const int dfd = ioctl(it->second, VFIO_GROUP_GET_DEVICE_FD, bdf.c_str());
	if (dfd < 0) {
		*why = strf("VFIO_GROUP_GET_DEVICE_FD %s: %s", bdf.c_str(), strerror(errno));
		return -errno;
	}
	return dfd;
}

int Vfio::map_dma(uint64_t iova, void *vaddr, uint64_t size)
{
	struct vfio_iommu_type1_dma_map map = {};
	map.argsz = sizeof(map);
	map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
	map.vaddr = reinterpret_cast<uintptr_t>(vaddr);
	map.iova = iova;
	map.size = size;
	return ioctl(container_, VFIO_IOMMU_MAP_DMA, &map) < 0 ? errno : 0;
}

int Vfio::unmap_dma(uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap unmap = {};
	unmap.argsz = sizeof(unmap);
	unmap.iova = iova;
	unmap.size = size;
	return ioctl(container_, VFIO_IOMMU_UNMAP_DMA, &unmap) < 0 ? errno : 0;
}

Device::~Device()
{
	close();
}

int Device::open(std::string *why)
{
	close();
	const int fd = vfio.open_device(bdf_, why);
	if (fd < 0)
		return -fd;
	fd_ = fd;
	return 0;
}

void Device::close()
{
	if (fd_ >= 0)
		::close(fd_);
	fd_ = -1;
}

int Device::feature(uint32_t flags, void *data, size_t data_len, uint32_t argsz_override)
{
	// struct vfio_device_feature is a header followed by the feature's data.
	alignas(8) uint8_t buf[sizeof(struct vfio_device_feature) + 64] = {};
	if (data_len > 64)
		return E2BIG;
	auto *f = reinterpret_cast<struct vfio_device_feature *>(buf);
	f->argsz = argsz_override ? argsz_override : sizeof(*f) + data_len;
	f->flags = flags;
	if (data_len)
		memcpy(f->data, data, data_len);
	const int r = ioctl(fd_, VFIO_DEVICE_FEATURE, f);
	const int err = errno;
	progress("VFIO_DEVICE_FEATURE");
	if (r < 0)
		return err;
	if (data_len)
		memcpy(data, f->data, data_len);
	return 0;
}

int Device::mig_flags(uint64_t *flags)
{
	struct vfio_device_feature_migration m = {};
	const int err = feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, &m, sizeof(m));
	*flags = m.flags;
	return err;
}

int Device::get_state(uint32_t *state)
{
	struct vfio_device_feature_mig_state m = {.device_state = 0, .data_fd = -1};
	const int err =
		feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &m, sizeof(m));
	*state = m.device_state;
	return err;
}

int Device::set_state(uint32_t state, int *data_fd)
{
	struct vfio_device_feature_mig_state m = {.device_state = state, .data_fd = -1};
	const int err =
		feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, &m, sizeof(m));
	*data_fd = err ? -1 : m.data_fd;
	return err;
}

int Device::data_size(uint64_t *bytes)
{
	uapi::MigDataSize m = {};
	const int err = feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, &m, sizeof(m));
	*bytes = m.stop_copy_length;
	return err;
}

int Device::reset()
{
	const int r = ioctl(fd_, VFIO_DEVICE_RESET);
	const int err = errno;
	progress("VFIO_DEVICE_RESET");
	return r < 0 ? err : 0;
}

uint32_t Device::state()
{
	uint32_t s = kError;
	if (const int err = get_state(&s)) {
		tap.diag("GET MIG_DEVICE_STATE on %s failed: %s", bdf_.c_str(), errname(err).c_str());
		return kError;
	}
	return s;
}

bool Device::debugfs(const char *field, std::string *value) const
{
	// The driver's view, then the simulator's (checksums, DMA counters).
	const std::string dir = "/sys/kernel/debug/mlx5vf/" + bdf_ + "/";
	const std::string text = read_text(dir + "migration") + "\n" + read_text(dir + "sim");
	const std::string key = std::string(field) + ": ";
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos)
			nl = text.size();
		if (text.compare(pos, key.size(), key) == 0) {
			*value = text.substr(pos + key.size(), nl - pos - key.size());
			return true;
		}
		pos = nl + 1;
	}
	return false;
}

bool Device::debugfs_write(const char *file, const std::string &text) const
{
	const std::string path = "/sys/kernel/debug/mlx5vf/" + bdf_ + "/" + file;
	FILE *f = fopen(path.c_str(), "w");
	if (!f)
		return false;
	const bool ok = fputs(text.c_str(), f) >= 0;
	return fclose(f) == 0 && ok;
}

uint64_t Device::debugfs_hex(const char *field) const
{
	std::string v;
	if (!debugfs(field, &v))
		return 0;
	return strtoull(v.c_str(), nullptr, 16);
}

bool Device::stat(const char *field, uint64_t *last, uint64_t *total) const
{
	const std::string text = read_text("/sys/kernel/debug/mlx5vf/" + bdf_ + "/statistics");
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		if (nl == std::string::npos)
			nl = text.size();
		char name[32];
		unsigned long long l, t;
		if (sscanf(text.substr(pos, nl - pos).c_str(), "%31s %llu %llu", name, &l, &t) == 3 &&
		    strcmp(name, field) == 0) {
			*last = l;
			*total = t;
			return true;
		}
		pos = nl + 1;
	}
	return false;
}

// ---------------------------------------------------------------- data_fd I/O

long read_once(int fd, void *buf, size_t len)
{
	const ssize_t n = read(fd, buf, len);
	const long ret = n < 0 ? -errno : n;
	progress("read");
	return ret;
}

int read_to_eof(int fd, Bytes *out, size_t chunk)
{
	Bytes buf(chunk);
	for (;;) {
		const long n = read_once(fd, buf.data(), buf.size());
		if (n == 0)
			return 0;
		if (n < 0)
			return static_cast<int>(-n);
		out->insert(out->end(), buf.begin(), buf.begin() + n);
	}
}

int read_to_enomsg(int fd, Bytes *out, size_t chunk)
{
	Bytes buf(chunk);
	for (;;) {
		const long n = read_once(fd, buf.data(), buf.size());
		if (n == 0)
			return -1;
		if (n == -ENOMSG)
			return 0;
		if (n < 0)
			return static_cast<int>(-n);
		out->insert(out->end(), buf.begin(), buf.begin() + n);
	}
}

int write_cuts(int fd, const uint8_t *data, size_t len, const std::vector<size_t> &cuts, size_t *failed_at)
{
	size_t pos = 0;
	size_t ci = 0;
	while (pos < len) {
		while (ci < cuts.size() && cuts[ci] <= pos)
			ci++;
		const size_t end = ci < cuts.size() && cuts[ci] < len ? cuts[ci] : len;
		const ssize_t n = write(fd, data + pos, end - pos);
		const int err = errno;
		progress("write");
		if (n < 0) {
			if (failed_at)
				*failed_at = pos;
			return err;
		}
		if (n == 0) {
			if (failed_at)
				*failed_at = pos;
			return EIO; // a stream file must never accept nothing
		}
		pos += n;
	}
	return 0;
}

int write_all(int fd, const Bytes &data, size_t chunk, size_t *failed_at)
{
	std::vector<size_t> cuts;
	for (size_t c = chunk; c < data.size(); c += chunk)
		cuts.push_back(c);
	return write_cuts(fd, data.data(), data.size(), cuts, failed_at);
}

int precopy_info(int fd, PrecopyInfo *info, uint32_t argsz)
{
	uapi::PrecopyInfo p = {};
	p.argsz = argsz ? argsz : sizeof(p);
	p.flags = info->flags;
	const int r = ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &p);
	const int err = errno;
	progress("VFIO_MIG_GET_PRECOPY_INFO");
	if (r < 0)
		return err;
	info->flags = p.flags;
	info->initial_bytes = p.initial_bytes;
	info->dirty_bytes = p.dirty_bytes;
	return 0;
}

// ---------------------------------------------------------------- stream format

uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint32_t le32(const uint8_t *p)
{
	return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = static_cast<uint8_t>(v >> (8 * i));
}

Bytes make_header(uint64_t size, uint32_t flags, uint32_t tag)
{
	Bytes h(kHeaderSize);
	put_le64(&h[0], size);
	put_le32(&h[8], flags);
	put_le32(&h[12], tag);
	return h;
}

bool parse_stream(const Bytes &s, std::vector<Record> *recs, std::string *why)
{
	recs->clear();
	size_t pos = 0;
	while (pos < s.size()) {
		if (s.size() - pos < kHeaderSize) {
			*why = strf("stream ends inside a header at %zu", pos);
			return false;
		}
		Record r;
		r.offset = pos;
		r.size = le64(&s[pos]);
		r.flags = le32(&s[pos + 8]);
		r.tag = le32(&s[pos + 12]);
		if (r.size > s.size() - pos - kHeaderSize) {
			*why = strf("record at %zu (tag %#x) claims %llu bytes, %zu remain", pos, r.tag,
				    static_cast<unsigned long long>(r.size), s.size() - pos - kHeaderSize);
			return false;
		}
		recs->push_back(r);
		pos = r.end();
	}
	return true;
}

// ---------------------------------------------------------------- kernel log

Kmsg::Kmsg()
{
	fd_ = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

Kmsg::~Kmsg()
{
	if (fd_ >= 0)
		::close(fd_);
}

void Kmsg::mark()
{
	if (fd_ >= 0)
		lseek(fd_, 0, SEEK_END);
}

std::vector<std::string> Kmsg::since()
{
	std::vector<std::string> lines;
	if (fd_ < 0)
		return lines;
	char buf[8192];
	for (;;) {
		const ssize_t n = read(fd_, buf, sizeof(buf) - 1);
		if (n < 0) {
			if (errno == EPIPE) // records overwritten: keep reading
				continue;
			break; // EAGAIN: nothing more
		}
		buf[n] = '\0';
		// "prio,seq,usec,flags;message\n KEY=value\n..."
		const char *semi = strchr(buf, ';');
		if (!semi)
			continue;
		const char *end = strchr(semi, '\n');
		lines.emplace_back(semi + 1, end ? end - semi - 1 : strlen(semi + 1));
	}
	return lines;
}

bool is_splat(const std::string &l)
{
	static const char *const bad[] = {"WARNING:",
					  "BUG:",
					  "Call Trace",
					  "Oops",
					  "KASAN",
					  "UBSAN",
					  "general protection fault",
					  "lockdep",
					  "invariant broken"};
	for (const char *b : bad)
		if (l.find(b) != std::string::npos)
			return true;
	return false;
}

std::vector<std::string> grep(const std::vector<std::string> &v, const std::string &needle)
{
	std::vector<std::string> out;
	for (const auto &l : v)
		if (l.find(needle) != std::string::npos)
			out.push_back(l);
	return out;
}

uint64_t mem_available()
{
	const std::string text = read_text("/proc/meminfo");
	const size_t pos = text.find("MemAvailable:");
	if (pos == std::string::npos)
		return 0;
	return strtoull(text.c_str() + pos + strlen("MemAvailable:"), nullptr, 10) * 1024;
}

uint64_t now_ms()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = static_cast<long>(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

std::string read_text(const std::string &path)
{
	FILE *f = fopen(path.c_str(), "re");
	if (!f)
		return "";
	std::string s;
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		s.append(buf, n);
	fclose(f);
	while (!s.empty() && s.back() == '\n')
		s.pop_back();
	return s;
}

} // namespace mig

// SPDX-License-Identifier: GPL-2.0-only
// mlx5vf-mig: helpers shared by the uAPI test suites. A TAP writer, a VFIO
// device opened through the group/container API, the migration stream's
// record layout (re-derived from the wire format, not taken from the driver,
// so the tests judge the driver rather than agree with it), and readers for
// the kernel log and the driver's debugfs.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mig {

// ---------------------------------------------------------------- TAP output

class Tap {
public:
	// One test line; returns cond so callers can chain diagnostics.
	bool check(bool cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	void skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
	// "# ..." lines, one per line of the formatted text.
	void diag(const char *fmt, ...) __attribute__((format(printf, 2, 3)));
	void plan() const;
	int count() const { return n_; }
	int failed() const { return failed_; }

private:
	int n_ = 0;
	int failed_ = 0;
};

extern Tap tap;

std::string strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
std::string vstrf(const char *fmt, va_list ap);
// "EINVAL", "ENODEV", ... ("0" for success).
std::string errname(int err);

// ---------------------------------------------------------------- VFIO

enum MigState : uint32_t {
	kError = 0,
	kStop = 1,
	kRunning = 2,
	kStopCopy = 3,
	kResuming = 4,
	kRunningP2p = 5,
	kPreCopy = 6,
	kPreCopyP2p = 7,
};
const char *state_name(uint32_t s);

// All devices of one client share one type1 container (each IOMMU group is
// attached once), the way QEMU puts a VM's devices in one address space.
class Vfio {
public:
	// 0 or errno; why describes the failing step.
	int init(std::string *why);
	// Opens the device (its group is attached on first use). Returns the
	// device fd or -errno.
	int open_device(const std::string &bdf, std::string *why);
	// VFIO_IOMMU_MAP_DMA / UNMAP_DMA of user memory (read-write): 0 or errno.
	int map_dma(uint64_t iova, void *vaddr, uint64_t size);
	int unmap_dma(uint64_t iova, uint64_t size);

private:
	int container_ = -1;
	bool iommu_set_ = false;
	std::map<int, int> groups_; // group number -> group fd
};

extern Vfio vfio;

class Device {
public:
	explicit Device(std::string bdf) : bdf_(std::move(bdf)) {}
	~Device();
	Device(const Device &) = delete;
	Device &operator=(const Device &) = delete;

	int open(std::string *why);
	void close();
	const std::string &bdf() const { return bdf_; }
	int fd() const { return fd_; }

	// VFIO_DEVICE_FEATURE wrappers: 0 or errno.
	int feature(uint32_t flags, void *data, size_t data_len, uint32_t argsz_override = 0);
	int mig_flags(uint64_t *flags);
	int get_state(uint32_t *state);
	// On success *data_fd is the new fd or -1. On failure *data_fd is -1.
	int set_state(uint32_t state, int *data_fd);
	int data_size(uint64_t *bytes);
	int reset();
	// GET state, or kError (and a diagnostic) if that fails.
	uint32_t state();

	// debugfs mlx5vf/<bdf>/migration or (a simulated VF) sim, field by name
	// ("dirty_tracking", "saved_checksum"...);
	// false if absent.
	bool debugfs(const char *field, std::string *value) const;
	// Writes text to the control file mlx5vf/<bdf>/<file> ("inject", "reconfigure"...).
	bool debugfs_write(const char *file, const std::string &text) const;
	uint64_t debugfs_hex(const char *field) const;
	// debugfs mlx5vf/<bdf>/statistics, one field's "last" and "total"
	// columns; false if absent.
	bool stat(const char *field, uint64_t *last, uint64_t *total) const;

private:
	std::string bdf_;
	int fd_ = -1;
};

// ---------------------------------------------------------------- data_fd I/O

using Bytes = std::vector<uint8_t>;

// read() once: bytes (>= 0) or -errno.
long read_once(int fd, void *buf, size_t len);
// Read until EOF (0). Fails (returns errno) on any error, ENOMSG included
// (never legal in STOP_COPY). chunk: read() size.
int read_to_eof(int fd, Bytes *out, size_t chunk = 1 << 20);
// Precopy: read until the temporary end of stream (ENOMSG). Returns 0 when
// ENOMSG ended it, else the errno, or -1 if read() returned 0 (EOF).
int read_to_enomsg(int fd, Bytes *out, size_t chunk = 1 << 20);

// Writes data split at the given cut offsets (ascending, inside the data).
// Returns 0 or the errno of the first failing write; *failed_at is the
// stream offset of that write's first byte.
int write_cuts(int fd, const uint8_t *data, size_t len, const std::vector<size_t> &cuts,
	       size_t *failed_at = nullptr);
int write_all(int fd, const Bytes &data, size_t chunk = 1 << 20, size_t *failed_at = nullptr);

struct PrecopyInfo {
	uint32_t flags = 0; // passed in, and what the driver leaves there (v2: output)
	uint64_t initial_bytes = 0;
	uint64_t dirty_bytes = 0;
};
// VFIO_MIG_GET_PRECOPY_INFO: 0 or errno.
int precopy_info(int fd, PrecopyInfo *info, uint32_t argsz = 0);

// ---------------------------------------------------------------- stream format

inline constexpr size_t kHeaderSize = 16;
inline constexpr uint32_t kTagFwData = 0;
inline constexpr uint32_t kTagStopCopySize = 1;
inline constexpr uint32_t kTagCompat = 0x6676356d;
inline constexpr uint32_t kFlagOptional = 1;
inline constexpr uint32_t kCompatMagic = 0x4356354d;
inline constexpr size_t kSimImageHeader = 64; // the simulated firmware's image header

struct Record {
	size_t offset = 0; // of the header
	uint64_t size = 0; // payload bytes
	uint32_t flags = 0;
	uint32_t tag = 0;
	size_t payload() const { return offset + kHeaderSize; }
	size_t end() const { return offset + kHeaderSize + size; }
};

// Splits a stream into records. False (with why) if it does not end exactly
// at a record boundary.
bool parse_stream(const Bytes &s, std::vector<Record> *recs, std::string *why);
Bytes make_header(uint64_t size, uint32_t flags, uint32_t tag);
uint64_t le64(const uint8_t *p);
uint32_t le32(const uint8_t *p);
void put_le64(uint8_t *p, uint64_t v);
void put_le32(uint8_t *p, uint32_t v);

// ---------------------------------------------------------------- kernel log

// Kernel log records written after mark() (read from /dev/kmsg).
class Kmsg {
public:
	Kmsg();
	~Kmsg();
	void mark();
	std::vector<std::string> since();

private:
	int fd_ = -1;
};

// Lines that mean a kernel splat.
bool is_splat(const std::string &line);
// Lines of v that contain needle.
std::vector<std::string> grep(const std::vector<std::string> &v, const std::string &needle);

// MemAvailable in bytes (0 if unknown).
uint64_t mem_available();
// Monotonic milliseconds.
uint64_t now_ms();
void sleep_ms(unsigned ms);
// sysfs/proc file contents, trailing newline removed ("" if unreadable).
std::string read_text(const std::string &path);

} // namespace mig

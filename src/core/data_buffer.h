// SPDX-License-Identifier: GPL-2.0-only
// DataBuffer: memory that firmware reads (LOAD) or writes (SAVE), and the
// CPU view of it.
//
// A buffer belongs to the firmware backend that allocated it: the mlx5 backend
// backs it with pages, DMA-maps them and registers an mkey; the simulated
// backend uses plain memory. Either way the CPU sees it as a list of
// equal-sized segments (pages, or one segment), so the core can copy headers
// and user data in and out without knowing which.
//
// Lifecycle: Firmware::alloc_buffer() -> (owned by one BufferPool or file) ->
// Firmware::free_buffer(). While a SAVE or LOAD uses the buffer, firmware owns
// its contents; the CPU touches it only before submission or after completion.
#pragma once

#include "kstd/list.h"
#include "kstd/result.h"
#include "kstd/span.h"

namespace mlx5vf {

class UserIo;

enum class DmaDir : uint8_t {
	FromDevice, // SAVE target: firmware writes, CPU reads
	ToDevice,   // LOAD source: CPU writes, firmware reads
};

class DataBuffer : public kstd::ListNode<> {
public:
	// segments: CPU addresses of consecutive pieces of segment_size bytes each
	// (the last may be shorter); capacity = sum of their sizes.
	DataBuffer(DmaDir dir, uint64_t capacity, uint8_t *const *segments, uint32_t segment_count,
		   uint32_t segment_size, uint32_t fw_key, void *backend)
	    : dir_(dir), capacity_(capacity), segments_(segments), segment_count_(segment_count),
	      segment_size_(segment_size), fw_key_(fw_key), backend_(backend)
	{
	}
	DataBuffer(const DataBuffer &) = delete;
	DataBuffer &operator=(const DataBuffer &) = delete;

	DmaDir dir() const { return dir_; }
	uint64_t capacity() const { return capacity_; }
	// Firmware handle for commands (mlx5: the mkey over the buffer).
	uint32_t fw_key() const { return fw_key_; }
	// Backend-private data (mlx5: DMA mapping, page list).
	void *backend() const { return backend_; }
	// The CPU view as the backend built it (to describe it to another layer).
	uint8_t *const *segments() const { return segments_; }
	uint32_t segment_count() const { return segment_count_; }
	uint32_t segment_size() const { return segment_size_; }

	// Valid bytes (image size after SAVE; bytes written before LOAD).
	uint64_t length() const { return length_; }
	void set_length(uint64_t len) { length_ = len <= capacity_ ? len : capacity_; }

	// CPU copies; offset + size must lie within capacity (Err::Range if not).
	kstd::Result<void> write(uint64_t offset, kstd::ConstBytes src);
	kstd::Result<void> read(uint64_t offset, kstd::Bytes dst) const;
	// Copies straight between the buffer and user memory, segment by segment.
	kstd::Result<void> copy_to_user(uint64_t offset, uint64_t size, UserIo &user) const;
	kstd::Result<void> copy_from_user(uint64_t offset, uint64_t size, UserIo &user);
	void zero();
	// The contiguous CPU bytes from offset to the end of its segment (empty
	// beyond capacity): for parsers that fill a buffer piece by piece.
	kstd::Bytes contiguous_at(uint64_t offset);

private:
	template <typename Fn>
	kstd::Result<void> for_each_piece(uint64_t offset, uint64_t size, Fn &&fn) const;

	const DmaDir dir_;
	const uint64_t capacity_;
	uint8_t *const *const segments_;
	const uint32_t segment_count_;
	const uint32_t segment_size_;
	const uint32_t fw_key_;
	void *const backend_;
	uint64_t length_ = 0;
};

// A sequential cursor over a user buffer: the shim implements it with
// copy_to_user/copy_from_user, tests with memcpy. Each call advances it.
class UserIo {
public:
	virtual kstd::Result<void> to_user(kstd::ConstBytes src) = 0;
	virtual kstd::Result<void> from_user(kstd::Bytes dst) = 0;
	// Advance past n user bytes without reading them (skipped records).
	virtual kstd::Result<void> skip(size_t n) = 0;

protected:
	~UserIo() = default;
};

} // namespace mlx5vf

// SPDX-License-Identifier: GPL-2.0-only
#include "data_buffer.h"

#include "kstd/enforce.h"

namespace mlx5vf {

template <typename Fn>
kstd::Result<void> DataBuffer::for_each_piece(uint64_t offset, uint64_t size, Fn &&fn) const
{
	uint64_t end;
	if (__builtin_add_overflow(offset, size, &end) || end > capacity_ || !segment_size_)
		return kstd::Err::Range;
	while (size) {
		const uint64_t seg = offset / segment_size_;
		const uint64_t in_seg = offset % segment_size_;
		const uint64_t n = kstd::min<uint64_t>(size, segment_size_ - in_seg);
		if (seg >= segment_count_)
			return kstd::Err::Range;
		TRY(fn(segments_[seg] + in_seg, static_cast<size_t>(n)));
		offset += n;
		size -= n;
	}
	return kstd::ok();
}

kstd::Result<void> DataBuffer::write(uint64_t offset, kstd::ConstBytes src)
{
	const uint8_t *from = src.data();
	return for_each_piece(offset, src.size(), [&](uint8_t *to, size_t n) {
		__builtin_memcpy(to, from, n);
		from += n;
		return kstd::ok();
	});
}

kstd::Result<void> DataBuffer::read(uint64_t offset, kstd::Bytes dst) const
{
	uint8_t *to = dst.data();
	return for_each_piece(offset, dst.size(), [&](uint8_t *from, size_t n) {
		__builtin_memcpy(to, from, n);
		to += n;
		return kstd::ok();
	});
}

kstd::Result<void> DataBuffer::copy_to_user(uint64_t offset, uint64_t size, UserIo &user) const
{
	return for_each_piece(offset, size, [&](uint8_t *from, size_t n) {
		return user.to_user(kstd::ConstBytes(from, n));
	});
}

kstd::Result<void> DataBuffer::copy_from_user(uint64_t offset, uint64_t size, UserIo &user)
{
	return for_each_piece(offset, size,
			      [&](uint8_t *to, size_t n) { return user.from_user(kstd::Bytes(to, n)); });
}

kstd::Bytes DataBuffer::contiguous_at(uint64_t offset)
{
	if (offset >= capacity_ || !segment_size_)
		return {};
	const uint64_t seg = offset / segment_size_;
	const uint64_t in_seg = offset % segment_size_;
	if (seg >= segment_count_)
		return {};
	const uint64_t n = kstd::min<uint64_t>(segment_size_ - in_seg, capacity_ - offset);
	return kstd::Bytes(segments_[seg] + in_seg, static_cast<size_t>(n));
}

void DataBuffer::zero()
{
	(void)for_each_piece(0, capacity_, [](uint8_t *p, size_t n) {
		__builtin_memset(p, 0, n);
		return kstd::ok();
	});
}

} // namespace mlx5vf

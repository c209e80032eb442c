// SPDX-License-Identifier: GPL-2.0-only
// Span<T>: a non-owning view of contiguous elements. Out-of-range slicing is
// clamped, never undefined: callers that need to know check size() first.
#pragma once

#include "utility.h"

namespace kstd {

template <typename T> class Span {
public:
	constexpr Span() = default;
	constexpr Span(T *data, size_t size) : data_(data), size_(size) {}
	template <size_t N> constexpr Span(T (&arr)[N]) : data_(arr), size_(N) {}
	// Span<T> converts to Span<const T>.
	template <typename U>
	constexpr Span(const Span<U> &o) requires is_same_v<const U, T> : data_(o.data()), size_(o.size())
	{
	}

	constexpr T *data() const { return data_; }
	constexpr size_t size() const { return size_; }
	constexpr bool empty() const { return size_ == 0; }
	constexpr T &operator[](size_t i) const { return data_[i]; }
	constexpr T *begin() const { return data_; }
	constexpr T *end() const { return data_ + size_; }

	constexpr Span subspan(size_t offset, size_t count = ~size_t{0}) const
	{
		if (offset > size_)
			offset = size_;
		return Span(data_ + offset, min(count, size_ - offset));
	}
	constexpr Span first(size_t count) const { return subspan(0, count); }

private:
	T *data_ = nullptr;
	size_t size_ = 0;
};

using Bytes = Span<uint8_t>;
using ConstBytes = Span<const uint8_t>;

} // namespace kstd

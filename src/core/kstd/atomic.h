// SPDX-License-Identifier: GPL-2.0-only
// Single loads and stores of a shared field, for lock-free readers of fields
// that change under a lock (READ_ONCE/WRITE_ONCE with ordering). Enums go
// through their underlying integer: GCC accepts __atomic_load_n on an enum,
// clang (a kernel built with LLVM=1) refuses it.
#pragma once

namespace kstd {

namespace atomic_detail {
template <typename T, bool = __is_enum(T)> struct Word {
	using type = T;
};
template <typename T> struct Word<T, true> {
	using type = __underlying_type(T);
};
template <typename T> using word_t = typename Word<T>::type;
} // namespace atomic_detail

template <typename T> T load_relaxed(const T &v)
{
	using W = atomic_detail::word_t<T>;
	return static_cast<T>(__atomic_load_n(reinterpret_cast<const W *>(&v), __ATOMIC_RELAXED));
}

template <typename T> T load_acquire(const T &v)
{
	using W = atomic_detail::word_t<T>;
	return static_cast<T>(__atomic_load_n(reinterpret_cast<const W *>(&v), __ATOMIC_ACQUIRE));
}

template <typename T> void store_release(T &v, T x)
{
	using W = atomic_detail::word_t<T>;
	__atomic_store_n(reinterpret_cast<W *>(&v), static_cast<W>(x), __ATOMIC_RELEASE);
}

} // namespace kstd

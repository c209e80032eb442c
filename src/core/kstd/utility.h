// SPDX-License-Identifier: GPL-2.0-only
// Freestanding replacements for the few <utility>/<type_traits> pieces the
// core needs. libstdc++ headers need glibc, so the core never includes them.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace kstd {

template <typename T> struct remove_reference {
	using type = T;
};
template <typename T> struct remove_reference<T &> {
	using type = T;
};
template <typename T> struct remove_reference<T &&> {
	using type = T;
};
template <typename T> using remove_reference_t = typename remove_reference<T>::type;

template <typename T> constexpr remove_reference_t<T> &&move(T &&v) noexcept
{
	return static_cast<remove_reference_t<T> &&>(v);
}

template <typename T> constexpr T &&forward(remove_reference_t<T> &v) noexcept
{
	return static_cast<T &&>(v);
}

template <typename T> constexpr T &&forward(remove_reference_t<T> &&v) noexcept
{
	return static_cast<T &&>(v);
}

template <typename T, typename U = T> constexpr T exchange(T &obj, U &&val)
{
	T old = move(obj);
	obj = forward<U>(val);
	return old;
}

template <typename T> constexpr const T &min(const T &a, const T &b)
{
	return b < a ? b : a;
}
template <typename T> constexpr const T &max(const T &a, const T &b)
{
	return a < b ? b : a;
}

template <typename A, typename B> struct is_same {
	static constexpr bool value = false;
};
template <typename A> struct is_same<A, A> {
	static constexpr bool value = true;
};
template <typename A, typename B> inline constexpr bool is_same_v = is_same<A, B>::value;

template <typename T, size_t N> constexpr size_t size(const T (&)[N])
{
	return N;
}

// Placement construction without <new>: a private tag keeps this overload
// distinct from the standard placement form, so host tests that also pull in
// <new> through GoogleTest see no redefinition.
struct PlacementTag {};

} // namespace kstd

inline void *operator new(size_t, kstd::PlacementTag, void *where) noexcept
{
	return where;
}
inline void operator delete(void *, kstd::PlacementTag, void *) noexcept {}

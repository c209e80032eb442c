// SPDX-License-Identifier: GPL-2.0-only
// Explicit allocation: every allocation names its context (may it sleep?) and
// returns Result, so nothing in the core allocates behind the caller's back.
// Owned<T> is the single owner of a heap object made by make<T>().
#pragma once

#include <mlx5vf/abi.h>

#include "result.h"

namespace kstd {

enum class AllocCtx : int {
	Sleepable = MLX5VF_ALLOC_SLEEPABLE, // process context, no spinlock held
	Atomic = MLX5VF_ALLOC_ATOMIC,	    // completion handlers, under spinlocks
};

inline void *alloc_bytes(size_t size, AllocCtx ctx)
{
	return mlx5vf_shim_alloc(size, static_cast<mlx5vf_alloc_ctx>(ctx));
}

template <typename T> class Owned {
public:
	Owned() = default;
	explicit Owned(T *p) : ptr_(p) {}
	Owned(Owned &&o) : ptr_(exchange(o.ptr_, nullptr)) {}
	Owned &operator=(Owned &&o)
	{
		if (this != &o) {
			reset();
			ptr_ = exchange(o.ptr_, nullptr);
		}
		return *this;
	}
	Owned(const Owned &) = delete;
	Owned &operator=(const Owned &) = delete;
	~Owned() { reset(); }

	T *get() const { return ptr_; }
	T *operator->() const { return ptr_; }
	T &operator*() const { return *ptr_; }
	explicit operator bool() const { return ptr_ != nullptr; }

	void reset()
	{
		if (!ptr_)
			return;
		ptr_->~T();
		mlx5vf_shim_free(ptr_);
		ptr_ = nullptr;
	}

	// Hand ownership to C (the shim stores an opaque pointer); take it back
	// with Owned(p).
	T *release() { return exchange(ptr_, nullptr); }

private:
	T *ptr_ = nullptr;
};

template <typename T, typename... Args> Result<Owned<T>> make(AllocCtx ctx, Args &&...args);

// Lets kstd::make construct a class whose constructor is private, so the
// class's factory is the only way to get one.
#define KSTD_FACTORY_ACCESS                                                                                  \
	template <typename KstdT, typename... KstdArgs>                                                      \
	friend ::kstd::Result<::kstd::Owned<KstdT>> kstd::make(::kstd::AllocCtx, KstdArgs &&...)

template <typename T, typename... Args> Result<Owned<T>> make(AllocCtx ctx, Args &&...args)
{
	void *mem = alloc_bytes(sizeof(T), ctx);
	if (!mem)
		return Err::NoMem;
	return Owned<T>(new (PlacementTag{}, mem) T(forward<Args>(args)...));
}

// A fixed-size array of trivially-constructible T, zeroed.
template <typename T> class OwnedArray {
public:
	OwnedArray() = default;
	OwnedArray(OwnedArray &&o) : ptr_(exchange(o.ptr_, nullptr)), size_(exchange(o.size_, 0)) {}
	OwnedArray &operator=(OwnedArray &&o)
	{
		if (this != &o) {
			reset();
			ptr_ = exchange(o.ptr_, nullptr);
			size_ = exchange(o.size_, 0);
		}
		return *this;
	}
	~OwnedArray() { reset(); }

	static Result<OwnedArray> create(size_t n, AllocCtx ctx)
	{
		size_t bytes;
		if (mul_overflow(n, sizeof(T), &bytes))
			return Err::Overflow;
		OwnedArray a;
		if (n) {
			a.ptr_ = static_cast<T *>(ctx == AllocCtx::Sleepable ? mlx5vf_shim_alloc_large(bytes)
									     : alloc_bytes(bytes, ctx));
			if (!a.ptr_)
				return Err::NoMem;
		}
		a.size_ = n;
		return a;
	}

	T *data() const { return ptr_; }
	size_t size() const { return size_; }
	T &operator[](size_t i) const { return ptr_[i]; }

	void reset()
	{
		if (ptr_)
			mlx5vf_shim_free(ptr_);
		ptr_ = nullptr;
		size_ = 0;
	}

private:
	static bool mul_overflow(size_t a, size_t b, size_t *out)
	{
		return __builtin_mul_overflow(a, b, out);
	}

	T *ptr_ = nullptr;
	size_t size_ = 0;
};

} // namespace kstd

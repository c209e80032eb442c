// SPDX-License-Identifier: GPL-2.0-only
// Result<T>: a value or an error code, never both. Errors are values in the
// core; the shim converts them to -errno exactly once.
#pragma once

#include <mlx5vf/abi.h>

#include "utility.h"

namespace kstd {

// Error codes carry the Linux errno numbers (include/mlx5vf/abi.h), so the
// shim converts with a sign change.
enum class Err : int {
	Perm = MLX5VF_EPERM, // operation not allowed in this state
	NoEnt = MLX5VF_ENOENT,
	TooBig = MLX5VF_E2BIG, // beyond a device limit
	Io = MLX5VF_EIO,       // device or firmware failure
	BadF = MLX5VF_EBADF,   // file no longer valid (invalidated)
	Again = MLX5VF_EAGAIN, // would block
	NoMem = MLX5VF_ENOMEM,
	Fault = MLX5VF_EFAULT, // bad user buffer
	Busy = MLX5VF_EBUSY,
	NoDev = MLX5VF_ENODEV,
	Invalid = MLX5VF_EINVAL,
	NoSpc = MLX5VF_ENOSPC,
	SPipe = MLX5VF_ESPIPE, // positional I/O on a stream
	Range = MLX5VF_ERANGE,
	NoMsg = MLX5VF_ENOMSG,		       // no data for now (precopy)
	BadMsg = MLX5VF_EBADMSG,	       // malformed stream
	Overflow = MLX5VF_EOVERFLOW,	       // size arithmetic overflow
	ProtoNotSupp = MLX5VF_EPROTONOSUPPORT, // incompatible stream format
	OpNotSupp = MLX5VF_EOPNOTSUPP,
	NotConn = MLX5VF_ENOTCONN, // PF detached
	TimedOut = MLX5VF_ETIMEDOUT,
	RestartSys = MLX5VF_ERESTARTSYS, // a signal interrupted a wait; nothing changed
};

constexpr int to_errno(Err e)
{
	return -static_cast<int>(e);
}

// Wraps an Err so that Result's constructors are unambiguous for Result<Err>.
struct Error {
	Err code;
};

constexpr Error make_error(Err e)
{
	return Error{e};
}

template <typename T> class [[nodiscard]] Result {
public:
	Result(const T &v) : ok_(true) { new (PlacementTag{}, &storage_.value) T(v); }
	Result(T &&v) : ok_(true) { new (PlacementTag{}, &storage_.value) T(move(v)); }
	Result(Error e) : ok_(false) { storage_.err = e.code; }
	Result(Err e) : ok_(false) { storage_.err = e; }
	Result(Result &&o) : ok_(o.ok_)
	{
		if (ok_)
			new (PlacementTag{}, &storage_.value) T(move(o.storage_.value));
		else
			storage_.err = o.storage_.err;
	}
	Result(const Result &) = delete;
	Result &operator=(const Result &) = delete;
	Result &operator=(Result &&o)
	{
		if (this != &o) {
			this->~Result();
			new (PlacementTag{}, this) Result(move(o));
		}
		return *this;
	}
	~Result()
	{
		if (ok_)
			storage_.value.~T();
	}

	bool is_ok() const { return ok_; }
	bool is_error() const { return !ok_; }
	Err error() const { return ok_ ? Err{} : storage_.err; }
	T &value() & { return storage_.value; }
	const T &value() const & { return storage_.value; }
	T release_value() { return move(storage_.value); }

private:
	union Storage {
		Storage() {}
		~Storage() {}
		T value;
		Err err;
	} storage_;
	bool ok_;
};

template <> class [[nodiscard]] Result<void> {
public:
	Result() : err_(Err{}), ok_(true) {}
	Result(Error e) : err_(e.code), ok_(false) {}
	Result(Err e) : err_(e), ok_(false) {}

	bool is_ok() const { return ok_; }
	bool is_error() const { return !ok_; }
	Err error() const { return err_; }
	void release_value() {}

private:
	Err err_;
	bool ok_;
};

inline Result<void> ok()
{
	return Result<void>();
}

} // namespace kstd

// Propagate an error to the caller, else yield the value (GNU statement
// expression, as in the kernel's own style).
#define TRY(expr)                                                                                            \
	({                                                                                                   \
		auto _try_result = (expr);                                                                   \
		if (_try_result.is_error())                                                                  \
			return ::kstd::Error{_try_result.error()};                                           \
		_try_result.release_value();                                                                 \
	})

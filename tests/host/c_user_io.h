// SPDX-License-Identifier: GPL-2.0-only
// A struct mlx5vf_user_io over a std::vector, for tests that drive the core
// through the C ABI: reads append to the vector, writes consume it from pos.
#pragma once

#include <mlx5vf/mig.h>

#include <cstring>
#include <vector>

namespace c_user_io {

struct VecIo {
	mlx5vf_user_io io;
	std::vector<uint8_t> *buf;
	size_t pos;
};

inline int to_user(mlx5vf_user_io *io, const void *src, size_t len)
{
	auto *v = reinterpret_cast<VecIo *>(io);
	const auto *p = static_cast<const uint8_t *>(src);
	v->buf->insert(v->buf->end(), p, p + len);
	return 0;
}

inline int from_user(mlx5vf_user_io *io, void *dst, size_t len)
{
	auto *v = reinterpret_cast<VecIo *>(io);
	if (v->pos + len > v->buf->size())
		return -MLX5VF_EFAULT;
	memcpy(dst, v->buf->data() + v->pos, len);
	v->pos += len;
	return 0;
}

inline int skip(mlx5vf_user_io *io, size_t len)
{
	reinterpret_cast<VecIo *>(io)->pos += len;
	return 0;
}

// A cursor over buf: appending (reads) or from its start (writes).
inline VecIo over(std::vector<uint8_t> &buf)
{
	return VecIo{{to_user, from_user, skip}, &buf, 0};
}

} // namespace c_user_io

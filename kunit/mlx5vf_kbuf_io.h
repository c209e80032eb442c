/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A cursor over a kernel buffer standing in for user memory: the
 * mlx5vf_user_io a data_fd's read or write gets, for KUnit suites that drive
 * migration files without a user process.
 */
#ifndef MLX5VF_KUNIT_KBUF_IO_H
#define MLX5VF_KUNIT_KBUF_IO_H

#include <linux/container_of.h>
#include <linux/errno.h>
#include <linux/string.h>
#include <linux/types.h>

#include <mlx5vf/mig.h>

struct kbuf_io {
	struct mlx5vf_user_io io;
	u8 *buf;
	size_t pos;
	size_t cap;
};

static inline int kbuf_to_user(struct mlx5vf_user_io *io, const void *src, size_t len)
{
	struct kbuf_io *k = container_of(io, struct kbuf_io, io);

	if (len > k->cap - k->pos)
		return -EFAULT;
	memcpy(k->buf + k->pos, src, len);
	k->pos += len;
	return 0;
}

static inline int kbuf_from_user(struct mlx5vf_user_io *io, void *dst, size_t len)
{
	struct kbuf_io *k = container_of(io, struct kbuf_io, io);

	if (len > k->cap - k->pos)
		return -EFAULT;
	memcpy(dst, k->buf + k->pos, len);
	k->pos += len;
	return 0;
}

static inline int kbuf_skip(struct mlx5vf_user_io *io, size_t len)
{
	struct kbuf_io *k = container_of(io, struct kbuf_io, io);

	if (len > k->cap - k->pos)
		return -EFAULT;
	k->pos += len;
	return 0;
}

static inline void kbuf_init(struct kbuf_io *k, u8 *buf, size_t cap)
{
	k->io.to_user = kbuf_to_user;
	k->io.from_user = kbuf_from_user;
	k->io.skip = kbuf_skip;
	k->buf = buf;
	k->pos = 0;
	k->cap = cap;
}

#endif /* MLX5VF_KUNIT_KBUF_IO_H */

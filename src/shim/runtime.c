// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel services the C++ core reaches through include/mlx5vf/abi.h:
 * allocation with an explicit context, logging and the invariant-failure stop.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/slab.h>

#include <mlx5vf/abi.h>

/**
 * mlx5vf_shim_alloc() - Allocate zeroed memory for the core.
 * @size: bytes
 * @ctx: whether the caller may sleep
 *
 * Return: the memory, or NULL.
 */
void *mlx5vf_shim_alloc(size_t size, enum mlx5vf_alloc_ctx ctx)
{
	return kzalloc(size, ctx == MLX5VF_ALLOC_ATOMIC ? GFP_ATOMIC : GFP_KERNEL_ACCOUNT);
}

/**
 * mlx5vf_shim_alloc_large() - Allocate a large zeroed buffer for the core.
 * @size: bytes; need not be physically contiguous
 *
 * Charged to the caller's memory cgroup.
 *
 * Context: May sleep.
 * Return: the memory, or NULL.
 */
void *mlx5vf_shim_alloc_large(size_t size)
{
	might_sleep();
	return kvzalloc(size, GFP_KERNEL_ACCOUNT);
}

/**
 * mlx5vf_shim_free() - Free memory of either allocator above.
 * @ptr: the memory, or NULL
 */
void mlx5vf_shim_free(void *ptr)
{
	kvfree(ptr);
}

/**
 * mlx5vf_shim_log() - Print one of the core's messages to the kernel log.
 * @level: its log level
 * @msg: the message, without a newline
 */
void mlx5vf_shim_log(enum mlx5vf_log_level level, const char *msg)
{
	switch (level) {
	case MLX5VF_LOG_ERR:
		pr_err("%s\n", msg);
		break;
	case MLX5VF_LOG_WARN:
		pr_warn("%s\n", msg);
		break;
	case MLX5VF_LOG_INFO:
		pr_info("%s\n", msg);
		break;
	default:
		pr_debug("%s\n", msg);
		break;
	}
}

/**
 * mlx5vf_shim_warn() - Report a broken core invariant.
 * @what: which invariant
 *
 * Prints a warning with a backtrace; the core goes on safely (it leaks rather
 * than frees memory that may still be in use).
 */
void mlx5vf_shim_warn(const char *what)
{
	WARN(1, KBUILD_MODNAME ": core invariant broken: %s\n", what);
}

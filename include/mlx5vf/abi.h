/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one C ABI between the kernel-side C shim (src/shim) and the freestanding
 * C++ core (src/core). Both sides include this header; it uses only the
 * compiler's <stddef.h>/<stdint.h> types so that it is valid C and C++, in the
 * kernel and on the host (where tests/host provides a stand-in for the shim).
 *
 * Direction of calls: functions named mlx5vf_shim_* are implemented by the
 * shim and called by the core; functions named mlx5vf_core_* are implemented
 * by the core and called by the shim. Nothing else crosses.
 */
#ifndef MLX5VF_ABI_H
#define MLX5VF_ABI_H

#if defined(__KERNEL__) && !defined(__cplusplus)
#include <linux/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Error numbers the core returns, mirroring the kernel's errno values so the
 * shim's conversion is the identity (each pinned by a static_assert in
 * src/shim/pins.c).
 */
enum mlx5vf_err {
	MLX5VF_EPERM = 1,
	MLX5VF_ENOENT = 2,
	MLX5VF_EIO = 5,
	MLX5VF_E2BIG = 7,
	MLX5VF_EBADF = 9,
	MLX5VF_EAGAIN = 11,
	MLX5VF_ENOMEM = 12,
	MLX5VF_EFAULT = 14,
	MLX5VF_EBUSY = 16,
	MLX5VF_ENODEV = 19,
	MLX5VF_EINVAL = 22,
	MLX5VF_ENOSPC = 28,
	MLX5VF_ESPIPE = 29,
	MLX5VF_ERANGE = 34,
	MLX5VF_ENOMSG = 42,
	MLX5VF_EBADMSG = 74,
	MLX5VF_EOVERFLOW = 75,
	MLX5VF_EPROTONOSUPPORT = 93,
	MLX5VF_EOPNOTSUPP = 95,
	MLX5VF_ENOTCONN = 107,
	MLX5VF_ETIMEDOUT = 110,
	MLX5VF_ERESTARTSYS = 512, /* kernel-internal: the syscall restarts or fails with EINTR */
};

/* A stretch of I/O virtual addresses (DMA logging ranges). */
struct mlx5vf_iova_range {
	uint64_t iova;
	uint64_t length;
};

/* enum vfio_device_mig_state and VFIO_MIGRATION_* (pinned in src/shim/pins.c). */
enum mlx5vf_mig_state {
	MLX5VF_MIG_ERROR = 0,
	MLX5VF_MIG_STOP = 1,
	MLX5VF_MIG_RUNNING = 2,
	MLX5VF_MIG_STOP_COPY = 3,
	MLX5VF_MIG_RESUMING = 4,
	MLX5VF_MIG_RUNNING_P2P = 5,
	MLX5VF_MIG_PRE_COPY = 6,
	MLX5VF_MIG_PRE_COPY_P2P = 7,
};

enum mlx5vf_mig_feature {
	MLX5VF_MIG_FEATURE_STOP_COPY = 1u << 0,
	MLX5VF_MIG_FEATURE_P2P = 1u << 1,
	MLX5VF_MIG_FEATURE_PRE_COPY = 1u << 2,
};

/*
 * struct vfio_precopy_info flags, output only once userspace opted in to
 * VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (pinned in src/shim/pins.c).
 */
enum mlx5vf_precopy_flag {
	MLX5VF_PRECOPY_INFO_REINIT = 1u << 0, /* new initial data is on the stream */
};

/*
 * Allocation context: whether the allocator may sleep. Named at every call
 * site because only the caller knows whether it holds a spinlock or runs in
 * a completion handler.
 */
enum mlx5vf_alloc_ctx {
	MLX5VF_ALLOC_SLEEPABLE = 0,
	MLX5VF_ALLOC_ATOMIC = 1,
};

/* Zeroed allocation; NULL on failure. Pair with mlx5vf_shim_free(). */
void *mlx5vf_shim_alloc(size_t size, enum mlx5vf_alloc_ctx ctx);
/* Large, sleepable-only allocation (may be virtually contiguous). */
void *mlx5vf_shim_alloc_large(size_t size);
void mlx5vf_shim_free(void *ptr);

/* Log severities mirror the kernel's printk levels (pinned in the shim). */
enum mlx5vf_log_level {
	MLX5VF_LOG_ERR = 3,
	MLX5VF_LOG_WARN = 4,
	MLX5VF_LOG_INFO = 6,
	MLX5VF_LOG_DEBUG = 7,
};

void mlx5vf_shim_log(enum mlx5vf_log_level level, const char *msg);

/*
 * An invariant of the core is broken: report it loudly (a kernel warning
 * with a backtrace). Returns: the caller recovers as best it can, for
 * example by leaking memory that firmware might still write into.
 */
void mlx5vf_shim_warn(const char *what);

/* Core entry points. */
const char *mlx5vf_core_version(void);
/*
 * Next single arc from cur towards target, or a negative errno (-EINVAL for a
 * value that is no state). States cross as integers wherever they may come
 * from user space unchecked: in C++ an enum holding a value outside its
 * enumerators is undefined behaviour, so only the core turns them into states.
 */
int mlx5vf_core_next_mig_state(uint32_t cur, uint32_t target, unsigned int features);

#ifdef __cplusplus
}
#endif

#endif /* MLX5VF_ABI_H */

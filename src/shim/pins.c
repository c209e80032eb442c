// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile-time pins: every constant the core mirrors from a kernel header
 * must equal the kernel's own value for the kernel being built against.
 */
#include <linux/build_bug.h>
#include <linux/errno.h>
#include <linux/printk.h>
#include <linux/vfio.h>

#include <mlx5vf/abi.h>

#include "compat.h"

static_assert(MLX5VF_EPERM == EPERM);
static_assert(MLX5VF_E2BIG == E2BIG);
static_assert(MLX5VF_ENOENT == ENOENT);
static_assert(MLX5VF_EIO == EIO);
static_assert(MLX5VF_EBADF == EBADF);
static_assert(MLX5VF_EAGAIN == EAGAIN);
static_assert(MLX5VF_ENOMEM == ENOMEM);
static_assert(MLX5VF_EFAULT == EFAULT);
static_assert(MLX5VF_EBUSY == EBUSY);
static_assert(MLX5VF_ENODEV == ENODEV);
static_assert(MLX5VF_EINVAL == EINVAL);
static_assert(MLX5VF_ENOSPC == ENOSPC);
static_assert(MLX5VF_ESPIPE == ESPIPE);
static_assert(MLX5VF_ERANGE == ERANGE);
static_assert(MLX5VF_ENOMSG == ENOMSG);
static_assert(MLX5VF_EBADMSG == EBADMSG);
static_assert(MLX5VF_EOVERFLOW == EOVERFLOW);
static_assert(MLX5VF_EPROTONOSUPPORT == EPROTONOSUPPORT);
static_assert(MLX5VF_EOPNOTSUPP == EOPNOTSUPP);
static_assert(MLX5VF_ENOTCONN == ENOTCONN);
static_assert(MLX5VF_ETIMEDOUT == ETIMEDOUT);
static_assert(MLX5VF_ERESTARTSYS == ERESTARTSYS);

static_assert((int)MLX5VF_MIG_ERROR == (int)VFIO_DEVICE_STATE_ERROR);
static_assert((int)MLX5VF_MIG_STOP == (int)VFIO_DEVICE_STATE_STOP);
static_assert((int)MLX5VF_MIG_RUNNING == (int)VFIO_DEVICE_STATE_RUNNING);
static_assert((int)MLX5VF_MIG_STOP_COPY == (int)VFIO_DEVICE_STATE_STOP_COPY);
static_assert((int)MLX5VF_MIG_RESUMING == (int)VFIO_DEVICE_STATE_RESUMING);
static_assert((int)MLX5VF_MIG_RUNNING_P2P == (int)VFIO_DEVICE_STATE_RUNNING_P2P);
static_assert((int)MLX5VF_MIG_PRE_COPY == (int)VFIO_DEVICE_STATE_PRE_COPY);
static_assert((int)MLX5VF_MIG_PRE_COPY_P2P == (int)VFIO_DEVICE_STATE_PRE_COPY_P2P);

static_assert(MLX5VF_MIG_FEATURE_STOP_COPY == VFIO_MIGRATION_STOP_COPY);
static_assert(MLX5VF_MIG_FEATURE_P2P == VFIO_MIGRATION_P2P);
static_assert(MLX5VF_MIG_FEATURE_PRE_COPY == VFIO_MIGRATION_PRE_COPY);

static_assert(MLX5VF_PRECOPY_INFO_REINIT == VFIO_PRECOPY_INFO_REINIT);

static_assert(MLX5VF_LOG_ERR == LOGLEVEL_ERR);
static_assert(MLX5VF_LOG_WARN == LOGLEVEL_WARNING);
static_assert(MLX5VF_LOG_INFO == LOGLEVEL_INFO);
static_assert(MLX5VF_LOG_DEBUG == LOGLEVEL_DEBUG);

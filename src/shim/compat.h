/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one place where the shim meets differences between target kernels.
 * What a kernel offers is decided by scripts/kernel-probes, which compiles
 * small files against that kernel's headers (never by version numbers:
 * distributions backport) and writes mlx5vf_probes.h:
 *
 *   MLX5VF_HAVE_VFIO_IOMMUFD_OPS      vfio_iommufd_physical_*() ops (6.2+)
 *   MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP the core answers MIG_DATA_SIZE (6.3+)
 *   MLX5VF_HAVE_VFIO_PRE_COPY_STATES  the uAPI names the PRE_COPY states (6.3+)
 *   MLX5VF_HAVE_IOVA_BITMAP           iova_bitmap_set() is real (6.1; later
 *                                     only with CONFIG_IOMMUFD_DRIVER)
 *   MLX5VF_HAVE_MLX5_MIGRATION        mlx5_core/mlx5_ifc.h have what the
 *                                     firmware backend uses (6.7+)
 *   MLX5VF_HAVE_VFIO_GET_REGION_INFO_CAPS  the region-info op (required
 *                                     from 6.19)
 *   MLX5VF_HAVE_VFIO_MATCH_TOKEN_UUID the VF-token match op (called
 *                                     unconditionally from 6.17)
 *   MLX5VF_HAVE_MODULE_IMPORT_NS_TOKEN MODULE_IMPORT_NS() takes a bare
 *                                     token (a string from 6.13)
 *   MLX5VF_HAVE_SYSTEM_PERCPU_WQ      system_percpu_wq (system_wq is
 *                                     deprecated from 6.17)
 *   MLX5VF_HAVE_VFIO_PRECOPY_INFO_V2  the VFIO core takes the PRECOPY_INFOv2
 *                                     opt-in itself (7.1+)
 *   MLX5VF_HAVE_VFIO_CHECK_PRECOPY_IOCTL  the VFIO core's check of the
 *                                     PRECOPY_INFO arguments (7.1+)
 *   MLX5VF_HAVE_MLX5_MIG_STATE        mlx5_ifc.h has the migration_state cap
 *                                     and query field (7.x)
 *   MLX5VF_HAVE_ALLOC_PAGES_BULK_ARRAY alloc_pages_bulk_array() (renamed
 *                                     alloc_pages_bulk() in 6.14)
 *   MLX5VF_IOVA_BITMAP_NS             the namespace iova_bitmap_set() is
 *                                     exported in, if any (Module.symvers)
 *
 * Where a kernel lacks a uAPI definition, it is given here with the uAPI's
 * own value: those numbers are fixed forever, and the driver may implement
 * them itself (6.1 passes unknown features, states and data_fd ioctls through
 * to the driver).
 */
#ifndef MLX5VF_COMPAT_H
#define MLX5VF_COMPAT_H

#include <linux/bits.h>
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/stringify.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>
#include <linux/workqueue.h>

#include <mlx5vf_probes.h>

#ifndef MLX5VF_HAVE_VFIO_PRE_COPY_STATES
#define VFIO_MIGRATION_PRE_COPY BIT(2)
/* enum vfio_device_mig_state has no such enumerators here. */
#define VFIO_DEVICE_STATE_PRE_COPY 6
#define VFIO_DEVICE_STATE_PRE_COPY_P2P 7
#endif

#ifndef VFIO_MIG_GET_PRECOPY_INFO
struct vfio_precopy_info {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};

#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif

#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
struct vfio_device_feature_mig_data_size {
	__aligned_u64 stop_copy_length;
};

#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif

/* Fill the NULL slots of a page array in bulk; returns how many are filled. */
#ifdef MLX5VF_HAVE_ALLOC_PAGES_BULK_ARRAY
#define mlx5vf_alloc_pages_bulk(gfp, nr, pages) alloc_pages_bulk_array(gfp, nr, pages)
#else
#define mlx5vf_alloc_pages_bulk(gfp, nr, pages) alloc_pages_bulk(gfp, nr, pages)
#endif

/* The per-CPU system workqueue, under its current name. */
#ifdef MLX5VF_HAVE_SYSTEM_PERCPU_WQ
#define MLX5VF_SYSTEM_WQ system_percpu_wq
#else
#define MLX5VF_SYSTEM_WQ system_wq
#endif

/* Import a symbol namespace given as a bare token, whichever form the kernel takes. */
#ifdef MLX5VF_HAVE_MODULE_IMPORT_NS_TOKEN
#define MLX5VF_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(ns)
#else
#define MLX5VF_MODULE_IMPORT_NS(ns) MODULE_IMPORT_NS(__stringify(ns))
#endif

/*
 * mlx5vf's own symbol namespace (the API for the simulator module), for
 * EXPORT_SYMBOL_NS_GPL() and MODULE_IMPORT_NS(): before 6.13 both stringify
 * a token, since then both take the string.
 */
#ifdef MLX5VF_HAVE_MODULE_IMPORT_NS_TOKEN
#define MLX5VF_NS MLX5VF
#else
#define MLX5VF_NS "MLX5VF"
#endif

/*
 * PRECOPY_INFOv2: userspace opts in with device feature 12 (SET), and then
 * VFIO_MIG_GET_PRECOPY_INFO's flags are output (REINIT). Where struct
 * vfio_device has precopy_info_v2 the VFIO core takes the opt-in and clears
 * it on the device's last close: feature 12 never reaches the driver. Where
 * it does not, the driver implements the same opt-in and keeps it in *own.
 * The feature number is the uAPI's VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
 * under a name checkpatch accepts (fixed by the uAPI forever).
 */
#define MLX5VF_FEATURE_MIG_PRECOPY_INFO_V2 12
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT BIT(0)
#endif

static inline bool mlx5vf_precopy_info_v2(const struct vfio_device *vdev, const bool *own)
{
#ifdef MLX5VF_HAVE_VFIO_PRECOPY_INFO_V2
	return READ_ONCE(vdev->precopy_info_v2);
#else
	return READ_ONCE(*own);
#endif
}

/*
 * VFIO_MIG_GET_PRECOPY_INFO's arguments, checked and copied in: the VFIO core's
 * helper where it has one, else the same rules here. Under PRECOPY_INFOv2 the
 * output flags start cleared; without it they keep what the caller passed.
 */
static inline int mlx5vf_check_precopy_ioctl(struct vfio_device *vdev, const bool *own,
					     unsigned int cmd, unsigned long arg,
					     struct vfio_precopy_info *info)
{
#ifdef MLX5VF_HAVE_VFIO_CHECK_PRECOPY_IOCTL
	return vfio_check_precopy_ioctl(vdev, cmd, arg, info);
#else
	const size_t minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info->argsz < minsz)
		return -EINVAL;
	if (mlx5vf_precopy_info_v2(vdev, own))
		info->flags = 0;
	return 0;
#endif
}

#endif /* MLX5VF_COMPAT_H */

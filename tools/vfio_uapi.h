// SPDX-License-Identifier: GPL-2.0-only
// The VFIO uAPI this client speaks. The build machine's <linux/vfio.h>
// (Debian 12's linux-libc-dev, 6.1) predates PRE_COPY (6.2); the kernel in
// the test VM is 6.12. The few newer definitions are mirrored here from the
// 6.12 uAPI, values and layouts unchanged since they were added, so the tool
// builds the same against either header.
#pragma once

#include <linux/vfio.h>
#include <sys/ioctl.h>

#ifndef VFIO_MIGRATION_PRE_COPY
#define VFIO_MIGRATION_PRE_COPY (1 << 2)
#endif
#ifndef VFIO_DEVICE_FEATURE_MIG_DATA_SIZE
#define VFIO_DEVICE_FEATURE_MIG_DATA_SIZE 9
#endif
#ifndef VFIO_MIG_GET_PRECOPY_INFO
#define VFIO_MIG_GET_PRECOPY_INFO _IO(VFIO_TYPE, VFIO_BASE + 21)
#endif
// From the 7.1 uAPI: the PRECOPY_INFOv2 opt-in (SET only) and its output flag.
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT (1 << 0)
#endif

namespace mig::uapi {

// struct vfio_device_feature_mig_data_size
struct MigDataSize {
	__aligned_u64 stop_copy_length;
};
static_assert(sizeof(MigDataSize) == 8);

// struct vfio_precopy_info
struct PrecopyInfo {
	__u32 argsz;
	__u32 flags;
	__aligned_u64 initial_bytes;
	__aligned_u64 dirty_bytes;
};
static_assert(sizeof(PrecopyInfo) == 24);

} // namespace mig::uapi

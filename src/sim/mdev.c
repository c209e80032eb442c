// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated VF as mediated devices: one parent (/sys/class/mlx5vf_sim/
 * mlx5vf_sim) whose types differ in what matters to a migration, and
 * instances created through sysfs or mdevctl. An instance is a VFIO PCI
 * device of this module: an emulated config space and one small MMIO BAR,
 * no interrupts, and migration by mlx5vf.ko with the simulated firmware,
 * exactly as for a PCI-bound simulated VF. It writes guest memory through
 * vfio_dma_rw(), so the type1 container (or iommufd) sees its dirty pages.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/mdev.h>
#include <linux/module.h>
#include <linux/pci_regs.h>
#include <linux/slab.h>
#include <linux/sizes.h>
#include <linux/uaccess.h>
#include <linux/vfio.h>

#include "sim.h"

static unsigned int mdev_capacity = 64;
module_param(mdev_capacity, uint, 0644);
MODULE_PARM_DESC(mdev_capacity,
		 "mdev instances the parent offers, all types together (default 64)");

/*
 * The instance's PCI identity: Mellanox's vendor ID with a device ID no
 * driver claims (mlx5_core's table ends far below it), class "other", so no
 * guest driver takes it for a real ConnectX function.
 */
#define MLX5VF_SIM_MDEV_VENDOR 0x15b3
#define MLX5VF_SIM_MDEV_DEVICE 0x1fff
#define MLX5VF_SIM_MDEV_CLASS 0xff0000
#define MLX5VF_SIM_MDEV_BAR0_SIZE SZ_4K
/* Region offsets in the device fd, as every VFIO PCI driver lays them out. */
#define MLX5VF_SIM_MDEV_OFFSET_SHIFT 40
#define MLX5VF_SIM_MDEV_INDEX(off) ((off) >> MLX5VF_SIM_MDEV_OFFSET_SHIFT)
#define MLX5VF_SIM_MDEV_OFFSET(off) ((off) & (BIT_ULL(MLX5VF_SIM_MDEV_OFFSET_SHIFT) - 1))

struct mlx5vf_sim_mdev_type {
	struct mdev_type type;
	const char *description;
	unsigned int state_kib;
	bool chunk_mode;
	bool page_tracker;
};

static struct mlx5vf_sim_mdev_type mlx5vf_sim_mdev_types[] = {
	{
		.type.sysfs_name = "small",
		.type.pretty_name = "simulated VF, 1 MiB state, chunked",
		.description = "simulated ConnectX VF: 1 MiB of device state, saved in chunks",
		.state_kib = 1024,
		.chunk_mode = true,
	},
	{
		.type.sysfs_name = "large",
		.type.pretty_name = "simulated VF, 16 MiB state, chunked",
		.description = "simulated ConnectX VF: 16 MiB of device state, saved in chunks",
		.state_kib = 16 * 1024,
		.chunk_mode = true,
	},
	{
		.type.sysfs_name = "whole",
		.type.pretty_name = "simulated VF, 1 MiB state, whole images",
		.description = "simulated ConnectX VF: 1 MiB of device state, one SAVE per image",
		.state_kib = 1024,
		.chunk_mode = false,
	},
	{
		/*
		 * The one type whose firmware tracks dirty pages, so QEMU can use
		 * device dirty tracking (VFIO DMA logging) where the kernel offers
		 * it; the others leave tracking to the IOMMU container.
		 */
		.type.sysfs_name = "tracked",
		.type.pretty_name = "simulated VF, 1 MiB state, chunked, dirty tracking",
		.description =
			"simulated ConnectX VF: 1 MiB of device state, chunked, with a dirty-page tracker",
		.state_kib = 1024,
		.chunk_mode = true,
		.page_tracker = true,
	},
};

static struct mdev_type *mlx5vf_sim_mdev_type_list[] = {
	&mlx5vf_sim_mdev_types[0].type,
	&mlx5vf_sim_mdev_types[1].type,
	&mlx5vf_sim_mdev_types[2].type,
	&mlx5vf_sim_mdev_types[3].type,
};

struct mlx5vf_sim_mdev {
	struct vfio_device vdev;
	struct mlx5vf_device mvdev;
	const struct mlx5vf_sim_mdev_type *type;
	struct mutex regs_lock; /* config and bar0 */
	u8 config[PCI_CFG_SPACE_SIZE];
	u32 bar0_mask;		/* sizing: the BAR register's writable bits */
	u8 bar0[MLX5VF_SIM_MDEV_BAR0_SIZE];
};

static struct {
	struct device dev; /* the parent */
	struct mdev_parent parent;
	atomic_t instances;
} mlx5vf_sim_mdev_host;

static struct class mlx5vf_sim_class = {
	.name = "mlx5vf_sim",
};

static struct mlx5vf_sim_mdev *to_sim_mdev(struct vfio_device *vdev)
{
	return container_of(vdev, struct mlx5vf_sim_mdev, vdev);
}

static void mlx5vf_sim_mdev_reset_config(struct mlx5vf_sim_mdev *m)
{
	u8 *c = m->config;

	memset(c, 0, sizeof(m->config));
	*(__le16 *)&c[PCI_VENDOR_ID] = cpu_to_le16(MLX5VF_SIM_MDEV_VENDOR);
	*(__le16 *)&c[PCI_DEVICE_ID] = cpu_to_le16(MLX5VF_SIM_MDEV_DEVICE);
	*(__le32 *)&c[PCI_CLASS_REVISION] = cpu_to_le32(MLX5VF_SIM_MDEV_CLASS << 8);
	/* BAR0: 32-bit, non-prefetchable memory; the VMM places it. */
	*(__le32 *)&c[PCI_BASE_ADDRESS_0] = cpu_to_le32(PCI_BASE_ADDRESS_SPACE_MEMORY);
	*(__le16 *)&c[PCI_SUBSYSTEM_VENDOR_ID] = cpu_to_le16(MLX5VF_SIM_MDEV_VENDOR);
	*(__le16 *)&c[PCI_SUBSYSTEM_ID] = cpu_to_le16(MLX5VF_SIM_MDEV_DEVICE);
	m->bar0_mask = ~(MLX5VF_SIM_MDEV_BAR0_SIZE - 1);
}

/* A config write: only the command register and BAR0's address take bits. */
static void mlx5vf_sim_mdev_config_write(struct mlx5vf_sim_mdev *m, unsigned int pos, u8 val)
{
	const u16 cmd_bits = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;

	if (pos == PCI_COMMAND)
		m->config[pos] = val & cmd_bits;
	else if (pos == PCI_COMMAND + 1)
		m->config[pos] = val & (cmd_bits >> 8);
	else if (pos >= PCI_BASE_ADDRESS_0 && pos < PCI_BASE_ADDRESS_0 + 4)
		/* The low nibble says "32-bit memory" and stays. */
		m->config[pos] = (val & (m->bar0_mask >> (8 * (pos - PCI_BASE_ADDRESS_0)))) |
				 (pos == PCI_BASE_ADDRESS_0 ? PCI_BASE_ADDRESS_SPACE_MEMORY : 0);
}

/* A read or write of a region, whole (VMMs treat a short one as an error). */
static ssize_t mlx5vf_sim_mdev_rw(struct mlx5vf_sim_mdev *m, char __user *buf, size_t count,
				  loff_t *ppos, bool write)
{
	unsigned int index = MLX5VF_SIM_MDEV_INDEX(*ppos);
	u64 off = MLX5VF_SIM_MDEV_OFFSET(*ppos);
	size_t n, i, done, limit;
	u8 tmp[64];
	u8 *regs;

	switch (index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		regs = m->config;
		limit = sizeof(m->config);
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		regs = m->bar0;
		limit = sizeof(m->bar0);
		break;
	default:
		return -EINVAL;
	}
	if (off >= limit)
		return -EINVAL;
	count = min_t(size_t, count, limit - off);
	for (done = 0; done < count; done += n, off += n) {
		n = min(count - done, sizeof(tmp));
		if (write && copy_from_user(tmp, buf + done, n))
			return -EFAULT;
		mutex_lock(&m->regs_lock);
		for (i = 0; i < n; i++) {
			if (!write)
				tmp[i] = regs[off + i];
			else if (index == VFIO_PCI_CONFIG_REGION_INDEX)
				mlx5vf_sim_mdev_config_write(m, off + i, tmp[i]);
			else
				regs[off + i] = tmp[i];
		}
		mutex_unlock(&m->regs_lock);
		if (!write && copy_to_user(buf + done, tmp, n))
			return -EFAULT;
	}
	*ppos += count;
	return count;
}

static ssize_t mlx5vf_sim_mdev_read(struct vfio_device *vdev, char __user *buf, size_t count,
				    loff_t *ppos)
{
	return mlx5vf_sim_mdev_rw(to_sim_mdev(vdev), buf, count, ppos, false);
}

static ssize_t mlx5vf_sim_mdev_write(struct vfio_device *vdev, const char __user *buf,
				     size_t count, loff_t *ppos)
{
	return mlx5vf_sim_mdev_rw(to_sim_mdev(vdev), (char __user *)buf, count, ppos, true);
}

static int mlx5vf_sim_mdev_region_info(struct vfio_region_info *info)
{
	info->offset = (u64)info->index << MLX5VF_SIM_MDEV_OFFSET_SHIFT;
	info->cap_offset = 0;
	switch (info->index) {
	case VFIO_PCI_CONFIG_REGION_INDEX:
		info->size = PCI_CFG_SPACE_SIZE;
		break;
	case VFIO_PCI_BAR0_REGION_INDEX:
		info->size = MLX5VF_SIM_MDEV_BAR0_SIZE;
		break;
	default:
		if (info->index >= VFIO_PCI_NUM_REGIONS)
			return -EINVAL;
		info->size = 0;
		info->flags = 0;
		return 0;
	}
	info->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	return 0;
}

#ifdef MLX5VF_HAVE_VFIO_GET_REGION_INFO_CAPS
/* Where the VFIO core answers GET_REGION_INFO itself, from this op. */
static int mlx5vf_sim_mdev_get_region_info_caps(struct vfio_device *vdev,
						struct vfio_region_info *info,
						struct vfio_info_cap *caps)
{
	return mlx5vf_sim_mdev_region_info(info);
}
#endif

static long mlx5vf_sim_mdev_ioctl(struct vfio_device *vdev, unsigned int cmd, unsigned long arg)
{
	struct mlx5vf_sim_mdev *m = to_sim_mdev(vdev);
	void __user *uarg = (void __user *)arg;
	unsigned long minsz;
	int ret;

	switch (cmd) {
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info info;

		minsz = offsetofend(struct vfio_device_info, num_irqs);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		info.flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		info.num_regions = VFIO_PCI_NUM_REGIONS;
		info.num_irqs = VFIO_PCI_NUM_IRQS;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO: {
		struct vfio_region_info info;

		minsz = offsetofend(struct vfio_region_info, offset);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz)
			return -EINVAL;
		ret = mlx5vf_sim_mdev_region_info(&info);
		if (ret)
			return ret;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info info;

		minsz = offsetofend(struct vfio_irq_info, count);
		if (copy_from_user(&info, uarg, minsz))
			return -EFAULT;
		if (info.argsz < minsz || info.index >= VFIO_PCI_NUM_IRQS)
			return -EINVAL;
		/* No interrupts: the simulated function signals nothing. */
		info.flags = 0;
		info.count = 0;
		return copy_to_user(uarg, &info, minsz) ? -EFAULT : 0;
	}
	case VFIO_DEVICE_SET_IRQS: {
		struct vfio_irq_set hdr;

		minsz = offsetofend(struct vfio_irq_set, count);
		if (copy_from_user(&hdr, uarg, minsz))
			return -EFAULT;
		if (hdr.argsz < minsz || hdr.index >= VFIO_PCI_NUM_IRQS)
			return -EINVAL;
		/* Disabling what does not exist succeeds; anything else cannot. */
		return hdr.count ? -EINVAL : 0;
	}
	case VFIO_DEVICE_RESET:
		mutex_lock(&m->regs_lock);
		mlx5vf_sim_mdev_reset_config(m);
		memset(m->bar0, 0, sizeof(m->bar0));
		mutex_unlock(&m->regs_lock);
		mlx5vf_mig_reset_done(&m->mvdev);
		return 0;
	}
	return -ENOTTY;
}

static int mlx5vf_sim_mdev_device_feature(struct vfio_device *vdev, u32 flags, void __user *arg,
					  size_t argsz)
{
	return mlx5vf_mig_device_feature(&to_sim_mdev(vdev)->mvdev, flags, arg, argsz);
}

static int mlx5vf_sim_mdev_open(struct vfio_device *vdev)
{
	mlx5vf_mig_open(&to_sim_mdev(vdev)->mvdev);
	return 0;
}

static void mlx5vf_sim_mdev_close(struct vfio_device *vdev)
{
	struct mlx5vf_sim_mdev *m = to_sim_mdev(vdev);

	mlx5vf_mig_close(&m->mvdev);
	/* Like the VFIO cores that own it: the opt-in ends with the last close. */
	WRITE_ONCE(m->mvdev.precopy_info_v2, false);
}

/* The instance's shape: its type's state and images, a seed from its UUID. */
static int mlx5vf_sim_mdev_setup(struct mlx5vf_device *mvdev)
{
	struct mlx5vf_sim_mdev *m = container_of(mvdev, struct mlx5vf_sim_mdev, mvdev);
	struct mdev_device *mdev = to_mdev_device(mvdev->dev);
	struct mlx5vf_sim_shape shape = {
		.vendor = MLX5VF_SIM_MDEV_VENDOR,
		.device = MLX5VF_SIM_MDEV_DEVICE,
		.state_kib = m->type->state_kib,
		.chunk_mode = m->type->chunk_mode,
		.page_tracker = m->type->page_tracker,
	};

	memcpy(&shape.seed, mdev->uuid.b, sizeof(shape.seed));
	shape.seed |= 1;
	return mlx5vf_sim_setup(mvdev, &shape);
}

static const struct mlx5vf_backend_ops mlx5vf_sim_mdev_backend = {
	.owner = THIS_MODULE,
	.setup = mlx5vf_sim_mdev_setup,
	.teardown = mlx5vf_sim_teardown,
	.open = mlx5vf_sim_open,
	.close = mlx5vf_sim_close,
	.debugfs = mlx5vf_sim_debugfs,
};

static struct file *mlx5vf_sim_mdev_set_state(struct vfio_device *vdev,
					      enum vfio_device_mig_state new_state)
{
	return mlx5vf_mig_set_state(&to_sim_mdev(vdev)->mvdev, new_state);
}

static int mlx5vf_sim_mdev_get_state(struct vfio_device *vdev,
				     enum vfio_device_mig_state *curr_state)
{
	return mlx5vf_mig_get_state(&to_sim_mdev(vdev)->mvdev, curr_state);
}

#ifdef MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP
static int mlx5vf_sim_mdev_get_data_size(struct vfio_device *vdev,
					 unsigned long *stop_copy_length)
{
	return mlx5vf_mig_get_data_size(&to_sim_mdev(vdev)->mvdev, stop_copy_length);
}
#endif

static const struct vfio_migration_ops mlx5vf_sim_mdev_mig_ops = {
	.migration_set_state = mlx5vf_sim_mdev_set_state,
	.migration_get_state = mlx5vf_sim_mdev_get_state,
#ifdef MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP
	.migration_get_data_size = mlx5vf_sim_mdev_get_data_size,
#endif
};

#ifdef MLX5VF_HAVE_IOVA_BITMAP
static int mlx5vf_sim_mdev_log_start(struct vfio_device *vdev, struct rb_root_cached *ranges,
				     u32 nnodes, u64 *page_size)
{
	return mlx5vf_dirty_log_start(&to_sim_mdev(vdev)->mvdev, ranges, nnodes, page_size);
}

static int mlx5vf_sim_mdev_log_stop(struct vfio_device *vdev)
{
	return mlx5vf_dirty_log_stop(&to_sim_mdev(vdev)->mvdev);
}

static int mlx5vf_sim_mdev_log_read_and_clear(struct vfio_device *vdev, unsigned long iova,
					      unsigned long length, struct iova_bitmap *dirty)
{
	return mlx5vf_dirty_log_read_and_clear(&to_sim_mdev(vdev)->mvdev, iova, length, dirty);
}

/* Offered only by the types whose firmware tracks (mlx5vf_dirty_offer). */
static const struct vfio_log_ops mlx5vf_sim_mdev_log_ops = {
	.log_start = mlx5vf_sim_mdev_log_start,
	.log_stop = mlx5vf_sim_mdev_log_stop,
	.log_read_and_clear = mlx5vf_sim_mdev_log_read_and_clear,
};

#define MLX5VF_SIM_MDEV_LOG_OPS (&mlx5vf_sim_mdev_log_ops)
#else
#define MLX5VF_SIM_MDEV_LOG_OPS NULL
#endif

static int mlx5vf_sim_mdev_init_dev(struct vfio_device *vdev)
{
	struct mlx5vf_sim_mdev *m = to_sim_mdev(vdev);
	struct mdev_device *mdev = to_mdev_device(vdev->dev);
	int ret;

	m->type = container_of(mdev->type, struct mlx5vf_sim_mdev_type, type);
	mutex_init(&m->regs_lock);
	mlx5vf_sim_mdev_reset_config(m);
	mlx5vf_device_init(&m->mvdev, vdev, MLX5VF_SIM_MDEV_LOG_OPS);
	ret = mlx5vf_device_attach(&m->mvdev, &mlx5vf_sim_mdev_backend);
	if (ret) {
		mlx5vf_device_destroy(&m->mvdev);
		mutex_destroy(&m->regs_lock);
		return ret;
	}
	vdev->mig_ops = &mlx5vf_sim_mdev_mig_ops;
	return 0;
}

static void mlx5vf_sim_mdev_release_dev(struct vfio_device *vdev)
{
	struct mlx5vf_sim_mdev *m = to_sim_mdev(vdev);

	mlx5vf_device_release(&m->mvdev);
	mlx5vf_device_destroy(&m->mvdev);
	mutex_destroy(&m->regs_lock);
	atomic_dec(&mlx5vf_sim_mdev_host.instances);
}

static const struct vfio_device_ops mlx5vf_sim_mdev_ops = {
	.name = "mlx5vf_sim_mdev",
	.init = mlx5vf_sim_mdev_init_dev,
	.release = mlx5vf_sim_mdev_release_dev,
	.open_device = mlx5vf_sim_mdev_open,
	.close_device = mlx5vf_sim_mdev_close,
	.read = mlx5vf_sim_mdev_read,
	.write = mlx5vf_sim_mdev_write,
	.ioctl = mlx5vf_sim_mdev_ioctl,
#ifdef MLX5VF_HAVE_VFIO_GET_REGION_INFO_CAPS
	.get_region_info_caps = mlx5vf_sim_mdev_get_region_info_caps,
#endif
	.device_feature = mlx5vf_sim_mdev_device_feature,
#ifdef MLX5VF_HAVE_VFIO_IOMMUFD_OPS
	.bind_iommufd = vfio_iommufd_emulated_bind,
	.unbind_iommufd = vfio_iommufd_emulated_unbind,
	.attach_ioas = vfio_iommufd_emulated_attach_ioas,
	.detach_ioas = vfio_iommufd_emulated_detach_ioas,
#endif
};

static int mlx5vf_sim_mdev_probe(struct mdev_device *mdev)
{
	struct mlx5vf_sim_mdev *m;
	int ret;

	/* Counted before the instance exists, so capacity holds under races. */
	if (atomic_inc_return(&mlx5vf_sim_mdev_host.instances) > READ_ONCE(mdev_capacity)) {
		atomic_dec(&mlx5vf_sim_mdev_host.instances);
		return -ENOSPC;
	}
	m = vfio_alloc_device(mlx5vf_sim_mdev, vdev, &mdev->dev, &mlx5vf_sim_mdev_ops);
	if (IS_ERR(m)) {
		/* A failed init released nothing that counted the instance. */
		atomic_dec(&mlx5vf_sim_mdev_host.instances);
		return PTR_ERR(m);
	}
	ret = vfio_register_emulated_iommu_dev(&m->vdev);
	if (ret) {
		vfio_put_device(&m->vdev);
		return ret;
	}
	dev_set_drvdata(&mdev->dev, m);
	mlx5vf_debugfs_add(&m->mvdev);
	dev_info(&mdev->dev, "simulated VF instance, type %s (%s)\n", m->type->type.sysfs_name,
		 mlx5vf_dirty_summary(&m->mvdev));
	return 0;
}

static void mlx5vf_sim_mdev_remove(struct mdev_device *mdev)
{
	struct mlx5vf_sim_mdev *m = dev_get_drvdata(&mdev->dev);

	mlx5vf_debugfs_remove(&m->mvdev);
	/* Waits for the last user: an open instance goes when it is closed. */
	vfio_unregister_group_dev(&m->vdev);
	vfio_put_device(&m->vdev);
}

static unsigned int mlx5vf_sim_mdev_get_available(struct mdev_type *mtype)
{
	int used = atomic_read(&mlx5vf_sim_mdev_host.instances);
	unsigned int cap = READ_ONCE(mdev_capacity);

	return used >= cap ? 0 : cap - used;
}

static ssize_t mlx5vf_sim_mdev_show_description(struct mdev_type *mtype, char *buf)
{
	struct mlx5vf_sim_mdev_type *t = container_of(mtype, struct mlx5vf_sim_mdev_type, type);

	return sysfs_emit(buf, "%s\n", t->description);
}

static struct mdev_driver mlx5vf_sim_mdev_driver = {
	.device_api = VFIO_DEVICE_API_PCI_STRING,
	.probe = mlx5vf_sim_mdev_probe,
	.remove = mlx5vf_sim_mdev_remove,
	.get_available = mlx5vf_sim_mdev_get_available,
	.show_description = mlx5vf_sim_mdev_show_description,
	.driver = {
		.name = "mlx5vf_sim_mdev",
		.owner = THIS_MODULE,
		.mod_name = KBUILD_MODNAME,
	},
};

static void mlx5vf_sim_mdev_parent_release(struct device *dev)
{
	/* Static: nothing to free. */
}

/**
 * mlx5vf_sim_mdev_init() - Offer simulated VFs as mdev instances.
 *
 * Registers the mdev driver and the parent device its types hang under.
 *
 * Context: Module init.
 * Return: 0, or a negative errno with nothing left registered.
 */
int mlx5vf_sim_mdev_init(void)
{
	struct device *dev = &mlx5vf_sim_mdev_host.dev;
	int ret;

	ret = mdev_register_driver(&mlx5vf_sim_mdev_driver);
	if (ret)
		return ret;
	ret = class_register(&mlx5vf_sim_class);
	if (ret)
		goto out_driver;
	device_initialize(dev);
	dev->class = &mlx5vf_sim_class;
	dev->release = mlx5vf_sim_mdev_parent_release;
	ret = dev_set_name(dev, "mlx5vf_sim");
	if (ret)
		goto out_put;
	ret = device_add(dev);
	if (ret)
		goto out_put;
	ret = mdev_register_parent(&mlx5vf_sim_mdev_host.parent, dev, &mlx5vf_sim_mdev_driver,
				   mlx5vf_sim_mdev_type_list,
				   ARRAY_SIZE(mlx5vf_sim_mdev_type_list));
	if (ret)
		goto out_del;
	return 0;

out_del:
	device_del(dev);
out_put:
	put_device(dev);
	class_unregister(&mlx5vf_sim_class);
out_driver:
	mdev_unregister_driver(&mlx5vf_sim_mdev_driver);
	return ret;
}

/**
 * mlx5vf_sim_mdev_exit() - Undo mlx5vf_sim_mdev_init().
 *
 * Removes every instance first (each waits for its last user).
 *
 * Context: Module exit.
 */
void mlx5vf_sim_mdev_exit(void)
{
	mdev_unregister_parent(&mlx5vf_sim_mdev_host.parent);
	device_unregister(&mlx5vf_sim_mdev_host.dev);
	class_unregister(&mlx5vf_sim_class);
	mdev_unregister_driver(&mlx5vf_sim_mdev_driver);
}

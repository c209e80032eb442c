// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlx5vf: VFIO variant driver for ConnectX-7 / BlueField-3 virtual functions.
 *
 * The driver binds only when userspace asks for it through driver_override
 * (as every VFIO variant driver does), hands the VF's BARs and interrupts to
 * vfio_pci_core, and adds live migration on top. This file owns the PCI
 * driver, the vfio_device_ops and the module's lifetime, and lends the same
 * device to a firmware backend in another module (mlx5vf_pci_bind(): the
 * simulated VF of mlx5vf_sim.ko), which has no migration code of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/vfio_pci_core.h>

#include "mlx5_fw.h"
#include "mlx5vf.h"

#define PCI_DEVICE_ID_MELLANOX_CX7_BF3_VF 0x101e

static unsigned int max_image_mib;
module_param(max_image_mib, uint, 0444);
MODULE_PARM_DESC(max_image_mib,
		 "Largest device image a migration destination loads, in MiB; larger ones fail with EOVERFLOW (default 0: the stream format's limit, 4 GiB - 1)");

/**
 * mlx5vf_max_image_size() - The largest image a destination loads.
 *
 * For the core's device config, from the max_image_mib module parameter.
 *
 * Return: the limit in bytes, 0 for the stream format's own limit.
 */
u64 mlx5vf_max_image_size(void)
{
	return (u64)max_image_mib * SZ_1M;
}

/*
 * NVIDIA's documentation for VF live migration requires the same firmware on
 * both hosts; our COMPAT check enforces PSID and the whole firmware version.
 * This lets an operator knowingly accept another build (the version's minor
 * and subminor) of the same major and PSID. Read when a VF binds.
 */
static bool accept_fw_build_mismatch;
module_param(accept_fw_build_mismatch, bool, 0644);
MODULE_PARM_DESC(accept_fw_build_mismatch,
		 "Migration destination: accept a source whose firmware build differs (same device, PSID and firmware major), with a warning; applies to VFs bound from now on (default: refuse)");

/**
 * mlx5vf_accept_fw_build_mismatch() - Whether another firmware build is accepted.
 *
 * Read when a VF binds, for its core device's config.
 *
 * Return: the accept_fw_build_mismatch module parameter's current value.
 */
bool mlx5vf_accept_fw_build_mismatch(void)
{
	return READ_ONCE(accept_fw_build_mismatch);
}

static bool mlx5vf_is_cx_vf(struct pci_dev *pdev)
{
	return pdev->vendor == PCI_VENDOR_ID_MELLANOX &&
	       pdev->device == PCI_DEVICE_ID_MELLANOX_CX7_BF3_VF;
}

#ifdef MLX5VF_HAVE_IOVA_BITMAP
static int mlx5vf_log_start(struct vfio_device *vdev, struct rb_root_cached *ranges, u32 nnodes,
			    u64 *page_size)
{
	return mlx5vf_dirty_log_start(to_mlx5vf(vdev), ranges, nnodes, page_size);
}

static int mlx5vf_log_stop(struct vfio_device *vdev)
{
	return mlx5vf_dirty_log_stop(to_mlx5vf(vdev));
}

static int mlx5vf_log_read_and_clear(struct vfio_device *vdev, unsigned long iova,
				     unsigned long length, struct iova_bitmap *dirty)
{
	return mlx5vf_dirty_log_read_and_clear(to_mlx5vf(vdev), iova, length, dirty);
}

static const struct vfio_log_ops mlx5vf_vfio_log_ops = {
	.log_start = mlx5vf_log_start,
	.log_stop = mlx5vf_log_stop,
	.log_read_and_clear = mlx5vf_log_read_and_clear,
};

#define MLX5VF_PCI_LOG_OPS (&mlx5vf_vfio_log_ops)
#else
#define MLX5VF_PCI_LOG_OPS NULL
#endif

static int mlx5vf_init_dev(struct vfio_device *vdev)
{
	int ret;

	ret = vfio_pci_core_init_dev(vdev);
	if (ret)
		return ret;
	mlx5vf_device_init(to_mlx5vf(vdev), vdev, MLX5VF_PCI_LOG_OPS);
	return 0;
}

static void mlx5vf_release_dev(struct vfio_device *vdev)
{
	struct mlx5vf_device *mvdev = to_mlx5vf(vdev);

	mlx5vf_mlx5_uninit(mvdev);
	mlx5vf_device_release(mvdev);
	mlx5vf_device_destroy(mvdev);
	vfio_pci_core_release_dev(vdev);
}

static struct vfio_pci_core_device *mlx5vf_pci_core(struct vfio_device *vdev)
{
	return container_of(vdev, struct vfio_pci_core_device, vdev);
}

static int mlx5vf_open_device(struct vfio_device *vdev)
{
	struct mlx5vf_device *mvdev = to_mlx5vf(vdev);
	int ret;

	ret = vfio_pci_core_enable(mlx5vf_pci_core(vdev));
	if (ret)
		return ret;
	if (mvdev->mig)
		mlx5vf_mig_open(mvdev);
	vfio_pci_core_finish_enable(mlx5vf_pci_core(vdev));
	return 0;
}

static void mlx5vf_close_device(struct vfio_device *vdev)
{
	struct mlx5vf_device *mvdev = to_mlx5vf(vdev);

	if (mvdev->mig)
		mlx5vf_mig_close(mvdev);
	/* Like the VFIO cores that own it: the opt-in ends with the last close. */
	WRITE_ONCE(mvdev->precopy_info_v2, false);
	vfio_pci_core_close_device(vdev);
}

static int mlx5vf_device_feature(struct vfio_device *vdev, u32 flags, void __user *arg,
				 size_t argsz)
{
	int ret = mlx5vf_mig_device_feature(to_mlx5vf(vdev), flags, arg, argsz);

	return ret == -ENOTTY ? vfio_pci_core_ioctl_feature(vdev, flags, arg, argsz) : ret;
}

static const struct vfio_device_ops mlx5vf_vfio_ops = {
	.name = "mlx5vf",
	.init = mlx5vf_init_dev,
	.release = mlx5vf_release_dev,
	.open_device = mlx5vf_open_device,
	.close_device = mlx5vf_close_device,
	.ioctl = vfio_pci_core_ioctl,
#ifdef MLX5VF_HAVE_VFIO_GET_REGION_INFO_CAPS
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
#endif
	.device_feature = mlx5vf_device_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
#ifdef MLX5VF_HAVE_VFIO_MATCH_TOKEN_UUID
	.match_token_uuid = vfio_pci_core_match_token_uuid,
#endif
#ifdef MLX5VF_HAVE_VFIO_IOMMUFD_OPS
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
#endif
};

static struct file *mlx5vf_set_state(struct vfio_device *vdev,
				     enum vfio_device_mig_state new_state)
{
	return mlx5vf_mig_set_state(to_mlx5vf(vdev), new_state);
}

static int mlx5vf_get_state(struct vfio_device *vdev, enum vfio_device_mig_state *curr_state)
{
	return mlx5vf_mig_get_state(to_mlx5vf(vdev), curr_state);
}

#ifdef MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP
static int mlx5vf_get_data_size(struct vfio_device *vdev, unsigned long *stop_copy_length)
{
	return mlx5vf_mig_get_data_size(to_mlx5vf(vdev), stop_copy_length);
}
#endif

static const struct vfio_migration_ops mlx5vf_mig_ops = {
	.migration_set_state = mlx5vf_set_state,
	.migration_get_state = mlx5vf_get_state,
#ifdef MLX5VF_HAVE_VFIO_MIG_DATA_SIZE_OP
	.migration_get_data_size = mlx5vf_get_data_size,
#endif
};

static int mlx5vf_bind(struct pci_dev *pdev, const struct mlx5vf_backend_ops *backend)
{
	struct mlx5vf_pci_dev *vf;
	struct mlx5vf_device *mvdev;
	int ret;

	vf = vfio_alloc_device(mlx5vf_pci_dev, core.vdev, &pdev->dev, &mlx5vf_vfio_ops);
	if (IS_ERR(vf))
		return PTR_ERR(vf);
	mvdev = &vf->mvdev;

	if (backend) {
		ret = mlx5vf_device_attach(mvdev, backend);
		if (ret)
			goto out_put;
		vf->core.vdev.mig_ops = &mlx5vf_mig_ops;
		dev_info(&pdev->dev, "VFIO migration offered by %s (stop-copy, P2P, precopy; %s)\n",
			 module_name(backend->owner), mlx5vf_dirty_summary(mvdev));
	} else if (!mlx5vf_mlx5_init(mvdev)) {
		mlx5vf_device_offer(mvdev);
		vf->core.vdev.mig_ops = &mlx5vf_mig_ops;
		dev_info(&pdev->dev, "VFIO migration offered (stop-copy, P2P, precopy; %s)\n",
			 mlx5vf_dirty_summary(mvdev));
	}
	/* Else the reason was logged; the VF stays plain vfio-pci. */

	dev_set_drvdata(&pdev->dev, &vf->core);
	ret = vfio_pci_core_register_device(&vf->core);
	if (ret)
		goto out_put;
	mlx5vf_debugfs_add(mvdev);
	return 0;

out_put:
	vfio_put_device(&vf->core.vdev);
	return ret;
}

static int mlx5vf_cx_vf_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	if (!mlx5vf_is_cx_vf(pdev)) {
		dev_info(&pdev->dev,
			 "not a ConnectX-7/BlueField-3 VF (mlx5vf_sim.ko drives other devices as simulated VFs)\n");
		return -ENODEV;
	}
	return mlx5vf_bind(pdev, NULL);
}

/**
 * mlx5vf_pci_bind() - Bind a PCI function with another module's backend.
 * @pdev: the function the caller's PCI driver is probing
 * @backend: its migration firmware, in the caller's module
 *
 * Makes @pdev a VFIO device whose migration firmware is @backend's: for a
 * PCI driver in another module, from its probe.
 *
 * Context: Process context (a PCI probe).
 * Return: 0, or a negative errno (-EINVAL without a backend).
 */
int mlx5vf_pci_bind(struct pci_dev *pdev, const struct mlx5vf_backend_ops *backend)
{
	if (!backend)
		return -EINVAL;
	return mlx5vf_bind(pdev, backend);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_pci_bind, MLX5VF_NS);

static struct mlx5vf_pci_dev *mlx5vf_from_pdev(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *core = dev_get_drvdata(&pdev->dev);

	return container_of(core, struct mlx5vf_pci_dev, core);
}

/**
 * mlx5vf_pci_unbind() - Undo mlx5vf_pci_bind() or this module's own bind.
 * @pdev: the bound function
 *
 * The remove of every driver that binds through this module. A data_fd may
 * keep the VFIO device alive after it returns.
 *
 * Context: Process context (a PCI remove).
 */
void mlx5vf_pci_unbind(struct pci_dev *pdev)
{
	struct mlx5vf_pci_dev *vf = mlx5vf_from_pdev(pdev);

	mlx5vf_debugfs_remove(&vf->mvdev);
	vfio_pci_core_unregister_device(&vf->core);
	/* While the PF is surely alive; a data_fd may hold the device longer. */
	mlx5vf_mlx5_uninit(&vf->mvdev);
	vfio_put_device(&vf->core.vdev);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_pci_unbind, MLX5VF_NS);

static void mlx5vf_pci_reset_done(struct pci_dev *pdev)
{
	struct mlx5vf_device *mvdev = &mlx5vf_from_pdev(pdev)->mvdev;

	if (mvdev->mig)
		mlx5vf_mig_reset_done(mvdev);
}

const struct pci_error_handlers mlx5vf_pci_err_handlers = {
	.reset_done = mlx5vf_pci_reset_done,
	.error_detected = vfio_pci_core_aer_err_detected,
};
EXPORT_SYMBOL_NS_GPL(mlx5vf_pci_err_handlers, MLX5VF_NS);

static const struct pci_device_id mlx5vf_cx_vf_ids[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_MELLANOX,
					  PCI_DEVICE_ID_MELLANOX_CX7_BF3_VF) },
	{}
};
MODULE_DEVICE_TABLE(pci, mlx5vf_cx_vf_ids);

static struct pci_driver mlx5vf_cx_vf_driver = {
	.name = KBUILD_MODNAME,
	.id_table = mlx5vf_cx_vf_ids,
	.probe = mlx5vf_cx_vf_probe,
	.remove = mlx5vf_pci_unbind,
	.err_handler = &mlx5vf_pci_err_handlers,
	.driver_managed_dma = true,
};

static int __init mlx5vf_init(void)
{
	int ret;

	mlx5vf_debugfs_init();
	ret = pci_register_driver(&mlx5vf_cx_vf_driver);
	if (ret) {
		mlx5vf_debugfs_exit();
		return ret;
	}
	pr_info("%s loaded\n", mlx5vf_core_version());
	return 0;
}

static void __exit mlx5vf_exit(void)
{
	pci_unregister_driver(&mlx5vf_cx_vf_driver);
	mlx5vf_debugfs_exit();
}

module_init(mlx5vf_init);
module_exit(mlx5vf_exit);

MODULE_VERSION(MLX5VF_VERSION);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO live-migration driver for ConnectX-7 / BlueField-3 virtual functions");

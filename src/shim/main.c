// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlx5vf: VFIO variant driver for ConnectX-7 / BlueField-3 virtual functions.
 *
 * The driver binds only when userspace asks for it through driver_override
 * (as every VFIO variant driver does), hands the VF's BARs and interrupts to
 * vfio_pci_core, and adds live migration on top. This file owns the PCI
 * driver and the module's lifetime.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vfio_pci_core.h>

#include <mlx5vf/abi.h>

#define PCI_DEVICE_ID_MELLANOX_CX7_BF3_VF 0x101e

static int mlx5vf_pci_open_device(struct vfio_device *core_vdev)
{
	struct vfio_pci_core_device *vdev =
		container_of(core_vdev, struct vfio_pci_core_device, vdev);
	int ret;

	ret = vfio_pci_core_enable(vdev);
	if (ret)
		return ret;
	vfio_pci_core_finish_enable(vdev);
	return 0;
}

static const struct vfio_device_ops mlx5vf_pci_ops = {
	.name = "mlx5vf",
	.init = vfio_pci_core_init_dev,
	.release = vfio_pci_core_release_dev,
	.open_device = mlx5vf_pci_open_device,
	.close_device = vfio_pci_core_close_device,
	.ioctl = vfio_pci_core_ioctl,
	.device_feature = vfio_pci_core_ioctl_feature,
	.read = vfio_pci_core_read,
	.write = vfio_pci_core_write,
	.mmap = vfio_pci_core_mmap,
	.request = vfio_pci_core_request,
	.match = vfio_pci_core_match,
	.bind_iommufd = vfio_iommufd_physical_bind,
	.unbind_iommufd = vfio_iommufd_physical_unbind,
	.attach_ioas = vfio_iommufd_physical_attach_ioas,
	.detach_ioas = vfio_iommufd_physical_detach_ioas,
};

static int mlx5vf_pci_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct vfio_pci_core_device *vdev;
	int ret;

	vdev = vfio_alloc_device(vfio_pci_core_device, vdev, &pdev->dev, &mlx5vf_pci_ops);
	if (IS_ERR(vdev))
		return PTR_ERR(vdev);

	dev_set_drvdata(&pdev->dev, vdev);
	ret = vfio_pci_core_register_device(vdev);
	if (ret) {
		vfio_put_device(&vdev->vdev);
		return ret;
	}
	return 0;
}

static void mlx5vf_pci_remove(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev = dev_get_drvdata(&pdev->dev);

	vfio_pci_core_unregister_device(vdev);
	vfio_put_device(&vdev->vdev);
}

static const struct pci_device_id mlx5vf_pci_table[] = {
	{ PCI_DRIVER_OVERRIDE_DEVICE_VFIO(PCI_VENDOR_ID_MELLANOX, PCI_DEVICE_ID_MELLANOX_CX7_BF3_VF) },
	{}
};
MODULE_DEVICE_TABLE(pci, mlx5vf_pci_table);

static struct pci_driver mlx5vf_pci_driver = {
	.name = KBUILD_MODNAME,
	.id_table = mlx5vf_pci_table,
	.probe = mlx5vf_pci_probe,
	.remove = mlx5vf_pci_remove,
	.err_handler = &vfio_pci_core_err_handlers,
	.driver_managed_dma = true,
};

static int __init mlx5vf_init(void)
{
	pr_info("%s loaded\n", mlx5vf_core_version());
	return pci_register_driver(&mlx5vf_pci_driver);
}

static void __exit mlx5vf_exit(void)
{
	pci_unregister_driver(&mlx5vf_pci_driver);
}

module_init(mlx5vf_init);
module_exit(mlx5vf_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("VFIO live-migration driver for ConnectX-7 / BlueField-3 virtual functions");

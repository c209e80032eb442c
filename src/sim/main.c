// SPDX-License-Identifier: GPL-2.0-only
/*
 * mlx5vf_sim: simulated migratable ConnectX VFs, for testing live migration
 * without the hardware: any PCI function bound to this driver through
 * driver_override (mlx5vf.ko then makes it a VFIO device with the same
 * migration code as a real VF, and this module supplies the firmware), and
 * mdev instances of this module's parent (mdev.c).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/pci.h>

#include "sim.h"

static const struct mlx5vf_backend_ops mlx5vf_sim_backend = {
	.owner = THIS_MODULE,
	.setup = mlx5vf_sim_setup_pci,
	.teardown = mlx5vf_sim_teardown,
	.open = mlx5vf_sim_open,
	.close = mlx5vf_sim_close,
	.debugfs = mlx5vf_sim_debugfs,
};

static int mlx5vf_sim_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	return mlx5vf_pci_bind(pdev, &mlx5vf_sim_backend);
}

/* No IDs: a function is a simulated VF only when userspace says so. */
static const struct pci_device_id mlx5vf_sim_table[] = {
	{}
};

static struct pci_driver mlx5vf_sim_driver = {
	.name = KBUILD_MODNAME,
	.id_table = mlx5vf_sim_table,
	.probe = mlx5vf_sim_probe,
	.remove = mlx5vf_pci_unbind,
	.err_handler = &mlx5vf_pci_err_handlers,
	.driver_managed_dma = true,
};

static int __init mlx5vf_sim_init(void)
{
	int ret;

	ret = mlx5vf_sim_mdev_init();
	if (ret)
		return ret;
	ret = pci_register_driver(&mlx5vf_sim_driver);
	if (ret)
		mlx5vf_sim_mdev_exit();
	return ret;
}

static void __exit mlx5vf_sim_exit(void)
{
	pci_unregister_driver(&mlx5vf_sim_driver);
	mlx5vf_sim_mdev_exit();
}

module_init(mlx5vf_sim_init);
module_exit(mlx5vf_sim_exit);

MODULE_IMPORT_NS(MLX5VF_NS);
MODULE_VERSION(MLX5VF_VERSION);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Simulated migratable ConnectX VFs for mlx5vf (testing without hardware)");

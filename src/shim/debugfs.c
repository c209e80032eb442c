// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs: mlx5vf/<pci-name>/ shows the migration state of each VF, and for
 * a simulated VF the checksum of its state (live, at STOP_COPY, after
 * RESUMING), which the VM tests compare across a live migration, and an
 * "inject" file that arms a firmware fault ("save 2 short-image").
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "mlx5vf.h"

static struct dentry *mlx5vf_debugfs_root;

static int mlx5vf_debugfs_state_show(struct seq_file *m, void *unused)
{
	struct mlx5vf_pci_dev *mvdev = m->private;
	struct mlx5vf_sim_backend *simb = &mvdev->simb;

	mlx5vf_state_mutex_lock(mvdev);
	seq_printf(m, "state: %s\n", mlx5vf_core_mig_state_name(mlx5vf_core_dev_state(mvdev->mig)));
	if (simb->sim) {
		seq_printf(m, "sim_checksum: %016llx\n", mlx5vf_core_sim_checksum(simb->sim));
		seq_printf(m, "saved_checksum: %016llx\n", simb->saved_checksum);
		seq_printf(m, "loaded_checksum: %016llx\n", simb->loaded_checksum);
	}
	mlx5vf_state_mutex_unlock(mvdev);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mlx5vf_debugfs_state);

static ssize_t mlx5vf_debugfs_inject_write(struct file *file, const char __user *ubuf,
					   size_t len, loff_t *ppos)
{
	struct mlx5vf_pci_dev *mvdev = file->private_data;
	char buf[64], op[16], fault[24];
	unsigned int nth;
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%15s %u %23s", op, &nth, fault) != 3)
		return -EINVAL;
	ret = mlx5vf_sim_inject(mvdev, op, nth, fault);
	return ret ? ret : len;
}

static const struct file_operations mlx5vf_debugfs_inject_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = mlx5vf_debugfs_inject_write,
};

void mlx5vf_debugfs_add(struct mlx5vf_pci_dev *mvdev)
{
	if (!mlx5vf_debugfs_root || !mvdev->mig)
		return;
	mvdev->debugfs = debugfs_create_dir(pci_name(mvdev->core.pdev), mlx5vf_debugfs_root);
	debugfs_create_file("migration", 0400, mvdev->debugfs, mvdev, &mlx5vf_debugfs_state_fops);
	if (mvdev->simb.sim)
		debugfs_create_file("inject", 0200, mvdev->debugfs, mvdev,
				    &mlx5vf_debugfs_inject_fops);
}

void mlx5vf_debugfs_remove(struct mlx5vf_pci_dev *mvdev)
{
	debugfs_remove_recursive(mvdev->debugfs);
	mvdev->debugfs = NULL;
}

void mlx5vf_debugfs_init(void)
{
	mlx5vf_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

void mlx5vf_debugfs_exit(void)
{
	debugfs_remove_recursive(mlx5vf_debugfs_root);
}

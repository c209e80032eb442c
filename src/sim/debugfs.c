// SPDX-License-Identifier: GPL-2.0-only
/*
 * The simulated VF's files in its mlx5vf/<pci-name>/ debugfs directory:
 * "sim" shows the checksum of the function's state (live, as its last
 * responder SUSPEND froze it, after its last LOAD), which the VM tests
 * compare across a live migration, and the function's DMA counters;
 * "inject" arms a firmware fault ("save 2 short-image", "track-report 1
 * lose-dirty", "save 1 forced-timeout"); "dma_window" ("IOVA LENGTH") names the guest memory the
 * function writes while it runs; "reconfigure" ("PAGES") configures more of
 * its state (during PRE_COPY: new initial data, VFIO_PRECOPY_INFO_REINIT).
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "sim.h"

static int mlx5vf_sim_debugfs_state_show(struct seq_file *m, void *unused)
{
	struct mlx5vf_device *mvdev = m->private;
	struct mlx5vf_sim_vf *svf = mlx5vf_sim_vf(mvdev);
	struct mlx5vf_sim_dma_stats dma;

	mlx5vf_state_lock(mvdev);
	seq_printf(m, "sim_checksum: %016llx\n", mlx5vf_core_sim_checksum(svf->sim));
	seq_printf(m, "saved_checksum: %016llx\n", mlx5vf_core_sim_saved_checksum(svf->sim));
	seq_printf(m, "loaded_checksum: %016llx\n", mlx5vf_core_sim_loaded_checksum(svf->sim));
	mlx5vf_core_sim_dma_stats(svf->sim, &dma);
	seq_printf(m, "dma_window: %llx %llx\n", svf->dma_window, svf->dma_window_len);
	seq_printf(m, "dma_writes: %llu\n", dma.dma_writes);
	seq_printf(m, "dma_errors: %llu\n", svf->dma_errors);
	seq_printf(m, "dma_last_error: %d at %llx\n", svf->dma_error, svf->dma_error_iova);
	seq_printf(m, "dma_pages_marked: %llu\n", dma.pages_marked);
	seq_printf(m, "dma_pages_dirty: %llu\n", dma.dirty_pages);
	seq_printf(m, "dma_untracked_writes: %llu\n", dma.untracked_writes);
	mlx5vf_state_unlock(mvdev);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mlx5vf_sim_debugfs_state);

/* A short command written to a control file, as a string. */
static int mlx5vf_sim_debugfs_command(const char __user *ubuf, size_t len, char *buf, size_t size)
{
	if (len >= size)
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	return 0;
}

static ssize_t mlx5vf_sim_debugfs_inject_write(struct file *file, const char __user *ubuf,
					       size_t len, loff_t *ppos)
{
	struct mlx5vf_device *mvdev = file->private_data;
	char buf[64], op[16], fault[24];
	unsigned int nth;
	int ret;

	ret = mlx5vf_sim_debugfs_command(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%15s %u %23s", op, &nth, fault) != 3)
		return -EINVAL;
	ret = mlx5vf_sim_inject(mvdev, op, nth, fault);
	return ret ? ret : len;
}

/* "IOVA LENGTH" (hex or decimal): guest memory the simulated function writes. */
static ssize_t mlx5vf_sim_debugfs_dma_window_write(struct file *file, const char __user *ubuf,
						   size_t len, loff_t *ppos)
{
	struct mlx5vf_device *mvdev = file->private_data;
	unsigned long long iova, length;
	char buf[64];
	int ret;

	ret = mlx5vf_sim_debugfs_command(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (sscanf(buf, "%lli %lli", &iova, &length) != 2)
		return -EINVAL;
	ret = mlx5vf_sim_set_dma_window(mvdev, iova, length);
	return ret ? ret : len;
}

/* "PAGES": the simulated function configures that many more state pages. */
static ssize_t mlx5vf_sim_debugfs_reconfigure_write(struct file *file, const char __user *ubuf,
						    size_t len, loff_t *ppos)
{
	struct mlx5vf_device *mvdev = file->private_data;
	unsigned long long pages;
	char buf[32];
	int ret;

	ret = mlx5vf_sim_debugfs_command(ubuf, len, buf, sizeof(buf));
	if (ret)
		return ret;
	if (kstrtoull(strim(buf), 0, &pages))
		return -EINVAL;
	ret = mlx5vf_sim_reconfigure(mvdev, pages);
	return ret ? ret : len;
}

static const struct file_operations mlx5vf_sim_debugfs_reconfigure_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = mlx5vf_sim_debugfs_reconfigure_write,
};

static const struct file_operations mlx5vf_sim_debugfs_dma_window_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = mlx5vf_sim_debugfs_dma_window_write,
};

static const struct file_operations mlx5vf_sim_debugfs_inject_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = mlx5vf_sim_debugfs_inject_write,
};

/**
 * mlx5vf_sim_debugfs() - Add the simulator's files to a device's directory.
 * @mvdev: the device
 * @dir: its debugfs directory
 *
 * The backend's debugfs hook: "sim", "inject", "dma_window" and
 * "reconfigure".
 */
void mlx5vf_sim_debugfs(struct mlx5vf_device *mvdev, struct dentry *dir)
{
	debugfs_create_file("sim", 0400, dir, mvdev, &mlx5vf_sim_debugfs_state_fops);
	debugfs_create_file("inject", 0200, dir, mvdev, &mlx5vf_sim_debugfs_inject_fops);
	debugfs_create_file("dma_window", 0200, dir, mvdev, &mlx5vf_sim_debugfs_dma_window_fops);
	debugfs_create_file("reconfigure", 0200, dir, mvdev, &mlx5vf_sim_debugfs_reconfigure_fops);
}

// SPDX-License-Identifier: GPL-2.0-only
/*
 * debugfs: mlx5vf/<pci-name>/ shows the migration state of each VF and its
 * dirty tracker ("migration") and its migration statistics ("statistics":
 * the core's counters). A backend in another module may add its own files
 * (the simulated VF's controls).
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "mlx5vf.h"

static struct dentry *mlx5vf_debugfs_root;

static int mlx5vf_debugfs_state_show(struct seq_file *m, void *unused)
{
	struct mlx5vf_device *mvdev = m->private;
	struct mlx5vf_log_status log;

	mlx5vf_state_lock(mvdev);
	seq_printf(m, "state: %s\n", mlx5vf_core_mig_state_name(mlx5vf_core_dev_state(mvdev->mig)));
	mlx5vf_core_dev_log_status(mvdev->mig, &log);
	seq_printf(m, "dirty_tracking: %s\n",
		   mvdev->vdev->log_ops ? (log.active ? "active" : "idle") : "unavailable");
	seq_printf(m, "dirty_page_size: %llu\n", log.page_size);
	seq_printf(m, "dirty_ranges: %u\n", log.nr_ranges);
	seq_printf(m, "dirty_reports: %llu\n", log.reports);
	seq_printf(m, "dirty_pages_reported: %llu\n", log.pages_reported);
	seq_printf(m, "dirty_error: %s\n", log.error ?: "none");
	mlx5vf_state_unlock(mvdev);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mlx5vf_debugfs_state);

static const char *const mlx5vf_fw_cmd_names[] = {
	[MLX5VF_FW_CMD_QUERY] = "QUERY",
	[MLX5VF_FW_CMD_SUSPEND] = "SUSPEND",
	[MLX5VF_FW_CMD_RESUME] = "RESUME",
	[MLX5VF_FW_CMD_SAVE] = "SAVE",
	[MLX5VF_FW_CMD_LOAD] = "LOAD",
	[MLX5VF_FW_CMD_TRACK_START] = "TRACK_START",
	[MLX5VF_FW_CMD_TRACK_REPORT] = "TRACK_REPORT",
};

static const char *mlx5vf_fw_cmd_name(const struct mlx5vf_mig_counters *c)
{
	if (!c->last_error)
		return "none";
	if (c->last_error_cmd >= ARRAY_SIZE(mlx5vf_fw_cmd_names))
		return "?";
	return mlx5vf_fw_cmd_names[c->last_error_cmd];
}

/*
 * The core's migration counters: the current (or last) migration, and the
 * total since bind. One line per field: name, last, total.
 */
static int mlx5vf_debugfs_stats_show(struct seq_file *m, void *unused)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
#define MLX5VF_STAT(f) { #f, offsetof(struct mlx5vf_mig_counters, f) }
		MLX5VF_STAT(migrations),
		MLX5VF_STAT(precopy_bytes),
		MLX5VF_STAT(stop_copy_bytes),
		MLX5VF_STAT(resume_bytes),
		MLX5VF_STAT(precopy_rounds),
		MLX5VF_STAT(save_chunks),
		MLX5VF_STAT(load_chunks),
		MLX5VF_STAT(records_written),
		MLX5VF_STAT(records_read),
		MLX5VF_STAT(suspend_ns),
		MLX5VF_STAT(save_ns),
		MLX5VF_STAT(load_ns),
		MLX5VF_STAT(stop_copy_to_end_ns),
#undef MLX5VF_STAT
	};
	struct mlx5vf_device *mvdev = m->private;
	struct mlx5vf_mig_stats st;
	size_t i;

	mlx5vf_state_lock(mvdev);
	mlx5vf_core_dev_stats(mvdev->mig, &st);
	mlx5vf_state_unlock(mvdev);

	seq_printf(m, "%-20s %20s %20s\n", "field", "last", "total");
	for (i = 0; i < ARRAY_SIZE(fields); i++)
		seq_printf(m, "%-20s %20llu %20llu\n", fields[i].name,
			   *(const u64 *)((const char *)&st.last + fields[i].offset),
			   *(const u64 *)((const char *)&st.total + fields[i].offset));
	seq_printf(m, "%-20s %20d %20d\n", "last_error", st.last.last_error, st.total.last_error);
	seq_printf(m, "%-20s %20s %20s\n", "last_error_cmd", mlx5vf_fw_cmd_name(&st.last),
		   mlx5vf_fw_cmd_name(&st.total));
	seq_printf(m, "%-20s %20u %20u\n", "last_error_status", st.last.last_error_status,
		   st.total.last_error_status);
	seq_printf(m, "%-20s %#20x %#20x\n", "last_error_syndrome", st.last.last_error_syndrome,
		   st.total.last_error_syndrome);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mlx5vf_debugfs_stats);

/**
 * mlx5vf_debugfs_add() - Create a device's debugfs directory.
 * @mvdev: the device; nothing is created while migration is off for it
 *
 * Adds the "migration" and "statistics" files under the module's directory,
 * then lets a backend in another module add its own files.
 *
 * Context: Process context, from the bind path.
 */
void mlx5vf_debugfs_add(struct mlx5vf_device *mvdev)
{
	if (!mlx5vf_debugfs_root || !mvdev->mig)
		return;
	mvdev->debugfs = debugfs_create_dir(dev_name(mvdev->dev), mlx5vf_debugfs_root);
	debugfs_create_file("migration", 0400, mvdev->debugfs, mvdev, &mlx5vf_debugfs_state_fops);
	debugfs_create_file("statistics", 0400, mvdev->debugfs, mvdev, &mlx5vf_debugfs_stats_fops);
	if (mvdev->backend && mvdev->backend->debugfs)
		mvdev->backend->debugfs(mvdev, mvdev->debugfs);
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_debugfs_add, MLX5VF_NS);

/**
 * mlx5vf_debugfs_remove() - Remove a device's debugfs directory.
 * @mvdev: the device, with or without a directory
 *
 * Context: Process context, from the unbind path.
 */
void mlx5vf_debugfs_remove(struct mlx5vf_device *mvdev)
{
	debugfs_remove_recursive(mvdev->debugfs);
	mvdev->debugfs = NULL;
}
EXPORT_SYMBOL_NS_GPL(mlx5vf_debugfs_remove, MLX5VF_NS);

/**
 * mlx5vf_debugfs_init() - Create the module's debugfs root.
 *
 * debugfs is optional: the module works the same without it.
 *
 * Context: Module init.
 */
void mlx5vf_debugfs_init(void)
{
	mlx5vf_debugfs_root = debugfs_create_dir(KBUILD_MODNAME, NULL);
}

/**
 * mlx5vf_debugfs_exit() - Remove the module's debugfs root and all below it.
 *
 * Context: Module exit, after every device was unbound.
 */
void mlx5vf_debugfs_exit(void)
{
	debugfs_remove_recursive(mlx5vf_debugfs_root);
}

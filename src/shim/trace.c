// SPDX-License-Identifier: GPL-2.0-only
/*
 * The core's observer (include/mlx5vf/mig.h): its clock and the events it
 * reports, as tracepoints, and the files it closes (to mig.c). The
 * tracepoints themselves are created here.
 * Every callback may run under the state mutex; fw_cmd also from a SAVE's
 * completion (atomic): none sleeps.
 */
#include <linux/ktime.h>
#include <linux/pci.h>

#include "mlx5vf.h"

#define CREATE_TRACE_POINTS
#include "mlx5vf_trace.h"

/* The PF's detach and attach, also fired by the emulated-PF test module's backend. */
EXPORT_TRACEPOINT_SYMBOL_GPL(mlx5vf_pf);

static u64 mlx5vf_obs_now_ns(void *ctx)
{
	return ktime_get_ns();
}

static void mlx5vf_obs_arc(void *ctx, u32 from, u32 to, u64 duration_ns, int err)
{
	struct mlx5vf_device *mvdev = ctx;

	trace_mlx5vf_arc(dev_name(mvdev->dev), from, to, duration_ns, err);
}

static void mlx5vf_obs_fw_cmd(void *ctx, const struct mlx5vf_fw_cmd_info *info)
{
	struct mlx5vf_device *mvdev = ctx;

	trace_mlx5vf_fw_cmd(dev_name(mvdev->dev), info->kind, info->op_mod, info->bytes,
			    info->duration_ns, info->err, info->status, info->syndrome);
}

static void mlx5vf_obs_record(void *ctx, bool save, u32 tag, u64 length)
{
	struct mlx5vf_device *mvdev = ctx;

	trace_mlx5vf_record(dev_name(mvdev->dev), save, tag, length);
}

const struct mlx5vf_observer_ops mlx5vf_observer_ops = {
	.now_ns = mlx5vf_obs_now_ns,
	.arc = mlx5vf_obs_arc,
	.fw_cmd = mlx5vf_obs_fw_cmd,
	.record = mlx5vf_obs_record,
	.file_closed = mlx5vf_mig_file_closed, /* mig.c: drops the data_fd */
};

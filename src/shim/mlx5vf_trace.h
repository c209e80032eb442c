/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * mlx5vf tracepoints (tracefs events/mlx5vf/). The core reports arcs,
 * firmware commands and stream records through its observer (trace.c); the
 * shim traces what it does itself: PRECOPY_INFO answers, dirty-page reports,
 * resets and PF detach/attach. Each event costs a static-key test while
 * disabled. Documentation/admin-guide.rst, "Tracing", shows the output.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM mlx5vf

#if !defined(MLX5VF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define MLX5VF_TRACE_H

#include <linux/tracepoint.h>

/* A PCI name ("0000:3b:00.2") fits; copied, so no __string() variants. */
#define MLX5VF_TRACE_DEV_LEN 16

/* enum vfio_device_mig_state, by the uAPI's numbers. */
#define mlx5vf_show_state(state)							\
	__print_symbolic(state, { 0, "ERROR" }, { 1, "STOP" }, { 2, "RUNNING" },		\
			 { 3, "STOP_COPY" }, { 4, "RESUMING" }, { 5, "RUNNING_P2P" },	\
			 { 6, "PRE_COPY" }, { 7, "PRE_COPY_P2P" })

TRACE_EVENT(mlx5vf_arc,
	    TP_PROTO(const char *dev, u32 from, u32 to, u64 duration_ns, int err),
	    TP_ARGS(dev, from, to, duration_ns, err),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u64, duration_ns)
			     __field(int, err)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->from = from;
			   __entry->to = to;
			   __entry->duration_ns = duration_ns;
			   __entry->err = err;),
	    TP_printk("%s %s -> %s duration_ns=%llu err=%d", __entry->dev,
		      mlx5vf_show_state(__entry->from), mlx5vf_show_state(__entry->to),
		      __entry->duration_ns, __entry->err)
);

TRACE_EVENT(mlx5vf_fw_cmd,
	    TP_PROTO(const char *dev, u32 kind, u32 op_mod, u64 bytes, u64 duration_ns, int err,
		     u32 status, u32 syndrome),
	    TP_ARGS(dev, kind, op_mod, bytes, duration_ns, err, status, syndrome),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(u32, kind)
			     __field(u32, op_mod)
			     __field(u64, bytes)
			     __field(u64, duration_ns)
			     __field(int, err)
			     __field(u32, status)
			     __field(u32, syndrome)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->kind = kind;
			   __entry->op_mod = op_mod;
			   __entry->bytes = bytes;
			   __entry->duration_ns = duration_ns;
			   __entry->err = err;
			   __entry->status = status;
			   __entry->syndrome = syndrome;),
	    TP_printk("%s %s op_mod=%u bytes=%llu duration_ns=%llu err=%d status=%u syndrome=%#x",
		      __entry->dev,
		      __print_symbolic(__entry->kind, { 0, "QUERY" }, { 1, "SUSPEND" },
				       { 2, "RESUME" }, { 3, "SAVE" }, { 4, "LOAD" },
				       { 5, "TRACK_START" }, { 6, "TRACK_REPORT" }),
		      __entry->op_mod, __entry->bytes, __entry->duration_ns, __entry->err,
		      __entry->status, __entry->syndrome)
);

TRACE_EVENT(mlx5vf_record,
	    TP_PROTO(const char *dev, bool save, u32 tag, u64 length),
	    TP_ARGS(dev, save, tag, length),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(bool, save)
			     __field(u32, tag)
			     __field(u64, length)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->save = save;
			   __entry->tag = tag;
			   __entry->length = length;),
	    TP_printk("%s %s %s length=%llu", __entry->dev,
		      __entry->save ? "written" : "read",
		      __print_symbolic(__entry->tag, { 0, "FW_DATA" }, { 1, "STOP_COPY_SIZE" },
				       { 0x6676356d, "COMPAT" }), __entry->length)
);

TRACE_EVENT(mlx5vf_precopy_info,
	    TP_PROTO(const char *dev, u32 flags, u64 initial, u64 dirty, int err),
	    TP_ARGS(dev, flags, initial, dirty, err),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(u32, flags)
			     __field(u64, initial)
			     __field(u64, dirty)
			     __field(int, err)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->flags = flags;
			   __entry->initial = initial;
			   __entry->dirty = dirty;
			   __entry->err = err;),
	    TP_printk("%s initial=%llu dirty=%llu flags=%#x err=%d", __entry->dev,
		      __entry->initial, __entry->dirty, __entry->flags, __entry->err)
);

TRACE_EVENT(mlx5vf_dirty_report,
	    TP_PROTO(const char *dev, u64 iova, u64 length, u32 ranges, u64 pages,
		     u64 duration_ns, int err),
	    TP_ARGS(dev, iova, length, ranges, pages, duration_ns, err),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(u64, iova)
			     __field(u64, length)
			     __field(u32, ranges)
			     __field(u64, pages)
			     __field(u64, duration_ns)
			     __field(int, err)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->iova = iova;
			   __entry->length = length;
			   __entry->ranges = ranges;
			   __entry->pages = pages;
			   __entry->duration_ns = duration_ns;
			   __entry->err = err;),
	    TP_printk("%s iova=%#llx length=%#llx ranges=%u pages=%llu duration_ns=%llu err=%d",
		      __entry->dev, __entry->iova, __entry->length, __entry->ranges,
		      __entry->pages, __entry->duration_ns, __entry->err)
);

TRACE_EVENT(mlx5vf_reset,
	    TP_PROTO(const char *dev, u32 from),
	    TP_ARGS(dev, from),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(u32, from)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->from = from;),
	    TP_printk("%s from %s", __entry->dev,
		      __print_symbolic(__entry->from,
				       { 0, "ERROR" }, { 1, "STOP" }, { 2, "RUNNING" },
				       { 3, "STOP_COPY" }, { 4, "RESUMING" }, { 5, "RUNNING_P2P" },
				       { 6, "PRE_COPY" }, { 7, "PRE_COPY_P2P" }))
);

TRACE_EVENT(mlx5vf_pf,
	    TP_PROTO(const char *dev, bool attached),
	    TP_ARGS(dev, attached),
	    TP_STRUCT__entry(__array(char, dev, MLX5VF_TRACE_DEV_LEN)
			     __field(bool, attached)),
	    TP_fast_assign(strscpy(__entry->dev, dev, MLX5VF_TRACE_DEV_LEN);
			   __entry->attached = attached;),
	    TP_printk("%s PF %s", __entry->dev, __entry->attached ? "attached" : "detached")
);

#endif /* MLX5VF_TRACE_H */

/* Out of tree: define_trace.h finds this file through CFLAGS_src/shim/trace.o. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE mlx5vf_trace
#include <trace/define_trace.h>

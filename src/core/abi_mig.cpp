// SPDX-License-Identifier: GPL-2.0-only
// include/mlx5vf/mig.h: conversions between the C handles and the core's
// objects, and adapters from the shim's C callbacks to the core's
// interfaces. No decisions are made here.
#include <mlx5vf/mig.h>

#include "mig_device.h"
#include "shim_firmware.h"

#include "kstd/enforce.h"

using namespace mlx5vf;

namespace {

class CUserIo final : public UserIo {
public:
	explicit CUserIo(mlx5vf_user_io *io) : io_(io) {}
	kstd::Result<void> to_user(kstd::ConstBytes src) override
	{
		return check(io_->to_user(io_, src.data(), src.size()));
	}
	kstd::Result<void> from_user(kstd::Bytes dst) override
	{
		return check(io_->from_user(io_, dst.data(), dst.size()));
	}
	kstd::Result<void> skip(size_t n) override { return check(io_->skip(io_, n)); }

private:
	static kstd::Result<void> check(int rc)
	{
		if (rc < 0)
			return static_cast<kstd::Err>(-rc);
		return kstd::ok();
	}
	mlx5vf_user_io *io_;
};

class CWaiter final : public SaveWaiter {
public:
	const mlx5vf_dev_ops *ops = nullptr;
	void *ctx = nullptr;
	kstd::Result<void> wait_save_idle(SaveFile &file, bool interruptible) override
	{
		const int rc =
			ops->wait_save_idle(ctx, reinterpret_cast<mlx5vf_save_file *>(&file), interruptible);
		if (rc < 0)
			return static_cast<kstd::Err>(-rc);
		return kstd::ok();
	}
};

class CObserver final : public Observer {
public:
	const mlx5vf_observer_ops *ops = nullptr;
	void *ctx = nullptr;
	uint64_t now_ns() override { return ops->now_ns ? ops->now_ns(ctx) : 0; }
	void arc(MigState from, MigState to, uint64_t duration_ns, int err) override
	{
		if (ops->arc)
			ops->arc(ctx, static_cast<uint32_t>(from), static_cast<uint32_t>(to), duration_ns,
				 err);
	}
	void fw_cmd(const mlx5vf_fw_cmd_info &info) override
	{
		if (ops->fw_cmd)
			ops->fw_cmd(ctx, &info);
	}
	void record(bool save, uint32_t tag, uint64_t length) override
	{
		if (ops->record)
			ops->record(ctx, save, tag, length);
	}
	void file_closed(SaveFile *save, ResumeFile *resume) override
	{
		if (ops->file_closed)
			ops->file_closed(ctx, reinterpret_cast<mlx5vf_save_file *>(save),
					 reinterpret_cast<mlx5vf_resume_file *>(resume));
	}
};

int to_rc(const kstd::Result<void> &r)
{
	return r.is_ok() ? 0 : kstd::to_errno(r.error());
}

SaveFile *save_of(mlx5vf_save_file *f)
{
	return reinterpret_cast<SaveFile *>(f);
}

ResumeFile *resume_of(mlx5vf_resume_file *f)
{
	return reinterpret_cast<ResumeFile *>(f);
}

stream::CompatInfo compat_of(const mlx5vf_compat_info &c)
{
	stream::CompatInfo info;
	info.pci_vendor_id = c.pci_vendor_id;
	info.pci_device_id = c.pci_device_id;
	info.fw_identity = c.fw_identity;
	info.vhca_state_format = c.vhca_state_format;
	return info;
}

} // namespace

struct mlx5vf_dev {
	CWaiter waiter;
	CObserver observer;
	kstd::Owned<ShimFirmware> shim_fw; // before dev: destroyed after it
	kstd::Owned<MigDevice> dev;
};

extern "C" int mlx5vf_core_dev_create(const mlx5vf_dev_config *cfg, mlx5vf_dev **out)
{
	if (!cfg->fw_ops || !cfg->ops || !cfg->ops->wait_save_idle)
		return -MLX5VF_EINVAL;
	auto handle = kstd::make<mlx5vf_dev>(kstd::AllocCtx::Sleepable);
	if (handle.is_error())
		return kstd::to_errno(handle.error());
	mlx5vf_dev &h = *handle.value();
	h.waiter.ops = cfg->ops;
	h.waiter.ctx = cfg->ops_ctx;
	MigDevice::Config dc;
	auto fw = ShimFirmware::create(cfg->fw_ops, cfg->fw_ctx);
	if (fw.is_error())
		return kstd::to_errno(fw.error());
	h.shim_fw = fw.release_value();
	dc.fw = h.shim_fw.get();
	dc.waiter = &h.waiter;
	if (cfg->obs) {
		h.observer.ops = cfg->obs;
		h.observer.ctx = cfg->obs_ctx;
		dc.observer = &h.observer;
	}
	dc.compat = compat_of(cfg->compat);
	dc.features = cfg->features;
	if (cfg->max_chunk_size)
		dc.max_chunk_size = cfg->max_chunk_size;
	dc.resume_limits.max_image = cfg->max_image_size; // 0: the format's limit
	dc.resume_limits.compat_policy.accept_fw_build_mismatch = cfg->accept_fw_build_mismatch;
	auto dev = MigDevice::create(dc);
	if (dev.is_error())
		return kstd::to_errno(dev.error());
	h.dev = dev.release_value();
	*out = handle.value().release();
	return 0;
}

extern "C" void mlx5vf_core_dev_destroy(mlx5vf_dev *dev)
{
	kstd::Owned<mlx5vf_dev> owned(dev);
}

extern "C" uint32_t mlx5vf_core_dev_features(const mlx5vf_dev *dev)
{
	return dev->dev->features();
}

extern "C" enum mlx5vf_mig_state mlx5vf_core_dev_state(const mlx5vf_dev *dev)
{
	return static_cast<mlx5vf_mig_state>(dev->dev->state());
}

extern "C" int mlx5vf_core_dev_set_state(mlx5vf_dev *dev, uint32_t target, void *owner,
					 mlx5vf_save_file **save, mlx5vf_resume_file **resume)
{
	*save = nullptr;
	*resume = nullptr;
	// The VFIO core hands over the user's raw value: check it before the
	// narrowing to MigState could turn it into a valid state.
	if (target >= kMigStateCount)
		return -MLX5VF_EINVAL;
	auto opened = dev->dev->set_state(static_cast<MigState>(target), owner);
	if (opened.is_error())
		return kstd::to_errno(opened.error());
	*save = reinterpret_cast<mlx5vf_save_file *>(opened.value().save);
	*resume = reinterpret_cast<mlx5vf_resume_file *>(opened.value().resume);
	return 0;
}

extern "C" void mlx5vf_core_dev_stats(const mlx5vf_dev *dev, mlx5vf_mig_stats *st)
{
	dev->dev->stats().snapshot(st->last, st->total);
}

extern "C" int mlx5vf_core_dev_data_size(mlx5vf_dev *dev, uint64_t *size)
{
	auto r = dev->dev->data_size();
	if (r.is_error())
		return kstd::to_errno(r.error());
	*size = r.value();
	return 0;
}

extern "C" int mlx5vf_core_dev_precopy_info(mlx5vf_dev *dev, mlx5vf_save_file *file, bool v2, uint32_t *flags,
					    uint64_t *initial, uint64_t *dirty)
{
	auto r = dev->dev->precopy_info(*save_of(file), v2);
	if (r.is_error())
		return kstd::to_errno(r.error());
	*flags = r.value().flags;
	*initial = r.value().initial_bytes;
	*dirty = r.value().dirty_bytes;
	return 0;
}

extern "C" long mlx5vf_core_dev_resume_write(mlx5vf_dev *dev, mlx5vf_resume_file *file, mlx5vf_user_io *io,
					     size_t len)
{
	CUserIo user(io);
	auto r = dev->dev->resume_write(*resume_of(file), user, len);
	if (r.is_error())
		return kstd::to_errno(r.error());
	return static_cast<long>(r.value());
}

extern "C" void mlx5vf_core_dev_reset(mlx5vf_dev *dev)
{
	dev->dev->reset();
}

extern "C" void mlx5vf_core_dev_close_files(mlx5vf_dev *dev)
{
	dev->dev->close_files();
}

extern "C" void mlx5vf_core_dev_detach(mlx5vf_dev *dev)
{
	dev->dev->detach();
}

extern "C" void mlx5vf_core_dev_attach(mlx5vf_dev *dev)
{
	dev->dev->attach();
}

extern "C" const char *mlx5vf_core_mig_state_name(uint32_t state)
{
	return state < kMigStateCount ? mig_state_name(static_cast<MigState>(state)) : "(no state)";
}

extern "C" void mlx5vf_core_dev_forget_save(mlx5vf_dev *dev, mlx5vf_save_file *file)
{
	dev->dev->forget(save_of(file));
}

extern "C" void mlx5vf_core_dev_forget_resume(mlx5vf_dev *dev, mlx5vf_resume_file *file)
{
	dev->dev->forget(resume_of(file));
}

extern "C" long mlx5vf_core_save_read(mlx5vf_save_file *file, mlx5vf_user_io *io, size_t len)
{
	CUserIo user(io);
	auto r = save_of(file)->read(user, len);
	if (r.is_error())
		return kstd::to_errno(r.error());
	return static_cast<long>(r.value());
}

extern "C" bool mlx5vf_core_save_readable(const mlx5vf_save_file *file)
{
	return reinterpret_cast<const SaveFile *>(file)->readable();
}

extern "C" bool mlx5vf_core_save_in_flight(const mlx5vf_save_file *file)
{
	return reinterpret_cast<const SaveFile *>(file)->save_in_flight();
}

extern "C" void mlx5vf_core_save_destroy(mlx5vf_save_file *file)
{
	kstd::Owned<SaveFile> owned(save_of(file));
}

extern "C" const char *mlx5vf_core_resume_error(const mlx5vf_resume_file *file, uint64_t *offset)
{
	const ResumeFile *f = reinterpret_cast<const ResumeFile *>(file);
	*offset = f->parser().offset();
	return f->error_reason();
}

extern "C" void mlx5vf_core_resume_destroy(mlx5vf_resume_file *file)
{
	kstd::Owned<ResumeFile> owned(resume_of(file));
}

static_assert(sizeof(IovaRange) == sizeof(mlx5vf_iova_range));

namespace {

class CBitmap final : public DirtyBitmap {
public:
	explicit CBitmap(mlx5vf_dirty_bitmap *bm) : bm_(bm) {}
	void set(uint64_t iova, uint64_t length) override { bm_->set(bm_, iova, length); }

private:
	mlx5vf_dirty_bitmap *bm_;
};

} // namespace

extern "C" bool mlx5vf_core_dev_log_supported(const mlx5vf_dev *dev)
{
	return dev->dev->tracker().supported();
}

extern "C" int mlx5vf_core_dev_log_start(mlx5vf_dev *dev, const mlx5vf_iova_range *ranges, uint32_t nr_ranges,
					 uint64_t *page_size)
{
	auto r = dev->dev->tracker().start(
		kstd::Span<const IovaRange>(reinterpret_cast<const IovaRange *>(ranges), nr_ranges),
		*page_size);
	if (r.is_error())
		return kstd::to_errno(r.error());
	*page_size = r.value();
	return 0;
}

extern "C" void mlx5vf_core_dev_log_stop(mlx5vf_dev *dev)
{
	dev->dev->tracker().stop();
}

extern "C" int mlx5vf_core_dev_log_report(mlx5vf_dev *dev, uint64_t iova, uint64_t length,
					  mlx5vf_dirty_bitmap *bm)
{
	CBitmap out(bm);
	return to_rc(dev->dev->tracker().report(iova, length, out));
}

extern "C" void mlx5vf_core_dev_log_status(const mlx5vf_dev *dev, mlx5vf_log_status *st)
{
	const DirtyTracker &t = dev->dev->tracker();
	st->active = t.active();
	st->page_size = t.active() ? t.page_size() : 0;
	st->nr_ranges = static_cast<uint32_t>(t.ranges().size());
	st->reports = t.reports();
	st->pages_reported = t.pages_reported();
	st->error = t.last_error();
}

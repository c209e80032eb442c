// SPDX-License-Identifier: GPL-2.0-only
// A migration test rig: simulated VFs driven by the core exactly as the shim
// drives them, with user memory and completion delivery done in-process.
#pragma once

#include "mig_device.h"
#include "sim_vhca.h"

#include <cstring>
#include <vector>

namespace rig {

using namespace mlx5vf;

// User memory as a growable vector (reads append; writes consume).
class VecUser final : public UserIo {
public:
	std::vector<uint8_t> data;
	size_t pos = 0;
	long fail_after = -1; // fail the copy that would pass this many bytes

	kstd::Result<void> to_user(kstd::ConstBytes src) override
	{
		if (fail_after >= 0 && data.size() + src.size() > static_cast<size_t>(fail_after))
			return kstd::Err::Fault;
		data.insert(data.end(), src.begin(), src.end());
		return kstd::ok();
	}
	kstd::Result<void> from_user(kstd::Bytes dst) override
	{
		if (pos + dst.size() > data.size())
			return kstd::Err::Fault;
		memcpy(dst.data(), data.data() + pos, dst.size());
		pos += dst.size();
		return kstd::ok();
	}
	kstd::Result<void> skip(size_t n) override
	{
		if (pos + n > data.size())
			return kstd::Err::Fault;
		pos += n;
		return kstd::ok();
	}
};

// Completions are delivered when the rig pumps (like a timer firing later).
class Scheduler final : public CompletionScheduler {
public:
	uint64_t requests = 0;
	uint64_t last_delay_ns = 0;
	void request_completion(uint64_t delay_ns) override
	{
		requests++;
		last_delay_ns = delay_ns;
	}
};

// The shim's wait for an in-flight SAVE. interrupt: a signal is pending; the
// next wait that may be interrupted is (the completion stays pending).
class Waiter final : public SaveWaiter {
public:
	SimVhca *sim = nullptr;
	bool interrupt = false;
	unsigned interruptible_waits = 0;
	unsigned uninterruptible_waits = 0;
	kstd::Result<void> wait_save_idle(SaveFile &, bool interruptible) override
	{
		(interruptible ? interruptible_waits : uninterruptible_waits)++;
		if (interrupt && interruptible && sim->completion_pending()) {
			interrupt = false;
			return kstd::Err::RestartSys;
		}
		if (sim->completion_pending())
			sim->deliver_completion();
		return kstd::ok();
	}
};

struct Side {
	Scheduler scheduler;
	Waiter waiter;
	kstd::Owned<SimVhca> sim;
	kstd::Owned<MigDevice> dev;
	kstd::Owned<SaveFile> save;	// the "fd" the shim would own
	kstd::Owned<ResumeFile> resume; // ditto

	static stream::CompatInfo compat_for(uint64_t identity)
	{
		stream::CompatInfo c;
		c.pci_vendor_id = 0x15b3;
		c.pci_device_id = 0x101e;
		c.fw_identity = identity;
		c.vhca_state_format = 1;
		return c;
	}

	kstd::Result<void> init(SimConfig cfg, uint64_t max_chunk = SaveFile::kMaxChunkSize,
				const ResumeLimits &resume_limits = {}, Observer *observer = nullptr)
	{
		cfg.scheduler = &scheduler;
		sim = TRY(SimVhca::create(cfg, kstd::AllocCtx::Sleepable));
		waiter.sim = sim.get();
		MigDevice::Config dc;
		dc.fw = sim.get();
		dc.waiter = &waiter;
		dc.compat = compat_for(cfg.identity);
		dc.max_chunk_size = max_chunk;
		dc.resume_limits = resume_limits;
		dc.observer = observer;
		dev = TRY(MigDevice::create(dc));
		return kstd::ok();
	}

	// Set state; adopt any file the arc opened, like the shim's fd.
	kstd::Result<void> go(MigState target)
	{
		auto opened = TRY(dev->set_state(target));
		if (opened.save) {
			drop_save();
			save = kstd::Owned<SaveFile>(opened.save);
		}
		if (opened.resume) {
			drop_resume();
			resume = kstd::Owned<ResumeFile>(opened.resume);
		}
		return kstd::ok();
	}

	void pump()
	{
		if (sim && sim->completion_pending())
			sim->deliver_completion();
	}

	// The fd is released: the device forgets the file, then it is destroyed.
	void drop_save()
	{
		if (!save)
			return;
		if (save->save_in_flight())
			pump();
		dev->forget(save.get());
		save.reset();
	}
	void drop_resume()
	{
		if (!resume)
			return;
		dev->forget(resume.get());
		resume.reset();
	}

	// Reads until the file has nothing more for now (precopy) or the end
	// (stop-copy), delivering completions as a blocked reader would get them.
	kstd::Result<size_t> drain(std::vector<uint8_t> &out, size_t read_size = 1 << 20)
	{
		size_t total = 0;
		for (int guard = 0; guard < 1000000; guard++) {
			VecUser u;
			auto r = save->read(u, read_size);
			if (r.is_ok()) {
				if (!r.value())
					return total; // EOF
				out.insert(out.end(), u.data.begin(), u.data.end());
				total += r.value();
				continue;
			}
			if (r.error() == kstd::Err::NoMsg)
				return total;
			if (r.error() != kstd::Err::Again)
				return r.error();
			if (!sim->completion_pending())
				return kstd::Err::TimedOut; // would block forever
			sim->deliver_completion();
		}
		return kstd::Err::TimedOut;
	}

	// Writes bytes[from, to) in segments of seg bytes.
	kstd::Result<void> feed(const std::vector<uint8_t> &bytes, size_t from, size_t to, size_t seg)
	{
		for (size_t off = from; off < to;) {
			const size_t n = std::min(seg, to - off);
			VecUser u;
			u.data.assign(bytes.begin() + off, bytes.begin() + off + n);
			auto r = dev->resume_write(*resume, u, n);
			if (r.is_error())
				return r.error();
			off += n;
		}
		return kstd::ok();
	}

	~Side()
	{
		drop_save();
		drop_resume();
		if (dev)
			dev->close_files();
		pump();
		dev.reset();
		sim.reset();
	}
};

inline SimConfig small_sim(uint64_t identity = 7, uint64_t seed = 1)
{
	SimConfig c;
	c.state_size = 64 * 1024;
	c.identity = identity;
	c.seed = seed;
	return c;
}

} // namespace rig

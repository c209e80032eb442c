// SPDX-License-Identifier: GPL-2.0-only
#include "sim_vhca.h"
#include "stream_format.h"

#include "kstd/bits.h"

#include "kstd/enforce.h"

namespace mlx5vf {
namespace {

// SAVE/LOAD/QUERY carry 32-bit sizes (upstream-mlx5.md §3.5).
constexpr uint64_t kMaxCommandSize = 0xffffffffu;
constexpr uint64_t kNsPerMs = 1000000;
// Keeps the activity stream independent of the power-on content stream.
constexpr uint64_t kActivityStream = 0xa5a5f00dcafe5eedULL;
// Most 64-bit words one simulated write touches.
constexpr uint64_t kMaxWordsPerWrite = 8;

// splitmix64: a full-period 64-bit generator in integer arithmetic only.
uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void clear_bits(kstd::OwnedArray<uint64_t> &bits)
{
	__builtin_memset(bits.data(), 0, bits.size() * sizeof(uint64_t));
}

SimImageKind image_kind(SaveKind kind)
{
	switch (kind) {
	case SaveKind::Full: return SimImageKind::Full;
	case SaveKind::Incremental: return SimImageKind::Incremental;
	case SaveKind::Cleanup: return SimImageKind::Cleanup;
	}
	return SimImageKind::Cleanup;
}

// Continue an FNV-1a hash over buffer bytes [offset, offset + size), through
// a small bounce area: DataBuffer only exposes copies.
kstd::Result<uint64_t> hash_buffer(const DataBuffer &buf, uint64_t offset, uint64_t size, uint64_t hash)
{
	uint8_t bounce[256];
	while (size) {
		const size_t n = static_cast<size_t>(kstd::min<uint64_t>(size, sizeof(bounce)));
		TRY(buf.read(offset, kstd::Bytes(bounce, n)));
		hash = fnv1a64(hash, bounce, n);
		offset += n;
		size -= n;
	}
	return hash;
}

kstd::Result<void> write_header(DataBuffer &buf, const SimImageHeader &h)
{
	uint8_t raw[kSimHeaderSize];
	sim_encode_header(h, raw);
	return buf.write(0, kstd::ConstBytes(raw, sizeof(raw)));
}

// The separately allocated pieces of one simulated buffer, like the pages of
// a real one: a copy that runs past a segment is caught by ASan/KASAN.
class SimSegments {
public:
	static kstd::Result<SimSegments> create(uint64_t size, uint32_t segment_size, kstd::AllocCtx ctx)
	{
		const uint64_t count = size / segment_size + (size % segment_size ? 1 : 0);
		SimSegments segs(TRY(kstd::OwnedArray<uint8_t *>::create(count, ctx)));
		for (uint64_t i = 0; i < count; i++) {
			const uint64_t len = kstd::min<uint64_t>(segment_size, size - i * segment_size);
			void *piece = ctx == kstd::AllocCtx::Sleepable ? mlx5vf_shim_alloc_large(len)
								       : kstd::alloc_bytes(len, ctx);
			segs.pieces_[i] = static_cast<uint8_t *>(piece);
			if (!segs.pieces_[i])
				return kstd::Err::NoMem; // ~SimSegments frees the ones made
		}
		return segs;
	}

	SimSegments(SimSegments &&) = default;
	SimSegments &operator=(SimSegments &&) = delete;
	~SimSegments()
	{
		for (size_t i = 0; i < pieces_.size(); i++)
			mlx5vf_shim_free(pieces_[i]);
	}

	uint8_t *const *data() const { return pieces_.data(); }
	uint32_t count() const { return static_cast<uint32_t>(pieces_.size()); }

private:
	explicit SimSegments(kstd::OwnedArray<uint8_t *> pieces) : pieces_(kstd::move(pieces)) {}

	kstd::OwnedArray<uint8_t *> pieces_; // zeroed at creation: null until allocated
};

// A DataBuffer whose backend() is the SimVhca that made it.
class SimBuffer final : public DataBuffer {
public:
	SimBuffer(DmaDir dir, uint64_t capacity, SimSegments segments, uint32_t segment_size, uint32_t fw_key,
		  SimVhca *owner)
	    : DataBuffer(dir, capacity, segments.data(), segments.count(), segment_size, fw_key, owner),
	      segments_(kstd::move(segments))
	{
	}

private:
	SimSegments segments_; // same pointer array the DataBuffer base walks
};

} // namespace

// Flattened: with GCC 12 an out-of-line COMDAT copy of a kstd template that
// another object instantiates too breaks the module's link (its
// __patchable_function_entries are not grouped with the COMDAT, so they keep
// pointing at the copy the linker discards). Everything create() calls is
// inlined here instead.
[[gnu::flatten]] kstd::Result<kstd::Owned<SimVhca>> SimVhca::create(const SimConfig &cfg, kstd::AllocCtx ctx)
{
	const uint32_t page = cfg.track_page_size;
	if (!cfg.scheduler || !cfg.segment_size || page < sizeof(uint64_t) || !kstd::is_pow2(page) ||
	    !cfg.state_size || cfg.state_size % page || cfg.configured_size % page ||
	    cfg.configured_size > cfg.state_size)
		return kstd::Err::Invalid;
	const TrackCaps &tc = cfg.track_caps;
	if (tc.max_ranges && (tc.log_min_page_size < 12 || tc.log_min_page_size > tc.log_max_page_size ||
			      tc.log_max_page_size > 30 || tc.log_min_addr_space > tc.log_max_addr_space ||
			      tc.log_max_addr_space > 63))
		return kstd::Err::Invalid;
	if (cfg.chunk_mode) {
		if (cfg.max_chunk < uint64_t{kSimHeaderSize} + kSimPageIndexSize + page)
			return kstd::Err::Invalid;
	} else if (cfg.state_size > kMaxCommandSize - kSimHeaderSize) {
		return kstd::Err::Invalid; // a full image must fit one 32-bit SAVE
	}

	const uint64_t pages = cfg.state_size / page;
	const uint64_t bitmap_words = pages / 64 + (pages % 64 ? 1 : 0);
	auto state = TRY(kstd::OwnedArray<uint8_t>::create(cfg.state_size, ctx));
	auto dirty = TRY(kstd::OwnedArray<uint64_t>::create(bitmap_words, ctx));
	auto pending = TRY(kstd::OwnedArray<uint64_t>::create(bitmap_words, ctx));
	return kstd::make<SimVhca>(ctx, CreateKey{}, cfg, kstd::move(state), kstd::move(dirty),
				   kstd::move(pending));
}

SimVhca::SimVhca(CreateKey, const SimConfig &cfg, kstd::OwnedArray<uint8_t> state,
		 kstd::OwnedArray<uint64_t> dirty, kstd::OwnedArray<uint64_t> pending)
    : cfg_(cfg), page_count_(cfg.state_size / cfg.track_page_size),
      record_size_(uint64_t{kSimPageIndexSize} + cfg.track_page_size), state_(kstd::move(state)),
      dirty_(kstd::move(dirty)), pending_(kstd::move(pending)), activity_rng_(cfg.seed ^ kActivityStream),
      tracker_(cfg.track_caps)
{
	fill_power_on_state();
}

FwCaps SimVhca::caps() const
{
	FwCaps caps;
	caps.precopy = true;
	caps.chunk_mode = cfg_.chunk_mode;
	caps.migration_state = cfg_.migration_state;
	caps.max_image_size = static_cast<uint32_t>(kMaxCommandSize);
	return caps;
}

// Counts one command of kind op; true when an armed fault fires on it.
bool SimVhca::take_fault(SimOp op, SimFault *fault)
{
	const unsigned i = static_cast<unsigned>(op);
	counts_[i]++;
	ArmedFault &armed = faults_[i];
	if (!armed.countdown || --armed.countdown)
		return false;
	*fault = armed.fault;
	return true;
}

kstd::Result<void> SimVhca::inject_fault(SimOp op, uint32_t nth, SimFault fault)
{
	const unsigned i = static_cast<unsigned>(op);
	const bool save_fault = fault == SimFault::SaveCompleteError || fault == SimFault::BadResourceState ||
				fault == SimFault::ShortImage || fault == SimFault::ForcedTimeout;
	if (!nth || i >= kSimOpCount || (save_fault && op != SimOp::Save) ||
	    (fault == SimFault::LoseDirty && op != SimOp::TrackReport))
		return kstd::Err::Invalid;
	faults_[i] = ArmedFault{nth, fault};
	return kstd::ok();
}

uint64_t SimVhca::next_random()
{
	return splitmix64(&activity_rng_);
}

// The power-on configuration: the configured pages hold seeded content, the
// rest is zero; the configuration register says how many are configured.
void SimVhca::fill_power_on_state()
{
	const uint64_t configured = cfg_.configured_size ? cfg_.configured_size : cfg_.state_size;
	uint64_t rng = cfg_.seed;
	for (size_t i = 0; i < state_.size(); i += sizeof(uint64_t)) {
		const uint64_t word = splitmix64(&rng);
		kstd::store_le64(state_.data() + i, i < configured ? word : 0);
	}
	set_configured_pages(configured / cfg_.track_page_size);
}

void SimVhca::set_configured_pages(uint64_t pages)
{
	kstd::store_le64(state_.data(), pages);
}

uint64_t SimVhca::configured_pages() const
{
	// Whatever an image loaded there, the function uses a sane prefix.
	const uint64_t pages = kstd::load_le64(state_.data());
	return pages < 1 ? 1 : pages > page_count_ ? page_count_ : pages;
}

kstd::Result<void> SimVhca::write_state(uint64_t offset, uint64_t len, uint8_t value)
{
	if (!len)
		return kstd::Err::Invalid;
	const uint64_t end = configured_pages() * cfg_.track_page_size;
	if (offset < sizeof(uint64_t) || offset > end || len > end - offset)
		return kstd::Err::Range;
	if (responder_suspended_)
		return kstd::Err::Again;
	for (uint64_t at = offset; at < offset + len; at++)
		state_[at] = value;
	if (tracking_) {
		for (uint64_t page = offset / cfg_.track_page_size;
		     page <= (offset + len - 1) / cfg_.track_page_size; page++)
			mark_dirty(page);
	}
	if (initiator_suspended_)
		incoming_writes_++;
	else
		internal_writes_++;
	return kstd::ok();
}

kstd::Result<uint64_t> SimVhca::reconfigure(uint64_t pages)
{
	if (!pages)
		return kstd::Err::Invalid;
	if (responder_suspended_)
		return kstd::Err::Again;
	const uint64_t have = configured_pages();
	if (have == page_count_)
		return kstd::Err::NoSpc;
	const uint64_t add = kstd::min(pages, page_count_ - have);
	for (uint64_t page = have; page < have + add; page++) {
		uint8_t *at = state_.data() + page * cfg_.track_page_size;
		for (uint64_t off = 0; off < cfg_.track_page_size; off += sizeof(uint64_t))
			kstd::store_le64(at + off, next_random());
		if (tracking_)
			mark_dirty(page);
	}
	set_configured_pages(have + add);
	if (tracking_) {
		mark_dirty(0); // the configuration register
		new_init_ = true;
	}
	return add;
}

VhcaMigState SimVhca::migration_state() const
{
	if (!cfg_.migration_state)
		return VhcaMigState::Uninitialized; // the firmware does not report it
	if (!tracking_)
		return VhcaMigState::Idle;
	if (new_init_)
		return VhcaMigState::Init;
	return dirty_count_ ? VhcaMigState::Dirty : VhcaMigState::Ready;
}

void SimVhca::lose_tracking()
{
	abandon_image();
	drop_tracking();
}

void SimVhca::mark_dirty(uint64_t page)
{
	uint64_t &word = dirty_[page / 64];
	const uint64_t bit = uint64_t{1} << (page % 64);
	if (!(word & bit)) {
		word |= bit;
		dirty_count_++;
	}
}

void SimVhca::drop_tracking()
{
	tracking_ = false;
	new_init_ = false;
	clear_bits(dirty_);
	dirty_count_ = 0;
}

void SimVhca::abandon_image()
{
	image_ = ImageCursor{};
	clear_bits(pending_);
	pending_count_ = 0;
	pending_scan_ = 0;
}

kstd::Result<uint64_t> SimVhca::take_pending_page()
{
	// Precondition: pending_count_ > 0, so a set bit lies ahead.
	for (uint64_t w = pending_scan_ / 64;; w++) {
		if (w >= pending_.size()) {
			mlx5vf_shim_warn("SimVhca: pending page count disagrees with its bitmap");
			pending_count_ = 0;
			return kstd::Err::Io;
		}
		if (!pending_[w])
			continue;
		const uint64_t page = w * 64 + static_cast<uint64_t>(__builtin_ctzll(pending_[w]));
		pending_[w] &= pending_[w] - 1;
		pending_count_--;
		pending_scan_ = page;
		return page;
	}
}

uint32_t SimVhca::run_activity(uint32_t writes)
{
	if (responder_suspended_)
		return 0; // fully quiesced: nothing reaches the state
	const uint64_t words_per_page = cfg_.track_page_size / sizeof(uint64_t);
	const uint64_t configured = configured_pages();
	for (uint32_t n = 0; n < writes; n++) {
		const uint64_t page = next_random() % configured;
		uint64_t first = next_random() % words_per_page;
		// Activity never rewrites the configuration register.
		if (page == 0 && first == 0) {
			if (words_per_page == 1)
				continue;
			first = 1;
		}
		const uint64_t words =
			1 + next_random() % kstd::min(kMaxWordsPerWrite, words_per_page - first);
		uint8_t *at = state_.data() + page * cfg_.track_page_size + first * sizeof(uint64_t);
		for (uint64_t w = 0; w < words; w++)
			kstd::store_le64(at + w * sizeof(uint64_t), next_random());
		if (tracking_)
			mark_dirty(page);
	}
	// Internal activity while the function initiates; with the initiator
	// suspended only peers' writes to it (responder side) still land.
	if (initiator_suspended_)
		incoming_writes_ += writes;
	else
		internal_writes_ += writes;
	return writes;
}

uint64_t SimVhca::state_checksum() const
{
	return fnv1a64(kFnv1a64Offset, state_.data(), state_.size());
}

bool SimVhca::continuing(SimImageKind kind) const
{
	return image_.active && image_.kind == kind;
}

// The one SAVE that continues a chunked image: incremental, no tracking,
// whatever the image's first SAVE was (firmware-contract.rst, "Chunks").
bool SimVhca::continues_image(const SaveRequest &req) const
{
	return image_.active && req.kind == SaveKind::Incremental && !req.track;
}

// Bytes a save of this kind would still write for its image, in chunks of at
// most chunk_cap (0: unchunked); cont: the rest of the image in progress.
kstd::Result<uint64_t> SimVhca::image_bytes(SimImageKind kind, uint64_t chunk_cap, bool cont) const
{
	switch (kind) {
	case SimImageKind::Full: {
		const uint64_t done = cont ? image_.next_offset : 0;
		return sim_full_image_size(cfg_.state_size - done, chunk_cap);
	}
	case SimImageKind::Incremental:
		return sim_incremental_image_size(cont ? pending_count_ : dirty_count_, cfg_.track_page_size,
						  chunk_cap);
	case SimImageKind::Cleanup: return uint64_t{kSimHeaderSize};
	}
	return kstd::Err::Invalid;
}

kstd::Result<StateSize> SimVhca::query_state(const QueryFlags &flags)
{
	SimFault fault = SimFault::Error;
	if (take_fault(SimOp::Query, &fault))
		return kstd::Err::Io;
	if (flags.chunk && !cfg_.chunk_mode)
		return kstd::Err::OpNotSupp;
	// The chunk bit follows migration_in_chunks on every query: a query
	// without it would size an unchunked image the driver never saves.
	if (flags.chunk != cfg_.chunk_mode)
		return kstd::Err::Invalid;
	// Upstream takes save_comp for INC (and INC|CLEANUP) queries only.
	if ((flags.incremental || flags.cleanup) && completion_pending())
		return kstd::Err::Busy;
	const SimImageKind kind = flags.cleanup	      ? SimImageKind::Cleanup
				  : flags.incremental ? SimImageKind::Incremental
						      : SimImageKind::Full;
	// Both are incremental=1 on the wire, which an untracked VHCA refuses.
	if (kind != SimImageKind::Full && !tracking_)
		return kstd::Err::Invalid;
	// A full query sizes the new image a full SAVE would start, even with
	// an image left unfinished (rule 11).
	const bool cont = kind != SimImageKind::Full && continuing(kind);

	StateSize size;
	size.state = migration_state();
	if (flags.chunk) {
		size.remaining_total = TRY(image_bytes(kind, cfg_.max_chunk, cont));
		size.required =
			static_cast<uint32_t>(kstd::min<uint64_t>(cfg_.max_chunk, size.remaining_total));
	} else {
		const uint64_t total = TRY(image_bytes(kind, 0, cont));
		if (total > kMaxCommandSize)
			return kstd::Err::Overflow;
		size.required = static_cast<uint32_t>(total);
		size.remaining_total = total;
	}
	return size;
}

kstd::Result<void> SimVhca::suspend(VhcaSide side)
{
	SimFault fault = SimFault::Error;
	if (take_fault(SimOp::Suspend, &fault))
		return kstd::Err::Io;
	if (completion_pending())
		return kstd::Err::Busy; // upstream waits on save_comp before SUSPEND
	if (side == VhcaSide::Initiator) {
		if (initiator_suspended_)
			return kstd::Err::Invalid;
		initiator_suspended_ = true;
	} else {
		if (!initiator_suspended_ || responder_suspended_)
			return kstd::Err::Invalid;
		responder_suspended_ = true;
	}
	return kstd::ok();
}

kstd::Result<void> SimVhca::resume(VhcaSide side)
{
	SimFault fault = SimFault::Error;
	if (take_fault(SimOp::Resume, &fault))
		return kstd::Err::Io;
	if (side == VhcaSide::Responder) {
		if (!responder_suspended_)
			return kstd::Err::Invalid;
		// Half a full image is no state to run from: the destination of
		// a migration cut between chunks must not start.
		if (full_load_active_) {
			last_load_error_ = SimLoadError::Truncated;
			return kstd::Err::Io;
		}
		responder_suspended_ = false;
	} else {
		if (!initiator_suspended_ || responder_suspended_)
			return kstd::Err::Invalid;
		initiator_suspended_ = false;
	}
	return kstd::ok();
}

// The smallest buffer this save accepts. Mostly what query_state() reports as
// `required` now; but an incremental image that keeps tracking may be clipped
// to the buffer (what does not fit stays dirty or pending), because a running
// function keeps dirtying pages between the caller's query and its save.
kstd::Result<void> SimVhca::check_save_room(const SaveRequest &req, uint64_t capacity, bool cont) const
{
	const SimImageKind kind = cont ? image_.kind : image_kind(req.kind);
	uint64_t needed;
	if (kind == SimImageKind::Cleanup) {
		needed = kSimHeaderSize;
	} else if (kind == SimImageKind::Incremental && (cont ? tracking_ : req.track)) {
		const uint64_t pages = cont ? pending_count_ : dirty_count_;
		needed = kSimHeaderSize + (pages ? record_size_ : 0);
	} else if (cfg_.chunk_mode) {
		needed = kstd::min<uint64_t>(cfg_.max_chunk, TRY(image_bytes(kind, cfg_.max_chunk, cont)));
	} else {
		needed = TRY(image_bytes(kind, 0, cont));
	}
	return capacity < needed ? kstd::Err::NoSpc : kstd::ok();
}

SimImageHeader SimVhca::header_for(SimImageKind kind) const
{
	SimImageHeader h;
	h.kind = kind;
	h.identity = cfg_.identity;
	h.state_size = cfg_.state_size;
	h.page_size = cfg_.track_page_size;
	return h;
}

// A new image: a full one is the new tracking baseline; an incremental one
// takes the dirty set as its pending pages and starts a fresh dirty set.
void SimVhca::start_image(const SaveRequest &req)
{
	// The new image captures every page a reconfiguration added.
	new_init_ = false;
	// A new image replaces one still open: its chunks left are never saved.
	abandon_image();
	image_.active = true;
	image_.kind = image_kind(req.kind);
	if (image_.kind == SimImageKind::Incremental) {
		// pending_ is empty here (no incremental image in progress).
		kstd::OwnedArray<uint64_t> emptied = kstd::move(pending_);
		pending_ = kstd::move(dirty_);
		dirty_ = kstd::move(emptied);
		pending_count_ = kstd::exchange(dirty_count_, 0);
		pending_scan_ = 0;
	} else {
		clear_bits(dirty_);
		dirty_count_ = 0;
	}
	tracking_ = req.track;
}

kstd::Result<uint32_t> SimVhca::write_full_chunk(DataBuffer &buf, uint64_t room)
{
	const uint64_t offset = image_.next_offset;
	const uint64_t len = kstd::min(room - kSimHeaderSize, cfg_.state_size - offset);
	const uint8_t *payload = state_.data() + offset;
	SimImageHeader h = header_for(SimImageKind::Full);
	h.chunk_index = image_.next_chunk;
	h.offset = offset;
	h.payload_size = len;
	h.payload_checksum = fnv1a64(kFnv1a64Offset, payload, len);
	if (offset + len == cfg_.state_size)
		h.flags |= kSimChunkLast;
	TRY(write_header(buf, h));
	TRY(buf.write(kSimHeaderSize, kstd::ConstBytes(payload, len)));
	image_.next_offset = offset + len;
	return static_cast<uint32_t>(kSimHeaderSize + len);
}

kstd::Result<uint32_t> SimVhca::write_incremental_chunk(DataBuffer &buf, uint64_t room)
{
	const uint64_t max_records = (room - kSimHeaderSize) / record_size_;
	uint64_t hash = kFnv1a64Offset;
	uint64_t at = kSimHeaderSize;
	for (uint64_t n = 0; n < max_records && pending_count_; n++) {
		const uint64_t page = TRY(take_pending_page());
		uint8_t index[kSimPageIndexSize];
		kstd::store_le64(index, page);
		const kstd::ConstBytes bytes(state_.data() + page * cfg_.track_page_size,
					     cfg_.track_page_size);
		hash = fnv1a64(fnv1a64(hash, index, sizeof(index)), bytes.data(), bytes.size());
		TRY(buf.write(at, kstd::ConstBytes(index, sizeof(index))));
		TRY(buf.write(at + sizeof(index), bytes));
		at += record_size_;
	}
	SimImageHeader h = header_for(SimImageKind::Incremental);
	h.chunk_index = image_.next_chunk;
	h.payload_size = at - kSimHeaderSize;
	h.payload_checksum = hash;
	// Unchunked, the image ends here even if clipped: the rest goes back
	// to the dirty set.
	if (!pending_count_ || !cfg_.chunk_mode)
		h.flags |= kSimChunkLast;
	TRY(write_header(buf, h));
	return static_cast<uint32_t>(at);
}

// Captures the next image (or chunk of it) into buf; the room checks passed.
kstd::Result<uint32_t> SimVhca::write_image(const SaveRequest &req, DataBuffer &buf, uint32_t *next_required,
					    bool cont)
{
	*next_required = 0;
	if (req.kind == SaveKind::Cleanup) {
		abandon_image();
		drop_tracking();
		TRY(write_header(buf, header_for(SimImageKind::Cleanup)));
		return kSimHeaderSize;
	}
	if (!cont)
		start_image(req);
	const SimImageKind kind = image_.kind;
	const uint64_t room = kstd::min(buf.capacity(), kMaxCommandSize);
	const uint32_t written = kind == SimImageKind::Full ? TRY(write_full_chunk(buf, room))
							    : TRY(write_incremental_chunk(buf, room));
	image_.next_chunk++;

	const bool more =
		kind == SimImageKind::Full ? image_.next_offset < cfg_.state_size : pending_count_ != 0;
	if (more && cfg_.chunk_mode) {
		const uint64_t rest = TRY(image_bytes(kind, cfg_.max_chunk, true));
		*next_required = static_cast<uint32_t>(kstd::min<uint64_t>(cfg_.max_chunk, rest));
		return written;
	}
	if (more) {
		// A clipped unchunked incremental: the pages left out are still
		// changes since this image, so they rejoin the dirty set.
		for (size_t w = 0; w < pending_.size(); w++)
			dirty_[w] |= pending_[w];
		dirty_count_ = 0;
		for (size_t w = 0; w < dirty_.size(); w++)
			dirty_count_ += kstd::popcount64(dirty_[w]);
	}
	abandon_image();
	return written;
}

kstd::Result<void> SimVhca::save(const SaveRequest &req, SaveCompletion &done)
{
	SimFault fault = SimFault::Error;
	const bool faulted = take_fault(SimOp::Save, &fault);
	if (faulted && fault == SimFault::Error)
		return kstd::Err::Io;
	if (completion_pending())
		return kstd::Err::Busy;
	DataBuffer *buf = req.buffer;
	if (!buf || buf->backend() != this || buf->dir() != DmaDir::FromDevice)
		return kstd::Err::Invalid;
	if (device_may_write(buf)) {
		mlx5vf_shim_warn("SimVhca: SAVE into a buffer the device may still write (timed out)");
		return kstd::Err::Invalid;
	}
	const bool cont = continues_image(req);
	// set_track: only on a SAVE that starts an image, never on a cleanup,
	// never once the responder is suspended (upstream sets it in RUNNING_P2P
	// -> PRE_COPY_P2P, but never after SUSPEND responder).
	if (req.track && (responder_suspended_ || req.kind == SaveKind::Cleanup))
		return kstd::Err::Invalid;
	if (!cont && req.kind == SaveKind::Incremental) {
		// A delta needs tracking; and a new one while chunks of another
		// image remain is no command upstream issues.
		if (!tracking_ || image_.active)
			return kstd::Err::Invalid;
	}
	// On the wire a cleanup is an untracked full SAVE: only tracking
	// makes it a cleanup, otherwise it would start a new full image.
	if (req.kind == SaveKind::Cleanup && !tracking_)
		return kstd::Err::Invalid;
	TRY(check_save_room(req, buf->capacity(), cont));

	SaveResult result;
	if (faulted && fault == SimFault::SaveCompleteError) {
		result.status = FwStatus::Failed;
		result.syndrome = kSimSaveSyndrome;
	} else if (faulted && fault == SimFault::ForcedTimeout) {
		// The command interface gave up; whether the device goes on
		// writing is unknown (firmware-contract.rst, rule 16): it does
		// here, tracking included, but the result is lost.
		uint32_t lost_next = 0;
		if (write_image(req, *buf, &lost_next, cont).is_error())
			abandon_image();
		result.status = FwStatus::TimedOut;
		for (const DataBuffer *&slot : may_write_) {
			if (!slot) {
				slot = buf;
				break;
			}
		}
	} else if (faulted && fault == SimFault::BadResourceState) {
		lose_tracking();
		result.status = FwStatus::BadResourceState;
	} else {
		result.image_size = TRY(write_image(req, *buf, &result.next_required, cont));
		if (faulted && fault == SimFault::ShortImage)
			result.image_size--;
	}

	completion_.done = &done;
	completion_.buffer = buf;
	completion_.result = result;
	cfg_.scheduler->request_completion(completion_delay_ns(result.image_size));
	return kstd::ok();
}

uint64_t SimVhca::completion_delay_ns(uint64_t image_bytes) const
{
	uint64_t transfer = 0;
	if (cfg_.bandwidth_bytes_per_ms) {
		uint64_t scaled;
		if (kstd::mul_overflows<uint64_t>(image_bytes, kNsPerMs, &scaled))
			return ~uint64_t{0};
		transfer = scaled / cfg_.bandwidth_bytes_per_ms;
	}
	uint64_t delay;
	if (kstd::add_overflows<uint64_t>(cfg_.latency_ns, transfer, &delay))
		return ~uint64_t{0};
	return delay;
}

void SimVhca::deliver_completion()
{
	if (!completion_.done)
		return; // a stale timer after the completion was delivered
	SaveCompletion *done = completion_.done;
	const SaveResult result = completion_.result;
	completion_ = PendingCompletion{};
	done->save_done(result); // last: the callback may submit the next save
}

kstd::Result<void> SimVhca::reject_load(SimLoadError why)
{
	last_load_error_ = why;
	return kstd::Err::Io;
}

// Structure of a payload whose size matches the header, before any hashing.
SimLoadError SimVhca::check_image_order(const SimImageHeader &h) const
{
	switch (h.kind) {
	case SimImageKind::Full: {
		const uint64_t size = cfg_.state_size;
		if (!h.payload_size || h.offset > size || h.payload_size > size - h.offset)
			return SimLoadError::Corrupt;
		if (!(h.flags & kSimChunkLast) != (h.offset + h.payload_size < size))
			return SimLoadError::Corrupt;
		if (h.offset && (!full_load_active_ || h.offset != full_load_next_offset_))
			return SimLoadError::OutOfOrder;
		return SimLoadError::None;
	}
	case SimImageKind::Incremental:
		if (h.offset || h.payload_size % record_size_)
			return SimLoadError::Corrupt;
		return have_base_ ? SimLoadError::None : SimLoadError::NoBase;
	case SimImageKind::Cleanup:
		return h.offset || h.payload_size ? SimLoadError::Corrupt : SimLoadError::None;
	}
	return SimLoadError::Corrupt;
}

kstd::Result<SimLoadError> SimVhca::check_payload(const DataBuffer &buf, const SimImageHeader &h) const
{
	const uint64_t end = kSimHeaderSize + h.payload_size;
	uint64_t hash = kFnv1a64Offset;
	if (h.kind == SimImageKind::Incremental) {
		for (uint64_t at = kSimHeaderSize; at < end; at += record_size_) {
			uint8_t index[kSimPageIndexSize];
			TRY(buf.read(at, kstd::Bytes(index, sizeof(index))));
			if (kstd::load_le64(index) >= page_count_)
				return SimLoadError::Corrupt;
			hash = fnv1a64(hash, index, sizeof(index));
			hash = TRY(hash_buffer(buf, at + sizeof(index), cfg_.track_page_size, hash));
		}
	} else {
		hash = TRY(hash_buffer(buf, kSimHeaderSize, h.payload_size, hash));
	}
	return hash == h.payload_checksum ? SimLoadError::None : SimLoadError::Corrupt;
}

kstd::Result<void> SimVhca::apply_image(const DataBuffer &buf, const SimImageHeader &h)
{
	switch (h.kind) {
	case SimImageKind::Full:
		TRY(buf.read(kSimHeaderSize, kstd::Bytes(state_.data() + h.offset, h.payload_size)));
		if (!h.offset)
			have_base_ = false; // a new base replaces the old one once complete
		full_load_active_ = !(h.flags & kSimChunkLast);
		full_load_next_offset_ = h.offset + h.payload_size;
		if (h.flags & kSimChunkLast)
			have_base_ = true;
		break;
	case SimImageKind::Incremental:
		for (uint64_t at = kSimHeaderSize; at < kSimHeaderSize + h.payload_size; at += record_size_) {
			uint8_t index[kSimPageIndexSize];
			TRY(buf.read(at, kstd::Bytes(index, sizeof(index))));
			uint8_t *page = state_.data() + kstd::load_le64(index) * cfg_.track_page_size;
			TRY(buf.read(at + sizeof(index), kstd::Bytes(page, cfg_.track_page_size)));
		}
		break;
	case SimImageKind::Cleanup: break;
	}
	return kstd::ok();
}

kstd::Result<void> SimVhca::load(DataBuffer &buf, uint32_t size)
{
	last_load_error_ = SimLoadError::None;
	SimFault fault = SimFault::Error;
	if (take_fault(SimOp::Load, &fault))
		return reject_load(SimLoadError::Injected);
	if (buf.backend() != this || buf.dir() != DmaDir::ToDevice || size > buf.capacity()) {
		last_load_error_ = SimLoadError::BadParameter;
		return kstd::Err::Invalid;
	}
	// Real firmware refuses LOAD unless suspended as initiator and responder.
	if (!responder_suspended_) {
		last_load_error_ = SimLoadError::NotSuspended;
		return kstd::Err::Invalid;
	}
	if (size < kSimHeaderSize)
		return reject_load(SimLoadError::Truncated);

	uint8_t raw[kSimHeaderSize];
	TRY(buf.read(0, kstd::Bytes(raw, sizeof(raw))));
	SimImageHeader h;
	SimLoadError why = sim_decode_header(raw, &h);
	if (why != SimLoadError::None)
		return reject_load(why);
	// The simulated state format is the same in every build of a firmware
	// line, so only another line is foreign: refusing another build is the
	// driver's COMPAT check's job (stream_format.h), which an operator may
	// waive, and the simulator lets that choice be tested.
	if (stream::fw_identity_line(h.identity) != stream::fw_identity_line(cfg_.identity))
		return reject_load(SimLoadError::Foreign);
	if (h.state_size != cfg_.state_size || h.page_size != cfg_.track_page_size)
		return reject_load(SimLoadError::Incompatible);
	if (h.payload_size > size - kSimHeaderSize)
		return reject_load(SimLoadError::Truncated);
	if (h.payload_size < size - kSimHeaderSize)
		return reject_load(SimLoadError::Corrupt); // trailing bytes
	why = check_image_order(h);
	if (why == SimLoadError::None)
		why = TRY(check_payload(buf, h));
	if (why != SimLoadError::None)
		return reject_load(why);
	// Validated completely before the first byte lands: a refused image
	// leaves the state as it was.
	return apply_image(buf, h);
}

kstd::Result<DataBuffer *> SimVhca::alloc_buffer(uint64_t size, DmaDir dir, kstd::AllocCtx ctx)
{
	SimFault fault = SimFault::Error;
	if (take_fault(SimOp::Alloc, &fault))
		return kstd::Err::Io;
	if (!size || size > kMaxCommandSize)
		return kstd::Err::Invalid;
	auto segments = TRY(SimSegments::create(size, cfg_.segment_size, ctx));
	auto buffer = TRY(kstd::make<SimBuffer>(ctx, dir, size, kstd::move(segments), cfg_.segment_size,
						next_fw_key_, this));
	next_fw_key_++;
	live_buffers_++;
	return static_cast<DataBuffer *>(buffer.release());
}

void SimVhca::free_buffer(DataBuffer *buf)
{
	if (!buf)
		return;
	// Caller bugs: report and leak rather than free memory still in use.
	const char *bug = buf->backend() != this			  ? "buffer of another backend"
			  : buf->linked()				  ? "buffer still on a list"
			  : completion_.done && completion_.buffer == buf ? "buffer of an in-flight save"
									  : nullptr;
	if (bug) {
		mlx5vf_shim_warn(bug);
		return;
	}
	live_buffers_--;
	for (const DataBuffer *&slot : may_write_) {
		if (slot == buf) {
			// The device may still write it: it stays the device's.
			slot = nullptr;
			kept_.push_back(*buf);
			kept_count_++;
			return;
		}
	}
	kstd::Owned<SimBuffer> owned(static_cast<SimBuffer *>(buf));
}

bool SimVhca::device_may_write(const DataBuffer *buf) const
{
	for (const DataBuffer *slot : may_write_)
		if (slot == buf)
			return true;
	return false;
}

// The device is gone with it: nothing writes the kept buffers any more.
SimVhca::~SimVhca()
{
	while (DataBuffer *buf = kept_.pop_front())
		kstd::Owned<SimBuffer> owned(static_cast<SimBuffer *>(buf));
}

void SimVhca::function_reset()
{
	initiator_suspended_ = false;
	responder_suspended_ = false;
	abandon_image();
	drop_tracking();
	have_base_ = false;
	full_load_active_ = false;
	full_load_next_offset_ = 0;
	fill_power_on_state();
	if (completion_.done)
		completion_.result = SaveResult{FwStatus::Failed, 0, 0};
}

kstd::Result<void> SimVhca::track_start(const TrackRequest &req)
{
	SimFault fault;
	if (take_fault(SimOp::TrackStart, &fault))
		return kstd::Err::Io;
	losing_dirty_ = false;
	return tracker_.start(req);
}

kstd::Result<void> SimVhca::track_report(uint64_t iova, uint64_t length, DirtySink &sink)
{
	SimFault fault;
	const bool faulted = take_fault(SimOp::TrackReport, &fault);
	if (faulted && fault == SimFault::Error)
		return kstd::Err::Io;
	if (faulted && fault == SimFault::LoseDirty)
		losing_dirty_ = true;
	return tracker_.report(iova, length, sink, losing_dirty_);
}

kstd::Result<uint64_t> SimVhca::next_dma(uint64_t window, uint64_t window_len, kstd::Bytes buf)
{
	const uint64_t len = buf.size();
	uint64_t end;

	if (!len || !kstd::is_pow2(len) || len < 2 * sizeof(uint64_t) || window & (len - 1) ||
	    window_len < len || kstd::add_overflows(window, window_len, &end))
		return kstd::Err::Invalid;
	if (initiator_suspended_)
		return kstd::Err::Again; // a suspended initiator issues no DMA
	const uint64_t slots = window_len / len;
	const uint64_t iova = window + (next_random() % slots) * len;
	// Fresh content every time: a sequence number and the address, repeated.
	dma_seq_++;
	for (uint64_t off = 0; off + 2 * sizeof(uint64_t) <= len; off += 2 * sizeof(uint64_t)) {
		kstd::store_le64(buf.data() + off, dma_seq_);
		kstd::store_le64(buf.data() + off + sizeof(uint64_t), iova + off);
	}
	dma_writes_++;
	return iova;
}

} // namespace mlx5vf

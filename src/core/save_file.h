// SPDX-License-Identifier: GPL-2.0-only
// SaveFile: the saving side of a migration (the data_fd returned for
// PRE_COPY, PRE_COPY_P2P and STOP_COPY).
//
// It turns firmware SAVEs into the outgoing stream:
//   [COMPAT][STOP_COPY_SIZE][FW_DATA initial image][FW_DATA delta]...[FW_DATA final chunk]...
// and hands it to the reader in order. Everything the stop-copy phase needs
// (record slots, chunk buffers) is allocated when the file is created, so the
// downtime path allocates nothing unless the device's final image outgrows
// what precopy predicted.
//
// Contexts and locks (the shim owns the locks; the core only states needs):
//  - save_done() runs in the firmware's completion context (maybe atomic). It
//    only publishes the result; the next process-context call integrates it.
//  - readable(), save_in_flight() are lock-free, for poll() and wait queues.
//  - every other method needs the file's lock (sleepable), and the methods
//    that arcs call need the device's state lock too.
#pragma once

#include "firmware.h"
#include "kstd/alloc.h"
#include "kstd/list.h"
#include "mig_stats.h"
#include "stream_format.h"

namespace mlx5vf {

// struct vfio_precopy_info's output flag (VFIO_PRECOPY_INFO_REINIT).
inline constexpr uint32_t kPrecopyReinit = MLX5VF_PRECOPY_INFO_REINIT;

struct PrecopyInfo {
	uint32_t flags = 0; // kPrecopyReinit; only ever set when v2 reporting is on
	uint64_t initial_bytes = 0;
	uint64_t dirty_bytes = 0;
};

class SaveFile final : public SaveCompletion {
public:
	enum class Mode : uint8_t { PreCopy, StopCopy };

	// Bounds the stop-copy chunk (and so the memory of a chunked final image:
	// two chunks in flight at most).
	static constexpr uint64_t kMaxChunkSize = 8ull << 20;
	static constexpr uint32_t kChunkBuffers = 2;

	struct Config {
		Firmware *fw = nullptr;
		stream::CompatInfo compat;
		Mode mode = Mode::PreCopy;
		void *owner = nullptr;			 // the shim's file: each SAVE request carries it
		uint64_t max_chunk_size = kMaxChunkSize; // tests shrink it
		MigStats *stats = nullptr;		 // the device's counters, or none
	};

	// Queries the firmware, allocates every buffer and record slot, queues
	// COMPAT and STOP_COPY_SIZE and submits the first SAVE. Process context.
	static kstd::Result<kstd::Owned<SaveFile>> create(const Config &cfg);
	~SaveFile();

	// Copies up to len stream bytes to user. Returns the bytes copied, 0 at the
	// end of the stream (stop-copy complete and drained), Err::NoMsg when a
	// precopy has nothing more for now, Err::Again when data is on its way
	// (the shim blocks or returns EAGAIN), Err::NoDev once the file is broken
	// or closed, Err::Fault from user copies.
	kstd::Result<size_t> read(UserIo &user, size_t len);

	// VFIO_MIG_GET_PRECOPY_INFO. device_running: PRE_COPY (the device can be
	// asked for an estimate and a new delta) rather than PRE_COPY_P2P. Starts
	// the next incremental SAVE once the reader has drained the queue.
	//
	// v2: userspace opted in to VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (the
	// shim knows; it passes the fact down). Then, when the firmware reports
	// new initial state (VhcaMigState::Init from an incremental query in
	// PRE_COPY, FwCaps::migration_state), the answer carries kPrecopyReinit:
	// every unread byte plus the new init image count as initial bytes (and
	// count down as they are read), dirty bytes restart from zero after them,
	// and the tracked incremental SAVE of the new state starts at once, even
	// with data still queued (it waits for a free buffer). Without v2 flags
	// stay 0 and new initial state reaches the reader as dirty bytes.
	kstd::Result<PrecopyInfo> precopy_info(bool device_running, bool v2 = false);

	// Arc PRE_COPY_P2P -> STOP_COPY, after the device was fully suspended and
	// no save is in flight: submits the final SAVE (a delta while tracking
	// holds, else a full image).
	kstd::Result<void> start_final_save();

	// True while the firmware tracks changes for this file. Only tracking
	// needs a cleanup SAVE: an image with chunks left needs none, the next
	// image's first (full) SAVE starts over (firmware-contract.rst).
	bool needs_fw_cleanup() const { return tracking_; }
	// The file is about to close: take in a completion that has arrived
	// without starting anything new, so needs_fw_cleanup() is current.
	void quiesce();
	// Before closing a file that needs_fw_cleanup() (precopy abandoned), no
	// save in flight: a cleanup SAVE makes the firmware drop tracking (and
	// any unfinished image), so the next migration starts clean. Unread
	// data is discarded. The caller waits for it to complete
	// (save_in_flight()) before close().
	kstd::Result<void> start_cleanup_save();

	// Detach from the device: frees every buffer; later reads fail with
	// Err::NoDev. Idempotent. With a save still in flight (a backend that
	// broke its wait's promise) its buffers are never freed: the device may
	// still write them.
	void close();

	// Lock-free views for poll/wait queues in the shim.
	bool readable() const;
	bool save_in_flight() const;
	bool closed() const { return phase_ == Phase::Closed; }
	bool failed() const { return phase_ == Phase::Error; }

	// SaveCompletion: publish only (maybe atomic context).
	void save_done(const SaveResult &result) override;

	// For tests and debugfs.
	uint64_t stream_offset() const { return read_pos_; }
	uint64_t queued_bytes() const { return stream_end_ - read_pos_; }
	// Bytes the reader has yet to take before a final image would start:
	// what is queued, plus the rest of an initial image still being saved.
	uint64_t unread_bytes() const { return kstd::max(stream_end_ - read_pos_, initial_left()); }
	uint32_t saves_completed() const { return saves_completed_; }

private:
	// Phase of the stream; guarded by the file lock, read lock-free by readable().
	enum class Phase : uint8_t {
		PreCopy,      // device running, tracked SAVEs feed initial image + deltas
		PreCopyError, // tracking lost (bad resource state): final image is full
		StopCopy,     // final image being saved, possibly in chunks
		Complete,     // final image fully queued: EOF once drained
		Error,	      // a SAVE failed: reads fail with NoDev
		Closed,	      // detached from the device: reads fail with NoDev
	};

	// One record of the outgoing stream: 16 header bytes, then a payload that
	// is either inline (small records) or a firmware buffer (FW_DATA).
	struct Record : kstd::ListNode<> {
		static constexpr size_t kInlineMax = 64;
		uint8_t head[stream::kRecordHeaderSize + kInlineMax];
		uint32_t head_len = 0;	    // header + inline payload bytes
		DataBuffer *data = nullptr; // FW_DATA payload, or null
		uint64_t data_len = 0;
		uint64_t consumed = 0; // bytes of this record already read
		uint64_t size() const { return head_len + data_len; }
	};

	KSTD_FACTORY_ACCESS;
	explicit SaveFile(const Config &cfg);
	kstd::Result<size_t> read_records(UserIo &user, size_t len);
	void count_read(size_t n);
	kstd::Result<void> init();
	kstd::Result<void> queue_inline(kstd::Result<size_t> (*write)(kstd::Bytes, const SaveFile &));
	kstd::Result<DataBuffer *> take_buffer(uint64_t size);
	void return_buffer(DataBuffer *buf);
	void retire_buffer(DataBuffer *buf);
	void start_image(SaveKind kind, bool track, bool final, uint32_t first_need);
	// Initial bytes the reader has yet to take (PRECOPY_INFO).
	uint64_t initial_left() const;
	kstd::Result<void> pump_saves();
	kstd::Result<void> submit(uint32_t need);
	void collect();
	void integrate(const SaveResult &r);
	kstd::Result<void> queue_image(Record &rec, DataBuffer &buf, uint32_t image_size);
	kstd::Result<PrecopyInfo> start_reinit(const StateSize &est);
	void push(Record &rec);
	void drop_queue();
	void fail();

	Firmware &fw_;
	const stream::CompatInfo compat_;
	const Mode mode_;
	void *const owner_;
	const uint64_t max_chunk_size_;

	Phase phase_;
	bool tracking_ = false;	     // firmware tracks changes for a delta
	bool initial_done_ = false;  // the initial image is queued (or was lost)
	uint64_t initial_end_ = 0;   // stream offset where the initial bytes end
	uint64_t read_pos_ = 0;	     // stream offset of the next byte to read
	uint64_t stream_end_ = 0;    // stream offset after the last queued byte
	uint64_t last_estimate_ = 0; // last incremental size the device reported
	uint32_t saves_completed_ = 0;
	MigStats *stats_;	       // null once closed
	uint64_t stop_copy_start_ = 0; // observer's clock when the final image was asked for
	bool end_counted_ = false;     // stop_copy_to_end_ns recorded

	// The image being saved, possibly over several SAVEs (chunks). Its next
	// chunk waits for a free buffer when both hold unread data: that is the
	// reader's back-pressure on the firmware.
	struct Image {
		bool active = false;
		bool initial = false; // the precopy's first (full) image
		bool final = false;   // the stop-copy image: EOF follows it
		SaveKind kind = SaveKind::Full;
		bool track = false;	 // the first SAVE's set_track
		bool continuing = false; // chunks submitted: the next one continues
		uint32_t need = 0;	 // >0: next chunk to submit, with this many bytes
		uint32_t next_size = 0;	 // the firmware's last word on the next chunk's size
	} image_;
	bool final_requested_ = false; // start the final image once image_ ends
	bool abandoned_ = false;       // cleanup requested: no further SAVE but the cleanup

	// The single SAVE in flight: its buffer and reserved record.
	DataBuffer *inflight_buf_ = nullptr;
	Record *inflight_rec_ = nullptr;
	bool inflight_ = false;		// atomic: set at submit, cleared by collect()
	bool completion_ready_ = false; // atomic: save_done() published completion_
	SaveResult completion_;

	kstd::OwnedArray<Record> record_store_;
	kstd::List<Record> free_records_;
	kstd::List<Record> ready_;
	// Every SAVE lands in one of these, allocated at create(): two chunk
	// buffers in chunk mode, one image-sized buffer otherwise.
	DataBuffer *bufs_[kChunkBuffers] = {};
	bool buf_busy_[kChunkBuffers] = {};
};

} // namespace mlx5vf

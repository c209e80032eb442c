// SPDX-License-Identifier: GPL-2.0-only
// The resuming side's reader of the migration stream (format: stream_format.h).
//
// The VFIO uAPI lets userspace split the stream into write() calls anywhere,
// so the parser is an explicit state machine that keeps partial headers and
// payloads across calls: any segmentation of the same bytes produces the same
// sink events. It never allocates; what a record needs beyond its fixed
// buffers (the image) comes from the sink. It treats the stream as hostile:
// sizes are bounded before use, arithmetic cannot overflow, and the first
// error is latched.
//
// Rules (the in-tree reader's, made precise where it was loose):
//  - Every record: record_size <= kMaxLoadSize, else Err::Overflow (in-tree:
//    ENOMEM). Checked on the header, before the sink sees the record.
//  - FW_DATA (any flags): the sink prepares a buffer (begin_image), the
//    parser fills it piece by piece (image_space), end_image() issues the
//    record's one LOAD. A 0-byte image is legal and handed over like any
//    other (the in-tree reader would LOAD it too); it does not count as
//    device state for finish().
//  - STOP_COPY_SIZE (any flags), anywhere, any number of times: the in-tree
//    source sends one, first, but its reader accepts it anywhere and a hint
//    costs nothing to honour. The payload must hold at least the le64
//    (Err::BadMsg); bytes after it are skipped. The value reaches the sink
//    clamped to kMaxLoadSize, as in-tree.
//  - COMPAT (ours, any flags): at most once, and before the first FW_DATA
//    record (Err::BadMsg otherwise), so a destination decides compatibility
//    before it loads anything. Optional records (a STOP_COPY_SIZE hint, one we
//    do not know) may precede it: they are skippable wherever they stand, and
//    a source may put its hint first, as the in-tree one does. At most
//    kCompatPayloadMax bytes are kept; a longer payload's tail
//    is skipped and the sink's check then finds the length mismatch. A
//    stream without COMPAT (an in-tree source) is accepted.
//  - Unknown tag, OPTIONAL: skipped without being read, at any size up to
//    kMaxLoadSize. Unknown tag, mandatory: Err::ProtoNotSupp (in-tree:
//    EOPNOTSUPP): a well-formed stream in a format we do not speak, like an
//    incompatible COMPAT record. Flag bits other than OPTIONAL are ignored.
//  - finish() (the RESUMING -> STOP arc) accepts only a stream that ended
//    between records (Err::BadMsg: truncated) and loaded at least one
//    non-empty image (Err::NoMsg: an empty stream must not look like a
//    successful migration).
#pragma once

#include "stream_format.h"

namespace mlx5vf::stream {

// Receives the records the parser assembles, in stream order. Every call may
// fail; the parser then latches the sink's error. Lifetime: the sink outlives
// its parser. A begin_image() without its end_image() (truncated stream, or
// an error) means the buffer's contents are garbage; it stays the sink's.
class Sink {
public:
	// STOP_COPY_SIZE: the largest image the source expects to send at stop-copy
	// time, clamped to kMaxLoadSize, so the destination can prepare the buffer
	// during precopy. A failed preallocation should normally not fail the
	// stream (begin_image can still allocate), hence the choice to the sink.
	virtual kstd::Result<void> on_stop_copy_size(uint64_t bytes) = 0;
	// COMPAT payload (at most kCompatPayloadMax bytes, valid during the call
	// only); usually answered with check_compat().
	virtual kstd::Result<void> on_compat(kstd::ConstBytes payload) = 0;
	// An FW_DATA record of size bytes (<= kMaxLoadSize) begins: prepare a
	// buffer for it. Called on the record's header, before any image byte.
	virtual kstd::Result<void> begin_image(uint64_t size) = 0;
	// Writable bytes of the image buffer starting at image offset offset
	// (< size): any non-empty piece, typically up to the end of a page or
	// segment, so the buffer need not be virtually contiguous. The parser
	// asks for offsets in increasing order, each where the previous piece
	// ended, writes only inside the piece, and never more than the record's
	// size in total. An empty piece is a sink bug: Err::NoSpc.
	virtual kstd::Result<kstd::Bytes> image_space(uint64_t offset) = 0;
	// The image is complete in the buffer: issue its (one) LOAD.
	virtual kstd::Result<void> end_image() = 0;
	// Any record's header was read and its size accepted, before the
	// record's own callback (statistics, tracing). Any tag.
	virtual void on_record(const RecordHeader &header) { (void)header; }

protected:
	~Sink() = default; // not owned through this interface
};

enum class ParserState : uint8_t {
	// Between records (header_fill == 0) or inside a header: header_fill of
	// 16 bytes held. The only state in which the stream may end.
	ReadHeader,
	// Keeping the first small_want bytes of a STOP_COPY_SIZE or COMPAT
	// payload (small_fill < small_want <= record_size).
	ReadSmallPayload,
	// Dropping the rest of a payload unread (record_left > 0): unknown
	// optional records, and the tail beyond what ReadSmallPayload keeps. When
	// it runs out the record's event (if any) fires.
	SkipPayload,
	// Filling the sink's buffer with an FW_DATA image (record_left > 0 bytes
	// still to come, image_fill already there; image_piece is the unwritten
	// rest of the last piece the sink gave, empty when a new one is needed).
	ReadImage,
	// finish() accepted the stream; no more input.
	Done,
	// An error was latched; every call returns it.
	Failed,
};

const char *parser_state_name(ParserState s);

// Where the next stream bytes go (input_window()). Exactly one member is
// non-empty in every state that takes input.
struct InputWindow {
	kstd::Bytes copy_to; // copy up to copy_to.size() next bytes here, then commit()
	size_t discard = 0;  // or drop up to this many bytes unread, then commit()
};

// Not thread-safe: the caller serialises calls (the shim's resuming-file
// lock).
class Parser final {
public:
	explicit Parser(Sink &sink) : sink_(sink) {}
	Parser(const Parser &) = delete;
	Parser &operator=(const Parser &) = delete;

	// Consumes all of chunk (Ok(chunk.size())) or fails. Err::Invalid after
	// a successful finish().
	kstd::Result<size_t> feed(kstd::ConstBytes chunk);

	// The same machine without a bounce buffer: ask where the next bytes go,
	// put up to that many there (the shim: copy_from_user straight into the
	// sink's image buffer), then commit how many were put (fewer is fine,
	// e.g. after a fault). commit(n) beyond the window is a caller bug:
	// Err::Invalid, latched. In ReadImage both may call image_space().
	kstd::Result<InputWindow> input_window();
	kstd::Result<void> commit(size_t n);

	// End of stream (leaving RESUMING). Ok only between records after at
	// least one non-empty image; idempotent once Ok.
	kstd::Result<void> finish();

	ParserState state() const { return state_; }
	// The latched error and a fixed description of it (nullptr unless
	// Failed), for the shim's one log line.
	kstd::Err error() const { return error_; }
	const char *error_reason() const { return error_reason_; }
	// Stream bytes consumed so far (at an error: where it was detected).
	uint64_t offset() const { return offset_; }
	// FW_DATA records with a non-empty image whose end_image() succeeded.
	uint64_t images_loaded() const { return images_loaded_; }

private:
	kstd::Result<InputWindow> window();
	kstd::Result<void> advance(size_t n);
	kstd::Result<void> start_record();
	kstd::Result<void> settle();
	kstd::Result<void> deliver_small_record();
	kstd::Result<void> sink_result(kstd::Result<void> r, const char *why);
	kstd::Result<void> fail(kstd::Err err, const char *why);

	Sink &sink_;
	ParserState state_ = ParserState::ReadHeader;
	kstd::Err error_{};
	const char *error_reason_ = nullptr;
	uint64_t offset_ = 0;
	bool images_started_ = false; // an FW_DATA header went by
	bool compat_seen_ = false;
	uint64_t images_loaded_ = 0;

	// The record being read; valid outside ReadHeader.
	RecordHeader record_;
	// Payload bytes of record_ not yet consumed (<= kMaxLoadSize).
	uint64_t record_left_ = 0;

	size_t header_fill_ = 0; // < kRecordHeaderSize except transiently
	uint8_t header_[kRecordHeaderSize] = {};

	size_t small_want_ = 0; // <= kCompatPayloadMax
	size_t small_fill_ = 0; // <= small_want_
	uint8_t small_[kCompatPayloadMax] = {};

	// ReadImage: image_fill_ + record_left_ == record_.record_size, and
	// image_piece_.size() <= record_left_ (the unwritten part of the sink's
	// last piece, at image offset image_fill_).
	uint64_t image_fill_ = 0;
	kstd::Bytes image_piece_;
};

} // namespace mlx5vf::stream

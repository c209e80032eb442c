// SPDX-License-Identifier: GPL-2.0-only
#include "stream_parser.h"

#include "kstd/bits.h"

#include "kstd/enforce.h"

namespace mlx5vf::stream {
namespace {

// Record payload sizes are bounded by kMaxLoadSize before they are stored,
// so they always fit a size_t; the clamp only makes that visible to the
// reader and to 32-bit builds.
constexpr size_t to_size(uint64_t v)
{
	return v > SIZE_MAX ? SIZE_MAX : static_cast<size_t>(v);
}

static_assert(kMaxLoadSize <= SIZE_MAX, "a record payload must be addressable");

} // namespace

const char *parser_state_name(ParserState s)
{
	switch (s) {
	case ParserState::ReadHeader: return "READ_HEADER";
	case ParserState::ReadSmallPayload: return "READ_SMALL_PAYLOAD";
	case ParserState::SkipPayload: return "SKIP_PAYLOAD";
	case ParserState::ReadImage: return "READ_IMAGE";
	case ParserState::Done: return "DONE";
	case ParserState::Failed: return "FAILED";
	}
	return "INVALID";
}

kstd::Result<void> Parser::fail(kstd::Err err, const char *why)
{
	// Latch the first error only: a later failure while unwinding must not
	// hide the cause.
	if (state_ != ParserState::Failed) {
		state_ = ParserState::Failed;
		error_ = err;
		error_reason_ = why;
		image_piece_ = {};
	}
	return error_;
}

kstd::Result<void> Parser::sink_result(kstd::Result<void> r, const char *why)
{
	if (r.is_error())
		return fail(r.error(), why);
	return kstd::ok();
}

// Precondition: a state that takes input. settle() guarantees the window is
// never empty there, so every feed() iteration makes progress. In ReadImage
// a new piece is fetched from the sink once the last one is used up.
kstd::Result<InputWindow> Parser::window()
{
	InputWindow w;
	switch (state_) {
	case ParserState::ReadHeader:
		w.copy_to = kstd::Bytes(header_ + header_fill_, kRecordHeaderSize - header_fill_);
		break;
	case ParserState::ReadSmallPayload:
		w.copy_to = kstd::Bytes(small_ + small_fill_, small_want_ - small_fill_);
		break;
	case ParserState::SkipPayload: w.discard = to_size(record_left_); break;
	case ParserState::ReadImage:
		if (image_piece_.empty()) {
			auto piece = sink_.image_space(image_fill_);
			if (piece.is_error())
				return fail(piece.error(), "no space for a device image").error();
			// The sink's contract, checked because the parser writes there.
			if (piece.value().empty() || !piece.value().data())
				return fail(kstd::Err::NoSpc, "image buffer ended before the record").error();
			image_piece_ = piece.value().first(to_size(record_left_));
		}
		w.copy_to = image_piece_;
		break;
	case ParserState::Done:
	case ParserState::Failed: break;
	}
	return w;
}

// A complete header sits in header_: judge it and enter the record's state.
kstd::Result<void> Parser::start_record()
{
	const RecordHeader header = TRY(decode_record_header(kstd::ConstBytes(header_)));
	header_fill_ = 0;
	// Judge the size before anyone acts on it: nothing below may see more.
	if (header.record_size > kMaxLoadSize)
		return fail(kstd::Err::Overflow, "record larger than a firmware LOAD can take");
	sink_.on_record(header);
	record_ = header;
	record_left_ = header.record_size;
	small_want_ = 0;
	small_fill_ = 0;
	image_fill_ = 0;

	switch (header.tag) {
	case RecordTag::FwData:
		images_started_ = true;
		TRY(sink_result(sink_.begin_image(header.record_size), "no buffer for a device image"));
		image_piece_ = {};
		state_ = ParserState::ReadImage;
		return kstd::ok();
	case RecordTag::StopCopySize:
		if (header.record_size < kStopCopySizePayloadSize)
			return fail(kstd::Err::BadMsg, "STOP_COPY_SIZE record too short");
		small_want_ = kStopCopySizePayloadSize;
		state_ = ParserState::ReadSmallPayload;
		return kstd::ok();
	case RecordTag::Compat:
		if (images_started_)
			return fail(kstd::Err::BadMsg, "COMPAT record after a device image");
		if (compat_seen_)
			return fail(kstd::Err::BadMsg, "second COMPAT record");
		compat_seen_ = true;
		small_want_ = to_size(kstd::min<uint64_t>(header.record_size, kCompatPayloadMax));
		state_ = ParserState::ReadSmallPayload;
		return kstd::ok();
	default:
		if (!header.optional())
			return fail(kstd::Err::ProtoNotSupp, "unknown mandatory record");
		state_ = ParserState::SkipPayload;
		return kstd::ok();
	}
}

// Fires the event of a STOP_COPY_SIZE or COMPAT record once all of its
// payload has gone by (a truncated record never produces an event).
kstd::Result<void> Parser::deliver_small_record()
{
	switch (record_.tag) {
	case RecordTag::StopCopySize: {
		const uint64_t bytes = kstd::load_le64(small_);
		return sink_result(sink_.on_stop_copy_size(kstd::min(bytes, kMaxLoadSize)),
				   "STOP_COPY_SIZE refused");
	}
	case RecordTag::Compat:
		return sink_result(sink_.on_compat(kstd::ConstBytes(small_, small_fill_)), "COMPAT refused");
	default: return kstd::ok(); // unknown optional record: nothing to say
	}
}

// Leaves states that need no more input, so that in every input-taking state
// the window is non-empty (the invariant feed() relies on to progress), and
// completes records whose last byte has arrived, zero-length ones included.
kstd::Result<void> Parser::settle()
{
	if (state_ == ParserState::ReadSmallPayload && small_fill_ == small_want_)
		state_ = ParserState::SkipPayload;
	if (state_ == ParserState::SkipPayload && record_left_ == 0) {
		TRY(deliver_small_record());
		state_ = ParserState::ReadHeader;
	}
	if (state_ == ParserState::ReadImage && record_left_ == 0) {
		image_piece_ = {};
		TRY(sink_result(sink_.end_image(), "LOAD of a device image failed"));
		if (record_.record_size)
			images_loaded_++;
		state_ = ParserState::ReadHeader;
	}
	return kstd::ok();
}

// Accounts n bytes that are already where window() said (n <= its size).
kstd::Result<void> Parser::advance(size_t n)
{
	offset_ += n; // a byte count: 2^64 bytes of stream cannot happen
	switch (state_) {
	case ParserState::ReadHeader:
		header_fill_ += n;
		if (header_fill_ == kRecordHeaderSize)
			TRY(start_record());
		break;
	case ParserState::ReadSmallPayload:
		small_fill_ += n;
		record_left_ -= n;
		break;
	case ParserState::SkipPayload: record_left_ -= n; break;
	case ParserState::ReadImage:
		image_piece_ = image_piece_.subspan(n);
		image_fill_ += n;
		record_left_ -= n;
		break;
	case ParserState::Done:
	case ParserState::Failed:
		return fail(kstd::Err::Invalid, "parser invariant broken: input in a final state");
	}
	return settle();
}

kstd::Result<size_t> Parser::feed(kstd::ConstBytes chunk)
{
	if (state_ == ParserState::Failed)
		return error_;
	if (state_ == ParserState::Done)
		return kstd::Err::Invalid;
	size_t used = 0;
	while (used < chunk.size()) {
		const InputWindow w = TRY(window());
		const size_t left = chunk.size() - used;
		size_t n;
		if (!w.copy_to.empty()) {
			n = kstd::min(w.copy_to.size(), left);
			__builtin_memcpy(w.copy_to.data(), chunk.data() + used, n);
		} else {
			n = kstd::min(w.discard, left);
		}
		if (!n) // cannot happen (settle()); never spin on it
			return fail(kstd::Err::Invalid, "parser invariant broken: empty input window")
				.error();
		TRY(advance(n));
		used += n;
	}
	return used;
}

kstd::Result<InputWindow> Parser::input_window()
{
	if (state_ == ParserState::Failed)
		return error_;
	if (state_ == ParserState::Done)
		return kstd::Err::Invalid;
	return window();
}

kstd::Result<void> Parser::commit(size_t n)
{
	if (state_ == ParserState::Failed)
		return error_;
	if (state_ == ParserState::Done)
		return kstd::Err::Invalid;
	if (!n)
		return kstd::ok();
	const InputWindow w = TRY(window());
	if (n > kstd::max(w.copy_to.size(), w.discard)) // the other one is zero
		return fail(kstd::Err::Invalid, "commit beyond the input window");
	return advance(n);
}

kstd::Result<void> Parser::finish()
{
	if (state_ == ParserState::Failed)
		return error_;
	if (state_ == ParserState::Done)
		return kstd::ok();
	if (state_ != ParserState::ReadHeader || header_fill_)
		return fail(kstd::Err::BadMsg, "stream ends inside a record");
	if (!images_loaded_)
		return fail(kstd::Err::NoMsg, "stream ends without a device image");
	state_ = ParserState::Done;
	return kstd::ok();
}

} // namespace mlx5vf::stream

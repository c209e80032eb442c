// SPDX-License-Identifier: GPL-2.0-only
// The resuming side's parser against the in-tree format, every segmentation
// of small streams, hostile headers, and random mutations. Leak checking is
// automatic (tests/host/host_shim.cpp): the recording sink allocates its
// image buffers through the shim, exactly sized, so ASan sees any write past
// a record.
#include "stream_parser.h"
#include "stream_writer.h"

#include "kstd/alloc.h"
#include "kstd/bits.h"

#include <gtest/gtest.h>

#include "host_shim.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

namespace mlx5vf::stream {
namespace {

using Buf = std::vector<uint8_t>;

constexpr CompatInfo kLocal = {
	.pci_vendor_id = 0x15b3,
	.pci_device_id = 0x101e,
	.fw_identity = 0x00c0ffee00000042ULL,
	.vhca_state_format = 3,
};

constexpr uint32_t kUnknownTag = 0x40; // a future upstream bit tag

std::string hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	std::string s;
	for (size_t i = 0; i < n; i++) {
		s += digits[p[i] >> 4];
		s += digits[p[i] & 15];
	}
	return s;
}

Buf pattern(size_t n, uint8_t seed)
{
	Buf b(n);
	for (size_t i = 0; i < n; i++)
		b[i] = static_cast<uint8_t>(seed + i * 7);
	return b;
}

// Records every event as one line, so runs compare as string vectors
// (image_space calls depend on segmentation, so they are counted, not
// recorded). Image buffers come from the shim allocator, exactly sized and
// pre-poisoned, so a byte the parser failed to write shows in the "end" line
// and a byte written past the record trips ASan. Pieces of piece_size bytes
// (0: the whole rest) model a buffer made of pages.
class RecordingSink final : public Sink {
public:
	std::vector<std::string> events;
	const CompatInfo *local = &kLocal; // nullptr: COMPAT accepted unchecked
	long fail_call = 0;		   // 1-based sink call to fail; 0: none
	kstd::Err fail_with = kstd::Err::Io;
	uint64_t max_image = 1 << 16; // larger: Err::NoMem, nothing allocated
	size_t piece_size = 0;
	size_t short_by = 0;	  // the buffer ends this much too early
	size_t slack = 0;	  // ...or this much too late (must stay untouched)
	bool null_pieces = false; // hand out {nullptr, n}
	long calls = 0;
	long begin_calls = 0;
	long end_calls = 0;
	long space_calls = 0;
	kstd::Bytes last_piece;

	kstd::Result<void> on_stop_copy_size(uint64_t bytes) override
	{
		events.push_back("stop " + std::to_string(bytes));
		if (inject())
			return fail_with;
		return kstd::ok();
	}

	kstd::Result<void> on_compat(kstd::ConstBytes payload) override
	{
		events.push_back("compat " + hex(payload.data(), payload.size()));
		if (inject())
			return fail_with;
		if (local)
			TRY(check_compat(*local, payload));
		return kstd::ok();
	}

	kstd::Result<void> begin_image(uint64_t size) override
	{
		begin_calls++;
		events.push_back("begin " + std::to_string(size));
		EXPECT_EQ(begin_calls - 1, end_calls) << "begin_image inside an image";
		if (inject())
			return fail_with;
		if (size > max_image)
			return kstd::Err::NoMem;
		image_ = TRY(kstd::OwnedArray<uint8_t>::create(size + slack, kstd::AllocCtx::Sleepable));
		if (size + slack)
			memset(image_.data(), 0xcc, size + slack);
		image_size_ = size;
		next_offset_ = 0;
		return kstd::ok();
	}

	kstd::Result<kstd::Bytes> image_space(uint64_t offset) override
	{
		space_calls++;
		// The parser's side of the contract: in order, no gaps, inside.
		EXPECT_EQ(next_offset_, offset);
		EXPECT_LT(offset, image_size_);
		if (inject())
			return fail_with;
		const size_t usable = image_size_ + slack - (short_by < image_size_ ? short_by : image_size_);
		if (offset >= usable)
			return kstd::Bytes();
		size_t n = usable - offset;
		if (piece_size && piece_size < n)
			n = piece_size;
		next_offset_ = offset + n;
		last_piece = kstd::Bytes(null_pieces ? nullptr : image_.data() + offset, n);
		return last_piece;
	}

	kstd::Result<void> end_image() override
	{
		end_calls++;
		events.push_back("end " + hex(image_.data(), image_size_));
		EXPECT_GE(next_offset_, image_size_) << "image ended before it was filled";
		for (size_t i = image_size_; i < image_size_ + slack; i++)
			EXPECT_EQ(0xcc, image_.data()[i]) << "written past the record at " << i;
		image_.reset();
		if (inject())
			return fail_with;
		return kstd::ok();
	}

private:
	bool inject() { return ++calls == fail_call; }

	kstd::OwnedArray<uint8_t> image_;
	size_t image_size_ = 0;
	size_t next_offset_ = 0;
};

// Builds streams with the writer (and raw headers for what it refuses to
// write), remembering where records end.
class StreamBuilder {
public:
	Buf bytes;
	std::vector<size_t> record_ends;

	StreamBuilder &compat(const CompatInfo &info = kLocal)
	{
		uint8_t rec[kCompatRecordSize];
		return append(rec, write_compat_record(kstd::Bytes(rec), info).value());
	}

	StreamBuilder &stop_copy_size(uint64_t v)
	{
		uint8_t rec[kStopCopySizeRecordSize];
		return append(rec, write_stop_copy_size_record(kstd::Bytes(rec), v).value());
	}

	StreamBuilder &image(const Buf &img)
	{
		uint8_t hdr[kRecordHeaderSize];
		const size_t n = write_fw_data_header(kstd::Bytes(hdr), img.size()).value();
		bytes.insert(bytes.end(), hdr, hdr + n);
		return append(img.data(), img.size());
	}

	StreamBuilder &record(uint64_t size, uint32_t flags, uint32_t tag, const Buf &payload = {})
	{
		uint8_t hdr[kRecordHeaderSize];
		const RecordHeader h = {
			.record_size = size, .flags = flags, .tag = static_cast<RecordTag>(tag)};
		const size_t n = encode_record_header(kstd::Bytes(hdr), h).value();
		bytes.insert(bytes.end(), hdr, hdr + n);
		return append(payload.data(), payload.size());
	}

private:
	StreamBuilder &append(const uint8_t *p, size_t n)
	{
		bytes.insert(bytes.end(), p, p + n);
		record_ends.push_back(bytes.size());
		return *this;
	}
};

kstd::ConstBytes view(const Buf &b, size_t from = 0, size_t to = SIZE_MAX)
{
	if (to > b.size())
		to = b.size();
	return kstd::ConstBytes(b.data() + from, to - from);
}

Buf compat_payload(const CompatInfo &info = kLocal)
{
	uint8_t p[kCompatPayloadSizeV1_0];
	encode_compat_payload(kstd::Bytes(p), info).value();
	return Buf(p, p + sizeof(p));
}

// What a run produced, comparable across segmentations.
struct Outcome {
	std::vector<std::string> events;
	bool feed_ok = true;
	kstd::Err feed_error{};
	bool finish_ok = false;
	kstd::Err finish_error{};
	uint64_t images = 0;
	uint64_t offset = 0;

	bool operator==(const Outcome &) const = default;
};

std::ostream &operator<<(std::ostream &os, const Outcome &o)
{
	os << "feed " << (o.feed_ok ? "ok" : "err ") << static_cast<int>(o.feed_error) << ", finish "
	   << (o.finish_ok ? "ok" : "err ") << static_cast<int>(o.finish_error) << ", images " << o.images
	   << ", offset " << o.offset << ", events:";
	for (const auto &e : o.events)
		os << " [" << e << "]";
	return os;
}

Outcome conclude(RecordingSink &sink, Parser &parser, Outcome o)
{
	auto f = parser.finish();
	o.finish_ok = f.is_ok();
	o.finish_error = f.error();
	o.images = parser.images_loaded();
	o.offset = parser.offset();
	o.events = sink.events;
	return o;
}

// Feeds s split at the given (ascending) positions, into a sink handing out
// image pieces of piece bytes.
Outcome run_split(const Buf &s, const std::vector<size_t> &cuts, size_t piece = 0)
{
	RecordingSink sink;
	sink.piece_size = piece;
	Parser parser(sink);
	Outcome o;
	size_t from = 0;
	auto feed_to = [&](size_t to) {
		if (!o.feed_ok)
			return;
		auto r = parser.feed(view(s, from, to));
		if (r.is_error()) {
			o.feed_ok = false;
			o.feed_error = r.error();
		} else {
			EXPECT_EQ(to - from, r.value());
		}
		from = to;
	};
	for (size_t c : cuts)
		feed_to(c);
	feed_to(s.size());
	return conclude(sink, parser, o);
}

Outcome run_whole(const Buf &s, size_t piece = 0)
{
	return run_split(s, {}, piece);
}

Outcome run_bytewise(const Buf &s, size_t piece = 0)
{
	std::vector<size_t> cuts;
	for (size_t i = 1; i < s.size(); i++)
		cuts.push_back(i);
	return run_split(s, cuts, piece);
}

// Deterministic PRNG (xorshift64), so a failing case reproduces.
struct Xorshift {
	uint64_t state;
	uint64_t next()
	{
		state ^= state << 13;
		state ^= state >> 7;
		state ^= state << 17;
		return state;
	}
	size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

// The zero-copy path: ask for the window, put a random part of it, commit.
Outcome run_windows(const Buf &s, Xorshift &rng, size_t piece = 0)
{
	RecordingSink sink;
	sink.piece_size = piece;
	Parser parser(sink);
	Outcome o;
	size_t pos = 0;
	while (pos < s.size()) {
		auto w = parser.input_window();
		if (w.is_error()) {
			o.feed_ok = false;
			o.feed_error = w.error();
			break;
		}
		const InputWindow &win = w.value();
		EXPECT_TRUE(win.copy_to.empty() != (win.discard == 0)) << "exactly one of copy_to, discard";
		const size_t cap = win.copy_to.empty() ? win.discard : win.copy_to.size();
		size_t n = 1 + rng.below(9);
		n = std::min({n, cap, s.size() - pos});
		if (!win.copy_to.empty())
			memcpy(win.copy_to.data(), s.data() + pos, n);
		auto r = parser.commit(n);
		if (r.is_error()) {
			o.feed_ok = false;
			o.feed_error = r.error();
			break;
		}
		pos += n;
	}
	return conclude(sink, parser, o);
}

// compat + stop_copy_size + images of 5, 0 and 3 bytes + an unknown optional
// record: every kind of record, small enough to split exhaustively.
StreamBuilder small_stream()
{
	StreamBuilder b;
	b.compat()
		.stop_copy_size(0x4000)
		.image(pattern(5, 1))
		.record(7, kRecordOptional, kUnknownTag, pattern(7, 9))
		.image({})
		.image(pattern(3, 4));
	return b;
}

TEST(StreamParser, InTreeGoldenStreamLoads)
{
	// Literally what an in-tree source sends: STOP_COPY_SIZE (0x123456789),
	// then one FW_DATA record with a 5-byte image. No COMPAT record.
	const Buf in_tree = {
		0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x89, 0x67, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x42,
	};
	const Outcome o = run_whole(in_tree);
	// 0x123456789 exceeds what one LOAD takes: clamped, as in-tree does.
	const std::vector<std::string> want = {"stop 4294967295", "begin 5", "end deadbeef42"};
	EXPECT_EQ(want, o.events);
	EXPECT_TRUE(o.feed_ok);
	EXPECT_TRUE(o.finish_ok);
	EXPECT_EQ(1u, o.images);
	EXPECT_EQ(in_tree.size(), o.offset);
	EXPECT_EQ(o, run_bytewise(in_tree));
}

TEST(StreamParser, StopCopySizeBelowTheLimitPassesUnchanged)
{
	StreamBuilder b;
	b.stop_copy_size(0x12345).image(pattern(2, 0));
	EXPECT_EQ("stop 74565", run_whole(b.bytes).events.at(0));
	StreamBuilder at_limit;
	at_limit.stop_copy_size(kMaxLoadSize).image(pattern(2, 0));
	EXPECT_EQ("stop 4294967295", run_whole(at_limit.bytes).events.at(0));
}

TEST(StreamParser, MultiRecordStreamRoundTrips)
{
	const Buf a = pattern(1000, 3), c = pattern(37, 200);
	StreamBuilder b;
	b.compat().stop_copy_size(1 << 20).image(a).image({}).image(c);
	const Outcome o = run_whole(b.bytes);
	const std::vector<std::string> want = {
		"compat " + hex(compat_payload().data(), kCompatPayloadSizeV1_0),
		"stop 1048576",
		"begin 1000",
		"end " + hex(a.data(), a.size()),
		"begin 0",
		"end ",
		"begin 37",
		"end " + hex(c.data(), c.size()),
	};
	EXPECT_EQ(want, o.events);
	EXPECT_TRUE(o.feed_ok);
	EXPECT_TRUE(o.finish_ok);
	EXPECT_EQ(2u, o.images); // the 0-byte image is handed over but carries no state
	EXPECT_EQ(b.bytes.size(), o.offset);
}

TEST(StreamParser, EverySegmentationGivesTheSameEvents)
{
	const Buf s = small_stream().bytes;
	const Outcome want = run_whole(s);
	ASSERT_TRUE(want.finish_ok) << want;
	ASSERT_EQ(2u, want.images);
	// piece: how the sink's image buffer is cut (0: one piece), independent
	// of how the stream is cut.
	for (size_t piece : {0, 1, 2}) {
		EXPECT_EQ(want, run_whole(s, piece));
		EXPECT_EQ(want, run_bytewise(s, piece));
		for (size_t i = 0; i <= s.size(); i++)
			ASSERT_EQ(want, run_split(s, {i}, piece)) << "split at " << i << ", piece " << piece;
		for (size_t i = 0; i <= s.size(); i++)
			for (size_t j = i; j <= s.size(); j++)
				ASSERT_EQ(want, run_split(s, {i, j}, piece))
					<< "split at " << i << ", " << j << ", piece " << piece;
	}
}

TEST(StreamParser, WindowAndCommitMatchFeed)
{
	const Buf s = small_stream().bytes;
	const Outcome want = run_whole(s);
	Xorshift rng{0x2545f4914f6cdd1dULL};
	for (int round = 0; round < 300; round++)
		ASSERT_EQ(want, run_windows(s, rng, round % 4)) << "round " << round;
}

TEST(StreamParser, ImageWindowIsTheSinksBuffer)
{
	StreamBuilder b;
	b.image(pattern(64, 5));
	RecordingSink sink;
	Parser parser(sink);
	ASSERT_TRUE(parser.feed(view(b.bytes, 0, kRecordHeaderSize + 10)).is_ok());
	EXPECT_EQ(ParserState::ReadImage, parser.state());
	auto w = parser.input_window();
	ASSERT_TRUE(w.is_ok());
	// The shim can copy_from_user straight into the LOAD buffer.
	EXPECT_EQ(sink.last_piece.data() + 10, w.value().copy_to.data());
	EXPECT_EQ(54u, w.value().copy_to.size());
	memcpy(w.value().copy_to.data(), b.bytes.data() + kRecordHeaderSize + 10, 54);
	ASSERT_TRUE(parser.commit(54).is_ok());
	EXPECT_EQ(1, sink.end_calls);
	EXPECT_TRUE(parser.finish().is_ok());
}

TEST(StreamParser, UnknownOptionalRecordsAreSkippedUnread)
{
	const Buf big = pattern(100000, 1);
	StreamBuilder b;
	b.record(0, kRecordOptional, kUnknownTag)
		.image(pattern(4, 2))
		.record(5, kRecordOptional | 0xfffffff0U, 0x7fffffffU, pattern(5, 3)) // unknown flag bits too
		.record(big.size(), kRecordOptional, kUnknownTag << 1, big);
	const Outcome o = run_whole(b.bytes);
	const std::vector<std::string> want = {"begin 4", "end " + hex(pattern(4, 2).data(), 4)};
	EXPECT_EQ(want, o.events);
	EXPECT_TRUE(o.finish_ok) << o;
	EXPECT_EQ(1, host_shim::allocation_attempts()); // the image only

	// Skipping reads nothing: the window says "discard", not "copy here".
	RecordingSink sink;
	Parser parser(sink);
	ASSERT_TRUE(parser.feed(view(b.bytes, 0, b.record_ends[2] + kRecordHeaderSize)).is_ok());
	EXPECT_EQ(ParserState::SkipPayload, parser.state());
	auto w = parser.input_window();
	ASSERT_TRUE(w.is_ok());
	EXPECT_TRUE(w.value().copy_to.empty());
	EXPECT_EQ(big.size(), w.value().discard);
	ASSERT_TRUE(parser.commit(big.size()).is_ok());
	EXPECT_EQ(ParserState::ReadHeader, parser.state());
	EXPECT_TRUE(parser.finish().is_ok());
}

TEST(StreamParser, UnknownMandatoryRecordIsRefused)
{
	StreamBuilder b;
	b.stop_copy_size(64).record(3, kRecordMandatory, kUnknownTag, pattern(3, 0)).image(pattern(4, 1));
	RecordingSink sink;
	Parser parser(sink);
	auto r = parser.feed(view(b.bytes));
	EXPECT_EQ(kstd::Err::ProtoNotSupp, r.error());
	EXPECT_EQ(ParserState::Failed, parser.state());
	EXPECT_EQ(kstd::Err::ProtoNotSupp, parser.error());
	EXPECT_NE(nullptr, parser.error_reason());
	EXPECT_EQ(b.record_ends[0] + kRecordHeaderSize, parser.offset()); // detected on its header
	EXPECT_EQ(kstd::Err::ProtoNotSupp, parser.feed(view(b.bytes)).error());
	EXPECT_EQ(kstd::Err::ProtoNotSupp, parser.finish().error());
	EXPECT_EQ(0, sink.begin_calls);
}

TEST(StreamParser, FinishAcceptsOnlyCompleteStreamsWithAnImage)
{
	StreamBuilder b;
	b.compat()
		.stop_copy_size(16)
		.image({})
		.image(pattern(6, 1))
		.record(2, kRecordOptional, kUnknownTag, {1, 2});
	const std::vector<size_t> &ends = b.record_ends;
	const size_t first_real_image_end = ends[3];
	for (size_t len = 0; len <= b.bytes.size(); len++) {
		const Outcome o = run_whole(Buf(b.bytes.begin(), b.bytes.begin() + len));
		ASSERT_TRUE(o.feed_ok);
		const bool on_boundary = len == 0 || std::find(ends.begin(), ends.end(), len) != ends.end();
		if (!on_boundary)
			EXPECT_EQ(kstd::Err::BadMsg, o.finish_error) << "prefix " << len;
		else if (len < first_real_image_end)
			EXPECT_EQ(kstd::Err::NoMsg, o.finish_error) << "prefix " << len;
		else
			EXPECT_TRUE(o.finish_ok) << "prefix " << len;
	}
}

TEST(StreamParser, StreamsWithoutDeviceStateDoNotSucceed)
{
	EXPECT_EQ(kstd::Err::NoMsg, run_whole({}).finish_error);
	StreamBuilder compat_only;
	compat_only.compat();
	EXPECT_EQ(kstd::Err::NoMsg, run_whole(compat_only.bytes).finish_error);
	StreamBuilder stop_only;
	stop_only.stop_copy_size(4096);
	EXPECT_EQ(kstd::Err::NoMsg, run_whole(stop_only.bytes).finish_error);
	StreamBuilder empty_images;
	empty_images.image({}).image({});
	const Outcome o = run_whole(empty_images.bytes);
	EXPECT_EQ(kstd::Err::NoMsg, o.finish_error);
	EXPECT_EQ(4u, o.events.size()); // both were still handed to the sink
}

TEST(StreamParser, OversizedRecordsAreRefusedBeforeAnyAllocation)
{
	const uint64_t sizes[] = {kMaxLoadSize + 1,	     1ULL << 32 | 5, 1ULL << 63,
				  ~0ULL - kRecordHeaderSize, ~0ULL - 1,	     ~0ULL};
	const uint32_t tags[] = {0, 1, static_cast<uint32_t>(RecordTag::Compat), kUnknownTag};
	for (uint64_t size : sizes) {
		for (uint32_t tag : tags) {
			for (uint32_t flags : {kRecordMandatory, kRecordOptional}) {
				host_shim::reset_allocation_counters();
				StreamBuilder b;
				b.record(size, flags, tag, pattern(64, 0));
				RecordingSink sink;
				Parser parser(sink);
				EXPECT_EQ(kstd::Err::Overflow, parser.feed(view(b.bytes)).error())
					<< "size " << size << " tag " << tag;
				EXPECT_EQ(kRecordHeaderSize, parser.offset());
				EXPECT_EQ(0, host_shim::allocation_attempts());
				EXPECT_TRUE(sink.events.empty());
				EXPECT_EQ(kstd::Err::Overflow, parser.finish().error());
			}
		}
	}
}

TEST(StreamParser, RecordsAtTheLoadLimitAreAccepted)
{
	// The parser passes the size on; this sink cannot provide 4 GiB.
	StreamBuilder image;
	image.record(kMaxLoadSize, kRecordMandatory, 0);
	const Outcome o = run_whole(image.bytes);
	EXPECT_EQ(std::vector<std::string>{"begin 4294967295"}, o.events);
	EXPECT_EQ(kstd::Err::NoMem, o.feed_error);
	EXPECT_EQ(kstd::Err::NoMem, o.finish_error);

	// An optional record that large is skipped as it streams by.
	StreamBuilder skip;
	skip.record(kMaxLoadSize, kRecordOptional, kUnknownTag);
	RecordingSink sink;
	Parser parser(sink);
	ASSERT_TRUE(parser.feed(view(skip.bytes)).is_ok());
	const Buf mib(1 << 20);
	for (int i = 0; i < 64; i++)
		ASSERT_TRUE(parser.feed(view(mib)).is_ok());
	EXPECT_EQ(ParserState::SkipPayload, parser.state());
	EXPECT_EQ(kRecordHeaderSize + (64ULL << 20), parser.offset());
	EXPECT_EQ(kstd::Err::BadMsg, parser.finish().error());
	EXPECT_EQ(0, host_shim::allocation_attempts());
}

TEST(StreamParser, IncompatibleSourceIsRefusedBeforeAnyImage)
{
	CompatInfo other_device = kLocal;
	other_device.pci_device_id = 0x1021;
	CompatInfo other_firmware = kLocal;
	other_firmware.fw_identity++;
	CompatInfo other_format = kLocal;
	other_format.vhca_state_format++;
	for (const CompatInfo &peer : {other_device, other_firmware, other_format}) {
		StreamBuilder b;
		b.compat(peer).stop_copy_size(100).image(pattern(8, 0));
		const Outcome o = run_whole(b.bytes);
		EXPECT_EQ(kstd::Err::ProtoNotSupp, o.feed_error);
		EXPECT_EQ(1u, o.events.size()); // refused on the COMPAT record itself
		EXPECT_EQ(kCompatRecordSize, o.offset);
	}

	Buf major2 = compat_payload();
	major2[4] = 2;
	StreamBuilder b;
	b.record(major2.size(), kRecordOptional, static_cast<uint32_t>(RecordTag::Compat), major2)
		.image(pattern(8, 0));
	EXPECT_EQ(kstd::Err::ProtoNotSupp, run_whole(b.bytes).feed_error);
}

TEST(StreamParser, NewerCompatMinorIsAccepted)
{
	Buf p = compat_payload();
	p[6] = 4;
	p.insert(p.end(), 16, 0x5a);
	p[8] = static_cast<uint8_t>(p.size());
	StreamBuilder b;
	b.record(p.size(), kRecordOptional, static_cast<uint32_t>(RecordTag::Compat), p).image(pattern(3, 0));
	const Outcome o = run_whole(b.bytes);
	EXPECT_TRUE(o.finish_ok) << o;
	EXPECT_EQ("compat " + hex(p.data(), p.size()), o.events.at(0));
}

TEST(StreamParser, MalformedCompatIsRefused)
{
	const uint32_t compat_tag = static_cast<uint32_t>(RecordTag::Compat);
	StreamBuilder empty;
	empty.record(0, kRecordOptional, compat_tag).image(pattern(3, 0));
	EXPECT_EQ(kstd::Err::BadMsg, run_whole(empty.bytes).feed_error);

	Buf wrong_length = compat_payload();
	wrong_length[8] = 31;
	StreamBuilder b;
	b.record(wrong_length.size(), kRecordOptional, compat_tag, wrong_length);
	EXPECT_EQ(kstd::Err::BadMsg, run_whole(b.bytes).feed_error);

	// Longer than any major-1 payload may be: the sink sees the first
	// kCompatPayloadMax bytes, which cannot satisfy the length check...
	Buf huge = compat_payload();
	huge.resize(300, 0);
	kstd::store_le32(huge.data() + 8, 300);
	StreamBuilder h;
	h.record(huge.size(), kRecordOptional, compat_tag, huge).image(pattern(3, 0));
	const Outcome o = run_whole(h.bytes);
	EXPECT_EQ(kstd::Err::BadMsg, o.feed_error);
	EXPECT_EQ("compat " + hex(huge.data(), kCompatPayloadMax), o.events.at(0));
	EXPECT_EQ(h.record_ends[0], o.offset); // judged after the whole record went by
	// ...while another major of that size is simply not ours.
	huge[4] = 7;
	StreamBuilder h2;
	h2.record(huge.size(), kRecordOptional, compat_tag, huge).image(pattern(3, 0));
	EXPECT_EQ(kstd::Err::ProtoNotSupp, run_whole(h2.bytes).feed_error);
}

// Review finding (issue 9, 4i): optional records are skippable wherever they
// stand, so a STOP_COPY_SIZE hint or an unknown optional record may come
// before COMPAT. COMPAT must only come before the first device image.
TEST(StreamParser, CompatMayFollowOptionalRecordsButNoImage)
{
	StreamBuilder after_stop;
	after_stop.stop_copy_size(1).compat().image(pattern(1, 0));
	const Outcome s = run_whole(after_stop.bytes);
	EXPECT_EQ(kstd::Err{}, s.feed_error);
	EXPECT_TRUE(s.finish_ok);
	ASSERT_EQ(4u, s.events.size()); // stop, compat, begin, end
	EXPECT_EQ("stop 1", s.events[0]);
	EXPECT_EQ("compat " + hex(compat_payload().data(), kCompatPayloadSizeV1_0), s.events[1]);
	StreamBuilder after_unknown;
	after_unknown.record(5, kRecordOptional, kUnknownTag, pattern(5, 0)).compat().image(pattern(1, 0));
	const Outcome u = run_whole(after_unknown.bytes);
	EXPECT_EQ(kstd::Err{}, u.feed_error);
	EXPECT_TRUE(u.finish_ok);
	// Still judged: an incompatible COMPAT after a hint is refused on itself.
	CompatInfo other = kLocal;
	other.pci_device_id = 0x1021;
	StreamBuilder bad;
	bad.stop_copy_size(1).compat(other).image(pattern(1, 0));
	EXPECT_EQ(kstd::Err::ProtoNotSupp, run_whole(bad.bytes).feed_error);
	// Not after an image, not even an empty one: the image was loaded unchecked.
	StreamBuilder after_empty;
	after_empty.image({}).compat().image(pattern(1, 0));
	EXPECT_EQ(kstd::Err::BadMsg, run_whole(after_empty.bytes).feed_error);
	StreamBuilder twice;
	twice.compat().compat().image(pattern(1, 0));
	EXPECT_EQ(kstd::Err::BadMsg, run_whole(twice.bytes).feed_error);
	StreamBuilder after_image;
	after_image.image(pattern(1, 0)).compat();
	const Outcome o = run_whole(after_image.bytes);
	EXPECT_EQ(kstd::Err::BadMsg, o.feed_error);
	EXPECT_EQ(2u, o.events.size()); // the image before it was loaded
}

TEST(StreamParser, StopCopySizeRules)
{
	const uint32_t tag = static_cast<uint32_t>(RecordTag::StopCopySize);
	for (uint64_t n = 0; n < kStopCopySizePayloadSize; n++) {
		StreamBuilder b;
		b.record(n, kRecordOptional, tag, pattern(n, 0)).image(pattern(1, 0));
		EXPECT_EQ(kstd::Err::BadMsg, run_whole(b.bytes).feed_error) << n;
	}
	// Longer than the le64: its first 8 bytes count, the rest is skipped.
	Buf longer(16, 0xee);
	kstd::store_le64(longer.data(), 777);
	StreamBuilder b;
	b.record(longer.size(), kRecordOptional, tag, longer)
		.image(pattern(1, 0))
		.record(8, kRecordMandatory, tag, {1, 0, 0, 0, 0, 0, 0, 0}) // flags do not matter
		.stop_copy_size(5)					    // any number, anywhere
		.image(pattern(1, 1));
	const Outcome o = run_whole(b.bytes);
	const std::vector<std::string> want = {"stop 777", "begin 1", "end 00", "stop 1",
					       "stop 5",   "begin 1", "end 01"};
	EXPECT_EQ(want, o.events);
	EXPECT_TRUE(o.finish_ok) << o;
}

TEST(StreamParser, FwDataIgnoresFlagsLikeInTree)
{
	StreamBuilder b;
	b.record(2, kRecordOptional | 0x80000000U, 0, {7, 8});
	const Outcome o = run_whole(b.bytes);
	EXPECT_EQ((std::vector<std::string>{"begin 2", "end 0708"}), o.events);
	EXPECT_TRUE(o.finish_ok);
}

TEST(StreamParser, SinkErrorsArePropagatedAndLatched)
{
	const Buf s = small_stream().bytes;
	long sink_calls;
	{
		RecordingSink clean;
		clean.piece_size = 2;
		Parser parser(clean);
		ASSERT_TRUE(parser.feed(view(s)).is_ok());
		ASSERT_TRUE(parser.finish().is_ok());
		sink_calls = clean.calls;
		ASSERT_EQ(8 + 3 + 2, sink_calls); // 8 events, 5- and 3-byte images in 2-byte pieces
	}
	for (kstd::Err err : {kstd::Err::Io, kstd::Err::NotConn, kstd::Err::NoMem}) {
		for (long k = 1; k <= sink_calls; k++) {
			RecordingSink sink;
			sink.piece_size = 2;
			sink.fail_call = k;
			sink.fail_with = err;
			Parser parser(sink);
			EXPECT_EQ(err, parser.feed(view(s)).error()) << "call " << k;
			EXPECT_EQ(ParserState::Failed, parser.state());
			EXPECT_EQ(err, parser.error());
			EXPECT_NE(nullptr, parser.error_reason());
			EXPECT_EQ(k, sink.calls); // nothing reaches the sink after its error
			EXPECT_EQ(err, parser.feed(view(s)).error());
			EXPECT_EQ(err, parser.input_window().error());
			EXPECT_EQ(err, parser.commit(1).error());
			EXPECT_EQ(err, parser.finish().error());
			EXPECT_EQ(k, sink.calls);
		}
	}
}

TEST(StreamParser, SinkAllocationFailuresAreLatchedWithoutLeaks)
{
	const Buf s = small_stream().bytes;
	host_shim::reset_allocation_counters();
	ASSERT_TRUE(run_whole(s).finish_ok);
	const long attempts = host_shim::allocation_attempts();
	ASSERT_EQ(2, attempts); // the 5- and 3-byte images (0 bytes needs no memory)
	for (long nth = 1; nth <= attempts; nth++) {
		host_shim::reset_allocation_counters();
		host_shim::fail_nth_allocation(nth);
		const Outcome o = run_whole(s);
		EXPECT_EQ(kstd::Err::NoMem, o.feed_error) << nth;
		EXPECT_EQ(kstd::Err::NoMem, o.finish_error) << nth;
	}
	host_shim::fail_nth_allocation(0);
}

TEST(StreamParser, SinkBufferSmallerThanTheRecordIsRefused)
{
	StreamBuilder b;
	b.image(pattern(10, 0));
	RecordingSink shortish;
	shortish.short_by = 1;
	shortish.piece_size = 4;
	Parser p1(shortish);
	EXPECT_EQ(kstd::Err::NoSpc, p1.feed(view(b.bytes)).error());
	EXPECT_EQ(kRecordHeaderSize + 9, p1.offset()); // 9 bytes fitted
	EXPECT_EQ(0, shortish.end_calls);
	RecordingSink null_pieces;
	null_pieces.null_pieces = true;
	Parser p2(null_pieces);
	EXPECT_EQ(kstd::Err::NoSpc, p2.feed(view(b.bytes)).error());
	EXPECT_EQ(0, null_pieces.end_calls);
}

TEST(StreamParser, ImagePiecesLargerThanTheRecordAreNotOverrun)
{
	// The sink may hand out a whole page for the last few bytes: the parser
	// stops at the record's end and reads the next header from the stream.
	StreamBuilder b;
	b.image(pattern(5, 0)).image(pattern(3, 9));
	RecordingSink sink;
	sink.slack = 4096;
	Parser parser(sink);
	ASSERT_TRUE(parser.feed(view(b.bytes)).is_ok());
	EXPECT_TRUE(parser.finish().is_ok());
	EXPECT_EQ(2, sink.space_calls);
	EXPECT_EQ("end " + hex(pattern(3, 9).data(), 3), sink.events.back());
	EXPECT_EQ(2u, parser.images_loaded());
}

TEST(StreamParser, CommitBeyondTheWindowIsLatched)
{
	RecordingSink sink;
	Parser parser(sink);
	auto w = parser.input_window();
	ASSERT_TRUE(w.is_ok());
	EXPECT_EQ(kRecordHeaderSize, w.value().copy_to.size());
	EXPECT_EQ(kstd::Err::Invalid, parser.commit(kRecordHeaderSize + 1).error());
	EXPECT_EQ(ParserState::Failed, parser.state());
	EXPECT_EQ(kstd::Err::Invalid, parser.feed(view(small_stream().bytes)).error());
}

TEST(StreamParser, FinishIsFinal)
{
	StreamBuilder b;
	b.image(pattern(3, 0));
	RecordingSink sink;
	Parser parser(sink);
	ASSERT_TRUE(parser.feed(view(b.bytes)).is_ok());
	ASSERT_TRUE(parser.finish().is_ok());
	EXPECT_EQ(ParserState::Done, parser.state());
	EXPECT_TRUE(parser.finish().is_ok());
	EXPECT_EQ(kstd::Err::Invalid, parser.feed(view(b.bytes)).error());
	EXPECT_EQ(kstd::Err::Invalid, parser.input_window().error());
	EXPECT_EQ(kstd::Err::Invalid, parser.commit(0).error());
	EXPECT_EQ(ParserState::Done, parser.state()); // misuse, not a stream error
	EXPECT_TRUE(parser.finish().is_ok());
	EXPECT_EQ(2u, sink.events.size());
}

TEST(StreamParser, EmptyFeedsAreHarmless)
{
	RecordingSink sink;
	Parser parser(sink);
	EXPECT_EQ(0u, parser.feed({}).value());
	EXPECT_TRUE(parser.commit(0).is_ok());
	EXPECT_EQ(ParserState::ReadHeader, parser.state());
	EXPECT_EQ(0u, parser.offset());
}

TEST(StreamParser, StateNames)
{
	EXPECT_STREQ("READ_HEADER", parser_state_name(ParserState::ReadHeader));
	EXPECT_STREQ("READ_SMALL_PAYLOAD", parser_state_name(ParserState::ReadSmallPayload));
	EXPECT_STREQ("SKIP_PAYLOAD", parser_state_name(ParserState::SkipPayload));
	EXPECT_STREQ("READ_IMAGE", parser_state_name(ParserState::ReadImage));
	EXPECT_STREQ("DONE", parser_state_name(ParserState::Done));
	EXPECT_STREQ("FAILED", parser_state_name(ParserState::Failed));
	EXPECT_STREQ("INVALID", parser_state_name(static_cast<ParserState>(99)));
}

// Offsets of the le64 record_size fields of small_stream(), for targeted
// mutations.
std::vector<size_t> header_offsets(const StreamBuilder &b)
{
	std::vector<size_t> at = {0};
	for (size_t i = 0; i + 1 < b.record_ends.size(); i++)
		at.push_back(b.record_ends[i]);
	return at;
}

TEST(StreamParser, RandomMutationsNeverMisbehave)
{
	StreamBuilder base;
	base.compat()
		.stop_copy_size(4096)
		.image(pattern(40, 1))
		.image({})
		.record(20, kRecordOptional, kUnknownTag, pattern(20, 2))
		.image(pattern(300, 3));
	const std::vector<size_t> headers = header_offsets(base);
	const uint64_t interesting[] = {0,	    1,		7,    8,   31,		 32,
					33,	    255,	256,  257, kMaxLoadSize, kMaxLoadSize + 1,
					1ULL << 63, ~0ULL - 16, ~0ULL};
	Xorshift rng{0x9e3779b97f4a7c15ULL};
	int finished_ok = 0, failed = 0;

	for (int iter = 0; iter < 4000; iter++) {
		Buf s = base.bytes;
		const int mutations = 1 + static_cast<int>(rng.below(4));
		for (int m = 0; m < mutations && !s.empty(); m++) {
			switch (rng.below(7)) {
			case 0: s[rng.below(s.size())] ^= static_cast<uint8_t>(1u << rng.below(8)); break;
			case 1: s[rng.below(s.size())] = static_cast<uint8_t>(rng.next()); break;
			case 2: { // a hostile record_size where a header was
				const size_t at = headers[rng.below(headers.size())];
				if (at + 8 <= s.size())
					kstd::store_le64(s.data() + at,
							 interesting[rng.below(std::size(interesting))]);
				break;
			}
			case 3: { // a hostile tag or flags word
				const size_t at = headers[rng.below(headers.size())] + 8 + 4 * rng.below(2);
				if (at + 4 <= s.size())
					kstd::store_le32(s.data() + at, static_cast<uint32_t>(rng.next()));
				break;
			}
			case 4: s.resize(rng.below(s.size() + 1)); break;
			case 5: {
				const size_t at = rng.below(s.size() + 1);
				Buf junk(1 + rng.below(24));
				for (auto &j : junk)
					j = static_cast<uint8_t>(rng.next());
				s.insert(s.begin() + static_cast<long>(at), junk.begin(), junk.end());
				break;
			}
			case 6: { // repeat a slice (duplicated or reordered records)
				const size_t from = rng.below(s.size()), len = 1 + rng.below(64);
				const Buf slice(s.begin() + static_cast<long>(from),
						s.begin() +
							static_cast<long>(std::min(s.size(), from + len)));
				const size_t at = rng.below(s.size() + 1);
				s.insert(s.begin() + static_cast<long>(at), slice.begin(), slice.end());
				break;
			}
			}
		}

		RecordingSink sink;
		sink.max_image = 4096;
		sink.piece_size = rng.below(9);
		Parser parser(sink);
		size_t pos = 0;
		bool latched = false;
		kstd::Err err{};
		// Even iterations write(), odd ones go through window and commit.
		const bool zero_copy = iter & 1;
		while (pos < s.size()) {
			size_t n = std::min(s.size() - pos, rng.below(48));
			kstd::Result<void> r = kstd::ok();
			if (zero_copy) {
				auto w = parser.input_window();
				if (w.is_ok()) {
					const InputWindow &win = w.value();
					n = std::min(n,
						     win.copy_to.empty() ? win.discard : win.copy_to.size());
					if (!win.copy_to.empty())
						memcpy(win.copy_to.data(), s.data() + pos, n);
					r = parser.commit(n);
				} else {
					r = w.error();
				}
			} else {
				auto fed = parser.feed(view(s, pos, pos + n));
				if (fed.is_ok())
					ASSERT_EQ(n, fed.value());
				else
					r = fed.error();
			}
			if (r.is_error()) {
				latched = true;
				err = r.error();
				break;
			}
			pos += n;
		}
		ASSERT_LE(sink.end_calls, sink.begin_calls);
		ASSERT_LE(sink.begin_calls - sink.end_calls, 1);
		auto f = parser.finish();
		if (latched) {
			ASSERT_EQ(err, f.error()) << "iteration " << iter;
			ASSERT_EQ(ParserState::Failed, parser.state());
			ASSERT_NE(nullptr, parser.error_reason());
			ASSERT_EQ(err, parser.feed(view(s)).error());
			failed++;
		} else if (f.is_ok()) {
			ASSERT_EQ(ParserState::Done, parser.state());
			ASSERT_GE(parser.images_loaded(), 1u);
			ASSERT_EQ(sink.begin_calls, sink.end_calls);
			ASSERT_EQ(s.size(), parser.offset());
			finished_ok++;
		} else {
			ASSERT_TRUE(f.error() == kstd::Err::BadMsg || f.error() == kstd::Err::NoMsg) << iter;
			ASSERT_EQ(f.error(), parser.finish().error());
			ASSERT_EQ(s.size(), parser.offset());
			failed++;
		}
	}
	// The mutations must exercise both outcomes, or the loop tests nothing.
	EXPECT_GT(finished_ok, 100);
	EXPECT_GT(failed, 1000);
}

} // namespace
} // namespace mlx5vf::stream

// SPDX-License-Identifier: GPL-2.0-only
#include "kstd/alloc.h"
#include "kstd/bits.h"
#include "kstd/list.h"
#include "kstd/result.h"
#include "kstd/span.h"

#include <gtest/gtest.h>

#include "host_shim.h"

namespace {

kstd::Result<int> parse_positive(int v)
{
	if (v <= 0)
		return kstd::Err::Invalid;
	return v;
}

kstd::Result<int> doubled(int v)
{
	const int x = TRY(parse_positive(v));
	return 2 * x;
}

TEST(Kstd, TryPropagatesErrorsAndValues)
{
	EXPECT_EQ(8, doubled(4).value());
	EXPECT_EQ(kstd::Err::Invalid, doubled(-1).error());
	EXPECT_EQ(-22, kstd::to_errno(kstd::Err::Invalid));
}

struct Tracked {
	static int live;
	int v;
	explicit Tracked(int x) : v(x) { live++; }
	~Tracked() { live--; }
};
int Tracked::live = 0;

TEST(Kstd, MakeNamesContextAndFailsCleanly)
{
	host_shim::reset_allocation_counters();
	{
		auto a = kstd::make<Tracked>(kstd::AllocCtx::Sleepable, 7);
		ASSERT_TRUE(a.is_ok());
		EXPECT_EQ(7, a.value()->v);
		EXPECT_EQ(1, Tracked::live);
		host_shim::fail_nth_allocation(1);
		auto b = kstd::make<Tracked>(kstd::AllocCtx::Atomic, 8);
		EXPECT_EQ(kstd::Err::NoMem, b.error());
		EXPECT_EQ(1, Tracked::live);
	}
	EXPECT_EQ(0, Tracked::live);
	EXPECT_EQ(0, host_shim::outstanding_allocations());
}

TEST(Kstd, OwnedArrayRejectsOverflowingSizes)
{
	auto a = kstd::OwnedArray<uint64_t>::create(~size_t{0} / 4, kstd::AllocCtx::Sleepable);
	EXPECT_EQ(kstd::Err::Overflow, a.error());
	auto b = kstd::OwnedArray<uint64_t>::create(16, kstd::AllocCtx::Sleepable);
	ASSERT_TRUE(b.is_ok());
	EXPECT_EQ(0u, b.value()[15]);
}

struct Item : kstd::ListNode<>, kstd::ListNode<struct OtherTag> {
	int v;
	explicit Item(int x) : v(x) {}
};

TEST(Kstd, IntrusiveListsKeepOrderAndAllowMembershipInTwoLists)
{
	Item a(1), b(2), c(3);
	kstd::List<Item> q;
	kstd::List<Item, OtherTag> other;
	q.push_back(a);
	q.push_back(b);
	q.push_front(c);
	other.push_back(b);
	EXPECT_EQ(3u, q.size());
	EXPECT_EQ(3, q.front()->v);
	q.remove(b);
	EXPECT_EQ(2u, q.size());
	EXPECT_EQ(&b, other.front());
	int sum = 0;
	q.for_each([&](Item &i) { sum += i.v; });
	EXPECT_EQ(4, sum);
	EXPECT_EQ(&c, q.pop_front());
	EXPECT_EQ(&a, q.pop_front());
	EXPECT_EQ(nullptr, q.pop_front());
	EXPECT_TRUE(q.empty());
}

TEST(Kstd, BitsAndEndianHelpers)
{
	EXPECT_EQ(0u, kstd::popcount64(0));
	EXPECT_EQ(64u, kstd::popcount64(~0ULL));
	EXPECT_EQ(3u, kstd::popcount64(0x8000000000000101ULL));
	EXPECT_EQ(12u, kstd::ilog2(4096));
	uint64_t r = 0;
	EXPECT_TRUE(kstd::align_up(4097, 4096, &r));
	EXPECT_EQ(8192u, r);
	EXPECT_FALSE(kstd::align_up(~0ULL, 4096, &r));
	uint8_t buf[8];
	kstd::store_le64(buf, 0x0102030405060708ULL);
	EXPECT_EQ(0x08, buf[0]);
	EXPECT_EQ(0x0102030405060708ULL, kstd::load_le64(buf));
}

TEST(Kstd, SpanSlicingIsClamped)
{
	uint8_t data[4] = {1, 2, 3, 4};
	kstd::Bytes s(data);
	EXPECT_EQ(2u, s.subspan(2).size());
	EXPECT_EQ(0u, s.subspan(9).size());
	kstd::ConstBytes c = s.first(3);
	EXPECT_EQ(3u, c.size());
}

} // namespace

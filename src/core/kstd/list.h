// SPDX-License-Identifier: GPL-2.0-only
// Intrusive doubly-linked list: the node lives in the element, so linking and
// unlinking never allocate (usable in atomic context and on the downtime path).
// A list does not own its elements; locking is the caller's business.
//
// An element joins a list kind by deriving from ListNode<Tag>; one element can
// sit on several lists at once with different tags. Getting from the node back
// to the element is a static_cast from base to derived: no offsetof tricks.
#pragma once

#include "utility.h"

namespace kstd {

struct DefaultListTag {};

template <typename Tag = DefaultListTag> struct ListNode {
	ListNode *prev = nullptr;
	ListNode *next = nullptr;

	bool linked() const { return next != nullptr; }
};

template <typename T, typename Tag = DefaultListTag> class List {
	using Node = ListNode<Tag>;

public:
	List() { head_.prev = head_.next = &head_; }
	List(const List &) = delete;
	List &operator=(const List &) = delete;

	bool empty() const { return head_.next == &head_; }
	size_t size() const { return size_; }

	void push_back(T &item) { insert_before(&head_, node(item)); }
	void push_front(T &item) { insert_before(head_.next, node(item)); }

	T *front() const { return empty() ? nullptr : owner(head_.next); }
	T *back() const { return empty() ? nullptr : owner(head_.prev); }

	T *pop_front()
	{
		T *item = front();
		if (item)
			remove(*item);
		return item;
	}

	// item must be on this list.
	void remove(T &item)
	{
		Node *n = node(item);
		n->prev->next = n->next;
		n->next->prev = n->prev;
		n->prev = n->next = nullptr;
		size_--;
	}

	// Visit in order; fn may unlink the element it is given, no other.
	template <typename Fn> void for_each(Fn &&fn) const
	{
		for (Node *n = head_.next, *next; n != &head_; n = next) {
			next = n->next;
			fn(*owner(n));
		}
	}

private:
	static Node *node(T &item) { return static_cast<Node *>(&item); }
	static T *owner(Node *n) { return static_cast<T *>(n); }

	void insert_before(Node *pos, Node *n)
	{
		n->next = pos;
		n->prev = pos->prev;
		pos->prev->next = n;
		pos->prev = n;
		size_++;
	}

	// Sentinel; mutable so const traversals can hand out element pointers.
	mutable Node head_;
	size_t size_ = 0;
};

} // namespace kstd

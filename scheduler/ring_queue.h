// A FIFO in a ring buffer whose first kInline slots live in the object
// itself. A mailbox that holds a message or two at a time (an actor ring,
// ping-pong) then touches no allocation of its own, only the actor's cache
// lines; a long queue grows by doubling and moves in one pass, where
// std::deque allocates and frees a node every few items and keeps a
// separate node map.
//
// Not thread-safe: its owner guards it (scheduler/mailbox.h holds its lock
// around every call).
//
// Layout: `slots_` points at `inline_` or at a heap block of `capacity_`
// slots (a power of two); the items are the `size_` slots from `head_`
// onwards, wrapping around. A heap block is kept when the queue empties,
// unless it is larger than kKeptSlots: an actor that once had a burst of
// messages does not hold their memory while idle.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace weft {

template <class T, std::size_t kInline>
class RingQueue {
  static_assert(kInline > 0 && (kInline & (kInline - 1)) == 0, "a power of two");
  // A move that threw halfway through grow() would lose items.
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>,
                "items must move without throwing");

 public:
  static constexpr std::size_t kKeptSlots = 256;

  RingQueue() = default;
  RingQueue(const RingQueue&) = delete;
  RingQueue& operator=(const RingQueue&) = delete;
  ~RingQueue() {
    clear();
    free_heap_block();
  }

  [[nodiscard]] bool empty() const { return size_ == 0; }
  [[nodiscard]] std::size_t size() const { return size_; }

  void push_back(T&& item) {
    if (size_ == capacity_) grow();
    ::new (static_cast<void*>(slot((head_ + size_) & (capacity_ - 1)))) T(std::move(item));
    ++size_;
  }

  // Moves the first item into `out` and removes it; the queue is not empty.
  void pop_front_into(T& out) {
    out = std::move(*slot(head_));
    drop_front();
    if (size_ == 0) emptied();
  }

  // Moves every item, in order, into `target`, which is empty. A heap
  // block changes hands instead of its items: `target` gets this queue's,
  // and this queue fills `target`'s old one (or its inline slots) next.
  void move_all_into(RingQueue& target) {
    if (slots_ == reinterpret_cast<T*>(inline_)) {
      while (size_ != 0) {
        target.push_back(std::move(*slot(head_)));
        drop_front();
      }
      head_ = 0;
      return;
    }
    T* const their_block = target.slots_;
    const std::size_t their_capacity = target.capacity_;
    const bool theirs_inline = their_block == reinterpret_cast<T*>(target.inline_);
    target.slots_ = slots_;
    target.capacity_ = capacity_;
    target.head_ = head_;
    target.size_ = size_;
    slots_ = theirs_inline ? reinterpret_cast<T*>(inline_) : their_block;
    capacity_ = theirs_inline ? kInline : their_capacity;
    head_ = 0;
    size_ = 0;
  }

  // Every item, in order; the queue is left empty.
  std::vector<T> take_all() {
    std::vector<T> all;
    all.reserve(size_);
    while (size_ != 0) {
      all.push_back(std::move(*slot(head_)));
      drop_front();
    }
    emptied();
    return all;
  }

 private:
  T* slot(std::size_t index) { return std::launder(slots_ + index); }

  void grow() {
    const std::size_t bigger = capacity_ * 2;
    T* block = static_cast<T*>(::operator new (bigger * sizeof(T), std::align_val_t{alignof(T)}));
    for (std::size_t i = 0; i < size_; ++i) {
      T* from = slot((head_ + i) & (capacity_ - 1));
      ::new (static_cast<void*>(block + i)) T(std::move(*from));
      from->~T();
    }
    free_heap_block();
    slots_ = block;
    capacity_ = bigger;
    head_ = 0;
  }

  void emptied() {
    head_ = 0;
    if (capacity_ > kKeptSlots) {
      free_heap_block();
      slots_ = reinterpret_cast<T*>(inline_);
      capacity_ = kInline;
    }
  }

  // Destroys the first item (moved from, or not) and removes it.
  void drop_front() {
    slot(head_)->~T();
    head_ = (head_ + 1) & (capacity_ - 1);
    --size_;
  }

  void clear() {
    while (size_ != 0) drop_front();
  }

  void free_heap_block() {
    if (slots_ != reinterpret_cast<T*>(inline_)) {
      ::operator delete (slots_, std::align_val_t{alignof(T)});
    }
  }

  alignas(T) unsigned char inline_[kInline * sizeof(T)];
  T* slots_ = reinterpret_cast<T*>(inline_);
  std::size_t capacity_ = kInline;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace weft

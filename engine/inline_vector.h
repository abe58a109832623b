// InlineVector: a vector of trivially copyable elements whose first N live
// inside the object, so that the common small case allocates nothing (a
// task's call frames: most tasks never call deeper than their entry
// function; a destruction worklist: most objects have a few children). It
// has only what its users need. Not copyable or movable:
// the data pointer may point into the object itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>

namespace weft {

template <typename T, std::size_t N>
class InlineVector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                "elements are copied with memcpy and never destroyed");
  static_assert(N > 0);

 public:
  InlineVector() = default;
  InlineVector(const InlineVector&) = delete;
  InlineVector& operator=(const InlineVector&) = delete;
  ~InlineVector() { release(); }

  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  void push_back(const T& value) {
    if (size_ == capacity_) grow_to(capacity_ * 2);
    data_[size_++] = value;
  }
  void pop_back() { --size_; }
  void clear() { size_ = 0; }
  void reserve(std::size_t capacity) {
    if (capacity > capacity_) grow_to(capacity);
  }
  // Back to the inline storage, dropping any heap block.
  void reset() {
    release();
    data_ = inline_storage();
    size_ = 0;
    capacity_ = N;
  }

 private:
  T* inline_storage() { return reinterpret_cast<T*>(inline_); }
  void grow_to(std::size_t capacity) {
    T* bigger = static_cast<T*>(::operator new(capacity * sizeof(T)));
    if (size_ != 0) std::memcpy(static_cast<void*>(bigger), data_, size_ * sizeof(T));
    release();
    data_ = bigger;
    capacity_ = static_cast<std::uint32_t>(capacity);
  }
  void release() {
    if (data_ != inline_storage()) ::operator delete(data_);
  }

  alignas(T) unsigned char inline_[N * sizeof(T)];
  T* data_ = inline_storage();
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = N;
};

}  // namespace weft

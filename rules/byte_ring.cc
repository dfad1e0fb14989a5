#include "rules/byte_ring.h"

#include <algorithm>
#include <cstring>

namespace linewatch {

namespace {

constexpr std::size_t kMinCapacity = 32;
constexpr std::size_t kMinStep = 16;

// The capacity for `size` bytes: an eighth more, so a steady window wastes
// little, yet at least kMinStep so small rings do not reallocate every push.
std::size_t roomy(std::size_t size) {
  return std::max(size + std::max(size / 8, kMinStep), kMinCapacity);
}

}  // namespace

ByteRing::ByteRing(const ByteRing& other) { *this = other; }

ByteRing& ByteRing::operator=(const ByteRing& other) {
  if (this == &other) return *this;
  clear();
  data_.reset();
  capacity_ = 0;
  if (other.size_ == 0) return *this;
  reallocate(other.size_);
  for (std::size_t i = 0; i < other.size_; ++i) data_[i] = other.at(i);
  size_ = other.size_;
  return *this;
}

// Moves the content to the front of a new buffer of `capacity` (>= size_).
void ByteRing::reallocate(std::size_t capacity) {
  auto next = std::make_unique_for_overwrite<std::uint8_t[]>(capacity);
  const std::size_t first = std::min(size_, capacity_ - head_);
  if (size_ > 0) {
    std::memcpy(next.get(), data_.get() + head_, first);
    std::memcpy(next.get() + first, data_.get(), size_ - first);
  }
  data_ = std::move(next);
  capacity_ = capacity;
  head_ = 0;
}

void ByteRing::push_back(const std::uint8_t* data, std::size_t n) {
  if (n == 0) return;
  if (size_ + n > capacity_) reallocate(roomy(size_ + n));
  std::size_t tail = head_ + size_;
  if (tail >= capacity_) tail -= capacity_;
  const std::size_t first = std::min(n, capacity_ - tail);
  std::memcpy(data_.get() + tail, data, first);
  std::memcpy(data_.get(), data + first, n - first);
  size_ += n;
}

void ByteRing::pop_front(std::size_t n) {
  n = std::min(n, size_);
  head_ += n;
  if (head_ >= capacity_) head_ -= capacity_;
  size_ -= n;
  if (size_ == 0) {
    head_ = 0;
    data_.reset();
    capacity_ = 0;
    return;
  }
  // Hysteresis: shrink only when more than half stands empty, so a steady
  // window, whose content moves by far less, neither grows nor shrinks.
  if (capacity_ > kMinCapacity && size_ < capacity_ / 2) reallocate(roomy(size_));
}

void ByteRing::clear() {
  head_ = 0;
  size_ = 0;
}

}  // namespace linewatch

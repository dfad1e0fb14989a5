#include "rules/varint_ring.h"

#include <algorithm>
#include <utility>

namespace linewatch {

VarintRing::VarintRing(const VarintRing& other) { *this = other; }

VarintRing& VarintRing::operator=(const VarintRing& other) {
  if (this == &other) return *this;
  clear();
  reallocate(other.size_);
  for (std::size_t i = 0; i < other.size_; ++i) data_[i] = other.at(other.begin_ + i);
  size_ = other.size_;
  begin_ = other.begin_;
  return *this;
}

VarintRing& VarintRing::operator=(VarintRing&& other) noexcept {
  VarintRing gone;
  gone.swap(other);
  swap(gone);
  return *this;
}

std::size_t VarintRing::encode(std::uint64_t value, std::uint8_t* out) {
  std::size_t n = 0;
  while (value >= 0x80) {
    out[n++] = static_cast<std::uint8_t>(value | 0x80);
    value >>= 7;
  }
  out[n++] = static_cast<std::uint8_t>(value);
  return n;
}

void VarintRing::push(const std::uint8_t* data, std::size_t n, std::size_t expected) {
  const std::size_t need = size_ + n;
  if (need > capacity_) {
    const std::size_t grown = capacity_ + std::max<std::size_t>(capacity_ / 8, 16);
    reallocate(std::max(need, std::min(grown, expected)));
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t k = head_ + size_ + i;
    if (k >= capacity_) k -= capacity_;
    data_[k] = data[i];
  }
  size_ = need;
}

std::uint64_t VarintRing::read(std::uint64_t& pos) const {
  std::uint64_t value = 0;
  for (unsigned shift = 0;; shift += 7) {
    const std::uint8_t byte = at(pos++);
    value |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0 || shift >= 63) return value;
  }
}

void VarintRing::pop_to(std::uint64_t pos) {
  const auto n = static_cast<std::size_t>(pos - begin_);
  head_ += n;
  if (head_ >= capacity_) head_ -= capacity_;
  size_ -= n;
  begin_ = pos;
}

void VarintRing::shrink() {
  if (size_ == 0) {
    data_.reset();
    capacity_ = head_ = 0;
  } else if (capacity_ > 32 && size_ <= capacity_ / 4) {
    reallocate(2 * size_);
  }
}

void VarintRing::clear() {
  data_.reset();
  capacity_ = head_ = size_ = 0;
  begin_ = 0;
}

void VarintRing::reallocate(std::size_t capacity) {
  std::unique_ptr<std::uint8_t[]> data(capacity > 0 ? new std::uint8_t[capacity] : nullptr);
  for (std::size_t i = 0; i < size_; ++i) data[i] = at(begin_ + i);
  data_ = std::move(data);
  capacity_ = capacity;
  head_ = 0;
}

void VarintRing::swap(VarintRing& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(capacity_, other.capacity_);
  std::swap(head_, other.head_);
  std::swap(size_, other.size_);
  std::swap(begin_, other.begin_);
}

}  // namespace linewatch

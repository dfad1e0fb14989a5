// ByteRing: a FIFO of bytes in one circular buffer, for per-series windows
// that append at the back and age out at the front.
//
// Why not std::deque<std::uint8_t>: a deque allocates 512-byte blocks plus a
// block map, so a series holding 2 KB costs about 3 KB, and ten thousand small
// series waste megabytes. The ring holds one allocation that, when full, grows
// to its content plus an eighth (at least 16 bytes more), and when more than
// half stands empty shrinks to the same; an empty ring frees it. A series in
// its steady state thus wastes at most an eighth of what it holds plus 16
// bytes, while a push still copies each byte O(1) times amortised: a
// reallocation of n bytes follows at least n/9 pushed or popped bytes.
//
// Not thread-safe: the owner serialises access.
// Cost: push_back amortised O(bytes); pop_front O(1); at() O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace linewatch {

class ByteRing {
 public:
  ByteRing() = default;
  ByteRing(const ByteRing& other);
  ByteRing& operator=(const ByteRing& other);
  ByteRing(ByteRing&&) noexcept = default;
  ByteRing& operator=(ByteRing&&) noexcept = default;

  // Appends `n` bytes from `data` (not inside this ring); grows as needed.
  void push_back(const std::uint8_t* data, std::size_t n);
  // Drops the oldest `n` bytes (at most size()); may shrink the buffer, and
  // frees it once the ring is empty.
  void pop_front(std::size_t n);
  // The byte `i` places after the oldest (i < size()).
  std::uint8_t at(std::size_t i) const {
    std::size_t k = head_ + i;
    if (k >= capacity_) k -= capacity_;
    return data_[k];
  }
  void clear();

  std::size_t size() const { return size_; }
  // Bytes allocated: what the ring costs besides its own fields.
  std::size_t capacity() const { return capacity_; }

 private:
  void reallocate(std::size_t capacity);

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;  // index of the oldest byte
  std::size_t size_ = 0;
};

}  // namespace linewatch

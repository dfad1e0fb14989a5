// VarintRing: a FIFO of bytes holding unsigned varints (LEB128: 7 bits a
// byte, low first), for the alert windows' compact samples
// (rules/alert_window.h).
//
// Bytes are addressed by position: the count of bytes pushed before them
// since the last clear(), so a reader's position stays valid while older
// bytes leave the front. Why not ByteRing (rules/byte_ring.h): it grows by
// half; ten thousand windows in their steady state would hold a quarter of
// their room unused on average. This ring grows by an eighth (at least 16
// bytes), never past the room the caller expects to need, and shrinks to
// twice its content once three quarters stand empty; an empty one holds no
// heap.
//
// Not thread-safe: the owner serialises access.
// Cost: push amortised O(bytes); read O(bytes read); pop_to O(1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace linewatch {

class VarintRing {
 public:
  // The longest varint of a 64-bit number.
  static constexpr std::size_t kMaxVarintBytes = 10;

  VarintRing() = default;
  VarintRing(const VarintRing& other);
  VarintRing& operator=(const VarintRing& other);
  VarintRing(VarintRing&& other) noexcept { swap(other); }
  VarintRing& operator=(VarintRing&& other) noexcept;

  // Writes the varint of `value` to `out` (room for kMaxVarintBytes);
  // returns the bytes written.
  static std::size_t encode(std::uint64_t value, std::uint8_t* out);

  // Appends `n` bytes from `data` (not inside this ring). When full it grows
  // by an eighth, but to no more than `expected` (the bytes the caller
  // expects to hold at most) unless the bytes need it.
  void push(const std::uint8_t* data, std::size_t n, std::size_t expected);
  // The varint at `pos` (begin() <= pos, and a whole varint before end());
  // moves `pos` past it.
  std::uint64_t read(std::uint64_t& pos) const;
  // Drops the bytes before `pos` (begin() <= pos <= end()).
  void pop_to(std::uint64_t pos);
  // Gives back room: all of it when empty; down to twice the content once
  // three quarters of it are unused.
  void shrink();
  // Forgets every byte and frees the room; positions start again at 0.
  void clear();

  std::uint64_t begin() const { return begin_; }
  std::uint64_t end() const { return begin_ + size_; }
  std::size_t size() const { return size_; }
  // Bytes allocated: what the ring costs besides its own fields.
  std::size_t capacity() const { return capacity_; }

 private:
  std::uint8_t at(std::uint64_t pos) const {
    std::size_t k = head_ + static_cast<std::size_t>(pos - begin_);
    if (k >= capacity_) k -= capacity_;
    return data_[k];
  }
  void reallocate(std::size_t capacity);
  void swap(VarintRing& other) noexcept;

  std::unique_ptr<std::uint8_t[]> data_;
  std::size_t capacity_ = 0;
  std::size_t head_ = 0;  // index in data_ of the byte at begin_
  std::size_t size_ = 0;
  std::uint64_t begin_ = 0;
};

}  // namespace linewatch

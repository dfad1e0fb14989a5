#include "rules/varint_ring.h"

#include <doctest/doctest.h>

#include <deque>
#include <limits>
#include <random>

using namespace linewatch;

namespace {

void push_varint(VarintRing& ring, std::uint64_t v, std::size_t expected = 1u << 30) {
  std::uint8_t bytes[VarintRing::kMaxVarintBytes];
  ring.push(bytes, VarintRing::encode(v, bytes), expected);
}

}  // namespace

TEST_CASE("varint ring: numbers of every size read back across wraps, growth and shrinking") {
  std::mt19937_64 rng(5);
  VarintRing ring;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> held;  // (position, value)
  const std::uint64_t edges[] = {0,     127,   128,
                                 16383, 16384, std::numeric_limits<std::uint64_t>::max()};
  for (int step = 0; step < 20000; ++step) {
    // Grows for a while, then mostly drains, so the ring fills, wraps and shrinks.
    const bool grow = (step / 2000) % 2 == 0 ? rng() % 4 != 0 : rng() % 4 == 0;
    if (grow || held.empty()) {
      const std::uint64_t v = rng() % 8 == 0 ? edges[rng() % 6] : rng() >> (rng() % 64);
      held.emplace_back(ring.end(), v);
      push_varint(ring, v);
    } else {
      held.pop_front();
      ring.pop_to(held.empty() ? ring.end() : held.front().first);
      ring.shrink();
    }
    REQUIRE(ring.capacity() >= ring.size());
    if (step % 97 == 0) {
      std::uint64_t pos = ring.begin();
      for (const auto& [at, v] : held) {
        REQUIRE(pos == at);
        CHECK(ring.read(pos) == v);
      }
      CHECK(pos == ring.end());
      const VarintRing copy = ring;
      std::uint64_t in_copy = copy.begin();
      for (const auto& [at, v] : held) CHECK(copy.read(in_copy) == v);
    }
  }
  held.clear();
  ring.pop_to(ring.end());
  ring.shrink();
  CHECK(ring.capacity() == 0);  // empty: no heap
}

TEST_CASE("varint ring: grows by an eighth, and not past the room expected") {
  VarintRing ring;
  std::size_t growths = 0, last = 0;
  for (int i = 0; i < 4000; ++i) {
    push_varint(ring, 1);
    if (ring.capacity() != last) {
      ++growths;
      // A new room past the first 16 bytes is at most an eighth more than it held.
      if (last >= 128) CHECK(ring.capacity() <= last + last / 8);
      last = ring.capacity();
    }
  }
  CHECK(ring.size() == 4000);
  CHECK(ring.capacity() <= 4000 + 4000 / 8);
  CHECK(growths < 50);  // not byte by byte
  // A caller that expects to hold 100 bytes gets no more room than that.
  VarintRing capped;
  for (int i = 0; i < 100; ++i) push_varint(capped, 1, 100);
  CHECK(capped.capacity() == 100);
  push_varint(capped, 1, 100);  // more than expected still fits
  CHECK(capped.size() == 101);
}

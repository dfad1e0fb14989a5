#include "rules/byte_ring.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

using namespace linewatch;

namespace {

std::vector<std::uint8_t> contents(const ByteRing& r) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < r.size(); ++i) out.push_back(r.at(i));
  return out;
}

}  // namespace

TEST_CASE("a byte ring keeps its bytes in order across the wrap") {
  ByteRing ring;
  std::uint8_t next = 1;
  auto push = [&](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i, ++next) ring.push_back(&next, 1);
  };
  push(20);
  const std::size_t capacity = ring.capacity();
  REQUIRE(capacity >= 20);
  REQUIRE(capacity < 40);
  // Twenty bytes stay held (never half empty, so no shrink) while the head
  // moves forward by 40: the tail wraps at least once.
  for (int i = 0; i < 10; ++i) {
    push(4);
    ring.pop_front(4);
  }
  CHECK(ring.capacity() == capacity);  // no growth: the bytes wrapped around
  std::vector<std::uint8_t> want;
  for (std::uint8_t v = 41; v <= 60; ++v) want.push_back(v);
  CHECK(contents(ring) == want);
}

TEST_CASE("a byte ring matches a deque under random pushes and pops") {
  std::mt19937_64 rng(5);
  ByteRing ring;
  std::deque<std::uint8_t> want;
  std::size_t most = 0, most_capacity = 0;
  for (int step = 0; step < 20'000; ++step) {
    if (rng() % 2 == 0) {
      std::vector<std::uint8_t> bytes(rng() % 40);
      for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
      ring.push_back(bytes.data(), bytes.size());
      want.insert(want.end(), bytes.begin(), bytes.end());
    } else {
      const std::size_t n = rng() % 45;
      ring.pop_front(n);
      want.erase(want.begin(),
                 want.begin() + static_cast<std::ptrdiff_t>(std::min(n, want.size())));
    }
    REQUIRE(ring.size() == want.size());
    if (step % 101 == 0)
      CHECK(contents(ring) == std::vector<std::uint8_t>(want.begin(), want.end()));
    most = std::max(most, ring.size());
    most_capacity = std::max(most_capacity, ring.capacity());
    CHECK(ring.capacity() >= ring.size());
  }
  // Growth by an eighth: never more than 9/8 of the most it held, plus the
  // smallest step (16) or the smallest buffer (32).
  CHECK(most_capacity <= most + most / 8 + 32);
}

TEST_CASE("a byte ring in a steady window wastes at most an eighth and stops reallocating") {
  // Like a series of 3-byte rounds that keeps 300 of them: filled once, then
  // one round in and one out for a long time.
  ByteRing ring;
  const std::uint8_t round[3] = {1, 2, 3};
  for (int i = 0; i < 300; ++i) ring.push_back(round, 3);
  const std::size_t filled = ring.capacity();
  CHECK(filled <= 900 + 900 / 8 + 16);
  for (int i = 0; i < 100'000; ++i) {
    ring.push_back(round, 3);
    ring.pop_front(3);
    REQUIRE(ring.capacity() == filled);
  }
  std::vector<std::uint8_t> want;
  for (int i = 0; i < 300; ++i) want.insert(want.end(), round, round + 3);
  CHECK(contents(ring) == want);  // still in order across many wraps
}

TEST_CASE("a byte ring shrinks once mostly empty and copies by value") {
  ByteRing ring;
  std::vector<std::uint8_t> bytes(4000, 7);
  ring.push_back(bytes.data(), bytes.size());
  CHECK(ring.capacity() >= 4000);
  ring.pop_front(3990);
  CHECK(ring.capacity() <= 64);
  CHECK(contents(ring) == std::vector<std::uint8_t>(10, 7));
  ByteRing copy = ring;
  ring.pop_front(10);
  CHECK(ring.size() == 0);
  CHECK(ring.capacity() == 0);  // an empty ring holds no buffer
  CHECK(contents(copy) == std::vector<std::uint8_t>(10, 7));
  ring.push_back(bytes.data(), 5);  // and takes one again when needed
  CHECK(contents(ring) == std::vector<std::uint8_t>(5, 7));
}

TEST_CASE("a byte ring shrinks by halves as it empties, not at every pop") {
  ByteRing ring;
  std::vector<std::uint8_t> bytes(9000, 1);
  ring.push_back(bytes.data(), bytes.size());
  int shrinks = 0;
  std::size_t capacity = ring.capacity();
  while (ring.size() > 0) {
    ring.pop_front(3);
    CHECK(ring.capacity() >= ring.size());
    if (ring.size() > 0) CHECK(ring.capacity() <= 2 * ring.size() + 32);  // no more than half empty
    if (ring.capacity() != capacity) ++shrinks;
    capacity = ring.capacity();
  }
  // 9000 bytes to none in 3000 pops: about log2(9000 / 32) halvings, a few
  // more where the 16-byte step dominates, and the release.
  CHECK(shrinks <= 16);
}

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
  const std::uint8_t a[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
  ring.push_back(a, 20);
  const std::size_t capacity = ring.capacity();
  REQUIRE(capacity >= 20);
  ring.pop_front(15);  // head near the end once the next push wraps
  ring.push_back(a, 10);
  CHECK(ring.capacity() == capacity);  // no growth: the bytes wrapped around
  CHECK(contents(ring) == std::vector<std::uint8_t>{16, 17, 18, 19, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9,
                                                    10});
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
      want.erase(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(std::min(n, want.size())));
    }
    REQUIRE(ring.size() == want.size());
    if (step % 101 == 0) CHECK(contents(ring) == std::vector<std::uint8_t>(want.begin(), want.end()));
    most = std::max(most, ring.size());
    most_capacity = std::max(most_capacity, ring.capacity());
    CHECK(ring.capacity() >= ring.size());
  }
  // Growth by half: never more than 1.5 times the most it held, plus the minimum.
  CHECK(most_capacity <= most + most / 2 + 40);
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
  CHECK(contents(copy) == std::vector<std::uint8_t>(10, 7));
}

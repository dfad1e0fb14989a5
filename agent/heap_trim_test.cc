#include "agent/heap_trim.h"

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

// Waits up to 5 s for `done`.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

}  // namespace

TEST_CASE("a trim gives back free pages held between live blocks") {
  // 48 MiB of 1 KiB blocks, written so that every page is resident; then all
  // but one block in 64 are freed. The survivors pin the heap's top, so only
  // a trim can hand the free pages between them back.
  constexpr std::size_t kBlock = 1024, kBlocks = 48 * 1024;
  std::vector<std::unique_ptr<char[]>> blocks(kBlocks);
  for (auto& b : blocks) {
    b.reset(new char[kBlock]);
    std::memset(b.get(), 0x5a, kBlock);
  }
  for (std::size_t i = 0; i < kBlocks; ++i)
    if (i % 64 != 63) blocks[i].reset();
  const std::uint64_t before = resident_bytes();
  REQUIRE(before > 0);
  const std::uint64_t released = trim_heap();
  CHECK(released >= 24u * 1024 * 1024);
  CHECK(resident_bytes() + 24u * 1024 * 1024 <= before);
}

TEST_CASE("the trimmer trims after start and soon after a poke") {
  HeapTrimmer trimmer(HeapTrimOptions{10ms, 1h, 10ms});
  REQUIRE(eventually([&] { return trimmer.stats().trims == 1; }));
  CHECK(trimmer.stats().rss_bytes > 0);
  std::this_thread::sleep_for(50ms);
  CHECK(trimmer.stats().trims == 1);  // the period is an hour: nothing more without a poke
  trimmer.poke();
  CHECK(eventually([&] { return trimmer.stats().trims == 2; }));
}

TEST_CASE("the trimmer stops promptly with trims far off") {
  const auto start = std::chrono::steady_clock::now();
  { HeapTrimmer trimmer(HeapTrimOptions{1h, 1h, 1h}); }
  CHECK(std::chrono::steady_clock::now() - start < 5s);
}

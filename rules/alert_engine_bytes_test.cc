// The heap an alert engine holds per scope key, measured by counting every
// allocation of this test binary: the operator new below prefixes each
// block with its size, so the live total is exact (requested bytes, as
// heaptrack reports them; the allocator's own rounding comes on top).
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "rules/alert_engine.h"

namespace {

// Live bytes requested through operator new in this process.
std::atomic<std::size_t> live_bytes{0};
constexpr std::size_t kHeader = alignof(std::max_align_t);

}  // namespace

void* operator new(std::size_t n) {
  void* p = std::malloc(n + kHeader);
  if (p == nullptr) throw std::bad_alloc();
  *static_cast<std::size_t*>(p) = n;
  live_bytes += n;
  return static_cast<char*>(p) + kHeader;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  char* block = static_cast<char*>(p) - kHeader;
  live_bytes -= *reinterpret_cast<std::size_t*>(block);
  std::free(block);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

// One answered 5-echo ICMP round of `line` towards `target`.
ProbeResult icmp_round(const std::string& line, const std::string& target, int i) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::icmp;
  r.ok = true;
  r.reason = Reason::ok;
  r.sent = 5;
  for (int k = 0; k < 5; ++k)
    r.rtts.push_back(Duration(150ms + std::chrono::microseconds(i % 97 + k)));
  summarise_echoes(r);
  return r;
}

}  // namespace

TEST_CASE("a series scope key of one rule and one window costs at most 250 heap bytes") {
  std::vector<AlertRule> rules{default_rules()[0]};  // latency: rtt_p95, series scope, 5m
  REQUIRE(rules[0].scope == AlertScope::series);
  auto engine = AlertEngine::create(rules, AlertEngineOptions{"bj-gw-1", {"ops"}});
  REQUIRE(engine);
  constexpr int kLines = 4, kSeries = 10'000;
  std::vector<std::string> lines, targets;
  for (int l = 0; l < kLines; ++l) lines.push_back("cn2-bj-" + std::to_string(l + 1));
  for (int t = 0; t < kSeries / kLines; ++t) targets.push_back("target-" + std::to_string(t));

  const std::size_t before = live_bytes;
  MonoTime at{};
  for (int i = 0; i < kSeries; ++i) {
    engine->observe(icmp_round(lines[i % kLines], targets[i / kLines], i), at);
    at += 1ms;
  }
  engine->evaluate(at, WallTime{});
  const std::size_t held = live_bytes - before;
  REQUIRE(engine->scope_count() == kSeries);

  const std::size_t samples = engine->sample_bytes();
  REQUIRE(samples > 0);
  REQUIRE(samples < held);
  const std::size_t per_entry = (held - samples) / kSeries;
  MESSAGE("per scope key: " << per_entry << " bytes besides " << samples / kSeries
                            << " of samples");
  CHECK(per_entry <= 250);
}

TEST_CASE("the alert engine's per scope key parts stay small") {
  CHECK(sizeof(CompactScopeKey) <= 24);
  CHECK(sizeof(AlertState) <= 24);
  CHECK(sizeof(AlertWindow) <= 152);
}

#include "rules/liveness.h"

#include <doctest/doctest.h>

#include <vector>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const MonoTime t0{};

LivenessOptions default_profile(std::vector<std::string> reflectors = {"edge"}) {
  LivenessOptions o;
  o.reflectors = std::move(reflectors);
  return o;
}

// Sends one echo to `reflector` at `sent`, answered `rtt` later.
void echo(LineLiveness& l, const std::string& reflector, std::uint64_t seq, MonoTime sent,
          Duration rtt) {
  l.on_sent(reflector, seq, sent);
  l.on_reply(reflector, seq, sent, sent + rtt);
}

}  // namespace

TEST_CASE("liveness: silence is declared at exactly detect after the last reply") {
  LineLiveness l(default_profile(), t0);
  echo(l, "edge", 1, t0, 150ms);
  const MonoTime last = t0 + 150ms;
  for (MonoTime t = t0 + 100ms; t < last + 1s; t += 100ms) CHECK_FALSE(l.tick(t).has_value());
  CHECK_FALSE(l.tick(last + 1s - 1ns).has_value());
  auto change = l.tick(last + 1s);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::silent);
  CHECK(change->since == last);
  CHECK(change->detail == "no reply for 1.00s from 1 reflector");
  CHECK_FALSE(l.alive());
  CHECK(l.stats().silences == 1);
  // One verdict per flip: later ticks in the same silence say nothing.
  CHECK_FALSE(l.tick(last + 1100ms).has_value());
}

TEST_CASE("liveness: a line that never answers is silent miss_timeout plus detect after start") {
  const MonoTime start = t0 + 5s;
  LineLiveness l(default_profile(), start);
  for (int i = 1; i < 20; ++i) CHECK_FALSE(l.tick(start + i * 100ms).has_value());
  auto change = l.tick(start + 2s);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::silent);
  CHECK(change->since == start);
}

TEST_CASE("liveness: the first reply after a silence makes the line alive") {
  LineLiveness l(default_profile(), t0);
  for (int i = 1; i <= 20; ++i) l.tick(t0 + i * 100ms);
  REQUIRE_FALSE(l.alive());
  l.on_sent("edge", 7, t0 + 2050ms);
  l.on_reply("edge", 7, t0 + 2050ms, t0 + 2070ms);
  auto change = l.tick(t0 + 2100ms);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::alive);
  CHECK(change->since == t0 + 2070ms);
  CHECK(change->detail == "reply after 2.07s of silence");
  CHECK(l.alive());
  CHECK(l.since() == t0 + 2070ms);
}

TEST_CASE("liveness: one answering reflector keeps the line alive") {
  LineLiveness l(default_profile({"edge", "far"}), t0);
  for (int i = 0; i < 50; ++i) {
    const MonoTime t = t0 + i * 100ms;
    l.on_sent("far", i, t);  // never answered
    echo(l, "edge", i, t, 40ms);
    CHECK_FALSE(l.tick(t + 50ms).has_value());
  }
  CHECK(l.alive());
}

TEST_CASE("liveness: a stalled loop tilts instead of declaring the line down") {
  LineLiveness l(default_profile(), t0);
  echo(l, "edge", 1, t0, 10ms);
  CHECK_FALSE(l.tick(t0 + 100ms).has_value());
  // The loop stalls for 2 s: longer than detect, but nothing was watched.
  auto change = l.tick(t0 + 2100ms);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::tilt);
  CHECK(change->since == t0 + 2100ms);
  CHECK(l.alive());
  CHECK(l.stats().tilts == 1);
  CHECK(tilt_event("cn2", *change, WallTime{}).kind == "tilt");
  // The silence is measured anew from the tilt, the first reply awaited for
  // miss_timeout: down only miss_timeout + detect later.
  for (MonoTime t = t0 + 2200ms; t < t0 + 4100ms; t += 100ms) CHECK_FALSE(l.tick(t).has_value());
  auto down = l.tick(t0 + 4100ms);
  REQUIRE(down.has_value());
  CHECK(down->kind == LivenessChangeKind::silent);
  CHECK(down->since == t0 + 2100ms);
}

TEST_CASE("liveness: replies read after a stall keep the line alive") {
  LineLiveness l(default_profile(), t0);
  l.tick(t0 + 100ms);
  // Replies kept arriving while the loop was stalled; they are read at once.
  for (int i = 0; i < 20; ++i) echo(l, "edge", i, t0 + 100ms + i * 100ms, 20ms);
  auto change = l.tick(t0 + 2100ms);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::tilt);
  CHECK(l.alive());
  CHECK(l.stats().silences == 0);
}

TEST_CASE("liveness: tilt_after overrides half of detect") {
  LivenessOptions o = default_profile();
  CHECK(o.tilt_threshold() == 500ms);
  o.tilt_after = 300ms;
  LineLiveness l(o, t0);
  CHECK_FALSE(l.tick(t0 + 300ms).has_value());
  auto change = l.tick(t0 + 601ms);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::tilt);
}

TEST_CASE("liveness: the 3-miss diagnostic counts runs of three misses") {
  LivenessOptions o = default_profile();
  o.miss_timeout = 500ms;
  LineLiveness l(o, t0);
  // a = answered, m = missed: two runs of 3 or more, one of 2.
  const std::string pattern = "aammmaammmmamma";
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const MonoTime t = t0 + i * 100ms;
    l.on_sent("edge", i, t);
    if (pattern[i] == 'a') l.on_reply("edge", i, t, t + 30ms);
    l.tick(t + 50ms);
  }
  l.tick(t0 + pattern.size() * 100ms + 1s);
  CHECK(l.stats().echoes == pattern.size());
  CHECK(l.stats().replies == 6);
  CHECK(l.stats().misses == 9);
  CHECK(l.stats().three_miss_trips == 2);
  CHECK(l.stats().silences == 0);
}

namespace {

// Echoes to reflectors a and b every 100 ms (10 each); `a_misses` and
// `b_misses` say which are lost. Ticks every 100 ms until every echo settled.
LivenessStats two_reflectors(bool (*a_misses)(int), bool (*b_misses)(int)) {
  LivenessOptions o = default_profile({"a", "b"});
  o.miss_timeout = 500ms;
  LineLiveness l(o, t0);
  for (int i = 0; i < 20; ++i) {
    const MonoTime t = t0 + i * 100ms;
    if (i < 10) {
      l.on_sent("a", i, t);
      l.on_sent("b", i, t);
      if (!a_misses(i)) l.on_reply("a", i, t, t + 30ms);
      if (!b_misses(i)) l.on_reply("b", i, t, t + 30ms);
    }
    l.tick(t + 50ms);
  }
  return l.stats();
}

}  // namespace

TEST_CASE("liveness: the 3-miss diagnostic trips a line only when every reflector has") {
  // a misses echoes 0-3 and recovers at 4; b misses 4-7 and trips at 6: never both.
  auto apart = two_reflectors([](int i) { return i < 4; }, [](int i) { return i >= 4 && i < 8; });
  CHECK(apart.misses == 8);
  CHECK(apart.three_miss_trips == 0);
  // b misses 1-5 (tripped at 3), a misses 2-6 (tripped at 4): both down at echo 4.
  auto overlap =
      two_reflectors([](int i) { return i >= 2 && i < 7; }, [](int i) { return i >= 1 && i < 6; });
  CHECK(overlap.misses == 10);
  CHECK(overlap.three_miss_trips == 1);
}

TEST_CASE("liveness: a reply later than miss_timeout is late but still proves the line") {
  LivenessOptions o = default_profile();
  o.miss_timeout = 200ms;
  LineLiveness l(o, t0);
  l.on_sent("edge", 1, t0);
  l.on_reply("edge", 1, t0, t0 + 300ms);
  l.on_reply("edge", 99, t0, t0 + 310ms);  // never sent: unknown
  for (MonoTime t = t0 + 100ms; t < t0 + 1310ms; t += 100ms) CHECK_FALSE(l.tick(t).has_value());
  CHECK(l.stats().late_replies == 2);
  CHECK(l.stats().misses == 1);
  CHECK_FALSE(l.tick(t0 + 1310ms - 1ns).has_value());  // silence counted from the last reply
  CHECK(l.tick(t0 + 1310ms).has_value());
}

namespace {

// A 150 ms line on the fast profile: echoes every 10 ms from `from` until
// `until`, each answered 150 ms later; ticks every 10 ms. Returns the first change
// other than a tilt.
std::optional<LivenessChange> slow_line(LineLiveness& l, MonoTime from, MonoTime until,
                                        std::uint64_t seq = 0) {
  for (MonoTime t = from; t < until; t += 10ms, ++seq) {
    if (t - from >= 150ms) l.on_reply("edge", seq - 15, t - 150ms, t);
    l.on_sent("edge", seq, t);
    auto change = l.tick(t);
    if (change && change->kind != LivenessChangeKind::tilt) return change;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("liveness: the first reply after start may take longer than detect") {
  LineLiveness l(LivenessOptions::fast(), t0);
  CHECK_FALSE(slow_line(l, t0, t0 + 2s).has_value());
  CHECK(l.alive());
}

TEST_CASE("liveness: after a tilt the first reply may take longer than detect") {
  LineLiveness l(LivenessOptions::fast(), t0);
  REQUIRE_FALSE(slow_line(l, t0, t0 + 1s).has_value());
  // The loop (sender included) stalls for a second, then resumes.
  auto change = l.tick(t0 + 2s);
  REQUIRE(change.has_value());
  CHECK(change->kind == LivenessChangeKind::tilt);
  CHECK_FALSE(slow_line(l, t0 + 2s + 10ms, t0 + 4s, 1000).has_value());
  CHECK(l.alive());
}

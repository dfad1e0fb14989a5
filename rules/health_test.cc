#include "rules/health.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

HealthInput good() { return {}; }

HealthInput silent() {
  HealthInput in;
  in.alive = false;
  in.silence_detail = "no reply for 1.00s from 1 reflector";
  return in;
}

HealthInput lossy() {
  HealthInput in;
  in.breaches.loss = true;
  in.breaches.detail = "loss 5.0% > 2.0%";
  return in;
}

struct Line {
  explicit Line(HealthOptions o = {}) : options(o), health("cn2", o, clock) {}
  // Advances the clock by `step`, then evaluates `in`.
  std::vector<Event> at(Duration step, const HealthInput& in) {
    clock.advance(step);
    return health.evaluate(in);
  }
  FakeClock clock;
  HealthOptions options;
  LineHealth health;
};

std::vector<std::string> kinds(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.kind);
  return out;
}

using Kinds = std::vector<std::string>;

}  // namespace

TEST_CASE("health: a line starts up and unevaluated") {
  Line l;
  const HealthSnapshot s = l.health.snapshot();
  CHECK(s.line == "cn2");
  CHECK(s.state == LineState::up);
  CHECK(s.reason == "startup");
  CHECK(s.takes_traffic);
  CHECK_FALSE(s.evaluated);
  CHECK(l.at(1s, good()).empty());
  CHECK(l.health.snapshot().evaluated);
}

TEST_CASE("health: silence takes a line down at once") {
  Line l;
  auto events = l.at(1s, silent());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "line_down");
  CHECK(events[0].line == "cn2");
  CHECK(events[0].reason == "silence");
  CHECK(events[0].time == l.clock.wall_now());
  CHECK(events[0].detail.find("no reply for 1.00s") != std::string::npos);
  CHECK(l.health.state() == LineState::down);
  CHECK_FALSE(l.health.takes_traffic());
  CHECK(l.health.snapshot().since == l.clock.now());
  CHECK(l.health.snapshot().since_wall == l.clock.wall_now());
  // Events only on change: the same silence again says nothing.
  for (int i = 0; i < 10; ++i) CHECK(l.at(100ms, silent()).empty());
}

TEST_CASE("health: an SLA breach degrades at once and silence then takes it down") {
  Line l;
  auto events = l.at(1s, lossy());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "line_degraded");
  CHECK(events[0].reason == "loss");
  CHECK_FALSE(l.health.takes_traffic());
  CHECK(l.at(1s, lossy()).empty());
  CHECK(kinds(l.at(1s, silent())) == Kinds{"line_down"});
  CHECK(l.health.penalty() == doctest::Approx(1000));  // one failure: leaving up
}

TEST_CASE("health: silence excused by down destinations keeps the line up") {
  Line l;
  HealthInput in = silent();
  in.silence_excused = true;
  CHECK(l.at(1s, in).empty());
  CHECK(l.health.state() == LineState::up);
}

TEST_CASE("health: rise needs that many better evaluations in a row") {
  HealthOptions o;
  o.min_dwell = 0s;
  o.hold_down = 0s;
  Line l(o);
  l.at(1s, silent());
  CHECK(l.at(1s, good()).empty());
  CHECK(l.at(1s, good()).empty());
  CHECK(l.at(1s, silent()).empty());  // the run is broken
  CHECK(l.at(1s, good()).empty());
  CHECK(l.at(1s, good()).empty());
  auto events = l.at(1s, good());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "line_up");
  CHECK(events[0].reason == "rise");
  CHECK(l.health.state() == LineState::up);
  CHECK(l.health.takes_traffic());  // no hold-down configured
}

TEST_CASE("health: a rise ends at the worst grade it saw") {
  HealthOptions o;
  o.min_dwell = 0s;
  Line l(o);
  l.at(1s, silent());
  l.at(1s, good());
  l.at(1s, lossy());
  auto events = l.at(1s, good());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "line_degraded");
  CHECK(events[0].reason == "loss");
  CHECK(events[0].detail.find("alive again") != std::string::npos);
  CHECK(l.health.state() == LineState::degraded);
  // From degraded, a clean rise is a recovery.
  l.at(1s, good());
  l.at(1s, good());
  CHECK(kinds(l.at(1s, good())) == Kinds{"line_recovered", "hold_down_started"});
}

TEST_CASE("health: min dwell keeps a line in its worse state") {
  HealthOptions o;
  o.min_dwell = 5s;
  o.hold_down = 0s;
  Line l(o);
  l.at(1s, silent());
  for (int i = 1; i < 5; ++i) CHECK(l.at(1s, good()).empty());
  CHECK(l.health.state() == LineState::down);
  CHECK(kinds(l.at(1s, good())) == Kinds{"line_up"});
}

TEST_CASE("health: hold-down keeps a recovered line out of traffic") {
  HealthOptions o;
  o.min_dwell = 0s;
  Line l(o);
  l.at(1s, silent());
  l.at(1s, good());
  l.at(1s, good());
  auto events = l.at(1s, good());
  CHECK(kinds(events) == Kinds{"line_up", "hold_down_started"});
  CHECK(events[1].reason == "rise");
  const MonoTime until = l.clock.now() + 30s;
  CHECK(l.health.snapshot().hold_down_until == until);
  CHECK(l.health.snapshot().hold_down_until_wall == l.clock.wall_now() + 30s);
  CHECK(l.health.state() == LineState::up);
  CHECK_FALSE(l.health.takes_traffic());
  for (int i = 0; i < 29; ++i) CHECK(l.at(1s, good()).empty());
  CHECK(l.at(999ms, good()).empty());
  CHECK_FALSE(l.health.takes_traffic());
  events = l.at(1ms, good());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "hold_down_ended");
  CHECK(events[0].reason == "hold_down_elapsed");
  CHECK(l.health.takes_traffic());
  CHECK_FALSE(l.health.snapshot().hold_down_until.has_value());
  CHECK(l.at(1s, good()).empty());
}

TEST_CASE("health: a failure during hold-down cancels it and the next rise starts a new one") {
  HealthOptions o;
  o.min_dwell = 0s;
  Line l(o);
  l.at(1s, silent());
  for (int i = 0; i < 3; ++i) l.at(1s, good());
  REQUIRE(l.health.snapshot().hold_down_until.has_value());
  l.at(20s, good());
  CHECK(kinds(l.at(1s, silent())) == Kinds{"line_down"});
  CHECK_FALSE(l.health.snapshot().hold_down_until.has_value());
  for (int i = 0; i < 2; ++i) l.at(1s, good());
  CHECK(kinds(l.at(1s, good())) == Kinds{"line_up", "hold_down_started"});
  CHECK(l.health.snapshot().hold_down_until == l.clock.now() + 30s);
}

TEST_CASE("health: a scripted outage gives one event per flip") {
  Line l;  // defaults: rise 3, min dwell 5 s, hold-down 30 s
  std::vector<Event> all;
  auto run = [&](int seconds, const HealthInput& in) {
    for (int i = 0; i < seconds * 10; ++i) {  // evaluated every 100 ms
      auto events = l.at(100ms, in);
      all.insert(all.end(), events.begin(), events.end());
    }
  };
  run(10, good());
  run(3, silent());
  run(4, lossy());
  run(60, good());
  CHECK(kinds(all) == Kinds{"line_down", "line_degraded", "line_recovered", "hold_down_started",
                            "hold_down_ended"});
  // down at 10.1 s; degraded after rise + dwell (13.3 s..15.1 s); up 5 s later.
  CHECK(all[0].time == WallTime(1'800'000'010s + 100ms));
  CHECK(all[1].time == WallTime(1'800'000'015s + 100ms));
  CHECK(all[2].time == WallTime(1'800'000'020s + 100ms));
  CHECK(all[4].time == WallTime(1'800'000'050s + 100ms));
}

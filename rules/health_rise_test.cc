// The rise of LineHealth on the fake clock: its length does not depend on how
// often the caller evaluates.

#include <doctest/doctest.h>

#include <optional>

#include "core/fake_clock.h"
#include "rules/health.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

HealthInput answering() { return {}; }

HealthInput quiet() {
  HealthInput in;
  in.alive = false;
  return in;
}

// Silent for the first 10 s, answering from then on, evaluated every `step`
// (10 s is a multiple of every step used, so both cadences evaluate at 10 s).
// Returns how long after 10 s the line_up came, if it came within 60 s.
std::optional<Duration> recovery_after(Duration step) {
  HealthOptions o;
  o.min_dwell = 0s;  // the rise alone decides
  FakeClock clock;
  LineHealth health("cn2", o, clock);
  const MonoTime restored = clock.now() + 10s;
  const MonoTime end = restored + 60s;
  while (clock.now() < end) {
    clock.advance(step);
    const bool up = clock.now() >= restored;
    for (const Event& e : health.evaluate(up ? answering() : quiet())) {
      if (e.kind == "line_up") return clock.now() - restored;
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("health rise takes the same time ticking every 5 ms or every 500 ms") {
  const auto fast = recovery_after(5ms);
  const auto slow = recovery_after(500ms);
  REQUIRE(fast.has_value());
  REQUIRE(slow.has_value());
  CHECK(*fast == *slow);
  // rise 3 at the default rise_interval of 1 s: the third counted evaluation.
  CHECK(*fast == 2s);
}

TEST_CASE("health rise with rise_interval zero counts every evaluation") {
  HealthOptions o;
  o.min_dwell = 0s;
  o.rise_interval = 0s;
  FakeClock clock;
  LineHealth health("cn2", o, clock);
  health.evaluate(quiet());
  clock.advance(5ms);
  CHECK(health.evaluate(answering()).empty());
  CHECK(health.evaluate(answering()).empty());
  CHECK_FALSE(health.evaluate(answering()).empty());
  CHECK(health.state() == LineState::up);
}

TEST_CASE("health rise between counted evaluations still sees the worst grade") {
  HealthOptions o;
  o.min_dwell = 0s;
  FakeClock clock;
  LineHealth health("cn2", o, clock);
  health.evaluate(quiet());
  HealthInput lossy;
  lossy.breaches.loss = true;
  lossy.breaches.detail = "loss 5.0% > 2.0%";
  std::vector<Event> events;
  for (int i = 0; i < 1000 && events.empty(); ++i) {  // up to 5 s of 5 ms steps
    clock.advance(5ms);
    events = health.evaluate(i == 100 ? lossy : answering());
  }
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "line_degraded");
  CHECK(health.state() == LineState::degraded);
}

// Flap penalty of LineHealth: growth, cap, decay while up, suppression.

#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "rules/health.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

HealthInput fine() { return {}; }

HealthInput dead() {
  HealthInput in;
  in.alive = false;
  return in;
}

// Rise 1, no dwell, no hold-down: each dead/fine pair is one failure and one return.
HealthOptions quick() {
  HealthOptions o;
  o.rise = 1;
  o.min_dwell = 0s;
  o.hold_down = 0s;
  return o;
}

struct Flapper {
  explicit Flapper(HealthOptions o) : health("cu", o, clock) {}
  std::vector<Event> at(Duration step, const HealthInput& in) {
    clock.advance(step);
    return health.evaluate(in);
  }
  FakeClock clock;
  LineHealth health;
};

}  // namespace

TEST_CASE("flap penalty: each failure adds to it, up to the cap") {
  Flapper f(quick());
  const double expected[] = {1000, 2000, 3000, 4000, 5000, 6000, 6000, 6000};
  for (double e : expected) {
    f.health.evaluate(dead());
    CHECK(f.health.penalty() == doctest::Approx(e));
    f.health.evaluate(fine());  // no time passes: no decay
  }
  CHECK(f.health.snapshot().suppressed);
}

TEST_CASE("flap penalty: it halves every half-life while up, not while down") {
  Flapper f(quick());
  f.at(1s, dead());
  REQUIRE(f.health.penalty() == doctest::Approx(1000));
  f.at(10min, dead());
  CHECK(f.health.penalty() == doctest::Approx(1000));  // down: no decay
  f.at(1s, fine());                                    // up from here
  f.at(60s, fine());
  CHECK(f.health.penalty() == doctest::Approx(500));
  f.at(120s, fine());
  CHECK(f.health.penalty() == doctest::Approx(125));
}

TEST_CASE("flap penalty: a suppressed line stays out until the penalty falls below reuse") {
  HealthOptions o = quick();
  o.hold_down = 30s;
  Flapper f(o);
  for (int i = 0; i < 3; ++i) {
    f.health.evaluate(dead());
    f.health.evaluate(fine());
  }
  f.health.evaluate(dead());  // the rise below starts a fresh hold-down
  REQUIRE(f.health.penalty() == doctest::Approx(4000));
  auto events = f.at(1s, fine());
  REQUIRE(events.size() == 2);
  CHECK(events[1].kind == "hold_down_started");
  CHECK(events[1].reason == "flap_penalty");
  CHECK(events[1].detail.find("decays below 750") != std::string::npos);
  // 4000 -> 750 takes log2(4000 / 750) = 2.415 half-lives = 144.9 s up.
  int events_seen = 0;
  for (int s = 1; s <= 144; ++s) {
    events_seen += static_cast<int>(f.at(1s, fine()).size());
    if (s == 31) CHECK(f.health.penalty() > o.suppress);  // hold-down over, still suppressed
    if (s == 100) {
      // Between reuse and suppress: hysteresis keeps it out.
      CHECK(f.health.penalty() < o.suppress);
      CHECK(f.health.penalty() > o.reuse);
    }
    CHECK_FALSE(f.health.takes_traffic());
  }
  CHECK(events_seen == 0);
  events = f.at(1s, fine());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "hold_down_ended");
  CHECK(events[0].reason == "penalty_decayed");
  CHECK(f.health.takes_traffic());
  CHECK_FALSE(f.health.snapshot().suppressed);
}

TEST_CASE("flap penalty: with the defaults the third quick failure suppresses") {
  Flapper f(HealthOptions{});
  // Each cycle: down, back up after rise + dwell (5 s), hold-down 30 s, fails 1 s later.
  bool suppressed_after[3] = {};
  for (int cycle = 0; cycle < 3; ++cycle) {
    f.at(1s, dead());
    suppressed_after[cycle] = f.health.snapshot().suppressed;
    for (int s = 0; s < 5; ++s) f.at(1s, fine());
    REQUIRE(f.health.state() == LineState::up);
    for (int s = 0; s < 31; ++s) f.at(1s, fine());
    REQUIRE(f.health.takes_traffic() != suppressed_after[cycle]);
  }
  CHECK_FALSE(suppressed_after[0]);
  CHECK_FALSE(suppressed_after[1]);
  CHECK(suppressed_after[2]);
}

// AlertEngine::adopt: a config reload keeps the alerts where they are.
#include <doctest/doctest.h>

#include <map>

#include "core/fake_clock.h"
#include "rules/alert_engine.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

ProbeResult failed_round(const std::string& line, const std::string& target) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::tcp;
  r.ok = false;
  r.reason = Reason::refused;
  return r;
}

AlertRule failures_rule(std::string name, Duration window, Duration for_duration,
                        Duration repeat = 4h) {
  AlertRule r;
  r.name = std::move(name);
  r.metric = AlertMetric::failures;
  r.scope = AlertScope::series;
  r.threshold = 0;
  r.window = window;
  r.for_duration = for_duration;
  r.repeat = repeat;
  return r;
}

AlertEngine make(const std::vector<AlertRule>& rules) {
  AlertEngineOptions o;
  o.agent = "a1";
  o.receivers = {"ops"};
  auto e = AlertEngine::create(rules, o);
  REQUIRE(e.ok());
  return std::move(*e);
}

std::vector<std::string> kinds(const std::vector<AlertTransition>& ts) {
  std::vector<std::string> out;
  for (const AlertTransition& t : ts) out.push_back(t.event.kind);
  return out;
}

// An engine whose rule `down` fires on l1:web, its firing notice sent.
struct Firing {
  FakeClock clock;
  AlertEngine e = make({failures_rule("down", 10s, 2s, 10s), failures_rule("other", 10s, 0s)});
  WallTime fired_since{};
  std::string notice_id;

  Firing() {
    for (int i = 0; i < 3; ++i) {
      e.observe(failed_round("l1", "web"), clock.now());
      clock.advance(1s);
      for (const AlertTransition& t : e.evaluate(clock.now(), clock.wall_now()))
        if (t.event.kind == "alert_firing" && t.notice && t.event.detail.starts_with("down"))
          notice_id = t.notice->id;
    }
    REQUIRE_FALSE(notice_id.empty());
    for (const ActiveAlert& a : e.active())
      if (a.rule == "down") fired_since = a.since_wall;
  }
  std::vector<AlertTransition> step(AlertEngine& engine) {
    engine.observe(failed_round("l1", "web"), clock.now());
    clock.advance(1s);
    return engine.evaluate(clock.now(), clock.wall_now());
  }
};

}  // namespace

TEST_CASE("adopt keeps a firing alert firing with its start and sends no second firing notice") {
  Firing f;
  // The reload: the same rule, a longer window, a new rule beside it.
  AlertEngine next = make({failures_rule("down", 20s, 2s, 10s), failures_rule("new", 10s, 0s)});
  next.adopt(std::move(f.e));
  const auto ts = f.step(next);
  for (const AlertTransition& t : ts)
    if (t.event.detail.starts_with("down")) CHECK(t.event.kind != "alert_firing");
  bool found = false;
  for (const ActiveAlert& a : next.active()) {
    if (a.rule != "down") continue;
    found = true;
    CHECK(a.status == AlertStatus::firing);
    CHECK(a.since_wall == f.fired_since);
    CHECK(a.value == 4.0);  // the samples came along: 3 before, 1 after
  }
  CHECK(found);
}

TEST_CASE("adopt keeps the repeat timer: the repeat comes on the old schedule, with the old id") {
  Firing f;
  AlertEngine next = make({failures_rule("down", 10s, 2s, 10s)});
  next.adopt(std::move(f.e));
  std::vector<std::string> repeats;
  int steps = 0;
  for (; steps < 20 && repeats.empty(); ++steps)
    for (const AlertTransition& t : f.step(next))
      if (t.event.kind == "alert_repeat" && t.notice) repeats.push_back(t.notice->id);
  REQUIRE(repeats.size() == 1);
  // Fired at the third step; repeat 10s after it, so within 10 steps of the reload.
  CHECK(steps <= 10);
  const std::string episode = f.notice_id.substr(0, f.notice_id.rfind('/'));
  CHECK(repeats[0] == episode + "/repeat-1");
}

TEST_CASE("adopt drops the states of a rule that is gone, without a transition") {
  Firing f;
  AlertEngine next = make({failures_rule("other", 10s, 0s)});
  next.adopt(std::move(f.e));
  const auto ts = f.step(next);
  for (const AlertTransition& t : ts) CHECK_FALSE(t.event.detail.starts_with("down"));
  for (const ActiveAlert& a : next.active()) CHECK(a.rule != "down");
}

TEST_CASE("a fresh engine without adopt starts the alert over") {
  // The contrast: without adopt the firing alert is pending again, with a new start.
  Firing f;
  AlertEngine next = make({failures_rule("down", 20s, 2s, 10s)});
  CHECK(kinds(f.step(next)) == std::vector<std::string>{"alert_pending"});
}

TEST_CASE(
    "alert engine: adopt into rules that mix series in a window keeps the jitter of each series "
    "apart") {
  // The old rules read each series alone (no numbering needed); the new one
  // also reads a line's series together, so its jitter must pair RTTs per
  // series, and the series windows must pair across the reload.
  AlertRule per_series = failures_rule("slow", 10s, 0s);
  per_series.metric = AlertMetric::jitter;
  AlertRule per_line = per_series;
  per_line.name = "line-jitter";
  per_line.scope = AlertScope::line;
  FakeClock clock;
  auto answered = [&](AlertEngine& e, const std::string& target, Duration rtt) {
    ProbeResult r = failed_round("l1", target);
    r.ok = true;
    r.reason = Reason::ok;
    r.rtt = rtt;
    e.observe(r, clock.now());
  };
  AlertEngine old = make({per_series});
  answered(old, "a", 10ms);
  AlertEngine e = make({per_series, per_line});
  e.adopt(std::move(old));
  // a: 10 (before the reload), 30, 35 ms; b: 500, 600 ms, interleaved.
  answered(e, "b", 500ms);
  answered(e, "a", 30ms);
  answered(e, "b", 600ms);
  answered(e, "a", 35ms);
  clock.advance(1s);
  e.evaluate(clock.now(), clock.wall_now());
  std::map<std::string, double> values;  // rule and key: value
  for (const ActiveAlert& a : e.active()) values[a.rule + " " + to_string(a.key)] = *a.value;
  CHECK(values["slow l1:a:tcp"] == (20 + 5) / 2.0);
  CHECK(values["slow l1:b:tcp"] == 100);
  // Pairs per series: b's 100, a's 5 (a's 10 ms came before this rule).
  CHECK(values["line-jitter l1"] == (100 + 5) / 2.0);
}

#include "rules/alert_state.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

AlertRule slow_rule() {
  AlertRule r;
  r.name = "api-slow";
  r.metric = AlertMetric::rtt_p95;
  r.scope = AlertScope::series;
  r.threshold = 3000;
  r.clear = 2500;
  r.for_duration = 30s;
  r.severity = "warning";
  r.summary = "{{line}} → {{target}} p95 {{value}} over {{threshold}}";
  r.repeat = 4h;
  return r;
}

CompiledAlertRule compiled(AlertRule r, std::vector<std::string> receivers = {"ops", "wx"}) {
  auto c = CompiledAlertRule::compile(std::move(r), receivers, "bj-gw-1");
  REQUIRE(c.ok());
  return std::move(*c);
}

// One machine on one key, stepped on a fake clock.
struct Machine {
  explicit Machine(AlertRule r = slow_rule()) : rule(compiled(std::move(r))) {}
  // Advances the clock by `by`, then steps with `value` (held as given).
  std::vector<AlertTransition> at(Duration by, std::optional<double> value, bool held = false) {
    clock.advance(by);
    std::vector<AlertTransition> out;
    state.step(rule, key, AlertInput{value, held}, clock.now(), clock.wall_now(), out);
    return out;
  }
  FakeClock clock;
  CompiledAlertRule rule;
  AlertScopeKey key{"cn2-bj-1", "openai", "http"};
  AlertState state;
};

std::vector<std::string> kinds(const std::vector<AlertTransition>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts) out.push_back(t.event.kind);
  return out;
}

std::size_t notices(const std::vector<AlertTransition>& ts) {
  std::size_t n = 0;
  for (const auto& t : ts) n += t.notice ? 1 : 0;
  return n;
}

using Kinds = std::vector<std::string>;

}  // namespace

TEST_CASE("alert state: pending, then firing once the threshold stayed broken for its for") {
  Machine m;
  const WallTime start = m.clock.wall_now() + 1s;
  auto t = m.at(1s, 3412);
  REQUIRE(kinds(t) == Kinds{"alert_pending"});
  CHECK(notices(t) == 0);
  CHECK(t[0].event.reason == "rtt_p95");
  CHECK(t[0].event.line == "cn2-bj-1");
  CHECK(t[0].event.target == "openai");
  CHECK(t[0].event.time == start);
  CHECK(t[0].event.detail ==
        "api-slow cn2-bj-1:openai:http: rtt_p95 3412 ms above 3000 ms, firing after 30s");
  CHECK(m.state.status() == AlertStatus::pending);
  CHECK(m.at(29s, 3500).empty());  // 29 s into 30 s
  t = m.at(1s, 3600);
  REQUIRE(kinds(t) == Kinds{"alert_firing"});
  CHECK(m.state.status() == AlertStatus::firing);
  REQUIRE(t[0].notice);
  const AlertNotice& n = *t[0].notice;
  CHECK(n.id ==
        "bj-gw-1/api-slow/cn2-bj-1:openai:http/" + std::to_string(unix_ms(start)) + "-1/firing");
  CHECK(n.rule == "api-slow");
  CHECK_FALSE(n.resolved);
  CHECK(n.severity == "warning");
  CHECK(n.summary == "cn2-bj-1 → openai p95 3600 ms over 3000 ms");
  CHECK(n.labels == std::map<std::string, std::string>{{"kind", "http"},
                                                       {"line", "cn2-bj-1"},
                                                       {"rule", "api-slow"},
                                                       {"severity", "warning"},
                                                       {"target", "openai"}});
  CHECK(n.value_text == "3600 ms");
  CHECK(*n.value == 3600);
  CHECK(n.threshold_text == "3000 ms");
  CHECK(*n.threshold == 3000);
  CHECK(n.starts_at == start);
  CHECK_FALSE(n.ends_at);
  CHECK(n.receivers == std::vector<std::string>{"ops", "wx"});
  CHECK(m.at(1s, 3600).empty());
}

TEST_CASE("alert state: back within the threshold before for goes inactive without a notice") {
  Machine m;
  REQUIRE(kinds(m.at(1s, 3100)) == Kinds{"alert_pending"});
  auto t = m.at(20s, 3000);  // at the threshold is not above it
  REQUIRE(kinds(t) == Kinds{"alert_inactive"});
  CHECK(notices(t) == 0);
  CHECK(t[0].event.reason == "cleared");
  CHECK(m.state.status() == AlertStatus::inactive);
  // A new breach starts the wait again.
  REQUIRE(kinds(m.at(1s, 3100)) == Kinds{"alert_pending"});
  CHECK(m.at(29s, 3100).empty());
  REQUIRE(kinds(m.at(1s, 3100)) == Kinds{"alert_firing"});
}

TEST_CASE("alert state: hysteresis keeps it firing between clear and the threshold") {
  Machine m;
  m.at(1s, 4000);
  m.at(30s, 4000);
  REQUIRE(m.state.status() == AlertStatus::firing);
  CHECK(m.at(1s, 2800).empty());  // below 3000 but above clear 2500
  CHECK(m.at(1s, 2501).empty());
  CHECK(m.state.status() == AlertStatus::firing);
  const WallTime end = m.clock.wall_now() + 1s;
  auto t = m.at(1s, 2500);  // at clear: resolved
  REQUIRE(kinds(t) == Kinds{"alert_resolved"});
  CHECK(t[0].event.reason == "cleared");
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->resolved);
  CHECK(t[0].notice->id.ends_with("-1/resolved"));
  CHECK(t[0].notice->value_text == "2500 ms");
  CHECK(*t[0].notice->ends_at == end);
  CHECK(m.state.status() == AlertStatus::inactive);
}

TEST_CASE("alert state: without clear it resolves at the threshold") {
  AlertRule r = slow_rule();
  r.clear.reset();
  Machine m(r);
  m.at(1s, 4000);
  m.at(30s, 4000);
  CHECK(m.at(1s, 3001).empty());
  REQUIRE(kinds(m.at(1s, 3000)) == Kinds{"alert_resolved"});
}

TEST_CASE("alert state: a window without data resolves a firing alert") {
  Machine m;
  m.at(1s, 4000);
  m.at(30s, 4000);
  auto t = m.at(1s, std::nullopt);
  REQUIRE(kinds(t) == Kinds{"alert_resolved"});
  CHECK(t[0].event.reason == "no_data");
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->value_text == "no data");
  CHECK_FALSE(t[0].notice->value);
  CHECK(t[0].event.detail == "api-slow cn2-bj-1:openai:http: rtt_p95: no data in the 5m window");
}

TEST_CASE("alert state: a firing alert repeats its notice every repeat interval") {
  AlertRule r = slow_rule();
  r.repeat = 1h;
  Machine m(r);
  m.at(1s, 4000);
  auto fired = m.at(30s, 4000);
  REQUIRE(fired.size() == 1);
  const std::string first_id = fired[0].notice->id;
  CHECK(m.at(59min, 4000).empty());
  auto t = m.at(59s, 4000);
  CHECK(t.empty());  // 59 min 59 s since the notice
  t = m.at(1s, 4000);
  REQUIRE(kinds(t) == Kinds{"alert_repeat"});
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->repeat == 1);
  CHECK(t[0].notice->id == first_id.substr(0, first_id.size() - 6) + "repeat-1");
  CHECK(t[0].notice->starts_at == fired[0].notice->starts_at);
  t = m.at(1h, 4000);
  REQUIRE(kinds(t) == Kinds{"alert_repeat"});
  CHECK(t[0].notice->repeat == 2);
  // repeat 0: never again.
  r.repeat = Duration::zero();
  Machine once(r);
  once.at(1s, 4000);
  once.at(30s, 4000);
  CHECK(once.at(24h, 4000).empty());
}

TEST_CASE("alert state: held alerts move but send nothing until released") {
  Machine m;
  SUBCASE("fired while held, released while still firing: notified then") {
    REQUIRE(kinds(m.at(1s, 4000, true)) == Kinds{"alert_pending"});
    auto t = m.at(30s, 4000, true);
    REQUIRE(kinds(t) == Kinds{"alert_firing"});
    CHECK(notices(t) == 0);
    CHECK(t[0].event.detail.ends_with("(held: line cn2-bj-1 is down)"));
    CHECK(m.state.held());
    CHECK(m.at(5h, 4000, true).empty());  // no repeat while held
    t = m.at(1s, 4000, false);
    REQUIRE(kinds(t) == Kinds{"alert_released"});
    REQUIRE(t[0].notice);
    CHECK(t[0].notice->id.ends_with("/firing"));
    CHECK(m.state.notified());
  }
  SUBCASE("fired while held, resolved while held: silent") {
    m.at(1s, 4000, true);
    m.at(30s, 4000, true);
    auto t = m.at(1s, 100, true);
    REQUIRE(kinds(t) == Kinds{"alert_resolved"});
    CHECK(notices(t) == 0);
  }
  SUBCASE("notified, then held, then resolved: the resolution is notified") {
    m.at(1s, 4000);
    CHECK(notices(m.at(30s, 4000)) == 1);
    auto t = m.at(1s, 4000, true);
    REQUIRE(kinds(t) == Kinds{"alert_held"});
    CHECK(t[0].event.reason == "line_down");
    CHECK(notices(t) == 0);
    t = m.at(1s, std::nullopt, false);
    REQUIRE(kinds(t) == Kinds{"alert_resolved"});
    REQUIRE(t[0].notice);
    CHECK(t[0].notice->resolved);
  }
  SUBCASE("inactive alerts make no held events") {
    CHECK(m.at(1s, 100, true).empty());
    CHECK(m.at(1s, 100, false).empty());
  }
}

TEST_CASE("alert state: for 0 fires at once and a below rule fires below") {
  AlertRule r;
  r.name = "sla";
  r.metric = AlertMetric::availability;
  r.scope = AlertScope::line;
  r.above = false;
  r.threshold = 0.999;
  r.severity = "critical";
  Machine m(r);
  m.key = AlertScopeKey{"cn2-bj-1", "", ""};
  CHECK(m.at(1s, 0.999).empty());  // at the threshold is not below it
  auto t = m.at(1s, 0.998);
  REQUIRE(kinds(t) == Kinds{"alert_firing"});
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->summary == "sla: line cn2-bj-1 availability 99.8% below 99.9%");
  CHECK(t[0].notice->value_text == "99.8%");
  CHECK(*t[0].notice->value == doctest::Approx(99.8));
  CHECK(t[0].notice->labels == std::map<std::string, std::string>{{"line", "cn2-bj-1"},
                                                                  {"rule", "sla"},
                                                                  {"severity", "critical"}});
  auto over = m.at(1s, 0.9995);
  REQUIRE(kinds(over) == Kinds{"alert_resolved"});
  REQUIRE(over[0].notice);
  // The resolved notice says it is over; it does not claim "below" any more.
  CHECK(over[0].notice->summary == "sla: line cn2-bj-1 availability 99.95%, back over 99.9%");
}

TEST_CASE("alert state: a rule's own summary serves its resolved notice too") {
  Machine m(slow_rule());
  m.at(0s, 3600);
  m.at(30s, 3600);
  auto t = m.at(1s, 100);
  REQUIRE(kinds(t) == Kinds{"alert_resolved"});
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->summary == "cn2-bj-1 → openai p95 100 ms over 3000 ms");
}

TEST_CASE("alert state: a rule with no receivers records events but makes no notices") {
  AlertRule r = slow_rule();
  r.notify = std::vector<std::string>{};
  Machine m(r);
  m.at(1s, 4000);
  auto t = m.at(30s, 4000);
  REQUIRE(kinds(t) == Kinds{"alert_firing"});
  CHECK(notices(t) == 0);
}

TEST_CASE("alert state: notify ids are resolved against the receivers") {
  AlertRule r = slow_rule();
  r.notify = std::vector<std::string>{"wx"};
  auto c = CompiledAlertRule::compile(r, {"ops", "wx"}, "a");
  REQUIRE(c.ok());
  CHECK(c->receivers == std::vector<std::string>{"wx"});
  r.notify = std::vector<std::string>{"pager"};
  auto bad = CompiledAlertRule::compile(r, {"ops", "wx"}, "a");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "rule \"api-slow\": notify: unknown receiver \"pager\"");
}

TEST_CASE("alert state: each episode gets notice ids of its own") {
  Machine m;
  m.at(1s, 4000);
  const std::string first = m.at(30s, 4000)[0].notice->id;
  m.at(1s, 100);
  m.at(1s, 4000);
  const std::string second = m.at(30s, 4000)[0].notice->id;
  CHECK(first != second);
  CHECK(second.ends_with("-2/firing"));
}

// The alert engine while a line is down: one line-down alert, the line's
// latency, jitter and loss alerts held back, and a clean return.
#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "rules/alert_engine.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

ProbeResult http(const std::string& line, Duration rtt) {
  ProbeResult r;
  r.line = line;
  r.target = "openai";
  r.kind = ProbeKind::http;
  r.ok = true;
  r.reason = Reason::ok;
  r.rtt = rtt;
  return r;
}

// Five echoes: two lost, the others 10, 50 and 10 ms apart (jitter 40 ms).
ProbeResult lossy_icmp(const std::string& line) {
  ProbeResult r;
  r.line = line;
  r.target = "reflector";
  r.kind = ProbeKind::icmp;
  r.sent = 5;
  r.rtts = {10ms, std::nullopt, 50ms, std::nullopt, 10ms};
  summarise_echoes(r);
  r.ok = true;
  r.reason = Reason::ok;
  return r;
}

AlertRule rule(std::string name, AlertMetric metric, AlertScope scope, double threshold,
               Duration for_duration = 0s) {
  AlertRule r;
  r.name = std::move(name);
  r.metric = metric;
  r.scope = scope;
  r.threshold = threshold;
  r.for_duration = for_duration;
  return r;
}

std::vector<AlertRule> line_rules() {
  return {rule("slow", AlertMetric::rtt_p95, AlertScope::series, 3000, 30s),
          rule("lossy", AlertMetric::loss, AlertScope::line, 0.01),
          rule("jittery", AlertMetric::jitter, AlertScope::line, 5)};
}

struct Run {
  explicit Run(const std::vector<AlertRule>& rules, AvailabilitySource* source = nullptr) {
    AlertEngineOptions o;
    o.agent = "bj-gw-1";
    o.receivers = {"ops"};
    auto created = AlertEngine::create(rules, o, source);
    REQUIRE(created.ok());
    e.emplace(std::move(*created));
  }
  void feed_bad(const std::string& line) {
    e->observe(http(line, 3500ms), clock.now());
    e->observe(lossy_icmp(line), clock.now());
  }
  std::vector<AlertTransition> at(Duration by) {
    clock.advance(by);
    return e->evaluate(clock.now(), clock.wall_now());
  }
  FakeClock clock;
  std::optional<AlertEngine> e;
};

// "rule:kind" per transition, and how many carried a notice.
std::vector<std::string> what(const std::vector<AlertTransition>& ts) {
  std::vector<std::string> out;
  for (const auto& t : ts)
    out.push_back(t.event.detail.substr(0, t.event.detail.find(' ')) + ":" + t.event.kind +
                  (t.notice ? "+notice" : ""));
  return out;
}

using Strings = std::vector<std::string>;

class LowAvailability final : public AvailabilitySource {
 public:
  std::optional<double> availability(const AlertScopeKey&, Duration, MonoTime) override {
    return 0.99;
  }
};

}  // namespace

TEST_CASE("alert inhibit: a down line raises one alert and holds its latency and loss alerts") {
  Run run(line_rules());
  run.feed_bad("cn2-bj-1");
  run.e->set_line_down("cn2-bj-1", true);
  auto t = run.at(1s);
  REQUIRE(what(t) == Strings{"line-down:alert_firing+notice", "slow:alert_pending",
                             "lossy:alert_firing", "jittery:alert_firing"});
  const AlertNotice& down = *t[0].notice;
  CHECK(down.rule == "line-down");
  CHECK(down.severity == "critical");
  CHECK(down.summary == "line-down: line cn2-bj-1 is down");
  CHECK(down.labels.at("line") == "cn2-bj-1");
  CHECK(down.value_text.empty());
  CHECK(down.threshold_text.empty());
  CHECK(down.receivers == Strings{"ops"});
  CHECK(t[0].event.reason == "line_down");
  CHECK(t[2].event.detail.ends_with("(held: line cn2-bj-1 is down)"));
  t = run.at(30s);
  REQUIRE(what(t) == Strings{"slow:alert_firing"});
  for (const ActiveAlert& a : run.e->active()) CHECK(a.held == (a.rule != "line-down"));
  CHECK(run.e->active().size() == 4);

  // Back up: the line-down alert resolves, and the held alerts, whose
  // samples describe the outage, resolve without a word.
  run.e->set_line_down("cn2-bj-1", false);
  t = run.at(1s);
  REQUIRE(what(t) == Strings{"line-down:alert_resolved+notice", "slow:alert_resolved",
                             "lossy:alert_resolved", "jittery:alert_resolved"});
  CHECK(t[0].notice->resolved);
  CHECK(t[0].notice->summary == "line-down: line cn2-bj-1 is up again");
  CHECK(t[1].event.reason == "no_data");
  CHECK(run.e->active().empty());
  CHECK(run.at(1s).empty());
}

TEST_CASE("alert inhibit: an alert notified before the line went down is resolved after it") {
  Run run(line_rules());
  run.feed_bad("cn2-bj-1");
  CHECK(what(run.at(1s)) ==
        Strings{"slow:alert_pending", "lossy:alert_firing+notice", "jittery:alert_firing+notice"});
  run.e->set_line_down("cn2-bj-1", true);
  auto t = run.at(1s);
  REQUIRE(what(t) == Strings{"line-down:alert_firing+notice", "slow:alert_held", "lossy:alert_held",
                             "jittery:alert_held"});
  CHECK(t[2].event.reason == "line_down");
  CHECK(what(run.at(30s)) == Strings{"slow:alert_firing"});  // held: no notice
  run.e->set_line_down("cn2-bj-1", false);
  t = run.at(1s);
  REQUIRE(what(t) == Strings{"line-down:alert_resolved+notice", "slow:alert_resolved",
                             "lossy:alert_resolved+notice", "jittery:alert_resolved+notice"});
}

TEST_CASE("alert inhibit: after the line is back its samples judge afresh") {
  Run run(line_rules());
  run.feed_bad("cn2-bj-1");
  run.e->set_line_down("cn2-bj-1", true);
  run.at(1s);
  run.e->set_line_down("cn2-bj-1", false);
  run.at(1s);
  run.feed_bad("cn2-bj-1");
  auto t = run.at(1s);
  REQUIRE(what(t) == Strings{"slow:alert_pending", "lossy:alert_firing+notice",
                             "jittery:alert_firing+notice"});
  CHECK(what(run.at(30s)) == Strings{"slow:alert_firing+notice"});
}

TEST_CASE("alert inhibit: other lines, availability and target scopes are not held") {
  LowAvailability source;
  AlertRule sla = rule("sla", AlertMetric::availability, AlertScope::line, 0.999);
  sla.above = false;
  AlertRule target_loss = rule("target-loss", AlertMetric::loss, AlertScope::target, 0.01);
  Run run({rule("lossy", AlertMetric::loss, AlertScope::line, 0.01), sla, target_loss}, &source);
  run.feed_bad("cn2-bj-1");
  run.feed_bad("cn2-sh-1");
  run.e->set_line_down("cn2-bj-1", true);
  auto t = run.at(1s);
  REQUIRE(what(t) == Strings{"line-down:alert_firing+notice", "lossy:alert_firing",
                             "lossy:alert_firing+notice", "sla:alert_firing+notice",
                             "sla:alert_firing+notice", "target-loss:alert_firing+notice"});
  CHECK(t[1].event.line == "cn2-bj-1");
  CHECK(t[2].event.line == "cn2-sh-1");
}

TEST_CASE("alert inhibit: the line-down alert repeats while the line stays down") {
  Run run(std::vector<AlertRule>{});
  run.e->set_line_down("cn2-bj-1", true);
  CHECK(what(run.at(1s)) == Strings{"line-down:alert_firing+notice"});
  CHECK(run.at(4h - 1s).empty());
  CHECK(what(run.at(1s)) == Strings{"line-down:alert_repeat+notice"});
  // Down and up again between two evaluations: nothing to tell.
  run.e->set_line_down("cn2-sh-1", true);
  run.e->set_line_down("cn2-sh-1", false);
  CHECK(run.at(1s).empty());
}

#include "rules/alert_engine.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

ProbeResult result(const std::string& line, const std::string& target, ProbeKind kind, bool ok,
                   Duration rtt = 100ms) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = kind;
  r.ok = ok;
  r.reason = ok ? Reason::ok : Reason::timeout;
  if (kind == ProbeKind::icmp) {
    r.sent = 5;
    for (int i = 0; i < 5; ++i) r.rtts.push_back(ok ? std::optional<Duration>(rtt) : std::nullopt);
    summarise_echoes(r);
  } else if (ok) {
    r.rtt = rtt;
  }
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

AlertEngine engine(const std::vector<AlertRule>& rules, AvailabilitySource* source = nullptr) {
  AlertEngineOptions o;
  o.agent = "bj-gw-1";
  o.receivers = {"ops", "wx"};
  auto e = AlertEngine::create(rules, o, source);
  REQUIRE(e.ok());
  return std::move(*e);
}

struct Run {
  explicit Run(const std::vector<AlertRule>& rules, AvailabilitySource* source = nullptr)
      : e(engine(rules, source)) {}
  void feed(const ProbeResult& r) { e.observe(r, clock.now()); }
  std::vector<AlertTransition> at(Duration by) {
    clock.advance(by);
    return e.evaluate(clock.now(), clock.wall_now());
  }
  FakeClock clock;
  AlertEngine e;
};

std::vector<std::string> active_keys(const AlertEngine& e, const std::string& rule) {
  std::vector<std::string> out;
  for (const ActiveAlert& a : e.active())
    if (a.rule == rule) out.push_back(to_string(a.key));
  return out;
}

std::vector<std::string> kinds(const std::vector<AlertTransition>& ts, const std::string& rule) {
  std::vector<std::string> out;
  for (const auto& t : ts)
    if (t.event.detail.starts_with(rule + " ")) out.push_back(t.event.kind);
  return out;
}

std::size_t notices(const std::vector<AlertTransition>& ts) {
  std::size_t n = 0;
  for (const auto& t : ts) n += t.notice ? 1 : 0;
  return n;
}

using Strings = std::vector<std::string>;

class FakeAvailability final : public AvailabilitySource {
 public:
  std::optional<double> availability(const AlertScopeKey& key, Duration window, MonoTime) override {
    asked.push_back(to_string(key) + "/" + std::to_string(window.count()));
    auto it = values.find(key.line);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
  std::map<std::string, double> values;
  std::vector<std::string> asked;
};

}  // namespace

TEST_CASE("alert engine: scope keys follow the scope and the match globs") {
  AlertRule by_line = rule("by-line", AlertMetric::failures, AlertScope::line, 0);
  AlertRule by_target = rule("by-target", AlertMetric::failures, AlertScope::target, 0);
  AlertRule by_series = rule("by-series", AlertMetric::failures, AlertScope::series, 0);
  for (AlertRule* r : {&by_line, &by_target, &by_series}) r->match = {"cn2-*", "", "http"};
  by_target.match.target = "open?i";
  Run run({by_line, by_target, by_series});
  for (const char* line : {"cn2-bj-1", "cn2-sh-1", "cu-bj-1"})
    for (const char* target : {"openai", "claude"})
      for (ProbeKind kind : {ProbeKind::http, ProbeKind::icmp})
        run.feed(result(line, target, kind, false));
  run.at(1s);
  CHECK(active_keys(run.e, "by-line") == Strings{"cn2-bj-1", "cn2-sh-1"});
  CHECK(active_keys(run.e, "by-target") == Strings{"openai"});
  CHECK(active_keys(run.e, "by-series") == Strings{"cn2-bj-1:claude:http", "cn2-bj-1:openai:http",
                                                   "cn2-sh-1:claude:http", "cn2-sh-1:openai:http"});
  // Line and series share no window: each line key counts both targets' failures.
  for (const ActiveAlert& a : run.e.active())
    if (a.rule == "by-line") CHECK(*a.value == 2);
  CHECK(run.e.scope_count() == 2 + 1 + 4);
}

TEST_CASE("alert engine: a series alert fires after for and lists as active") {
  AlertRule slow = rule("api-slow", AlertMetric::rtt_p95, AlertScope::series, 3000, 30s);
  slow.clear = 2500;
  slow.match.kind = "http";
  Run run({slow});
  run.feed(result("cn2-bj-1", "openai", ProbeKind::http, true, 3412ms));
  auto t = run.at(1s);
  REQUIRE(kinds(t, "api-slow") == Strings{"alert_pending"});
  const auto pending = run.e.active();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].status == AlertStatus::pending);
  CHECK(pending[0].since == run.clock.now());
  CHECK(pending[0].value_text == "3412 ms");
  CHECK(pending[0].threshold_text == "3000 ms");
  CHECK(pending[0].threshold == 3000);
  // The API shows the summary a notice would carry, before any notice exists.
  CHECK(pending[0].summary == "api-slow: cn2-bj-1 → openai (http) rtt_p95 3412 ms above 3000 ms");
  t = run.at(30s);
  REQUIRE(kinds(t, "api-slow") == Strings{"alert_firing"});
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->summary == "api-slow: cn2-bj-1 → openai (http) rtt_p95 3412 ms above 3000 ms");
  CHECK(run.e.active()[0].status == AlertStatus::firing);
  // The slow round leaves the 5m window: no data, resolved.
  t = run.at(5min);
  REQUIRE(kinds(t, "api-slow") == Strings{"alert_resolved"});
  CHECK(run.e.active().empty());
}

TEST_CASE("alert engine: each metric reaches its rule with the window's exact value") {
  AlertRule median = rule("median", AlertMetric::rtt_median, AlertScope::line, 0);
  AlertRule jitter = rule("jitter", AlertMetric::jitter, AlertScope::line, 0);
  AlertRule loss = rule("loss", AlertMetric::loss, AlertScope::line, 0);
  AlertRule failures = rule("failures", AlertMetric::failures, AlertScope::line, 0);
  Run run({median, jitter, loss, failures});
  run.feed(result("l", "a", ProbeKind::icmp, true, 10ms));
  run.feed(result("l", "a", ProbeKind::icmp, true, 30ms));
  run.feed(result("l", "b", ProbeKind::tcp, false));
  run.at(1s);
  std::map<std::string, double> value;
  for (const ActiveAlert& a : run.e.active()) value[a.rule] = *a.value;
  // RTTs 10 ×5, 30 ×5: median 10; one jump of 20 among 9 pairs of series l:a:icmp.
  CHECK(value["median"] == 10);
  CHECK(value["jitter"] == doctest::Approx(20.0 / 9));
  CHECK(value["loss"] == 1.0 / 11);  // 10 echoes answered, the tcp timeout lost
  CHECK(value["failures"] == 1);
}

TEST_CASE("alert engine: rules that differ in window share one window per key") {
  AlertRule fast = rule("fast", AlertMetric::failures, AlertScope::line, 1);
  fast.window = 1min;
  AlertRule slow = rule("slow", AlertMetric::failures, AlertScope::line, 1);
  slow.window = 15min;
  Run run({fast, slow});
  run.feed(result("l", "t", ProbeKind::tcp, false));
  run.clock.advance(10min);
  run.feed(result("l", "t", ProbeKind::tcp, false));
  auto t = run.at(1s);
  REQUIRE(kinds(t, "fast").empty());                     // one failure in the last minute
  REQUIRE(kinds(t, "slow") == Strings{"alert_firing"});  // two in the last 15
  CHECK(run.e.scope_count() == 1);
}

TEST_CASE("alert engine: availability comes from the injected source") {
  FakeAvailability source;
  AlertRule sla = rule("sla", AlertMetric::availability, AlertScope::line, 0.999);
  sla.above = false;
  sla.window = 24h;
  Run run({sla}, &source);
  run.feed(result("cn2-bj-1", "openai", ProbeKind::http, true));
  run.feed(result("cn2-sh-1", "openai", ProbeKind::http, true));
  source.values = {{"cn2-bj-1", 0.9985}, {"cn2-sh-1", 0.9995}};
  auto t = run.at(1s);
  REQUIRE(kinds(t, "sla") == Strings{"alert_firing"});
  CHECK(t[0].event.line == "cn2-bj-1");
  REQUIRE(t[0].notice);
  CHECK(t[0].notice->value_text == "99.85%");
  CHECK(source.asked == Strings{"cn2-bj-1/86400000000000", "cn2-sh-1/86400000000000"});
  source.values["cn2-bj-1"] = 0.999;
  t = run.at(1s);
  REQUIRE(kinds(t, "sla") == Strings{"alert_resolved"});
  // Without a source there is never a value.
  Run blind({sla});
  blind.feed(result("cn2-bj-1", "openai", ProbeKind::http, true));
  CHECK(blind.at(1s).empty());
}

TEST_CASE("alert engine: the default rules are in force and can be turned off") {
  AlertOptions options;
  auto on = AlertEngine::create(effective_rules(options));
  REQUIRE(on.ok());
  CHECK(on->rule_count() == 4);
  options.defaults = false;
  auto off = AlertEngine::create(effective_rules(options));
  REQUIRE(off.ok());
  CHECK(off->rule_count() == 0);

  // The default latency rule: p95 above 3000 ms for 1m on one series.
  Run run(default_rules());
  run.feed(result("cn2-bj-1", "openai", ProbeKind::http, true, 3500ms));
  REQUIRE(kinds(run.at(1s), "latency") == Strings{"alert_pending"});
  REQUIRE(kinds(run.at(1min), "latency") == Strings{"alert_firing"});
  // The default loss rule: icmp echoes of the line, above 1 % for 2m.
  for (int i = 0; i < 9; ++i) run.feed(result("cn2-bj-1", "reflector", ProbeKind::icmp, true));
  run.feed(result("cn2-bj-1", "reflector", ProbeKind::icmp, false));  // 5 of 50 lost
  REQUIRE(kinds(run.at(1s), "loss") == Strings{"alert_pending"});
  REQUIRE(kinds(run.at(2min), "loss") == Strings{"alert_firing"});
  CHECK(active_keys(run.e, "loss") == Strings{"cn2-bj-1"});
}

TEST_CASE("alert engine: bandwidth readings feed the line's utilisation") {
  Run run(default_rules());
  BandwidthReading reading;
  reading.state = CounterState::measuring;
  reading.interval = 1s;
  reading.utilisation = 0.9;
  for (int i = 0; i < 400; ++i) {
    run.clock.advance(1s);
    reading.at = run.clock.now();
    run.e.observe_bandwidth("cn2-bj-1", reading);
    run.e.evaluate(run.clock.now(), run.clock.wall_now());
  }
  CHECK(active_keys(run.e, "bandwidth") == Strings{"cn2-bj-1"});
  CHECK(run.e.active()[0].value_text == "90%");
  // A baseline reading has no rate and adds nothing.
  reading.state = CounterState::baseline;
  reading.utilisation = 0.1;
  run.e.observe_bandwidth("cn2-sh-1", reading);
  CHECK(run.e.scope_count() == 1);
}

TEST_CASE("alert engine: time to first token feeds ttft_p95 as kind llm") {
  AlertRule ttft = rule("ttft", AlertMetric::ttft_p95, AlertScope::series, 2000);
  ttft.match.kind = "llm";
  Run run({ttft});
  run.e.observe_ttft("cn2-bj-1", "openai", 2500ms, run.clock.now());
  run.feed(result("cn2-bj-1", "openai", ProbeKind::http, true, 9s));  // not a ttft
  auto t = run.at(1s);
  REQUIRE(kinds(t, "ttft") == Strings{"alert_firing"});
  CHECK(active_keys(run.e, "ttft") == Strings{"cn2-bj-1:openai:llm"});
  CHECK(run.e.active()[0].value_text == "2500 ms");
}

TEST_CASE("alert engine: a scope key that went quiet is forgotten") {
  AlertRule failing = rule("failing", AlertMetric::failures, AlertScope::series, 5);
  failing.window = 1min;
  Run run({failing});
  run.feed(result("l", "t", ProbeKind::tcp, false));
  run.at(1min);
  CHECK(run.e.scope_count() == 1);  // the sample is exactly a window old
  run.at(1s);
  CHECK(run.e.scope_count() == 0);
}

TEST_CASE("alert engine: bad rule sets are refused") {
  AlertRule a = rule("a", AlertMetric::failures, AlertScope::line, 1);
  auto twice = AlertEngine::create({a, a});
  REQUIRE_FALSE(twice.ok());
  CHECK(twice.error().message == "duplicate alert rule name \"a\"");
  a.notify = std::vector<std::string>{"pager"};
  auto unknown = AlertEngine::create({a});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "rule \"a\": notify: unknown receiver \"pager\"");
}

TEST_CASE("alert engine: 1000 rules over 100 scope keys evaluate") {
  // Five spellings of "every line": five window groups of 100 keys each.
  const char* every_line[] = {"", "line-*", "l*", "*-?", "line-[0-9]"};
  std::vector<AlertRule> rules;
  for (int i = 0; i < 1000; ++i) {
    // Every other rule's threshold is below the fed 100 ms.
    AlertRule r = rule("r" + std::to_string(i), AlertMetric::rtt_p95, AlertScope::series,
                       i % 2 == 0 ? 50.0 + i % 40 : 150.0 + i % 40);
    r.match.line = every_line[i % 5];
    rules.push_back(std::move(r));
  }
  Run run(rules);
  for (int l = 0; l < 10; ++l)
    for (int t = 0; t < 10; ++t)
      run.feed(result("line-" + std::to_string(l), "t" + std::to_string(t), ProbeKind::tcp, true));
  auto t = run.at(1s);
  CHECK(run.e.scope_count() == 5 * 100);
  CHECK(t.size() == 500 * 100);
  CHECK(notices(t) == 500 * 100);
  CHECK(run.e.active().size() == 500 * 100);
  CHECK(run.at(1s).empty());
}

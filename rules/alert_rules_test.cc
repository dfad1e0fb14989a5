#include "rules/alert_rules.h"

#include <doctest/doctest.h>

#include "rules/alert_text.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const AlertRule* find(const std::vector<AlertRule>& rules, const std::string& name) {
  for (const AlertRule& r : rules)
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> names(const std::vector<AlertRule>& rules) {
  std::vector<std::string> out;
  for (const AlertRule& r : rules) out.push_back(r.name);
  return out;
}

AlertRule slow_rule() {
  AlertRule r;
  r.name = "api-slow";
  r.metric = AlertMetric::rtt_p95;
  r.threshold = 3000;
  return r;
}

}  // namespace

TEST_CASE("alert rules: every metric and scope name reads back") {
  for (std::string_view n : {"rtt_median", "rtt_p95", "jitter", "loss", "availability",
                             "bandwidth_utilisation", "failures", "ttft_p95"}) {
    auto m = alert_metric_from_string(n);
    REQUIRE(m);
    CHECK(to_string(*m) == n);
  }
  CHECK_FALSE(alert_metric_from_string("rtt_p99"));
  for (std::string_view n : {"line", "target", "series"}) {
    auto s = alert_scope_from_string(n);
    REQUIRE(s);
    CHECK(to_string(*s) == n);
  }
  CHECK_FALSE(alert_scope_from_string("lines"));
}

TEST_CASE("alert rules: thresholds are read in the metric's own unit") {
  CHECK(*parse_threshold(AlertMetric::rtt_p95, "3000ms") == 3000);
  CHECK(*parse_threshold(AlertMetric::jitter, "2.5s") == 2500);
  CHECK(*parse_threshold(AlertMetric::ttft_p95, "800us") == 0.8);
  CHECK(*parse_threshold(AlertMetric::loss, "1%") == 0.01);
  CHECK(*parse_threshold(AlertMetric::bandwidth_utilisation, "80%") == 0.8);
  // Exact: the same double as 999 / 1000 from a rollup, so 99.9 % is not below 99.9 %.
  CHECK(*parse_threshold(AlertMetric::availability, "99.9%") == 999.0 / 1000.0);
  CHECK(*parse_threshold(AlertMetric::availability, "99.95%") == 9995.0 / 10000.0);
  CHECK(*parse_threshold(AlertMetric::failures, "3") == 3);
}

TEST_CASE("alert rules: a threshold in the wrong unit says what the metric takes") {
  auto pct = parse_threshold(AlertMetric::rtt_p95, "5%");
  REQUIRE_FALSE(pct.ok());
  CHECK(pct.error().message == "rtt_p95 takes a duration such as 3000ms, got \"5%\"");
  auto bare = parse_threshold(AlertMetric::rtt_median, "3000");
  REQUIRE_FALSE(bare.ok());
  CHECK(bare.error().message == "rtt_median takes a duration such as 3000ms, got \"3000\"");
  auto ms = parse_threshold(AlertMetric::loss, "300ms");
  REQUIRE_FALSE(ms.ok());
  CHECK(ms.error().message == "loss takes a percentage such as 1%, got \"300ms\"");
  for (const char* bad : {"1", "0.01", "1 %", ".5%", "1.%", "%", "-1%", "1e2%"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_threshold(AlertMetric::availability, bad).ok());
  }
  auto over = parse_threshold(AlertMetric::loss, "150%");
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().message == "must be at most 100%, got 150%");
  auto count = parse_threshold(AlertMetric::failures, "3ms");
  REQUIRE_FALSE(count.ok());
  CHECK(count.error().message == "failures takes a whole number of rounds such as 3, got \"3ms\"");
  CHECK_FALSE(parse_threshold(AlertMetric::failures, "3.5").ok());
  CHECK_FALSE(parse_threshold(AlertMetric::failures, "-1").ok());
  auto long_rtt = parse_threshold(AlertMetric::rtt_p95, "2h");
  REQUIRE_FALSE(long_rtt.ok());
  CHECK(long_rtt.error().message == "2h is above the maximum 1h");
}

TEST_CASE("alert rules: values are written in the metric's unit") {
  CHECK(format_value(AlertMetric::rtt_p95, 3412.4) == "3412 ms");
  CHECK(format_value(AlertMetric::rtt_p95, 3000) == "3000 ms");
  CHECK(format_value(AlertMetric::jitter, 2.5) == "2.5 ms");
  CHECK(format_value(AlertMetric::jitter, 0) == "0 ms");
  CHECK(format_value(AlertMetric::loss, 0.015) == "1.5%");
  CHECK(format_value(AlertMetric::availability, 0.9995) == "99.95%");
  CHECK(format_value(AlertMetric::availability, 1) == "100%");
  CHECK(format_value(AlertMetric::failures, 3) == "3");
  CHECK(display_number(AlertMetric::loss, 0.015) == doctest::Approx(1.5));
  CHECK(display_number(AlertMetric::rtt_p95, 3412.5) == 3412.5);
  CHECK(display_number(AlertMetric::failures, 4) == 4);
}

TEST_CASE("alert rules: the four default rules follow the reference design") {
  const auto rules = default_rules();
  CHECK(names(rules) == std::vector<std::string>{"latency", "loss", "bandwidth", "availability"});
  for (const AlertRule& r : rules) {
    CAPTURE(r.name);
    CHECK(validate(r).ok());
  }
  const AlertRule* latency = find(rules, "latency");
  CHECK(latency->metric == AlertMetric::rtt_p95);
  CHECK(latency->above);
  CHECK(latency->threshold == 3000);
  CHECK(latency->scope == AlertScope::series);
  const AlertRule* loss = find(rules, "loss");
  CHECK(loss->metric == AlertMetric::loss);
  CHECK(loss->threshold == 0.01);
  CHECK(loss->scope == AlertScope::line);
  CHECK(loss->match.kind == "icmp");
  const AlertRule* bandwidth = find(rules, "bandwidth");
  CHECK(bandwidth->metric == AlertMetric::bandwidth_utilisation);
  CHECK(bandwidth->threshold == 0.8);
  const AlertRule* availability = find(rules, "availability");
  CHECK(availability->metric == AlertMetric::availability);
  CHECK_FALSE(availability->above);
  CHECK(availability->threshold == 999.0 / 1000.0);
  CHECK(availability->severity == "critical");
}

TEST_CASE("alert rules: defaults can be turned off and a rule of the same name replaces one") {
  AlertOptions o;
  CHECK(names(effective_rules(o)) ==
        std::vector<std::string>{"latency", "loss", "bandwidth", "availability"});
  AlertRule mine = slow_rule();
  AlertRule latency = slow_rule();
  latency.name = "latency";
  latency.threshold = 1000;
  o.rules = {mine, latency};
  const auto on = effective_rules(o);
  CHECK(names(on) ==
        std::vector<std::string>{"latency", "loss", "bandwidth", "availability", "api-slow"});
  CHECK(find(on, "latency")->threshold == 1000);
  o.defaults = false;
  CHECK(names(effective_rules(o)) == std::vector<std::string>{"api-slow", "latency"});
}

TEST_CASE("alert rules: validate refuses a rule that cannot work") {
  AlertRule r = slow_rule();
  CHECK(validate(r).ok());
  SUBCASE("clear above an above-threshold") {
    r.clear = 3500;
    CHECK(validate(r).error().message ==
          "rule \"api-slow\": clear 3500 ms is above the threshold 3000 ms (an alert that fires "
          "above the threshold resolves once the value is back at or below clear)");
  }
  SUBCASE("clear below a below-threshold") {
    r.metric = AlertMetric::availability;
    r.above = false;
    r.threshold = 0.999;
    r.clear = 0.99;
    CHECK(validate(r).error().message ==
          "rule \"api-slow\": clear 99% is below the threshold 99.9% (an alert that fires below "
          "the threshold resolves once the value is back at or above clear)");
  }
  SUBCASE("bandwidth per series") {
    r.metric = AlertMetric::bandwidth_utilisation;
    r.threshold = 0.8;
    CHECK_FALSE(validate(r).ok());
    r.scope = AlertScope::line;
    CHECK(validate(r).ok());
    r.match.kind = "icmp";
    CHECK_FALSE(validate(r).ok());
  }
  SUBCASE("a bad glob") {
    r.match.line = "cn2-[bj";
    CHECK(validate(r).error().message ==
          "rule \"api-slow\": match: \"cn2-[bj\" is not a valid glob: [ is not closed");
  }
  SUBCASE("the line-down name") {
    r.name = "line-down";
    CHECK_FALSE(validate(r).ok());
  }
  SUBCASE("an unknown severity") {
    r.severity = "page";
    CHECK(validate(r).error().message ==
          "rule \"api-slow\": severity must be critical, warning or info, got \"page\"");
  }
  SUBCASE("a placeholder the scope never fills") {
    r.scope = AlertScope::line;
    r.summary = "{{line}} to {{target}}";
    CHECK(validate(r).error().message ==
          "rule \"api-slow\": summary: {{target}} is always empty for scope line");
  }
  SUBCASE("a zero window") {
    r.window = Duration::zero();
    CHECK_FALSE(validate(r).ok());
  }
}

TEST_CASE("alert text: globs match ids") {
  CHECK(glob_match("", "anything"));
  CHECK(glob_match("cn2-*", "cn2-bj-1"));
  CHECK(glob_match("cn2-*", "cn2-"));
  CHECK_FALSE(glob_match("cn2-*", "cu-bj-1"));
  CHECK(glob_match("*-bj-?", "cn2-bj-1"));
  CHECK_FALSE(glob_match("*-bj-?", "cn2-bj-10"));
  CHECK(glob_match("cn2-[bs][jh]-1", "cn2-sh-1"));
  CHECK_FALSE(glob_match("cn2-[bs][jh]-1", "cn2-gz-1"));
  CHECK(glob_match("line-[0-4]", "line-3"));
  CHECK_FALSE(glob_match("line-[0-4]", "line-7"));
  CHECK(glob_match("line-[!0-4]", "line-7"));
  CHECK(glob_match("*a*b*c", "xxaxxbxxbcc" + std::string("c")));
  CHECK_FALSE(glob_match("*a*b*c", "xxaxxcxx"));
  CHECK_FALSE(glob_match("http", "https"));
  CHECK(matches(AlertMatch{"cn2-*", "", "http"}, "cn2-bj-1", "openai", "http"));
  CHECK_FALSE(matches(AlertMatch{"cn2-*", "", "http"}, "cn2-bj-1", "openai", "icmp"));
  CHECK(matches(AlertMatch{}, "a", "b", "c"));
}

TEST_CASE("alert text: a bad glob is named with its fault") {
  CHECK(check_glob("cn2-*").empty());
  CHECK(check_glob("[a-z]?-[!0]").empty());
  CHECK(check_glob("cn2-[bj") == "\"cn2-[bj\" is not a valid glob: [ is not closed");
  CHECK(check_glob("cn2-[]") == "\"cn2-[]\" is not a valid glob: an empty [class]");
  CHECK(check_glob("line-[9-0]") ==
        "\"line-[9-0]\" is not a valid glob: the range 9-0 runs backwards");
  CHECK(check_glob("cn2 bj") ==
        "\"cn2 bj\" can never match: \" \" is in no id (ids use A-Z a-z 0-9 . _ -)");
  CHECK(check_glob("[a/]") == "\"[a/]\" is not a valid glob: \"/\" in a [class] is in no id");
}

TEST_CASE("alert text: summaries fill their placeholders") {
  auto t = SummaryTemplate::compile("{{line}} → {{ target }} p95 {{value}} over {{threshold}}",
                                    AlertScope::series);
  REQUIRE(t.ok());
  SummaryValues v{"cn2-bj-1", "openai", "http", "3412 ms", "3000 ms", "api-slow", "warning"};
  CHECK(t->render(v) == "cn2-bj-1 → openai p95 3412 ms over 3000 ms");
  auto all = SummaryTemplate::compile("{{rule}}/{{severity}}/{{kind}} {", AlertScope::series);
  REQUIRE(all.ok());
  CHECK(all->render(v) == "api-slow/warning/http {");
  auto unknown = SummaryTemplate::compile("{{line}} {{host}}", AlertScope::series);
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message ==
        "unknown placeholder {{host}} (known: {{line}} {{target}} {{kind}} {{value}} "
        "{{threshold}} {{rule}} {{severity}})");
  auto long_name = SummaryTemplate::compile("{{" + std::string(40, 'x') + "}}", AlertScope::line);
  REQUIRE_FALSE(long_name.ok());
  CHECK(long_name.error().message.starts_with("unknown placeholder {{" + std::string(32, 'x') +
                                              "…}} (known:"));
  auto open = SummaryTemplate::compile("p95 {{value", AlertScope::series);
  REQUIRE_FALSE(open.ok());
  CHECK(open.error().message == "{{ at character 5 is not closed by }}");
  CHECK_FALSE(SummaryTemplate::compile("{{line}}", AlertScope::target).ok());
  CHECK(SummaryTemplate::compile("{{target}}", AlertScope::target).ok());
}

TEST_CASE("alert text: the default summary names the scope, metric and direction") {
  AlertRule r = slow_rule();
  CHECK(default_summary(r) ==
        "{{rule}}: {{line}} → {{target}} ({{kind}}) rtt_p95 {{value}} above {{threshold}}");
  r.scope = AlertScope::line;
  r.above = false;
  r.metric = AlertMetric::availability;
  CHECK(default_summary(r) == "{{rule}}: line {{line}} availability {{value}} below {{threshold}}");
  CHECK(default_summary(r, true) ==
        "{{rule}}: line {{line}} availability {{value}}, back over {{threshold}}");
  r.scope = AlertScope::target;
  CHECK(SummaryTemplate::compile(default_summary(r), r.scope).ok());
}

TEST_CASE("alert rules: scope keys keep only their scope's fields") {
  CHECK(scope_key(AlertScope::line, "l", "t", "http") == AlertScopeKey{"l", "", ""});
  CHECK(scope_key(AlertScope::target, "l", "t", "http") == AlertScopeKey{"", "t", ""});
  CHECK(scope_key(AlertScope::series, "l", "t", "http") == AlertScopeKey{"l", "t", "http"});
  CHECK(to_string(AlertScopeKey{"cn2-bj-1", "openai", "http"}) == "cn2-bj-1:openai:http");
  CHECK(to_string(AlertScopeKey{"", "openai", ""}) == "openai");
}

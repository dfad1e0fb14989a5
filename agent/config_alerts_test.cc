#include <doctest/doctest.h>

#include <filesystem>

#include "agent/config_load.h"
#include "exporters/notify.h"
#include "rules/alert_rules.h"

using namespace linewatch;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Relative secret_file paths resolve against this file's directory, which
// holds secret.key.
const std::string kName =
    (fs::path(LINEWATCH_SOURCE_DIR) / "tests/testdata/config/a.yaml").string();

const char* kBase =
    "lines:\n"
    "  - { id: cn2-bj-1, source: 127.0.0.1 }\n"
    "  - { id: cn2-sh-1, source: 127.0.0.2 }\n"
    "targets:\n"
    "  - { id: openai, icmp: 127.0.0.1, http: 'http://127.0.0.1:8080/v1/models' }\n";

Result<Config> load(const std::string& extra) { return load_config_string(kBase + extra, kName); }

// The message without "FILE:LINE:COL: ".
std::string message(const Result<Config>& r) {
  REQUIRE_FALSE(r.ok());
  const std::string& m = r.error().message;
  std::size_t at = m.find(".yaml:");
  for (int colons = 0; at != std::string::npos && colons < 3; ++at)
    if (m[at] == ':') ++colons;
  return m.substr(at + 1);
}

}  // namespace

TEST_CASE("config alerts: the documented example loads with every key") {
  auto r = load(
      "alerts:\n"
      "  defaults: true\n"
      "  rules:\n"
      "    - name: api-slow\n"
      "      metric: rtt_p95\n"
      "      scope: series\n"
      "      match: { line: cn2-*, kind: http }\n"
      "      window: 5m\n"
      "      above: 3000ms\n"
      "      clear: 2500ms\n"
      "      for: 30s\n"
      "      severity: warning\n"
      "      summary: \"{{line}} → {{target}} p95 {{value}} over {{threshold}}\"\n"
      "      notify: [ops]\n"
      "      repeat: 1h\n"
      "notify:\n"
      "  - { id: ops, kind: webhook, url: http://127.0.0.1:9400/hook, secret_file: secret.key }\n"
      "  - { id: am, kind: alertmanager, url: http://127.0.0.1:9093 }\n"
      "  - { id: wx, kind: wecom, url_env: WECOM_HOOK }\n"
      "  - { id: dd, kind: dingtalk, url_env: DINGTALK_HOOK, secret_env: DINGTALK_SECRET, "
      "timeout: 2s }\n");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const Config& c = *r;
  CHECK(c.alerts.defaults);
  REQUIRE(c.alerts.rules.size() == 1);
  const AlertRule& a = c.alerts.rules[0];
  CHECK(a.name == "api-slow");
  CHECK(a.metric == AlertMetric::rtt_p95);
  CHECK(a.scope == AlertScope::series);
  CHECK(a.match == AlertMatch{"cn2-*", "", "http"});
  CHECK(a.window == 5min);
  CHECK(a.above);
  CHECK(a.threshold == 3000);
  CHECK(*a.clear == 2500);
  CHECK(a.for_duration == 30s);
  CHECK(a.severity == "warning");
  CHECK(a.summary == "{{line}} → {{target}} p95 {{value}} over {{threshold}}");
  CHECK(*a.notify == std::vector<std::string>{"ops"});
  CHECK(a.repeat == 1h);
  REQUIRE(c.notify.size() == 4);
  CHECK(c.notify[0].id == "ops");
  CHECK(c.notify[0].kind == NotifierKind::webhook);
  CHECK(c.notify[0].url == "http://127.0.0.1:9400/hook");
  CHECK(c.notify[0].secret_file ==
        (fs::path(LINEWATCH_SOURCE_DIR) / "tests/testdata/config/secret.key").string());
  CHECK(c.notify[1].kind == NotifierKind::alertmanager);
  CHECK(c.notify[2].url_env == "WECOM_HOOK");
  CHECK(c.notify[2].timeout == 5s);
  CHECK(c.notify[3].secret_env == "DINGTALK_SECRET");
  CHECK(c.notify[3].timeout == 2s);
  CHECK(effective_rules(c.alerts).size() == 5);
}

TEST_CASE("config alerts: without the sections the default rules are in force") {
  auto r = load("");
  REQUIRE(r.ok());
  CHECK(r->alerts.defaults);
  CHECK(r->alerts.rules.empty());
  CHECK(r->notify.empty());
  CHECK(effective_rules(r->alerts).size() == 4);
  auto off = load("alerts: { defaults: false }\n");
  REQUIRE(off.ok());
  CHECK_FALSE(off->alerts.defaults);
  CHECK(effective_rules(off->alerts).empty());
}

TEST_CASE("config alerts: defaults per metric, below, repeat 0 and notify none") {
  auto r = load(
      "alerts:\n"
      "  rules:\n"
      "    - { name: busy, metric: bandwidth_utilisation, above: 90%, match: { line: cn2-bj-1 } }\n"
      "    - { name: sla, metric: availability, below: 99.95%, window: 30d, repeat: 0s }\n"
      "    - { name: failing, metric: failures, above: 3, notify: [] }\n");
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  const auto& rules = r->alerts.rules;
  REQUIRE(rules.size() == 3);
  CHECK(rules[0].scope == AlertScope::line);  // bandwidth is per line
  CHECK(rules[0].threshold == 0.9);
  CHECK_FALSE(rules[0].clear);
  CHECK(rules[1].scope == AlertScope::series);
  CHECK_FALSE(rules[1].above);
  CHECK(rules[1].threshold == 9995.0 / 10000.0);
  CHECK(rules[1].window == 30 * 24h);
  CHECK(rules[1].repeat == Duration::zero());
  CHECK_FALSE(rules[1].notify);  // every receiver
  CHECK(rules[2].threshold == 3);
  REQUIRE(rules[2].notify);
  CHECK(rules[2].notify->empty());
}

TEST_CASE("config alerts: every problem of a rule is reported") {
  auto r = load(
      "alerts:\n"
      "  rules:\n"
      "    - { name: x, metric: loss, above: 2ms, severity: loud, match: { kind: dns } }\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message ==
        kName + ":8:39: alerts.rules[0].above: loss takes a percentage such as 1%, got \"2ms\"\n" +
            kName +
            ":8:54: alerts.rules[0].severity: must be critical, warning or info, got \"loud\"\n" +
            kName +
            ":8:75: alerts.rules[0].match.kind: \"dns\" matches no probe kind of this config");
}

TEST_CASE("config alerts: rule and match keys are checked by name") {
  CHECK(message(load("alerts: { rules: [ { name: a, metric: loss, above: 1%, fo: 1s } ] }\n")) ==
        "alerts.rules[0].fo: unknown key (did you mean \"for\"?)");
  CHECK(message(load("alerts: { rules: [ { name: a, metric: loss, above: 1%, match: { host: x } "
                     "} ] }\n")) ==
        "alerts.rules[0].match.host: unknown key (expected one of: line, target, kind)");
  CHECK(message(load("alerts: { rules: [ { metric: loss, above: 1% } ] }\n")) ==
        "alerts.rules[0]: missing required key \"name\"");
  CHECK(message(load("alerts: { rules: [ { name: a, metric: loss, above: 1%, match: { target: "
                     "'x*' } } ] }\n")) ==
        "alerts.rules[0].match.target: \"x*\" matches no target of this config");
  CHECK(message(load("alerts: { rules: [ { name: b, metric: bandwidth_utilisation, above: 1%, "
                     "match: { kind: icmp } } ] }\n")) ==
        "alerts.rules[0].match.kind: bandwidth_utilisation is measured per line (match line "
        "only)");
}

TEST_CASE("config alerts: a receiver URL is never echoed") {
  const std::string token = "ftp://qyapi.example/send?key=0123456789abcdef";
  const std::string m =
      message(load("notify:\n  - { id: wx, kind: wecom, url: '" + token + "' }\n"));
  CHECK(m == "notify[0].url: must start with http:// or https://, got scheme \"ftp\"");
  CHECK(message(load("notify:\n  - { id: wx, kind: wecom, url: 'https://u:p@h/x' }\n")) ==
        "notify[0].url: must not embed user:password@ (it would show in logs and the API)");
  CHECK(message(load("notify:\n  - { id: wx, kind: wecom, url: 'https:///x' }\n")) ==
        "notify[0].url: has no host");
}

// The loader judges receivers without reading environment variables; with
// every variable set, exporters' resolve_secrets() must agree with it.
TEST_CASE("config alerts: receivers are judged as resolve_secrets judges them") {
  struct Case {
    const char* yaml;  // the keys of one receiver
    bool loads;
  };
  const Case cases[] = {
      {"kind: webhook, url: 'http://h/x', secret_file: secret.key", true},
      {"kind: webhook, url: 'http://h/x', secret_env: K", true},
      {"kind: webhook, url: 'http://h/x'", false},
      {"kind: alertmanager, url: 'http://h:9093'", true},
      {"kind: alertmanager, url: 'http://h:9093', secret_env: K", false},
      {"kind: wecom, url_env: U", true},
      {"kind: wecom, url_env: U, secret_file: secret.key", false},
      {"kind: dingtalk, url_env: U", true},
      {"kind: dingtalk, url_env: U, secret_env: K", true},
      {"kind: feishu, url_env: U, secret_file: secret.key", true},
      {"kind: feishu, url_env: U, secret_file: secret.key, secret_env: K", false},
      {"kind: wecom, url: 'http://h/x', url_env: U", false},
      {"kind: wecom", false},
      {"kind: wecom, url: 'ftp://h/x'", false},
      {"kind: wecom, url: 'https://'", false},
  };
  const EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    return name == "U" ? "https://robot.example/send?key=k" : "a-key";
  };
  for (const Case& c : cases) {
    CAPTURE(c.yaml);
    auto r = load(std::string("notify:\n  - { id: n, ") + c.yaml + " }\n");
    CHECK(r.ok() == c.loads);
    if (!r.ok()) continue;
    auto secrets = resolve_secrets(r->notify.at(0), "notify[0]", env);
    CHECK_MESSAGE(secrets.ok(), secrets.error().message);
  }
  // The refusals they share read the same.
  NotifierSpec am;
  am.kind = NotifierKind::alertmanager;
  am.url = "http://h:9093";
  am.secret_env = "K";
  CHECK(resolve_secrets(am, "notify[0]", env).error().message ==
        message(load("notify:\n  - { id: n, kind: alertmanager, url: 'http://h:9093', "
                     "secret_env: K }\n")));
  NotifierSpec hook;
  hook.url = "http://h/x";
  CHECK(resolve_secrets(hook, "notify[0]", env).error().message ==
        message(load("notify:\n  - { id: n, kind: webhook, url: 'http://h/x' }\n")));
}

// Golden files for what the query commands print: fixed snapshots go through
// the API's document builders (lines, targets, routes, events, alerts and the
// status's parts), and each document through the CLI's table printer; both
// the JSON and the table must equal tests/testdata/cli/NAME.golden byte for
// byte, so any change of a field, a column or a format shows in review.
//
// After an intended change, regenerate them and read the diff:
//   LINEWATCH_UPDATE_GOLDEN=1 build/agent/agent_lib_test -tc='golden*'
// Without the variable a missing or different file fails the case.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/alerting_api.h"
#include "agent/api_lines.h"
#include "agent/api_server.h"
#include "agent/cli_tables.h"
#include "agent/failover_json.h"
#include "agent/json.h"
#include "agent/status_table.h"

using namespace linewatch;
using namespace std::chrono_literals;
using Poco::JSON::Object;

namespace {

// 2026-11-30T12:00:00Z plus `s`.
WallTime at(std::chrono::seconds s = 0s) {
  return WallTime(std::chrono::sys_days{std::chrono::year{2026} / 11 / 30} + 12h + s);
}

void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = std::string(LINEWATCH_SOURCE_DIR) + "/tests/testdata/cli/" + name;
  const char* update = std::getenv("LINEWATCH_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), path << " is missing: run with LINEWATCH_UPDATE_GOLDEN=1");
  std::ostringstream expected;
  expected << in.rdbuf();
  CHECK_MESSAGE(expected.str() == actual,
                name << " differs; if intended, run with LINEWATCH_UPDATE_GOLDEN=1\n--- got:\n"
                     << actual);
}

// Checks the document as NAME.json.golden and its table as NAME.table.golden.
template <typename Print>
void check_document_and_table(const std::string& name, const std::string& json, Print print) {
  check_golden(name + ".json.golden", json + "\n");
  auto doc = Poco::JSON::Parser().parse(json).extract<Object::Ptr>();
  std::ostringstream table;
  print(*doc, table);
  check_golden(name + ".table.golden", table.str());
}

ProbeSpec probe(ProbeKind kind, const std::string& where) {
  ProbeSpec p;
  p.kind = kind;
  p.icmp.host = p.tcp->host = p.http->url = p.llm->base_url = where;
  return p;
}

Config config() {
  Config c;
  c.agent.id = "bj-gw-1";
  for (const char* id : {"cn2", "cmi", "cu"}) {
    LineSpec l;
    l.id = id;
    c.lines.push_back(l);
  }
  c.lines[0].capacity_bps = 500'000'000;
  c.targets = {
      TargetSpec{"dns",
                 {probe(ProbeKind::icmp, "198.18.0.2"), probe(ProbeKind::tcp, "198.18.0.2")}},
      TargetSpec{"web", {probe(ProbeKind::http, "https://198.18.0.3/health?token=x")}}};
  c.routes = {RouteSpec{"198.19.0.0/16", RouteSpec::Policy::primary_backup, {"cn2", "cmi"}}};
  return c;
}

SeriesSummary series(const std::string& line, const std::string& target, ProbeKind kind, bool ok,
                     int rtt_us) {
  SeriesSummary s;
  s.key = {line, target, kind};
  ProbeResult& r = s.latest;
  r.line = line;
  r.target = target;
  r.kind = kind;
  r.time = at(-2s);
  r.ok = ok;
  r.reason = ok ? Reason::ok : Reason::timeout;
  r.detail = ok ? "" : "no answer within 2s";
  if (ok) r.rtt = std::chrono::microseconds(rtt_us);
  r.duration = ok ? std::chrono::microseconds(rtt_us) : Duration(2s);
  s.rounds = 60;
  s.ok_rounds = ok ? 60 : 45;
  s.availability = s.ok_rounds / 60.0;
  s.loss = 1 - s.availability;
  if (ok) {
    s.rtt_median = std::chrono::microseconds(rtt_us);
    s.rtt_p95 = std::chrono::microseconds(rtt_us + 4'000);
    s.jitter = std::chrono::microseconds(700);
  } else {
    s.last_failure = Reason::timeout;
    s.last_failure_time = r.time;
    s.last_failure_detail = r.detail;
  }
  s.covered = 5min;
  return s;
}

std::vector<SeriesSummary> board() {
  return {series("cmi", "dns", ProbeKind::icmp, true, 181'200),
          series("cn2", "dns", ProbeKind::icmp, true, 150'400),
          series("cn2", "web", ProbeKind::http, true, 320'900),
          series("cu", "dns", ProbeKind::icmp, false, 0)};
}

std::vector<LineBandwidth> bandwidth() {
  LineBandwidth cn2;
  cn2.line = "cn2";
  cn2.interface = "eth1";
  cn2.from = CountersFrom::interface;
  cn2.capacity_bps = 500'000'000;
  cn2.reading.state = CounterState::measuring;
  cn2.reading.since_wall = at(-60s);
  cn2.reading.interval = 1s;
  cn2.reading.rx_bps = 12'345'678;
  cn2.reading.tx_bps = 2'500'000;
  cn2.reading.utilisation = 12'345'678 / 500e6;
  LineBandwidth cmi;
  cmi.line = "cmi";
  cmi.detail = "set lines[].counters to the interface that carries the line";
  LineBandwidth cu;
  cu.line = "cu";
  return {cn2, cmi, cu};
}

FailoverSnapshot failover() {
  FailoverSnapshot f;
  auto line = [](const std::string& id, LineState state, double score, bool traffic) {
    FailoverLineView l;
    l.line = id;
    l.state = state;
    l.since = at(-600s);
    l.reason = state == LineState::down ? "silence" : "rise";
    l.takes_traffic = traffic;
    l.score = score;
    l.alive = state != LineState::down;
    l.fresh = true;
    l.rtt_median = 150ms;
    return l;
  };
  f.lines = {line("cn2", LineState::up, 0.93, true), line("cmi", LineState::degraded, 0.41, false)};
  f.plan.agent = "bj-gw-1";
  f.plan.version = 7;
  f.plan.time = at(-300s);
  NextHop hop;
  hop.line = "cn2";
  hop.via = "198.18.1.2";
  hop.dev = "eth1";
  f.plan.routes = {RouteEntry{"198.19.0.0/16", {hop}}};
  f.starting = false;
  f.preferred = {"cn2"};
  f.counters.steps = 1200;
  f.counters.plans = 7;
  return f;
}

std::string stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

}  // namespace

TEST_CASE("golden status table from a status document built of fixed snapshots") {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("agent", "bj-gw-1");
  doc.set("version", "0.1.0");
  doc.set("now", format_time(at()));
  doc.set("window_s", 300);
  Poco::JSON::Array::Ptr lines = new Poco::JSON::Array;
  for (const LineBandwidth& l : bandwidth()) lines->add(line_bandwidth_to_json(l));
  doc.set("lines", lines);
  doc.set("failover", failover_to_json(failover()));
  Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
  for (const SeriesSummary& s : board()) list->add(summary_to_json(s));
  doc.set("series", list);
  check_document_and_table("status", stringify(doc), print_status_table);
}

TEST_CASE("golden lines document and table") {
  const Config c = config();
  const LinesView view{&c, at(), board(), bandwidth(), failover()};
  check_document_and_table("lines", lines_document(view), print_lines_table);
}

TEST_CASE("golden targets document") {
  check_golden("targets.json.golden", targets_document(config()) + "\n");
}

TEST_CASE("golden routes document and table") {
  RoutesView view;
  view.agent = "bj-gw-1";
  view.now = at();
  view.failover = failover();
  view.apply_table = "100";
  view.apply = LocalApplyStats{7, 9, 1, 30, 2, 0};
  GatewayStatus ok{"gw1", "url", 7, std::nullopt, at(-299s), "applied", "", 7, 0, 0, 0, 0};
  GatewayStatus failing{"gw2", "exec", 6, 7, at(-10s), "refused", "exit status 1: table busy",
                        9,     2,      3, 2, 0};
  view.gateways = {ok, failing};
  check_document_and_table("routes", routes_document(view), print_routes_table);
  RoutesView off;
  off.agent = "bj-gw-1";
  off.now = at();
  check_document_and_table("routes_off", routes_document(off), print_routes_table);
}

TEST_CASE("golden events document and table") {
  const std::vector<Event> events{
      {at(-5s), "plan_new", "", "", "score_moved", "v7: 198.19.0.0/16 via cn2"},
      {at(-9s), "line_down", "cu", "", "silence", "no reply for 1.02s from 2 reflectors"},
      {at(-60s), "destination_down", "", "web", "all_lines_failing", "every line fails to web"}};
  check_document_and_table("events", events_document(events, 100), print_events_table);
}

TEST_CASE("golden alerts document and table") {
  ActiveAlert slow;
  slow.rule = "api-slow";
  slow.severity = "warning";
  slow.key = {"cn2", "web", "http"};
  slow.status = AlertStatus::firing;
  slow.since_wall = at(-120s);
  slow.value = 3.412;
  slow.value_text = "3412 ms";
  slow.threshold = 3.0;
  slow.threshold_text = "3000 ms";
  slow.summary = "web via cn2 answers in 3412 ms";
  ActiveAlert down = slow;
  down.rule = "line-down";
  down.metric = AlertMetric::rtt_median;
  down.key = {"cu", "", ""};
  down.status = AlertStatus::pending;
  down.held = true;
  down.value.reset();
  down.value_text.clear();
  down.threshold.reset();
  down.threshold_text.clear();
  const AlertsView view{{slow, down}, at(-1s)};
  OutboxView outbox;
  OutboxReceiverView ops;
  ops.id = "ops";
  ops.kind = NotifierKind::wecom;
  ops.pending = 3;
  ops.failing = true;
  ops.oldest = at(-100s);
  ops.last_attempt = at(-3s);
  ops.last_reason = "http_5xx";
  ops.last_error = "127.0.0.1:9400 answered HTTP 503";
  outbox.receivers = {ops};
  check_document_and_table(
      "alerts", alerts_document(view, "bj-gw-1", at(), outbox),
      [](const Object& doc, std::ostream& out) { CHECK(print_alerts_table(doc, out) == 1); });
}

TEST_CASE("golden alert history document and table") {
  const std::vector<Event> events{
      {at(-5s), "alert_firing", "cn2", "web", "rtt_p95",
       "api-slow cn2:web:http: 3412 ms > 3000 ms"},
      {at(-65s), "alert_pending", "cn2", "web", "rtt_p95", "api-slow cn2:web:http: 3101 ms"}};
  check_document_and_table("alert_history", events_document(events, 50), print_alert_history_table);
}

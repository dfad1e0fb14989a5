// Alerting on a fake clock: results in, transitions out as events and
// notices, line states from the failover's events, and the cadence. The
// thread is never started; the tests call step() as the thread would.
#include "agent/alerting.h"

#include <doctest/doctest.h>

#include <mutex>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

using Strings = std::vector<std::string>;

class RecordingEvents final : public EventSink {
 public:
  void emit(const Event& e) override { events.push_back(e); }
  Strings kinds() const {
    Strings out;
    for (const Event& e : events)
      out.push_back(e.kind + ":" + e.detail.substr(0, e.detail.find(' ')));
    return out;
  }
  std::vector<Event> events;
};

class RecordingNotices final : public NoticeSink {
 public:
  void enqueue(const AlertNotice& n, const std::vector<std::string>& receivers) override {
    notices.push_back(n);
    to.push_back(receivers);
  }
  std::vector<AlertNotice> notices;
  std::vector<Strings> to;
};

AlertRule rule(std::string name, AlertMetric metric, double threshold, Duration for_duration,
               Duration window = 5s) {
  AlertRule r;
  r.name = std::move(name);
  r.metric = metric;
  r.scope = AlertScope::series;
  r.threshold = threshold;
  r.for_duration = for_duration;
  r.window = window;
  return r;
}

Config config_with(std::vector<AlertRule> rules) {
  Config c;
  c.agent.id = "bj-gw-1";
  c.alerts.defaults = false;
  c.alerts.rules = std::move(rules);
  NotifierSpec ops;
  ops.id = "ops";
  c.notify.push_back(ops);
  return c;
}

ProbeResult http_round(const std::string& line, bool ok, Duration rtt = 50ms) {
  ProbeResult r;
  r.line = line;
  r.target = "api";
  r.kind = ProbeKind::http;
  r.ok = ok;
  r.reason = ok ? Reason::ok : Reason::refused;
  if (ok) r.rtt = rtt;
  return r;
}

struct Rig {
  explicit Rig(std::vector<AlertRule> rules, AlertingOptions options = {}) {
    auto a =
        Alerting::create(config_with(std::move(rules)), clock, events, notices, nullptr, options);
    REQUIRE(a.ok());
    alerting = std::move(*a);
  }
  // Advances the clock by `by` and runs one step.
  void at(Duration by) {
    clock.advance(by);
    alerting->step();
  }
  FakeClock clock;
  RecordingEvents events;
  RecordingNotices notices;
  std::unique_ptr<Alerting> alerting;
};

Event line_event(const std::string& kind, const std::string& line) {
  Event e;
  e.kind = kind;
  e.line = line;
  e.reason = kind == "line_down" ? "silence" : "rise";
  return e;
}

}  // namespace

TEST_CASE("alerting: failed rounds make a pending then firing alert, events and one notice") {
  Rig rig({rule("refused", AlertMetric::failures, 0, 2s)});
  rig.alerting->on_result(http_round("l1", false));
  rig.at(1s);
  CHECK(rig.events.kinds() == Strings{"alert_pending:refused"});
  CHECK(rig.notices.notices.empty());
  auto view = rig.alerting->view();
  REQUIRE(view.alerts.size() == 1);
  CHECK(view.alerts[0].status == AlertStatus::pending);
  CHECK(view.evaluated == rig.clock.wall_now());

  rig.alerting->on_result(http_round("l1", false));
  rig.at(1s);
  rig.at(1s);  // 2s since pending began
  CHECK(rig.events.kinds() == Strings{"alert_pending:refused", "alert_firing:refused"});
  REQUIRE(rig.notices.notices.size() == 1);
  const AlertNotice n = rig.notices.notices[0];  // a copy: the list grows
  CHECK(n.rule == "refused");
  CHECK_FALSE(n.resolved);
  CHECK(n.labels.at("line") == "l1");
  CHECK(n.value_text == "2");
  CHECK(rig.notices.to[0] == Strings{"ops"});
  view = rig.alerting->view();
  REQUIRE(view.alerts.size() == 1);
  CHECK(view.alerts[0].status == AlertStatus::firing);
  CHECK(view.alerts[0].summary == "refused: l1 → api (http) failures 2 above 0");

  // The port answers again; once the failures leave the 5s window it resolves.
  rig.alerting->on_result(http_round("l1", true));
  for (int i = 0; i < 5; ++i) rig.at(1s);
  CHECK(rig.events.kinds().back() == "alert_resolved:refused");
  REQUIRE(rig.notices.notices.size() == 2);
  CHECK(rig.notices.notices[1].resolved);
  CHECK(rig.notices.notices[1].id == n.id.substr(0, n.id.rfind('/')) + "/resolved");
  CHECK(rig.alerting->view().alerts.empty());
  const AlertingStats st = rig.alerting->stats();
  CHECK(st.events == rig.events.events.size());
  CHECK(st.notices == 2);
  CHECK(st.inputs == 3);
}

TEST_CASE("alerting: a line down from the failover's events holds its latency alerts") {
  Rig rig({rule("slow", AlertMetric::rtt_p95, 100, 0s)});
  // The failover's fan-out hands every event over; only line states count.
  rig.alerting->line_events().emit(line_event("plan_new", ""));
  rig.alerting->line_events().emit(line_event("line_down", "l1"));
  rig.alerting->on_result(http_round("l1", true, 300ms));
  rig.at(1s);
  CHECK(rig.events.kinds() == Strings{"alert_firing:line-down", "alert_firing:slow"});
  REQUIRE(rig.notices.notices.size() == 1);  // the line speaks for the slow series
  CHECK(rig.notices.notices[0].rule == "line-down");
  CHECK(rig.notices.notices[0].severity == "critical");
  for (const ActiveAlert& a : rig.alerting->view().alerts) CHECK(a.held == (a.rule == "slow"));

  // Degraded is not down: the line-down alert resolves, the held one silently.
  rig.alerting->line_events().emit(line_event("line_degraded", "l1"));
  rig.at(1s);
  CHECK(rig.events.kinds() == Strings{"alert_firing:line-down", "alert_firing:slow",
                                      "alert_resolved:line-down", "alert_resolved:slow"});
  REQUIRE(rig.notices.notices.size() == 2);
  CHECK(rig.notices.notices[1].rule == "line-down");
  CHECK(rig.notices.notices[1].resolved);
  CHECK(rig.alerting->view().alerts.empty());
}

TEST_CASE("alerting: line_up and line_recovered end a line down, alert events do not") {
  for (const char* up : {"line_up", "line_recovered"}) {
    CAPTURE(up);
    Rig rig({});
    rig.alerting->line_events().emit(line_event("line_down", "l1"));
    rig.alerting->line_events().emit(line_event("alert_resolved", "l1"));  // its own, echoed back
    rig.at(1s);
    REQUIRE(rig.alerting->view().alerts.size() == 1);
    rig.alerting->line_events().emit(line_event(up, "l1"));
    rig.at(1s);
    CHECK(rig.alerting->view().alerts.empty());
  }
}

TEST_CASE("alerting: evaluates once a period, and once after a stall, never to catch up") {
  Rig rig({});
  rig.at(500ms);
  CHECK(rig.alerting->stats().evaluations == 0);
  CHECK_FALSE(rig.alerting->view().evaluated.has_value());
  rig.at(500ms);
  CHECK(rig.alerting->stats().evaluations == 1);
  rig.at(0s);
  rig.at(999ms);
  CHECK(rig.alerting->stats().evaluations == 1);
  rig.at(1ms);
  CHECK(rig.alerting->stats().evaluations == 2);
  rig.at(3500ms);  // the thread was late: one evaluation, the next a period later
  CHECK(rig.alerting->stats().evaluations == 3);
  rig.at(999ms);
  CHECK(rig.alerting->stats().evaluations == 3);
  rig.at(1ms);
  CHECK(rig.alerting->stats().evaluations == 4);
}

TEST_CASE("alerting: for is met at the same tick when the thread wakes late by jitter") {
  Rig rig({rule("refused", AlertMetric::failures, 0, 2s)});
  rig.alerting->on_result(http_round("l1", false));
  rig.at(1s + 300us);  // the first tick, 0.3 ms late: pending since the tick
  rig.at(1s - 200us);
  CHECK(rig.events.kinds() == Strings{"alert_pending:refused"});
  rig.at(1s - 100us);  // the third tick, on time: 2s after the first
  CHECK(rig.events.kinds() == Strings{"alert_pending:refused", "alert_firing:refused"});
  CHECK(rig.alerting->view().alerts.at(0).since == MonoTime(1s));
}

TEST_CASE("alerting: a result counts from its arrival, not from when the thread takes it") {
  Rig rig({rule("refused", AlertMetric::failures, 0, 0s, 5s)});
  rig.clock.advance(500ms);
  rig.alerting->on_result(http_round("l1", false));
  // The thread is 6s late: the failure is already out of its 5s window.
  rig.at(6s);
  CHECK(rig.events.events.empty());
  CHECK(rig.alerting->stats().inputs == 1);
}

TEST_CASE("alerting: time to first token and bandwidth readings reach their rules") {
  AlertRule ttft = rule("ttft", AlertMetric::ttft_p95, 1000, 0s);
  AlertRule busy = rule("busy", AlertMetric::bandwidth_utilisation, 0.8, 0s);
  busy.scope = AlertScope::line;
  Rig rig({ttft, busy});
  ProbeResult llm = http_round("l1", true, 1500ms);
  llm.kind = ProbeKind::llm;
  llm.llm = LlmFigures{};
  llm.llm->mode = LlmMode::completion;
  llm.llm->ttft = 1500ms;
  rig.alerting->on_result(llm);
  BandwidthReading reading;
  reading.state = CounterState::measuring;
  reading.at = rig.clock.now();
  reading.interval = 1s;
  reading.utilisation = 0.9;
  rig.alerting->on_bandwidth("l2", reading);
  reading.utilisation.reset();  // no capacity: nothing to sample, not even queued
  rig.alerting->on_bandwidth("l2", reading);
  rig.at(1s);
  std::map<std::string, std::string> fired;
  for (const ActiveAlert& a : rig.alerting->view().alerts) fired[a.rule] = a.value_text;
  CHECK(fired == std::map<std::string, std::string>{{"busy", "90%"}, {"ttft", "1500 ms"}});
  CHECK(rig.alerting->stats().inputs == 2);
}

TEST_CASE("alerting: a full inbox drops and counts, and stop ignores what comes later") {
  AlertingOptions options;
  options.inbox_capacity = 2;
  Rig rig({}, options);
  for (int i = 0; i < 3; ++i) rig.alerting->on_result(http_round("l1", false));
  CHECK(rig.alerting->stats().dropped == 1);
  rig.at(1s);
  CHECK(rig.alerting->stats().inputs == 2);
  rig.alerting->stop();
  rig.alerting->on_result(http_round("l1", false));
  rig.at(1s);
  CHECK(rig.alerting->stats().inputs == 2);
  CHECK(rig.alerting->stats().dropped == 1);
}

TEST_CASE("alerting: the thread evaluates on the real clock and stops at once") {
  SystemClock clock;
  RecordingEvents events;
  RecordingNotices notices;
  AlertingOptions options;
  options.evaluate_every = 10ms;
  auto a = Alerting::create(config_with({rule("refused", AlertMetric::failures, 0, 0s)}), clock,
                            events, notices, nullptr, options);
  REQUIRE(a.ok());
  (*a)->on_result(http_round("l1", false));
  (*a)->start();
  // Bounded: at most 5 s, normally one or two periods.
  for (int i = 0; i < 500 && (*a)->view().alerts.empty(); ++i) std::this_thread::sleep_for(10ms);
  (*a)->stop();
  REQUIRE((*a)->view().alerts.size() == 1);
  CHECK((*a)->view().alerts[0].status == AlertStatus::firing);
  CHECK(notices.notices.size() == 1);
}

TEST_CASE("alerting: the log line of a notice names receivers by id and quotes the summary") {
  AlertNotice n;
  n.id = "bj-gw-1/refused/l1:api:http/1800000000000-1/firing";
  n.rule = "refused";
  n.severity = "warning";
  n.summary = "refused: l1 → api (http) failures 2 above 0";
  CHECK(notice_log_line(n, {"ops", "wx"}) ==
        "msg=\"alert notice\" notice=\"bj-gw-1/refused/l1:api:http/1800000000000-1/firing\" "
        "rule=\"refused\" status=firing severity=warning receivers=\"ops,wx\" "
        "summary=\"refused: l1 → api (http) failures 2 above 0\"");
  n.repeat = 2;
  CHECK(notice_log_line(n, {"ops"}).find(" status=repeat-2 ") != std::string::npos);
  n.resolved = true;
  CHECK(notice_log_line(n, {"ops"}).find(" status=resolved ") != std::string::npos);
}

TEST_CASE(
    "alerting: a reconfigure keeps a firing alert, its start and its notice, and adds rules") {
  Rig rig({rule("refused", AlertMetric::failures, 0, 2s)});
  for (int i = 0; i < 3; ++i) {
    rig.alerting->on_result(http_round("l1", false));
    rig.at(1s);
  }
  REQUIRE(rig.notices.notices.size() == 1);
  const auto before = rig.alerting->view();
  REQUIRE(before.alerts.size() == 1);
  REQUIRE(before.alerts[0].status == AlertStatus::firing);

  // The reload: the same rule with a longer window, and a new one.
  REQUIRE(rig.alerting
              ->reconfigure(config_with({rule("refused", AlertMetric::failures, 0, 2s, 10s),
                                         rule("slow", AlertMetric::rtt_p95, 1000, 0s)}),
                            nullptr)
              .ok());
  const std::size_t events_before = rig.events.events.size();
  rig.alerting->on_result(http_round("l1", false));
  rig.at(1s);
  const auto after = rig.alerting->view();
  REQUIRE(after.alerts.size() == 1);
  CHECK(after.alerts[0].rule == "refused");
  CHECK(after.alerts[0].status == AlertStatus::firing);
  CHECK(after.alerts[0].since_wall == before.alerts[0].since_wall);
  CHECK(rig.notices.notices.size() == 1);            // no second firing notice
  CHECK(rig.events.events.size() == events_before);  // nothing started over
}

TEST_CASE("alerting: a reconfigure the engine refuses leaves the running rules alone") {
  Rig rig({rule("refused", AlertMetric::failures, 0, 0s)});
  AlertRule bad = rule("bad", AlertMetric::failures, 0, 0s);
  bad.notify = std::vector<std::string>{"nobody"};
  const Status s = rig.alerting->reconfigure(config_with({bad}), nullptr);
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.find("nobody") != std::string::npos);
  rig.alerting->on_result(http_round("l1", false));
  rig.at(1s);
  REQUIRE(rig.alerting->view().alerts.size() == 1);
  CHECK(rig.alerting->view().alerts[0].rule == "refused");
}

TEST_CASE("alerting: the thread takes a filling inbox before its next evaluation") {
  SystemClock clock;
  RecordingEvents events;
  RecordingNotices notices;
  AlertingOptions options;
  options.evaluate_every = 1h;  // no evaluation during the test: only the inbox wakes it
  options.drain_at = 4;
  auto a = Alerting::create(config_with({rule("refused", AlertMetric::failures, 0, 0s)}), clock,
                            events, notices, nullptr, options);
  REQUIRE(a.ok());
  (*a)->start();
  // The thread's first step may take the first inputs; the second batch
  // comes while it waits for an evaluation an hour away.
  for (std::uint64_t batch = 1; batch <= 2; ++batch) {
    for (int i = 0; i < 3; ++i) (*a)->on_result(http_round("l1", false));
    (*a)->on_result(http_round("l1", true));
    // Bounded: at most 5 s, normally at once.
    for (int i = 0; i < 500 && (*a)->stats().inputs < 4 * batch; ++i)
      std::this_thread::sleep_for(10ms);
  }
  const AlertingStats stats = (*a)->stats();
  (*a)->stop();
  CHECK(stats.inputs == 8);
  CHECK(stats.evaluations == 0);
}

TEST_CASE("alerting: a round's ids, outcome, RTTs and time to first token reach the engine") {
  AlertRule slow = rule("slow-ttft", AlertMetric::ttft_p95, 1000, 0s);
  Rig rig({slow, rule("slow", AlertMetric::rtt_p95, 1000, 0s)});
  ProbeResult r = http_round("l1", true, 1500ms);
  r.kind = ProbeKind::llm;
  r.llm.emplace();
  r.llm->ttft = std::chrono::microseconds(2'000'001);
  rig.alerting->on_result(r);
  rig.at(1s);
  const AlertsView view = rig.alerting->view();
  REQUIRE(view.alerts.size() == 2);
  CHECK(view.alerts[0].rule == "slow");
  CHECK(view.alerts[0].key.line == "l1");
  CHECK(view.alerts[0].key.target == "api");
  CHECK(view.alerts[0].key.kind == "llm");
  CHECK(*view.alerts[0].value == 1500);
  CHECK(view.alerts[1].rule == "slow-ttft");
  CHECK(*view.alerts[1].value == 2000.001);
}

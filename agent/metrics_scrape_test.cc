// The scrape side of MetricsCollector: families set from other components'
// snapshots, handed in through MetricsSources.
#include <Poco/InflatingStream.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include "agent/metrics_collector.h"
#include "agent/metrics_test_support.h"
#include "rules/alert_rules.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

Config config_with_routes() {
  Config c;
  c.lines = {with_id<LineSpec>("a"), with_id<LineSpec>("b")};
  c.lines[0].capacity_bps = 80'000;
  c.targets = {TargetSpec{"edge", {ProbeSpec{ProbeKind::icmp, {}, {}, {}, {}, {}}}}};
  c.gateways = {with_id<GatewaySpec>("gw1"), with_id<GatewaySpec>("gw2")};
  c.notify = {with_id<NotifierSpec>("ops"), with_id<NotifierSpec>("chat")};
  return c;
}

// What the fake components report; the test changes it between scrapes.
struct Fakes {
  SchedulerStats scheduler;
  WriterStats storage;
  FailoverSnapshot failover;
  LocalApplyStats apply;
  std::vector<GatewayStatus> gateways;
  std::vector<LineBandwidth> bandwidth;
  AlertsView alerts;
  std::uint64_t alerting_dropped = 0;
  std::vector<ReceiverFigures> receivers;
  std::map<std::pair<std::string, Duration>, double> availability;  // absent: not read yet

  MetricsSources sources() {
    MetricsSources s;
    s.scheduler = [this] { return scheduler; };
    s.storage = [this] { return storage; };
    s.failover = [this] { return failover; };
    s.apply = [this] { return apply; };
    s.gateways = [this] { return gateways; };
    s.bandwidth = [this] { return bandwidth; };
    s.alerts = [this] { return alerts; };
    s.alerting_dropped = [this] { return alerting_dropped; };
    s.receivers = [this] { return receivers; };
    s.availability = [this](const std::string& line, Duration window) -> std::optional<double> {
      auto it = availability.find({line, window});
      if (it == availability.end()) return std::nullopt;
      return it->second;
    };
    return s;
  }
};

LineBandwidth measuring(const std::string& line, double rx_bps, double tx_bps,
                        std::optional<double> utilisation) {
  LineBandwidth b;
  b.line = line;
  b.reading.state = CounterState::measuring;
  b.reading.rx_bps = rx_bps;
  b.reading.tx_bps = tx_bps;
  b.reading.utilisation = utilisation;
  return b;
}

LineBandwidth unmeasured(const std::string& line) {
  LineBandwidth b;
  b.line = line;
  return b;
}

ActiveAlert alert(const std::string& rule, AlertStatus status, const std::string& line) {
  ActiveAlert a;
  a.rule = rule;
  a.status = status;
  a.key.line = line;
  return a;
}

TEST_CASE("metrics scrape: agent health from the scheduler and storage stats") {
  Fakes f;
  f.scheduler.rounds = 120;
  f.scheduler.overruns = 2;
  f.scheduler.missed = 1;
  f.scheduler.lag_total = 1500ms;
  f.scheduler.lag_max = 40ms;
  f.storage.written = 100;
  f.storage.dropped = 3;
  f.storage.events_written = 7;
  f.storage.bandwidth_dropped = 1;
  f.storage.pending = 12;
  f.storage.queue_limit = 65536;
  f.storage.write_errors = 4;
  f.storage.batches = 9;
  f.storage.batch_time_total = 45ms;
  f.storage.batch_time_max = 20ms;
  f.storage.state = StoreState::failing;
  MetricsCollector m(config_with_routes(), f.sources(), {"9.8.7", WallTime(1'700'000'000s)});
  auto s = samples(m.scrape());
  CHECK(s.at("linewatch_scheduler_rounds_total") == 120);
  CHECK(s.at("linewatch_scheduler_overruns_total") == 2);
  CHECK(s.at("linewatch_scheduler_missed_total") == 1);
  CHECK(s.at("linewatch_scheduler_lag_seconds_total") == doctest::Approx(1.5));
  CHECK(s.at("linewatch_scheduler_lag_max_seconds") == doctest::Approx(0.04));
  CHECK(s.at("linewatch_storage_rows_written_total{row=\"result\"}") == 100);
  CHECK(s.at("linewatch_storage_rows_written_total{row=\"event\"}") == 7);
  CHECK(s.at("linewatch_storage_rows_dropped_total{row=\"result\"}") == 3);
  CHECK(s.at("linewatch_storage_rows_dropped_total{row=\"bandwidth\"}") == 1);
  CHECK(s.at("linewatch_storage_queue_rows") == 12);
  CHECK(s.at("linewatch_storage_queue_limit_rows") == 65536);
  CHECK(s.at("linewatch_storage_write_errors_total") == 4);
  CHECK(s.at("linewatch_storage_batches_total") == 9);
  CHECK(s.at("linewatch_storage_batch_seconds_total") == doctest::Approx(0.045));
  CHECK(s.at("linewatch_storage_batch_max_seconds") == doctest::Approx(0.02));
  CHECK(s.at("linewatch_storage_failing") == 1);
  CHECK(s.at("linewatch_build_info{version=\"9.8.7\"}") == 1);
  CHECK(s.at("linewatch_start_time_seconds") == 1'700'000'000);

  // Counters follow the totals up, never down (a total below is ignored).
  f.scheduler.rounds = 130;
  f.storage.write_errors = 1;
  f.storage.state = StoreState::ok;
  s = samples(m.scrape());
  CHECK(s.at("linewatch_scheduler_rounds_total") == 130);
  CHECK(s.at("linewatch_storage_write_errors_total") == 4);
  CHECK(s.at("linewatch_storage_failing") == 0);
}

TEST_CASE("metrics scrape: each line's availability per window once read, absent before") {
  Fakes f;
  MetricsCollector m(config_with_routes(), f.sources());
  auto s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_line_availability_ratio") == 0);  // nothing read: no zero
  f.availability[{"a", 1h}] = 0.999;
  f.availability[{"a", 24h}] = 0.98;
  f.availability[{"a", 720h}] = 0.95;
  f.availability[{"b", 24h}] = 1.0;
  s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_line_availability_ratio") == 4);
  CHECK(s.at("linewatch_line_availability_ratio{line=\"a\",window=\"1h\"}") == 0.999);
  CHECK(s.at("linewatch_line_availability_ratio{line=\"a\",window=\"24h\"}") == 0.98);
  CHECK(s.at("linewatch_line_availability_ratio{line=\"a\",window=\"30d\"}") == 0.95);
  CHECK(s.at("linewatch_line_availability_ratio{line=\"b\",window=\"24h\"}") == 1.0);
  // A figure that can no longer be read goes, rather than keeping its old value.
  f.availability.erase({"a", 1h});
  s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_line_availability_ratio") == 3);
}

TEST_CASE("metrics scrape: each route's lines carry their weight in the plan, 0 when left out") {
  Config c = config_with_routes();
  RouteSpec first;
  first.prefix = "198.19.1.0/24";
  first.lines = {"a", "b"};
  RouteSpec second = first;
  second.prefix = "198.19.2.0/24";
  second.policy = RouteSpec::Policy::weighted;
  c.routes = {first, second};
  Fakes f;
  f.failover.plan.version = 3;
  f.failover.plan.routes = {
      RouteEntry{"198.19.1.0/24", {NextHop{"b", "", "", 1}}},
      RouteEntry{"198.19.2.0/24", {NextHop{"a", "", "", 3}, NextHop{"b", "", "", 1}}},
      RouteEntry{"198.19.9.0/24", {NextHop{"a", "", "", 1}}}};
  MetricsCollector m(c, f.sources());
  auto s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_route_next_hop_weight") == 4);  // routes x their lines only
  CHECK(s.at("linewatch_route_next_hop_weight{line=\"a\",route=\"198.19.1.0/24\"}") == 0);
  CHECK(s.at("linewatch_route_next_hop_weight{line=\"b\",route=\"198.19.1.0/24\"}") == 1);
  CHECK(s.at("linewatch_route_next_hop_weight{line=\"a\",route=\"198.19.2.0/24\"}") == 3);
  CHECK(s.at("linewatch_route_next_hop_weight{line=\"b\",route=\"198.19.2.0/24\"}") == 1);
  // The plan moves the first route to a: b drops to 0 rather than keeping its old weight.
  f.failover.plan.routes[0].nexthops = {NextHop{"a", "", "", 1}};
  s = samples(m.scrape());
  CHECK(s.at("linewatch_route_next_hop_weight{line=\"a\",route=\"198.19.1.0/24\"}") == 1);
  CHECK(s.at("linewatch_route_next_hop_weight{line=\"b\",route=\"198.19.1.0/24\"}") == 0);
  // A reload without the second route removes its series.
  c.routes.pop_back();
  m.reconfigure(c, f.sources());
  s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_route_next_hop_weight") == 2);
}

TEST_CASE("metrics scrape: line state, score, plan and gateway versions") {
  Fakes f;
  f.failover.lines.resize(2);
  f.failover.lines[0].line = "a";
  f.failover.lines[0].state = LineState::degraded;
  f.failover.lines[0].takes_traffic = false;
  f.failover.lines[0].score = 0.25;
  f.failover.lines[0].penalty = 1000;
  f.failover.lines[1].line = "b";
  f.failover.lines[1].score = 0.9;
  f.failover.lines[1].alive = true;
  f.failover.plan.version = 7;
  f.failover.plan.panic = true;
  f.failover.counters.inbox_dropped = 5;
  f.failover.counters.lag_last = 3ms;
  f.apply.applied_version = 6;
  f.gateways.resize(2);
  f.gateways[0].id = "gw1";
  f.gateways[0].delivered = 6;
  f.gateways[0].pending = 7;
  f.gateways[0].attempts = 3;
  f.gateways[0].failures = 1;
  f.gateways[1].id = "gw2";
  MetricsCollector m(config_with_routes(), f.sources());
  auto s = samples(m.scrape());
  CHECK(s.at("linewatch_line_state{line=\"a\",state=\"up\"}") == 0);
  CHECK(s.at("linewatch_line_state{line=\"a\",state=\"degraded\"}") == 1);
  CHECK(s.at("linewatch_line_state{line=\"a\",state=\"down\"}") == 0);
  CHECK(s.at("linewatch_line_state{line=\"b\",state=\"up\"}") == 1);
  CHECK(count_of(s, "linewatch_line_state") == 6);
  CHECK(s.at("linewatch_line_takes_traffic{line=\"a\"}") == 0);
  CHECK(s.at("linewatch_line_takes_traffic{line=\"b\"}") == 1);
  CHECK(s.at("linewatch_line_score{line=\"a\"}") == 0.25);
  CHECK(s.at("linewatch_line_score{line=\"b\"}") == 0.9);
  CHECK(s.at("linewatch_line_flap_penalty{line=\"a\"}") == 1000);
  CHECK(s.at("linewatch_line_alive{line=\"b\"}") == 1);
  CHECK(s.at("linewatch_route_plan_version") == 7);
  CHECK(s.at("linewatch_route_plan_panic") == 1);
  CHECK(s.at("linewatch_route_applied_version") == 6);
  CHECK(s.at("linewatch_failover_inbox_dropped_total") == 5);
  CHECK(s.at("linewatch_failover_decision_lag_seconds") == doctest::Approx(0.003));
  CHECK(s.at("linewatch_gateway_delivered_version{gateway=\"gw1\"}") == 6);
  CHECK(s.at("linewatch_gateway_pending_version{gateway=\"gw1\"}") == 7);
  CHECK(s.at("linewatch_gateway_push_attempts_total{gateway=\"gw1\"}") == 3);
  CHECK(s.at("linewatch_gateway_push_failures_total{gateway=\"gw1\"}") == 1);
  CHECK(s.at("linewatch_gateway_delivered_version{gateway=\"gw2\"}") == 0);

  // Line a goes down: one state at 1, the others at 0.
  f.failover.lines[0].state = LineState::down;
  s = samples(m.scrape());
  CHECK(s.at("linewatch_line_state{line=\"a\",state=\"degraded\"}") == 0);
  CHECK(s.at("linewatch_line_state{line=\"a\",state=\"down\"}") == 1);
}

TEST_CASE("metrics scrape: bandwidth is present only while measured") {
  Fakes f;
  f.bandwidth = {measuring("a", 16'000, 8'000, 0.2), unmeasured("b")};
  MetricsCollector m(config_with_routes(), f.sources());
  auto s = samples(m.scrape());
  CHECK(s.at("linewatch_line_bandwidth_bytes_per_second{direction=\"rx\",line=\"a\"}") == 2000);
  CHECK(s.at("linewatch_line_bandwidth_bytes_per_second{direction=\"tx\",line=\"a\"}") == 1000);
  CHECK(s.at("linewatch_line_utilisation_ratio{line=\"a\"}") == 0.2);
  CHECK(s.at("linewatch_line_capacity_bytes_per_second{line=\"a\"}") == 10'000);
  CHECK(count_of(s, "linewatch_line_bandwidth_bytes_per_second") == 2);  // b is not measured
  CHECK(count_of(s, "linewatch_line_utilisation_ratio") == 1);

  // a's interface vanished; b measures, without a capacity.
  f.bandwidth[0].reading.state = CounterState::vanished;
  f.bandwidth[1] = measuring("b", 800, 1600, std::nullopt);
  s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_line_bandwidth_bytes_per_second") == 2);
  CHECK(s.at("linewatch_line_bandwidth_bytes_per_second{direction=\"tx\",line=\"b\"}") == 200);
  CHECK_FALSE(s.contains("linewatch_line_bandwidth_bytes_per_second{direction=\"rx\",line=\"a\"}"));
  CHECK(count_of(s, "linewatch_line_utilisation_ratio") == 0);
}

TEST_CASE("metrics scrape: alerts by rule and state, outbox by receiver") {
  Fakes f;
  f.alerts.alerts = {
      alert("latency", AlertStatus::firing, "a"), alert("latency", AlertStatus::firing, "b"),
      alert("loss", AlertStatus::pending, "a"), alert("line-down", AlertStatus::firing, "b")};
  f.alerting_dropped = 2;
  f.receivers = {ReceiverFigures{"ops", 3, 1, 10, 4}, ReceiverFigures{"chat", 0, 0, 2, 0}};
  Config c = config_with_routes();
  MetricsCollector m(c, f.sources());
  auto s = samples(m.scrape());
  CHECK(s.at("linewatch_alerts{rule=\"latency\",state=\"firing\"}") == 2);
  CHECK(s.at("linewatch_alerts{rule=\"latency\",state=\"pending\"}") == 0);
  CHECK(s.at("linewatch_alerts{rule=\"loss\",state=\"pending\"}") == 1);
  CHECK(s.at("linewatch_alerts{rule=\"line-down\",state=\"firing\"}") == 1);
  CHECK(s.at("linewatch_alerts{rule=\"availability\",state=\"firing\"}") == 0);
  // Every rule in force and line-down, pending and firing.
  CHECK(count_of(s, "linewatch_alerts") == 2 * (effective_rules(c.alerts).size() + 1));
  CHECK(s.at("linewatch_alerting_inbox_dropped_total") == 2);
  CHECK(s.at("linewatch_notify_outbox_pending{receiver=\"ops\"}") == 3);
  CHECK(s.at("linewatch_notify_outbox_parked{receiver=\"ops\"}") == 1);
  CHECK(s.at("linewatch_notify_delivered_total{receiver=\"ops\"}") == 10);
  CHECK(s.at("linewatch_notify_failures_total{receiver=\"ops\"}") == 4);
  CHECK(s.at("linewatch_notify_delivered_total{receiver=\"chat\"}") == 2);

  // Alerts resolve: back to 0. The outbox cannot be read: its figures stay.
  f.alerts.alerts.clear();
  f.receivers = {ReceiverFigures{"ops", std::nullopt, std::nullopt, 11, 4}};
  s = samples(m.scrape());
  CHECK(s.at("linewatch_alerts{rule=\"latency\",state=\"firing\"}") == 0);
  CHECK(s.at("linewatch_notify_outbox_pending{receiver=\"ops\"}") == 3);
  CHECK(s.at("linewatch_notify_delivered_total{receiver=\"ops\"}") == 11);
}

TEST_CASE("metrics scrape: receiver figures join the sender's counters and the outbox's queues") {
  std::vector<ReceiverStatus> status(2);
  status[0].id = "ops";
  status[0].delivered = 5;
  status[0].failures = 2;
  status[1].id = "chat";
  std::vector<OutboxReceiverSummary> queues(1);
  queues[0].receiver = "ops";
  queues[0].pending = 4;
  queues[0].parked = 1;
  auto f = receiver_figures(status, queues);
  REQUIRE(f.size() == 2);
  CHECK(f[0].id == "ops");
  CHECK(f[0].pending == 4);
  CHECK(f[0].parked == 1);
  CHECK(f[0].delivered == 5);
  CHECK(f[0].failures == 2);
  CHECK(f[1].id == "chat");
  CHECK(f[1].pending == 0);  // no row: nothing waits
  CHECK(f[1].parked == 0);

  auto unread = receiver_figures(status, std::nullopt);
  CHECK_FALSE(unread[0].pending.has_value());
  CHECK_FALSE(unread[0].parked.has_value());
  CHECK(unread[0].delivered == 5);
}

}  // namespace
}  // namespace linewatch

namespace linewatch {
namespace {

std::string gunzip(const std::string& compressed) {
  std::istringstream in(compressed);
  Poco::InflatingInputStream gzip(in, Poco::InflatingStreamBuf::STREAM_GZIP);
  std::string out;
  Poco::StreamCopier::copyToString(gzip, out);
  return out;
}

}  // namespace

TEST_CASE("metrics scrape: the gzip answer inflates to the same text, a fraction of its size") {
  Fakes f;
  f.scheduler.rounds = 120;
  Config c = config_with_routes();
  for (int i = 0; i < 2000; ++i)
    c.targets.push_back(
        TargetSpec{"t" + std::to_string(i), {ProbeSpec{ProbeKind::icmp, {}, {}, {}, {}, {}}}});
  MetricsCollector m(c, f.sources(), {"9.8.7", WallTime(1'700'000'000s)});
  ProbeResult r;
  r.kind = ProbeKind::icmp;
  r.ok = true;
  r.reason = Reason::ok;
  r.sent = r.received = 1;
  for (int i = 0; i < 2000; ++i) {
    r.line = i % 2 ? "a" : "b";
    r.target = "t" + std::to_string(i);
    r.rtt = std::chrono::microseconds(100 + i);
    r.rtts = {r.rtt};
    m.on_result(r);
  }
  const std::string plain = m.scrape();
  REQUIRE(plain.size() > 1'000'000);
  const std::string compressed = m.scrape_gzip();
  CHECK(compressed.size() * 5 < plain.size());
  CHECK(gunzip(compressed) == plain);
}

}  // namespace linewatch

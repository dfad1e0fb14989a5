#include "agent/metrics_collector.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <thread>

#include "agent/metrics_test_support.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

// Two lines; target "edge" has icmp, "api" tcp and http, "chat" an llm
// completion: 2 × 4 = 8 probe series.
Config two_line_config() {
  Config c;
  c.lines = {with_id<LineSpec>("a"), with_id<LineSpec>("b")};
  c.lines[0].capacity_bps = 8'000'000;
  TargetSpec edge{"edge", {ProbeSpec{ProbeKind::icmp, {}, {}, {}, {}, {}}}};
  TargetSpec api{"api",
                 {ProbeSpec{ProbeKind::tcp, {}, {}, {}, {}, {}},
                  ProbeSpec{ProbeKind::http, {}, {}, {}, {}, {}}}};
  ProbeSpec llm{ProbeKind::llm, {}, {}, {}, {}, {}};
  llm.llm->mode = LlmMode::completion;
  TargetSpec chat{"chat", {llm}};
  c.targets = {edge, api, chat};
  c.gateways = {with_id<GatewaySpec>("gw1")};
  c.notify = {with_id<NotifierSpec>("ops")};
  return c;
}

ProbeResult round(const std::string& line, const std::string& target, ProbeKind kind, bool ok,
                  Reason reason = Reason::ok) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = kind;
  r.ok = ok;
  r.reason = ok ? Reason::ok : reason;
  return r;
}

TEST_CASE("metrics: the probe series are the config's line x target x kind") {
  MetricsCollector m(two_line_config(), {});
  CHECK(m.probe_series() == 8);
  auto s = samples(m.scrape());
  CHECK(count_of(s, "linewatch_probe_success") == 8);
  CHECK(count_of(s, "linewatch_probe_loss_ratio") == 8);
  CHECK(count_of(s, "linewatch_probe_jitter_seconds") == 8);
  CHECK(count_of(s, "linewatch_probe_results_total") == 8);  // reason ok, at zero
  CHECK(count_of(s, "linewatch_probe_rtt_seconds_count") == 8);
  CHECK(count_of(s, "linewatch_probe_rtt_seconds_bucket") == 8 * (rtt_buckets().size() + 1));
  CHECK(count_of(s, "linewatch_probe_echoes_sent_total") == 2);  // icmp only
  CHECK(count_of(s, "linewatch_llm_ttft_seconds_count") == 2);   // llm completion only
  CHECK(count_of(s, "linewatch_probe_phase_seconds") == 0);      // no round yet
  CHECK(
      s.at(
          "linewatch_probe_results_total{kind=\"http\",line=\"b\",reason=\"ok\",target=\"api\"}") ==
      0);
  CHECK(s.at("linewatch_line_capacity_bytes_per_second{line=\"a\"}") == 1'000'000);
  CHECK(count_of(s, "linewatch_line_capacity_bytes_per_second") == 1);
  // Without sources, nothing of the parts they describe.
  CHECK(count_of(s, "linewatch_line_state") == 0);
  CHECK(count_of(s, "linewatch_gateway_delivered_version") == 0);
  CHECK(count_of(s, "linewatch_alerts") == 0);
  CHECK(s.at("linewatch_metrics_unknown_results_total") == 0);
}

TEST_CASE("metrics: a result outside the config is counted and adds no series") {
  MetricsCollector m(two_line_config(), {});
  m.on_result(round("c", "edge", ProbeKind::icmp, true));                   // unknown line
  m.on_result(round("a", "nowhere", ProbeKind::icmp, true));                // unknown target
  m.on_result(round("a", "edge", ProbeKind::tcp, false, Reason::refused));  // kind not configured
  auto s = samples(m.scrape());
  CHECK(s.at("linewatch_metrics_unknown_results_total") == 3);
  CHECK(count_of(s, "linewatch_probe_success") == 8);
  CHECK(count_of(s, "linewatch_probe_results_total") == 8);
}

TEST_CASE("metrics: an icmp round feeds every echo to the histogram, echoes, loss and jitter") {
  MetricsCollector m(two_line_config(), {});
  ProbeResult r = round("a", "edge", ProbeKind::icmp, true);
  r.rtts = {10ms, 12ms, std::nullopt, 11ms};
  r.sent = 4;
  r.received = 3;
  r.rtt = 11ms;
  m.on_result(r);
  auto s = samples(m.scrape());
  const std::string l = "kind=\"icmp\",line=\"a\",target=\"edge\"";
  CHECK(s.at("linewatch_probe_rtt_seconds_count{" + l + "}") == 3);
  CHECK(s.at("linewatch_probe_rtt_seconds_sum{" + l + "}") == doctest::Approx(0.033));
  CHECK(s.at("linewatch_probe_rtt_seconds_bucket{" + l + ",le=\"0.005\"}") == 0);
  CHECK(s.at("linewatch_probe_rtt_seconds_bucket{" + l + ",le=\"0.01\"}") == 1);
  CHECK(s.at("linewatch_probe_rtt_seconds_bucket{" + l + ",le=\"0.025\"}") == 3);
  CHECK(s.at("linewatch_probe_rtt_seconds_bucket{" + l + ",le=\"+Inf\"}") == 3);
  CHECK(s.at("linewatch_probe_echoes_sent_total{line=\"a\",target=\"edge\"}") == 4);
  CHECK(s.at("linewatch_probe_echoes_lost_total{line=\"a\",target=\"edge\"}") == 1);
  CHECK(s.at("linewatch_probe_loss_ratio{" + l + "}") == 0.25);
  CHECK(s.at("linewatch_probe_success{" + l + "}") == 1);
  // J = 0 + (2 ms - 0) / 16 = 0.125 ms, then J += (1 ms - 0.125 ms) / 16.
  CHECK(s.at("linewatch_probe_jitter_seconds{" + l + "}") ==
        doctest::Approx(0.0001796875).epsilon(1e-9));

  // The estimate runs on across rounds: 11 ms then 15 ms, D = 4 ms.
  ProbeResult next = r;
  next.rtts = {15ms};
  next.sent = 1;
  next.received = 1;
  m.on_result(next);
  s = samples(m.scrape());
  CHECK(s.at("linewatch_probe_jitter_seconds{" + l + "}") ==
        doctest::Approx(0.0001796875 + (0.004 - 0.0001796875) / 16).epsilon(1e-9));
  CHECK(s.at("linewatch_probe_loss_ratio{" + l + "}") == 0);
  CHECK(s.at("linewatch_probe_echoes_sent_total{line=\"a\",target=\"edge\"}") == 5);
}

TEST_CASE("metrics: failed rounds are counted by reason and set success and loss") {
  MetricsCollector m(two_line_config(), {});
  const std::string l = "kind=\"tcp\",line=\"b\",target=\"api\"";
  m.on_result(round("b", "api", ProbeKind::tcp, false, Reason::refused));
  m.on_result(round("b", "api", ProbeKind::tcp, false, Reason::refused));
  m.on_result(round("b", "api", ProbeKind::tcp, false, Reason::timeout));
  auto s = samples(m.scrape());
  CHECK(s.at("linewatch_probe_results_total{kind=\"tcp\",line=\"b\",reason=\"refused\",target="
             "\"api\"}") == 2);
  CHECK(s.at("linewatch_probe_results_total{kind=\"tcp\",line=\"b\",reason=\"timeout\",target="
             "\"api\"}") == 1);
  CHECK(
      s.at("linewatch_probe_results_total{kind=\"tcp\",line=\"b\",reason=\"ok\",target=\"api\"}") ==
      0);
  CHECK(s.at("linewatch_probe_success{" + l + "}") == 0);
  CHECK(s.at("linewatch_probe_loss_ratio{" + l + "}") == 1);
  CHECK(s.at("linewatch_probe_rtt_seconds_count{" + l + "}") == 0);  // nothing answered

  ProbeResult ok = round("b", "api", ProbeKind::tcp, true);
  ok.rtt = 40ms;
  ok.phases.connect = 40ms;
  m.on_result(ok);
  s = samples(m.scrape());
  CHECK(s.at("linewatch_probe_success{" + l + "}") == 1);
  CHECK(s.at("linewatch_probe_loss_ratio{" + l + "}") == 0);
  CHECK(s.at("linewatch_probe_rtt_seconds_count{" + l + "}") == 1);
  CHECK(s.at("linewatch_probe_phase_seconds{kind=\"tcp\",line=\"b\",phase=\"connect\",target="
             "\"api\"}") == doctest::Approx(0.04));
  CHECK(count_of(s, "linewatch_probe_results_total") == 8 + 2);
}

TEST_CASE("metrics: http phases and llm time to first token") {
  MetricsCollector m(two_line_config(), {});
  ProbeResult h = round("a", "api", ProbeKind::http, true);
  h.rtt = 8ms;
  h.phases.connect = 1ms;
  h.phases.ttfb = 5ms;
  h.phases.transfer = 2ms;
  m.on_result(h);
  ProbeResult c = round("a", "chat", ProbeKind::llm, true);
  c.rtt = 350ms;
  c.phases.dns = 3ms;
  c.phases.tls = 150ms;
  c.llm = LlmFigures{};
  c.llm->mode = LlmMode::completion;
  c.llm->ttft = 350ms;
  c.llm->total = 900ms;
  m.on_result(c);
  auto s = samples(m.scrape());
  auto phase = [&](const char* kind, const char* target, const char* p) {
    return "linewatch_probe_phase_seconds{kind=\"" + std::string(kind) + "\",line=\"a\",phase=\"" +
           p + "\",target=\"" + target + "\"}";
  };
  CHECK(s.at(phase("http", "api", "connect")) == doctest::Approx(0.001));
  CHECK(s.at(phase("http", "api", "ttfb")) == doctest::Approx(0.005));
  CHECK(s.at(phase("http", "api", "transfer")) == doctest::Approx(0.002));
  CHECK_FALSE(s.contains(phase("http", "api", "dns")));  // a phase not reached has no series
  CHECK(s.at(phase("llm", "chat", "dns")) == doctest::Approx(0.003));
  CHECK(s.at(phase("llm", "chat", "tls")) == doctest::Approx(0.15));
  CHECK(s.at(phase("llm", "chat", "ttft")) == doctest::Approx(0.35));
  CHECK(s.at(phase("llm", "chat", "total")) == doctest::Approx(0.9));
  CHECK(count_of(s, "linewatch_probe_phase_seconds") == 7);
  CHECK(s.at("linewatch_llm_ttft_seconds_count{line=\"a\",target=\"chat\"}") == 1);
  CHECK(s.at("linewatch_llm_ttft_seconds_bucket{line=\"a\",target=\"chat\",le=\"0.3\"}") == 0);
  CHECK(s.at("linewatch_llm_ttft_seconds_bucket{line=\"a\",target=\"chat\",le=\"0.4\"}") == 1);
  CHECK(s.at("linewatch_llm_ttft_seconds_count{line=\"b\",target=\"chat\"}") == 0);
}

TEST_CASE("metrics: results from many workers at once are all counted") {
  MetricsCollector m(two_line_config(), {});
  constexpr int kThreads = 4, kRounds = 2000;
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t)
    workers.emplace_back([&m, t] {
      for (int i = 0; i < kRounds; ++i) {
        ProbeResult r = round(t % 2 ? "a" : "b", "api", ProbeKind::http, true);
        r.rtt = 1ms;
        m.on_result(r);
      }
    });
  std::string text;
  for (int i = 0; i < 20; ++i) text = m.scrape();  // scrapes beside the updates
  for (auto& w : workers) w.join();
  auto s = samples(m.scrape());
  CHECK(
      s.at(
          "linewatch_probe_results_total{kind=\"http\",line=\"a\",reason=\"ok\",target=\"api\"}") ==
      kThreads / 2 * kRounds);
  CHECK(
      s.at(
          "linewatch_probe_results_total{kind=\"http\",line=\"b\",reason=\"ok\",target=\"api\"}") ==
      kThreads / 2 * kRounds);
  CHECK(s.at("linewatch_probe_rtt_seconds_count{kind=\"http\",line=\"a\",target=\"api\"}") ==
        kThreads / 2 * kRounds);
}

TEST_CASE("metrics: a reload keeps the counters of the series it keeps and drops the others") {
  Config c = two_line_config();
  MetricsCollector m(c, {});
  ProbeResult r = round("a", "edge", ProbeKind::icmp, true);
  r.rtts = {10ms};
  r.sent = 2;
  r.received = 1;
  m.on_result(r);
  m.on_result(round("b", "api", ProbeKind::tcp, false, Reason::refused));
  ProbeResult h = round("b", "api", ProbeKind::http, true);
  h.phases.ttfb = 5ms;
  m.on_result(h);

  // Line b goes, line c comes; target edge stays on a.
  c.lines = {c.lines[0], with_id<LineSpec>("c")};
  m.reconfigure(c, {});
  CHECK(m.probe_series() == 8);
  auto s = samples(m.scrape());
  const std::string l = "kind=\"icmp\",line=\"a\",target=\"edge\"";
  CHECK(s.at("linewatch_probe_rtt_seconds_count{" + l + "}") == 1);
  CHECK(s.at("linewatch_probe_echoes_sent_total{line=\"a\",target=\"edge\"}") == 2);
  CHECK(s.at("linewatch_probe_echoes_lost_total{line=\"a\",target=\"edge\"}") == 1);
  CHECK(s.at("linewatch_probe_results_total{kind=\"icmp\",line=\"a\",reason=\"ok\",target="
             "\"edge\"}") == 1);
  CHECK(s.at("linewatch_probe_results_total{kind=\"icmp\",line=\"c\",reason=\"ok\",target="
             "\"edge\"}") == 0);
  for (const auto& [key, value] : s) {
    CAPTURE(key);
    CHECK(key.find("line=\"b\"") == std::string::npos);
  }
  CHECK(count_of(s, "linewatch_probe_phase_seconds") == 0);  // b's phases went with it
  CHECK(count_of(s, "linewatch_probe_results_total") == 8);

  // A later round of a kept series goes on from its old counts.
  m.on_result(r);
  s = samples(m.scrape());
  CHECK(s.at("linewatch_probe_rtt_seconds_count{" + l + "}") == 2);
  CHECK(s.at("linewatch_probe_echoes_sent_total{line=\"a\",target=\"edge\"}") == 4);
}

TEST_CASE("metrics: each probe family is written once, in prometheus-cpp's family order") {
  MetricsCollector m(two_line_config(), {});
  ProbeResult h = round("a", "api", ProbeKind::http, true);
  h.phases.ttfb = 5ms;
  m.on_result(h);
  const std::string text = m.scrape();
  std::vector<std::string> types;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("# TYPE ")) types.push_back(line.substr(7));
  auto at = [&](const std::string& family) {
    const auto it = std::find_if(types.begin(), types.end(),
                                 [&](const std::string& t) { return t.starts_with(family + " "); });
    REQUIRE(it != types.end());
    CHECK(std::count_if(types.begin(), types.end(),
                        [&](const std::string& t) { return t.starts_with(family + " "); }) == 1);
    return it - types.begin();
  };
  // Counters, then gauges, then histograms; the probe families first in each.
  CHECK(at("linewatch_probe_results_total") == 0);
  CHECK(at("linewatch_probe_echoes_lost_total") < at("linewatch_metrics_unknown_results_total"));
  CHECK(at("linewatch_metrics_unknown_results_total") < at("linewatch_probe_success"));
  CHECK(at("linewatch_probe_phase_seconds") < at("linewatch_line_capacity_bytes_per_second"));
  CHECK(at("linewatch_start_time_seconds") < at("linewatch_probe_rtt_seconds"));
  CHECK(at("linewatch_llm_ttft_seconds") == static_cast<long>(types.size()) - 1);
}

}  // namespace
}  // namespace linewatch

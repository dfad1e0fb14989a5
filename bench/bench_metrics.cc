// bench_metrics: what a Prometheus scrape of /metrics costs at scale. Builds a
// MetricsCollector for LINES lines × TARGETS targets (each target one kind,
// cycling icmp, tcp, http as --kinds says), feeds every series ROUNDS
// rounds (5-echo ICMP rounds, 1 % of rounds failing with a timeout; TCP
// and HTTP rounds with their phases), then times SCRAPES scrapes (snapshot
// reads with no sources, the probe families written from their series, the
// rest of the registry through its Collect) and the fan-out path (on_result)
// per round. No network.
//
// Usage: bench_metrics [--lines 100] [--targets 100] [--kinds icmp] [--rounds 3] [--scrapes 20]
//                      [--out FILE]
//   --kinds: icmp (every target icmp) or mixed (icmp, tcp, http in turn)
//   --out: write the last scrape there (for `promtool check metrics < FILE`)
// Goal: a scrape of 100 × 100 icmp series (10 000 probe series) in at most 100 ms.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "agent/metrics_collector.h"
#include "bench/bench_util.h"

using namespace linewatch;
using Steady = std::chrono::steady_clock;

namespace {

Config make_config(int lines, int targets, bool mixed) {
  Config c;
  for (int l = 0; l < lines; ++l) {
    LineSpec line;
    line.id = "line-" + std::to_string(l);
    line.capacity_bps = 500'000'000;
    c.lines.push_back(line);
  }
  const ProbeKind kinds[] = {ProbeKind::icmp, ProbeKind::tcp, ProbeKind::http};
  for (int t = 0; t < targets; ++t) {
    TargetSpec target;
    target.id = "target-" + std::to_string(t);
    target.probes.push_back(ProbeSpec{mixed ? kinds[t % 3] : ProbeKind::icmp, {}, {}, {}, {}, {}});
    c.targets.push_back(target);
  }
  return c;
}

ProbeResult make_round(const std::string& line, const TargetSpec& t, std::mt19937_64& rng) {
  std::uniform_int_distribution<long> rtt_us(140'000, 180'000);
  ProbeResult r;
  r.line = line;
  r.target = t.id;
  r.kind = t.probes[0].kind;
  r.ok = rng() % 100 != 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  if (!r.ok) return r;
  if (r.kind == ProbeKind::icmp) {
    r.sent = r.received = 5;
    for (int i = 0; i < 5; ++i) r.rtts.push_back(std::chrono::microseconds(rtt_us(rng)));
    summarise_echoes(r);
  } else {
    r.rtt = std::chrono::microseconds(rtt_us(rng));
    r.phases.connect = *r.rtt / 3;
    if (r.kind == ProbeKind::http) {
      r.phases.ttfb = *r.rtt / 2;
      r.phases.transfer = *r.rtt / 6;
    }
  }
  return r;
}

double ms_since(Steady::time_point t0) {
  return std::chrono::duration<double, std::milli>(Steady::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_metrics: the cost of a /metrics scrape at scale"};
  int lines = 100, targets = 100, rounds = 3, scrapes = 20;
  std::string kinds = "icmp", out;
  app.add_option("--lines", lines, "lines")->check(CLI::PositiveNumber);
  app.add_option("--targets", targets, "targets")->check(CLI::PositiveNumber);
  app.add_option("--kinds", kinds, "icmp or mixed")->check(CLI::IsMember({"icmp", "mixed"}));
  app.add_option("--rounds", rounds, "rounds fed per series")->check(CLI::NonNegativeNumber);
  app.add_option("--scrapes", scrapes, "scrapes timed")->check(CLI::PositiveNumber);
  app.add_option("--out", out, "write the last scrape to this file");
  CLI11_PARSE(app, argc, argv);

  const Config config = make_config(lines, targets, kinds == "mixed");
  auto t0 = Steady::now();
  MetricsCollector collector(config, {});
  const double build_ms = ms_since(t0);

  std::mt19937_64 rng(1);
  std::vector<ProbeResult> feed;
  for (int i = 0; i < rounds; ++i)
    for (const LineSpec& l : config.lines)
      for (const TargetSpec& t : config.targets) feed.push_back(make_round(l.id, t, rng));
  t0 = Steady::now();
  for (const ProbeResult& r : feed) collector.on_result(r);
  const double feed_ms = ms_since(t0);

  std::vector<double> times;
  std::string text;
  std::size_t bytes = 0, samples = 0;
  const double cpu0 = bench::cpu_seconds();
  for (int i = 0; i < scrapes; ++i) {
    t0 = Steady::now();
    text = collector.scrape();
    times.push_back(ms_since(t0));
    bytes = text.size();
    samples = 0;
    for (std::size_t p = 0; p < text.size(); p = text.find('\n', p) + 1) {
      if (text[p] != '#') ++samples;
      if (text.find('\n', p) == std::string::npos) break;
    }
  }
  const double cpu_ms = (bench::cpu_seconds() - cpu0) * 1000 / scrapes;
  if (!out.empty()) std::ofstream(out, std::ios::binary) << text;

  // What Prometheus asks for: the same text, gzip-compressed as it is written.
  std::vector<double> gzip_times;
  std::size_t gzip_bytes = 0;
  const double gzip_cpu0 = bench::cpu_seconds();
  for (int i = 0; i < scrapes; ++i) {
    t0 = Steady::now();
    gzip_bytes = collector.scrape_gzip().size();
    gzip_times.push_back(ms_since(t0));
  }
  const double gzip_cpu_ms = (bench::cpu_seconds() - gzip_cpu0) * 1000 / scrapes;

  bench::Table table({"figure", "value"});
  table.add({"samples in a scrape", bench::fmt("%zu", samples)});
  table.add({"scrape size", bench::fmt("%.1f MiB", static_cast<double>(bytes) / (1 << 20))});
  table.add({"scrape time, median", bench::fmt("%.1f ms", bench::quantile(times, 0.5))});
  table.add({"scrape time, p95", bench::fmt("%.1f ms", bench::quantile(times, 0.95))});
  table.add({"scrape time, min", bench::fmt("%.1f ms", bench::quantile(times, 0))});
  table.add({"scrape CPU, mean", bench::fmt("%.1f ms", cpu_ms)});
  table.add(
      {"gzip scrape size", bench::fmt("%.2f MiB", static_cast<double>(gzip_bytes) / (1 << 20))});
  table.add({"gzip scrape time, median", bench::fmt("%.1f ms", bench::quantile(gzip_times, 0.5))});
  table.add({"gzip scrape CPU, mean", bench::fmt("%.1f ms", gzip_cpu_ms)});
  table.add({"on_result per round (one thread)",
             bench::fmt("%.2f us", feed.empty() ? 0.0 : feed_ms * 1000 / feed.size())});
  table.add({"collector construction", bench::fmt("%.0f ms", build_ms)});
  table.print(
      bench::fmt("bench_metrics: %d lines x %d targets (%s) = %zu probe series, %d rounds each",
                 lines, targets, kinds.c_str(), collector.probe_series(), rounds));
  std::printf("goal: scrape median <= 100 ms at 100 x 100: %s\n",
              bench::quantile(times, 0.5) <= 100 ? "met" : "NOT met");
  return 0;
}

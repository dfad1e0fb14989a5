// bench_alerts: the CPU the alert engine costs at one evaluation per second.
// RULES rules (series scope, five metrics in turn, half of them breaking)
// over SCOPES series (line × target, each sending one 5-echo ICMP round
// every 10 s), for SECONDS simulated seconds on a fake clock, evaluated once
// per simulated second. Rules of one source and match share their samples
// (rules/alert_engine.h), whatever their window lengths; the table shows 1,
// 10 and RULES distinct window lengths, and then every rule with a match of
// its own (all matching every series), the worst case: every rule holds its
// own samples, RULES × SCOPES windows. No network.
//
// CPU share = CPU seconds spent (feeding and evaluating) / simulated seconds:
// what the engine would take of one core at 1 evaluation per second.
//
// Usage: bench_alerts [RULES=1000] [SCOPES=100] [SECONDS=600]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "bench/bench_util.h"
#include "core/fake_clock.h"
#include "rules/alert_engine.h"

using namespace linewatch;
using namespace linewatch::bench;

namespace {

long rss_kb() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// A glob matching every series, spelled differently for each `i`.
std::string own_glob(int i, char first) {
  const std::string chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  return std::string("[") + first + chars[i % chars.size()] + "]*";
}

std::vector<AlertRule> make_rules(int count, int lengths, bool own_match) {
  const AlertMetric metrics[] = {AlertMetric::rtt_p95, AlertMetric::rtt_median, AlertMetric::jitter,
                                 AlertMetric::loss, AlertMetric::failures};
  // Values the fed rounds give: RTT about 150 ms, jitter about 1 ms, loss
  // 1 %, a failure now and then. Even rules sit below them (they fire).
  const double low[] = {100, 100, 0.1, 0.001, 0};
  const double high[] = {1000, 1000, 50, 0.5, 100};
  std::vector<AlertRule> out;
  for (int i = 0; i < count; ++i) {
    AlertRule r;
    r.name = "r" + std::to_string(i);
    r.metric = metrics[i % 5];
    r.scope = AlertScope::series;
    r.threshold = i % 2 == 0 ? low[i % 5] : high[i % 5];
    r.window = std::chrono::minutes(5) + std::chrono::seconds(i % lengths);
    if (own_match) {
      r.match.line = own_glob(i, 'l');
      r.match.target = own_glob(i / 36, 't');
    }
    r.for_duration = std::chrono::seconds(30);
    out.push_back(std::move(r));
  }
  return out;
}

ProbeResult round_of(int series, std::mt19937_64& rng) {
  std::uniform_int_distribution<long> noise(-1'000'000, 1'000'000);
  ProbeResult r;
  r.line = "line-" + std::to_string(series / 10);
  r.target = "target-" + std::to_string(series % 10);
  r.kind = ProbeKind::icmp;
  r.sent = 5;
  for (int p = 0; p < 5; ++p) {
    if (rng() % 100 == 0)
      r.rtts.push_back(std::nullopt);
    else
      r.rtts.push_back(std::chrono::milliseconds(150) + Duration(noise(rng)));
  }
  summarise_echoes(r);
  r.ok = r.received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  return r;
}

struct Figures {
  double cpu_s = 0, worst_eval_ms = 0;
  std::size_t transitions = 0, scopes = 0;
  long rss_kb = 0;
};

Figures run(int rules, int scopes, int seconds, int lengths, bool own_match) {
  auto engine = AlertEngine::create(make_rules(rules, lengths, own_match));
  if (!engine) {
    std::fprintf(stderr, "%s\n", engine.error().message.c_str());
    std::exit(1);
  }
  FakeClock clock;
  std::mt19937_64 rng(1);
  Figures f;
  const double start = cpu_seconds();
  for (int s = 0; s < seconds; ++s) {
    clock.advance(std::chrono::seconds(1));
    // Each series sends a round every 10 s, spread over the seconds.
    for (int i = s % 10; i < scopes; i += 10) engine->observe(round_of(i, rng), clock.now());
    const auto t0 = std::chrono::steady_clock::now();
    f.transitions += engine->evaluate(clock.now(), clock.wall_now()).size();
    f.worst_eval_ms = std::max(f.worst_eval_ms, ms_between(t0, std::chrono::steady_clock::now()));
  }
  f.cpu_s = cpu_seconds() - start;
  f.scopes = engine->scope_count();
  f.rss_kb = rss_kb();
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  const int rules = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int scopes = argc > 2 ? std::atoi(argv[2]) : 100;
  const int seconds = argc > 3 ? std::atoi(argv[3]) : 600;
  if (rules < 1 || scopes < 1 || seconds < 1) {
    std::fprintf(stderr, "usage: bench_alerts [RULES=1000] [SCOPES=100] [SECONDS=600]\n");
    return 2;
  }
  Table t({"window lengths", "matches", "rules × scopes", "CPU share at 1 eval/s", "CPU per eval",
           "worst eval", "transitions", "keys held", "VmRSS after"});
  struct Row {
    int lengths;
    bool own_match;
  };
  for (Row row : {Row{1, false}, Row{10, false}, Row{rules, false}, Row{1, true}}) {
    const int lengths = std::min(row.lengths, rules);
    const Figures f = run(rules, scopes, seconds, lengths, row.own_match);
    t.add({std::to_string(lengths), row.own_match ? "one per rule" : "shared",
           std::to_string(rules) + " × " + std::to_string(scopes),
           fmt("%.2f %%", 100 * f.cpu_s / seconds), fmt("%.2f ms", 1000 * f.cpu_s / seconds),
           fmt("%.1f ms", f.worst_eval_ms), std::to_string(f.transitions), std::to_string(f.scopes),
           fmt("%ld MB", f.rss_kb / 1024)});
  }
  t.print("alert engine, " + std::to_string(seconds) + " simulated seconds (fake clock)");
}

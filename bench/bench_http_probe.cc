// bench_http_probe: the CPU one HTTP(S) probe round costs linewatch, as the
// agent runs it: run_probe() on one line with the agent's shared TLS
// contexts, one round after another, each on a new connection (and, for
// https, a full handshake with verification). bench/https_vs_blackbox.sh
// runs it beside prometheus-blackbox-exporter against the same servers.
//
// Prints one line: `rounds=N ok=N cpu_ticks=T cpu_ms=M wall_ms=W`, where
// cpu_ticks is this process's utime + stime from /proc/self/stat (the same
// counters the script reads for the peer) over the measured rounds only,
// after --warmup rounds. Exits 1 when a measured round failed.
//
// Flags:
//   --url URL        http:// or https:// target (loopback only), required
//   --ca-file PATH   CA to verify the server with ("" = system store)
//   --no-verify      tls_verify: false
//   --rounds N       measured rounds, default 1000
//   --warmup N       rounds before measuring, default 20
//   --context-per-round  no shared TLS contexts: each round builds its own,
//                    as every round did before TlsContexts (for comparison)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "probes/probe.h"
#include "probes/tls_contexts.h"

namespace linewatch::bench {
namespace {

// utime + stime of this process, in clock ticks (fields 14 and 15 of
// /proc/self/stat, counted after the parenthesised command name).
long long cpu_ticks() {
  std::ifstream in("/proc/self/stat");
  const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return utime + stime;
}

int run(int argc, char** argv) {
  std::string url, ca_file;
  bool no_verify = false, per_round = false;
  int rounds = 1000, warmup = 20;
  CLI::App app{"CPU per HTTP(S) probe round (see the top of bench_http_probe.cc)"};
  app.add_option("--url", url)->required();
  app.add_option("--ca-file", ca_file);
  app.add_flag("--no-verify", no_verify);
  app.add_flag("--context-per-round", per_round);
  app.add_option("--rounds", rounds)->check(CLI::Range(1, 1000000));
  app.add_option("--warmup", warmup)->check(CLI::Range(0, 1000000));
  CLI11_PARSE(app, argc, argv);

  LineSpec line;
  line.id = "bench";
  ProbeSpec spec{};
  spec.kind = ProbeKind::http;
  spec.timing.timeout = std::chrono::seconds(5);
  spec.http->url = url;
  spec.http->ca_file = ca_file;
  spec.http->tls_verify = !no_verify;
  SystemClock clock;
  TlsContexts tls;  // as the agent holds one for all its rounds
  TlsContexts* shared = per_round ? nullptr : &tls;
  auto round = [&] { return run_probe(ProbeRequest{line, "bench", spec, clock, shared}); };

  for (int i = 0; i < warmup; ++i) {
    const ProbeResult r = round();
    if (!r.ok) {
      std::fprintf(stderr, "bench_http_probe: warm-up round failed: %s\n", r.detail.c_str());
      return 1;
    }
  }
  int ok = 0;
  const long long ticks_before = cpu_ticks();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) ok += round().ok ? 1 : 0;
  const auto wall = std::chrono::steady_clock::now() - start;
  const long long ticks = cpu_ticks() - ticks_before;
  const double tick_ms = 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::printf("rounds=%d ok=%d cpu_ticks=%lld cpu_ms=%.0f wall_ms=%.0f\n", rounds, ok, ticks,
              static_cast<double>(ticks) * tick_ms,
              std::chrono::duration<double, std::milli>(wall).count());
  return ok == rounds ? 0 : 1;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) { return linewatch::bench::run(argc, argv); }

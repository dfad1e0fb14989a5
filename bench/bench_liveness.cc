// bench_liveness: CPU of the liveness engine (probes/liveness_engine.h) at
// the fast profile, next to fping doing the same work.
//
// L lines, line i echoing one loopback reflector 127.0.0.(i+1) every
// interval, for S seconds, through the real LivenessEngine with a counting
// observer (no rules). The process's CPU (user + system, getrusage) over the
// run is the engine's: the main thread only sleeps. Then fping runs as a
// child on the same targets with the same per-target period,
//   fping -l -q -p INTERVAL -i 1 127.0.0.1 ...
// (-i 1: fping's default 10 ms between any two pings would throttle three
// targets to a third of the rate; -q: no per-reply printing, which the
// engine does not do either), ended with SIGINT after S seconds; its CPU
// comes from wait4() and its echo counts from its summary. This repeats in
// --pairs alternating pairs. Needs root (raw sockets).
//
// Flags:
//   --lines L         lines (one reflector each), default 3 (max 250)
//   --interval-ms I   echo interval per line, default 10 (the fast profile)
//   --seconds S       length of each run, default 30
//   --pairs N         engine/fping pairs, default 1
//   --fping PATH      fping binary, default fping (from PATH); "" skips it
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <thread>

#include "bench/bench_util.h"
#include "bench/peer_process.h"
#include "core/fd.h"
#include "probes/liveness_engine.h"

extern char** environ;

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;

struct Options {
  int lines = 3;
  int interval_ms = 10;
  int seconds = 30;
  int pairs = 1;
  std::string fping = "fping";
};

std::string reflector(int i) { return "127.0.0." + std::to_string(i + 1); }

// What one run of either tool came to.
struct Run {
  std::string tool;
  double wall_s = 0, cpu_s = 0;
  std::uint64_t sent = 0, received = 0;
  double rtt_avg_ms = 0;
  std::string note;

  double cpu_percent() const { return wall_s > 0 ? 100 * cpu_s / wall_s : 0; }
  double echoes_per_s() const { return wall_s > 0 ? static_cast<double>(sent) / wall_s : 0; }
  double us_per_echo() const { return sent ? 1e6 * cpu_s / static_cast<double>(sent) : 0; }
};

// Counts on the loop thread; read after the engine stopped.
class Counter final : public LivenessObserver {
 public:
  void on_sent(const std::string&, const std::string&, std::uint64_t, MonoTime) override { ++sent; }
  void on_reply(const std::string&, const std::string&, std::uint64_t, MonoTime, MonoTime,
                Duration rtt) override {
    ++received;
    rtt_total += rtt;
  }
  void on_error(const std::string&, const std::string&, std::uint64_t, EchoError) override {
    ++errors;
  }
  void on_tick(MonoTime) override { ++ticks; }

  std::uint64_t sent = 0, received = 0, errors = 0, ticks = 0;
  Duration rtt_total{};
};

Run run_engine(const Options& o) {
  Run run;
  run.tool = "linewatch engine";
  Counter counter;
  EchoStream::Options echo;
  echo.kind = EchoSocket::Kind::raw;
  auto engine = LivenessEngine::start(counter, echo);
  if (!engine.ok()) {
    run.note = engine.error().message;
    return run;
  }
  LivenessOptions liveness = LivenessOptions::fast();
  liveness.interval = std::chrono::milliseconds(o.interval_ms);
  const double cpu0 = cpu_seconds();
  const MonoTime t0 = Steady::now();
  for (int i = 0; i < o.lines; ++i) {
    SocketAddress address;
    parse_numeric_address(reflector(i), 0, address);
    const Status added = engine.value()->add_line("line" + std::to_string(i + 1), {},
                                                  {{reflector(i), address}}, liveness);
    if (!added.ok()) {
      run.note = added.error().message;
      return run;
    }
  }
  std::this_thread::sleep_until(t0 + std::chrono::seconds(o.seconds));
  engine.value()->stop();
  run.wall_s = std::chrono::duration<double>(Steady::now() - t0).count();
  run.cpu_s = cpu_seconds() - cpu0;
  const LivenessEngineStats stats = engine.value()->stats();
  run.sent = counter.sent;
  run.received = counter.received;
  run.rtt_avg_ms = counter.received ? to_ms(counter.rtt_total) / counter.received : 0;
  run.note = fmt("missed slots %llu, loop lag max %.2f ms, late %llu, send errors %llu",
                 static_cast<unsigned long long>(stats.missed_slots), to_ms(stats.loop_lag_max),
                 static_cast<unsigned long long>(stats.late_replies),
                 static_cast<unsigned long long>(stats.send_errors));
  return run;
}

// Sums fping's per-target summary lines:
// "127.0.0.1 : xmt/rcv/%loss = 3000/3000/0%, min/avg/max = 0.01/0.03/0.20".
void parse_fping(const std::string& text, Run& run) {
  std::istringstream lines(text);
  std::string line;
  double rtt_weighted = 0;
  while (std::getline(lines, line)) {
    unsigned long long xmt = 0, rcv = 0;
    const auto counts = line.find("xmt/rcv/%loss = ");
    if (counts == std::string::npos) continue;
    if (std::sscanf(line.c_str() + counts + 16, "%llu/%llu", &xmt, &rcv) != 2) continue;
    run.sent += xmt;
    run.received += rcv;
    double mn = 0, avg = 0, mx = 0;
    const auto times = line.find("min/avg/max = ");
    if (times != std::string::npos &&
        std::sscanf(line.c_str() + times + 14, "%lf/%lf/%lf", &mn, &avg, &mx) == 3)
      rtt_weighted += avg * static_cast<double>(rcv);
  }
  run.rtt_avg_ms = run.received ? rtt_weighted / static_cast<double>(run.received) : 0;
}

// fping on the same targets and period, ended by its PID: SIGINT after the
// run (it then prints its summary), SIGKILL if it does not exit.
Run run_fping(const Options& o) {
  Run run;
  run.tool = "fping -l";
  std::vector<std::string> args = {o.fping, "-l", "-q", "-p", std::to_string(o.interval_ms),
                                   "-i",    "1"};
  for (int i = 0; i < o.lines; ++i) args.push_back(reflector(i));
  const MonoTime t0 = Steady::now();
  PeerProcess fping(std::move(args));
  if (!fping.running()) {
    run.note = fping.error();
    return run;
  }
  std::string text;
  (void)fping.read_until(text, t0 + std::chrono::seconds(o.seconds));
  fping.signal(SIGINT);  // it then prints its summary and exits
  run.wall_s = std::chrono::duration<double>(Steady::now() - t0).count();
  if (!fping.read_until(text, Steady::now() + std::chrono::seconds(10))) {
    fping.signal(SIGKILL);
    run.note = "fping did not exit after SIGINT; killed";
  }
  run.cpu_s = cpu_seconds(fping.wait().usage);
  parse_fping(text, run);
  if (run.sent == 0) run.note = "no summary from fping: " + text.substr(0, 200);
  return run;
}

int run(const Options& o) {
  if (::geteuid() != 0) std::fprintf(stderr, "bench_liveness: not root; raw sockets will fail\n");
  std::printf("bench_liveness: %d lines, one loopback reflector each, one echo per %d ms, %d s\n",
              o.lines, o.interval_ms, o.seconds);
  std::fflush(stdout);
  std::vector<Run> runs;
  for (int p = 0; p < o.pairs; ++p) {
    runs.push_back(run_engine(o));
    if (!o.fping.empty()) runs.push_back(run_fping(o));
  }
  Table t({"run", "tool", "wall s", "echoes sent", "replies", "echoes/s", "CPU s",
           "CPU % of a core", "us CPU/echo", "RTT avg ms"});
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    t.add({std::to_string(i + 1), r.tool, fmt("%.1f", r.wall_s),
           std::to_string(static_cast<unsigned long long>(r.sent)),
           std::to_string(static_cast<unsigned long long>(r.received)),
           fmt("%.1f", r.echoes_per_s()), fmt("%.3f", r.cpu_s), fmt("%.2f", r.cpu_percent()),
           fmt("%.1f", r.us_per_echo()), fmt("%.3f", r.rtt_avg_ms)});
  }
  t.print("bench_liveness: the engine vs fping -l, same targets and period");
  for (std::size_t i = 0; i < runs.size(); ++i)
    if (!runs[i].note.empty())
      std::printf("run %zu (%s): %s\n", i + 1, runs[i].tool.c_str(), runs[i].note.c_str());
  return 0;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"Liveness engine CPU at the fast profile, next to fping -l on the same targets"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--lines", o.lines, "lines, one loopback reflector each")
      ->check(CLI::Range(1, 250));
  app.add_option("--interval-ms", o.interval_ms, "echo interval per line (ms)")
      ->check(CLI::Range(1, 60000));
  app.add_option("--seconds", o.seconds, "length of each run (s)")->check(CLI::Range(1, 3600));
  app.add_option("--pairs", o.pairs, "engine/fping pairs")->check(CLI::Range(1, 20));
  app.add_option("--fping", o.fping, "fping binary; empty skips the comparison");
  CLI11_PARSE(app, argc, argv);
  return linewatch::bench::run(o);
}

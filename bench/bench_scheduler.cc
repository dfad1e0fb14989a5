// bench_scheduler: how punctually the Scheduler starts TCP probe rounds, and
// what they cost in CPU, against a real accept-and-close listener on 127.0.0.1.
//
// N TCP jobs at interval I run for D seconds through the real Scheduler and
// run_probe (ProbeKind::tcp). Each round notes steady_clock::now() on entry and
// compares it with the `planned` time the Scheduler hands it.
//
// Flags:
//   --jobs N          TCP jobs (targets), default 1000
//   --interval-ms I   interval of every job, default 1000
//   --duration D      measured window in seconds (rounded down to whole
//                     intervals, at least one), default 60
//   --workers W       scheduler worker threads, default 32
//   --ports P         listening ports the jobs are spread over (more ports
//                     mean more TCP 4-tuples for TIME_WAIT), default 8
//   --timeout-ms T    probe timeout, default 1000
//
// Prints: start lag |actual − planned| mean/p50/p99/max, rounds run vs
// expected in the window, overruns and missed slots, probe failures, process
// CPU seconds (with and without the listener thread) and CPU per 1,000 rounds.
// Traffic goes to 127.0.0.1 only; every wait is bounded.
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "agent/scheduler.h"
#include "bench/bench_util.h"
#include "probes/probe.h"
#include "probes/socket.h"

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;

// Listening sockets on 127.0.0.1 (ephemeral ports) and one thread that accepts
// and closes every connection. The thread's own CPU is kept apart so the
// figures show the scheduler and probes, not the stand-in server.
class AcceptCloseServer {
 public:
  explicit AcceptCloseServer(int ports) {
    for (int i = 0; i < ports; ++i) listeners_.push_back(listen_loopback());
    thread_ = std::thread([this] { loop(); });
  }
  ~AcceptCloseServer() { stop(); }

  // Ends the accept thread (idempotent); thread_cpu_seconds() is valid after.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  AcceptCloseServer(const AcceptCloseServer&) = delete;
  AcceptCloseServer& operator=(const AcceptCloseServer&) = delete;

  std::uint16_t port(std::size_t i) const { return ports_.at(i); }
  std::size_t count() const { return ports_.size(); }
  std::uint64_t accepted() const { return accepted_; }
  double thread_cpu_seconds() const { return thread_cpu_; }

 private:
  Fd listen_loopback() {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(fd.get(), 4096) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error(std::string("listen 127.0.0.1: ") + std::strerror(errno));
    ports_.push_back(ntohs(a.sin_port));
    return fd;
  }

  void loop() {
    std::vector<pollfd> pfds;
    for (const auto& l : listeners_) pfds.push_back(pollfd{l.get(), POLLIN, 0});
    while (!stop_) {
      // The timeout bounds how long stop waits; readiness wakes us sooner.
      if (::poll(pfds.data(), pfds.size(), 50) <= 0) continue;
      for (const auto& p : pfds) {
        if (!(p.revents & POLLIN)) continue;
        // Bounded per wake-up so one busy port cannot starve the stop check.
        for (int n = 0; n < 1024; ++n) {
          const int c = ::accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) break;
          ::close(c);
          ++accepted_;
        }
      }
    }
    thread_cpu_ = cpu_seconds(RUSAGE_THREAD);
  }

  std::vector<Fd> listeners_;
  std::vector<std::uint16_t> ports_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> accepted_{0};
  double thread_cpu_ = 0;  // written by the thread before it ends, read after join
  std::thread thread_;
};

struct Round {
  MonoTime planned;
  MonoTime started;
  bool ok;
};

struct Options {
  int jobs = 1000;
  int interval_ms = 1000;
  double duration_s = 60;
  int workers = 32;
  int ports = 8;
  int timeout_ms = 1000;
};

Config make_config(const Options& o, const AcceptCloseServer& server) {
  Config c;
  // Named fields, not LineSpec{...}: GCC 12 at -O3 takes the aggregate's
  // temporary strings for uninitialised (-Wmaybe-uninitialized).
  LineSpec line;
  line.id = "bench";
  c.lines.push_back(std::move(line));
  for (int i = 0; i < o.jobs; ++i) {
    ProbeSpec p{};
    p.kind = ProbeKind::tcp;
    p.timing.interval = std::chrono::milliseconds(o.interval_ms);
    p.timing.timeout = std::chrono::milliseconds(o.timeout_ms);
    p.tcp->host = "127.0.0.1";
    p.tcp->port = server.port(static_cast<std::size_t>(i) % server.count());
    c.targets.push_back(TargetSpec{"t" + std::to_string(i), {p}});
  }
  return c;
}

int run(const Options& o) {
  AcceptCloseServer server(o.ports);
  const Config config = make_config(o, server);
  const SystemClock clock;
  const Duration interval = std::chrono::milliseconds(o.interval_ms);
  const auto intervals =
      std::max<long>(1, static_cast<long>(std::floor(o.duration_s * 1000.0 / o.interval_ms)));
  const Duration window = interval * intervals;

  // One vector per job: a job never runs twice at once, and the scheduler's
  // mutex orders its successive rounds, so no lock is needed here.
  std::vector<std::vector<Round>> rounds(config.targets.size());
  for (auto& r : rounds) r.reserve(static_cast<std::size_t>(intervals) + 4);
  std::atomic<std::uint64_t> failures{0};
  std::string first_failure;
  std::mutex failure_mu;

  Scheduler scheduler(
      clock, make_jobs(config), o.workers,
      [&](std::size_t i, const ProbeJob& job, MonoTime planned) {
        const MonoTime started = Steady::now();
        const ProbeResult r = run_probe(ProbeRequest{*job.line, job.target->id, *job.spec, clock});
        rounds[i].push_back(Round{planned, started, r.ok});
        if (!r.ok && failures++ == 0) {
          std::lock_guard lock(failure_mu);
          first_failure = r.detail;
        }
      });
  std::printf("bench_scheduler: %d TCP jobs every %d ms for %.1f s, %d workers, %zu ports\n",
              o.jobs, o.interval_ms, std::chrono::duration<double>(window).count(), o.workers,
              server.count());
  std::fflush(stdout);

  const double cpu0 = cpu_seconds();
  const MonoTime t0 = Steady::now();
  scheduler.start();
  // Past the window by one timeout plus slack, so every in-window round has
  // started (or been skipped) before stop() clears the queue.
  std::this_thread::sleep_until(t0 + window + std::chrono::milliseconds(o.timeout_ms) +
                                std::chrono::milliseconds(200));
  const bool joined = scheduler.stop(std::chrono::seconds(10));
  const double wall = std::chrono::duration<double>(Steady::now() - t0).count();
  const SchedulerStats stats = scheduler.stats();
  const std::uint64_t accepted = server.accepted();
  const double cpu_total = cpu_seconds() - cpu0;
  if (!joined) {
    std::fprintf(stderr, "scheduler did not stop within 10 s\n");
    return 1;
  }

  // The window starts at job 0's first planned slot, which is the scheduler's anchor.
  MonoTime anchor = MonoTime::max();
  for (const auto& job : rounds)
    for (const auto& r : job) anchor = std::min(anchor, r.planned);
  std::vector<double> lag_ms;
  std::uint64_t all_rounds = 0;
  for (const auto& job : rounds) {
    all_rounds += job.size();
    for (const auto& r : job)
      if (r.planned < anchor + window) lag_ms.push_back(std::abs(ms_between(r.planned, r.started)));
  }
  const std::uint64_t expected = static_cast<std::uint64_t>(o.jobs) * intervals;
  const std::size_t in_window = lag_ms.size();
  const double lag_mean = mean(lag_ms);
  const double p50 = quantile(lag_ms, 0.50), p99 = quantile(lag_ms, 0.99);
  const double lag_max = lag_ms.empty() ? 0.0 : lag_ms.back();
  // The listener was idle outside the window, so all of its CPU is the peer's share.
  server.stop();
  const double listener_cpu = server.thread_cpu_seconds();

  Table t({"figure", "value"});
  t.add({"window (s)", fmt("%.1f", std::chrono::duration<double>(window).count())});
  t.add({"rounds run in window / expected",
         fmt("%zu / %llu (%.2f %%)", in_window, static_cast<unsigned long long>(expected),
             100.0 * static_cast<double>(in_window) / static_cast<double>(expected))});
  t.add({"rounds run in total", fmt("%llu", static_cast<unsigned long long>(all_rounds))});
  t.add({"connections accepted", fmt("%llu", static_cast<unsigned long long>(accepted))});
  t.add({"overruns / missed slots",
         fmt("%llu / %llu", static_cast<unsigned long long>(stats.overruns),
             static_cast<unsigned long long>(stats.missed))});
  t.add({"probe failures", fmt("%llu", static_cast<unsigned long long>(failures.load()))});
  t.add({"start lag mean (ms)", fmt("%.3f", lag_mean)});
  t.add({"start lag p50 (ms)", fmt("%.3f", p50)});
  t.add({"start lag p99 (ms)", fmt("%.3f", p99)});
  t.add({"start lag max (ms)", fmt("%.3f", lag_max)});
  t.add({"process CPU (s), wall (s)", fmt("%.2f, %.1f", cpu_total, wall)});
  t.add({"  of which listener thread (s)", fmt("%.2f", listener_cpu)});
  const double lw_cpu = cpu_total - listener_cpu;
  t.add({"linewatch CPU per 1,000 rounds (ms)",
         fmt("%.1f", all_rounds ? 1e6 * lw_cpu / static_cast<double>(all_rounds) : 0.0)});
  t.print("bench_scheduler figures");
  if (failures > 0) std::printf("first failure: %s\n", first_failure.c_str());
  return 0;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"Scheduler punctuality and CPU for TCP probe rounds against a 127.0.0.1 listener"};
  // Later flags win, so bench/run.sh can append overrides to its defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--jobs", o.jobs, "TCP jobs")->check(CLI::Range(1, 100000));
  app.add_option("--interval-ms", o.interval_ms, "interval of every job (ms)")
      ->check(CLI::Range(10, 3600000));
  app.add_option("--duration", o.duration_s, "measured window (s)")
      ->check(CLI::Range(0.01, 3600.0));
  app.add_option("--workers", o.workers, "scheduler workers")->check(CLI::Range(1, 1024));
  app.add_option("--ports", o.ports, "listening ports on 127.0.0.1")->check(CLI::Range(1, 256));
  app.add_option("--timeout-ms", o.timeout_ms, "probe timeout (ms)")->check(CLI::Range(1, 60000));
  CLI11_PARSE(app, argc, argv);
  try {
    return linewatch::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scheduler: %s\n", e.what());
    return 1;
  }
}

// bench_icmp: how many loopback targets the ICMP probe sustains at a given
// ping rate, and its CPU per echo request next to fping doing the same work.
//
// Targets are distinct loopback addresses 127.0.0.1, 127.0.0.2, ... 127.0.x.y
// (all of 127/8 answers on Linux; nothing else is ever pinged). Each target is
// one ProbeKind::icmp job run by the real Scheduler and run_probe: P echoes
// per round, `spacing` apart, every P/R seconds, so each target gets R echoes
// per second. T steps up (×2 from --start) until a step has more than 1 % of
// its slots skipped (overruns + missed) or lost echoes, or the time budget
// would be exceeded. At the largest passing T, fping -q -C runs as a child
// with the same targets, count per target and per-target period; its CPU
// comes from wait4(), so it holds its start-up and whole run; linewatch's
// counts the same span, from building the step's targets, engine and
// scheduler to the engine's stop. This repeats in --pairs alternating pairs; each pair's
// CPU ratio and median RTTs are printed, with their medians.
// Needs root (raw sockets).
//
// Flags:
//   --rate R          echo requests per second per target, default 1
//   --pings P         echoes per round, default 5
//   --spacing-ms S    gap between echo starts in a round, default 200
//   --timeout-ms T    wait per echo, default 1000
//   --rounds K        rounds per target in each step's window, default 2
//   --start N         first number of targets, default 50
//   --max-targets M   stop stepping above this, default 6400 (cap 60000)
//   --workers W       scheduler workers, default 32
//   --budget S        total seconds the run may take, default 150
//   --fping PATH      fping binary, default fping (from PATH); "" skips it
//   --pairs N         linewatch/fping comparison pairs at the largest passing
//                     T (the median ratio is the figure), default 3
//   --first-target A  an IPv4 address: targets are A, A+1, ... (skipping .0
//                     and .255) instead of loopback; for a lab's far end
//                     (198.18.0.0/15 only), run inside the lab's namespace
//   --engine          run the rounds on the round engine (one event loop, one
//                     shared echo socket), as the agent does; without it,
//                     each round runs run_probe() on a worker with its own socket
//   --host-netns      stay in the caller's network namespace (see below)
//
// With loopback targets the bench first enters a network namespace of its own
// (loopback up, nothing else), and fping, its child, runs there too. fping's
// raw socket has no filter: the kernel hands it every ICMP packet of its
// namespace, so on a shared host other processes' pings (another agent, a
// test) landed in fping's CPU, 5-10 times its own cost, while linewatch's
// filtered socket never saw them. In a namespace of their own both see only
// their own traffic.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>
#include <thread>

#include "agent/scheduler.h"
#include "bench/bench_util.h"
#include "bench/peer_process.h"
#include "probes/probe.h"
#include "probes/round_engine.h"
#include "probes/socket.h"

extern char** environ;

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Options {
  double rate = 1;
  int pings = 5;
  int spacing_ms = 200;
  int timeout_ms = 1000;
  int rounds = 2;
  int start = 50;
  int max_targets = 6400;
  int workers = 32;
  double budget_s = 150;
  std::string fping = "fping";
  int pairs = 3;
  bool engine = false;
  bool host_netns = false;
  std::string first_target;  // empty: loopback

  Duration interval() const {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(pings / rate));
  }
  Duration window() const { return interval() * rounds; }
  // After the window: long enough for the last in-window round to finish.
  Duration drain() const {
    return milliseconds(spacing_ms) * pings + milliseconds(timeout_ms) + milliseconds(300);
  }
};

// The i-th target address (i from 0): 127.0.0.1 upwards, skipping x.y.z.0 and
// x.y.z.255 so no address looks like a network or broadcast address.
std::string loopback_address(int i) {
  const int host = (i / 254) * 256 + (i % 254) + 1;
  return "127.0." + std::to_string(host / 256) + "." + std::to_string(host % 256);
}

// The i-th target: loopback, or counted up from --first-target as loopback
// is (the first is A itself; host bytes .0 and .255 skipped).
std::string target_address(const Options& o, int i) {
  if (o.first_target.empty()) return loopback_address(i);
  in_addr a{};
  ::inet_pton(AF_INET, o.first_target.c_str(), &a);
  const std::uint32_t base = ntohl(a.s_addr);
  const std::uint32_t host = static_cast<std::uint32_t>((i / 254) * 256 + (i % 254));
  const std::uint32_t v = (base & 0xffffff00u) + (base & 0xffu) + host;
  in_addr out{htonl(v)};
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &out, text, sizeof(text));
  return text;
}

struct Echoes {
  std::uint64_t sent = 0, received = 0;
  std::vector<double> rtt_ms;
  double cpu_s = 0;
};

struct Step {
  int targets = 0;
  std::uint64_t expected = 0, ran = 0, overruns = 0, missed = 0;
  double lag_p99_ms = 0;
  Echoes echoes;
  double skipped_fraction() const {
    return expected ? 1.0 - static_cast<double>(ran) / static_cast<double>(expected) : 1.0;
  }
  double loss() const {
    return echoes.sent
               ? 1.0 - static_cast<double>(echoes.received) / static_cast<double>(echoes.sent)
               : 1.0;
  }
  bool passed() const { return skipped_fraction() < 0.01 && loss() < 0.01; }
};

struct Round {
  MonoTime planned, started;
  int sent = 0, received = 0;
  std::vector<double> rtt_ms;
};

Config make_config(const Options& o, int targets) {
  Config c;
  // Named fields, not LineSpec{...}: GCC 12 at -O3 takes the aggregate's
  // temporary strings for uninitialised (-Wmaybe-uninitialized).
  LineSpec line;
  line.id = "bench";
  c.lines.push_back(std::move(line));
  for (int i = 0; i < targets; ++i) {
    ProbeSpec p{};
    p.kind = ProbeKind::icmp;
    p.timing.interval = o.interval();
    p.timing.timeout = milliseconds(o.timeout_ms);
    p.icmp.host = target_address(o, i);
    p.icmp.pings = o.pings;
    p.icmp.spacing = milliseconds(o.spacing_ms);
    c.targets.push_back(TargetSpec{p.icmp.host, {p}});
  }
  return c;
}

Step run_step(const Options& o, int targets) {
  // From here, as fping's CPU counts from its start: building the targets,
  // the engine (its loop thread) and the scheduler are what fping's start-up
  // does for it (parsing its targets, opening its socket).
  const double cpu0 = cpu_seconds();
  const Config config = make_config(o, targets);
  const SystemClock clock;
  // Per-job vectors: a job never runs twice at once and the scheduler's mutex
  // orders its rounds, so no lock is needed.
  std::vector<std::vector<Round>> rounds(config.targets.size());
  const auto record = [&rounds](std::size_t i, Round round, const ProbeResult& r) {
    round.sent = r.sent;
    round.received = r.received;
    for (const auto& rtt : r.rtts)
      if (rtt) round.rtt_ms.push_back(to_ms(*rtt));
    rounds[i].push_back(std::move(round));
  };
  std::unique_ptr<RoundEngine> engine;
  Scheduler::Launch launch;
  if (o.engine) {
    auto started = RoundEngine::start();
    if (!started) {
      std::fprintf(stderr, "bench_icmp: %s\n", started.error().message.c_str());
      std::exit(1);
    }
    engine = std::move(*started);
    launch = [&](std::size_t i, const ProbeJob& job, MonoTime planned,
                 std::function<void()> finished) {
      Round round{planned, Steady::now(), 0, 0, {}};
      engine->submit(ProbeRequest{*job.line, job.target->id, *job.spec, clock},
                     [&record, i, round, finished](ProbeResult r) {
                       record(i, round, r);
                       finished();
                     });
    };
  }
  Scheduler scheduler(
      clock, make_jobs(config), o.workers,
      [&](std::size_t i, const ProbeJob& job, MonoTime planned) {
        Round round{planned, Steady::now(), 0, 0, {}};
        record(i, round, run_probe(ProbeRequest{*job.line, job.target->id, *job.spec, clock}));
      },
      launch, engine ? &engine->loop() : nullptr);
  const MonoTime t0 = Steady::now();
  scheduler.start();
  std::this_thread::sleep_until(t0 + o.window() + o.drain());
  scheduler.stop(std::chrono::seconds(30));
  if (engine) engine->stop();
  const SchedulerStats stats = scheduler.stats();

  Step s;
  s.targets = targets;
  s.echoes.cpu_s = cpu_seconds() - cpu0;
  s.expected = static_cast<std::uint64_t>(targets) * static_cast<std::uint64_t>(o.rounds);
  s.overruns = stats.overruns;
  s.missed = stats.missed;
  MonoTime anchor = MonoTime::max();  // job 0's first slot is the scheduler's anchor
  for (const auto& job : rounds)
    for (const auto& r : job) anchor = std::min(anchor, r.planned);
  std::vector<double> lag;
  for (const auto& job : rounds) {
    for (const auto& r : job) {
      // CPU covers every round run, so echoes count every round too.
      s.echoes.sent += static_cast<std::uint64_t>(r.sent);
      s.echoes.received += static_cast<std::uint64_t>(r.received);
      s.echoes.rtt_ms.insert(s.echoes.rtt_ms.end(), r.rtt_ms.begin(), r.rtt_ms.end());
      if (r.planned < anchor + o.window()) {
        ++s.ran;
        lag.push_back(ms_between(r.planned, r.started));
      }
    }
  }
  s.lag_p99_ms = quantile(lag, 0.99);
  return s;
}

// Parses fping -C output ("127.0.0.1 : 0.05 - 0.04") into `e`.
void parse_fping(const std::string& text, Echoes& e) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(" : ");
    if (colon == std::string::npos) continue;
    std::istringstream fields(line.substr(colon + 3));
    std::string f;
    while (fields >> f) {
      ++e.sent;
      if (f == "-") continue;
      ++e.received;
      e.rtt_ms.push_back(std::strtod(f.c_str(), nullptr));
    }
  }
}

struct FpingRun {
  Echoes echoes;
  int exit_status = -1;
  std::string error;
};

// Runs fping with the same targets, count and per-target rate as a step.
// Ended by its PID (SIGKILL) if it outlives the deadline.
FpingRun run_fping(const Options& o, int targets) {
  FpingRun run;
  const double period_ms = 1000.0 / o.rate;
  // fping sends to each target in turn, `interval` apart; this fits all
  // targets into half a period so each target's period can be kept.
  const double gap_ms = std::min(10.0, period_ms / targets / 2.0);
  std::vector<std::string> args = {o.fping, "-q",
                                   "-C",    std::to_string(o.pings * o.rounds),
                                   "-p",    fmt("%.3f", period_ms),
                                   "-i",    fmt("%.3f", gap_ms),
                                   "-t",    std::to_string(o.timeout_ms)};
  for (int i = 0; i < targets; ++i) args.push_back(target_address(o, i));
  PeerProcess fping(std::move(args));
  if (!fping.running()) {
    run.error = fping.error();
    return run;
  }
  std::string text;
  const MonoTime deadline = Steady::now() + o.window() + o.drain() + std::chrono::seconds(30);
  if (!fping.read_until(text, deadline)) {
    fping.signal(SIGKILL);
    run.error = "fping did not finish in time; killed";
  }
  const PeerProcess::Ended ended = fping.wait();
  run.exit_status = WIFEXITED(ended.status) ? WEXITSTATUS(ended.status) : -1;
  run.echoes.cpu_s = cpu_seconds(ended.usage);
  parse_fping(text, run.echoes);
  return run;
}

double per_thousand_ms(const Echoes& e) {
  return e.sent ? 1e6 * e.cpu_s / static_cast<double>(e.sent) : 0.0;
}

void print_steps(const std::vector<Step>& steps) {
  Table t({"targets", "rounds run/expected", "overruns", "missed", "echo loss", "lag p99 ms",
           "CPU s", "CPU ms/1k echoes", "verdict"});
  for (const auto& s : steps) {
    t.add({std::to_string(s.targets),
           fmt("%llu/%llu", static_cast<unsigned long long>(s.ran),
               static_cast<unsigned long long>(s.expected)),
           std::to_string(s.overruns), std::to_string(s.missed), fmt("%.2f %%", 100 * s.loss()),
           fmt("%.1f", s.lag_p99_ms), fmt("%.2f", s.echoes.cpu_s),
           fmt("%.1f", per_thousand_ms(s.echoes)), s.passed() ? "ok" : "FAIL"});
  }
  t.print("bench_icmp steps (pass: skipped slots < 1 % and echo loss < 1 %)");
}

struct Pair {
  Step linewatch;
  FpingRun fping;
  double ratio() const {
    const double f = per_thousand_ms(fping.echoes);
    return f > 0 ? per_thousand_ms(linewatch.echoes) / f : 0.0;
  }
};

std::string sent_replies(const Echoes& e) {
  return fmt("%llu/%llu", static_cast<unsigned long long>(e.sent),
             static_cast<unsigned long long>(e.received));
}

void print_pairs(std::vector<Pair>& pairs) {
  Table t({"pair", "lw sent/replies", "lw CPU s", "lw ms/1k", "fping sent/replies", "fping CPU s",
           "fping ms/1k", "CPU ratio lw/fping", "lw RTT p50 ms", "fping RTT p50 ms"});
  std::vector<double> ratios, lw_rtt, fp_rtt;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    Pair& p = pairs[i];
    const double lr = quantile(p.linewatch.echoes.rtt_ms, 0.5);
    const double fr = quantile(p.fping.echoes.rtt_ms, 0.5);
    ratios.push_back(p.ratio());
    lw_rtt.push_back(lr);
    fp_rtt.push_back(fr);
    t.add({std::to_string(i + 1), sent_replies(p.linewatch.echoes),
           fmt("%.3f", p.linewatch.echoes.cpu_s), fmt("%.1f", per_thousand_ms(p.linewatch.echoes)),
           sent_replies(p.fping.echoes), fmt("%.3f", p.fping.echoes.cpu_s),
           fmt("%.1f", per_thousand_ms(p.fping.echoes)), fmt("%.2fx", p.ratio()), fmt("%.3f", lr),
           fmt("%.3f", fr)});
    if (p.fping.exit_status != 0 || !p.fping.error.empty())
      std::printf("pair %zu: fping exit status %d %s\n", i + 1, p.fping.exit_status,
                  p.fping.error.c_str());
  }
  t.add({"median", "", "", "", "", "", "", fmt("%.2fx", quantile(ratios, 0.5)),
         fmt("%.3f", quantile(lw_rtt, 0.5)), fmt("%.3f", quantile(fp_rtt, 0.5))});
  t.print("bench_icmp at " + std::to_string(pairs.front().linewatch.targets) +
          " targets: linewatch (lw) vs fping, same targets, count and period");
}

// Moves this process (still one thread) into a new network namespace and
// brings its loopback up. Returns an error text, empty on success.
std::string enter_own_netns() {
  if (::unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  ifreq lo{};
  std::strncpy(lo.ifr_name, "lo", IFNAMSIZ - 1);
  std::string error;
  if (::ioctl(fd, SIOCGIFFLAGS, &lo) != 0) error = std::string("lo flags: ") + std::strerror(errno);
  lo.ifr_flags = static_cast<short>(lo.ifr_flags | IFF_UP);
  if (error.empty() && ::ioctl(fd, SIOCSIFFLAGS, &lo) != 0)
    error = std::string("lo up: ") + std::strerror(errno);
  ::close(fd);
  return error;
}

int run(const Options& o) {
  if (::geteuid() != 0) std::fprintf(stderr, "bench_icmp: not root; raw sockets will fail\n");
  const double step_s = std::chrono::duration<double>(o.window() + o.drain()).count();
  std::printf(
      "bench_icmp: %g echoes/s per target (%d per round, %d ms apart, every %.2f s), "
      "%d rounds per step (%.1f s), %s, budget %.0f s\n",
      o.rate, o.pings, o.spacing_ms, std::chrono::duration<double>(o.interval()).count(), o.rounds,
      step_s, o.engine ? "round engine" : (std::to_string(o.workers) + " workers").c_str(),
      o.budget_s);
  if (o.first_target.empty() && !o.host_netns) {
    if (const std::string error = enter_own_netns(); !error.empty()) {
      std::fprintf(stderr, "bench_icmp: own network namespace: %s (--host-netns skips it)\n",
                   error.c_str());
      return 1;
    }
    std::printf("in a network namespace of its own (loopback only), fping too\n");
  }
  const MonoTime begin = Steady::now();
  const double fping_s = o.fping.empty() ? 0.0 : step_s;
  std::vector<Step> steps;
  std::optional<Step> best;
  for (int t = o.start; t <= o.max_targets; t *= 2) {
    const double elapsed = std::chrono::duration<double>(Steady::now() - begin).count();
    if (elapsed + step_s + fping_s > o.budget_s) {
      std::printf("stopping before %d targets: the time budget would be exceeded\n", t);
      break;
    }
    steps.push_back(run_step(o, t));
    const Step& s = steps.back();
    std::printf("  %5d targets: %s (%.2f %% skipped, %.2f %% lost)\n", t,
                s.passed() ? "ok" : "FAIL", 100 * s.skipped_fraction(), 100 * s.loss());
    std::fflush(stdout);
    if (!s.passed()) break;
    best = s;
  }
  print_steps(steps);
  {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    std::printf("peak RSS of this process: %.1f MB\n",
                static_cast<double>(usage.ru_maxrss) / 1024.0);
  }
  if (!best) {
    std::printf("\nno step passed; largest sustainable T is below %d\n", o.start);
    return steps.empty() ? 1 : 0;
  }
  std::printf("\nlargest T passing at %g echoes/s per target: %d\n", o.rate, best->targets);
  const double round_s =
      std::chrono::duration<double>(milliseconds(o.spacing_ms) * (o.pings > 1 ? o.pings - 1 : 1))
          .count();
  std::printf("worker bound: %d workers x %.2f s interval / %.2f s per round = %.0f targets\n",
              o.workers, std::chrono::duration<double>(o.interval()).count(), round_s,
              o.workers * std::chrono::duration<double>(o.interval()).count() / round_s);
  if (o.fping.empty() || o.pairs < 1) return 0;
  // Alternating pairs, so drift in machine load hits both tools alike; the
  // first reuses the step already measured.
  std::vector<Pair> pairs;
  pairs.push_back(Pair{*best, run_fping(o, best->targets)});
  while (static_cast<int>(pairs.size()) < o.pairs) {
    const double elapsed = std::chrono::duration<double>(Steady::now() - begin).count();
    if (elapsed + 2 * step_s > o.budget_s) {
      std::printf("comparison stopped after %zu pairs: the time budget would be exceeded\n",
                  pairs.size());
      break;
    }
    Step lw = run_step(o, best->targets);
    pairs.push_back(Pair{std::move(lw), run_fping(o, best->targets)});
  }
  print_pairs(pairs);
  return 0;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"ICMP probe capacity on loopback targets, and CPU per echo next to fping"};
  // Later flags win, so bench/run.sh can append overrides to its defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--rate", o.rate, "echo requests per second per target")
      ->check(CLI::Range(0.01, 100.0));
  app.add_option("--pings", o.pings, "echoes per round")->check(CLI::Range(1, 100));
  app.add_option("--spacing-ms", o.spacing_ms, "gap between echo starts in a round (ms)")
      ->check(CLI::Range(1, 60000));
  app.add_option("--timeout-ms", o.timeout_ms, "wait per echo (ms)")->check(CLI::Range(1, 60000));
  app.add_option("--rounds", o.rounds, "rounds per target in each step")->check(CLI::Range(1, 100));
  app.add_option("--start", o.start, "first number of targets")->check(CLI::Range(1, 60000));
  app.add_option("--max-targets", o.max_targets, "largest number of targets tried")
      ->check(CLI::Range(1, 60000));
  app.add_option("--workers", o.workers, "scheduler workers")->check(CLI::Range(1, 1024));
  app.add_option("--budget", o.budget_s, "total seconds the run may take")
      ->check(CLI::Range(1.0, 3600.0));
  app.add_option("--pairs", o.pairs, "linewatch/fping comparison pairs")->check(CLI::Range(0, 20));
  app.add_option("--fping", o.fping, "fping binary; empty skips the comparison");
  app.add_flag("--engine", o.engine, "run rounds on the round engine, as the agent does");
  app.add_flag("--host-netns", o.host_netns,
               "loopback targets: stay in this network namespace, where fping also reads "
               "every other process's ICMP");
  app.add_option("--first-target", o.first_target,
                 "first target address (IPv4, 198.18.0.0/15); default loopback")
      ->check(CLI::ValidIPV4);
  CLI11_PARSE(app, argc, argv);
  if (o.pings > 1 && std::chrono::milliseconds(o.spacing_ms) * (o.pings - 1) >= o.interval()) {
    std::fprintf(stderr, "bench_icmp: a round (pings × spacing) must fit in pings/rate\n");
    return 2;
  }
  if (!o.first_target.empty()) {
    // Network safety: only the benchmarking range, which labs use inside
    // their own namespaces; first and last target both.
    for (const int i : {0, o.max_targets - 1}) {
      in_addr a{};
      ::inet_pton(AF_INET, linewatch::bench::target_address(o, i).c_str(), &a);
      if ((ntohl(a.s_addr) & 0xfffe0000u) != 0xc6120000u) {
        std::fprintf(stderr, "bench_icmp: --first-target: targets must lie in 198.18.0.0/15\n");
        return 2;
      }
    }
  }
  return linewatch::bench::run(o);
}

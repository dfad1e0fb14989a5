// bench_linesim: what the real `linesim` process costs at zero delay: the
// latency it adds per datagram, whether it delivers everything, and its CPU.
//
// Everything runs in a private network namespace made for one thread
// (unshare(CLONE_NEWNET); the linesim child and the `ip` commands inherit it),
// with the topology of tests/lab/linesim/tun_test.cc: TUN `sim`
// (198.18.200.1/24) and 198.19.0.9/32 on lo. Nothing leaves the namespace and
// only 198.18.0.0/15 addresses are used.
//   - through linesim: the sender's socket has fwmark 1, which routes
//     198.19.0.0/16 into `sim` ahead of the local table; linesim (set to
//     delay=0 jitter=0 loss=0 rate=0) writes each packet back and the kernel
//     delivers it to the receiver on 198.19.0.9 (rp_filter=0, accept_local=1).
//   - baseline: the same sender without the mark: the local table sends it
//     over lo straight to the same receiver.
// For each rate, a baseline run then a linesim run send UDP datagrams paced by
// absolute deadlines (start + i/rate, so lateness never accumulates into
// drift) for --duration seconds; the send loop also stops at duration + 1 s
// whatever happens. Each payload carries a sequence number and the steady
// clock at send; the receiver thread takes the steady clock after recv().
// "Added" latency is the linesim median minus the baseline median at that
// rate ("added p99" likewise subtracts the two p99s; tails are noisy). linesim CPU is its process
// CPU clock (clock_getcpuclockid) over the run, divided by the sending window (% of one core) and
// by datagrams sent; it includes the kernel work done in linesim's context (TUN read and write, and
// the IP receive of the written packet up to the receiver's socket). Needs root (namespaces, TUN).
//
// Flags:
//   --rates LIST      datagrams per second, comma-separated, default 1000,10000,20000
//   --duration S      seconds per run, default 5
//   --payload B       UDP payload bytes (16..1472), default 200
//   --drain-ms MS     wait after the last send for stragglers, default 500
//   --linesim PATH    linesim binary, default the one in this build tree
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/bench_util.h"
#include "tests/lab/linesim/client.h"
#include "tests/lab/linesim/fd.h"
#include "tests/lab/linesim/private_netns.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace linewatch::bench {
namespace {

using Steady = std::chrono::steady_clock;
using linesim::Fd;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

struct Options {
  std::string rates_text = "1000,10000,20000";
  std::vector<double> rates;  // parsed from rates_text
  double duration_s = 5;
  int payload = 200;
  int drain_ms = 500;
  std::string linesim = LINESIM_BINARY;
};

constexpr const char* kReceiverIp = linesim::kNamespaceReceiverIp;
constexpr int kWarmPort = 5999;

using TempDir = linewatch::testing::TempDir;

sockaddr_in v4(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A sender (marked into `sim` or not) and a receiver bound to kReceiverIp:port.
// Both sockets are made by the caller's thread, so in its namespace.
struct UdpPair {
  Fd tx, rx;
  sockaddr_in to{};
};

UdpPair make_udp_pair(bool through_sim, int port) {
  UdpPair p{Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
            Fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), v4(kReceiverIp, port)};
  if (!p.tx.valid() || !p.rx.valid()) throw std::runtime_error(linesim::errno_text("socket"));
  int mark = 1;
  if (through_sim && ::setsockopt(p.tx.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0)
    throw std::runtime_error(linesim::errno_text("SO_MARK"));
  if (::bind(p.rx.get(), reinterpret_cast<const sockaddr*>(&p.to), sizeof p.to) != 0)
    throw std::runtime_error(linesim::errno_text("bind receiver"));
  int big = 16 << 20;  // the receiver thread may be descheduled on a busy host
  (void)::setsockopt(p.rx.get(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  timeval tv{0, 10'000};  // recv wakes up to look at the stop flag
  (void)::setsockopt(p.rx.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return p;
}

// The linesim process, ended by its PID (SIGTERM, then SIGKILL after 2 s).
class LinesimChild {
 public:
  LinesimChild(const std::string& binary, const std::string& sock) {
    std::vector<std::string> args{binary, "--dev", "sim", "--control", sock, "--seed", "1"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
      throw std::runtime_error("cannot start " + binary);
  }
  ~LinesimChild() { stop(); }
  LinesimChild(const LinesimChild&) = delete;
  LinesimChild& operator=(const LinesimChild&) = delete;

  pid_t pid() const { return pid_; }
  bool alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

  // Ends the process; its whole-life CPU seconds (wait4), or nullopt if it was gone.
  std::optional<double> stop() {
    if (pid_ <= 0) return std::nullopt;
    ::kill(pid_, SIGTERM);
    rusage ru{};
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 200 && got == 0; ++i) {
      got = ::wait4(pid_, &status, WNOHANG, &ru);
      if (got == 0) std::this_thread::sleep_for(milliseconds(10));
    }
    if (got == 0) {
      ::kill(pid_, SIGKILL);
      got = ::wait4(pid_, &status, 0, &ru);
    }
    pid_ = -1;
    return got > 0 ? std::optional<double>(cpu_seconds(ru)) : std::nullopt;
  }

 private:
  pid_t pid_ = -1;
};

double process_cpu_seconds(pid_t pid) {
  clockid_t clock;
  timespec ts{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &ts) != 0)
    throw std::runtime_error("cannot read linesim's CPU clock");
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// linesim's "up" counters from `show`, or nullopt when it does not answer.
std::optional<Poco::JSON::Object::Ptr> show_up(const std::string& sock) {
  std::ostringstream out, err;
  if (linesim::run_client(sock, "show", out, err) != 0) return std::nullopt;
  try {
    auto j = Poco::JSON::Parser().parse(out.str()).extract<Poco::JSON::Object::Ptr>();
    return j->getObject("up");
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

std::string command(const std::string& sock, const std::string& line) {
  std::ostringstream out, err;
  linesim::run_client(sock, line, out, err);
  return out.str() + err.str();
}

// Sends one datagram every 50 ms until one arrives (the TUN's qdisc becomes
// active only in the kernel's rate-limited link-watch work after attach), at
// most 3 s. Returns whether the path passes traffic.
bool wait_passing(const UdpPair& p) {
  const auto start = Steady::now();
  char buf[64] = {};
  while (Steady::now() - start < std::chrono::seconds(3)) {
    (void)::sendto(p.tx.get(), buf, 16, 0, reinterpret_cast<const sockaddr*>(&p.to), sizeof p.to);
    const auto until = Steady::now() + milliseconds(50);
    while (Steady::now() < until)
      if (::recv(p.rx.get(), buf, sizeof buf, 0) > 0) return true;
  }
  return false;
}

struct Payload {
  std::uint64_t seq;
  std::int64_t sent_ns;  // steady clock
};

std::int64_t steady_ns() {
  return std::chrono::duration_cast<nanoseconds>(Steady::now().time_since_epoch()).count();
}

struct RunFigures {
  double rate = 0;
  bool through_sim = false;
  std::uint64_t sent = 0, send_errors = 0, delivered = 0;
  std::vector<double> latency_us;
  double send_window_s = 0;
  double max_late_us = 0;  // how far behind its deadline the sender got
  double cpu_s = -1;       // linesim, through_sim only
  long long sim_in = -1, sim_out = -1;
};

// Receives until `stop`: one latency per first copy of each sequence number.
void receive(int rx, std::size_t planned, const std::atomic<bool>& stop,
             std::atomic<std::uint64_t>& delivered, std::vector<double>& latency_us) {
  std::vector<char> seen(planned, 0);
  std::vector<char> buf(2048);
  latency_us.reserve(planned);
  while (!stop.load(std::memory_order_relaxed)) {
    const ssize_t n = ::recv(rx, buf.data(), buf.size(), 0);
    if (n < static_cast<ssize_t>(sizeof(Payload))) continue;
    const std::int64_t now = steady_ns();
    Payload p;
    std::memcpy(&p, buf.data(), sizeof p);
    if (p.seq >= planned || seen[p.seq]) continue;
    seen[p.seq] = 1;
    latency_us.push_back(static_cast<double>(now - p.sent_ns) / 1e3);
    delivered.fetch_add(1, std::memory_order_relaxed);
  }
}

// Sends `planned` datagrams at start + i/rate, stopping at the hard end.
void send_paced(const Options& o, const UdpPair& p, double rate, std::size_t planned,
                RunFigures& f) {
  std::vector<char> buf(static_cast<std::size_t>(o.payload), 0);
  const auto start = Steady::now() + milliseconds(20);  // let the receiver settle
  const auto hard_end = start + std::chrono::duration_cast<Steady::duration>(
                                    std::chrono::duration<double>(o.duration_s + 1.0));
  auto last = start;
  for (std::size_t i = 0; i < planned; ++i) {
    const auto due = start + nanoseconds(std::llround(static_cast<double>(i) * 1e9 / rate));
    std::this_thread::sleep_until(due);
    last = Steady::now();
    if (last > hard_end) break;
    f.max_late_us =
        std::max(f.max_late_us, std::chrono::duration<double, std::micro>(last - due).count());
    const Payload pl{i, steady_ns()};
    std::memcpy(buf.data(), &pl, sizeof pl);
    if (::sendto(p.tx.get(), buf.data(), buf.size(), 0, reinterpret_cast<const sockaddr*>(&p.to),
                 sizeof p.to) == static_cast<ssize_t>(buf.size()))
      ++f.sent;
    else
      ++f.send_errors;
  }
  f.send_window_s = std::chrono::duration<double>(last - start).count();
}

RunFigures run_stream(const Options& o, const UdpPair& p, double rate, bool through_sim,
                      pid_t linesim_pid) {
  RunFigures f;
  f.rate = rate;
  f.through_sim = through_sim;
  const auto planned = static_cast<std::size_t>(std::llround(rate * o.duration_s));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> delivered{0};
  std::thread receiver([&] { receive(p.rx.get(), planned, stop, delivered, f.latency_us); });
  const double cpu0 = linesim_pid > 0 ? process_cpu_seconds(linesim_pid) : 0;
  send_paced(o, p, rate, planned, f);
  const auto drain_end = Steady::now() + milliseconds(o.drain_ms);
  while (delivered.load() < f.sent && Steady::now() < drain_end)
    std::this_thread::sleep_for(milliseconds(5));
  if (linesim_pid > 0) f.cpu_s = process_cpu_seconds(linesim_pid) - cpu0;
  stop = true;
  receiver.join();
  f.delivered = delivered.load();
  return f;
}

std::string count(std::uint64_t n) { return fmt("%llu", static_cast<unsigned long long>(n)); }

double delivered_pct(const RunFigures& r) {
  return r.sent ? 100.0 * static_cast<double>(r.delivered) / static_cast<double>(r.sent) : 0;
}
double cpu_pct(const RunFigures& r) {
  return r.send_window_s > 0 ? 100.0 * r.cpu_s / r.send_window_s : 0;
}
double cpu_us_per_packet(const RunFigures& r) {
  return r.sent ? 1e6 * r.cpu_s / static_cast<double>(r.sent) : 0;
}

void print_runs(std::vector<RunFigures> runs) {
  Table t({"rate/s", "path", "sent", "send err", "delivered", "delivered %", "median us", "p99 us",
           "max us", "sender late max us", "linesim in/out", "linesim CPU %", "CPU us/pkt"});
  for (auto& r : runs) {
    const bool sim = r.through_sim;
    t.add({fmt("%.0f", r.rate), sim ? "linesim" : "baseline (lo)", count(r.sent),
           count(r.send_errors), count(r.delivered), fmt("%.3f", delivered_pct(r)),
           fmt("%.1f", quantile(r.latency_us, 0.5)), fmt("%.1f", quantile(r.latency_us, 0.99)),
           fmt("%.1f", quantile(r.latency_us, 1.0)), fmt("%.0f", r.max_late_us),
           sim ? fmt("%lld/%lld", r.sim_in, r.sim_out) : "-", sim ? fmt("%.2f", cpu_pct(r)) : "-",
           sim ? fmt("%.2f", cpu_us_per_packet(r)) : "-"});
  }
  t.print("bench_linesim runs (latency = one-way send-to-recv, steady clock)");
}

// `runs` holds a baseline and a linesim run per rate, in that order.
void print_figures(std::vector<RunFigures> runs) {
  Table t({"rate/s", "baseline median us", "linesim median us", "added median us", "added p99 us",
           "delivered % via linesim", "linesim CPU % of one core", "linesim CPU us/pkt"});
  for (std::size_t i = 0; i + 1 < runs.size(); i += 2) {
    auto& base = runs[i];
    auto& sim = runs[i + 1];
    const double bm = quantile(base.latency_us, 0.5), sm = quantile(sim.latency_us, 0.5);
    const double bp = quantile(base.latency_us, 0.99), sp = quantile(sim.latency_us, 0.99);
    t.add({fmt("%.0f", sim.rate), fmt("%.1f", bm), fmt("%.1f", sm), fmt("%.1f", sm - bm),
           fmt("%.1f", sp - bp), fmt("%.3f", delivered_pct(sim)), fmt("%.2f", cpu_pct(sim)),
           fmt("%.2f", cpu_us_per_packet(sim))});
  }
  t.print("bench_linesim figures (added = linesim minus baseline at the same rate)");
}

long long counter(const std::optional<Poco::JSON::Object::Ptr>& up, const char* key) {
  return up ? (*up)->getValue<long long>(key) : -1;
}

// Everything inside the namespace: start linesim, then per rate a baseline
// run and a linesim run, each on its own receiver port.
void bench_in_namespace(const Options& o, std::vector<RunFigures>& runs,
                        std::optional<double>& linesim_life_cpu) {
  TempDir dir;
  const std::string sock = dir.file("line.sock");
  LinesimChild child(o.linesim, sock);
  for (int i = 0; i < 300 && !show_up(sock); ++i) std::this_thread::sleep_for(milliseconds(10));
  if (!child.alive() || !show_up(sock)) throw std::runtime_error("linesim did not come up");
  const std::string reply = command(sock, "set both delay=0 jitter=0 loss=0 rate=0");
  if (reply != "ok\n") throw std::runtime_error("linesim set: " + reply);
  if (!wait_passing(make_udp_pair(true, kWarmPort)))
    throw std::runtime_error("no datagram passed through linesim within 3 s");
  // Fine-grained sleeps so 50 us spacing (20k/s) is kept; the default slack is 50 us.
  (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  int port = 6000;
  for (double rate : o.rates) {
    runs.push_back(run_stream(o, make_udp_pair(false, port++), rate, false, -1));
    const auto before = show_up(sock);
    runs.push_back(run_stream(o, make_udp_pair(true, port++), rate, true, child.pid()));
    const auto after = show_up(sock);
    runs.back().sim_in = counter(after, "in") - counter(before, "in");
    runs.back().sim_out = counter(after, "out") - counter(before, "out");
    if (!child.alive()) throw std::runtime_error("linesim exited during the run");
  }
  linesim_life_cpu = child.stop();
}

int run(const Options& o) {
  std::printf("bench_linesim: rates %s /s, %.1f s per run, %d-byte payloads, linesim %s\n",
              o.rates_text.c_str(), o.duration_s, o.payload, o.linesim.c_str());
  std::fflush(stdout);
  std::vector<RunFigures> runs;
  std::optional<double> life_cpu;
  const std::string failure =
      linesim::in_private_namespace([&] { bench_in_namespace(o, runs, life_cpu); });
  if (!failure.empty()) throw std::runtime_error(failure);
  print_runs(runs);
  print_figures(runs);
  if (life_cpu) std::printf("\nlinesim whole-life CPU (wait4): %.3f s\n", *life_cpu);
  return 0;
}

std::vector<double> parse_rates(const std::string& text) {
  std::vector<double> rates;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    char* end = nullptr;
    const double r = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !(r >= 1 && r <= 1e6))
      throw CLI::ValidationError("--rates",
                                 "each rate must be a number in 1..1000000: '" + item + "'");
    rates.push_back(r);
  }
  if (rates.empty()) throw CLI::ValidationError("--rates", "no rates given");
  return rates;
}

}  // namespace
}  // namespace linewatch::bench

int main(int argc, char** argv) {
  linewatch::bench::Options o;
  CLI::App app{"linesim at zero delay: added one-way latency, delivery and CPU per packet"};
  // Later flags win, so bench/run.sh can append overrides to its defaults.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--rates", o.rates_text, "datagrams per second, comma-separated")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds per run (baseline and linesim each)")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  app.add_option("--payload", o.payload, "UDP payload bytes")
      ->capture_default_str()
      ->check(CLI::Range(16, 1472));
  app.add_option("--drain-ms", o.drain_ms, "wait after the last send for stragglers (ms)")
      ->capture_default_str()
      ->check(CLI::Range(0, 60000));
  app.add_option("--linesim", o.linesim, "linesim binary")
      ->capture_default_str()
      ->check(CLI::ExistingFile);
  try {
    app.parse(argc, argv);
    o.rates = linewatch::bench::parse_rates(o.rates_text);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return linewatch::bench::run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_linesim: %s\n", e.what());
    return 1;
  }
}

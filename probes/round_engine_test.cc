#include "probes/round_engine.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.h"
#include "probes/netns_test_support.h"
#include "probes/probe.h"
#include "probes/round_engine_state.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// What a ProbeRequest refers to, kept alive for the round.
struct Job {
  LineSpec line = [] {
    LineSpec l;
    l.id = "test-line";
    return l;
  }();
  std::string target;
  ProbeSpec spec{ProbeKind::icmp, {}, {}, {}, {}, {}};
  SystemClock clock;

  static std::unique_ptr<Job> icmp(const std::string& host, int pings, Duration spacing,
                                   Duration timeout) {
    auto j = std::make_unique<Job>();
    j->target = host;
    j->spec.icmp.host = host;
    j->spec.icmp.pings = pings;
    j->spec.icmp.spacing = spacing;
    j->spec.timing.timeout = timeout;
    return j;
  }
  static std::unique_ptr<Job> tcp(const std::string& host, std::uint16_t port) {
    auto j = std::make_unique<Job>();
    j->target = host;
    j->spec.kind = ProbeKind::tcp;
    j->spec.tcp->host = host;
    j->spec.tcp->port = port;
    j->spec.timing.timeout = 1s;
    return j;
  }
  ProbeRequest request() const { return ProbeRequest{line, target, spec, clock}; }
};

// Submits `job` and waits for its result (bounded by the round's length).
std::future<ProbeResult> submit(RoundEngine& engine, const Job& job) {
  auto promise = std::make_shared<std::promise<ProbeResult>>();
  std::future<ProbeResult> result = promise->get_future();
  engine.submit(job.request(), [promise](ProbeResult r) { promise->set_value(std::move(r)); });
  return result;
}

ProbeResult wait_for(std::future<ProbeResult>& f) {
  REQUIRE(f.wait_for(10s) == std::future_status::ready);
  return f.get();
}

std::unique_ptr<RoundEngine> start_engine(RoundEngineOptions options = {}) {
  auto engine = RoundEngine::start(options);
  REQUIRE(engine);
  return std::move(*engine);
}

// Runs `body` on a thread in a fresh network namespace with loopback up and
// a veth pair, lwd0 holding 198.18.7.1/24: 198.18.7.9 has a static
// neighbour entry with a MAC nobody has, so what is sent to it is dropped by
// the peer, silently (no ARP, no ICMP error). Nothing leaves the namespace,
// which ends with the thread.
void in_namespace(const std::function<void()>& body) {
  std::string error;
  std::thread t([&] {
    error = testing::enter_private_namespace();
    if (error.empty() &&
        std::system("ip link add lwd0 type veth peer name lwd1 && ip addr add 198.18.7.1/24 dev "
                    "lwd0 && ip link set lwd0 up && ip link set lwd1 up && ip neigh add "
                    "198.18.7.9 lladdr 02:00:00:00:00:09 dev lwd0") != 0)
      error = "veth setup failed";
    if (error.empty()) body();
  });
  t.join();
  if (!error.empty()) FAIL(error);
}

// The shape and figures a caller sees, without the times themselves.
void check_same_shape(const ProbeResult& a, const ProbeResult& b) {
  CHECK(a.line == b.line);
  CHECK(a.target == b.target);
  CHECK(a.kind == b.kind);
  CHECK(a.ok == b.ok);
  CHECK(a.reason == b.reason);
  CHECK(a.detail == b.detail);
  CHECK(a.sent == b.sent);
  CHECK(a.received == b.received);
  CHECK(a.rtts.size() == b.rtts.size());
  for (std::size_t i = 0; i < std::min(a.rtts.size(), b.rtts.size()); ++i)
    CHECK(a.rtts[i].has_value() == b.rtts[i].has_value());
  CHECK(a.rtt.has_value() == b.rtt.has_value());
  CHECK(a.rtt_median.has_value() == b.rtt_median.has_value());
  CHECK(a.rtt_stddev.has_value() == b.rtt_stddev.has_value());
  CHECK(a.phases.connect.has_value() == b.phases.connect.has_value());
  CHECK(a.phases.dns.has_value() == b.phases.dns.has_value());
}

TEST_CASE("round engine: an ICMP round on loopback equals the per-round socket's") {
  auto engine = start_engine();
  const auto job = Job::icmp("127.0.0.1", 5, 10ms, 1s);
  auto future = submit(*engine, *job);
  const ProbeResult shared = wait_for(future);
  const ProbeResult own = run_probe(job->request());
  check_same_shape(shared, own);
  CHECK(shared.ok);
  CHECK(shared.received == 5);
  REQUIRE(shared.rtt_median.has_value());
  CHECK(*shared.rtt_median < 10ms);
  CHECK(*shared.rtt_min <= *shared.rtt_max);
  CHECK(shared.duration >= 40ms);  // four spacings at least: the requests were spread
}

TEST_CASE("round engine: a line binding that cannot be applied fails as run_probe does") {
  auto engine = start_engine();
  auto job = Job::icmp("127.0.0.1", 1, 10ms, 200ms);
  job->line.binding.source = "198.18.99.99";  // not an address of this host
  auto future = submit(*engine, *job);
  const ProbeResult shared = wait_for(future);
  check_same_shape(shared, run_probe(job->request()));
  CHECK(shared.reason == Reason::bind);
}

// A router answers a few errors per second per host (icmp_ratelimit), so
// each path gets its own router and both must give the same detail.
TEST_CASE("round engine: a router's ICMP error ends the round as run_probe does") {
  std::vector<ProbeResult> results;
  const auto round = [&](bool shared) {
    return [&, shared](const std::string& address) {
      const auto job = Job::icmp(address, 2, 10ms, 1s);
      ProbeResult r;
      if (shared) {
        auto engine = start_engine();
        auto future = submit(*engine, *job);
        r = wait_for(future);
      } else {
        r = run_probe(job->request());
      }
      CHECK(r.reason == Reason::unreachable);
      CHECK(r.detail == "no reply from " + address + ": No route to host (ICMP error)");
      results.push_back(r);
    };
  };
  CHECK(testing::with_unreachable_router("re", 40, round(true)).empty());
  CHECK(testing::with_unreachable_router("rp", 42, round(false)).empty());
  REQUIRE(results.size() == 2);
  results[0].detail = results[1].detail;  // the addresses differ
  results[0].target = results[1].target;
  check_same_shape(results[0], results[1]);
}

TEST_CASE("round engine: targets sharing one socket are never credited each other's replies") {
  in_namespace([] {
    auto engine = start_engine();
    std::vector<std::unique_ptr<Job>> jobs;
    for (int i = 1; i <= 50; ++i)
      jobs.push_back(Job::icmp("127.0.0." + std::to_string(i), 3, 5ms, 300ms));
    jobs.push_back(Job::icmp("198.18.7.9", 3, 5ms, 300ms));  // silent
    // Two rounds of one target at once: each must get its own replies only.
    jobs.push_back(Job::icmp("127.0.0.7", 3, 5ms, 300ms));
    std::vector<std::future<ProbeResult>> futures;
    for (const auto& j : jobs) futures.push_back(submit(*engine, *j));
    std::vector<ProbeResult> results;
    for (auto& f : futures) results.push_back(wait_for(f));
    for (std::size_t i = 0; i < results.size(); ++i) {
      const bool silent = jobs[i]->target == "198.18.7.9";
      CAPTURE(jobs[i]->target);
      CHECK(results[i].target == jobs[i]->target);
      CHECK(results[i].sent == 3);
      CHECK(results[i].received == (silent ? 0 : 3));
      CHECK(results[i].reason == (silent ? Reason::timeout : Reason::ok));
    }
    const RoundEngineStats stats = engine->stats();
    CHECK(stats.icmp_sockets == 1);
    CHECK(stats.echoes_sent == 3 * jobs.size());
    CHECK(stats.replies == 3 * (jobs.size() - 1));
    CHECK(stats.ignored == 0);
    CHECK(stats.late_replies == 0);
    CHECK(stats.in_flight == 0);
  });
}

TEST_CASE("round engine: a reply after its echo's deadline is dropped and counted") {
  auto engine = start_engine();
  // A deadline shorter than any round trip: every reply comes after it.
  const auto job = Job::icmp("127.0.0.1", 3, 1ms, 1ns);
  auto future = submit(*engine, *job);
  const ProbeResult r = wait_for(future);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::timeout);
  CHECK(r.sent == 3);
  CHECK(r.received == 0);
  RoundEngineStats stats = engine->stats();
  for (int i = 0; i < 200 && stats.late_replies < 3; ++i) {  // bounded: 2 s
    std::this_thread::sleep_for(10ms);
    stats = engine->stats();
  }
  CHECK(stats.late_replies == 3);
  CHECK(stats.replies == 0);
  CHECK(stats.ignored == 0);
}

TEST_CASE("round engine: a full receive buffer is counted and the socket recovers") {
  RoundEngineOptions options;
  options.receive_buffer_bytes = 1;  // the kernel's minimum: a few packets
  options.force_receive_buffer = true;
  auto engine = start_engine(options);
  // 200 echoes at once: their replies reach the socket before the loop reads.
  auto flood = Job::icmp("127.0.0.1", 200, 0ms, 500ms);
  flood->spec.icmp.payload_bytes = 1000;
  auto flooded = submit(*engine, *flood);
  const ProbeResult first = wait_for(flooded);
  CHECK(first.sent == 200);
  CHECK(first.received < 200);
  // The next reply carries the kernel's drop count.
  const auto after = Job::icmp("127.0.0.1", 1, 0ms, 500ms);
  auto recovered = submit(*engine, *after);
  const ProbeResult second = wait_for(recovered);
  CHECK(second.ok);
  const RoundEngineStats stats = engine->stats();
  CHECK(stats.overflow_drops > 0);
  CHECK(stats.overflow_drops + stats.replies >= 200);
}

TEST_CASE("round engine: TCP connects give run_probe's reasons and figures") {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(listener.valid());
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  REQUIRE(::listen(listener.get(), 16) == 0);
  socklen_t length = sizeof(address);
  REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::uint16_t open_port = ntohs(address.sin_port);
  // A port nobody listens on: bound, never listening.
  Fd closed(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  address.sin_port = 0;
  REQUIRE(::bind(closed.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  length = sizeof(address);
  REQUIRE(::getsockname(closed.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::uint16_t closed_port = ntohs(address.sin_port);

  auto engine = start_engine();
  SUBCASE("an open port connects") {
    const auto job = Job::tcp("127.0.0.1", open_port);
    auto future = submit(*engine, *job);
    const ProbeResult r = wait_for(future);
    check_same_shape(r, run_probe(job->request()));
    CHECK(r.ok);
    REQUIRE(r.rtt.has_value());
    CHECK(r.rtt == r.phases.connect);
  }
  SUBCASE("a closed port is refused") {
    const auto job = Job::tcp("127.0.0.1", closed_port);
    auto future = submit(*engine, *job);
    const ProbeResult r = wait_for(future);
    check_same_shape(r, run_probe(job->request()));
    CHECK(r.reason == Reason::refused);
  }
  SUBCASE("a binding that cannot be applied fails") {
    auto job = Job::tcp("127.0.0.1", open_port);
    job->line.binding.source = "198.18.99.99";
    auto future = submit(*engine, *job);
    const ProbeResult r = wait_for(future);
    check_same_shape(r, run_probe(job->request()));
    CHECK(r.reason == Reason::bind);
  }
  CHECK(engine->stats().in_flight == 0);
}

TEST_CASE("round engine: a TCP connect with no answer times out as run_probe does") {
  in_namespace([] {
    auto engine = start_engine();
    auto job = Job::tcp("198.18.7.9", 80);
    job->spec.timing.timeout = 200ms;
    auto future = submit(*engine, *job);
    const ProbeResult r = wait_for(future);
    check_same_shape(r, run_probe(job->request()));
    CHECK(r.reason == Reason::timeout);
    CHECK(r.duration >= 200ms);
  });
}

// The scheduler submits from a timer on the engine's loop: the round starts
// in place (its echo is on the wire before submit returns, with no posted
// function), and the send stamps, now read with the replies rather than
// after each send, still start every RTT.
TEST_CASE("round engine: rounds submitted on the loop start in place with both kernel stamps") {
  auto engine = start_engine();
  // A first round wakes the host's receive stamps (a deferred static key).
  const auto warm = Job::icmp("127.0.0.1", 1, 0ms, 1s);
  auto first = submit(*engine, *warm);
  REQUIRE(wait_for(first).ok);
  const RoundEngineStats before = engine->stats();
  constexpr int kRounds = 20;
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < kRounds; ++i)
    jobs.push_back(Job::icmp("127.0.0." + std::to_string(i + 1), 1, 0ms, 1s));
  std::vector<std::future<ProbeResult>> results;
  auto sent_in_place = std::make_shared<std::promise<int>>();
  std::future<int> in_place = sent_in_place->get_future();
  engine->loop().post([&] {
    int sent = 0;
    for (const auto& job : jobs) {
      const std::uint64_t echoes = engine->stats().echoes_sent;
      results.push_back(submit(*engine, *job));
      if (engine->stats().echoes_sent == echoes + 1) ++sent;
    }
    sent_in_place->set_value(sent);
  });
  REQUIRE(in_place.wait_for(10s) == std::future_status::ready);
  CHECK(in_place.get() == kRounds);
  for (auto& r : results) CHECK(wait_for(r).received == 1);
  const RoundEngineStats after = engine->stats();
  CHECK(after.replies - before.replies == kRounds);
  CHECK(after.send_stamped - before.send_stamped == kRounds);
  CHECK(after.receive_stamped - before.receive_stamped == kRounds);
}

// p99 is the top of the √2-wide bucket holding the 99th sample: within a
// factor √2 above it, never below, and never above the max.
TEST_CASE("round engine: the lag window's p99 lies within its bucket of the true figure") {
  LagWindow window(10s);
  const MonoTime t0 = Steady::now();
  for (const Duration lag : {Duration(100us), Duration(3ms), Duration(1500ns)}) {
    LagWindow w(10s);
    for (int i = 0; i < 990; ++i) w.record(t0, lag);
    for (int i = 0; i < 10; ++i) w.record(t0, lag * 100);
    CHECK(w.p99(t0) >= lag);
    CHECK(w.p99(t0) <= lag * 1.4143);
    CHECK(w.max(t0) == lag * 100);
  }
  CHECK(window.p99(t0) == Duration::zero());
}

TEST_CASE("round engine: rounds in flight at stop are dropped without a call") {
  auto engine = start_engine();
  const auto job = Job::icmp("127.0.0.1", 3, 500ms, 1s);
  auto called = std::make_shared<std::atomic<int>>(0);
  engine->submit(job->request(), [called](ProbeResult) { ++*called; });
  std::this_thread::sleep_for(50ms);
  engine->stop();
  engine->submit(job->request(), [called](ProbeResult) { ++*called; });
  std::this_thread::sleep_for(50ms);
  CHECK(called->load() == 0);
}

}  // namespace
}  // namespace linewatch

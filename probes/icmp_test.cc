#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "probes/netns_test_support.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// Holds what a ProbeRequest refers to, for one ICMP round. Loopback only: the
// root namespace here answers echoes for any address, so nothing else is
// a meaningful (or allowed) target.
struct IcmpRound {
  LineSpec line = [] {
    LineSpec l;
    l.id = "test-line";
    return l;
  }();
  std::string target = "loopback";
  ProbeSpec spec{ProbeKind::icmp, {}, {}, {}, {}, {}};
  SystemClock clock;

  explicit IcmpRound(const std::string& host, int pings = 5, Duration spacing = 10ms) {
    spec.icmp.host = host;
    spec.icmp.pings = pings;
    spec.icmp.spacing = spacing;
    spec.timing.timeout = 1s;
  }
  ProbeResult run() const { return run_probe(ProbeRequest{line, target, spec, clock}); }
};

// Every echo answered quickly, and the summary agrees with the samples.
void check_all_answered(const ProbeResult& r, int pings) {
  CHECK(r.ok);
  CHECK(r.reason == Reason::ok);
  CHECK(r.kind == ProbeKind::icmp);
  CHECK(r.sent == pings);
  CHECK(r.received == pings);
  REQUIRE(r.rtts.size() == static_cast<std::size_t>(pings));
  std::vector<Duration> got;
  for (const auto& e : r.rtts) {
    REQUIRE(e.has_value());
    got.push_back(*e);
  }
  std::sort(got.begin(), got.end());
  REQUIRE(r.rtt_median.has_value());
  CHECK(*r.rtt_median < 10ms);
  CHECK(r.rtt_min == got.front());
  CHECK(r.rtt_max == got.back());
  if (pings % 2 == 1) CHECK(r.rtt_median == got[got.size() / 2]);
  CHECK(r.rtt == r.rtt_median);
  CHECK(r.loss() == 0.0);
}

TEST_CASE("five echoes to 127.0.0.1 are all answered") {
  IcmpRound round("127.0.0.1");
  check_all_answered(round.run(), 5);
}

TEST_CASE("five echoes to ::1 are all answered") {
  IcmpRound round("::1");
  check_all_answered(round.run(), 5);
}

TEST_CASE("a name is resolved before pinging") {
  IcmpRound round("localhost", 3);
  round.spec.icmp.family = 4;
  check_all_answered(round.run(), 3);
}

TEST_CASE("binding to source, interface and fwmark on loopback still answers") {
  IcmpRound round("127.0.0.1", 3);
  round.line.binding = LineBinding{"127.0.0.1", "lo", 7u};
  round.spec.icmp.payload_bytes = 1000;
  check_all_answered(round.run(), 3);
}

TEST_CASE("icmp: a source address the host does not have fails to bind") {
  IcmpRound round("127.0.0.1");
  round.line.binding.source = "198.18.255.254";  // not on this host: nothing is sent
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::bind);
  CHECK(r.detail.find("source 198.18.255.254") != std::string::npos);
  CHECK(r.detail.find("Cannot assign requested address") != std::string::npos);
  CHECK(r.sent == 0);
}

TEST_CASE("an interface that does not exist fails to bind") {
  IcmpRound round("127.0.0.1");
  round.line.binding.interface = "lwnosuch0";
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::bind);
  CHECK(r.detail.find("interface lwnosuch0") != std::string::npos);
  CHECK(r.detail.find("No such device") != std::string::npos);
}

TEST_CASE("icmp: a source of the other family than the target fails to bind") {
  IcmpRound round("::1");
  round.line.binding.source = "127.0.0.1";
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::bind);
}

TEST_CASE("icmp: a name that cannot resolve is a dns failure") {
  IcmpRound round("no-such-host.invalid");
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::dns);
}

TEST_CASE("echo starts are spaced") {
  IcmpRound round("127.0.0.1", 5, 50ms);
  const auto start = Steady::now();
  ProbeResult r = round.run();
  const auto took = Steady::now() - start;
  check_all_answered(r, 5);
  CHECK(took >= 200ms);  // four gaps between five starts
  CHECK(took < 400ms);
}

// Moves the calling thread (only) into a new network namespace whose loopback
// is up but ignores echo requests, so echoes to 127.0.0.1 are really lost
// (the root namespace answers every echo, so loss cannot be seen there).
std::string enter_silent_namespace() {
  if (auto e = testing::enter_private_namespace(); !e.empty()) return e;
  return testing::set_sysctl("net/ipv4/icmp_echo_ignore_all", "1");
}

// A round run on a thread that `enter` first moves into its own network
// namespace, with how long the round took.
struct TimedRound {
  std::string setup_error;  // "" or what `enter` reported
  ProbeResult result;
  Duration took{};
};
TimedRound run_in_namespace(const IcmpRound& round, std::string (*enter)()) {
  TimedRound t;
  std::thread([&] {
    t.setup_error = enter();
    if (!t.setup_error.empty()) return;
    const auto start = Steady::now();
    t.result = round.run();
    t.took = Steady::now() - start;
  }).join();
  return t;
}

TEST_CASE("lost echoes each wait their timeout and the round is a timeout") {
  IcmpRound round("127.0.0.1", 3, 50ms);
  round.spec.timing.timeout = 100ms;
  const TimedRound t = run_in_namespace(round, enter_silent_namespace);
  REQUIRE(t.setup_error == "");
  const ProbeResult& r = t.result;
  const Duration took = t.took;
  INFO(r.detail);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::timeout);
  CHECK(r.sent == 3);
  CHECK(r.received == 0);
  CHECK(r.loss() == 1.0);
  REQUIRE(r.rtts.size() == 3);
  for (const auto& e : r.rtts) CHECK_FALSE(e.has_value());
  CHECK_FALSE(r.rtt.has_value());
  // Requests leave 50 ms apart without waiting for replies, and the last one
  // waits its 100 ms: 2 × 50 + 100 ms, not 3 × 100 ms.
  CHECK(round_budget(round.spec) == 200ms);
  CHECK(took >= 200ms);
  CHECK(took < 290ms);
}

TEST_CASE("a target with no route is unreachable at once, not a timeout") {
  IcmpRound round("198.18.5.5", 2, 10ms);  // the private namespace has only loopback
  round.spec.timing.timeout = 2s;
  const TimedRound t = run_in_namespace(round, testing::enter_private_namespace);
  REQUIRE(t.setup_error == "");
  const ProbeResult& r = t.result;
  const Duration took = t.took;
  INFO(r.detail);
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::unreachable);
  CHECK(r.detail == "echo request to 198.18.5.5: Network is unreachable");
  CHECK(r.sent == 2);
  CHECK(r.received == 0);
  CHECK(took < 1s);  // did not wait out the 2 s timeout
}

}  // namespace
}  // namespace linewatch

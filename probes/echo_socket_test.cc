#include "probes/echo_socket.h"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "probes/netns_test_support.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// CHECK, not REQUIRE, in helpers and thread bodies: a REQUIRE throws, and an
// exception leaving a std::thread ends the whole test binary.
SocketAddress address(const char* host) {
  SocketAddress a;
  CHECK(parse_numeric_address(host, 0, a));
  return a;
}

// Runs `body` on a thread inside a private network namespace whose
// ping_group_range is `range`. Returns "" or what failed during setup.
std::string in_namespace(const std::string& range, const std::function<void()>& body) {
  std::string failure;
  std::thread([&] {
    failure = testing::enter_private_namespace();
    if (failure.empty()) failure = testing::set_sysctl("net/ipv4/ping_group_range", range);
    if (failure.empty()) body();
  }).join();
  return failure;
}

// Echoes until the kernel stamps one (it switches receive stamps on for the
// host a moment after the first socket asks), then requires three answered
// echoes that carry both stamps: loopback stamps sending and receiving.
void check_answered(EchoSocket& socket, const std::string& host) {
  std::uint16_t seq = 1;
  bool warm = false;
  for (; seq < 200 && !warm; ++seq) {
    const EchoSocket::Echo e = socket.echo(address(host.c_str()), seq, 56, Steady::now() + 1s);
    warm = e.receive_stamped;
    if (!warm) std::this_thread::sleep_for(1ms);
  }
  CHECK(warm);
  for (int i = 0; i < 3; ++i, ++seq) {
    const EchoSocket::Echo e = socket.echo(address(host.c_str()), seq, 56, Steady::now() + 1s);
    CHECK(e.send_errno == 0);
    CHECK(e.icmp_errno == 0);
    if (!e.rtt) {
      CHECK(e.rtt.has_value());
      return;
    }
    CHECK(*e.rtt > 0ns);
    CHECK(*e.rtt < 10ms);
    CHECK(e.receive_stamped);
    CHECK(e.send_stamped);
  }
}

TEST_CASE("a raw socket times echoes to 127.0.0.1 and ::1 with kernel stamps") {
  for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"},
                              std::pair<int, std::string>{AF_INET6, "::1"}}) {
    CAPTURE(host);
    auto socket = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    REQUIRE_MESSAGE(socket.ok(), socket.failure().detail);
    CHECK(socket.value().kind() == EchoSocket::Kind::raw);
    check_answered(socket.value(), host);
  }
}

TEST_CASE("a ping socket is used where ping_group_range admits the process") {
  const std::string setup = in_namespace("0 2147483647", [] {
    for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"},
                                std::pair<int, std::string>{AF_INET6, "::1"}}) {
      CAPTURE(host);
      auto socket = EchoSocket::open(family, {});
      CHECK_MESSAGE(socket.ok(), socket.failure().detail);
      if (!socket.ok()) return;
      CHECK(socket.value().kind() == EchoSocket::Kind::datagram);
      check_answered(socket.value(), host);
    }
  });
  CHECK(setup == "");
}

TEST_CASE(
    "where ping sockets are refused, a raw socket takes over, and asking for one only fails "
    "clearly") {
  const std::string setup = in_namespace("1 0", [] {
    auto automatic = EchoSocket::open(AF_INET, {});
    CHECK_MESSAGE(automatic.ok(), automatic.failure().detail);
    if (!automatic.ok()) return;
    CHECK(automatic.value().kind() == EchoSocket::Kind::raw);
    check_answered(automatic.value(), "127.0.0.1");

    auto datagram = EchoSocket::open(AF_INET, {}, EchoSocket::Kind::datagram);
    CHECK_FALSE(datagram.ok());
    if (datagram.ok()) return;
    CHECK(datagram.failure().reason == Reason::internal);
    CHECK(datagram.failure().detail ==
          "icmp: no ping socket (Permission denied; net.ipv4.ping_group_range must include the "
          "process's group)");
  });
  CHECK(setup == "");
}

// Without its filter a raw socket receives every ICMP packet of the host, so
// a second socket would see the first one's replies.
TEST_CASE("a raw socket does not see another socket's replies") {
  for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"},
                              std::pair<int, std::string>{AF_INET6, "::1"}}) {
    CAPTURE(host);
    auto quiet = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    auto busy = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    REQUIRE(quiet.ok());
    REQUIRE(busy.ok());
    for (std::uint16_t seq = 1; seq <= 5; ++seq)
      REQUIRE(
          busy.value().echo(address(host.c_str()), seq, 56, Steady::now() + 1s).rtt.has_value());
    // busy's five replies (and, on loopback, its five requests) reached the
    // host while quiet was open; unfiltered, quiet would read them all now.
    REQUIRE(quiet.value().echo(address(host.c_str()), 1, 56, Steady::now() + 1s).rtt.has_value());
    CHECK(quiet.value().ignored() == 0);
    CHECK(busy.value().ignored() == 0);
  }
}

TEST_CASE("a round's requests overlap, each keeps its own kernel-stamped RTT") {
  auto socket = EchoSocket::open(AF_INET, {}, EchoSocket::Kind::raw);
  REQUIRE(socket.ok());
  check_answered(socket.value(), "127.0.0.1");  // stamps are on from here
  // Sequence numbers start at 65530, so they wrap within the round.
  const std::uint64_t ignored_before = socket.value().ignored();
  const auto start = Steady::now();
  const auto echoes =
      socket.value().round(address("127.0.0.1"), EchoSocket::Plan{20, 1ms, 1s, 56, 65530});
  const auto took = Steady::now() - start;
  REQUIRE(echoes.size() == 20);
  for (const auto& e : echoes) {
    REQUIRE(e.rtt.has_value());
    CHECK(*e.rtt < 10ms);
    // Send stamps are matched to requests by the kernel's datagram key; a
    // wrong match would leave this false (the stamp would predate the send).
    CHECK(e.send_stamped);
    CHECK(e.receive_stamped);
  }
  CHECK(took >= 19ms);  // 19 gaps of 1 ms between 20 requests
  CHECK(took < 500ms);  // replies end the round; no timeout was waited out
  CHECK(socket.value().ignored() == ignored_before);
}

// Ten 65000-byte replies at once are about 650 kB, three times the default
// socket buffer; the round sizes the buffer so none is dropped unread.
TEST_CASE("a burst of the largest echoes is not lost to the socket buffer") {
  for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"},
                              std::pair<int, std::string>{AF_INET6, "::1"}}) {
    CAPTURE(host);
    auto socket = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    REQUIRE(socket.ok());
    const auto echoes =
        socket.value().round(address(host.c_str()), EchoSocket::Plan{10, 0ms, 2s, 65000, 1});
    int answered = 0;
    for (const auto& e : echoes) answered += e.rtt ? 1 : 0;
    CHECK(answered == 10);
  }
}

// A zero count sends nothing and returns at once.
TEST_CASE("a round of zero requests is empty") {
  auto socket = EchoSocket::open(AF_INET, {}, EchoSocket::Kind::raw);
  REQUIRE(socket.ok());
  CHECK(socket.value().round(address("127.0.0.1"), EchoSocket::Plan{0, 1ms, 1s, 56, 0}).empty());
}

// A router on the way answers for a network it has no route to: the probe says
// "unreachable" instead of waiting for a reply that will not come
// (testing::with_unreachable_router).
TEST_CASE("an ICMP unreachable from a router ends the echo at once with its error") {
  EchoSocket::Echo echo;
  Duration took{};
  bool opened = false;
  const std::string setup = testing::with_unreachable_router("rt", 10, [&](const std::string& to) {
    auto socket = EchoSocket::open(AF_INET, {}, EchoSocket::Kind::raw);
    if (!(opened = socket.ok())) return;
    const auto start = Steady::now();
    echo = socket.value().echo(address(to.c_str()), 1, 56, start + 2s);
    took = Steady::now() - start;
  });
  REQUIRE(setup == "");
  REQUIRE(opened);
  CHECK_FALSE(echo.rtt.has_value());
  CHECK(echo.send_errno == 0);
  CHECK(echo.icmp_errno == EHOSTUNREACH);  // an "unreachable" route answers host-unreachable
  CHECK(took < 1s);                        // did not wait out the 2 s timeout
}

TEST_CASE("the binding applies: a missing source address is a bind failure") {
  auto socket =
      EchoSocket::open(AF_INET, LineBinding{"198.18.255.254", {}, {}}, EchoSocket::Kind::raw);
  REQUIRE_FALSE(socket.ok());
  CHECK(socket.failure().reason == Reason::bind);
  CHECK(socket.failure().detail == "source 198.18.255.254: Cannot assign requested address");
}

}  // namespace
}  // namespace linewatch

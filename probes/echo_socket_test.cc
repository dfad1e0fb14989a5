#include "probes/echo_socket.h"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "probes/netns_test_support.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

SocketAddress address(const char* host) {
  SocketAddress a;
  REQUIRE(parse_numeric_address(host, 0, a));
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

void check_answered(EchoSocket& socket, const std::string& host) {
  EchoSocket::Echo e;
  for (std::uint16_t seq = 1; seq <= 3; ++seq) {
    e = socket.echo(address(host.c_str()), seq, 56, Steady::now() + 1s);
    CHECK(e.send_errno == 0);
    REQUIRE(e.rtt.has_value());
    CHECK(*e.rtt > 0ns);
    CHECK(*e.rtt < 10ms);
  }
  // Loopback stamps on send and receive; only the first echo may miss the
  // receive stamp, while the kernel is still switching stamps on.
  CHECK(e.kernel_stamped);
}

TEST_CASE("a raw socket times echoes to 127.0.0.1 and ::1 with kernel stamps") {
  for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"}, std::pair<int, std::string>{AF_INET6, "::1"}}) {
    CAPTURE(host);
    auto socket = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    REQUIRE_MESSAGE(socket.ok(), socket.failure().detail);
    CHECK(socket.value().kind() == EchoSocket::Kind::raw);
    check_answered(socket.value(), host);
  }
}

TEST_CASE("a ping socket is used where ping_group_range admits the process") {
  const std::string setup = in_namespace("0 2147483647", [] {
    for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"}, std::pair<int, std::string>{AF_INET6, "::1"}}) {
      CAPTURE(host);
      auto socket = EchoSocket::open(family, {});
      REQUIRE_MESSAGE(socket.ok(), socket.failure().detail);
      CHECK(socket.value().kind() == EchoSocket::Kind::datagram);
      check_answered(socket.value(), host);
    }
  });
  CHECK(setup == "");
}

TEST_CASE("where ping sockets are refused, a raw socket takes over; asking for one only fails clearly") {
  const std::string setup = in_namespace("1 0", [] {
    auto automatic = EchoSocket::open(AF_INET, {});
    REQUIRE_MESSAGE(automatic.ok(), automatic.failure().detail);
    CHECK(automatic.value().kind() == EchoSocket::Kind::raw);
    check_answered(automatic.value(), "127.0.0.1");

    auto datagram = EchoSocket::open(AF_INET, {}, EchoSocket::Kind::datagram);
    REQUIRE_FALSE(datagram.ok());
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
  for (auto [family, host] : {std::pair<int, std::string>{AF_INET, "127.0.0.1"}, std::pair<int, std::string>{AF_INET6, "::1"}}) {
    CAPTURE(host);
    auto quiet = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    auto busy = EchoSocket::open(family, {}, EchoSocket::Kind::raw);
    REQUIRE(quiet.ok());
    REQUIRE(busy.ok());
    for (std::uint16_t seq = 1; seq <= 5; ++seq)
      REQUIRE(busy.value().echo(address(host.c_str()), seq, 56, Steady::now() + 1s).rtt.has_value());
    // busy's five replies (and, on loopback, its five requests) reached the
    // host while quiet was open; unfiltered, quiet would read them all now.
    REQUIRE(quiet.value().echo(address(host.c_str()), 1, 56, Steady::now() + 1s).rtt.has_value());
    CHECK(quiet.value().ignored() == 0);
    CHECK(busy.value().ignored() == 0);
  }
}

TEST_CASE("the binding applies: a missing source address is a bind failure") {
  auto socket = EchoSocket::open(AF_INET, LineBinding{"198.18.255.254", {}, {}}, EchoSocket::Kind::raw);
  REQUIRE_FALSE(socket.ok());
  CHECK(socket.failure().reason == Reason::bind);
  CHECK(socket.failure().detail == "source 198.18.255.254: Cannot assign requested address");
}

}  // namespace
}  // namespace linewatch

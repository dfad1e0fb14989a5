#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "probes/probe.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct Listener {
  Fd fd;
  std::uint16_t port = 0;
};

// A real listening socket on `address` with a kernel-chosen port. The kernel
// completes handshakes into the backlog, so connects succeed without accept().
Listener listen_on(const char* address) {
  SocketAddress a;
  REQUIRE(parse_numeric_address(address, 0, a));
  Listener l{Fd(::socket(a.family(), SOCK_STREAM | SOCK_CLOEXEC, 0)), 0};
  REQUIRE(l.fd.valid());
  REQUIRE(::bind(l.fd.get(), a.get(), a.length) == 0);
  REQUIRE(::listen(l.fd.get(), 8) == 0);
  sockaddr_storage local{};
  socklen_t len = sizeof(local);
  REQUIRE(::getsockname(l.fd.get(), reinterpret_cast<sockaddr*>(&local), &len) == 0);
  l.port = ntohs(a.family() == AF_INET ? reinterpret_cast<sockaddr_in*>(&local)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  return l;
}

// Waits (bounded) for one readable event; false when nothing came in time.
bool wait_readable(int fd, int ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) == 1;
}

Fd accept_one(int listener) {
  if (!wait_readable(listener)) return Fd();
  return Fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

// Holds what a ProbeRequest refers to, for one TCP round to host:port.
struct TcpRound {
  LineSpec line = [] {
    LineSpec l;
    l.id = "test-line";
    return l;
  }();
  std::string target = "loopback";
  ProbeSpec spec{ProbeKind::tcp, {}, {}, {}, {}, {}};
  SystemClock clock;

  TcpRound(const std::string& host, std::uint16_t port, Duration timeout = 2s) {
    spec.tcp->host = host;
    spec.tcp->port = port;
    spec.timing.timeout = timeout;
  }
  ProbeResult run() const { return run_probe(ProbeRequest{line, target, spec, clock}); }
};

TEST_CASE("connects to a listening socket and times the connect") {
  Listener l = listen_on("127.0.0.1");
  TcpRound round("127.0.0.1", l.port);
  ProbeResult r = round.run();
  CHECK(r.ok);
  CHECK(r.reason == Reason::ok);
  CHECK(r.kind == ProbeKind::tcp);
  CHECK(r.line == "test-line");
  CHECK(r.target == "loopback");
  REQUIRE(r.phases.connect.has_value());
  CHECK(*r.phases.connect > 0ns);
  CHECK(*r.phases.connect < 100ms);
  CHECK(r.rtt == r.phases.connect);
  CHECK_FALSE(r.phases.dns.has_value());  // a literal needs no lookup
}

TEST_CASE("a closed port is refused quickly") {
  std::uint16_t port = 0;
  {
    Listener l = listen_on("127.0.0.1");
    port = l.port;
  }
  TcpRound round("127.0.0.1", port);
  const auto start = Steady::now();
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::refused);
  CHECK(r.detail.find("Connection refused") != std::string::npos);
  CHECK(Steady::now() - start < 500ms);
}

TEST_CASE("sends and finds the expected reply from an echo server") {
  Listener l = listen_on("127.0.0.1");
  std::jthread server([&l] {
    Fd c = accept_one(l.fd.get());
    if (!c.valid() || !wait_readable(c.get())) return;
    char buf[256];
    const ssize_t n = ::recv(c.get(), buf, sizeof(buf), 0);
    if (n > 0) ::send(c.get(), buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
    wait_readable(c.get());  // until the probe closes
  });
  TcpRound round("127.0.0.1", l.port);
  round.spec.tcp->send = "PING linewatch\r\n";
  round.spec.tcp->expect = "linewatch";
  ProbeResult r = round.run();
  CHECK(r.ok);
  CHECK(r.reason == Reason::ok);
  CHECK(r.detail.empty());
}

TEST_CASE("an expected reply that never comes times out at the deadline") {
  Listener l = listen_on("127.0.0.1");  // handshakes complete; nothing is ever sent
  TcpRound round("127.0.0.1", l.port, 300ms);
  round.spec.tcp->expect = "220 ";
  const auto start = Steady::now();
  ProbeResult r = round.run();
  const auto took = Steady::now() - start;
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::timeout);
  CHECK(r.detail.find("timed out") != std::string::npos);
  CHECK(took >= 300ms);
  CHECK(took <= 330ms);
}

TEST_CASE("a server that closes without the expected bytes is a body mismatch") {
  Listener l = listen_on("127.0.0.1");
  std::jthread server([&l] {
    Fd c = accept_one(l.fd.get());
    if (c.valid()) ::send(c.get(), "HELLO\n", 6, MSG_NOSIGNAL);
  });
  TcpRound round("127.0.0.1", l.port);
  round.spec.tcp->expect = "SSH-2.0";
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::body_mismatch);
  CHECK(r.detail.find("closed after 6 bytes") != std::string::npos);
}

TEST_CASE("tcp: a source address the host does not have fails to bind") {
  Listener l = listen_on("127.0.0.1");
  TcpRound round("127.0.0.1", l.port);
  round.line.binding.source = "198.18.255.254";  // not on this host: nothing is sent
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::bind);
  CHECK(r.detail == "source 198.18.255.254: Cannot assign requested address");
}

TEST_CASE("tcp: a source of the other family than the target fails to bind") {
  Listener l = listen_on("::1");
  TcpRound round("::1", l.port);
  round.line.binding.source = "127.0.0.1";
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::bind);
}

TEST_CASE("binding to 127.0.0.1 on lo with a fwmark still connects") {
  Listener l = listen_on("127.0.0.1");
  TcpRound round("127.0.0.1", l.port);
  round.line.binding = LineBinding{"127.0.0.1", "lo", 7u};
  ProbeResult r = round.run();
  CHECK(r.ok);
  CHECK(r.detail.empty());
}

TEST_CASE("IPv6 ::1 works") {
  Listener l = listen_on("::1");
  TcpRound round("::1", l.port);
  ProbeResult r = round.run();
  CHECK(r.ok);
  REQUIRE(r.phases.connect.has_value());
  CHECK(*r.phases.connect > 0ns);
}

TEST_CASE("a name from /etc/hosts is resolved and timed") {
  Listener l = listen_on("127.0.0.1");
  TcpRound round("localhost", l.port);
  round.line.binding.source = "127.0.0.1";  // keeps the lookup to IPv4
  ProbeResult r = round.run();
  CHECK(r.ok);
  CHECK(r.phases.dns.has_value());
}

TEST_CASE("tcp: a name that cannot resolve is a dns failure") {
  TcpRound round("no-such-host.invalid", 80);
  ProbeResult r = round.run();
  CHECK_FALSE(r.ok);
  CHECK(r.reason == Reason::dns);
  CHECK(r.detail.rfind("dns no-such-host.invalid: ", 0) == 0);
}

}  // namespace
}  // namespace linewatch

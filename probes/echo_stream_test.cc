#include "probes/echo_stream.h"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "probes/netns_test_support.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using Answer = EchoStream::Answer;

// CHECK, not REQUIRE, in helpers and thread bodies: a REQUIRE throws, and an
// exception leaving a std::thread ends the whole test binary.
SocketAddress address(const char* host) {
  SocketAddress a;
  CHECK(parse_numeric_address(host, 0, a));
  return a;
}

EchoStream::Options raw_options() {
  EchoStream::Options o;
  o.kind = EchoSocket::Kind::raw;  // the tests run as root; ping sockets need ping_group_range
  return o;
}

// Drains `stream` as answers come, until `want` are in or `limit` passed.
std::vector<Answer> collect(EchoStream& stream, std::size_t want, Duration limit) {
  std::vector<Answer> got;
  const MonoTime deadline = Steady::now() + limit;
  while (got.size() < want && Steady::now() < deadline) {
    pollfd p{stream.fd(), POLLIN, 0};
    (void)::poll(&p, 1, 10);
    stream.drain([&](const Answer& a) { got.push_back(a); });
  }
  return got;
}

// Echoes reflector 0 until the kernel stamps a reply (it switches receive
// stamps on for the host a moment after the first socket asks).
bool warm(EchoStream& stream) {
  for (int i = 0; i < 200; ++i) {
    stream.send(0);
    const auto got = collect(stream, 1, 1s);
    if (!got.empty() && got.front().receive_stamped) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// Runs `body` on a thread inside a private network namespace. Returns "" or
// what failed during setup.
std::string in_namespace(const std::function<void()>& body) {
  std::string failure;
  std::thread([&] {
    failure = testing::enter_private_namespace();
    if (failure.empty()) body();
  }).join();
  return failure;
}

// A user-space reflector in the caller's network namespace, where the
// kernel's own echo replies are switched off: it answers each IPv4 echo
// request after `delay`, first (when `stranger`) with a copy whose cookie
// is wrong, and (when `duplicate`) twice.
class SlowReflector {
 public:
  SlowReflector(Duration delay, bool stranger, bool duplicate)
      : fd_(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)) {
    CHECK(fd_.valid());
    CHECK(testing::set_sysctl("net/ipv4/icmp_echo_ignore_all", "1") == "");
    thread_ = std::thread([this, delay, stranger, duplicate] { run(delay, stranger, duplicate); });
  }
  ~SlowReflector() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run(Duration delay, bool stranger, bool duplicate) {
    std::uint8_t packet[2048];
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 10) <= 0) continue;
      sockaddr_storage from{};
      socklen_t length = sizeof(from);
      const ssize_t n = ::recvfrom(fd_.get(), packet, sizeof(packet), 0,
                                   reinterpret_cast<sockaddr*>(&from), &length);
      const std::size_t header = n > 0 ? static_cast<std::size_t>(packet[0] & 0x0f) * 4 : 0;
      if (n <= 0 || static_cast<std::size_t>(n) < header + 16 || packet[header] != 8) continue;
      std::vector<std::uint8_t> reply(packet + header, packet + n);
      reply[0] = 0;  // echo reply
      if (stranger) send(reply, from, length, true);
      std::this_thread::sleep_for(delay);
      send(reply, from, length, false);
      if (duplicate) send(reply, from, length, false);
    }
  }
  void send(std::vector<std::uint8_t> reply, const sockaddr_storage& to, socklen_t length,
            bool spoil_cookie) {
    if (spoil_cookie) reply[8] ^= 0xff;
    reply[2] = reply[3] = 0;
    const std::uint16_t sum = icmp_wire::checksum(reply);
    reply[2] = static_cast<std::uint8_t>(sum >> 8);
    reply[3] = static_cast<std::uint8_t>(sum & 0xff);
    CHECK(::sendto(fd_.get(), reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&to),
                   length) == static_cast<ssize_t>(reply.size()));
  }

  Fd fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_CASE("an echo stream gets kernel-stamped replies from loopback reflectors") {
  struct Family {
    int family;
    std::vector<const char*> hosts;
  };
  for (const Family& f : {Family{AF_INET, {"127.0.0.1", "127.0.0.2"}}, Family{AF_INET6, {"::1"}}}) {
    CAPTURE(f.hosts.front());
    std::vector<SocketAddress> reflectors;
    for (const char* host : f.hosts) reflectors.push_back(address(host));
    auto opened = EchoStream::open(f.family, {}, reflectors, raw_options());
    REQUIRE_MESSAGE(opened.ok(), opened.failure().detail);
    EchoStream& stream = opened.value();
    REQUIRE(warm(stream));
    const std::uint64_t ignored = stream.stats().ignored;
    for (int round = 0; round < 5; ++round) {
      std::vector<EchoStream::Sent> sent;
      for (std::size_t r = 0; r < reflectors.size(); ++r) sent.push_back(stream.send(r));
      const auto answers = collect(stream, reflectors.size(), 2s);
      const MonoTime now = Steady::now();
      REQUIRE(answers.size() == reflectors.size());
      for (const Answer& a : answers) {
        REQUIRE(a.reflector < reflectors.size());
        CHECK(a.kind == Answer::Kind::reply);
        CHECK(a.seq == sent[a.reflector].seq);
        CHECK(a.sent == sent[a.reflector].at);
        CHECK(sent[a.reflector].error == 0);
        CHECK(a.send_stamped);
        CHECK(a.receive_stamped);
        CHECK_FALSE(a.late);
        CHECK(a.rtt > 0ns);
        CHECK(a.rtt < 10ms);
        CHECK(a.received >= a.sent);
        CHECK(a.received <= now);
        // The kernel's send stamp comes after `sent`, so received - sent covers the RTT.
        CHECK(a.received - a.sent >= a.rtt - 100us);
      }
    }
    CHECK(stream.stats().ignored == ignored);
    CHECK(stream.stats().forgotten == 0);
  }
}

// The reply sits in the socket for 100 ms before it is read; its receive
// time and RTT come from the kernel's stamp, so neither grows with the wait.
TEST_CASE("a reply read long after it arrived keeps its kernel receive time and is not late") {
  EchoStream::Options options = raw_options();
  options.late_after = 50ms;
  auto opened = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, options);
  REQUIRE(opened.ok());
  EchoStream& stream = opened.value();
  REQUIRE(warm(stream));
  const EchoStream::Sent sent = stream.send(0);
  std::this_thread::sleep_for(100ms);
  const auto answers = collect(stream, 1, 1s);
  REQUIRE(answers.size() == 1);
  const Answer& a = answers.front();
  CHECK(a.seq == sent.seq);
  CHECK(a.receive_stamped);
  CHECK_FALSE(a.late);
  CHECK(a.rtt < 10ms);
  CHECK(a.received - sent.at < 10ms);  // not the 100 ms at which it was read
  CHECK(stream.stats().late == 0);
}

TEST_CASE("sequence numbers wrap at 16 bits on the wire and keep counting for the caller") {
  EchoStream::Options options = raw_options();
  options.first_seq = 65530;
  auto opened = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, options);
  REQUIRE(opened.ok());
  EchoStream& stream = opened.value();
  // Twenty requests in flight at once, numbers 65530 to 65549 (wire 65530..65535, 0..13).
  for (int i = 0; i < 20; ++i) CHECK(stream.send(0).seq == 65530u + static_cast<unsigned>(i));
  const auto answers = collect(stream, 20, 2s);
  REQUIRE(answers.size() == 20);
  std::vector<std::uint64_t> seqs;
  for (const Answer& a : answers) seqs.push_back(a.seq);
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 0; i < seqs.size(); ++i) CHECK(seqs[i] == 65530 + i);
  CHECK(stream.stats().ignored == 0);
}

// Where ping_group_range admits the process, the stream runs on a ping
// socket (the kernel matches identifiers; no raw socket, no root needed).
TEST_CASE("a stream on a ping socket gets kernel-stamped replies") {
  const std::string setup = in_namespace([] {
    CHECK(testing::set_sysctl("net/ipv4/ping_group_range", "0 2147483647") == "");
    for (auto [family, host] : {std::pair<int, const char*>{AF_INET, "127.0.0.1"},
                                std::pair<int, const char*>{AF_INET6, "::1"}}) {
      CAPTURE(host);
      auto opened = EchoStream::open(family, {}, {address(host)}, EchoStream::Options{});
      CHECK_MESSAGE(opened.ok(), opened.failure().detail);
      if (!opened.ok()) return;
      EchoStream& stream = opened.value();
      CHECK(stream.kind() == EchoSocket::Kind::datagram);
      CHECK(warm(stream));
      for (int i = 0; i < 3; ++i) stream.send(0);
      const auto answers = collect(stream, 3, 2s);
      CHECK(answers.size() == 3);
      for (const Answer& a : answers) {
        CHECK(a.send_stamped);
        CHECK(a.receive_stamped);
        CHECK(a.rtt < 10ms);
      }
      CHECK(stream.stats().ignored == 0);
    }
  });
  CHECK(setup == "");
}

TEST_CASE("two streams to the same reflector each see only their own replies") {
  auto a = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, raw_options());
  auto b = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, raw_options());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  for (int i = 0; i < 5; ++i) {
    a.value().send(0);
    b.value().send(0);  // the same sequence numbers as a's
  }
  CHECK(collect(a.value(), 5, 2s).size() == 5);
  CHECK(collect(b.value(), 5, 2s).size() == 5);
  std::this_thread::sleep_for(20ms);
  CHECK(collect(a.value(), 1, 20ms).empty());
  CHECK(collect(b.value(), 1, 20ms).empty());
  CHECK(a.value().stats().replies == 5);
  CHECK(b.value().stats().replies == 5);
}

TEST_CASE("a slow reflector's replies are late, strangers and duplicates are ignored") {
  const std::string setup = in_namespace([] {
    SlowReflector reflector(60ms, /*stranger=*/true, /*duplicate=*/true);
    EchoStream::Options options = raw_options();
    options.late_after = 30ms;
    auto opened = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, options);
    CHECK(opened.ok());
    if (!opened.ok()) return;
    EchoStream& stream = opened.value();
    for (int i = 0; i < 3; ++i) stream.send(0);  // pipelined: all three before any reply
    const auto answers = collect(stream, 3, 3s);
    CHECK(answers.size() == 3);
    for (const Answer& a : answers) {
      CHECK(a.late);
      CHECK(a.rtt >= 60ms);  // the reflector's delay is real: stamps include it
    }
    std::this_thread::sleep_for(100ms);  // the last duplicate
    CHECK(collect(stream, 1, 50ms).empty());
    CHECK(stream.stats().late == 3);
    CHECK(stream.stats().ignored == 6);  // three strangers, three duplicates
  });
  CHECK(setup == "");
}

TEST_CASE("an echo older than remember is forgotten and its reply ignored") {
  const std::string setup = in_namespace([] {
    SlowReflector reflector(80ms, false, false);
    EchoStream::Options options = raw_options();
    options.late_after = 10ms;
    options.remember = 30ms;
    auto opened = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, options);
    CHECK(opened.ok());
    if (!opened.ok()) return;
    EchoStream& stream = opened.value();
    stream.send(0);
    CHECK(collect(stream, 1, 300ms).empty());
    CHECK(stream.stats().forgotten == 1);
    CHECK(stream.stats().ignored == 1);
  });
  CHECK(setup == "");
}

// While lo's queue drops everything, sendto() fails; the kernel may have
// used up a send-stamp key on each, so the stream must re-learn the keys or
// every later echo would lose its send stamp.
TEST_CASE("a refused send is returned and later echoes keep their send stamps") {
  const std::string setup = in_namespace([] {
    auto opened = EchoStream::open(AF_INET, {}, {address("127.0.0.1")}, raw_options());
    CHECK(opened.ok());
    if (!opened.ok()) return;
    EchoStream& stream = opened.value();
    CHECK(warm(stream));
    CHECK(std::system("tc qdisc add dev lo root pfifo limit 0") == 0);
    int refused = 0;
    for (int i = 0; i < 3; ++i) refused += stream.send(0).error != 0 ? 1 : 0;
    CHECK(std::system("tc qdisc del dev lo root") == 0);
    CHECK(refused == 3);
    CHECK(stream.stats().send_errors == 3);
    for (int i = 0; i < 3; ++i) {
      const EchoStream::Sent sent = stream.send(0);
      CHECK(sent.error == 0);
      const auto answers = collect(stream, 1, 1s);
      CHECK(answers.size() == 1);
      if (answers.empty()) continue;
      CHECK(answers.front().seq == sent.seq);
      CHECK(answers.front().send_stamped);
    }
    MESSAGE("send-stamp keys re-learned: ", stream.stats().key_resyncs);
  });
  CHECK(setup == "");
}

// A router answers for a network it has no route to: the echo ends with the
// router's error (testing::with_unreachable_router).
TEST_CASE("a router's ICMP unreachable ends a stream's echo with its error") {
  std::vector<Answer> answers;
  EchoStream::Stats stats;
  bool opened_ok = false;
  const std::string setup = testing::with_unreachable_router("st", 12, [&](const std::string& to) {
    auto opened = EchoStream::open(AF_INET, {}, {address(to.c_str())}, raw_options());
    if (!(opened_ok = opened.ok())) return;
    for (int i = 0; i < 2; ++i) opened.value().send(0);
    answers = collect(opened.value(), 2, 2s);
    stats = opened.value().stats();
  });
  REQUIRE(setup == "");
  REQUIRE(opened_ok);
  REQUIRE(answers.size() == 2);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    CHECK(answers[i].kind == Answer::Kind::icmp_error);
    CHECK(answers[i].error == EHOSTUNREACH);
    CHECK(answers[i].seq == i);
  }
  CHECK(stats.icmp_errors == 2);
  CHECK(stats.replies == 0);
}

TEST_CASE("a stream refuses a reflector of the other family") {
  auto opened = EchoStream::open(AF_INET, {}, {address("::1")}, raw_options());
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.failure().detail == "icmp stream: reflector ::1 is not IPv4");
}

}  // namespace
}  // namespace linewatch

// End-to-end tests on a real TUN device, each in a private network namespace
// owned by one test thread (unshare(CLONE_NEWNET) affects only the calling
// thread; children it forks, including std::system's shell, start in it).
//
// Topology inside the namespace: TUN `sim` (198.18.200.1/24), 198.19.0.9/32
// on lo. The sender's socket carries fwmark 1, and `fwmark 1` routes
// 198.19.0.0/16 into `sim` ahead of the local table (moved to pref 200), so
// the datagram enters linesim as "up" traffic. linesim writes it back
// unchanged; arriving on `sim` without a mark it hits the local table and is
// delivered to the receiver on 198.19.0.9 (rp_filter=0, accept_local=1 since
// its source 198.18.200.1 is local). No traffic leaves the namespace.
#include "tests/lab/linesim/tun.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/lab/linesim/client.h"
#include "tests/lab/linesim/loop.h"
#include "tests/lab/linesim/private_netns.h"

extern char** environ;

namespace linewatch::linesim {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/linesim-tun-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

sockaddr_in v4(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// A datagram path through the TUN: marked sender -> sim -> linesim -> lo.
class UdpPath {
 public:
  UdpPath()
      : tx_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)),
        rx_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    int mark = 1;
    ok_ = tx_.valid() && rx_.valid() &&
          ::setsockopt(tx_.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) == 0;
    sockaddr_in a = v4("198.19.0.9", 5555);
    ok_ = ok_ && ::bind(rx_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  bool ok() const { return ok_; }
  int rx() const { return rx_.get(); }

  bool send(std::uint32_t seq) {
    sockaddr_in to = v4("198.19.0.9", 5555);
    return ::sendto(tx_.get(), &seq, sizeof seq, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
           sizeof seq;
  }
  // Sends one datagram and waits for it: its one-way time, or nullopt when it
  // does not arrive within `timeout` (older datagrams are skipped).
  std::optional<Duration> one(Duration timeout = 200ms) {
    const std::uint32_t seq = ++seq_;
    const auto start = Steady::now();
    if (!send(seq)) return std::nullopt;
    for (;;) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(start + timeout - Steady::now());
      pollfd p{rx_.get(), POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0)
        return std::nullopt;
      std::uint32_t got = 0;
      if (::recv(rx_.get(), &got, sizeof got, 0) == sizeof got && got == seq)
        return Steady::now() - start;
    }
  }
  // Median one-way time of n datagrams in ms; -1 when any was lost.
  double median_ms(int n, Duration timeout = 200ms) {
    std::vector<double> ms;
    for (int i = 0; i < n; ++i) {
      auto d = one(timeout);
      if (!d) return -1;
      ms.push_back(to_ms(*d));
    }
    std::nth_element(ms.begin(), ms.begin() + n / 2, ms.end());
    return ms[n / 2];
  }
  // How many of n datagrams arrive (each waited for up to `timeout`).
  int delivered(int n, Duration timeout) {
    int got = 0;
    for (int i = 0; i < n; ++i) got += one(timeout).has_value();
    return got;
  }

 private:
  Fd tx_, rx_;
  bool ok_ = false;
  std::uint32_t seq_ = 0;
};

// The first datagrams after linesim attaches can be dropped: the carrier
// comes up at attach, but the kernel activates the device's qdisc in its
// link-watch work, which is rate-limited to about one event per second.
// Returns how long it took until a datagram passed, or nullopt after 3 s.
std::optional<Duration> wait_passing(UdpPath& path) {
  const auto start = Steady::now();
  while (Steady::now() - start < 3s) {
    if (path.one(50ms)) return Steady::now() - start;
  }
  return std::nullopt;
}

double cpu_seconds(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Poco::JSON::Object::Ptr show(const std::string& sock) {
  std::ostringstream out, err;
  if (run_client(sock, "show", out, err) != 0) return nullptr;
  return Poco::JSON::Parser().parse(out.str()).extract<Poco::JSON::Object::Ptr>();
}

std::string send_command(const std::string& sock, const std::string& line) {
  std::ostringstream out, err;
  run_client(sock, line, out, err);
  return out.str() + err.str();
}

TEST_CASE("in-process loop: zero and 20 ms delay, fast setting changes, cut and restore") {
  TempDir dir;
  const std::string sock = (dir.path / "line.sock").string();
  std::string failure = in_private_namespace([&] {
    auto sim = Linesim::open({"sim", sock, *parse_prefix("198.19.0.0/16"), 7, {}});
    REQUIRE_MESSAGE(sim.ok(), (sim.ok() ? "" : sim.error().message));
    Fd stop(::eventfd(0, EFD_CLOEXEC));
    Status loop_status = ok_status();
    std::thread loop([&] { loop_status = (*sim)->run(stop.get()); });
    UdpPath path;
    CHECK(path.ok());
    auto ready = wait_passing(path);
    REQUIRE(ready.has_value());
    MESSAGE("first datagram passed " << to_ms(*ready) << " ms after attaching");
    path.median_ms(20);  // warm up caches and routes
    auto before = show(sock);
    REQUIRE(before);
    const int in0 = before->getObject("up")->getValue<int>("in");
    const int out0 = before->getObject("up")->getValue<int>("out");

    double zero = path.median_ms(500);
    MESSAGE("median one-way time through linesim at 0 delay: " << zero << " ms");
    CHECK(zero >= 0);
    CHECK(zero < 0.2);

    auto t = Steady::now();
    CHECK(send_command(sock, "set up delay=20ms") == "ok\n");
    auto first = path.one();
    auto took = Steady::now() - t;
    MESSAGE("set + first delayed datagram: " << to_ms(took) << " ms");
    REQUIRE(first.has_value());
    CHECK(*first >= 20ms);  // the very next packet already has the new delay
    CHECK(took < 20ms + 50ms);
    double twenty = path.median_ms(50);
    MESSAGE("median one-way time at 20 ms delay: " << twenty << " ms");
    CHECK(twenty > 19.0);
    CHECK(twenty < 21.0);

    CHECK(send_command(sock, "down") == "ok\n");
    CHECK(path.delivered(5, 100ms) == 0);
    CHECK(send_command(sock, "up") == "ok\n");
    CHECK(send_command(sock, "set up delay=0") == "ok\n");
    auto back = path.one();
    REQUIRE(back.has_value());
    // Far below the 20 ms just lifted, yet loose enough for a loaded host: a
    // 2 ms bound failed once at 2.26 ms with both cores busy.
    CHECK(*back < 10ms);

    auto j = show(sock);
    REQUIRE(j);
    auto up = j->getObject("up");
    CHECK(up->getValue<int>("in") - in0 == 500 + 1 + 50 + 5 + 1);
    CHECK(up->getValue<int>("out") - out0 == 500 + 1 + 50 + 1);
    CHECK(up->getValue<int>("dropped_down") == 5);
    CHECK(up->getValue<int>("queued") == 0);

    std::uint64_t one = 1;
    CHECK(::write(stop.get(), &one, sizeof one) == sizeof one);
    loop.join();
    CHECK(loop_status.ok());
    sim->reset();
    CHECK_FALSE(std::filesystem::exists(sock));
  });
  CHECK(failure == "");
}

TEST_CASE("in-process loop: 20000 packets/s on well under one core") {
  TempDir dir;
  const std::string sock = (dir.path / "line.sock").string();
  std::string failure = in_private_namespace([&] {
    auto sim = Linesim::open({"sim", sock, *parse_prefix("198.19.0.0/16"), 8, {}});
    REQUIRE(sim.ok());
    Fd stop(::eventfd(0, EFD_CLOEXEC));
    std::thread loop([&] { (void)(*sim)->run(stop.get()); });
    clockid_t loop_cpu;
    REQUIRE(::pthread_getcpuclockid(loop.native_handle(), &loop_cpu) == 0);
    UdpPath path;
    int big = 16 << 20;  // the receiver may be descheduled on a busy host
    CHECK(::setsockopt(path.rx(), SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) == 0);
    CHECK(send_command(sock, "set both delay=5ms") == "ok\n");
    const double cpu_before = cpu_seconds(loop_cpu);
    REQUIRE(wait_passing(path).has_value());
    std::atomic<int> received{0};
    std::atomic<bool> done{false};
    std::thread receiver([&] {
      std::uint32_t seq;
      while (!done) {
        pollfd p{path.rx(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0 && ::recv(path.rx(), &seq, sizeof seq, 0) == sizeof seq)
          ++received;
      }
    });
    const int kPackets = 20000;
    const auto start = Steady::now();
    for (int ms = 0; ms < 1000; ++ms) {  // 20 per millisecond
      for (int i = 0; i < 20; ++i) path.send(static_cast<std::uint32_t>(ms * 20 + i));
      std::this_thread::sleep_until(start + (ms + 1) * 1ms);
    }
    const auto sent_in = Steady::now() - start;
    const double cpu = cpu_seconds(loop_cpu) - cpu_before;
    for (int i = 0; i < 100 && received < kPackets; ++i) std::this_thread::sleep_for(10ms);
    done = true;
    receiver.join();
    auto j = show(sock);
    REQUIRE(j);
    const int in = j->getObject("up")->getValue<int>("in");
    MESSAGE("sent " << kPackets << " in " << to_ms(sent_in) << " ms; linesim read " << in
                    << ", received " << received.load() << "; linesim thread CPU " << cpu * 1000
                    << " ms");
    // The budget that does not depend on how busy the host is: the loop's
    // own CPU time for one second of 20k packets/s stays under half a core.
    CHECK(cpu < 0.5);
    // Delivery does depend on scheduling (TUN ring of 500, socket buffers),
    // so allow a little loss on a loaded host; all of it must be outside
    // linesim's queue.
    CHECK(in >= kPackets * 97 / 100);
    CHECK(received >= kPackets * 97 / 100);
    CHECK(j->getObject("up")->getValue<int>("dropped_queue") == 0);
    std::uint64_t one = 1;
    (void)::write(stop.get(), &one, sizeof one);
    loop.join();
  });
  CHECK(failure == "");
}

// Starts the linesim binary in the calling thread's namespace. Returns its pid or -1.
pid_t spawn_linesim(const std::string& sock) {
  std::vector<std::string> args{LINESIM_BINARY, "--dev", "sim", "--control", sock, "--seed", "3"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  for (int i = 0; i < 300 && !show(sock); ++i) std::this_thread::sleep_for(10ms);
  return pid;
}

int exit_code_of(const std::string& command) {
  int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_CASE("linesim process: client mode exit codes, SIGKILL cuts the line, SIGTERM is clean") {
  TempDir dir;
  const std::string sock = (dir.path / "line.sock").string();
  const std::string client = std::string(LINESIM_BINARY) + " --control " + sock + " --send ";
  std::string failure = in_private_namespace([&] {
    UdpPath path;
    CHECK(path.delivered(3, 100ms) == 0);  // no reader on the TUN: nothing passes
    pid_t pid = spawn_linesim(sock);
    REQUIRE(pid > 0);
    auto ready = wait_passing(path);
    REQUIRE(ready.has_value());
    MESSAGE("first datagram passed " << to_ms(*ready) << " ms after the control socket was up");
    CHECK(path.delivered(5, 200ms) == 5);
    CHECK(exit_code_of(client + "'set rt delay=10ms' >/dev/null") == 0);
    CHECK(exit_code_of(client + "'set up loss=101%' >/dev/null") == 1);
    CHECK(exit_code_of(client + "show >/dev/null") == 0);
    auto d = path.one();
    REQUIRE(d.has_value());
    CHECK(*d >= 5ms);  // rt 10 ms = 5 ms each way

    REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(path.delivered(5, 100ms) == 0);  // cut, not passed unimpaired
    CHECK(exit_code_of(client + "show 2>/dev/null") == 2);

    pid = spawn_linesim(sock);  // replaces the stale socket
    REQUIRE(pid > 0);
    ready = wait_passing(path);
    REQUIRE(ready.has_value());
    MESSAGE("after restart, first datagram passed after " << to_ms(*ready) << " ms");
    CHECK(path.delivered(3, 200ms) == 3);
    REQUIRE(::kill(pid, SIGTERM) == 0);
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_FALSE(std::filesystem::exists(sock));
  });
  CHECK(failure == "");
  CHECK(exit_code_of(std::string(LINESIM_BINARY) + " --help >/dev/null") == 0);
  CHECK(exit_code_of(std::string(LINESIM_BINARY) + " --control " + sock + " 2>/dev/null") == 2);
}

TEST_CASE("attach refuses a missing device and a device already in use") {
  TempDir dir;
  std::string failure = in_private_namespace([&] {
    auto missing = attach_tun("nosuch0");
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().code == ErrorCode::not_found);
    CHECK(std::system("ip link show nosuch0 >/dev/null 2>&1") != 0);  // not created either
    auto first = attach_tun("sim");
    REQUIRE(first.ok());
    auto second = attach_tun("sim");
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message.find("Device or resource busy") != std::string::npos);
    first->reset();
    // A failed open (control directory missing) releases the TUN again.
    auto bad = Linesim::open(
        {"sim", (dir.path / "no/such/dir.sock").string(), *parse_prefix("198.19.0.0/16"), 1, {}});
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.find("bind --control") != std::string::npos);
    CHECK(attach_tun("sim").ok());
  });
  CHECK(failure == "");
}

}  // namespace
}  // namespace linewatch::linesim

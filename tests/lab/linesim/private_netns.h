// A private network namespace for linesim's TUN test and benchmark (test-only,
// header-only). Topology inside: TUN `sim` 198.18.200.1/24, 198.19.0.9/32 on
// lo; packets marked 1 are routed into `sim` (fwmark rule ahead of the local
// table), and what linesim writes back, unmarked, is delivered locally to
// 198.19.0.9 (rp_filter=0, accept_local=1). Nothing leaves the namespace.
#pragma once

#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace linewatch::linesim {

inline constexpr const char* kNamespaceReceiverIp = "198.19.0.9";

// Runs body() on a new thread that first moves into a fresh network namespace
// with the topology above; the TUN is deleted when body returns or throws a
// std::exception. Returns "" or what failed (setup, or body's exception text).
inline std::string in_private_namespace(const std::function<void()>& body) {
  static constexpr const char* kSetup =
      "ip link set lo up && ip addr add 198.19.0.9/32 dev lo && "
      "ip tuntap add dev sim mode tun && sysctl -qw net.ipv6.conf.sim.disable_ipv6=1 && "
      "ip link set sim up && ip addr add 198.18.200.1/24 dev sim && "
      "ip rule add pref 200 lookup local && ip rule del pref 0 && "
      "ip rule add pref 100 fwmark 1 lookup 100 && ip route add 198.19.0.0/16 dev sim table 100 && "
      "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 "
      "net.ipv4.conf.sim.rp_filter=0 net.ipv4.conf.sim.accept_local=1";
  std::string failure;
  std::thread t([&] {
    try {
      if (::unshare(CLONE_NEWNET) != 0)
        throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
      if (std::system(kSetup) != 0)
        throw std::runtime_error(std::string("namespace setup failed: ") + kSetup);
      // The namespace dies with the thread, but a persistent TUN is deleted explicitly.
      struct TunGuard {
        ~TunGuard() { (void)std::system("ip link del sim 2>/dev/null"); }
      } tun_guard;
      body();
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  t.join();
  return failure;
}

}  // namespace linewatch::linesim

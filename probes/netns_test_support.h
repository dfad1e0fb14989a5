// Test-only: moves the calling thread into a fresh network namespace, where a
// test may change per-namespace sysctls (ping_group_range, icmp_echo_ignore_all)
// without touching the host's. The namespace goes away with the thread.
#pragma once

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <thread>

namespace linewatch::testing {

// Writes `value` to /proc/sys/`key` (key like "net/ipv4/ping_group_range")
// and reads it back. /proc/sys/net follows the opening thread's namespace.
// Returns "" or what failed.
inline std::string set_sysctl(const std::string& key, const std::string& value) {
  const std::string path = "/proc/sys/" + key;
  std::ofstream(path) << value << "\n";
  std::ifstream check(path);
  std::string got;
  std::getline(check, got);
  for (char& c : got)
    if (c == '\t') c = ' ';
  return got == value ? "" : key + " is \"" + got + "\", wanted \"" + value + "\"";
}

// Unshares the calling thread's network namespace and brings its loopback up
// (`ip` runs in a child forked from this thread, so in the new namespace).
// Returns "" or what failed.
inline std::string enter_private_namespace() {
  if (::unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  if (std::system("ip link set lo up") != 0)
    return "ip: cannot bring up loopback in the test namespace";
  return "";
}

// Runs `probe` on a thread in a private namespace whose route to
// 198.18.(n+1).0/24 goes via a router: a second private namespace, joined by a
// veth pair (lw<tag>0 here, lw<tag>1 there) on 198.18.n.0/30, which holds an
// `unreachable` route for that network and so answers with ICMP
// host-unreachable. `probe` gets the address 198.18.(n+1).5 to send to.
// Returns "" or what could not be set up (then `probe` did not run).
inline std::string with_unreachable_router(const std::string& tag, int n,
                                           const std::function<void(const std::string&)>& probe) {
  const std::string link = "198.18." + std::to_string(n) + ".";
  const std::string far = "198.18." + std::to_string(n + 1) + ".";
  std::promise<pid_t> router_tid;
  std::promise<void> wired, routed, done;
  std::string router_error, host_error;
  std::thread router([&] {
    router_error = enter_private_namespace();
    router_tid.set_value(static_cast<pid_t>(::gettid()));
    wired.get_future().wait();
    const std::string setup = "ip addr add " + link + "2/30 dev lw" + tag + "1 && ip link set lw" +
                              tag + "1 up && ip route add unreachable " + far + "0/24";
    if (router_error.empty() && std::system(setup.c_str()) != 0)
      router_error = "router setup failed";
    if (router_error.empty()) router_error = set_sysctl("net/ipv4/ip_forward", "1");
    routed.set_value();
    done.get_future().wait();
  });
  const pid_t tid = router_tid.get_future().get();
  std::thread host([&] {
    host_error = enter_private_namespace();
    const std::string wire = "ip link add lw" + tag + "0 type veth peer name lw" + tag +
                             "1 netns " + std::to_string(tid) + " && ip addr add " + link +
                             "1/30 dev lw" + tag + "0 && ip link set lw" + tag + "0 up";
    if (host_error.empty() && std::system(wire.c_str()) != 0) host_error = "veth setup failed";
    wired.set_value();
    if (!host_error.empty()) return;
    routed.get_future().wait();  // the router's address, route and forwarding
    const std::string route = "ip route add " + far + "0/24 via " + link + "2";
    if (std::system(route.c_str()) != 0) host_error = "route failed";
    if (host_error.empty() && router_error.empty()) probe(far + "5");
  });
  host.join();
  done.set_value();
  router.join();
  return !host_error.empty() ? host_error : router_error;
}

}  // namespace linewatch::testing

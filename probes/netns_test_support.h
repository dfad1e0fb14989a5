// Test-only: moves the calling thread into a fresh network namespace, where a
// test may change per-namespace sysctls (ping_group_range, icmp_echo_ignore_all)
// without touching the host's. The namespace goes away with the thread.
#pragma once

#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

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

}  // namespace linewatch::testing

// Test-only: a private network namespace with three links for the route
// applier's tests, and ways to read it with `ip` from inside.
//
// run_in_lab() runs the test body on a new thread that first unshares its
// network namespace (so nothing touches the host's tables; the namespace goes
// away with the thread) and makes three veth links with their peers up:
//   d1 198.18.1.1/24 2001:2:0:1::1/64   gateway 198.18.1.2, 2001:2:0:1::2
//   d2 198.18.2.1/24 2001:2:0:2::1/64   gateway 198.18.2.2, 2001:2:0:2::2
//   d3 198.18.3.1/24 2001:2:0:3::1/64   gateway 198.18.3.2, 2001:2:0:3::2
// (198.18.0.0/15 and 2001:2::/48 are the benchmarking ranges.) No default
// route: an address no route covers is unreachable, so a missing route shows.
// `ip` run from the body forks from that thread, so it sees the same namespace.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

namespace linewatch::testing {

// Why the lab cannot run here, or "" when it can (root is needed).
inline std::string lab_unavailable() {
  if (geteuid() != 0) return "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for a network namespace)";
  return "";
}

// Runs `command` with /bin/sh, returning its stdout; `status` gets the exit code.
inline std::string shell(const std::string& command, int* status = nullptr) {
  std::string out;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int rc = pclose(pipe);
  if (status != nullptr) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// `ip -N -j <args>` parsed; an empty array when ip printed nothing or failed.
inline Poco::JSON::Array::Ptr ip_json(const std::string& args) {
  int status = 0;
  const std::string out = shell("ip -N -j " + args, &status);
  if (status != 0 || out.find('[') == std::string::npos) return new Poco::JSON::Array;
  return Poco::JSON::Parser().parse(out).extract<Poco::JSON::Array::Ptr>();
}

// Sets up the lab in the calling thread's fresh namespace. "" or what failed.
inline std::string make_lab() {
  if (::unshare(CLONE_NEWNET) != 0) return std::string("unshare: ") + std::strerror(errno);
  std::string script = "set -e; ip link set lo up; ";
  for (int k = 1; k <= 3; ++k) {
    const std::string d = "d" + std::to_string(k), n = std::to_string(k);
    script += "ip link add " + d + " type veth peer name " + d + "p; ip link set " + d +
              "p up; ip addr add 198.18." + n + ".1/24 dev " + d +
              "; ip -6 addr add 2001:2:0:" + n + "::1/64 dev " + d + " nodad; ip link set " + d +
              " up; ";
  }
  int status = 0;
  const std::string out = shell(script, &status);
  if (status != 0) return "lab setup failed: " + out;
  // Multipath choices depend on this seed (Linux 6.11+); pin it so that two
  // labs hash a flow alike.
  std::ofstream("/proc/sys/net/ipv4/fib_multipath_hash_seed") << "7\n";
  return "";
}

// Runs `body` in a fresh lab on its own thread. Returns "" or the setup
// failure; a failed REQUIRE inside `body` is rethrown here.
inline std::string run_in_lab(const std::function<void()>& body) {
  std::string failure;
  std::exception_ptr thrown;
  std::thread([&] {
    failure = make_lab();
    if (!failure.empty()) return;
    try {
      body();
    } catch (...) {
      thrown = std::current_exception();
    }
  }).join();
  if (thrown) std::rethrow_exception(thrown);
  return failure;
}

}  // namespace linewatch::testing

// The ICMP probe: a SmokePing-style round of echo requests on one EchoSocket
// (echo_socket.h), which times each echo with the kernel's stamps.
//
// Request i leaves at start + i × spacing whether or not earlier ones were
// answered, as fping -p and SmokePing do: a round spreads over time instead
// of bursting, and a lossy line does not stretch it (each echo waits its own
// timeout). The waits are real steady-clock time, whatever clock the request
// has.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>

#include "probes/binding.h"
#include "probes/echo_socket.h"
#include "probes/probe.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

int wanted_family(const ProbeRequest& request) {
  if (request.spec.icmp.family == 4) return AF_INET;
  if (request.spec.icmp.family == 6) return AF_INET6;
  return binding_family(request.line.binding);
}

}  // namespace

ProbeResult run_icmp(const ProbeRequest& request) {
  const IcmpOptions& icmp = request.spec.icmp;
  ProbeResult r;
  r.kind = ProbeKind::icmp;

  const MonoTime dns_deadline = Steady::now() + request.spec.timing.timeout;
  auto addresses = resolve_host(icmp.host, 0, wanted_family(request), dns_deadline);
  if (!addresses.ok()) return failed(std::move(r), addresses.failure());
  const SocketAddress& target = addresses.value().front();
  auto socket = EchoSocket::open(target.family(), request.line.binding);
  if (!socket.ok()) return failed(std::move(r), socket.failure());

  // Sequence numbers may start at 0: each round draws its own cookie
  // (EchoSocket::round), which is what keeps rounds apart.
  const EchoSocket::Plan plan{icmp.pings, icmp.spacing, request.spec.timing.timeout,
                              icmp.payload_bytes, 0};
  int send_errno = 0;
  int icmp_errno = 0;
  for (const EchoSocket::Echo& echo : socket.value().round(target, plan)) {
    if (echo.send_errno != 0) send_errno = echo.send_errno;
    if (echo.icmp_errno != 0) icmp_errno = echo.icmp_errno;
    r.rtts.push_back(echo.rtt);
  }
  summarise_echoes(r);
  r.ok = r.received > 0;
  if (r.ok) {
    r.reason = Reason::ok;
  } else if (send_errno != 0) {
    // Nothing left the host (no route, a firewall): say so, not "timeout".
    r.reason = reason_for_errno(send_errno);
    r.detail = "echo request to " + target.host() + ": " + std::strerror(send_errno);
  } else if (icmp_errno != 0) {
    // A router on the way answered for the target.
    r.reason = reason_for_errno(icmp_errno);
    r.detail =
        "no reply from " + target.host() + ": " + std::strerror(icmp_errno) + " (ICMP error)";
  } else {
    r.reason = Reason::timeout;
    r.detail =
        "no reply from " + target.host() + " to " + std::to_string(r.sent) + " echo requests";
  }
  return r;
}

}  // namespace linewatch

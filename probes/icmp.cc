// The ICMP probe: a SmokePing-style round of echo requests on one EchoSocket
// (echo_socket.h), which times each echo with the kernel's stamps.
//
// Echoes go one at a time so each has its own timeout and its start follows
// the previous start by `spacing` (or follows its end when it took longer),
// which spreads a round over time instead of sending a burst. Spacing uses
// the real steady clock: the waits are real, whatever clock the request has.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>

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

  // Sequence numbers start at random so rounds that follow each other on
  // reused identifiers do not share them.
  auto seq = static_cast<std::uint16_t>(std::random_device{}());
  int send_errno = 0;
  MonoTime next_start = Steady::now();
  for (int i = 0; i < icmp.pings; ++i, ++seq) {
    std::this_thread::sleep_until(next_start);
    const MonoTime start = Steady::now();
    next_start = start + icmp.spacing;
    const EchoSocket::Echo echo =
        socket.value().echo(target, seq, icmp.payload_bytes, start + request.spec.timing.timeout);
    if (echo.send_errno != 0) send_errno = echo.send_errno;
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
  } else {
    r.reason = Reason::timeout;
    r.detail = "no reply from " + target.host() + " to " + std::to_string(r.sent) + " echo requests";
  }
  return r;
}

}  // namespace linewatch

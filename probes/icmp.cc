// The ICMP probe: a SmokePing-style round of echo requests through liboping.
//
// Echoes go one at a time so each has its own timeout and its start follows
// the previous start by `spacing` (or follows its end when it took longer),
// which spreads a round over time instead of sending a burst. Spacing uses
// the real steady clock: the waits are real, whatever clock the request has.
#include <oping.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "probes/binding.h"
#include "probes/probe.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

struct PingDestroy {
  void operator()(pingobj_t* p) const { ping_destroy(p); }
};
using PingObject = std::unique_ptr<pingobj_t, PingDestroy>;

int wanted_family(const ProbeRequest& request) {
  if (request.spec.icmp.family == 4) return AF_INET;
  if (request.spec.icmp.family == 6) return AF_INET6;
  return binding_family(request.line.binding);
}

std::string describe(const LineBinding& b) {
  std::string s;
  auto add = [&s](const std::string& part) { s += (s.empty() ? "" : ", ") + part; };
  if (!b.source.empty()) add("source " + b.source);
  if (!b.interface.empty()) add("interface " + b.interface);
  if (b.fwmark) add("fwmark " + std::to_string(*b.fwmark));
  return s.empty() ? "the default route" : s;
}

ProbeFailure option_failure(pingobj_t* obj, const std::string& setting) {
  return {Reason::bind, setting + ": " + ping_get_error(obj)};
}

// Builds the round's ping object: options first, then the target, because
// liboping opens and binds the raw socket when the host is added.
Outcome<PingObject> make_pinger(const ProbeRequest& request, const SocketAddress& target) {
  PingObject obj(ping_construct());
  if (!obj) return ProbeFailure{Reason::internal, "ping_construct failed"};
  double timeout = std::chrono::duration<double>(request.spec.timing.timeout).count();
  if (ping_setopt(obj.get(), PING_OPT_TIMEOUT, &timeout) != 0)
    return ProbeFailure{Reason::internal, "timeout: " + std::string(ping_get_error(obj.get()))};
  // PING_OPT_AF drops a source address set earlier, so it goes first.
  int family = target.family();
  if (ping_setopt(obj.get(), PING_OPT_AF, &family) != 0)
    return ProbeFailure{Reason::internal, "family: " + std::string(ping_get_error(obj.get()))};
  if (request.spec.icmp.payload_bytes > 0) {
    std::string payload(static_cast<std::size_t>(request.spec.icmp.payload_bytes), 'x');
    ping_setopt(obj.get(), PING_OPT_DATA, payload.data());
  }
  const LineBinding& b = request.line.binding;
  if (!b.source.empty()) {
    if (binding_family(b) != family) {
      return ProbeFailure{Reason::bind, "source " + b.source + ": address family differs from " +
                                            target.host() + "'s"};
    }
    if (ping_setopt(obj.get(), PING_OPT_SOURCE, const_cast<char*>(b.source.c_str())) != 0)
      return option_failure(obj.get(), "source " + b.source);
  }
  if (!b.interface.empty() &&
      ping_setopt(obj.get(), PING_OPT_DEVICE, const_cast<char*>(b.interface.c_str())) != 0)
    return option_failure(obj.get(), "interface " + b.interface);
  if (b.fwmark) {
    int mark = static_cast<int>(*b.fwmark);
    if (ping_setopt(obj.get(), PING_OPT_MARK, &mark) != 0)
      return option_failure(obj.get(), "fwmark " + std::to_string(*b.fwmark));
  }
  // The socket is opened, bound and pinned here, so a failure is the line's.
  if (ping_host_add(obj.get(), target.host().c_str()) != 0)
    return option_failure(obj.get(), "ping " + target.host() + " via " + describe(b));
  return obj;
}

// One echo: its latency, or nothing when no reply came within the timeout.
std::optional<Duration> echo_once(pingobj_t* obj, std::string& error) {
  if (ping_send(obj) < 0) error = ping_get_error(obj);
  pingobj_iter_t* it = ping_iterator_get(obj);
  if (it == nullptr) return std::nullopt;
  double latency_ms = -1.0;
  std::size_t size = sizeof(latency_ms);
  // liboping resets the latency to a negative value before each send and
  // only sets it from a matching reply, so negative means lost.
  if (ping_iterator_get_info(it, PING_INFO_LATENCY, &latency_ms, &size) != 0 || latency_ms < 0)
    return std::nullopt;
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(latency_ms));
}

}  // namespace

ProbeResult run_icmp(const ProbeRequest& request) {
  const IcmpOptions& icmp = request.spec.icmp;
  ProbeResult r;
  r.kind = ProbeKind::icmp;

  const MonoTime dns_deadline = Steady::now() + request.spec.timing.timeout;
  auto addresses = resolve_host(icmp.host, 0, wanted_family(request), dns_deadline);
  if (!addresses.ok()) return failed(std::move(r), addresses.failure());
  auto pinger = make_pinger(request, addresses.value().front());
  if (!pinger.ok()) return failed(std::move(r), pinger.failure());

  std::string error;
  MonoTime next_start = Steady::now();
  for (int i = 0; i < icmp.pings; ++i) {
    std::this_thread::sleep_until(next_start);
    next_start = Steady::now() + icmp.spacing;
    r.rtts.push_back(echo_once(pinger.value().get(), error));
  }
  summarise_echoes(r);
  r.ok = r.received > 0;
  if (r.ok) {
    r.reason = Reason::ok;
  } else {
    r.reason = Reason::timeout;
    r.detail = "no reply from " + addresses.value().front().host() + " to " +
               std::to_string(r.sent) + " echo requests" + (error.empty() ? "" : ": " + error);
  }
  return r;
}

}  // namespace linewatch

#include "probes/probe.h"

#include <algorithm>
#include <exception>

namespace linewatch {

Duration round_budget(const ProbeSpec& spec) {
  if (spec.kind == ProbeKind::icmp)
    return spec.icmp.spacing * std::max(spec.icmp.pings - 1, 0) + spec.timing.timeout;
  return spec.timing.timeout;
}

ProbeResult run_probe(const ProbeRequest& request) {
  const MonoTime start = request.clock.now();
  const WallTime wall = request.clock.wall_now();
  ProbeResult r;
  // A probe must never throw through the scheduler; a stray exception is a bug
  // in the probe, reported as such rather than killing the worker.
  try {
    switch (request.spec.kind) {
      case ProbeKind::icmp: r = run_icmp(request); break;
      case ProbeKind::tcp: r = run_tcp(request); break;
      case ProbeKind::http: r = run_http(request); break;
      case ProbeKind::llm:
        r = run_llm(request);
        break;
    }
  } catch (const std::exception& e) {
    r = ProbeResult{};
    r.ok = false;
    r.reason = Reason::internal;
    r.detail = std::string("unexpected exception: ") + e.what();
  } catch (...) {
    r = ProbeResult{};
    r.ok = false;
    r.reason = Reason::internal;
    r.detail = "unexpected exception";
  }
  r.line = request.line.id;
  r.target = request.target_id;
  r.kind = request.spec.kind;
  r.time = wall;
  r.duration = request.clock.now() - start;
  if (r.ok) r.reason = Reason::ok;
  return r;
}

}  // namespace linewatch

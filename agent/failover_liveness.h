// Which lines the failover watches, with which liveness options, and the
// liveness engine (probes/liveness_engine.h) started for them from the config.
//
// Lines: every line named by routes[].lines that lines[] defines, in lines[]
// order (the config loader rejects routes naming an unknown line).
// Options: lines[].liveness when set, else the top-level liveness.
// Reflectors of a line, as target ids: its own liveness.reflectors, else the
// top-level liveness.reflectors, else every target with an ICMP probe whose
// host is an IP literal. Each id must name a target with an ICMP probe whose
// host is an IP literal: the echo sockets are opened at start and never
// resolve names (a resolver on the failover path could stall it).
//
// Thread-safety: pure functions, except start_liveness (see there).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/health_options.h"
#include "probes/liveness_engine.h"

namespace linewatch {

// The lines the failover watches (see above); pointers into `config`.
std::vector<const LineSpec*> failover_lines(const Config& config);

// The liveness options of `line`: lines[].liveness, else config.liveness.
LivenessOptions line_liveness_options(const Config& config, const LineSpec& line);

// One line as the liveness engine takes it.
struct LivenessLine {
  std::string line;
  LineBinding binding;
  std::vector<LivenessReflector> reflectors;
  LivenessOptions options;
};

// The engine's lines for every failover line. Failure: invalid_argument
// naming the key, e.g. "lines[1].liveness.reflectors: target api has no icmp
// probe", "liveness.reflectors: target edge: icmp host edge.example.net is a
// name; liveness needs an IP address", or "line cn2-gia-1: no liveness
// reflector: set liveness.reflectors or add a target with an icmp address".
Result<std::vector<LivenessLine>> liveness_lines(const Config& config);

// Starts a LivenessEngine reporting to `observer` (which must outlive it)
// with every line of liveness_lines(config). The sockets are opened on the
// calling thread (its network namespace). Failure: the errors above, or the
// engine's (io naming the line and reflector: binding, privileges).
Result<std::unique_ptr<LivenessEngine>> start_liveness(const Config& config,
                                                       LivenessObserver& observer,
                                                       EchoStream::Options echo = {});

}  // namespace linewatch

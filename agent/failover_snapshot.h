// FailoverSnapshot: the failover's state as the API shows it, copied out of
// the decision thread after each decision step. Plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "rules/health.h"
#include "rules/plan.h"

namespace linewatch {

struct FailoverLineView {
  std::string line;
  LineState state = LineState::up;
  WallTime since{};    // when the state began
  std::string reason;  // of the last state change; "startup" before any
  bool takes_traffic = true;
  double penalty = 0;  // flap penalty
  double score = 0;    // 0..1, higher is better (rules/score.h)
  bool alive = true;   // liveness: a reflector answered within detect
  bool fresh = false;  // liveness has had a reply or declared a silence since start
  std::optional<WallTime> hold_down_until;
  std::optional<Duration> rtt_median;  // quality window, liveness echoes and rounds
  double loss = 0;                     // quality window, 0..1
};

struct FailoverCounters {
  std::uint64_t steps = 0;          // decision steps run
  std::uint64_t inputs = 0;         // inputs taken from the inbox
  std::uint64_t inbox_dropped = 0;  // inputs dropped because the inbox was full
  std::uint64_t unknown_line = 0;   // inputs about a line the failover does not watch
  std::uint64_t echo_errors = 0;    // echoes the engine reported failed (send or ICMP error)
  std::uint64_t plans = 0;          // plan versions handed to the sinks
  Duration lag_last{};  // last step: from its oldest input entering the inbox to its end
  Duration lag_max{};
};

struct FailoverSnapshot {
  std::vector<FailoverLineView> lines;  // lines[] order
  RoutePlan plan;                       // in force; no routes before the first one
  bool starting = true;                 // keeping the start plan until every line has evidence
  std::vector<std::string> preferred;   // the ranking's order of the lines taking traffic
  std::vector<std::string> destinations_down;
  FailoverCounters counters;
};

}  // namespace linewatch

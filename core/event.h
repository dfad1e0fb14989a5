// Event: one explained decision (a state change, a score move, a plan version,
// an apply or push outcome), as kept in storage, shown by the API and counted
// in metrics.
//
// State machines emit an Event only when a state flips, never per tick; the
// event's `time` is the wall-clock stamp of the decision and the `detail` names
// since when the old state held where that matters. Decisions themselves run on
// MonoTime; WallTime is only used to stamp events.
//
// Plain value type; no thread-safety concerns of its own.
#pragma once

#include <string>

#include "core/time.h"

namespace linewatch {

// An explained decision: every state change, score move, plan version, apply or push outcome.
struct Event {
  WallTime time;       // when it was decided (wall clock, for storage and display)
  std::string kind;    // stable code: "line_down", "line_up", "line_degraded", "line_recovered",
                       // "hold_down_started", "destination_down", "destination_up", "tilt",
                       // "score_moved", "plan_new", "plan_panic", "push_ok", "push_failed", ...
  std::string line;    // "" when not about one line
  std::string target;  // "" when not about one target
  std::string reason;  // machine reason code, e.g. "silence", "rtt_p95", "loss", "jitter", "rise",
                       // "hold_down_elapsed", "flap_penalty", "all_lines_down", "margin_held"
  std::string detail;  // human text with the figures ("no reply for 1.02s from 2 reflectors")

  bool operator==(const Event&) const = default;
};

// Where decisions send their events (storage, log, API). emit() must not
// block on I/O: implementations queue. Thread-safety: as the implementation says.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& event) = 0;
};

}  // namespace linewatch

// LineHealth: the state of one line and whether it may take traffic.
// Fast down, slow up, damped when it flaps.
//
// One transition function, evaluate(), fed at the caller's cadence with:
//   - liveness: LineLiveness::alive() (silent -> down at once), unless the
//     silence is excused because every reflector of the line is a down
//     destination (DestinationJudge::all_down);
//   - quality: LineQuality::breaches() over the SLA window, computed without
//     the destinations that are down (DestinationJudge::down()), so a dead
//     endpoint never counts against the line (any breach -> degraded at once).
// Each evaluation grades the line up, degraded or down. A worse grade is taken
// at once. A better grade needs `rise` evaluations in a row better than the
// current state and at least `min_dwell` in it; the line then moves to the
// worst grade among those evaluations. The evaluations of a rise are counted
// at most once per `rise_interval` from the first better one, so the rise
// takes (rise - 1) * rise_interval whatever the caller's cadence, and every
// evaluation in between still takes part in the worst grade (and a same or
// worse grade still breaks the run). Back to up, it stays out of traffic for
// `hold_down`, and longer while its flap penalty is suppressing it.
//
// Flap penalty (RFC 2439 style): leaving up adds penalty_per_failure (capped
// at max_penalty); the penalty halves every half_life while the line is up.
// Reaching `suppress` keeps the line out of traffic until it decays below
// `reuse`; with the defaults that is at most log2(6000/750) = 3 half-lives up.
//
// Events, only when something flips; Event::time is the wall-clock stamp of
// the evaluation, which is also the since-time of the new state:
//   line_down          reason "silence": liveness lost every reflector
//   line_degraded      reason "loss" | "rtt_p95" | "jitter": the first broken figure
//   line_up            reason "rise": from down, within the SLA again
//   line_recovered     reason "rise": from degraded, within the SLA again
//   hold_down_started  reason "rise" | "flap_penalty": back up but out of traffic
//   hold_down_ended    reason "hold_down_elapsed" | "penalty_decayed": takes traffic again
//
// Start: up, taking traffic, reason "startup", not yet `evaluated`; liveness
// only declares a silence after detect + miss_timeout, so a line that never
// answers goes down then.
//
// Not thread-safe: single-threaded, owned by the one decision thread.
// Cost: evaluate() O(1) plus the events it returns.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/health_options.h"
#include "core/time.h"
#include "rules/quality.h"

namespace linewatch {

enum class LineState {
  up,        // alive and within the SLA; takes traffic unless held down or suppressed
  degraded,  // alive but breaking an SLA figure; out of traffic, still reachable
  down,      // silent: no reply from any reflector for detect; out of traffic
};

std::string_view to_string(LineState s);

// What one evaluation knows about the line.
struct HealthInput {
  bool alive = true;             // LineLiveness::alive()
  bool silence_excused = false;  // every reflector of the line is a down destination
  std::string silence_detail;    // LivenessChange::detail of the silence, for the event
  SlaBreaches breaches;          // LineQuality::breaches(now, judge.down())
};

// For the API: the state and why, as of the last evaluate().
struct HealthSnapshot {
  std::string line;
  LineState state = LineState::up;
  MonoTime since{};
  WallTime since_wall{};
  std::string reason;  // of the last state change; "startup" before any
  double penalty = 0;
  bool suppressed = false;  // penalty reached suppress and has not decayed below reuse
  bool takes_traffic = true;
  std::optional<MonoTime> hold_down_until;  // while up and held down
  std::optional<WallTime> hold_down_until_wall;
  int rise_count = 0;      // counted better evaluations in a row so far
  bool evaluated = false;  // false until the first evaluate()
};

class LineHealth {
 public:
  // `clock` must outlive this object. Options are copied.
  LineHealth(std::string line, HealthOptions options, const Clock& clock);

  // Evaluates at clock.now(). Returns the events for what flipped (possibly
  // several: line_up with hold_down_started), nothing when nothing did.
  std::vector<Event> evaluate(const HealthInput& input);

  LineState state() const { return state_; }
  // As of the last evaluate(): up, hold-down over and not suppressed.
  bool takes_traffic() const { return takes_traffic_; }
  double penalty() const { return penalty_; }
  HealthSnapshot snapshot() const;

 private:
  struct Grade {
    LineState state;
    std::string reason;
    std::string detail;
  };
  Grade grade(const HealthInput& in) const;
  void decay(MonoTime now);
  void worsen(const Grade& g, MonoTime now, WallTime wall, std::vector<Event>& events);
  void improve(MonoTime now, WallTime wall, std::vector<Event>& events);
  void update_traffic(MonoTime now, WallTime wall, std::vector<Event>& events);
  Event event(WallTime wall, std::string kind, std::string reason, std::string detail) const;

  std::string line_;
  HealthOptions options_;
  const Clock& clock_;

  LineState state_ = LineState::up;
  MonoTime since_;
  WallTime since_wall_;
  std::string reason_ = "startup";
  bool evaluated_ = false;

  int rise_count_ = 0;
  MonoTime rise_started_;                    // the first better evaluation of the current run
  Grade rise_grade_{LineState::up, "", ""};  // the worst grade of the current rise

  double penalty_ = 0;
  MonoTime penalty_at_;  // when penalty_ was last brought up to date
  bool suppressed_ = false;

  std::optional<MonoTime> hold_down_until_;
  std::optional<WallTime> hold_down_until_wall_;
  bool holding_ = false;  // a hold_down_started was emitted and not yet ended
  bool takes_traffic_ = true;
};

}  // namespace linewatch

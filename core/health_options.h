// Options of the line health logic in rules/: liveness (fast down), SLA
// quality (degraded), line vs destination, and the slow way back up (rise,
// dwell, hold-down, flap penalty). Plain values with in-class defaults; the
// config keys that will feed them are named beside each struct.
//
// Plain value types; no thread-safety concerns of their own.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/time.h"

namespace linewatch {

// `liveness: { interval, detect, reflectors }`, overridable per line (lines[].liveness).
//
// The line is declared down when no reply from ANY reflector has arrived for
// `detect`. With one echo per reflector per `interval`, that needs about
// k = detect / interval consecutive echoes lost on every reflector; at random
// loss p that happens with probability about p^(k·R) per interval for R
// reflectors with independent loss (see rules/liveness.h for the arithmetic).
struct LivenessOptions {
  // One echo per reflector every interval, sent whether or not earlier ones
  // were answered (pipelined), so the line's RTT does not slow detection.
  Duration interval = std::chrono::milliseconds(100);
  // Silence from every reflector that declares the line down. Default: 10
  // intervals, so at 10 % random loss a false down needs 10 losses in a row
  // (p^10 = 1e-10 per echo: about one every 35 years at 10 echoes/s).
  Duration detect = std::chrono::seconds(1);
  // Target ids echoed through the line (e.g. the provider's edge). Empty: the
  // caller picks; the tracker itself accepts any reflector name it is fed.
  std::vector<std::string> reflectors;
  // A gap between two tick() calls longer than this means the loop stalled
  // (or the process was suspended): the silence is not trusted (TILT).
  // Zero: detect / 2.
  Duration tilt_after{};
  // The longest a reply may take; must exceed the line's RTT. At start and
  // after a TILT no reply can come back before one RTT, so the first silence
  // verdict waits this much longer than detect. The "3 consecutive misses"
  // comparison in diagnostics counts an echo missed when unanswered this long.
  Duration miss_timeout = std::chrono::seconds(1);

  Duration tilt_threshold() const {
    return tilt_after > Duration::zero() ? tilt_after : detect / 2;
  }

  // Sub-second failover for lines whose RTT is around 150 ms: 10 ms echoes,
  // down after 100 ms of silence. Detection comes at most detect + one tick
  // (110 ms when ticking every interval) after the last reply the gateway
  // heard, inside the 150 ms budget, and the false-down odds per echo are the
  // default's (10 intervals: p^10 = 1e-10 at 10 % loss, about one false down
  // per 3 years at 100 echoes/s). The price is 100 echoes/s per reflector.
  static LivenessOptions fast() {
    LivenessOptions o;
    o.interval = std::chrono::milliseconds(10);
    o.detect = std::chrono::milliseconds(100);
    return o;
  }
  bool operator==(const LivenessOptions&) const = default;
};

// `health.sla: { rtt_p95, loss, jitter }`: a line breaking any of these over
// the window is degraded (it stays alive but stops taking traffic).
struct SlaOptions {
  // 95th percentile of the RTT samples in the window must stay at or below this.
  Duration rtt_p95 = std::chrono::milliseconds(400);
  // Lost / (answered + lost) in the window must stay at or below this (0..1).
  double loss = 0.02;
  // Mean absolute difference of consecutive RTTs must stay at or below this.
  Duration jitter = std::chrono::milliseconds(50);
  // The sliding window the figures are computed over (monotonic time).
  Duration window = std::chrono::seconds(30);
  // Fewer samples than this in the window: nothing is judged (not enough evidence).
  std::size_t min_samples = 20;
  // Memory bound per line: beyond this the oldest samples leave early, so the
  // window shrinks to the newest max_samples (10 ms echoes from 2 reflectors
  // fill 6000 in 30 s).
  std::size_t max_samples = 8192;
  bool operator==(const SlaOptions&) const = default;
};

// Line vs destination (rules/destination.h).
struct DestinationOptions {
  // Consecutive network failures through a line before the target counts as
  // failing on that line; one answer clears it. Guards against random loss.
  int confirm = 3;
  // Outcomes older than this are no evidence and leave the vote.
  Duration fresh = std::chrono::seconds(60);
  bool operator==(const DestinationOptions&) const = default;
};

// `health: { rise, hold_down, sla }`: how a line goes down fast and comes back slowly.
struct HealthOptions {
  // Better evaluations in a row needed before the state improves, counted at
  // most once per rise_interval: a run of better evaluations reaches `rise`
  // after (rise - 1) * rise_interval, however often the caller evaluates (a
  // decision step every 5 ms or every second). Quality figures are only
  // recomputed about once a second, so a rise shorter than that would judge a
  // returning line on figures from before it returned.
  int rise = 3;
  // Least time between two counted evaluations of a rise; keep it at or above
  // the cadence the SLA figures are recomputed at. Zero: every evaluation
  // counts (the caller's cadence decides). Default: 1s.
  Duration rise_interval = std::chrono::seconds(1);
  // After recovering to up, the line stays out of traffic this long.
  Duration hold_down = std::chrono::seconds(30);
  // Least time in a worse state before it may improve, so a burst of good
  // evaluations right after a failure is not taken as recovery.
  Duration min_dwell = std::chrono::seconds(5);

  // Flap penalty, RFC 2439 style: each failure (leaving up) adds
  // penalty_per_failure, capped at max_penalty; while up the penalty halves
  // every half_life. At or above suppress the line is kept out of traffic
  // until the penalty decays below reuse. Defaults: one or two failures only
  // cost the hold-down; a third, when each return lasted under about 40 s up,
  // reaches 2000 and suppresses; from the cap a line needs 3 half-lives
  // (3 min) up before it is reused.
  double penalty_per_failure = 1000;
  Duration half_life = std::chrono::seconds(60);
  double suppress = 2000;
  double reuse = 750;
  double max_penalty = 6000;

  SlaOptions sla;
  DestinationOptions destination;
  bool operator==(const HealthOptions&) const = default;
};

}  // namespace linewatch

// LineLiveness: is one line carrying packets right now? The fast-down tier.
//
// The caller sends one echo per reflector every `interval` (pipelined: it never
// waits for replies) and feeds the sends and replies in; the tracker only
// judges. The line turns silent when no reply from ANY reflector has arrived
// for `detect`, and alive again on the first reply; LineHealth decides when
// traffic returns.
//
// TILT: if tick() is not called for longer than `tilt_threshold()` (a stalled
// loop, a suspended process), replies may be sitting unread and the silence
// cannot be trusted: the tracker does not declare the line down on it, restarts
// the silence measurement at that tick and reports a tilt instead.
//
// Until the first reply after start or after a tilt, the silence verdict waits
// `miss_timeout` more than `detect`: echoes sent just now cannot come back
// before one RTT, which may well exceed detect (150 ms line, fast profile).
//
// False-down arithmetic. Echoes leave every T = interval; the line is declared
// down after D = detect of silence, k = D / T (10 with both profiles). Two
// replies heard from one reflector m echoes apart leave a gap of (m+1)·T, so a
// false down needs k consecutive echoes lost (k-1 when the RTT varies by a
// whole interval and breaks the tie the other way). At random loss p:
//   P(a run of k losses starts at a given echo) = (1-p)·p^k
//   R reflectors with independent loss: about p^(k·R) per interval
//   (loss on the line itself is shared by all reflectors: then p^k whatever R)
// At p = 0.1, k = 10, R = 1: 9e-11 per echo. Default (10 echoes/s): one false
// down per ~35 years; fast (100 echoes/s): one per ~3.5 years.
// A naive "3 consecutive misses" rule trips with (1-p)·p^3 = 9e-4 per echo:
// 32 false downs an hour at 10 echoes/s, 324 at 100 echoes/s. stats() counts
// its trips on the same echoes so tests and benchmarks can print both.
//
// Not thread-safe: single-threaded, owned by the one decision thread.
// Cost: on_sent O(1), on_reply O(echoes awaiting a reply), tick O(1) amortised.
// Memory: per reflector, the echoes sent within miss_timeout (capped).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "core/event.h"
#include "core/health_options.h"
#include "core/time.h"

namespace linewatch {

enum class LivenessChangeKind {
  silent,  // no reply from any reflector for `detect`: the line is not carrying packets
  alive,   // a reply arrived after a silence
  tilt,    // ticks stopped for too long: silence measurement restarted, no verdict taken
};

struct LivenessChange {
  LivenessChangeKind kind = LivenessChangeKind::silent;
  // silent: when the silence began (the last reply, or the start / tilt that
  // restarted the measurement); alive: when the first reply arrived;
  // tilt: the tick that noticed the stall.
  MonoTime since{};
  std::string detail;  // human text with the figures ("no reply for 1.00s from 2 reflectors")
};

// Diagnostics since construction. Counters only; never drive a decision.
struct LivenessStats {
  std::uint64_t echoes = 0;        // on_sent calls
  std::uint64_t replies = 0;       // on_reply calls (late ones included)
  std::uint64_t late_replies = 0;  // replies to echoes already counted missed, or unknown
  std::uint64_t misses = 0;        // echoes with no reply within miss_timeout
  std::uint64_t silences = 0;      // times the line was declared silent
  std::uint64_t tilts = 0;         // stalls noticed by tick()
  // Times a naive rule "a reflector is down after 3 consecutive misses; the
  // line is down when every reflector is" would have declared the line down.
  std::uint64_t three_miss_trips = 0;
};

class LineLiveness {
 public:
  // The silence measurement starts at `start`: a line that never answers turns
  // silent at start + miss_timeout + detect. Options are copied.
  LineLiveness(LivenessOptions options, MonoTime start);

  // An echo to `reflector` with the caller's sequence number `seq` (unique per
  // reflector) left at `sent`. Feeds only the diagnostics.
  void on_sent(const std::string& reflector, std::uint64_t seq, MonoTime sent);

  // A reply to echo `seq` (sent at `sent`) arrived at `received`. Any reply,
  // even an unknown or late one, proves the line carries packets. Feed replies
  // in arrival order, before the tick() that should see them.
  void on_reply(const std::string& reflector, std::uint64_t seq, MonoTime sent, MonoTime received);

  // Judges at `now` (non-decreasing). Returns the change, if the verdict
  // flipped or a stall was noticed; nothing otherwise. When a stall and a
  // reply after a silence coincide, the reply wins (the stall is still counted).
  std::optional<LivenessChange> tick(MonoTime now);

  // The verdict as of the last tick(): true until the first silence.
  bool alive() const { return alive_; }
  // When the current verdict began (see LivenessChange::since).
  MonoTime since() const { return since_; }
  const LivenessStats& stats() const { return stats_; }
  const LivenessOptions& options() const { return options_; }

 private:
  struct Pending {
    std::uint64_t seq;
    MonoTime sent;
    bool answered;
  };
  struct Reflector {
    std::deque<Pending> pending;  // in send order, awaiting a verdict
    int consecutive_misses = 0;
    bool tripped = false;  // the naive rule counts this reflector down
  };

  void settle_echoes(MonoTime now);
  void settle_front(Reflector& r, bool answered);
  std::string silence_detail(MonoTime now) const;

  LivenessOptions options_;
  bool alive_ = true;
  MonoTime since_;
  MonoTime silence_from_;  // the last reply, or where start or a tilt restarted the measurement
  bool awaiting_first_reply_ = true;  // since start or the last tilt: allow one miss_timeout
  MonoTime last_tick_;
  std::optional<MonoTime> reply_while_silent_;  // the first reply after a silence
  std::map<std::string, Reflector> reflectors_;
  int tripped_reflectors_ = 0;
  LivenessStats stats_;
};

// The event for a liveness change of `line`, stamped `time`: "tilt" for a
// stall (reason "stalled_loop"). Silent/alive changes become line events
// through LineHealth, which decides what they mean for traffic.
Event tilt_event(const std::string& line, const LivenessChange& change, WallTime time);

}  // namespace linewatch

// LineQuality: how well one line carries packets over the last SLA window,
// and which SLA figures it breaks (the "degraded" input of LineHealth).
//
// Samples:
//   - every liveness echo: its RTT when answered, a loss when missed;
//   - every echo of an ICMP round (ProbeResult::rtts), the same way;
//   - TCP/HTTP/LLM rounds: one loss sample each, lost only for a network
//     reason (timeout, refused, unreachable, dns, tls, a stream_stall before
//     any body byte; see rules/path_outcome.h). An HTTP status, a body
//     mismatch or an LLM API error (auth, rate_limited, server_error, ...) is
//     the endpoint's doing and counts as answered; bind/internal failures are
//     local and are not sampled. Their durations include server time, so they
//     give no RTT sample.
//
// Figures, over the samples of the window (monotonic time):
//   median, p95  nearest rank over every RTT sample;
//   jitter       mean absolute difference of consecutive RTTs towards the same
//                target (IPDV, RFC 3393; RFC 3550's |D| averaged over the
//                window rather than smoothed by 1/16, like SmokePing's figure).
//                Pairs never span two targets, whose base RTTs differ;
//   loss         lost / (answered + lost).
// Samples towards targets in `excluded` (destinations that are down on every
// line, rules/destination.h) are left out of every figure: they are not the
// line's fault.
//
// Not thread-safe: single-threaded, owned by the one decision thread.
// Memory: at most SlaOptions::max_samples samples (the oldest leave first).
// Cost: add_* O(1) amortised; figures()/breaches() O(n log n) in the window,
// so call them at the evaluation cadence (e.g. once a second), not per echo.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/health_options.h"
#include "core/probe_result.h"
#include "core/time.h"

namespace linewatch {

struct QualityFigures {
  std::size_t answered = 0;  // loss samples answered
  std::size_t lost = 0;      // loss samples lost
  std::size_t rtt_samples = 0;
  std::optional<Duration> median, p95, jitter;  // absent without RTT samples (jitter: pairs)
  double loss = 0;                              // lost / (answered + lost); 0 without samples
};

// Which SLA figures a line breaks. A figure is judged only with at least
// SlaOptions::min_samples samples behind it (loss: loss samples; rtt_p95 and
// jitter: RTT samples).
struct SlaBreaches {
  bool rtt_p95 = false;
  bool loss = false;
  bool jitter = false;
  std::string detail;  // the broken figures with their bounds ("loss 5.0% > 2.0%"); "" when none

  bool any() const { return rtt_p95 || loss || jitter; }
  // Reason code of the first broken figure in the order loss, rtt_p95, jitter; "" when none.
  std::string reason() const;
};

class LineQuality {
 public:
  explicit LineQuality(SlaOptions options) : options_(std::move(options)) {}

  // One echo towards `target` at `at`: `rtt` when answered, nullopt when missed.
  void add_echo(const std::string& target, MonoTime at, std::optional<Duration> rtt);

  // One probe round, received at `at`, sampled as described above. Uses
  // round.target, round.kind, round.reason and, for ICMP, round.rtts.
  void add_round(const ProbeResult& round, MonoTime at);

  // The figures over samples no older than the window at `now`.
  QualityFigures figures(MonoTime now, const std::set<std::string>& excluded = {}) const;

  // The SLA figures broken at `now`.
  SlaBreaches breaches(MonoTime now, const std::set<std::string>& excluded = {}) const;

  // Forgets every sample: the window starts afresh. For a line back from a
  // silence, whose echoes lost while it was silent describe the outage (already
  // judged as down), not how the line carries packets now.
  void clear() { samples_.clear(); }

  // Samples held (at most SlaOptions::max_samples).
  std::size_t size() const { return samples_.size(); }
  const SlaOptions& options() const { return options_; }

 private:
  struct Sample {
    MonoTime at;
    Duration rtt;          // valid when has_rtt
    std::uint32_t target;  // index into targets_
    bool lost;
    bool has_rtt;
  };

  void add(const std::string& target, MonoTime at, bool lost, std::optional<Duration> rtt);
  std::uint32_t target_index(const std::string& target);

  SlaOptions options_;
  std::deque<Sample> samples_;  // in arrival order
  std::map<std::string, std::uint32_t> target_ids_;
  std::vector<std::string> targets_;  // by index; as many as the line's targets
};

}  // namespace linewatch

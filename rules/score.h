// Line scores: how good each line is for carrying traffic, in 0..1, HIGHER IS
// BETTER. Health decides whether a line may carry traffic at all; the score
// only orders the lines that may.
//
// A score is the weighted mean of three parts, each normalised to 0..1 across
// the lines scored together (so a score means "compared with the others now"):
//
//   latency   = max(best_rtt, 1us) / max(rtt, 1us)
//               best_rtt is the lowest RTT median among the lines scored. The
//               best line gets 1, a line twice as slow 0.5. Unknown RTT -> 0:
//               a line with no latency evidence is never preferred for speed.
//   load      = 1 - min(1, used / capacity)
//               Unknown capacity or unknown use -> 0.5 (neutral).
//   bandwidth = headroom / max_headroom, headroom = capacity - min(used, capacity)
//               (used unknown -> the whole capacity), max_headroom over the lines
//               with a known capacity; 0 when every such line is full.
//               Unknown capacity -> 0.5 (neutral).
//
//   score = (w_latency*latency + w_load*load + w_bandwidth*bandwidth)
//           / (w_latency + w_load + w_bandwidth)
//
// Ranking turns scores into a calm preferred order (the variance band); see
// its comment. Everything here is single-threaded: one decision thread owns a
// Ranking. The free functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/route_options.h"
#include "core/time.h"

namespace linewatch {

// What is known about one line when it is scored.
struct LineUsage {
  std::string line;
  std::optional<Duration> rtt_median;         // median RTT over the quality window
  std::optional<std::uint64_t> capacity_bps;  // lines[].capacity; nullopt or 0 = unknown
  std::optional<std::uint64_t> used_bps;      // measured traffic on the line, bits/s
};

struct LineScore {
  std::string line;
  double score = 0;    // 0..1, higher is better
  double latency = 0;  // the three parts, 0..1 each, kept to explain a score
  double load = 0;
  double bandwidth = 0;
  // The line has latency evidence (an RTT median). Without it the score only
  // says "unknown", so Ranking does not place the line by it.
  bool evidence = true;
};

// Success when every weight is finite and >= 0 with a positive sum, margin is
// finite and >= 0 and margin_for >= 0. Failure: invalid_argument naming the
// key (e.g. "scoring.weights.load").
Status validate(const ScoringOptions& options);

// Scores `lines` together (normalisation uses the best of them), in input
// order. Weights that fail validate() with a zero sum count as equal weights.
std::vector<LineScore> score_lines(const std::vector<LineUsage>& lines,
                                   const ScoringWeights& weights);

// The preferred order of the lines that take traffic, with a variance band:
// line A moves ahead of line B only when A's score has been above
// B's * (1 + margin) at every update for at least margin_for (on MonoTime).
// A line that stops taking traffic leaves the order at once (failover is
// health's decision and must not wait); a line that joins goes to the back
// and moves up through the band like any other. The very first update orders
// by score directly.
//
// Lines without evidence (LineScore::evidence false: no RTT yet) are not
// placed by their score, which only says "unknown": they follow every line
// with evidence, in input order (the caller's config order), and take part in
// no challenge. On its first update with evidence such a line (or one never
// seen before) is placed by score directly, without the band, so the order
// made while some lines were still silent does not stay frozen behind the
// margin. A line placed before that rejoins goes to the back as above.
//
// Seed (a restart): the order the lines held before, e.g. the primaries of
// the plan in force. A seeded line counts as an incumbent: on its first
// update with evidence it is placed by the seed, ahead of the unseeded lines
// and of the seeded ones after it, not by score, and lines that lead it then
// move up through the band as usual. While the seed lasts, unseeded lines
// placed by score on their first evidence stay behind the seeded ones (they
// too must win their place through the band). A seeded line's claim ends
// once it is placed or at the first update without it (it does not take
// traffic: failover does not wait); the seed ends when every claim has.
// Seed lines that never appear (no longer configured) end at the first update.
//
// Revertive (like VRRP preempt): when the first line stops taking traffic it
// is remembered as the primary; when it takes traffic again it gets first
// place back at once, unless the line then first beats it by more than the
// margin (then it joins at the back like any other). Either way the memory
// ends when the primary returns; reshuffles among the others meanwhile keep it.
//
// The order is built rank by rank: the incumbent of a rank is the first of the
// remaining lines in the previous order; it keeps the rank unless some other
// remaining line has beaten it for margin_for, in which case the highest
// scored of those takes it.
//
// Single-threaded; `clock` must outlive the Ranking.
class Ranking {
 public:
  // `seed`: the order before a restart, best first (see above); empty: none.
  Ranking(const Clock& clock, ScoringOptions options, std::vector<std::string> seed = {});

  // Feeds the scores of exactly the lines that take traffic now. Returns a
  // "score_moved" event when the order changed (reason "first_scores",
  // "margin_held" when the band let a line move up, "revert" when the primary
  // got first place back, else "lines_changed"; the detail names lines the
  // seed placed), nullopt otherwise. Duplicate line ids: the first one counts.
  std::optional<Event> update(const std::vector<LineScore>& scores);

  // Preferred first; empty before the first update or when no line takes traffic.
  const std::vector<std::string>& order() const { return order_; }

 private:
  using Pair = std::pair<std::string, std::string>;  // (challenger, incumbent)
  void track_challenges(const std::map<std::string, double>& score, MonoTime now);
  bool matured(const std::string& challenger, const std::string& incumbent, MonoTime now) const;
  std::vector<std::string> start_order(const std::vector<std::string>& by_score,
                                       const std::map<std::string, double>& score, bool& reverted,
                                       std::vector<std::string>& seeded) const;
  void end_claims(const std::set<std::string>& seen);
  std::vector<std::string> apply_band(std::vector<std::string> remaining,
                                      const std::map<std::string, double>& score, MonoTime now,
                                      std::string& mover, std::string& displaced) const;

  const Clock& clock_;
  ScoringOptions options_;
  std::vector<std::string> order_;
  bool started_ = false;                     // an order has been set once
  std::map<Pair, MonoTime> beating_since_;   // pairs where the challenger beats by the margin now
  std::set<std::string> placed_;             // lines placed by score: evidence at their last update
  std::optional<std::string> primary_;       // the first line before it stopped taking traffic
  std::map<std::string, std::size_t> seed_;  // seeded line -> its rank; empty once no claim is left
  std::set<std::string> claims_;             // seeded lines not yet placed nor gone
};

}  // namespace linewatch

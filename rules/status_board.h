// StatusBoard: the live "how is each line doing" view behind /api/v1/status.
//
// Keeps the results of the last `window` per series (line × target × kind) and
// summarises them on request: latest round, median and p95 RTT, jitter, loss,
// availability and the last failure. Results are aged out by arrival time on
// the injected monotonic clock, so a wall-clock step neither empties nor
// freezes the window.
//
// Thread-safe: record() is called from probe workers, snapshot() from the API.
// Cost: record() is O(1) amortised; snapshot() is O(results in window · log).
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/probe_result.h"
#include "core/time.h"

namespace linewatch {

struct SeriesKey {
  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  auto operator<=>(const SeriesKey&) const = default;
};

struct SeriesSummary {
  SeriesKey key;
  ProbeResult latest;                  // the newest round
  int rounds = 0;                      // rounds in the window
  int ok_rounds = 0;                   // rounds with ok == true
  double availability = 0;             // ok_rounds / rounds
  double loss = 0;                     // ICMP: lost / sent echoes; others: failed / rounds
  std::optional<Duration> rtt_median;  // over every RTT in the window (each echo for ICMP)
  std::optional<Duration> rtt_p95;
  std::optional<Duration> jitter;      // mean |difference| of consecutive RTTs (RFC 3550 spirit)
  std::optional<Reason> last_failure;  // reason of the newest failed round in the window
  std::optional<WallTime> last_failure_time;
  std::string last_failure_detail;
};

class StatusBoard {
 public:
  StatusBoard(const Clock& clock, Duration window) : clock_(clock), window_(window) {}

  // Adds one round. Copies what it keeps.
  void record(const ProbeResult& result);

  // Summaries of every series seen since start, sorted by key. A series whose
  // rounds have all aged out keeps its latest round with rounds == 0.
  std::vector<SeriesSummary> snapshot() const;

  Duration window() const { return window_; }

 private:
  struct Entry {
    MonoTime arrived;
    ProbeResult result;
  };
  struct Series {
    std::deque<Entry> entries;
    ProbeResult latest;
  };
  void expire(Series& s, MonoTime now) const;

  const Clock& clock_;
  const Duration window_;
  mutable std::mutex mu_;
  mutable std::map<SeriesKey, Series> series_;  // guarded by mu_
};

// The q-quantile (0..1) of `values` by nearest rank; nullopt when empty.
// Sorts `values` in place.
std::optional<Duration> quantile(std::vector<Duration>& values, double q);

}  // namespace linewatch

// StatusBoard: the live "how is each line doing" view behind /api/v1/status.
//
// Summarises the rounds of the last `window` per series (line × target × kind)
// on request: latest round, median and p95 RTT, jitter, loss, availability and
// the last failure. Rounds are aged out by arrival time on the injected
// monotonic clock, so a wall-clock step neither empties nor freezes the window.
//
// Memory is bounded whatever the probe rate. Per series the board keeps:
//   - the latest round in full (one ProbeResult) and the newest failure's
//     reason, time and detail: the only failure a summary can show (status_board.cc);
//   - per round in the window, a few bytes in one ring of bytes (rules/byte_ring.h),
//     losslessly encoded as zigzag varints: its arrival as the change in the
//     gap since the round before (3 bytes for rounds at a steady interval
//     whose gap moves by less than 1 ms from one to the next; exact to the
//     nanosecond), one byte of ok,
//     sent and received for rounds of up to 15 echoes that all came back, and
//     its RTTs, one per answered echo (TCP/HTTP: the headline RTT), the first
//     in full and each further one as its difference from the one before: at
//     most 5 bytes for an RTT under 17 s, 3 for a difference under ±1 ms. A
//     1-ping ICMP round every second on a line under 2 ms costs about 7 bytes,
//     a 5-ping round whose echoes lie within ±0.5 ms at most 3 + 1 + 17 = 21
//     (the ProbeResult it replaces took about 450 bytes, the record before
//     this encoding 24 bytes besides the RTTs);
//   - at most StatusBoardLimits::max_rounds rounds and max_echo_bytes bytes of
//     RTTs. Past a limit the oldest rounds leave first even inside the window;
//     the summary then says so (SeriesSummary::capped, covered). The defaults
//     bound a series at about 4096 · 13 B + 256 KiB ≈ 310 KiB; storage grows
//     with the rounds actually held, not up front.
// Below the limits the figures are exactly those over every round of the window.
//
// Thread-safe: record() is called from probe workers, snapshot() from the API.
// Cost: record() O(echoes of the round + rounds it ages out);
// snapshot() O(RTTs in window · log).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/probe_result.h"
#include "core/time.h"
#include "rules/byte_ring.h"

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
  // True when StatusBoardLimits dropped rounds that are still inside the
  // window: every figure above then covers only the newest `covered`, not the
  // whole window. False again once the dropped rounds would have aged out.
  bool capped = false;
  Duration covered{};  // age of the oldest round summarised; zero without rounds
};

// Per-series limits on what the board holds (see the top comment).
struct StatusBoardLimits {
  // Rounds kept per series; at least one is always kept. Default 4096: the
  // whole 5-minute window for rounds every 74 ms or slower.
  std::size_t max_rounds = 4096;
  // Bytes of encoded RTTs kept per series. Default 256 KiB: 64 bytes a round
  // over 4096 rounds, enough for 20 pings within ±0.5 ms (5 + 19 · 3 = 62
  // bytes). A round is never
  // split: one whose RTTs alone exceed the budget is kept on its own.
  std::size_t max_echo_bytes = 256 * 1024;
};

// What one series holds right now (see StatusBoard::usage).
struct SeriesUsage {
  std::size_t rounds = 0;      // rounds held
  std::size_t echo_bytes = 0;  // encoded RTT bytes among `bytes`
  std::size_t bytes = 0;       // encoded bytes of every round held, RTTs included
  std::size_t capacity = 0;    // bytes allocated for them (at least `bytes`)
};

class StatusBoard {
 public:
  StatusBoard(const Clock& clock, Duration window, StatusBoardLimits limits = {})
      : clock_(clock), window_(window), limits_(limits) {}

  // Adds one round. Keeps what the summary needs, not `result` itself.
  void record(const ProbeResult& result);

  // Summaries of every series seen since start, sorted by key. A series whose
  // rounds have all aged out keeps its latest round with rounds == 0.
  std::vector<SeriesSummary> snapshot() const;

  // What the series `key` holds now, rounds past the window included until the
  // next record() or snapshot() ages them out; zeros for an unknown series.
  SeriesUsage usage(const SeriesKey& key) const;

  Duration window() const { return window_; }
  const StatusBoardLimits& limits() const { return limits_; }

 private:
  // The newest failed round recorded in a series.
  struct Failure {
    std::uint64_t seq = 0;  // its place in the series (see Series::next_seq)
    Reason reason = Reason::internal;
    WallTime time{};
    std::string detail;
  };

  struct Series {
    ByteRing rounds;             // encoded rounds, oldest first (status_board.cc)
    std::size_t count = 0;       // rounds in `rounds`
    std::size_t echo_bytes = 0;  // bytes of their RTTs
    MonoTime front_arrived{};    // arrival of the oldest round held
    Duration front_gap{};        // its arrival less that of the round before it
    MonoTime back_arrived{};     // arrival of the newest round ever recorded
    Duration back_gap{};         // its arrival less that of the round before it
    std::uint64_t next_seq = 0;  // rounds ever recorded; the newest is next_seq - 1
    ProbeResult latest;
    std::optional<Failure> failure;
    std::optional<MonoTime> last_cut;  // arrival of the newest round the limits dropped
  };

  static void drop_oldest(Series& s);
  void expire(Series& s, MonoTime now) const;
  void make_room(Series& s, std::size_t echo_bytes) const;
  SeriesSummary summarise(const SeriesKey& key, const Series& s, MonoTime now) const;

  const Clock& clock_;
  const Duration window_;
  const StatusBoardLimits limits_;
  mutable std::mutex mu_;
  mutable std::map<SeriesKey, Series> series_;  // guarded by mu_
};

// The q-quantile (0..1) of `values` by nearest rank; nullopt when empty.
// Sorts `values` in place.
std::optional<Duration> quantile(std::vector<Duration>& values, double q);

}  // namespace linewatch

// StatusBoard: the live "how is each line doing" view behind /api/v1/status.
//
// Summarises the rounds of the last `window` per series (line × target × kind)
// on request: latest round, median and p95 RTT, jitter, loss, availability and
// the last failure. Rounds are aged out by arrival time on the injected
// monotonic clock, so a wall-clock step neither empties nor freezes the window.
//
// Memory is bounded whatever the probe rate. Per series the board keeps:
//   - the latest round, every field exact, packed by the round codec
//     (core/round_codec.h: about 30 bytes for a 1-ping ICMP round), and the
//     newest failure's reason, time and detail behind a pointer: the only
//     failure a summary can show (status_board.cc). With its map node and key
//     a 1-ping ICMP series without failures costs about 260 bytes besides
//     its rounds (SeriesUsage::fixed; about 740 when it kept a whole
//     ProbeResult);
//   - per round in the window, a few bytes in one ring of bytes
//     (rules/byte_ring.h), encoded as zigzag varints: its arrival, rounded up
//     to the millisecond, as the change in the gap since the round before (1
//     byte while the gap moves by less than 64 ms from one round to the
//     next), one byte of ok, sent and received for rounds of up to 15 echoes
//     that all came back, and its RTTs, one per answered echo (TCP/HTTP: the
//     headline RTT), in whole microseconds rounded to the nearest as the
//     alert windows keep them (to_micros, rules/alert_window.h; storage
//     truncates, so the two differ by at most 1 us), each as its difference
//     from the RTT before (the first from the previous round's first): 1
//     byte within ±63 us, 2 within ±8 ms, 3 within ±1 s, at most 5. A 1-ping
//     ICMP round every second costs 3 bytes on a line near 50 us, 4 on a
//     150 ms line whose RTT moves by less than ±8 ms; a steady 5-ping round
//     whose RTTs move by less than that from one to the next 1 + 1 + 5 · 2 =
//     12 (before this encoding, exact to the nanosecond: 8 and 10 bytes for
//     the 1-ping rounds; a ProbeResult per round: about 450);
//   - at most StatusBoardLimits::max_rounds rounds and max_echo_bytes bytes of
//     RTTs. Past a limit the oldest rounds leave first even inside the window;
//     the summary then says so (SeriesSummary::capped, covered). The defaults
//     bound a series at about 4096 · 13 B + 256 KiB ≈ 310 KiB; storage grows
//     with the rounds actually held, not up front, and the ring holds at most
//     an eighth more than its rounds.
// Window RTT figures (median, p95, jitter) thus come from whole microseconds,
// as the alert windows see them; a round leaves the window up to 1 ms late,
// never early. The latest round stays exact to the nanosecond.
// Below the limits the figures are exactly those over every round of the window.
//
// Thread-safe: record() is called from probe workers, snapshot() from the API.
// Cost: record() O(echoes of the round + rounds it ages out);
// snapshot() O(RTTs in window · log).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
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
  // over 4096 rounds, enough for 20 pings within ±8 ms of each other
  // (5 + 19 · 2 = 43 bytes). A round is never split: one whose RTTs alone
  // exceed the budget is kept on its own.
  std::size_t max_echo_bytes = 256 * 1024;
};

// What one series holds right now (see StatusBoard::usage).
struct SeriesUsage {
  std::size_t rounds = 0;      // rounds held
  std::size_t echo_bytes = 0;  // encoded RTT bytes among `bytes`
  std::size_t bytes = 0;       // encoded bytes of every round held, RTTs included
  std::size_t capacity = 0;    // bytes allocated for them (at least `bytes`)
  // Bytes the series costs besides its rounds: its map node (key and
  // bookkeeping), the heap of its key's names, its latest round's encoding and
  // its failure, if any. Without the allocator's own overhead.
  std::size_t fixed = 0;
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
  // Arrivals are kept in whole milliseconds, rounded up.
  using MonoMs = std::chrono::time_point<MonoTime::clock, std::chrono::milliseconds>;
  static constexpr MonoMs kNever = MonoMs::min();
  // What a std::map node holds besides its value (libstdc++: colour and three
  // links), for SeriesUsage::fixed.
  static constexpr std::size_t kMapNodeLinks = 4 * sizeof(void*);

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
    MonoMs front_arrived{};      // arrival of the oldest round held
    MonoMs back_arrived{};       // arrival of the newest round ever recorded
    // Each of those two arrivals less that of the round before it.
    std::chrono::milliseconds front_gap{};
    std::chrono::milliseconds back_gap{};
    std::uint64_t next_seq = 0;  // rounds ever recorded; the newest is next_seq - 1
    MonoMs last_cut = kNever;    // arrival of the newest round the limits dropped
    // Microseconds: the first RTT of the newest round before the oldest held
    // that had one, which the oldest's first RTT is encoded against; the
    // first RTT of the newest round ever recorded that had one.
    std::uint32_t front_rtt = 0;
    std::uint32_t back_rtt = 0;
    std::vector<std::uint8_t> latest;  // the newest round (core/round_codec.h)
    std::unique_ptr<Failure> failure;  // null until a round fails
  };

  static MonoMs arrival(MonoTime now);
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

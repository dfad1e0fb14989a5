#include "rules/status_board.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/fake_clock.h"
#include "rules/alert_window.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

ProbeResult icmp_round(std::vector<std::optional<Duration>> rtts) {
  ProbeResult r;
  r.line = "l1";
  r.target = "t1";
  r.kind = ProbeKind::icmp;
  r.rtts = std::move(rtts);
  summarise_echoes(r);
  r.ok = r.received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  return r;
}

ProbeResult tcp_round(bool ok, Duration rtt, Reason reason = Reason::ok) {
  ProbeResult r;
  r.line = "l1";
  r.target = "t1";
  r.kind = ProbeKind::tcp;
  r.ok = ok;
  r.reason = ok ? Reason::ok : reason;
  if (ok) r.rtt = rtt;
  return r;
}

}  // namespace

TEST_CASE("quantile uses nearest rank") {
  std::vector<Duration> v;
  for (int i = 100; i >= 1; --i) v.push_back(std::chrono::milliseconds(i));
  CHECK(*quantile(v, 0.95) == 95ms);
  CHECK(*quantile(v, 0.5) == 50ms);
  CHECK(*quantile(v, 1.0) == 100ms);
  CHECK(*quantile(v, 0.0) == 1ms);
  std::vector<Duration> empty;
  CHECK_FALSE(quantile(empty, 0.5).has_value());
}

TEST_CASE("ICMP loss counts echoes, availability counts rounds") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  board.record(icmp_round({10ms, 12ms, std::nullopt, 14ms}));
  board.record(icmp_round({std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
  auto snap = board.snapshot();
  REQUIRE(snap.size() == 1);
  const auto& s = snap[0];
  CHECK(s.rounds == 2);
  CHECK(s.ok_rounds == 1);
  CHECK(s.availability == doctest::Approx(0.5));
  CHECK(s.loss == doctest::Approx(5.0 / 8.0));
  CHECK(*s.rtt_median == 12ms);
  CHECK(*s.rtt_p95 == 14ms);
  CHECK(*s.jitter == 2ms);
  REQUIRE(s.last_failure.has_value());
  CHECK(*s.last_failure == Reason::timeout);
  CHECK(s.latest.received == 0);
}

TEST_CASE("TCP loss is the failed-round ratio and the last failure is remembered") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  board.record(tcp_round(true, 3ms));
  board.record(tcp_round(false, 0ms, Reason::refused));
  board.record(tcp_round(true, 5ms));
  board.record(tcp_round(true, 4ms));
  const auto s = board.snapshot().at(0);
  CHECK(s.rounds == 4);
  CHECK(s.loss == doctest::Approx(0.25));
  CHECK(*s.last_failure == Reason::refused);
  CHECK(s.latest.ok);
  CHECK(*s.rtt_median == 4ms);
}

TEST_CASE("rounds age out of the window on the monotonic clock") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  board.record(tcp_round(false, 0ms, Reason::timeout));
  clock.advance(4min);
  board.record(tcp_round(true, 7ms));
  CHECK(board.snapshot().at(0).rounds == 2);
  clock.step_wall(-1h);  // a wall step must not matter
  clock.advance(90s);    // the first round is now 5.5 min old
  auto s = board.snapshot().at(0);
  CHECK(s.rounds == 1);
  CHECK(s.availability == 1.0);
  CHECK_FALSE(s.last_failure.has_value());
  clock.advance(10min);
  s = board.snapshot().at(0);
  CHECK(s.rounds == 0);
  CHECK(s.latest.ok);  // the latest round stays visible
}

TEST_CASE("series are kept apart by line, target and kind") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  auto a = tcp_round(true, 1ms);
  auto b = a;
  b.line = "l2";
  auto c = a;
  c.kind = ProbeKind::http;
  board.record(a);
  board.record(b);
  board.record(c);
  auto snap = board.snapshot();
  REQUIRE(snap.size() == 3);
  CHECK(snap[0].key.line == "l1");
  CHECK(snap[2].key.line == "l2");
}

// ---------------------------------------------------------------------------
// Bounded memory: the board keeps compact records under per-series limits.
// Its figures are checked against a model that keeps every ProbeResult.

namespace {

// A round's arrival as the window keeps it: rounded up to the millisecond.
MonoTime arrival_ms(MonoTime t) {
  return MonoTime(std::chrono::ceil<std::chrono::milliseconds>(t.time_since_epoch()));
}

// The figures over full ProbeResults, computed as the board computed them
// before it kept compact records, with each RTT in whole microseconds as the
// alert windows keep it (to_micros): the oracle for the compact form.
SeriesSummary full_summary(const SeriesKey& key, const std::deque<ProbeResult>& rounds) {
  SeriesSummary out;
  out.key = key;
  std::vector<Duration> rtts;
  int sent = 0, received = 0;
  double jitter_sum = 0;
  int jitter_n = 0;
  std::optional<Duration> prev;
  for (const ProbeResult& r : rounds) {
    ++out.rounds;
    if (r.ok) ++out.ok_rounds;
    if (!r.ok) {
      out.last_failure = r.reason;
      out.last_failure_time = r.time;
      out.last_failure_detail = r.detail;
    }
    sent += r.sent;
    received += r.received;
    std::vector<std::optional<Duration>> samples = r.rtts;
    if (samples.empty()) samples.push_back(r.ok ? r.rtt : std::nullopt);
    for (const auto& v : samples) {
      if (!v) continue;
      const Duration us = std::chrono::microseconds(to_micros(*v));
      rtts.push_back(us);
      if (prev) {
        jitter_sum += std::abs(static_cast<double>((us - *prev).count()));
        ++jitter_n;
      }
      prev = us;
    }
  }
  if (out.rounds > 0) {
    out.availability = static_cast<double>(out.ok_rounds) / out.rounds;
    out.loss = key.kind == ProbeKind::icmp && sent > 0 ? 1.0 - static_cast<double>(received) / sent
                                                       : 1.0 - out.availability;
  }
  if (jitter_n > 0) out.jitter = Duration(static_cast<Duration::rep>(jitter_sum / jitter_n));
  out.rtt_p95 = quantile(rtts, 0.95);
  out.rtt_median = quantile(rtts, 0.5);
  return out;
}

// Keeps every round of the window in full, optionally only the newest
// `max_rounds` of them, and says when that cut reaches into the window.
// Arrivals rounded up to the millisecond, as the board keeps them.
class FullBoard {
 public:
  FullBoard(Duration window, std::size_t max_rounds) : window_(window), max_rounds_(max_rounds) {}

  void record(const ProbeResult& r, MonoTime now) {
    Series& s = series_[SeriesKey{r.line, r.target, r.kind}];
    expire(s, now);
    while (s.rounds.size() >= max_rounds_) {
      s.last_cut = s.arrived.front();
      s.rounds.pop_front();
      s.arrived.pop_front();
    }
    s.rounds.push_back(r);
    s.arrived.push_back(arrival_ms(now));
    s.latest = r;
  }

  SeriesSummary summary(const SeriesKey& key, MonoTime now) {
    Series& s = series_.at(key);
    expire(s, now);
    SeriesSummary out = full_summary(key, s.rounds);
    out.latest = s.latest;
    out.capped = s.last_cut && now - *s.last_cut <= window_;
    if (!s.arrived.empty()) out.covered = std::max(Duration::zero(), now - s.arrived.front());
    return out;
  }

  // Keeps only the newest `n` rounds of `key`, as the board's byte budget did.
  void keep_newest(const SeriesKey& key, std::size_t n) {
    Series& s = series_.at(key);
    while (s.rounds.size() > n) {
      s.rounds.pop_front();
      s.arrived.pop_front();
    }
  }

 private:
  struct Series {
    std::deque<ProbeResult> rounds;
    std::deque<MonoTime> arrived;
    ProbeResult latest;
    std::optional<MonoTime> last_cut;
  };
  void expire(Series& s, MonoTime now) const {
    while (!s.rounds.empty() && now - s.arrived.front() > window_) {
      s.rounds.pop_front();
      s.arrived.pop_front();
    }
  }

  Duration window_;
  std::size_t max_rounds_;
  std::map<SeriesKey, Series> series_;
};

void check_same(const SeriesSummary& got, const SeriesSummary& want) {
  CHECK(got.key == want.key);
  CHECK(got.rounds == want.rounds);
  CHECK(got.ok_rounds == want.ok_rounds);
  CHECK(got.availability == want.availability);  // exact: the same arithmetic
  CHECK(got.loss == want.loss);
  CHECK(got.rtt_median == want.rtt_median);
  CHECK(got.rtt_p95 == want.rtt_p95);
  CHECK(got.jitter == want.jitter);
  CHECK(got.last_failure == want.last_failure);
  CHECK(got.last_failure_time == want.last_failure_time);
  CHECK(got.last_failure_detail == want.last_failure_detail);
  CHECK(got.capped == want.capped);
  CHECK(got.covered == want.covered);
  // The latest round comes back whole (core/round_codec_test.cc checks every field).
  CHECK(got.latest.line == want.latest.line);
  CHECK(got.latest.target == want.latest.target);
  CHECK(got.latest.kind == want.latest.kind);
  CHECK(got.latest.time == want.latest.time);
  CHECK(got.latest.ok == want.latest.ok);
  CHECK(got.latest.reason == want.latest.reason);
  CHECK(got.latest.detail == want.latest.detail);
  CHECK(got.latest.rtt == want.latest.rtt);
  CHECK(got.latest.sent == want.latest.sent);
  CHECK(got.latest.received == want.latest.received);
  CHECK(got.latest.rtt_median == want.latest.rtt_median);
  CHECK(got.latest.rtt_stddev == want.latest.rtt_stddev);
  CHECK(got.latest.rtts == want.latest.rtts);
}

int pick(std::mt19937_64& rng, int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); }

// A round of `key`'s kind with random echoes, losses, failures and details.
ProbeResult random_round(std::mt19937_64& rng, const SeriesKey& key, WallTime time) {
  ProbeResult r;
  r.line = key.line;
  r.target = key.target;
  r.kind = key.kind;
  r.time = time;
  const Duration base = std::chrono::microseconds(500 + pick(rng, 3'000'000));
  if (key.kind == ProbeKind::icmp && pick(rng, 30) != 0) {
    const int pings = 1 + pick(rng, 20);
    for (int i = 0; i < pings; ++i) {
      if (pick(rng, 8) == 0) {
        r.rtts.push_back(std::nullopt);
      } else {
        r.rtts.push_back(base + Duration(pick(rng, 6'000'000) - 3'000'000));
      }
    }
    summarise_echoes(r);
    r.ok = r.received > 0;
    r.reason = r.ok ? Reason::ok : Reason::timeout;
  } else {  // TCP, HTTP, or an ICMP round that sent nothing
    r.ok = key.kind != ProbeKind::icmp && pick(rng, 4) != 0;
    r.reason =
        r.ok ? Reason::ok : static_cast<Reason>(1 + pick(rng, static_cast<int>(kLastReason)));
    if (r.ok || pick(rng, 3) == 0) r.rtt = base;  // a failed round's RTT must not count
  }
  if (!r.ok) r.detail = "failure " + std::to_string(rng() % 1000000);
  return r;
}

std::vector<SeriesKey> random_feed_keys() {
  std::vector<SeriesKey> keys;
  for (const char* line : {"cn2", "cmi"})
    for (ProbeKind kind : kAllProbeKinds) keys.push_back(SeriesKey{line, "openai", kind});
  return keys;
}

// Feeds `steps` random rounds to `board` and `full` alike, with gaps from zero
// (equal arrival times) to longer than `window`, and compares every series
// every few rounds. Returns how many comparisons found rounds, a failure and a
// cut, so callers can check the feed reached those cases.
struct FeedCounts {
  int compared = 0, with_rounds = 0, with_failure = 0, capped = 0, empty = 0;
};
FeedCounts compare_random_feed(std::uint64_t seed, int steps, Duration window, StatusBoard& board,
                               FullBoard& full, FakeClock& clock) {
  std::mt19937_64 rng(seed);
  const std::vector<SeriesKey> keys = random_feed_keys();
  FeedCounts n;
  for (int step = 0; step < steps; ++step) {
    const SeriesKey& key = keys[static_cast<std::size_t>(pick(rng, static_cast<int>(keys.size())))];
    const ProbeResult r = random_round(rng, key, clock.wall_now());
    board.record(r);
    full.record(r, clock.now());
    const int gap = pick(rng, 1000);
    if (gap < 100) {
      // same arrival time
    } else if (gap < 998) {
      clock.advance(Duration(rng() % static_cast<std::uint64_t>(window.count() / 50)));
    } else {
      clock.advance(window + std::chrono::seconds(pick(rng, 30)));
    }
    if (step % 7 != 0) continue;
    for (const SeriesSummary& got : board.snapshot()) {
      CAPTURE(step);
      const SeriesSummary want = full.summary(got.key, clock.now());
      check_same(got, want);
      ++n.compared;
      n.with_rounds += got.rounds > 0;
      n.with_failure += got.last_failure.has_value();
      n.capped += got.capped;
      n.empty += got.rounds == 0;
    }
  }
  return n;
}

ProbeResult pings_round(int i, int pings) {
  ProbeResult r;
  r.line = "l1";
  r.target = "t1";
  r.kind = ProbeKind::icmp;
  r.time = WallTime(std::chrono::seconds(1'800'000'000) + std::chrono::microseconds(100) * i);
  for (int p = 0; p < pings; ++p) {
    const std::int64_t spread =
        (std::int64_t{i} * 7919 + p * 104729) % 1'000'000;  // under 1 ms, varied
    if ((i + p) % 97 == 0) {
      r.rtts.push_back(std::nullopt);
    } else {
      r.rtts.push_back(150ms + Duration(spread));
    }
  }
  summarise_echoes(r);
  r.ok = r.received > 0 && i % 1000 != 7;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  if (!r.ok) r.detail = "round " + std::to_string(i);
  return r;
}

}  // namespace

TEST_CASE("figures match the full window on a seeded random feed below the limits") {
  FakeClock clock;
  const Duration window = 30s;
  StatusBoard board(clock, window);
  FullBoard full(window, std::numeric_limits<std::size_t>::max());
  const FeedCounts n = compare_random_feed(20240611, 20'000, window, board, full, clock);
  // The feed reached every case the comparison is meant to cover.
  CHECK(n.with_rounds > 1000);
  CHECK(n.with_failure > 100);
  CHECK(n.empty > 0);
  CHECK(n.capped == 0);
}

TEST_CASE("figures match the newest rounds on a seeded random feed cut by the round limit") {
  FakeClock clock;
  const Duration window = 30s;
  StatusBoardLimits limits;
  limits.max_rounds = 12;
  StatusBoard board(clock, window, limits);
  FullBoard full(window, limits.max_rounds);
  const FeedCounts n = compare_random_feed(7, 20'000, window, board, full, clock);
  CHECK(n.capped > 100);
  CHECK(n.compared - n.capped > 100);
  CHECK(n.with_failure > 100);
}

TEST_CASE("the round limit holds over a million rounds in one series") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  const std::size_t cap = board.limits().max_rounds;
  REQUIRE(cap == 4096);
  const SeriesKey key{"l1", "t1", ProbeKind::icmp};
  const int total = 1'000'000;
  std::deque<ProbeResult> newest;  // the rounds the summary must cover
  std::deque<MonoTime> arrived;    // and their arrivals, as the board keeps them
  MonoTime newest_cut{};
  std::size_t most_held = 0;
  for (int i = 0; i < total; ++i) {
    ProbeResult r = pings_round(i, 5);
    board.record(r);
    newest.push_back(std::move(r));
    arrived.push_back(arrival_ms(clock.now()));
    if (newest.size() > cap) {
      newest.pop_front();
      newest_cut = arrived.front();
      arrived.pop_front();
    }
    clock.advance(100us);  // 10,000 rounds/s: 100 s of rounds, all inside the window
    if (i % 1000 == 0) most_held = std::max(most_held, board.usage(key).rounds);
  }
  const SeriesUsage held = board.usage(key);
  CHECK(held.rounds == cap);
  CHECK(most_held <= cap);
  CHECK(held.echo_bytes <= board.limits().max_echo_bytes);

  const auto snap = board.snapshot();
  REQUIRE(snap.size() == 1);
  SeriesSummary want = full_summary(key, newest);
  want.latest = newest.back();
  want.capped = true;  // a million rounds arrived inside the window: most were cut
  want.covered = clock.now() - arrived.front();
  CHECK(want.covered > 100us * static_cast<int>(cap) - 1ms);
  check_same(snap[0], want);
  CHECK(snap[0].last_failure_detail == "round 999007");

  // Once the cut rounds would have aged out anyway, the window is whole again.
  // The newest cut round shares its millisecond with the oldest kept ones:
  // they leave together, 1 ns past the window.
  clock.advance(newest_cut + 5min + 1ns - clock.now());
  while (arrived.front() == newest_cut) {
    newest.pop_front();
    arrived.pop_front();
  }
  REQUIRE(newest.size() < cap);
  REQUIRE(newest.size() > cap - 20);  // ten rounds a millisecond
  const SeriesSummary whole = board.snapshot().at(0);
  CHECK_FALSE(whole.capped);
  SeriesSummary all = full_summary(key, newest);
  all.latest = newest.back();
  all.covered = 5min - (arrived.front() - newest_cut) + 1ns;
  check_same(whole, all);
  CHECK(all.covered == 5min - 1ms + 1ns);  // the next millisecond's rounds: 1 ms younger
}

TEST_CASE("the echo byte budget holds and the summary covers the rounds it keeps") {
  FakeClock clock;
  StatusBoardLimits limits;
  limits.max_echo_bytes = 1000;
  StatusBoard board(clock, 5min, limits);
  FullBoard full(5min, std::numeric_limits<std::size_t>::max());
  const SeriesKey key{"l1", "t1", ProbeKind::icmp};
  std::size_t most_bytes = 0;
  for (int i = 0; i < 200; ++i) {
    const ProbeResult r = pings_round(i, 40);
    board.record(r);
    full.record(r, clock.now());
    most_bytes = std::max(most_bytes, board.usage(key).echo_bytes);
    clock.advance(1s);
  }
  const SeriesUsage held = board.usage(key);
  CHECK(most_bytes <= limits.max_echo_bytes);
  CHECK(held.rounds < 200);
  // At most 2 bytes an RTT here: microseconds within 1 ms of the one before.
  CHECK(held.rounds >= limits.max_echo_bytes / (40 * 2));
  full.keep_newest(key, held.rounds);
  SeriesSummary want = full.summary(key, clock.now());
  want.capped = true;
  check_same(board.snapshot().at(0), want);
}

TEST_CASE("a round larger than the echo byte budget is kept on its own") {
  FakeClock clock;
  StatusBoardLimits limits;
  limits.max_echo_bytes = 10;
  StatusBoard board(clock, 5min, limits);
  const SeriesKey key{"l1", "t1", ProbeKind::icmp};
  board.record(pings_round(1, 60));
  clock.advance(1s);
  board.record(pings_round(2, 60));
  CHECK(board.usage(key).rounds == 1);
  SeriesSummary want = full_summary(key, {pings_round(2, 60)});
  want.latest = pings_round(2, 60);
  want.capped = true;
  check_same(board.snapshot().at(0), want);
}

TEST_CASE("a round costs a few bytes besides its RTTs") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  std::mt19937_64 rng(3);
  const int rounds = 250;  // all inside the window: 250 s
  for (int i = 0; i < rounds; ++i) {
    // 5 pings within ±0.5 ms of an RTT anywhere from 1 ms to 17 s.
    const Duration base = std::chrono::milliseconds(1 + pick(rng, 17'000));
    std::vector<std::optional<Duration>> rtts;
    for (int p = 0; p < 5; ++p) rtts.push_back(base + Duration(pick(rng, 1'000'001) - 500'000));
    board.record(icmp_round(std::move(rtts)));
    board.record(tcp_round(true, base));
    // Rounds every second, each gap within 1 ms of the one before.
    clock.advance(1s + Duration(pick(rng, 900'001) - 450'000));
  }
  const SeriesUsage icmp = board.usage(SeriesKey{"l1", "t1", ProbeKind::icmp});
  const SeriesUsage tcp = board.usage(SeriesKey{"l1", "t1", ProbeKind::tcp});
  REQUIRE(icmp.rounds == rounds);
  REQUIRE(tcp.rounds == rounds);
  // Gaps that move by up to ±0.9 s take 2 bytes, the head 1 (TCP: 2, with
  // its RTT count); a first RTT up to 17 s from the round before's first 4
  // bytes, each further one within ±1 ms of the one before 2: at most
  // 2 + 1 + 4 + 4 · 2 = 15 bytes for such an ICMP round, 2 + 2 + 4 for TCP.
  // The first round of a series pays its arrival in full.
  CHECK(icmp.echo_bytes <= 12u * rounds);
  CHECK(tcp.echo_bytes <= 4u * rounds);
  CHECK(icmp.bytes <= 15u * rounds + 8);
  CHECK(tcp.bytes <= 8u * rounds + 8);
  CHECK(icmp.capacity >= icmp.bytes);
  CHECK(icmp.capacity <= icmp.bytes + icmp.bytes / 8 + 16);
}

namespace {

// Bytes a round of a 1-ping ICMP series every 1 s ± 30 ms (each gap on its
// own) costs in the window once it is full, its RTT drawn by `rtt`.
template <typename Rtt>
double steady_bytes_a_round(Rtt rtt) {
  FakeClock clock(WallTime(1'800'000'000s));
  clock.advance(std::chrono::hours(24 * 40));  // a monotonic clock 40 days since boot
  StatusBoard board(clock, 5min);
  std::mt19937_64 rng(42);
  for (int i = 0; i < 600; ++i) {  // 10 minutes: the window turns over once
    board.record(icmp_round({rtt(rng)}));
    clock.advance(1s + Duration(pick(rng, 60'000'001) - 30'000'000));
  }
  const SeriesUsage held = board.usage(SeriesKey{"l1", "t1", ProbeKind::icmp});
  REQUIRE(held.rounds >= 290);
  CHECK(held.capacity <= held.bytes + held.bytes / 8 + 16);
  return static_cast<double>(held.bytes) / static_cast<double>(held.rounds);
}

}  // namespace

TEST_CASE("a steady one-ping round costs 3 bytes near 50 us and 4 near 150 ms") {
  // 1 byte of gap change (under ±64 ms), 1 of head, then the RTT's change
  // from the round before in microseconds: 1 byte within ±63 us, 2 within
  // ±8 ms. Before: 8 and 10 bytes (RTTs and arrivals to the nanosecond).
  const double near_50us = steady_bytes_a_round(
      [](std::mt19937_64& rng) { return Duration(40'000 + pick(rng, 20'001)); });
  const double near_150ms = steady_bytes_a_round(
      [](std::mt19937_64& rng) { return 150ms + Duration(pick(rng, 2'000'001) - 1'000'000); });
  CAPTURE(near_50us);
  CAPTURE(near_150ms);
  CHECK(near_50us <= 3.0);
  CHECK(near_150ms <= 4.0);  // some RTTs move by under 64 us: 1 byte
}

TEST_CASE("the window keeps RTTs in whole microseconds and arrivals rounded up to the ms") {
  FakeClock clock;
  clock.advance(200us);  // the round arrives 0.8 ms before its millisecond ends
  StatusBoard board(clock, 5min);
  const SeriesKey key{"l1", "t1", ProbeKind::icmp};
  board.record(icmp_round({1'499ns, 1'500ns, 2'500ns, 7'654'321ns}));
  SeriesSummary s = board.snapshot().at(0);
  // Nearest microsecond (to_micros): 1, 2, 3 and 7654 us.
  CHECK(*s.rtt_median == 2us);
  CHECK(*s.rtt_p95 == 7'654us);
  CHECK(*s.jitter == Duration((1'000 + 1'000 + 7'651'000) / 3));
  CHECK(s.latest.rtts.at(0) == 1'499ns);  // the latest round stays exact
  CHECK(s.covered == 0ns);                // it arrived at 1 ms, the clock says 0.2 ms

  // Never early: the round is still in the window `window` after it arrived,
  // and still 0.8 ms later; it leaves within the millisecond after.
  clock.advance(5min);
  CHECK(board.snapshot().at(0).rounds == 1);
  clock.advance(800us);
  s = board.snapshot().at(0);
  CHECK(s.rounds == 1);
  CHECK(s.covered == 5min);
  clock.advance(1ns);
  CHECK(board.snapshot().at(0).rounds == 0);
}

TEST_CASE("a series costs a few hundred bytes besides its rounds") {
  FakeClock clock;
  StatusBoard board(clock, 5min);
  const SeriesKey key{"l1", "t1", ProbeKind::icmp};
  for (int i = 0; i < 100; ++i) {
    board.record(icmp_round({Duration(50'000 + i)}));
    clock.advance(1s);
  }
  // Its map node (key, ring and bookkeeping) and its latest round's ~30
  // bytes; about 740 bytes when it kept a whole ProbeResult.
  const std::size_t healthy = board.usage(key).fixed;
  MESSAGE("a 1-ping ICMP series without failures: ", healthy, " bytes besides its rounds");
  CHECK(healthy <= 280);
  CHECK(healthy >= sizeof(SeriesKey));  // it counts something real
  // A failure adds itself and its detail, once.
  ProbeResult failed = icmp_round({std::nullopt});
  failed.detail = std::string(100, 'x');
  board.record(failed);
  board.record(icmp_round({50us}));
  const std::size_t after_failure = board.usage(key).fixed;
  CHECK(after_failure > healthy + 100);
  CHECK(after_failure <= healthy + 100 + 100);
  // Long names pay their heap.
  ProbeResult named = icmp_round({50us});
  named.target = std::string(64, 't');
  board.record(named);
  CHECK(board.usage(SeriesKey{"l1", named.target, ProbeKind::icmp}).fixed >= healthy + 64);
}

TEST_CASE(
    "a steady one-ping series wraps its ring, ages rounds out by time and keeps its figures") {
  FakeClock clock;
  const Duration window = 5min;
  StatusBoard board(clock, window);
  FullBoard full(window, std::numeric_limits<std::size_t>::max());
  const SeriesKey key{"l1", "t1", ProbeKind::icmp};
  std::mt19937_64 rng(11);
  std::size_t most_capacity = 0;
  for (int i = 0; i < 1200; ++i) {  // 20 minutes: the window turns over four times
    std::vector<std::optional<Duration>> rtts{std::nullopt};
    if (pick(rng, 50) != 0) rtts[0] = std::chrono::microseconds(20 + pick(rng, 80));
    const ProbeResult r = icmp_round(std::move(rtts));
    board.record(r);
    full.record(r, clock.now());
    clock.advance(1s + Duration(pick(rng, 600'001) - 300'000));
    if (i >= 400) most_capacity = std::max(most_capacity, board.usage(key).capacity);
    if (i % 97 == 0) check_same(board.snapshot().at(0), full.summary(key, clock.now()));
  }
  const SeriesUsage held = board.usage(key);
  // About 300 rounds of at most 2 + 1 + 2 bytes: gaps moving by up to
  // ±0.6 s, RTTs by up to ±80 us (a lost echo: 2 + 2).
  CHECK(held.rounds >= 295);
  CHECK(held.rounds <= 301);
  CHECK(held.bytes <= 5 * held.rounds);
  CHECK(most_capacity <= 5 * 301 + 5 * 301 / 8 + 16);
  check_same(board.snapshot().at(0), full.summary(key, clock.now()));
  // Past the window with nothing new, every round leaves and the ring is freed.
  clock.advance(window + 1ns);
  const SeriesSummary empty = board.snapshot().at(0);
  CHECK(empty.rounds == 0);
  CHECK(board.usage(key).bytes == 0);
  CHECK(board.usage(key).capacity == 0);
}

TEST_CASE("RTTs at the extremes of Duration come out as the alert windows keep them") {
  const std::vector<std::vector<std::optional<Duration>>> cases = {
      {0ns, 1ns, -3ns, 1h, Duration(std::numeric_limits<Duration::rep>::max() / 4),
       Duration(std::numeric_limits<Duration::rep>::min() / 4), std::nullopt, 150ms},
      {Duration::max()},
      {Duration::min()},
      {Duration::min() + 1ns, Duration::min()},
  };
  for (const auto& rtts : cases) {
    FakeClock clock;
    StatusBoard board(clock, 5min);
    ProbeResult r;  // summarise_echoes would overflow on these: only the fields the board reads
    r.line = "l1";
    r.target = "t1";
    r.kind = ProbeKind::icmp;
    r.rtts = rtts;
    r.sent = static_cast<int>(rtts.size());
    r.received = static_cast<int>(
        std::count_if(rtts.begin(), rtts.end(), [](const auto& v) { return v.has_value(); }));
    r.ok = true;
    r.reason = Reason::ok;
    board.record(r);
    SeriesSummary want = full_summary(SeriesKey{"l1", "t1", ProbeKind::icmp}, {r});
    want.latest = r;
    CAPTURE(rtts.size());
    check_same(board.snapshot().at(0), want);
  }
}

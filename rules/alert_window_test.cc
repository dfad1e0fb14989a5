#include "rules/alert_window.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const MonoTime t0 = MonoTime(std::chrono::hours(1));

// An ICMP round whose echoes took `rtts` (nullopt: lost).
ProbeResult icmp(std::vector<std::optional<Duration>> rtts) {
  ProbeResult r;
  r.line = "cn2";
  r.target = "reflector";
  r.kind = ProbeKind::icmp;
  r.sent = static_cast<int>(rtts.size());
  r.rtts = std::move(rtts);
  summarise_echoes(r);
  r.ok = r.received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  return r;
}

// A TCP or HTTP round that ended with `reason`, its headline RTT `rtt`.
ProbeResult round(ProbeKind kind, Reason reason, std::optional<Duration> rtt = std::nullopt) {
  ProbeResult r;
  r.line = "cn2";
  r.target = "api";
  r.kind = kind;
  r.reason = reason;
  r.ok = reason == Reason::ok;
  r.rtt = rtt;
  return r;
}

}  // namespace

TEST_CASE("alert window: rtt median, p95 and jitter over each echo and round") {
  AlertWindow w(AlertSource::rtt, 5min);
  CHECK_FALSE(w.value(AlertMetric::rtt_p95, t0));
  w.add_round(icmp({10ms, 20ms, 30ms, std::nullopt, 40ms}), t0, 1);
  // Four RTTs: nearest rank median is the 2nd (20), p95 the 4th (40);
  // jitter is |20-10|, |30-20|, |40-30| averaged: the lost echo makes no pair.
  CHECK(*w.value(AlertMetric::rtt_median, t0) == 20);
  CHECK(*w.value(AlertMetric::rtt_p95, t0) == 40);
  CHECK(*w.value(AlertMetric::jitter, t0) == 10);
  // An HTTP round adds its total; a series of its own adds no jitter pair.
  w.add_round(round(ProbeKind::http, Reason::ok, 1000ms), t0 + 1s, 2);
  CHECK(*w.value(AlertMetric::rtt_median, t0 + 1s) == 30);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 1s) == 1000);
  CHECK(*w.value(AlertMetric::jitter, t0 + 1s) == 10);
  // Its next round pairs with it: |1300 - 1000| joins the three pairs of 10.
  w.add_round(round(ProbeKind::http, Reason::ok, 1300ms), t0 + 2s, 2);
  CHECK(*w.value(AlertMetric::jitter, t0 + 2s) == (10 + 10 + 10 + 300) / 4.0);
  // Not this source's metrics.
  CHECK_FALSE(w.value(AlertMetric::loss, t0 + 2s));
  CHECK_FALSE(w.value(AlertMetric::availability, t0 + 2s));
}

TEST_CASE("alert window: a round without an RTT adds no rtt sample") {
  AlertWindow w(AlertSource::rtt, 5min);
  w.add_round(round(ProbeKind::tcp, Reason::refused), t0);
  w.add_round(icmp({std::nullopt, std::nullopt}), t0);
  CHECK(w.size() == 0);
  CHECK_FALSE(w.value(AlertMetric::rtt_median, t0));
  w.add_round(round(ProbeKind::tcp, Reason::ok, 7ms), t0);
  CHECK(*w.value(AlertMetric::rtt_median, t0) == 7);
  CHECK_FALSE(w.value(AlertMetric::jitter, t0));  // one sample, no pair
}

TEST_CASE("alert window: loss counts echoes and network failures only") {
  AlertWindow w(AlertSource::loss, 5min);
  w.add_round(icmp({10ms, std::nullopt, 10ms, 10ms, 10ms}), t0);  // 1 of 5 lost
  w.add_round(round(ProbeKind::http, Reason::timeout), t0);       // lost (network)
  w.add_round(round(ProbeKind::tcp, Reason::refused), t0);        // lost (network)
  w.add_round(round(ProbeKind::http, Reason::http_status), t0);   // answered: the endpoint's
  w.add_round(round(ProbeKind::http, Reason::ok, 5ms), t0);       // answered
  w.add_round(round(ProbeKind::tcp, Reason::bind), t0);           // local: not sampled
  CHECK(w.size() == 9);
  CHECK(*w.value(AlertMetric::loss, t0) == 3.0 / 9.0);
  // A round summarised without its echoes counts sent and received.
  ProbeResult counted;
  counted.kind = ProbeKind::icmp;
  counted.sent = 4;
  counted.received = 1;
  w.add_round(counted, t0);
  CHECK(*w.value(AlertMetric::loss, t0) == 6.0 / 13.0);
}

TEST_CASE("alert window: failures counts failed rounds of any reason") {
  AlertWindow w(AlertSource::failures, 5min);
  w.add_round(round(ProbeKind::http, Reason::ok, 5ms), t0);
  CHECK(*w.value(AlertMetric::failures, t0) == 0);
  w.add_round(round(ProbeKind::http, Reason::http_status), t0);
  w.add_round(round(ProbeKind::tcp, Reason::bind), t0);
  w.add_round(icmp({std::nullopt}), t0);
  CHECK(*w.value(AlertMetric::failures, t0) == 3);
}

TEST_CASE("alert window: samples older than the window leave it") {
  AlertWindow w(AlertSource::failures, 1min);
  w.add_round(round(ProbeKind::tcp, Reason::timeout), t0);
  w.add_round(round(ProbeKind::tcp, Reason::timeout), t0 + 30s);
  CHECK(*w.value(AlertMetric::failures, t0 + 60s) == 2);  // exactly a window old: still in
  CHECK(*w.value(AlertMetric::failures, t0 + 61s) == 1);
  CHECK(*w.value(AlertMetric::failures, t0 + 90s) == 1);
  CHECK_FALSE(w.value(AlertMetric::failures, t0 + 91s));
  CHECK(w.expire(t0 + 91s));
}

TEST_CASE("alert window: ttft p95 by nearest rank") {
  AlertWindow w(AlertSource::ttft, 5min);
  for (int i = 1; i <= 20; ++i) w.add_ttft(std::chrono::milliseconds(100 * i), t0);
  // 20 samples: rank ceil(0.95 × 20) = 19, 1900 ms.
  CHECK(*w.value(AlertMetric::ttft_p95, t0) == 1900);
  w.add_round(round(ProbeKind::http, Reason::ok, 5ms), t0);  // not a ttft sample
  CHECK(w.size() == 20);
}

TEST_CASE("alert window: bandwidth utilisation is weighted by each interval") {
  AlertWindow w(AlertSource::bandwidth, 5min);
  w.add_bandwidth(0.5, 1s, t0);
  w.add_bandwidth(0.9, 3s, t0 + 3s);
  w.add_bandwidth(1.0, Duration::zero(), t0 + 3s);  // no interval: no weight, not kept
  CHECK(*w.value(AlertMetric::bandwidth_utilisation, t0 + 3s) == doctest::Approx(0.8));
  CHECK(w.size() == 2);
}

TEST_CASE("alert window: the sample cap keeps the newest") {
  AlertWindow w(AlertSource::rtt, 5min, 3);
  for (int i = 1; i <= 5; ++i) w.add_round(round(ProbeKind::tcp, Reason::ok, i * 1ms), t0);
  CHECK(w.size() == 3);
  CHECK(*w.value(AlertMetric::rtt_median, t0) == 4);  // of 3, 4, 5
  w.clear();
  CHECK(w.size() == 0);
  CHECK_FALSE(w.value(AlertMetric::rtt_median, t0));
}

TEST_CASE("alert window: a cached value follows samples that come and go") {
  AlertWindow w(AlertSource::rtt, 10s);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 100ms), t0);
  CHECK(*w.value(AlertMetric::rtt_p95, t0) == 100);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 50ms), t0 + 5s);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 5s) == 100);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 11s) == 50);  // the 100 ms sample aged out
}

TEST_CASE("alert window: several lengths over one set of samples") {
  AlertWindow w(AlertSource::failures, {1min, 5min});
  w.add_round(round(ProbeKind::tcp, Reason::timeout), t0);
  w.add_round(round(ProbeKind::tcp, Reason::timeout), t0 + 4min);
  CHECK(*w.value(AlertMetric::failures, t0 + 4min, 0) == 1);
  CHECK(*w.value(AlertMetric::failures, t0 + 4min, 1) == 2);
  CHECK(w.longest() == 5min);
  // The short length empties while the long one still holds its sample.
  CHECK_FALSE(w.value(AlertMetric::failures, t0 + 5min + 1s, 0));
  CHECK(*w.value(AlertMetric::failures, t0 + 5min + 1s, 1) == 1);
  CHECK_FALSE(w.value(AlertMetric::failures, t0 + 5min + 1s, 2));  // no such length
  // A sample the cap pushes out leaves every length it was in.
  AlertWindow capped(AlertSource::failures, {1min, 5min}, 2);
  capped.add_round(round(ProbeKind::tcp, Reason::timeout), t0);
  capped.add_round(round(ProbeKind::tcp, Reason::ok, 1ms), t0 + 10s);
  CHECK(*capped.value(AlertMetric::failures, t0 + 10s, 0) == 1);
  CHECK(*capped.value(AlertMetric::failures, t0 + 10s, 1) == 1);
  capped.add_round(round(ProbeKind::tcp, Reason::ok, 1ms), t0 + 20s);
  CHECK(*capped.value(AlertMetric::failures, t0 + 20s, 0) == 0);
  CHECK(*capped.value(AlertMetric::failures, t0 + 20s, 1) == 0);
}

TEST_CASE(
    "alert window: jitter keeps series apart across the cap, a rewindow and an empty window") {
  // Two series interleaved: 1 rises by 10 ms a round, 2 by 100 ms. Taken as
  // one series the pairs would be about 100 ms apart; kept apart, the mean of
  // 10s and 100s.
  AlertWindow w(AlertSource::rtt, 10s, 4);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 10ms), t0, 1);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 20ms), t0, 1);
  CHECK(*w.value(AlertMetric::jitter, t0) == 10);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 500ms), t0, 2);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 600ms), t0, 2);
  CHECK(*w.value(AlertMetric::jitter, t0) == (10 + 100) / 2.0);
  // The cap pushes out 10 ms: series 1 keeps 20, 30 (one pair of 10).
  w.add_round(round(ProbeKind::tcp, Reason::ok, 30ms), t0, 1);
  CHECK(w.size() == 4);
  CHECK(*w.value(AlertMetric::jitter, t0) == (10 + 100) / 2.0);
  // A rewindowed copy of the newest three (500, 600, 30): series 2's pair
  // only; were 30 taken for series 2, |30 - 600| would join it.
  AlertWindow copy = w.rewindowed({10s}, 3);
  CHECK(*copy.value(AlertMetric::jitter, t0) == 100);
  // Once every sample aged out, a new series starts on its own.
  CHECK(w.expire(t0 + 11s));
  w.add_round(round(ProbeKind::tcp, Reason::ok, 1000ms), t0 + 11s, 3);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 1003ms), t0 + 11s, 3);
  CHECK(w.size() == 2);
  CHECK(*w.value(AlertMetric::jitter, t0 + 11s) == 3);
}

TEST_CASE("alert window: arrival times stay exact across offsets that pass 32 bits") {
  // 1 ms units from the first sample: three hours of one round a minute are
  // whole units, so each sample leaves exactly when it is a window old,
  // never early.
  AlertWindow w(AlertSource::failures, 15min);
  REQUIRE(w.time_unit() == 1ms);
  for (int minute = 0; minute <= 180; ++minute) {
    const MonoTime at = t0 + std::chrono::minutes(minute);
    w.add_round(round(ProbeKind::tcp, Reason::timeout), at);
    CHECK(*w.value(AlertMetric::failures, at) == std::min(minute + 1, 16));
  }
  const MonoTime last = t0 + 180min;
  CHECK(*w.value(AlertMetric::failures, last + 1min) == 15);
  CHECK(*w.value(AlertMetric::failures, last + 1min + 1us) == 14);
  // Samples never asked about stay, however far apart (2^32 units are 49.7
  // days), until an expiry or the cap takes them.
  AlertWindow quiet(AlertSource::failures, 15min);
  quiet.add_round(round(ProbeKind::tcp, Reason::timeout), t0);
  quiet.add_round(round(ProbeKind::tcp, Reason::timeout), t0 + 60min);
  quiet.add_round(round(ProbeKind::tcp, Reason::timeout), t0 + 80min);
  CHECK(quiet.size() == 3);
  CHECK(*quiet.value(AlertMetric::failures, t0 + 80min) == 1);
  CHECK(quiet.size() == 1);
  // A long window counts in the same units.
  AlertWindow day(AlertSource::failures, 24h);
  CHECK(day.time_unit() == 1ms);
  day.add_round(round(ProbeKind::tcp, Reason::timeout), t0);
  day.add_round(round(ProbeKind::tcp, Reason::timeout), t0 + 20h + 250us);
  CHECK(*day.value(AlertMetric::failures, t0 + 24h) == 2);
  CHECK(*day.value(AlertMetric::failures, t0 + 24h + 1ns) == 1);  // the first is unit 0: exact
  // 20 h 250 us is not a whole number of units: kept 750 us later, never earlier.
  CHECK(*day.value(AlertMetric::failures, t0 + 44h + 250us) == 1);
  CHECK(*day.value(AlertMetric::failures, t0 + 44h + 1ms) == 1);
  CHECK_FALSE(day.value(AlertMetric::failures, t0 + 44h + 1ms + 1ns));
}

TEST_CASE("alert window: latencies in whole microseconds, saturating above 71 minutes") {
  AlertWindow w(AlertSource::rtt, 5min);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 1234us), t0);
  CHECK(*w.value(AlertMetric::rtt_p95, t0) == 1.234);
  // Below a microsecond rounds to the nearest.
  CHECK(to_micros(Duration(1499)) == 1);
  CHECK(to_micros(Duration(1500)) == 2);
  CHECK(to_micros(Duration(-5)) == 0);
  // An RTT past the 32-bit range counts as 2^32 - 2 us: above any threshold
  // (at most 1 h), not wrapped to a small one.
  w.add_round(round(ProbeKind::tcp, Reason::ok, 2h), t0 + 1s);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 1s) == 4294967.294);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 1s) > 3600 * 1000.0);
  CHECK(to_micros(std::chrono::microseconds(kMaxMicros) + 1us) == kMaxMicros);
  // An echo as long is not taken for a lost one.
  AlertWindow loss(AlertSource::loss, 5min);
  loss.add_round(icmp({2h, std::nullopt}), t0);
  CHECK(*loss.value(AlertMetric::loss, t0) == 0.5);
}

TEST_CASE("alert window: samples take room as they come and give it back") {
  AlertWindow w(AlertSource::rtt, 5min);
  CHECK(w.capacity() == 0);  // nothing before the first sample
  for (int i = 0; i < 300; ++i)
    w.add_round(round(ProbeKind::tcp, Reason::ok, 10ms), t0 + std::chrono::seconds(i));
  CHECK(w.size() == 300);
  CHECK(w.capacity() >= 300);
  CHECK(w.capacity() <= 450);  // grows by half, not by blocks
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 299s) == 10);
  // Most samples age out: the room shrinks with them, and goes once empty.
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 299s + 5min - 10s) == 10);
  CHECK(w.size() == 11);
  CHECK(w.capacity() <= 22);
  CHECK(w.expire(t0 + 1h));
  CHECK(w.capacity() == 0);
  // The cap bounds the room too.
  AlertWindow capped(AlertSource::loss, 5min, 10);
  for (int i = 0; i < 100; ++i) capped.add_round(icmp({1ms}), t0);
  CHECK(capped.size() == 10);
  CHECK(capped.capacity() == 10);
}

TEST_CASE("alert window: a round keeps every echo beyond the inline ones") {
  ProbeResult r = icmp({1ms, 2ms, std::nullopt, 4ms, 5ms, 6ms, std::nullopt, 8ms});
  const AlertRound compact(r);
  REQUIRE(compact.echoes() == 8);
  CHECK(compact.echo(5) == 6000);
  CHECK(compact.echo(6) == AlertRound::kNone);
  AlertWindow rtt(AlertSource::rtt, 5min);
  rtt.add_round(compact, t0);
  CHECK(rtt.size() == 6);
  CHECK(*rtt.value(AlertMetric::rtt_p95, t0) == 8);
  AlertWindow loss(AlertSource::loss, 5min);
  loss.add_round(compact, t0);
  CHECK(*loss.value(AlertMetric::loss, t0) == 2.0 / 8.0);
}

namespace {

// A plain model of a window: every sample with its arrival as the window
// documents it (whole milliseconds from the first since it was last empty,
// rounded up), values recomputed from scratch by their definitions.
class ReferenceWindow {
 public:
  struct Sample {
    MonoTime at;
    std::uint32_t v;
    std::uint32_t series;
    double utilisation;
    Duration interval;
  };

  ReferenceWindow(AlertSource source, std::vector<Duration> lengths, std::size_t max)
      : source_(source), lengths_(std::move(lengths)), max_(max) {
    for (Duration l : lengths_) longest_ = std::max(longest_, l);
  }

  void add(MonoTime at, std::uint32_t v, std::uint32_t series = 0, double utilisation = 0,
           Duration interval = {}) {
    if (samples_.empty()) origin_ = at;
    if (samples_.size() >= max_) samples_.erase(samples_.begin());
    const std::int64_t ns = std::max<std::int64_t>((at - origin_).count(), 0);
    MonoTime kept = origin_ + std::chrono::milliseconds((ns + 999'999) / 1'000'000);
    if (!samples_.empty()) kept = std::max(kept, samples_.back().at);
    samples_.push_back({kept, v, series, utilisation, interval});
  }
  void expire(MonoTime now) {
    while (!samples_.empty() && now - samples_.front().at > longest_)
      samples_.erase(samples_.begin());
  }
  void clear() { samples_.clear(); }
  std::size_t size() const { return samples_.size(); }
  const std::vector<Sample>& samples() const { return samples_; }

  std::optional<double> value(AlertMetric metric, MonoTime now, std::size_t length) {
    if (source_of(metric) != source_ || length >= lengths_.size()) return std::nullopt;
    expire(now);
    std::vector<Sample> in;
    for (const Sample& s : samples_)
      if (now - s.at <= lengths_[length]) in.push_back(s);
    if (in.empty()) return std::nullopt;
    switch (metric) {
      case AlertMetric::rtt_median:
        return rank(in, 0.5);
      case AlertMetric::rtt_p95:
      case AlertMetric::ttft_p95:
        return rank(in, 0.95);
      case AlertMetric::jitter:
        return jitter(in);
      case AlertMetric::loss:
      case AlertMetric::failures: {
        double marked = 0;
        for (const Sample& s : in) marked += s.v;
        return metric == AlertMetric::loss ? marked / static_cast<double>(in.size()) : marked;
      }
      case AlertMetric::bandwidth_utilisation: {
        double weighted = 0, total = 0;
        for (const Sample& s : in) {
          weighted += s.utilisation * static_cast<double>(s.interval.count());
          total += static_cast<double>(s.interval.count());
        }
        return weighted / total;
      }
      case AlertMetric::availability:
        return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  // Nearest rank, in milliseconds.
  static double rank(const std::vector<Sample>& in, double q) {
    std::vector<std::uint32_t> us;
    for (const Sample& s : in) us.push_back(s.v);
    std::sort(us.begin(), us.end());
    const auto r = static_cast<std::size_t>(std::ceil(q * static_cast<double>(us.size())));
    return static_cast<double>(us[std::clamp<std::size_t>(r, 1, us.size()) - 1]) / 1000.0;
  }
  static std::optional<double> jitter(const std::vector<Sample>& in) {
    std::map<std::uint32_t, std::uint32_t> last;
    double sum = 0;  // nanoseconds
    std::size_t pairs = 0;
    for (const Sample& s : in) {
      auto it = last.find(s.series);
      if (it != last.end()) {
        const std::int64_t d = std::int64_t{s.v} - std::int64_t{it->second};
        sum += static_cast<double>((d < 0 ? -d : d) * 1000);
        ++pairs;
      }
      last[s.series] = s.v;
    }
    if (pairs == 0) return std::nullopt;
    return to_ms(Duration(static_cast<std::int64_t>(sum / static_cast<double>(pairs))));
  }

  AlertSource source_;
  std::vector<Duration> lengths_;
  std::size_t max_;
  Duration longest_{};
  MonoTime origin_{};
  std::vector<Sample> samples_;
};

std::vector<AlertMetric> metrics_of(AlertSource source) {
  std::vector<AlertMetric> out;
  for (AlertMetric m :
       {AlertMetric::rtt_median, AlertMetric::rtt_p95, AlertMetric::jitter, AlertMetric::loss,
        AlertMetric::failures, AlertMetric::ttft_p95, AlertMetric::bandwidth_utilisation})
    if (source_of(m) == source) out.push_back(m);
  return out;
}

// Feeds one window and its model the same random samples, times, expiries,
// clears and rewindows, and compares every value after each step.
class RandomFeed {
 public:
  RandomFeed(AlertSource source, std::uint32_t seed)
      : source_(source),
        rng_(seed),
        lengths_(pick_lengths()),
        max_(pick_max()),
        window_(source, lengths_, max_),
        model_(source, lengths_, max_) {}

  void run(int steps) {
    for (int i = 0; i < steps; ++i) {
      advance();
      const int op = pick(0, 199);
      if (op < 130) {
        add();
      } else if (op < 186) {
        compare();
      } else if (op < 196) {
        CHECK(window_.expire(now_) == (model_.expire(now_), model_.size() == 0));
      } else if (op < 198) {
        window_.clear();
        model_.clear();
      } else {
        rewindow();
      }
      REQUIRE(window_.size() == model_.size());
    }
    compare();
  }

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  std::vector<Duration> pick_lengths() {
    const std::vector<Duration> all{10s, 1min, 5min, 1h, std::chrono::hours(24 * 120)};
    std::vector<Duration> out;
    for (Duration l : all)
      if (pick(0, 2) == 0) out.push_back(l);
    if (out.empty()) out.push_back(all[static_cast<std::size_t>(pick(0, 4))]);
    return out;
  }
  std::size_t pick_max() {  // mostly uncapped, so windows grow and wrap their rings
    const std::size_t all[] = {1, 2, 7, 100, AlertWindow::kMaxSamples};
    return all[std::min(pick(0, 7), 4)];
  }
  // Mostly 1 s ± 30 ms with sub-millisecond parts; sometimes no time at
  // all, minutes, or more than 2^32 milliseconds.
  void advance() {
    const int kind = pick(0, 99);
    Duration step = 1s + std::chrono::microseconds(pick(-30000, 30000)) + Duration(pick(0, 999));
    if (kind < 15) step = Duration::zero();
    if (kind >= 95) step = std::chrono::minutes(pick(1, 90)) + Duration(pick(0, 999'999));
    if (kind == 99 && pick(0, 9) == 0) step = std::chrono::hours(24 * 50) + 1ns;
    if (kind >= 92 && kind < 95 && model_.size() > 0) {  // on the oldest's way out, or just past
      const auto& kept = model_.samples()[static_cast<std::size_t>(
          pick(0, std::min(3, static_cast<int>(model_.size()) - 1)))];
      const MonoTime edge =
          kept.at +
          lengths_[static_cast<std::size_t>(pick(0, static_cast<int>(lengths_.size()) - 1))] +
          Duration(pick(0, 1));
      step = std::max(edge - now_, Duration::zero());
    }
    now_ += step;
  }
  std::uint32_t latency() {
    switch (pick(0, 3)) {
      case 0:
        return static_cast<std::uint32_t>(50 + pick(-5, 5));
      case 1:
        return static_cast<std::uint32_t>(150000 + pick(-1000, 1000));
      case 2:
        return pick(0, 1) ? 0 : kMaxMicros;
      default:
        return static_cast<std::uint32_t>(pick(0, std::numeric_limits<int>::max()));
    }
  }
  void add() {
    const auto series = static_cast<std::uint32_t>(pick(0, mixed_ ? 2 : 0));
    AlertRound r;
    switch (source_) {
      case AlertSource::rtt:
      case AlertSource::loss:
        r.kind = ProbeKind::icmp;
        for (int i = pick(1, 6); i > 0; --i) {
          const bool lost = pick(0, 4) == 0;
          const std::uint32_t us = latency();
          r.add_echo(lost ? std::nullopt : std::optional<Duration>(std::chrono::microseconds(us)));
          if (source_ == AlertSource::loss) model_.add(now_, lost ? 1 : 0, series);
          if (source_ == AlertSource::rtt && !lost) model_.add(now_, us, series);
        }
        window_.add_round(r, now_, series);
        return;
      case AlertSource::failures:
        r.kind = ProbeKind::tcp;
        r.ok = pick(0, 1) == 0;
        model_.add(now_, r.ok ? 0 : 1);
        window_.add_round(r, now_, series);
        return;
      case AlertSource::ttft: {
        const std::uint32_t us = latency();
        model_.add(now_, us, series);
        window_.add_ttft(std::chrono::microseconds(us), now_, series);
        return;
      }
      case AlertSource::bandwidth: {
        const double utilisation = pick(0, 1000) / 1000.0;
        const Duration interval = std::chrono::milliseconds(pick(1, 10000));
        model_.add(now_, 0, 0, utilisation, interval);
        window_.add_bandwidth(utilisation, interval, now_);
        return;
      }
      case AlertSource::availability:
        return;
    }
  }
  void compare() {
    for (AlertMetric m : metrics_of(source_))
      for (std::size_t l = 0; l <= lengths_.size(); ++l) {
        const std::optional<double> want = model_.value(m, now_, l);
        const std::optional<double> got = window_.value(m, now_, l);
        REQUIRE(got.has_value() == want.has_value());
        if (want) CHECK(*got == *want);
      }
  }
  // Both move to new lengths and cap, keeping the newest samples.
  void rewindow() {
    lengths_ = pick_lengths();
    max_ = pick_max();
    window_ = window_.rewindowed(lengths_, max_);
    ReferenceWindow moved(source_, lengths_, max_);
    for (const auto& s : model_.samples())
      moved.add(s.at, s.v, s.series, s.utilisation, s.interval);
    model_ = moved;
  }

  AlertSource source_;
  std::mt19937 rng_;
  bool mixed_ = rng_() % 2 == 0;  // one series (a series scope) or three
  std::vector<Duration> lengths_;
  std::size_t max_;
  AlertWindow window_;
  ReferenceWindow model_;
  MonoTime now_ = t0;
};

// The bytes a sample of a 5-minute rtt window of one series takes in its
// steady state: 1-ping rounds every second ± 30 ms (planned on the second,
// each landing up to 30 ms either side), RTTs `rtt` ± `spread`.
double steady_bytes_per_sample(Duration rtt, Duration spread) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::int64_t> late(-30'000'000, 30'000'000);
  std::uniform_int_distribution<std::int64_t> off(-spread.count(), spread.count());
  AlertWindow w(AlertSource::rtt, 5min);
  double most = 0;
  for (int second = 0; second < 20 * 60; ++second) {
    const MonoTime at = t0 + std::chrono::seconds(second) + Duration(late(rng));
    AlertRound r;
    r.kind = ProbeKind::icmp;
    r.add_echo(rtt + Duration(off(rng)));
    w.add_round(r, at);
    REQUIRE(w.value(AlertMetric::rtt_p95, at));
    if (second >= 10 * 60)  // five minutes past the first full window
      most = std::max(most, static_cast<double>(w.sample_bytes()) / static_cast<double>(w.size()));
  }
  return most;
}

}  // namespace

TEST_CASE("alert window: a random feed matches a plain model for every source") {
  for (AlertSource source : {AlertSource::rtt, AlertSource::loss, AlertSource::failures,
                             AlertSource::ttft, AlertSource::bandwidth}) {
    for (std::uint32_t seed = 1; seed <= 12; ++seed) {
      CAPTURE(static_cast<int>(source));
      CAPTURE(seed);
      RandomFeed(source, seed).run(6000);
    }
  }
}

TEST_CASE("alert window: a steady series takes at most 3 bytes a sample, 4.5 at 150 ms") {
  // Ring slack included: what 10,000 such windows cost the agent.
  CHECK(steady_bytes_per_sample(50us, 5us) <= 3.0);
  CHECK(steady_bytes_per_sample(150ms, 1ms) <= 4.5);
}

TEST_CASE("alert window: samples more than 2^32 units apart keep exact times") {
  // 2^32 ms are 49.7 days; a 120-day length holds samples 50 and 100 days
  // after the first.
  const Duration day = 24h;
  AlertWindow w(AlertSource::rtt, {1h, 120 * day});
  w.add_round(round(ProbeKind::tcp, Reason::ok, 7ms), t0, 1);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 9ms), t0 + 50 * day + 250us, 1);
  w.add_round(round(ProbeKind::tcp, Reason::ok, 8ms), t0 + 100 * day, 1);
  CHECK(w.size() == 3);
  CHECK(*w.value(AlertMetric::rtt_median, t0 + 100 * day, 0) == 8);
  CHECK(*w.value(AlertMetric::rtt_median, t0 + 100 * day, 1) == 8);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 100 * day, 1) == 9);
  CHECK(*w.value(AlertMetric::jitter, t0 + 100 * day, 1) == 1.5);  // |9-7|, |8-9|
  // The first leaves exactly when 120 days old, the second (kept at the
  // next whole unit) at most 1 ms late, the third exactly (whole units).
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 120 * day, 1) == 9);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 120 * day + 1ns, 1) == 9);
  CHECK(w.size() == 2);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 170 * day + 1ms, 1) == 9);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 170 * day + 1ms + 1ns, 1) == 8);
  CHECK(*w.value(AlertMetric::rtt_p95, t0 + 220 * day, 1) == 8);
  CHECK_FALSE(w.value(AlertMetric::rtt_p95, t0 + 220 * day + 1ns, 1));
  CHECK(w.expire(t0 + 220 * day + 1ns));
  CHECK(w.sample_bytes() == 0);
}

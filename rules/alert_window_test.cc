#include "rules/alert_window.h"

#include <doctest/doctest.h>

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

#include "rules/bandwidth.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <optional>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const MonoTime t0 = MonoTime{} + 1000s;
const WallTime w0 = WallTime(std::chrono::seconds(1'800'000'000));
constexpr std::uint64_t kMbps = 1'000'000;
constexpr std::uint64_t k2to32 = std::uint64_t{1} << 32;
constexpr std::uint64_t kMax64 = std::numeric_limits<std::uint64_t>::max();

CounterSample sample(std::uint64_t rx, std::uint64_t tx, int ifindex = 3) {
  return CounterSample{ifindex, rx, tx};
}

// Feeds `s` at t0 + at, the wall clock moving with it.
const BandwidthReading& feed(BandwidthMeter& m, Duration at, const CounterSample& s) {
  return m.on_sample(t0 + at, w0 + std::chrono::duration_cast<WallTime::duration>(at), s);
}

void check_no_rate(const BandwidthReading& r) {
  CHECK_FALSE(r.rx_bps.has_value());
  CHECK_FALSE(r.tx_bps.has_value());
  CHECK_FALSE(r.utilisation.has_value());
  CHECK_FALSE(r.used_bps().has_value());
}

}  // namespace

TEST_CASE("bandwidth: the first sample is a baseline with no rate") {
  BandwidthMeter m(100 * kMbps);
  CHECK(m.reading().state == CounterState::none);
  const auto& r = feed(m, 0s, sample(5'000'000, 7'000'000));
  CHECK(r.state == CounterState::baseline);
  CHECK(r.restart == CounterRestart::first);
  CHECK(r.since == t0);
  CHECK(r.ifindex == 3);
  check_no_rate(r);
  CHECK(m.stats().restarts == 1);
}

TEST_CASE("bandwidth: rates in bits per second over the last interval, and utilisation") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 0s, sample(1'000'000, 2'000'000));
  // 1 s: rx 2.5 MB = 20 Mbit/s, tx 5 MB = 40 Mbit/s.
  const auto& r = feed(m, 1s, sample(3'500'000, 7'000'000));
  CHECK(r.state == CounterState::measuring);
  CHECK(r.restart == CounterRestart::none);
  CHECK(r.detail == "");
  CHECK(r.interval == 1s);
  CHECK(r.since == t0);  // measuring since the baseline
  CHECK(*r.rx_bps == doctest::Approx(20e6));
  CHECK(*r.tx_bps == doctest::Approx(40e6));
  CHECK(*r.utilisation == doctest::Approx(0.4));  // the larger direction over 100 Mbit/s
  CHECK(*r.used_bps() == 40'000'000u);
  // The next interval is 2 s long: its own rates, not a mean with the first.
  const auto& next = feed(m, 3s, sample(3'500'000, 7'250'000));
  CHECK(next.interval == 2s);
  CHECK(*next.rx_bps == doctest::Approx(0));
  CHECK(*next.tx_bps == doctest::Approx(1e6));
  CHECK(*next.utilisation == doctest::Approx(0.01));
  CHECK(next.since == t0);
}

TEST_CASE("bandwidth: utilisation is unknown without a capacity and may exceed 1") {
  for (const std::optional<std::uint64_t> capacity :
       {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{0}}) {
    BandwidthMeter m(capacity);
    feed(m, 0s, sample(0, 0));
    const auto& r = feed(m, 1s, sample(125'000, 0));
    CHECK(*r.rx_bps == doctest::Approx(1e6));
    CHECK_FALSE(r.utilisation.has_value());
  }
  BandwidthMeter over(10 * kMbps);
  feed(over, 0s, sample(0, 0));
  CHECK(*feed(over, 1s, sample(0, 2'500'000)).utilisation == doctest::Approx(2.0));
}

TEST_CASE("bandwidth: a counter reset restarts with no negative rate and no spike") {
  BandwidthMeter m(1000 * kMbps);
  feed(m, 0s, sample(10'000'000'000, 20'000'000'000));
  feed(m, 1s, sample(10'100'000'000, 20'100'000'000));
  const auto& reset = feed(m, 2s, sample(4'000, 20'200'000'000));
  CHECK(reset.state == CounterState::baseline);
  CHECK(reset.restart == CounterRestart::backwards);
  CHECK(reset.detail == "rx_bytes went back from 10100000000 to 4000");
  check_no_rate(reset);
  // The next interval measures from the reset counters.
  const auto& after = feed(m, 3s, sample(129'000, 20'200'125'000));
  CHECK(after.state == CounterState::measuring);
  CHECK(*after.rx_bps == doctest::Approx(1e6));
  CHECK(*after.tx_bps == doctest::Approx(1e6));
  CHECK(after.since == t0 + 2s);
  CHECK(m.stats().wraps == 0);
}

TEST_CASE("bandwidth: a backward tx counter restarts both directions") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 0s, sample(1'000'000, 9'000'000'000));
  const auto& r = feed(m, 1s, sample(1'100'000, 50));
  CHECK(r.restart == CounterRestart::backwards);
  CHECK(r.detail == "tx_bytes went back from 9000000000 to 50");
  check_no_rate(r);
}

TEST_CASE("bandwidth: without a capacity every backward step is a reset, even a small one") {
  BandwidthMeter m(std::nullopt);
  feed(m, 0s, sample(k2to32 - 1000, 0));
  const auto& r = feed(m, 1s, sample(500, 0));  // would be a 1500-byte 32-bit wrap
  CHECK(r.restart == CounterRestart::backwards);
  check_no_rate(r);
  CHECK(m.stats().wraps == 0);
}

TEST_CASE("bandwidth: a 32-bit counter wrap within the line's capacity is bridged") {
  BandwidthMeter m(1 * kMbps);  // 125 kB/s; a wrap may stand for up to 187.5 kB in 1 s
  feed(m, 0s, sample(k2to32 - 1000, 10));
  const auto& r = feed(m, 1s, sample(500, 20));
  CHECK(r.state == CounterState::measuring);
  CHECK(*r.rx_bps == doctest::Approx(1500.0 * 8));
  CHECK(*r.tx_bps == doctest::Approx(80));
  CHECK(m.stats().wraps == 1);
}

TEST_CASE("bandwidth: a 32-bit sized step back beyond the line's capacity is a reset") {
  BandwidthMeter m(1000 * kMbps);  // a wrap may stand for up to 187.5 MB in 1 s
  feed(m, 0s, sample(3'000'000'000, 0));
  // As a wrap this would be 1.29 GB in one second: 10 Gbit/s on a 1 Gbit/s line.
  const auto& r = feed(m, 1s, sample(100, 0));
  CHECK(r.restart == CounterRestart::backwards);
  check_no_rate(r);
  CHECK(m.stats().wraps == 0);
}

TEST_CASE("bandwidth: the wrap bound scales with the interval and the option") {
  // 1 Mbit/s for 2 s at 1.5x: at most 375000 bytes.
  BandwidthMeter m(1 * kMbps);
  feed(m, 0s, sample(k2to32 - 375'000, 0));
  CHECK(feed(m, 2s, sample(0, 0)).state == CounterState::measuring);
  feed(m, 3s, sample(k2to32 - 375'000, 0));
  CHECK(feed(m, 5s, sample(1, 0)).restart == CounterRestart::backwards);
  BandwidthOptions strict;
  strict.wrap_max_utilisation = 1.0;  // 250000 bytes in 2 s
  BandwidthMeter s(1 * kMbps, strict);
  feed(s, 0s, sample(k2to32 - 250'001, 0));
  CHECK(feed(s, 2s, sample(0, 0)).restart == CounterRestart::backwards);
}

TEST_CASE("bandwidth: a 64-bit counter wrap near 2^64 is bridged") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 0s, sample(kMax64 - 999, kMax64));  // 1000 and 1 bytes below the wrap
  const auto& r = feed(m, 1s, sample(500, 124'999));
  CHECK(r.state == CounterState::measuring);
  CHECK(*r.rx_bps == doctest::Approx(1500.0 * 8));
  CHECK(*r.tx_bps == doctest::Approx(1e6));
  CHECK(m.stats().wraps == 2);
  // Without a capacity it cannot be told from a reset: no rate, no spike.
  BandwidthMeter unknown(std::nullopt);
  feed(unknown, 0s, sample(kMax64 - 999, 0));
  const auto& u = feed(unknown, 1s, sample(500, 0));
  CHECK(u.restart == CounterRestart::backwards);
  check_no_rate(u);
}

TEST_CASE("bandwidth: a new ifindex is a new interface, never a spike") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 0s, sample(1'000, 1'000, 3));
  feed(m, 1s, sample(2'000, 2'000, 3));
  // Re-created with bigger counters than the old one had: as a difference
  // this would read 40 Gbit/s.
  const auto& r = feed(m, 2s, sample(5'000'000'000, 2'500, 7));
  CHECK(r.state == CounterState::baseline);
  CHECK(r.restart == CounterRestart::ifindex);
  CHECK(r.detail == "ifindex 3 -> 7");
  CHECK(r.ifindex == 7);
  check_no_rate(r);
  const auto& next = feed(m, 3s, sample(5'000'125'000, 2'500, 7));
  CHECK(*next.rx_bps == doctest::Approx(1e6));
}

TEST_CASE("bandwidth: a vanished interface has no rate and a since that holds") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 0s, sample(1'000, 1'000));
  feed(m, 1s, sample(126'000, 1'000));
  const auto& gone = m.on_vanished(t0 + 2s, w0 + 2s);
  CHECK(gone.state == CounterState::vanished);
  CHECK(gone.since == t0 + 2s);
  CHECK(gone.since_wall == w0 + 2s);
  CHECK(gone.ifindex == 0);
  check_no_rate(gone);
  const auto& still = m.on_vanished(t0 + 3s, w0 + 3s);
  CHECK(still.since_wall == w0 + 2s);  // vanished since the first report
  CHECK(still.at_wall == w0 + 3s);
  CHECK(m.stats().vanishes == 1);
  // Back with the same ifindex and counters far above the old ones: a
  // baseline, not the difference to the sample before it vanished.
  const auto& back = feed(m, 4s, sample(9'000'000'000, 1'000));
  CHECK(back.state == CounterState::baseline);
  CHECK(back.restart == CounterRestart::reappeared);
  CHECK(back.detail == "back after 2.00s gone");
  check_no_rate(back);
  CHECK(*feed(m, 5s, sample(9'000'125'000, 1'000)).rx_bps == doctest::Approx(1e6));
  m.on_vanished(t0 + 6s, w0 + 6s);
  CHECK(m.stats().vanishes == 2);
}

TEST_CASE("bandwidth: a vanished report before any sample is vanished too") {
  BandwidthMeter m(std::nullopt);
  CHECK(m.on_vanished(t0, w0).state == CounterState::vanished);
  CHECK(feed(m, 1s, sample(10, 10)).restart == CounterRestart::reappeared);
}

TEST_CASE("bandwidth: a gap longer than max_gap restarts rather than averages") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 0s, sample(0, 0));
  // Exactly max_gap still measures.
  CHECK(*feed(m, 5s, sample(625'000, 0)).rx_bps == doctest::Approx(1e6));
  const auto& r = feed(m, 10s + 1ms, sample(100'625'000, 0));
  CHECK(r.restart == CounterRestart::gap);
  CHECK(r.detail == "gap of 5.00s (max_gap 5.00s)");
  check_no_rate(r);
  CHECK(*feed(m, 11s + 1ms, sample(100'750'000, 0)).rx_bps == doctest::Approx(1e6));
  BandwidthOptions tight;
  tight.max_gap = 1500ms;
  BandwidthMeter t(std::nullopt, tight);
  feed(t, 0s, sample(0, 0));
  CHECK(feed(t, 2s, sample(1, 1)).restart == CounterRestart::gap);
}

TEST_CASE("bandwidth: rates follow the monotonic clock through wall clock steps") {
  BandwidthMeter m(100 * kMbps);
  m.on_sample(t0, w0, sample(0, 0));
  // The wall clock steps back an hour between two samples one second apart.
  const auto& back = m.on_sample(t0 + 1s, w0 - 1h, sample(125'000, 0));
  CHECK(back.state == CounterState::measuring);
  CHECK(*back.rx_bps == doctest::Approx(1e6));
  CHECK(back.at_wall == w0 - 1h);  // stored rows carry the wall clock as it is
  // And forward a day: still one second of traffic, no gap.
  const auto& ahead = m.on_sample(t0 + 2s, w0 + 24h, sample(250'000, 0));
  CHECK(ahead.state == CounterState::measuring);
  CHECK(*ahead.rx_bps == doctest::Approx(1e6));
}

TEST_CASE("bandwidth: a sample not after the previous one restarts") {
  BandwidthMeter m(100 * kMbps);
  feed(m, 1s, sample(0, 0));
  const auto& same = feed(m, 1s, sample(1'000, 0));
  CHECK(same.restart == CounterRestart::gap);
  check_no_rate(same);
}

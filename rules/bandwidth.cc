#include "rules/bandwidth.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace linewatch {
namespace {

constexpr std::uint64_t kMax32 = std::numeric_limits<std::uint32_t>::max();

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string format_seconds(Duration d) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2fs", seconds(d));
  return text;
}

std::string went_back(const char* counter, std::uint64_t from, std::uint64_t to) {
  return std::string(counter) + " went back from " + std::to_string(from) + " to " +
         std::to_string(to);
}

}  // namespace

std::optional<std::uint64_t> BandwidthReading::used_bps() const {
  if (!rx_bps || !tx_bps) return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(std::max(*rx_bps, *tx_bps)));
}

BandwidthMeter::BandwidthMeter(std::optional<std::uint64_t> capacity_bps, BandwidthOptions options)
    : capacity_bps_(capacity_bps && *capacity_bps > 0 ? capacity_bps : std::nullopt),
      options_(options) {}

// The bytes a counter moved from old_value to new_value over `interval`, or
// nullopt when it went back and is no plausible wrap (a reset).
std::optional<BandwidthMeter::Delta> BandwidthMeter::counter_delta(std::uint64_t old_value,
                                                                   std::uint64_t new_value,
                                                                   Duration interval) const {
  if (new_value >= old_value) return Delta{new_value - old_value, false};
  if (!capacity_bps_) return std::nullopt;
  // Unsigned arithmetic: modulo 2^64, so new - old is the 64-bit wrap's
  // difference; a 32-bit counter wraps at kMax32 + 1.
  const std::uint64_t wrapped =
      old_value <= kMax32 ? (kMax32 - old_value) + new_value + 1 : new_value - old_value;
  const double limit_bytes =
      static_cast<double>(*capacity_bps_) * options_.wrap_max_utilisation * seconds(interval) / 8;
  if (static_cast<double>(wrapped) > limit_bytes) return std::nullopt;
  return Delta{wrapped, true};
}

const BandwidthReading& BandwidthMeter::on_sample(MonoTime now, WallTime wall,
                                                  const CounterSample& sample) {
  ++stats_.samples;
  switch (reading_.state) {
    case CounterState::none:
      restart(now, wall, sample, CounterRestart::first, "first sample");
      return reading_;
    case CounterState::vanished:
      restart(now, wall, sample, CounterRestart::reappeared,
              "back after " + format_seconds(now - reading_.since) + " gone");
      return reading_;
    case CounterState::baseline:
    case CounterState::measuring:
      break;
  }
  if (sample.ifindex != last_.ifindex) {
    restart(now, wall, sample, CounterRestart::ifindex,
            "ifindex " + std::to_string(last_.ifindex) + " -> " + std::to_string(sample.ifindex));
    return reading_;
  }
  const Duration interval = now - reading_.at;
  if (interval <= Duration::zero() || interval > options_.max_gap) {
    restart(now, wall, sample, CounterRestart::gap,
            "gap of " + format_seconds(interval) + " (max_gap " + format_seconds(options_.max_gap) +
                ")");
    return reading_;
  }
  const auto rx = counter_delta(last_.rx_bytes, sample.rx_bytes, interval);
  const auto tx = counter_delta(last_.tx_bytes, sample.tx_bytes, interval);
  if (!rx || !tx) {
    restart(now, wall, sample, CounterRestart::backwards,
            !rx ? went_back("rx_bytes", last_.rx_bytes, sample.rx_bytes)
                : went_back("tx_bytes", last_.tx_bytes, sample.tx_bytes));
    return reading_;
  }
  measure(now, wall, sample, interval, *rx, *tx);
  return reading_;
}

const BandwidthReading& BandwidthMeter::on_vanished(MonoTime now, WallTime wall) {
  if (reading_.state != CounterState::vanished) {
    ++stats_.vanishes;
    BandwidthReading gone;
    gone.state = CounterState::vanished;
    gone.since = now;
    gone.since_wall = wall;
    reading_ = std::move(gone);
  }
  reading_.at = now;
  reading_.at_wall = wall;
  return reading_;
}

void BandwidthMeter::restart(MonoTime now, WallTime wall, const CounterSample& sample,
                             CounterRestart why, std::string detail) {
  ++stats_.restarts;
  last_ = sample;
  BandwidthReading r;
  r.state = CounterState::baseline;
  r.since = r.at = now;
  r.since_wall = r.at_wall = wall;
  r.ifindex = sample.ifindex;
  r.restart = why;
  r.detail = std::move(detail);
  reading_ = std::move(r);
}

void BandwidthMeter::measure(MonoTime now, WallTime wall, const CounterSample& sample,
                             Duration interval, Delta rx, Delta tx) {
  stats_.wraps += (rx.wrapped ? 1 : 0) + (tx.wrapped ? 1 : 0);
  last_ = sample;
  if (reading_.state != CounterState::measuring) {
    // Measuring since the baseline the first rate starts from.
    reading_.state = CounterState::measuring;
    reading_.restart = CounterRestart::none;
    reading_.detail.clear();
  }
  reading_.at = now;
  reading_.at_wall = wall;
  reading_.interval = interval;
  const double s = seconds(interval);
  reading_.rx_bps = static_cast<double>(rx.bytes) * 8 / s;
  reading_.tx_bps = static_cast<double>(tx.bytes) * 8 / s;
  reading_.utilisation.reset();
  if (capacity_bps_)
    reading_.utilisation =
        std::max(*reading_.rx_bps, *reading_.tx_bps) / static_cast<double>(*capacity_bps_);
}

}  // namespace linewatch

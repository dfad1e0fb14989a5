// BandwidthMeter: a line's traffic in bits per second, from its interface's
// byte counters (probes/iface_counters.h) sampled about once a second.
//
// Each sample's rates cover the interval since the previous sample, measured
// on MonoTime only: a wall-clock step changes neither a rate nor a gap.
// WallTime only stamps readings for storage and display.
//
// No rate is ever negative or a bogus spike. The meter restarts (keeps the
// new sample as its baseline and reports no rate for that interval) when:
// - it is the first sample;
// - the ifindex changed: the interface was deleted and created again (or
//   another took its name); its counters began again from zero;
// - the interface vanished and now is back (whatever its ifindex);
// - the sample is more than `max_gap` after the previous one, or not after
//   it: a rate averaged over a long gap hides what happened in it;
// - a counter went backwards and is not a plausible wrap (below): a driver
//   reset its counters, or the interface was replaced within one interval.
// A counter that steps back is a wrap, not a reset, only when the line's
// capacity is known and the wrapped difference means at most
// `wrap_max_utilisation` of it over the interval. The wrap is at 2^32 when the
// old value fits in 32 bits (drivers that keep 32-bit counters: the kernel
// widens them to 64 bits but they still wrap at 2^32) and at 2^64 otherwise.
// Costs of the rule, both bounded: a reset just below 2^32 reads as at most
// wrap_max_utilisation of capacity for one interval; without a capacity every
// backward step costs one interval of rates. A reset followed within the same
// interval by more traffic than the old counter held is not seen: that
// interval reads LOW, never high.
//
// Not thread-safe: single-threaded, owned by the one thread that samples the
// line's counters. Cost: O(1) per sample, no allocation except `detail`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/time.h"

namespace linewatch {

using namespace std::chrono_literals;

// One reading of an interface's counters (probes/iface_counters.h).
struct CounterSample {
  int ifindex = 0;  // the kernel's interface index; a change means a new interface
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
};

struct BandwidthOptions {
  // Samples further apart than this restart the meter rather than give a
  // rate averaged over the gap. Default: 5s (five missed one-second samples).
  Duration max_gap = 5s;
  // The most a counter wrap may stand for, as a fraction of the line's
  // capacity over the interval; a bigger backward step is a reset. Above 1
  // because an interface may carry more than the line's contract for a while.
  // Default: 1.5.
  double wrap_max_utilisation = 1.5;
};

enum class CounterState {
  none,       // nothing fed yet
  baseline,   // a sample is held but there is no rate yet: see `restart`
  measuring,  // rx_bps and tx_bps cover the last interval
  vanished,   // the interface is gone since `since`; no rate
};

// Why the meter holds a baseline with no rate.
enum class CounterRestart {
  none,        // not restarted: measuring, vanished or nothing fed
  first,       // the first sample
  ifindex,     // the interface was created again (ifindex changed)
  reappeared,  // the interface is back after it vanished
  gap,         // more than max_gap since the previous sample, or not after it
  backwards,   // a counter went back and is no plausible wrap: a reset
};

// The meter's view after its last input.
struct BandwidthReading {
  CounterState state = CounterState::none;
  // When the current state began: baseline, its sample; measuring, the
  // baseline the first rate was measured from; vanished, the first vanished
  // report. For the status: "vanished since", "measuring since".
  MonoTime since{};
  WallTime since_wall{};
  MonoTime at{};       // the last sample or vanished report
  WallTime at_wall{};  // its wall time, for stored rows
  int ifindex = 0;     // of the last sample; 0 when vanished or none
  // measuring only: the interval the rates cover, and the rates.
  Duration interval{};
  std::optional<double> rx_bps;
  std::optional<double> tx_bps;
  // measuring with a known capacity (> 0): max(rx, tx) / capacity. 0..1 in a
  // line within its contract; above 1 when the interface carries more.
  std::optional<double> utilisation;
  CounterRestart restart = CounterRestart::none;  // baseline: why no rate
  std::string detail;  // baseline: the figures ("ifindex 3 -> 7"); else ""

  // max(rx_bps, tx_bps) rounded to whole bits/s (rules/score.h used_bps);
  // nullopt when not measuring.
  std::optional<std::uint64_t> used_bps() const;
};

// Diagnostics since construction; never drive a decision.
struct BandwidthStats {
  std::uint64_t samples = 0;   // on_sample calls
  std::uint64_t restarts = 0;  // samples that gave no rate (the first included)
  std::uint64_t wraps = 0;     // counter wraps bridged (rx and tx counted apart)
  std::uint64_t vanishes = 0;  // times the interface was found gone
};

class BandwidthMeter {
 public:
  // `capacity_bps` is the line's capacity (LineSpec::capacity_bps); nullopt or
  // 0 = unknown: no utilisation, and no wrap is bridged. Options are copied.
  explicit BandwidthMeter(std::optional<std::uint64_t> capacity_bps, BandwidthOptions options = {});

  // Feeds the counters read at `now` / `wall`. Returns the new reading
  // (a reference to reading(), valid until the next call).
  const BandwidthReading& on_sample(MonoTime now, WallTime wall, const CounterSample& sample);

  // The interface was not found at `now` (read_interface_counters gave
  // not_found). Drops the baseline; the state is vanished since the first
  // such report in a row. A failed read that is not not_found is not a
  // vanish: skip the sample, and the gap rule applies.
  const BandwidthReading& on_vanished(MonoTime now, WallTime wall);

  const BandwidthReading& reading() const { return reading_; }
  const BandwidthStats& stats() const { return stats_; }

 private:
  struct Delta {
    std::uint64_t bytes = 0;
    bool wrapped = false;
  };

  std::optional<Delta> counter_delta(std::uint64_t old_value, std::uint64_t new_value,
                                     Duration interval) const;
  void restart(MonoTime now, WallTime wall, const CounterSample& sample, CounterRestart why,
               std::string detail);
  void measure(MonoTime now, WallTime wall, const CounterSample& sample, Duration interval,
               Delta rx, Delta tx);

  std::optional<std::uint64_t> capacity_bps_;
  BandwidthOptions options_;
  CounterSample last_;  // the previous sample; meaningful when baseline or measuring
  BandwidthReading reading_;
  BandwidthStats stats_;
};

}  // namespace linewatch

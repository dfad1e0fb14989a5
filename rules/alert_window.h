// AlertWindow: the samples one alert scope saw over a sliding window, and
// each metric's value over them.
//
// A window reads one source (source_of(metric)); the rules that share the
// source, scope and match share one window per scope key
// (rules/alert_engine.h), which holds the samples once for the longest of
// their lengths and gives each length its own values. Samples, by source:
//   rtt        each answered ICMP echo (ProbeResult::rtts), the headline RTT of
//              a TCP round (connect) or an HTTP round (total) when it has one;
//   loss       each ICMP echo, answered or lost; one per TCP/HTTP round, lost
//              only for a network reason (rules/path_outcome.h: timeout,
//              refused, unreachable, dns, tls), answered for an answer of any
//              kind; bind/internal failures say nothing of the path and are
//              not sampled;
//   failures   one per round, failed when !ok, whatever the reason;
//   ttft       one per LLM round that saw its first token;
//   bandwidth  one per measured interval of a line's counters, weighted by
//              the interval's length;
//   availability  nothing: the value comes from an AvailabilitySource.
// Values, over the samples no older than the window (monotonic arrival time):
//   rtt_median, rtt_p95, ttft_p95  nearest rank, in milliseconds;
//   jitter     mean |difference| of consecutive RTTs of the same series
//              (line × target × kind), pairs within the window, as
//              rules/quality.h; milliseconds;
//   loss       lost / (answered + lost), a fraction;
//   failures   the count of failed rounds;
//   bandwidth_utilisation  Σ utilisation × interval / Σ interval, a fraction.
// A window without samples (for jitter: without a pair) has no value.
//
// Memory: at most max_samples samples of kSampleBytes each, plus 4 bytes a
// sample while the window holds samples of more than one series (rtt, ttft:
// for the jitter; a series scope never does) and 8 for bandwidth's
// utilisation; past max_samples the oldest leave early and the window covers
// less than its length (a 5-ping
// ICMP series every 10 s fills 150 in 5 minutes; a line scope over 50 such
// targets, 7500).
//
// Not thread-safe: owned by the one thread that runs the alert engine.
// Cost: add_* O(lengths) (each length's values go stale). value() O(1) while
// no sample came into or left that length since its last call; otherwise it
// recomputes every value of the source for that length at once, O(n log n)
// in the samples inside it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "core/alert_options.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "rules/alert_rules.h"

namespace linewatch {

// Which inputs a metric reads.
enum class AlertSource : std::uint8_t { rtt, loss, failures, ttft, bandwidth, availability };
AlertSource source_of(AlertMetric m);

class AlertWindow {
 public:
  static constexpr std::size_t kMaxSamples = 8192;
  static constexpr std::size_t kSampleBytes = 16;

  // A window of each of `lengths` (at least one, each above zero) over one
  // set of samples, kept for the longest.
  AlertWindow(AlertSource source, std::vector<Duration> lengths,
              std::size_t max_samples = kMaxSamples);
  AlertWindow(AlertSource source, Duration length, std::size_t max_samples = kMaxSamples)
      : AlertWindow(source, std::vector<Duration>{length}, max_samples) {}

  // Samples `round` (received at `at`) as the source reads it. `series`
  // tells series apart for jitter (any stable number per line × target × kind).
  // `at` must not go back between calls.
  void add_round(const ProbeResult& round, MonoTime at, std::uint32_t series = 0);
  // One LLM round's time to first token (ttft source only).
  void add_ttft(Duration ttft, MonoTime at, std::uint32_t series = 0);
  // One bandwidth interval ending at `at` (bandwidth source only);
  // utilisation is max(rx, tx) / capacity, interval its length (> 0).
  void add_bandwidth(double utilisation, Duration interval, MonoTime at);

  // The value of `metric` over lengths[length] ending at `now`, in its base
  // unit (rules/alert_rules.h); nullopt without samples or for a metric of
  // another source. `now` must not go back between calls.
  std::optional<double> value(AlertMetric metric, MonoTime now, std::size_t length = 0);

  // Drops samples older than the longest length at `now`; true when none is left.
  bool expire(MonoTime now);
  // Forgets every sample.
  void clear();

  // A window of the same source over `lengths` holding this one's samples
  // (the newest max_samples of them): a config reload keeps what a scope
  // saw when its rules' windows change.
  AlertWindow rewindowed(std::vector<Duration> lengths, std::size_t max_samples) const;

  std::size_t size() const { return samples_.size(); }
  AlertSource source() const { return source_; }
  Duration longest() const { return longest_; }

 private:
  // What every sample keeps; the series and utilisation live beside it
  // (series_, utilisation_) only where they tell samples apart.
  struct Sample {
    MonoTime at;
    std::int64_t n;  // rtt/ttft: nanoseconds; loss/failures: 1 lost or failed, 0 not;
                     // bandwidth: interval nanoseconds
  };
  static_assert(sizeof(Sample) == kSampleBytes);
  struct NewSample {
    MonoTime at;
    std::int64_t n;
    double x;  // bandwidth: utilisation
    std::uint32_t series;
  };

  // Every value of the source, as of the last recompute.
  struct Values {
    std::optional<double> median, p95, jitter, loss, failures, utilisation;
  };
  // One length's view: samples_[start..] are inside it.
  struct View {
    Duration length;
    std::size_t start = 0;
    Values values;
    bool dirty = true;
  };

  void add(const NewSample& s);
  void pop_front();
  std::uint32_t series_at(std::size_t i) const { return series_ ? (*series_)[i] : only_series_; }
  void dropped_front(std::size_t n);
  void recompute(View& v) const;
  void recompute_latency(View& v) const;

  AlertSource source_;
  std::vector<View> views_;
  Duration longest_{};
  std::size_t max_samples_;
  std::deque<Sample> samples_;  // in arrival order
  // The series of each sample, beside samples_; absent while every sample
  // is of `only_series_`, as in a window of one series. Optional because an
  // empty std::deque still allocates about 600 bytes.
  std::optional<std::deque<std::uint32_t>> series_;
  std::uint32_t only_series_ = 0;
  std::optional<std::deque<double>> utilisation_;  // bandwidth only: beside samples_
};

}  // namespace linewatch

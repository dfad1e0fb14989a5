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
// Memory: at most max_samples samples of kSampleBytes each (a time and a
// value), plus 4 bytes a sample while the window holds samples of more than
// one series (rtt, ttft: for the jitter; a series scope never does) and 16
// for bandwidth's utilisation and interval; past max_samples the oldest leave
// early and the window covers less than its length (a 5-ping ICMP series
// every 10 s fills 150 in 5 minutes; a line scope over 50 such targets,
// 7500). Samples sit in a ring that grows by half as they come (from 4, at
// most max_samples) and shrinks once three quarters of it are unused; an
// empty window holds no heap at all.
// Precision of the compact sample:
//   - arrival times are 32-bit offsets from a base at or before the oldest
//     sample, in units of 1 us for windows up to 17 minutes (above: the
//     longest length / 2^30, rounded up to whole microseconds; 81 us for
//     24 h), rounded up: a sample leaves at most one unit late, never early.
//     The base moves forward as samples leave; a sample more than 2^32 units
//     (at least 4 × the longest length) older than a new one leaves as it
//     comes, however late the next expire();
//   - latencies (rtt, ttft) are kept in whole microseconds (ProbeResult's
//     RTTs are whole microseconds, so these are exact; others are rounded
//     to the nearest), and one of 2^32 - 2 us (71.6 minutes) or more counts
//     as that: above any threshold a rule may have (at most 1 h).
//
// Not thread-safe: owned by the one thread that runs the alert engine.
// Cost: add_* O(lengths) (each length's values go stale). value() O(1) while
// no sample came into or left that length since its last call; otherwise it
// recomputes every value of the source for that length at once, O(n log n)
// in the samples inside it.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <memory>
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

// A latency in whole microseconds as windows keep it: rounded to the nearest,
// negative as 0, kMaxMicros and above as kMaxMicros.
inline constexpr std::uint32_t kMaxMicros = std::numeric_limits<std::uint32_t>::max() - 1;
std::uint32_t to_micros(Duration d);

// What the alert windows read of one probe round: the alerting inbox
// (agent/alerting.h) queues these instead of whole ProbeResults. About 140
// bytes; no heap for up to kInlineEchoes echoes and ids of up to 15 bytes.
// Plain value type.
struct AlertRound {
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::size_t kInlineEchoes = 5;

  AlertRound() = default;
  explicit AlertRound(const ProbeResult& r);

  // Each echo's RTT (to_micros), kNone when lost: ProbeResult::rtts.
  std::size_t echoes() const { return echo_count_; }
  std::uint32_t echo(std::size_t i) const {
    return i < kInlineEchoes ? first_echoes_[i] : more_echoes_[i - kInlineEchoes];
  }
  void add_echo(std::optional<Duration> rtt);

  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  bool ok = false;
  Reason reason = Reason::internal;
  std::uint32_t rtt = kNone;   // the headline RTT (to_micros); kNone: absent
  std::uint32_t ttft = kNone;  // an LLM round's time to first token (to_micros); kNone: absent
  int sent = 0;                // ICMP: echoes sent and answered, for a round without echoes
  int received = 0;

 private:
  std::uint32_t echo_count_ = 0;
  std::array<std::uint32_t, kInlineEchoes> first_echoes_{};
  std::vector<std::uint32_t> more_echoes_;
};

namespace detail {

// A FIFO of trivially copyable T in one heap block that grows by half when
// full (never beyond the limit push_back is given) and that shrink() cuts
// to twice its size once three quarters are unused, to nothing when empty.
template <class T>
class SampleRing {
 public:
  SampleRing() = default;
  SampleRing(const SampleRing& o) { *this = o; }
  SampleRing& operator=(const SampleRing& o) {
    if (this == &o) return *this;
    clear();
    reallocate(o.size_);
    for (std::uint32_t i = 0; i < o.size_; ++i) buf_[i] = o[i];
    size_ = o.size_;
    return *this;
  }
  SampleRing(SampleRing&& o) noexcept { swap(o); }
  SampleRing& operator=(SampleRing&& o) noexcept {
    SampleRing gone;
    gone.swap(o);
    swap(gone);
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return cap_; }
  T& operator[](std::size_t i) { return buf_[slot(i)]; }
  const T& operator[](std::size_t i) const { return buf_[slot(i)]; }
  const T& front() const { return buf_[head_]; }

  void push_back(const T& x, std::size_t limit) {
    if (size_ == cap_) {
      const std::size_t grown = std::max<std::size_t>(4, cap_ + cap_ / 2);
      reallocate(std::max<std::size_t>(size_ + 1, std::min(grown, limit)));
    }
    buf_[slot(size_)] = x;
    ++size_;
  }
  void pop_front() {
    head_ = slot(1);
    --size_;
  }
  void shrink() {
    if (size_ == 0) return clear();
    if (cap_ > 8 && size_ <= cap_ / 4) reallocate(2 * size_);
  }
  void clear() {
    buf_.reset();
    cap_ = head_ = size_ = 0;
  }

 private:
  std::size_t slot(std::size_t i) const {
    const std::size_t j = head_ + i;
    return j >= cap_ ? j - cap_ : j;
  }
  void reallocate(std::size_t cap) {
    std::unique_ptr<T[]> buf(cap > 0 ? new T[cap] : nullptr);
    for (std::uint32_t i = 0; i < size_; ++i) buf[i] = (*this)[i];
    buf_ = std::move(buf);
    cap_ = static_cast<std::uint32_t>(cap);
    head_ = 0;
  }
  void swap(SampleRing& o) noexcept {
    std::swap(buf_, o.buf_);
    std::swap(cap_, o.cap_);
    std::swap(head_, o.head_);
    std::swap(size_, o.size_);
  }

  std::unique_ptr<T[]> buf_;
  std::uint32_t cap_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace detail

class AlertWindow {
 public:
  static constexpr std::size_t kMaxSamples = 8192;
  static constexpr std::size_t kSampleBytes = 8;

  // A window of each of `lengths` (at least one, each above zero) over one
  // set of samples, kept for the longest. max_samples: at least 1, at most 2^30.
  AlertWindow(AlertSource source, std::vector<Duration> lengths,
              std::size_t max_samples = kMaxSamples);
  AlertWindow(AlertSource source, Duration length, std::size_t max_samples = kMaxSamples)
      : AlertWindow(source, std::vector<Duration>{length}, max_samples) {}

  // Samples `round` (received at `at`) as the source reads it. `series`
  // tells series apart for jitter (any stable number per line × target × kind).
  // `at` must not go back between calls.
  void add_round(const AlertRound& round, MonoTime at, std::uint32_t series = 0);
  void add_round(const ProbeResult& round, MonoTime at, std::uint32_t series = 0) {
    add_round(AlertRound(round), at, series);
  }
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
  // Samples the heap holds room for (for tests and benchmarks).
  std::size_t capacity() const { return samples_.capacity(); }
  AlertSource source() const { return source_; }
  Duration longest() const { return longest_; }
  // The arrival times' unit (see Memory above).
  Duration time_unit() const { return unit_; }

 private:
  // What every sample keeps; the series and the bandwidth figures live beside
  // it (series_, weights_) only where they tell samples apart.
  struct Sample {
    std::uint32_t t;  // arrival: base_ + t × unit_
    std::uint32_t v;  // rtt/ttft: microseconds; loss/failures: 1 lost or failed, 0 not
  };
  static_assert(sizeof(Sample) == kSampleBytes);
  struct Weight {
    double utilisation;
    Duration interval;
  };
  struct NewSample {
    MonoTime at;
    std::uint32_t v;
    std::uint32_t series;
    Weight w;
  };

  // Every value of the source, as of the last recompute: rtt and ttft fill
  // median, p95 and jitter; the others their one value in slot 0.
  enum Slot : std::uint8_t { kMedian = 0, kP95 = 1, kJitter = 2, kOnly = 0 };
  struct View {
    Duration length;
    std::uint32_t start = 0;  // samples_[start..] are inside it
    bool dirty = true;
    std::uint8_t has = 0;  // bit per slot of values
    std::array<double, 3> values{};
    void set(Slot s, double v) { values[s] = v, has |= std::uint8_t(1u << s); }
    std::optional<double> get(Slot s) const {
      return has & (1u << s) ? std::optional<double>(values[s]) : std::nullopt;
    }
  };

  void add(const NewSample& s);
  std::uint32_t offset_of(MonoTime at);
  MonoTime at_of(std::size_t i) const { return base_ + unit_ * samples_[i].t; }
  void pop_front();
  void shrink();
  std::uint32_t series_at(std::size_t i) const { return mixed_ ? series_[i] : only_series_; }
  void dropped_front(std::size_t n);
  void recompute(View& v) const;
  void recompute_latency(View& v) const;

  AlertSource source_;
  bool mixed_ = false;             // series_ holds each sample's series
  std::uint32_t only_series_ = 0;  // the series of every sample while !mixed_
  std::uint32_t max_samples_;
  Duration longest_{};
  Duration unit_{};
  MonoTime base_{};
  std::vector<View> views_;
  detail::SampleRing<Sample> samples_;  // in arrival order
  detail::SampleRing<std::uint32_t> series_;
  detail::SampleRing<Weight> weights_;  // bandwidth only
};

}  // namespace linewatch

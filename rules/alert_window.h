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
// Memory: at most max_samples samples (past them the oldest leave early and
// the window covers less than its length: a 5-ping ICMP series every 10 s
// fills 150 in 5 minutes; a line scope over 50 such targets, 7500). Each
// sample is two varints in a byte ring (rules/varint_ring.h): its arrival as
// the change from the previous sample's step (the difference of differences,
// in time units) and its value as the change from the previous sample's, each
// zigzagged. A steady series takes 2 to 4 bytes a sample: at 1 ping a second
// (± 30 ms), 1 or 2 bytes for the time; 1 for a loss/failure mark or an RTT
// steady within ±63 us, 2 within ±8 ms (a 5-minute rtt window of such a
// series holds under 3 bytes a sample at 50 us, 4.5 at 150 ms ± 1 ms, its
// ring's slack included, as alert_window_test.cc checks). Beside that, 4 bytes a sample while
// the window holds samples of more than one series (rtt, ttft: for the
// jitter; a series scope never does) and 16 for bandwidth's utilisation and
// interval. The ring grows by an eighth as samples come (at most to the room
// max_samples of them take), shrinks once three quarters of it are unused;
// an empty window holds no heap at all.
// Precision of the compact sample:
//   - arrival times count whole milliseconds (time_unit()) from the first
//     sample since the window was last empty, rounded up: a sample leaves at
//     most one unit (1 ms) late, never early, and the first one exactly.
//     Offsets have no range limit: samples any time apart (past 2^32 units,
//     49.7 days) keep their times and leave only by expiry or the cap;
//   - latencies (rtt, ttft) are kept in whole microseconds, rounded to the
//     nearest (kernel-stamped RTTs come in nanoseconds; thresholds are set
//     in milliseconds), and one of 2^32 - 2 us (71.6 minutes) or more counts
//     as that: above any threshold a rule may have (at most 1 h).
//
// Not thread-safe: owned by the one thread that runs the alert engine.
// Cost: add_* O(lengths) (each length's values go stale). value() O(1) while
// no sample came into or left that length since its last call; otherwise it
// recomputes every value of the source for that length at once, decoding
// the samples inside it from the length's first, O(n log n) in them.
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
#include "rules/varint_ring.h"

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

  // A window of each of `lengths` (at least one, each above zero) over one
  // set of samples, kept for the longest. max_samples: at least 1, at most 2^30.
  AlertWindow(AlertSource source, std::vector<Duration> lengths,
              std::size_t max_samples = kMaxSamples);
  AlertWindow(AlertSource source, Duration length, std::size_t max_samples = kMaxSamples)
      : AlertWindow(source, std::vector<Duration>{length}, max_samples) {}
  AlertWindow(const AlertWindow& other);
  AlertWindow& operator=(const AlertWindow& other);
  AlertWindow(AlertWindow&&) noexcept = default;
  AlertWindow& operator=(AlertWindow&&) noexcept = default;

  // Samples `round` (received at `at`) as the source reads it. `series`
  // tells series apart for jitter (any stable number per line × target × kind).
  // `at` must not go back between calls (one that does counts as the last).
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

  std::size_t size() const { return tail_.index - head_.index; }
  // Samples the heap holds room for at the mean size of those held (2
  // bytes, the least, when empty), for tests and benchmarks.
  std::size_t capacity() const;
  // Heap bytes the samples take: the ring, and the series and bandwidth
  // figures where kept (for tests and benchmarks).
  std::size_t sample_bytes() const;
  AlertSource source() const { return source_; }
  Duration longest() const { return longest_; }
  // The arrival times' unit (see Precision above).
  static constexpr Duration time_unit() { return std::chrono::milliseconds(1); }

 private:
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
  // Decoding state before sample `index`: the previous sample's arrival,
  // step and value. Indices count samples since the window was last empty,
  // modulo 2^32. The oldest and newest keep no ring position: theirs are
  // the ring's begin() and end().
  struct Mark {
    std::int64_t t = 0;     // the previous arrival, in units from origin_
    std::int64_t step = 0;  // the previous arrival minus the one before it
    std::uint32_t index = 0;
    std::uint32_t v =
        0;  // the previous value: rtt/ttft microseconds; loss/failures 1 lost or failed
  };
  // A Mark with the ring position of sample `index`'s bytes.
  struct Cursor : Mark {
    std::uint64_t pos = 0;
  };

  // Every value of the source, as of the last recompute: rtt and ttft fill
  // median, p95 and jitter; the others their one value in slot 0.
  enum Slot : std::uint8_t { kMedian = 0, kP95 = 1, kJitter = 2, kOnly = 0 };
  struct Values {
    std::array<double, 3> values{};
    std::uint8_t has = 0;  // bit per slot of values
    bool dirty = true;
    void set(Slot s, double v) { values[s] = v, has |= std::uint8_t(1u << s); }
    std::optional<double> get(Slot s) const {
      return has & (1u << s) ? std::optional<double>(values[s]) : std::nullopt;
    }
  };
  // A length shorter than the longest: where its samples start. The
  // longest's own start is always head_ (expire() drops what it would), so
  // a window of one length keeps only its Values, inline.
  struct View {
    Duration length{};
    Cursor start;  // samples from start.index on are inside it
    Values values;
  };
  // What few windows need, on the heap only for them: views of more than
  // one length, each sample's series once they are mixed, bandwidth weights.
  struct Extra {
    std::vector<View> views;        // one per length, index-aligned; views[main] unused
    std::size_t main = 0;           // the index of the (first) longest length
    std::uint32_t only_series = 0;  // the series of every sample while !mixed_
    detail::SampleRing<std::uint32_t> series;
    detail::SampleRing<Weight> weights;
  };

  void add(const NewSample& s);
  void append(std::int64_t t, std::uint32_t v);
  Cursor head() const { return Cursor{head_, ring_.begin()}; }
  Cursor tail() const { return Cursor{tail_, ring_.end()}; }
  // The cursor past the sample at `c` (c.index != tail_.index), holding it.
  Cursor next(const Cursor& c) const;
  MonoTime at_of(std::int64_t t) const { return origin_ + time_unit() * t; }
  std::uint32_t offset(const Mark& c) const { return c.index - head_.index; }
  void pop_front();
  void shrink();
  std::uint32_t series_at(std::uint32_t i) const {
    return mixed_ ? extra_->series[i] : only_series();
  }
  bool bandwidth() const { return source_ == AlertSource::bandwidth; }
  Extra& extra();
  // Series 0 (a series scope's only one) needs no Extra.
  std::uint32_t only_series() const { return extra_ ? extra_->only_series : 0; }
  std::size_t length_count() const {
    return extra_ ? std::max<std::size_t>(1, extra_->views.size()) : 1;
  }
  bool is_main(std::size_t length) const { return !extra_ || length == extra_->main; }
  void mark_dirty();
  void dropped_front(std::size_t n);
  void recompute(Values& out, const Cursor& start) const;
  void recompute_latency(Values& out, const Cursor& start) const;

  // Field order packs the window into few bytes (one per scope key).
  VarintRing ring_;    // each sample's zigzagged Δstep and Δvalue, in arrival order
  MonoTime origin_{};  // unit 0: the first sample since the window was last empty
  Duration longest_{};
  Mark head_;    // before the oldest sample
  Mark tail_;    // past the newest
  Values main_;  // the longest length's values
  std::unique_ptr<Extra> extra_;
  std::uint32_t max_samples_;
  AlertSource source_;
  bool mixed_ = false;  // extra_->series holds each sample's series
};

}  // namespace linewatch

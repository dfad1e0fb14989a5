#include "rules/alert_window.h"

#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "rules/path_outcome.h"
#include "rules/status_board.h"

namespace linewatch {
namespace {

double ms_of(std::int64_t ns) { return to_ms(Duration(ns)); }

// Small magnitudes of either sign as small varints: 0, -1, 1, -2 ... as 0, 1, 2, 3 ...
std::uint64_t zigzag(std::int64_t n) {
  return (static_cast<std::uint64_t>(n) << 1) ^ static_cast<std::uint64_t>(n >> 63);
}
std::int64_t unzigzag(std::uint64_t z) {
  return static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
}

}  // namespace

AlertSource source_of(AlertMetric m) {
  switch (m) {
    case AlertMetric::rtt_median:
    case AlertMetric::rtt_p95:
    case AlertMetric::jitter:
      return AlertSource::rtt;
    case AlertMetric::loss:
      return AlertSource::loss;
    case AlertMetric::failures:
      return AlertSource::failures;
    case AlertMetric::ttft_p95:
      return AlertSource::ttft;
    case AlertMetric::bandwidth_utilisation:
      return AlertSource::bandwidth;
    case AlertMetric::availability:
      return AlertSource::availability;
  }
  return AlertSource::availability;
}

std::uint32_t to_micros(Duration d) {
  if (d <= Duration::zero()) return 0;
  const std::int64_t us = (d.count() + 500) / 1000;
  return us >= kMaxMicros ? kMaxMicros : static_cast<std::uint32_t>(us);
}

AlertRound::AlertRound(const ProbeResult& r)
    : line(r.line),
      target(r.target),
      kind(r.kind),
      ok(r.ok),
      reason(r.reason),
      rtt(r.rtt ? to_micros(*r.rtt) : kNone),
      ttft(r.llm && r.llm->ttft ? to_micros(*r.llm->ttft) : kNone),
      sent(r.sent),
      received(r.received) {
  if (r.kind != ProbeKind::icmp) return;
  if (r.rtts.size() > kInlineEchoes) more_echoes_.reserve(r.rtts.size() - kInlineEchoes);
  for (const auto& echo : r.rtts) add_echo(echo);
}

void AlertRound::add_echo(std::optional<Duration> rtt) {
  const std::uint32_t us = rtt ? to_micros(*rtt) : kNone;
  if (echo_count_ < kInlineEchoes)
    first_echoes_[echo_count_] = us;
  else
    more_echoes_.push_back(us);
  ++echo_count_;
}

AlertWindow::AlertWindow(AlertSource source, std::vector<Duration> lengths, std::size_t max_samples)
    : max_samples_(static_cast<std::uint32_t>(std::clamp<std::size_t>(max_samples, 1, 1u << 30))),
      source_(source) {
  if (lengths.empty()) lengths.push_back(Duration::zero());
  longest_ = *std::max_element(lengths.begin(), lengths.end());
  if (lengths.size() > 1) {
    Extra& x = extra();
    x.main = static_cast<std::size_t>(std::find(lengths.begin(), lengths.end(), longest_) -
                                      lengths.begin());
    x.views.reserve(lengths.size());
    for (Duration length : lengths) x.views.push_back(View{length, {}, {}});
  }
  if (bandwidth()) extra();
}

AlertWindow::AlertWindow(const AlertWindow& o)
    : ring_(o.ring_),
      origin_(o.origin_),
      longest_(o.longest_),
      head_(o.head_),
      tail_(o.tail_),
      main_(o.main_),
      extra_(o.extra_ ? std::make_unique<Extra>(*o.extra_) : nullptr),
      max_samples_(o.max_samples_),
      source_(o.source_),
      mixed_(o.mixed_) {}

AlertWindow& AlertWindow::operator=(const AlertWindow& o) {
  if (this != &o) *this = AlertWindow(o);
  return *this;
}

AlertWindow::Extra& AlertWindow::extra() {
  if (!extra_) extra_ = std::make_unique<Extra>();
  return *extra_;
}

std::size_t AlertWindow::capacity() const {
  if (size() == 0) return ring_.capacity() / 2;
  return static_cast<std::size_t>(static_cast<double>(ring_.capacity()) *
                                  static_cast<double>(size()) / static_cast<double>(ring_.size()));
}

std::size_t AlertWindow::sample_bytes() const {
  if (!extra_) return ring_.capacity();
  return ring_.capacity() + extra_->series.capacity() * sizeof(std::uint32_t) +
         extra_->weights.capacity() * sizeof(Weight);
}

AlertWindow::Cursor AlertWindow::next(const Cursor& c) const {
  Cursor n;
  n.pos = c.pos;
  n.step = c.step + unzigzag(ring_.read(n.pos));
  n.t = c.t + n.step;
  n.v = static_cast<std::uint32_t>(std::int64_t{c.v} + unzigzag(ring_.read(n.pos)));
  n.index = c.index + 1;
  return n;
}

// Appends a sample `t` units from origin_ (not before the newest).
void AlertWindow::append(std::int64_t t, std::uint32_t v) {
  std::array<std::uint8_t, 2 * VarintRing::kMaxVarintBytes> bytes;
  const std::int64_t step = t - tail_.t;
  std::size_t n = VarintRing::encode(zigzag(step - tail_.step), bytes.data());
  n += VarintRing::encode(zigzag(std::int64_t{v} - std::int64_t{tail_.v}), bytes.data() + n);
  // The room max_samples like the samples held take, and a little: so a
  // capped window does not grow by an eighth past it.
  const std::size_t after = size() + 1;
  const std::size_t mean = (ring_.size() + n + after - 1) / after;
  const std::size_t expected = mean * max_samples_ + (ring_.size() + n) / 64;
  ring_.push(bytes.data(), n, expected);
  tail_ = Mark{t, step, tail_.index + 1, v};
}

void AlertWindow::mark_dirty() {
  main_.dirty = true;
  if (extra_)
    for (View& v : extra_->views) v.values.dirty = true;
}

void AlertWindow::add(const NewSample& s) {
  if (size() == 0) {  // a fresh start: the new sample is unit 0, exactly
    ring_.clear();
    origin_ = s.at;
    head_ = tail_ = Mark{};
    if (extra_)
      for (View& v : extra_->views) v.start = head();
  }
  if (size() >= max_samples_) {
    pop_front();
    dropped_front(1);
  }
  // Only the jitter reads a sample's series.
  const bool by_series = source_ == AlertSource::rtt || source_ == AlertSource::ttft;
  if (by_series && size() == 0) {
    mixed_ = false;
    if (extra_) extra_->series.clear();
    if (s.series != 0 || extra_) extra().only_series = s.series;
  } else if (by_series && !mixed_ && s.series != only_series()) {
    mixed_ = true;
    const std::uint32_t only = only_series();
    auto& series = extra().series;
    for (std::size_t i = 0; i < size(); ++i) series.push_back(only, max_samples_);
  }
  // Rounded up to a unit: a sample leaves late, never early.
  const std::int64_t ns = std::max<std::int64_t>((s.at - origin_).count(), 0);
  const std::int64_t unit = Duration(time_unit()).count();
  append(std::max(tail_.t, ns / unit + (ns % unit != 0)), s.v);
  if (mixed_) extra_->series.push_back(s.series, max_samples_);
  if (bandwidth()) extra_->weights.push_back(s.w, max_samples_);
  mark_dirty();
}

void AlertWindow::pop_front() {
  const Cursor h = next(head());
  head_ = h;
  ring_.pop_to(h.pos);
  if (mixed_) extra_->series.pop_front();
  if (bandwidth()) extra_->weights.pop_front();
}

void AlertWindow::shrink() {
  ring_.shrink();
  if (!extra_) return;
  extra_->series.shrink();
  extra_->weights.shrink();
}

// The longest length's values are stale; a view that started on a sample
// that left (the cap) is stale too, and starts on the oldest now.
void AlertWindow::dropped_front(std::size_t n) {
  if (n == 0) return;
  main_.dirty = true;
  if (!extra_) return;
  for (View& v : extra_->views) {
    if (offset(v.start) <= size()) continue;  // still at or after the oldest
    v.start = head();
    v.values.dirty = true;
  }
}

void AlertWindow::add_round(const AlertRound& r, MonoTime at, std::uint32_t series) {
  switch (source_) {
    case AlertSource::rtt:
      if (r.kind == ProbeKind::icmp && r.echoes() > 0) {
        for (std::size_t i = 0; i < r.echoes(); ++i)
          if (r.echo(i) != AlertRound::kNone) add({at, r.echo(i), series, {}});
      } else if (r.rtt != AlertRound::kNone) {
        add({at, r.rtt, series, {}});
      }
      return;
    case AlertSource::loss:
      if (r.kind == ProbeKind::icmp) {
        if (r.echoes() > 0) {
          for (std::size_t i = 0; i < r.echoes(); ++i)
            add({at, r.echo(i) == AlertRound::kNone ? 1u : 0u, series, {}});
        } else {  // a round summarised without its echoes
          for (int i = 0; i < r.sent; ++i) add({at, i < r.received ? 0u : 1u, series, {}});
        }
        return;
      }
      if (path_outcome(r.reason) != PathOutcome::unknown)
        add({at, path_outcome(r.reason) == PathOutcome::failed ? 1u : 0u, series, {}});
      return;
    case AlertSource::failures:
      add({at, r.ok ? 0u : 1u, series, {}});
      return;
    case AlertSource::ttft:
    case AlertSource::bandwidth:
    case AlertSource::availability:
      return;
  }
}

void AlertWindow::add_ttft(Duration ttft, MonoTime at, std::uint32_t series) {
  if (source_ == AlertSource::ttft) add({at, to_micros(ttft), series, {}});
}

void AlertWindow::add_bandwidth(double utilisation, Duration interval, MonoTime at) {
  if (source_ == AlertSource::bandwidth && interval > Duration::zero())
    add({at, 0, 0, {utilisation, interval}});
}

bool AlertWindow::expire(MonoTime now) {
  std::size_t n = 0;
  while (size() > 0 && now - at_of(next(head()).t) > longest_) {
    pop_front();
    ++n;
  }
  if (n > 0) {
    dropped_front(n);
    shrink();
  }
  return size() == 0;
}

void AlertWindow::clear() {
  ring_.clear();
  if (extra_) {
    extra_->series.clear();
    extra_->weights.clear();
    for (View& v : extra_->views) v.start = Cursor{}, v.values.dirty = true;
  }
  mixed_ = false;
  head_ = tail_ = Mark{};
  main_.dirty = true;
}

AlertWindow AlertWindow::rewindowed(std::vector<Duration> lengths, std::size_t max_samples) const {
  AlertWindow w(source_, std::move(lengths), max_samples);
  const std::size_t skip = size() > w.max_samples_ ? size() - w.max_samples_ : 0;
  for (Cursor c = head(); c.index != tail_.index;) {
    const std::uint32_t i = offset(c);
    c = next(c);
    if (i < skip) continue;
    w.add({at_of(c.t), c.v, series_at(i), bandwidth() ? extra_->weights[i] : Weight{}});
  }
  return w;
}

std::optional<double> AlertWindow::value(AlertMetric metric, MonoTime now, std::size_t length) {
  if (source_of(metric) != source_ || length >= length_count()) return std::nullopt;
  expire(now);
  Values* values = &main_;
  if (!is_main(length)) {
    View& v = extra_->views[length];
    while (v.start.index != tail_.index) {
      const Cursor past = next(v.start);
      if (now - at_of(past.t) <= v.length) break;
      v.start = past;
      v.values.dirty = true;
    }
    if (v.values.dirty) recompute(v.values, v.start);
    values = &v.values;
  } else if (main_.dirty) {
    recompute(main_, head());
  }
  switch (metric) {
    case AlertMetric::rtt_median:
      return values->get(kMedian);
    case AlertMetric::rtt_p95:
    case AlertMetric::ttft_p95:
      return values->get(kP95);
    case AlertMetric::jitter:
      return values->get(kJitter);
    case AlertMetric::loss:
    case AlertMetric::failures:
    case AlertMetric::bandwidth_utilisation:
      return values->get(kOnly);
    case AlertMetric::availability:
      return std::nullopt;
  }
  return std::nullopt;
}

void AlertWindow::recompute(Values& out, const Cursor& start) const {
  out.has = 0;
  out.dirty = false;
  if (start.index == tail_.index) return;
  switch (source_) {
    case AlertSource::rtt:
    case AlertSource::ttft:
      return recompute_latency(out, start);
    case AlertSource::loss:
    case AlertSource::failures: {
      std::int64_t marked = 0;  // lost or failed
      for (Cursor c = start; c.index != tail_.index;) {
        c = next(c);
        marked += c.v;
      }
      const auto count = static_cast<double>(tail_.index - start.index);
      out.set(kOnly, source_ == AlertSource::loss ? static_cast<double>(marked) / count
                                                  : static_cast<double>(marked));
      return;
    }
    case AlertSource::bandwidth: {
      double weighted = 0, total = 0;
      for (std::uint32_t i = offset(start); i < size(); ++i) {
        const Weight& w = extra_->weights[i];
        const auto interval = static_cast<double>(w.interval.count());
        weighted += w.utilisation * interval;
        total += interval;
      }
      out.set(kOnly, weighted / total);
      return;
    }
    case AlertSource::availability:
      return;
  }
}

void AlertWindow::recompute_latency(Values& out, const Cursor& start) const {
  std::vector<Duration> all;
  all.reserve(tail_.index - start.index);
  std::unordered_map<std::uint32_t, std::uint32_t> previous;  // last RTT per series
  double jitter_sum = 0;                                      // nanoseconds
  std::size_t pairs = 0;
  for (Cursor c = start; c.index != tail_.index;) {
    const std::uint32_t i = offset(c);
    c = next(c);
    const std::uint32_t us = c.v;
    all.emplace_back(std::chrono::microseconds(us));
    auto [it, first] = previous.try_emplace(series_at(i), us);
    if (!first) {
      const std::int64_t step = std::llabs(std::int64_t{us} - std::int64_t{it->second});
      jitter_sum += static_cast<double>(step * 1000);
      ++pairs;
      it->second = us;
    }
  }
  // Nearest rank, as the status board and line quality figures.
  out.set(kP95, ms_of(quantile(all, 0.95)->count()));
  out.set(kMedian, ms_of(quantile(all, 0.5)->count()));
  if (pairs > 0)
    out.set(kJitter, ms_of(static_cast<std::int64_t>(jitter_sum / static_cast<double>(pairs))));
}

}  // namespace linewatch

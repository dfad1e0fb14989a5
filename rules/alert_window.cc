#include "rules/alert_window.h"

#include <algorithm>
#include <cstdlib>
#include <unordered_map>

#include "rules/path_outcome.h"
#include "rules/status_board.h"

namespace linewatch {
namespace {

double ms_of(std::int64_t ns) { return to_ms(Duration(ns)); }

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
    : source_(source),
      max_samples_(static_cast<std::uint32_t>(std::clamp<std::size_t>(max_samples, 1, 1u << 30))) {
  if (lengths.empty()) lengths.push_back(Duration::zero());
  views_.reserve(lengths.size());
  for (Duration length : lengths) {
    views_.push_back(View{length});
    longest_ = std::max(longest_, length);
  }
  // 2^32 units cover at least 4 × the longest length: whole microseconds.
  const std::int64_t unit = longest_.count() / (std::int64_t{1} << 30) + 1;
  unit_ = Duration((unit + 999) / 1000 * 1000);
}

// The offset of `at` from base_, rounded up to a unit. When it does not fit
// in 32 bits the base moves to the oldest sample, after samples too old to
// share a base with `at` left.
std::uint32_t AlertWindow::offset_of(MonoTime at) {
  if (samples_.empty()) {
    base_ = at;
    return 0;
  }
  constexpr std::int64_t kMaxOffset = std::numeric_limits<std::uint32_t>::max();
  const std::int64_t ns = std::max<std::int64_t>((at - base_).count(), 0);
  std::int64_t t = ns / unit_.count() + (ns % unit_.count() != 0);
  if (t <= kMaxOffset) return static_cast<std::uint32_t>(t);
  std::size_t dropped = 0;
  while (!samples_.empty() && t - samples_.front().t > kMaxOffset) {
    pop_front();
    ++dropped;
  }
  if (dropped > 0) dropped_front(dropped);
  if (samples_.empty()) {
    base_ = at;
    return 0;
  }
  const std::uint32_t shift = samples_.front().t;
  base_ += unit_ * shift;
  for (std::size_t i = 0; i < samples_.size(); ++i) samples_[i].t -= shift;
  return static_cast<std::uint32_t>(t - shift);
}

void AlertWindow::add(const NewSample& s) {
  const std::uint32_t t = offset_of(s.at);
  if (samples_.size() >= max_samples_) {
    pop_front();
    dropped_front(1);
  }
  // Only the jitter reads a sample's series.
  const bool by_series = source_ == AlertSource::rtt || source_ == AlertSource::ttft;
  if (by_series && samples_.empty()) {
    mixed_ = false;
    series_.clear();
    only_series_ = s.series;
  } else if (by_series && !mixed_ && s.series != only_series_) {
    mixed_ = true;
    for (std::size_t i = 0; i < samples_.size(); ++i) series_.push_back(only_series_, max_samples_);
  }
  samples_.push_back(Sample{t, s.v}, max_samples_);
  if (mixed_) series_.push_back(s.series, max_samples_);
  if (source_ == AlertSource::bandwidth) weights_.push_back(s.w, max_samples_);
  for (View& v : views_) v.dirty = true;
}

void AlertWindow::pop_front() {
  samples_.pop_front();
  if (mixed_) series_.pop_front();
  if (source_ == AlertSource::bandwidth) weights_.pop_front();
}

void AlertWindow::shrink() {
  samples_.shrink();
  series_.shrink();
  weights_.shrink();
}

// Keeps each view's start on the same sample after `n` left the front; a
// view that lost samples it held (the cap) is stale.
void AlertWindow::dropped_front(std::size_t n) {
  for (View& v : views_) {
    if (v.start < n) v.dirty = true;
    v.start = v.start > n ? static_cast<std::uint32_t>(v.start - n) : 0;
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
  while (!samples_.empty() && now - at_of(0) > longest_) {
    pop_front();
    ++n;
  }
  if (n > 0) {
    dropped_front(n);
    shrink();
  }
  return samples_.empty();
}

void AlertWindow::clear() {
  samples_.clear();
  series_.clear();
  weights_.clear();
  mixed_ = false;
  for (View& v : views_) v.start = 0, v.dirty = true;
}

AlertWindow AlertWindow::rewindowed(std::vector<Duration> lengths, std::size_t max_samples) const {
  AlertWindow w(source_, std::move(lengths), max_samples);
  const std::size_t n = samples_.size();
  const std::size_t skip = n > w.max_samples_ ? n - w.max_samples_ : 0;
  for (std::size_t i = skip; i < n; ++i)
    w.add({at_of(i), samples_[i].v, series_at(i),
           source_ == AlertSource::bandwidth ? weights_[i] : Weight{}});
  return w;
}

std::optional<double> AlertWindow::value(AlertMetric metric, MonoTime now, std::size_t length) {
  if (source_of(metric) != source_ || length >= views_.size()) return std::nullopt;
  expire(now);
  View& v = views_[length];
  while (v.start < samples_.size() && now - at_of(v.start) > v.length) {
    ++v.start;
    v.dirty = true;
  }
  if (v.dirty) recompute(v);
  switch (metric) {
    case AlertMetric::rtt_median:
      return v.get(kMedian);
    case AlertMetric::rtt_p95:
    case AlertMetric::ttft_p95:
      return v.get(kP95);
    case AlertMetric::jitter:
      return v.get(kJitter);
    case AlertMetric::loss:
    case AlertMetric::failures:
    case AlertMetric::bandwidth_utilisation:
      return v.get(kOnly);
    case AlertMetric::availability:
      return std::nullopt;
  }
  return std::nullopt;
}

void AlertWindow::recompute(View& v) const {
  v.has = 0;
  v.dirty = false;
  const std::size_t n = samples_.size();
  if (v.start >= n) return;
  const auto count = static_cast<double>(n - v.start);
  switch (source_) {
    case AlertSource::rtt:
    case AlertSource::ttft:
      return recompute_latency(v);
    case AlertSource::loss:
    case AlertSource::failures: {
      std::int64_t marked = 0;  // lost or failed
      for (std::size_t i = v.start; i < n; ++i) marked += samples_[i].v;
      v.set(kOnly, source_ == AlertSource::loss ? static_cast<double>(marked) / count
                                                : static_cast<double>(marked));
      return;
    }
    case AlertSource::bandwidth: {
      double weighted = 0, total = 0;
      for (std::size_t i = v.start; i < n; ++i) {
        const auto interval = static_cast<double>(weights_[i].interval.count());
        weighted += weights_[i].utilisation * interval;
        total += interval;
      }
      v.set(kOnly, weighted / total);
      return;
    }
    case AlertSource::availability:
      return;
  }
}

void AlertWindow::recompute_latency(View& v) const {
  const std::size_t n = samples_.size();
  std::vector<Duration> all;
  all.reserve(n - v.start);
  std::unordered_map<std::uint32_t, std::uint32_t> previous;  // last RTT per series
  double jitter_sum = 0;                                      // nanoseconds
  std::size_t pairs = 0;
  for (std::size_t i = v.start; i < n; ++i) {
    const std::uint32_t us = samples_[i].v;
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
  v.set(kP95, ms_of(quantile(all, 0.95)->count()));
  v.set(kMedian, ms_of(quantile(all, 0.5)->count()));
  if (pairs > 0)
    v.set(kJitter, ms_of(static_cast<std::int64_t>(jitter_sum / static_cast<double>(pairs))));
}

}  // namespace linewatch

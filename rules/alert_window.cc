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

AlertWindow::AlertWindow(AlertSource source, std::vector<Duration> lengths, std::size_t max_samples)
    : source_(source), max_samples_(std::max<std::size_t>(max_samples, 1)) {
  if (lengths.empty()) lengths.push_back(Duration::zero());
  for (Duration length : lengths) {
    views_.push_back(View{length, 0, Values{}, true});
    longest_ = std::max(longest_, length);
  }
}

void AlertWindow::add(const NewSample& s) {
  // Only the jitter reads a sample's series.
  const bool by_series = source_ == AlertSource::rtt || source_ == AlertSource::ttft;
  if (by_series && samples_.empty()) {
    series_.reset();
    only_series_ = s.series;
  } else if (by_series && !series_ && s.series != only_series_) {
    series_.emplace(samples_.size(), only_series_);
  }
  samples_.push_back(Sample{s.at, s.n});
  if (series_) series_->push_back(s.series);
  if (source_ == AlertSource::bandwidth) {
    if (!utilisation_) utilisation_.emplace();
    utilisation_->push_back(s.x);
  }
  for (View& v : views_) v.dirty = true;
  if (samples_.size() > max_samples_) {
    pop_front();
    dropped_front(1);
  }
}

void AlertWindow::pop_front() {
  samples_.pop_front();
  if (series_) series_->pop_front();
  if (utilisation_) utilisation_->pop_front();
}

// Keeps each view's start on the same sample after `n` left the front; a
// view that lost samples it held (the cap) is stale.
void AlertWindow::dropped_front(std::size_t n) {
  for (View& v : views_) {
    if (v.start < n) v.dirty = true;
    v.start = v.start > n ? v.start - n : 0;
  }
}

void AlertWindow::add_round(const ProbeResult& r, MonoTime at, std::uint32_t series) {
  switch (source_) {
    case AlertSource::rtt:
      if (r.kind == ProbeKind::icmp && !r.rtts.empty()) {
        for (const auto& rtt : r.rtts)
          if (rtt) add({at, rtt->count(), 0, series});
      } else if (r.rtt) {
        add({at, r.rtt->count(), 0, series});
      }
      return;
    case AlertSource::loss:
      if (r.kind == ProbeKind::icmp) {
        if (!r.rtts.empty()) {
          for (const auto& rtt : r.rtts) add({at, rtt ? 0 : 1, 0, series});
        } else {  // a round summarised without its echoes
          for (int i = 0; i < r.sent; ++i) add({at, i < r.received ? 0 : 1, 0, series});
        }
        return;
      }
      if (path_outcome(r.reason) != PathOutcome::unknown)
        add({at, path_outcome(r.reason) == PathOutcome::failed ? 1 : 0, 0, series});
      return;
    case AlertSource::failures:
      add({at, r.ok ? 0 : 1, 0, series});
      return;
    case AlertSource::ttft:
    case AlertSource::bandwidth:
    case AlertSource::availability:
      return;
  }
}

void AlertWindow::add_ttft(Duration ttft, MonoTime at, std::uint32_t series) {
  if (source_ == AlertSource::ttft) add({at, ttft.count(), 0, series});
}

void AlertWindow::add_bandwidth(double utilisation, Duration interval, MonoTime at) {
  if (source_ == AlertSource::bandwidth && interval > Duration::zero())
    add({at, interval.count(), utilisation, 0});
}

bool AlertWindow::expire(MonoTime now) {
  std::size_t n = 0;
  while (!samples_.empty() && now - samples_.front().at > longest_) {
    pop_front();
    ++n;
  }
  if (n > 0) dropped_front(n);
  return samples_.empty();
}

void AlertWindow::clear() {
  samples_.clear();
  series_.reset();
  utilisation_.reset();
  for (View& v : views_) v.start = 0, v.dirty = true;
}

AlertWindow AlertWindow::rewindowed(std::vector<Duration> lengths, std::size_t max_samples) const {
  AlertWindow w(source_, std::move(lengths), max_samples);
  const std::size_t skip = samples_.size() > w.max_samples_ ? samples_.size() - w.max_samples_ : 0;
  const auto from = static_cast<std::ptrdiff_t>(skip);
  w.samples_.assign(samples_.begin() + from, samples_.end());
  if (series_) w.series_.emplace(series_->begin() + from, series_->end());
  w.only_series_ = only_series_;
  if (utilisation_) w.utilisation_.emplace(utilisation_->begin() + from, utilisation_->end());
  return w;
}

std::optional<double> AlertWindow::value(AlertMetric metric, MonoTime now, std::size_t length) {
  if (source_of(metric) != source_ || length >= views_.size()) return std::nullopt;
  expire(now);
  View& v = views_[length];
  while (v.start < samples_.size() && now - samples_[v.start].at > v.length) {
    ++v.start;
    v.dirty = true;
  }
  if (v.dirty) recompute(v);
  switch (metric) {
    case AlertMetric::rtt_median:
      return v.values.median;
    case AlertMetric::rtt_p95:
    case AlertMetric::ttft_p95:
      return v.values.p95;
    case AlertMetric::jitter:
      return v.values.jitter;
    case AlertMetric::loss:
      return v.values.loss;
    case AlertMetric::failures:
      return v.values.failures;
    case AlertMetric::bandwidth_utilisation:
      return v.values.utilisation;
    case AlertMetric::availability:
      return std::nullopt;
  }
  return std::nullopt;
}

void AlertWindow::recompute(View& v) const {
  v.values = Values{};
  v.dirty = false;
  const auto first = samples_.begin() + static_cast<std::ptrdiff_t>(v.start);
  const auto count = static_cast<double>(samples_.end() - first);
  if (first == samples_.end()) return;
  switch (source_) {
    case AlertSource::rtt:
    case AlertSource::ttft:
      return recompute_latency(v);
    case AlertSource::loss: {
      std::int64_t lost = 0;
      for (auto it = first; it != samples_.end(); ++it) lost += it->n;
      v.values.loss = static_cast<double>(lost) / count;
      return;
    }
    case AlertSource::failures: {
      std::int64_t failed = 0;
      for (auto it = first; it != samples_.end(); ++it) failed += it->n;
      v.values.failures = static_cast<double>(failed);
      return;
    }
    case AlertSource::bandwidth: {
      double weighted = 0, total = 0;
      for (std::size_t i = v.start; i < samples_.size(); ++i) {
        weighted += (*utilisation_)[i] * static_cast<double>(samples_[i].n);
        total += static_cast<double>(samples_[i].n);
      }
      v.values.utilisation = weighted / total;
      return;
    }
    case AlertSource::availability:
      return;
  }
}

void AlertWindow::recompute_latency(View& v) const {
  std::vector<Duration> all;
  all.reserve(samples_.size() - v.start);
  std::unordered_map<std::uint32_t, std::int64_t> previous;  // last RTT per series
  double jitter_sum = 0;
  std::size_t pairs = 0;
  for (std::size_t i = v.start; i < samples_.size(); ++i) {
    const Sample& s = samples_[i];
    all.emplace_back(s.n);
    auto [it, first] = previous.try_emplace(series_at(i), s.n);
    if (!first) {
      jitter_sum += static_cast<double>(std::llabs(s.n - it->second));
      ++pairs;
      it->second = s.n;
    }
  }
  // Nearest rank, as the status board and line quality figures.
  v.values.p95 = ms_of(quantile(all, 0.95)->count());
  v.values.median = ms_of(quantile(all, 0.5)->count());
  if (pairs > 0)
    v.values.jitter = ms_of(static_cast<std::int64_t>(jitter_sum / static_cast<double>(pairs)));
}

}  // namespace linewatch

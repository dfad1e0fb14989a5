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

AlertWindow::AlertWindow(AlertSource source, Duration length, std::size_t max_samples)
    : source_(source), length_(length), max_samples_(std::max<std::size_t>(max_samples, 1)) {}

void AlertWindow::add(Sample s) {
  samples_.push_back(s);
  while (samples_.size() > max_samples_) samples_.pop_front();
  dirty_ = true;
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
  while (!samples_.empty() && now - samples_.front().at > length_) {
    samples_.pop_front();
    dirty_ = true;
  }
  return samples_.empty();
}

void AlertWindow::clear() {
  samples_.clear();
  dirty_ = true;
}

std::optional<double> AlertWindow::value(AlertMetric metric, MonoTime now) {
  if (source_of(metric) != source_) return std::nullopt;
  expire(now);
  if (dirty_) recompute();
  switch (metric) {
    case AlertMetric::rtt_median:
      return values_.median;
    case AlertMetric::rtt_p95:
    case AlertMetric::ttft_p95:
      return values_.p95;
    case AlertMetric::jitter:
      return values_.jitter;
    case AlertMetric::loss:
      return values_.loss;
    case AlertMetric::failures:
      return values_.failures;
    case AlertMetric::bandwidth_utilisation:
      return values_.utilisation;
    case AlertMetric::availability:
      return std::nullopt;
  }
  return std::nullopt;
}

void AlertWindow::recompute() {
  values_ = Values{};
  dirty_ = false;
  if (samples_.empty()) return;
  switch (source_) {
    case AlertSource::rtt:
    case AlertSource::ttft:
      return recompute_latency();
    case AlertSource::loss: {
      std::size_t lost = 0;
      for (const Sample& s : samples_) lost += static_cast<std::size_t>(s.n);
      values_.loss = static_cast<double>(lost) / static_cast<double>(samples_.size());
      return;
    }
    case AlertSource::failures: {
      std::size_t failed = 0;
      for (const Sample& s : samples_) failed += static_cast<std::size_t>(s.n);
      values_.failures = static_cast<double>(failed);
      return;
    }
    case AlertSource::bandwidth: {
      double weighted = 0, total = 0;
      for (const Sample& s : samples_) {
        weighted += s.x * static_cast<double>(s.n);
        total += static_cast<double>(s.n);
      }
      values_.utilisation = weighted / total;
      return;
    }
    case AlertSource::availability:
      return;
  }
}

void AlertWindow::recompute_latency() {
  std::vector<Duration> all;
  all.reserve(samples_.size());
  std::unordered_map<std::uint32_t, std::int64_t> previous;  // last RTT per series
  double jitter_sum = 0;
  std::size_t pairs = 0;
  for (const Sample& s : samples_) {
    all.emplace_back(s.n);
    auto [it, first] = previous.try_emplace(s.series, s.n);
    if (!first) {
      jitter_sum += static_cast<double>(std::llabs(s.n - it->second));
      ++pairs;
      it->second = s.n;
    }
  }
  // Nearest rank, as the status board and line quality figures.
  values_.p95 = ms_of(quantile(all, 0.95)->count());
  values_.median = ms_of(quantile(all, 0.5)->count());
  if (pairs > 0)
    values_.jitter = ms_of(static_cast<std::int64_t>(jitter_sum / static_cast<double>(pairs)));
}

}  // namespace linewatch

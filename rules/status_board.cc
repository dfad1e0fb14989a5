#include "rules/status_board.h"

#include <algorithm>
#include <cmath>

namespace linewatch {

std::optional<Duration> quantile(std::vector<Duration>& values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least q of the sample at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

void StatusBoard::record(const ProbeResult& result) {
  const MonoTime now = clock_.now();
  std::lock_guard lock(mu_);
  Series& s = series_[SeriesKey{result.line, result.target, result.kind}];
  s.entries.push_back(Entry{now, result});
  s.latest = result;
  expire(s, now);
}

void StatusBoard::expire(Series& s, MonoTime now) const {
  while (!s.entries.empty() && now - s.entries.front().arrived > window_) s.entries.pop_front();
}

namespace {

SeriesSummary summarise(const SeriesKey& key, const std::deque<ProbeResult*>& rounds,
                        const ProbeResult& latest) {
  SeriesSummary out;
  out.key = key;
  out.latest = latest;
  std::vector<Duration> rtts;
  int sent = 0, received = 0;
  double jitter_sum = 0;
  int jitter_n = 0;
  std::optional<Duration> prev;
  for (const ProbeResult* r : rounds) {
    ++out.rounds;
    if (r->ok) ++out.ok_rounds;
    if (!r->ok) {
      out.last_failure = r->reason;
      out.last_failure_time = r->time;
      out.last_failure_detail = r->detail;
    }
    sent += r->sent;
    received += r->received;
    // Every echo counts for ICMP, so a round of 20 pings weighs 20 samples.
    std::vector<std::optional<Duration>> samples = r->rtts;
    if (samples.empty()) samples.push_back(r->ok ? r->rtt : std::nullopt);
    for (const auto& v : samples) {
      if (!v) continue;
      rtts.push_back(*v);
      if (prev) {
        jitter_sum += std::abs(static_cast<double>((*v - *prev).count()));
        ++jitter_n;
      }
      prev = v;
    }
  }
  if (out.rounds > 0) {
    out.availability = static_cast<double>(out.ok_rounds) / out.rounds;
    out.loss = key.kind == ProbeKind::icmp && sent > 0
                   ? 1.0 - static_cast<double>(received) / sent
                   : 1.0 - out.availability;
  }
  if (jitter_n > 0) out.jitter = Duration(static_cast<Duration::rep>(jitter_sum / jitter_n));
  out.rtt_p95 = quantile(rtts, 0.95);
  out.rtt_median = quantile(rtts, 0.5);
  return out;
}

}  // namespace

std::vector<SeriesSummary> StatusBoard::snapshot() const {
  const MonoTime now = clock_.now();
  std::lock_guard lock(mu_);
  std::vector<SeriesSummary> out;
  out.reserve(series_.size());
  for (auto& [key, s] : series_) {
    expire(s, now);
    std::deque<ProbeResult*> rounds;
    for (auto& e : s.entries) rounds.push_back(&e.result);
    out.push_back(summarise(key, rounds, s.latest));
  }
  return out;
}

}  // namespace linewatch

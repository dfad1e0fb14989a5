#include "agent/metrics_probe_series.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "exporters/metrics.h"

namespace linewatch {
namespace {

double seconds_of(Duration d) { return std::chrono::duration<double>(d).count(); }

// One RTT (seconds) to the histogram and the RFC 3550 jitter estimate.
void add_rtt(ProbeSeries& s, double rtt) {
  s.rtt.observe(rtt);
  if (s.last_rtt) s.jitter += (std::fabs(rtt - *s.last_rtt) - s.jitter) / 16.0;
  s.last_rtt = rtt;
}

void set_phase(ProbeSeries& s, ProbePhase phase, const std::optional<Duration>& d) {
  if (!d) return;
  const auto p = static_cast<std::size_t>(phase);
  s.phases_seen |= static_cast<std::uint8_t>(1u << p);
  s.phases[p] = seconds_of(*d);
}

}  // namespace

void SeriesHistogram::observe(double value) {
  const auto bounds = rtt_buckets();
  const auto it =
      std::find_if(bounds.begin(), bounds.end(), [value](double b) { return b >= value; });
  ++counts[static_cast<std::size_t>(it - bounds.begin())];
  sum += value;
}

ProbeSeries::ProbeSeries(const std::string* line_, const std::string* target_, ProbeKind kind_,
                         bool with_ttft)
    : line(line_), target(target_), kind(kind_) {
  if (rtt_buckets().size() != kSeriesBuckets)
    throw std::logic_error("kSeriesBuckets differs from rtt_buckets()");
  if (with_ttft) ttft = std::make_unique<SeriesHistogram>();
}

void record(ProbeSeries& s, const ProbeResult& r) {
  std::lock_guard lk(s.mu);
  const auto reason = static_cast<std::size_t>(r.reason);
  s.reasons_seen |= 1u << reason;
  ++s.results[reason];
  s.success = r.ok ? 1 : 0;
  if (r.kind == ProbeKind::icmp && !r.rtts.empty()) {
    for (const auto& echo : r.rtts)
      if (echo) add_rtt(s, seconds_of(*echo));
  } else if (r.rtt) {
    add_rtt(s, seconds_of(*r.rtt));
  }
  if (s.echoes()) {
    s.echoes_sent += static_cast<std::uint64_t>(std::max(r.sent, 0));
    s.echoes_lost += static_cast<std::uint64_t>(std::max(r.sent - r.received, 0));
  }
  const bool echoes = r.kind == ProbeKind::icmp && r.sent > 0;
  s.loss = echoes ? r.loss() : (r.ok ? 0 : 1);
  set_phase(s, ProbePhase::dns, r.phases.dns);
  set_phase(s, ProbePhase::connect, r.phases.connect);
  set_phase(s, ProbePhase::tls, r.phases.tls);
  set_phase(s, ProbePhase::ttfb, r.phases.ttfb);
  set_phase(s, ProbePhase::transfer, r.phases.transfer);
  if (r.llm) {
    set_phase(s, ProbePhase::ttft, r.llm->ttft);
    set_phase(s, ProbePhase::total, r.llm->total);
    if (s.ttft && r.llm->ttft) s.ttft->observe(seconds_of(*r.llm->ttft));
  }
}

const std::string* LabelPool::intern(std::string_view value) {
  auto it = values_.find(value);
  if (it == values_.end()) it = values_.emplace(value).first;
  return &*it;
}

std::size_t SeriesKeyHash::operator()(const SeriesKey& k) const {
  const std::hash<std::string_view> h;
  std::size_t seed = h(k.line);
  seed ^= h(k.target) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2);
  return seed ^ (static_cast<std::size_t>(k.kind) * 0x9e3779b97f4a7c15ULL);
}

}  // namespace linewatch

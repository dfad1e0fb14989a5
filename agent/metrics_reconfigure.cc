// MetricsCollector::reconfigure(): the series follow a reloaded config.
//
// prometheus-cpp's Family::Add() hands back the metric a family already has
// for the same labels, so the parts mirrored from snapshots (lines,
// gateways, receivers, alert rules) are simply added again from the new
// config, and what the old config had beyond that is removed. Probe series
// are our own (agent/metrics_probe_series.h): build_probes() keeps those the
// new config still has, matched by line, target and kind, with all their
// figures (counters, histograms, jitter estimate, the reasons and phases
// seen), and drops the rest, which leave the exposition with them.
#include <set>

#include "agent/metrics_collector.h"
#include "agent/metrics_series.h"

namespace linewatch {
namespace {

// Removes `metric` from `family` unless the new series still hold it.
template <typename Family, typename Metric>
void drop_unless(Family& family, Metric* metric, const std::set<const void*>& kept) {
  if (metric && !kept.contains(metric)) family.Remove(metric);
}

template <typename... Metric>
void keep(std::set<const void*>& kept, Metric*... metrics) {
  ((metrics ? void(kept.insert(metrics)) : void()), ...);
}

}  // namespace

// Lines of the new config; a line that stays keeps its bandwidth series.
void MetricsCollector::Impl::relines(const Config& config) {
  std::vector<LineMetrics> old = std::move(lines);
  lines.clear();
  lines_by_id.clear();
  add_lines(config);
  std::set<const void*> kept;
  for (LineMetrics& l : lines) {
    for (const LineMetrics& o : old)
      if (o.id == l.id)
        l.rx = o.rx, l.tx = o.tx, l.utilisation = o.utilisation, l.availability = o.availability;
    keep(kept, l.state[0], l.state[1], l.state[2], l.takes_traffic, l.alive, l.score,
         l.flap_penalty, l.capacity, l.rx, l.tx, l.utilisation, l.availability[0],
         l.availability[1], l.availability[2]);
  }
  for (const LineMetrics& o : old) {
    for (prometheus::Gauge* g : o.state) drop_unless(metrics.line_state, g, kept);
    drop_unless(metrics.line_takes_traffic, o.takes_traffic, kept);
    drop_unless(metrics.line_alive, o.alive, kept);
    drop_unless(metrics.line_score, o.score, kept);
    drop_unless(metrics.line_flap_penalty, o.flap_penalty, kept);
    drop_unless(metrics.line_capacity, o.capacity, kept);
    drop_unless(metrics.line_bandwidth, o.rx, kept);
    drop_unless(metrics.line_bandwidth, o.tx, kept);
    drop_unless(metrics.line_utilisation, o.utilisation, kept);
    for (prometheus::Gauge* g : o.availability) drop_unless(metrics.line_availability, g, kept);
  }
}

// Routes, gateways, receivers and alert rules: added again, the rest removed.
void MetricsCollector::Impl::rebuild_rest(const Config& config) {
  auto old_gateways = std::move(gateways);
  auto old_receivers = std::move(receivers);
  auto old_alerts = std::move(alert_gauges);
  auto old_hops = std::move(route_hops);
  route_hops.clear();
  gateways.clear();
  receivers.clear();
  alert_gauges.clear();
  // The singletons of a part that went: Add() then Remove() is a no-op when absent.
  auto single = [](auto& family, bool keep) {
    if (!keep) family.Remove(&family.Add({}));
  };
  single(metrics.route_plan_version, bool(sources.failover));
  single(metrics.route_plan_panic, bool(sources.failover));
  single(metrics.failover_decision_lag, bool(sources.failover));
  single(metrics.failover_inbox_dropped, bool(sources.failover));
  single(metrics.route_applied_version, bool(sources.apply));
  add_routes(config);
  add_alerts_and_receivers(config);
  std::set<const void*> kept;
  for (const auto& [id, g] : gateways) keep(kept, g.delivered, g.pending, g.attempts, g.failures);
  for (const auto& [id, r] : receivers) keep(kept, r.pending, r.parked, r.delivered, r.failures);
  for (const auto& [rule, g] : alert_gauges) keep(kept, g[0], g[1]);
  for (const auto& [route, hops] : route_hops)
    for (const auto& [line, g] : hops) keep(kept, g);
  for (const auto& [route, hops] : old_hops)
    for (const auto& [line, g] : hops) drop_unless(metrics.route_next_hop_weight, g, kept);
  for (const auto& [id, g] : old_gateways) {
    drop_unless(metrics.gateway_delivered_version, g.delivered, kept);
    drop_unless(metrics.gateway_pending_version, g.pending, kept);
    drop_unless(metrics.gateway_push_attempts, g.attempts, kept);
    drop_unless(metrics.gateway_push_failures, g.failures, kept);
  }
  for (const auto& [id, r] : old_receivers) {
    drop_unless(metrics.notify_outbox_pending, r.pending, kept);
    drop_unless(metrics.notify_outbox_parked, r.parked, kept);
    drop_unless(metrics.notify_delivered, r.delivered, kept);
    drop_unless(metrics.notify_failures, r.failures, kept);
  }
  for (const auto& [rule, g] : old_alerts) {
    drop_unless(metrics.alerts, g[0], kept);
    drop_unless(metrics.alerts, g[1], kept);
  }
}

void MetricsCollector::reconfigure(const Config& config, MetricsSources sources) {
  std::lock_guard scrape(impl_->scrape_mu);
  std::unique_lock series(impl_->series_mu);
  impl_->sources = std::move(sources);
  impl_->build_probes(config, std::move(impl_->probes));
  impl_->relines(config);
  impl_->rebuild_rest(config);
}

}  // namespace linewatch

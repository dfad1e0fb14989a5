#include "agent/metrics_collector.h"

#include <utility>

#include "agent/metrics_series.h"
#include "rules/alert_rules.h"

namespace linewatch {

void MetricsCollector::Impl::build_probes(const Config& config,
                                          std::vector<std::unique_ptr<ProbeSeries>> old) {
  // Declared first, so the old labels outlive `kept`, whose keys view them.
  LabelPool labels;
  std::unordered_map<SeriesKey, std::unique_ptr<ProbeSeries>, SeriesKeyHash> kept;
  for (auto& s : old) {
    const SeriesKey key{*s->line, *s->target, s->kind};
    kept.emplace(key, std::move(s));
  }
  std::swap(labels, probe_labels);
  probes.clear();
  probes_by_key.clear();
  for (const ProbeJob& job : make_jobs(config)) {
    const std::string* line = probe_labels.intern(job.line->id);
    const std::string* target = probe_labels.intern(job.target->id);
    const ProbeKind kind = job.spec->kind;
    const bool ttft = kind == ProbeKind::llm && job.spec->llm->mode == LlmMode::completion;
    const SeriesKey key{*line, *target, kind};
    if (probes_by_key.contains(key)) continue;
    std::unique_ptr<ProbeSeries> s;
    if (auto it = kept.find(key); it != kept.end()) {
      s = std::move(it->second);
      s->line = line;
      s->target = target;
      if (!ttft) s->ttft.reset();
      if (ttft && !s->ttft) s->ttft = std::make_unique<SeriesHistogram>();
    } else {
      s = std::make_unique<ProbeSeries>(line, target, kind, ttft);
    }
    probes_by_key.emplace(key, s.get());
    probes.push_back(std::move(s));
  }
}

void MetricsCollector::Impl::add_lines(const Config& config) {
  lines.reserve(config.lines.size());
  for (const LineSpec& spec : config.lines) {
    LineMetrics& l = lines.emplace_back();
    l.id = spec.id;
    const prometheus::Labels labels{{"line", spec.id}};
    if (spec.capacity_bps) {
      l.capacity = &metrics.line_capacity.Add(labels);
      l.capacity->Set(static_cast<double>(*spec.capacity_bps) / 8);
    }
    if (sources.failover) {
      for (std::size_t i = 0; i < l.state.size(); ++i) {
        const std::string state(to_string(static_cast<LineState>(i)));
        l.state[i] = &metrics.line_state.Add({{"line", spec.id}, {"state", state}});
      }
      l.takes_traffic = &metrics.line_takes_traffic.Add(labels);
      l.alive = &metrics.line_alive.Add(labels);
      l.score = &metrics.line_score.Add(labels);
      l.flap_penalty = &metrics.line_flap_penalty.Add(labels);
    }
  }
  for (LineMetrics& l : lines) lines_by_id.emplace(l.id, &l);
}

void MetricsCollector::Impl::add_routes(const Config& config) {
  if (sources.failover) {
    metrics.route_plan_version.Add({});
    metrics.route_plan_panic.Add({});
    metrics.failover_decision_lag.Add({});
    metrics.failover_inbox_dropped.Add({});
    for (const RouteSpec& r : config.routes)
      for (const std::string& line : r.lines)
        route_hops[r.prefix][line] =
            &metrics.route_next_hop_weight.Add({{"route", r.prefix}, {"line", line}});
  }
  if (sources.apply) metrics.route_applied_version.Add({});
  if (!sources.gateways) return;
  for (const GatewaySpec& g : config.gateways) {
    const prometheus::Labels labels{{"gateway", g.id}};
    gateways[g.id] = {&metrics.gateway_delivered_version.Add(labels),
                      &metrics.gateway_pending_version.Add(labels),
                      &metrics.gateway_push_attempts.Add(labels),
                      &metrics.gateway_push_failures.Add(labels)};
  }
}

// Every rule in force, the built-in line-down one included, pending and firing.
void MetricsCollector::Impl::add_alerts_and_receivers(const Config& config) {
  if (sources.alerts) {
    std::vector<std::string> names{std::string(kLineDownRule)};
    for (const AlertRule& r : effective_rules(config.alerts)) names.push_back(r.name);
    for (const std::string& name : names) {
      if (alert_gauges.contains(name)) continue;
      alert_gauges[name] = {&metrics.alerts.Add({{"rule", name}, {"state", "pending"}}),
                            &metrics.alerts.Add({{"rule", name}, {"state", "firing"}})};
    }
  }
  if (sources.alerting_dropped) metrics.alerting_inbox_dropped.Add({});
  if (!sources.receivers) return;
  for (const NotifierSpec& n : config.notify) {
    const prometheus::Labels labels{{"receiver", n.id}};
    receivers[n.id] = {&metrics.notify_outbox_pending.Add(labels),
                       &metrics.notify_outbox_parked.Add(labels),
                       &metrics.notify_delivered.Add(labels), &metrics.notify_failures.Add(labels)};
  }
}

void MetricsCollector::Impl::add_agent() {
  if (sources.scheduler) {
    metrics.scheduler_rounds.Add({});
    metrics.scheduler_overruns.Add({});
    metrics.scheduler_missed.Add({});
    metrics.scheduler_lag.Add({});
    metrics.scheduler_lag_max.Add({});
    metrics.scheduler_queue.Add({});
    metrics.scheduler_rounds_per_second.Add({});
  }
  if (sources.engine) {
    metrics.engine_in_flight.Add({});
    metrics.engine_loop_lag_p99.Add({});
    metrics.engine_loop_lag_max.Add({});
    metrics.engine_late_replies.Add({});
    metrics.engine_overflow_drops.Add({});
    metrics.engine_ignored_packets.Add({});
  }
  if (sources.storage) {
    const char* names[] = {"result", "event", "bandwidth"};
    for (std::size_t i = 0; i < rows.size(); ++i)
      rows[i] = {&metrics.storage_rows_written.Add({{"row", names[i]}}),
                 &metrics.storage_rows_dropped.Add({{"row", names[i]}})};
    metrics.storage_queue.Add({});
    metrics.storage_queue_limit.Add({});
    metrics.storage_write_errors.Add({});
    metrics.storage_batches.Add({});
    metrics.storage_batch_time.Add({});
    metrics.storage_batch_time_max.Add({});
    metrics.storage_failing.Add({});
  }
  unknown = &metrics.metrics_unknown_results.Add({});
  if (sources.reload) {
    reloads = {&metrics.config_reloads.Add({{"result", "success"}}),
               &metrics.config_reloads.Add({{"result", "failure"}})};
    metrics.config_last_reload_successful.Add({}).Set(1);
    metrics.config_last_reload_success_time.Add({}).Set(
        seconds(options.started.time_since_epoch()));
  }
  metrics.build_info.Add({{"version", options.version}}).Set(1);
  metrics.start_time.Add({}).Set(seconds(options.started.time_since_epoch()));
}

ProbeSeries* MetricsCollector::Impl::find(const ProbeResult& r) const {
  auto it = probes_by_key.find(SeriesKey{r.line, r.target, r.kind});
  return it == probes_by_key.end() ? nullptr : it->second;
}

MetricsCollector::MetricsCollector(const Config& config, MetricsSources sources,
                                   MetricsOptions options)
    : impl_(std::make_unique<Impl>(std::move(sources), std::move(options))) {
  impl_->build_probes(config, {});
  impl_->add_lines(config);
  impl_->add_routes(config);
  impl_->add_alerts_and_receivers(config);
  impl_->add_agent();
}

MetricsCollector::~MetricsCollector() = default;

std::size_t MetricsCollector::probe_series() const { return impl_->probes.size(); }

void MetricsCollector::on_result(const ProbeResult& result) {
  std::shared_lock lk(impl_->series_mu);
  ProbeSeries* s = impl_->find(result);
  if (!s) {
    impl_->unknown->Increment();
    return;
  }
  record(*s, result);
}

}  // namespace linewatch

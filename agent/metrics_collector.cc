#include "agent/metrics_collector.h"

#include <cmath>
#include <set>

#include "agent/metrics_series.h"
#include "rules/alert_rules.h"

namespace linewatch {

std::string series_key(std::string_view line, std::string_view target, ProbeKind kind) {
  std::string key;
  key.reserve(line.size() + target.size() + 8);
  key.append(line).push_back('\0');
  key.append(target).push_back('\0');
  key.append(to_string(kind));
  return key;
}

void MetricsCollector::Impl::add_probe(const std::string& line, const std::string& target,
                                       const ProbeSpec& spec) {
  auto s = std::make_unique<ProbeMetrics>();
  s->kind = spec.kind;
  s->labels = {{"line", line}, {"target", target}, {"kind", std::string(to_string(spec.kind))}};
  const std::vector<double> buckets(rtt_buckets().begin(), rtt_buckets().end());
  s->rtt = &metrics.probe_rtt.Add(s->labels, buckets);
  s->success = &metrics.probe_success.Add(s->labels);
  s->loss = &metrics.probe_loss.Add(s->labels);
  s->jitter = &metrics.probe_jitter.Add(s->labels);
  auto ok = s->labels;
  ok.emplace("reason", to_string(Reason::ok));
  s->results[static_cast<std::size_t>(Reason::ok)] = &metrics.probe_results.Add(ok);
  const prometheus::Labels pair{{"line", line}, {"target", target}};
  if (spec.kind == ProbeKind::icmp) {
    s->echoes_sent = &metrics.probe_echoes_sent.Add(pair);
    s->echoes_lost = &metrics.probe_echoes_lost.Add(pair);
  }
  if (spec.kind == ProbeKind::llm && spec.llm.mode == LlmMode::completion)
    s->ttft = &metrics.llm_ttft.Add(pair, buckets);
  probes_by_key.emplace(series_key(line, target, spec.kind), s.get());
  probes.push_back(std::move(s));
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

ProbeMetrics* MetricsCollector::Impl::find(const ProbeResult& r) const {
  auto it = probes_by_key.find(series_key(r.line, r.target, r.kind));
  return it == probes_by_key.end() ? nullptr : it->second;
}

namespace {

// Adds one RTT (seconds) to the histogram and the RFC 3550 jitter estimate.
void add_rtt(ProbeMetrics& s, double rtt) {
  s.rtt->Observe(rtt);
  if (s.last_rtt) s.jitter_estimate += (std::fabs(rtt - *s.last_rtt) - s.jitter_estimate) / 16.0;
  s.last_rtt = rtt;
}

void set_phase(LinewatchMetrics& m, ProbeMetrics& s, ProbePhase phase,
               const std::optional<Duration>& d) {
  if (!d) return;
  auto& gauge = s.phases[static_cast<std::size_t>(phase)];
  if (!gauge) {
    auto labels = s.labels;
    labels.emplace("phase", kPhaseNames[static_cast<std::size_t>(phase)]);
    gauge = &m.probe_phase.Add(labels);
  }
  gauge->Set(seconds(*d));
}

}  // namespace

void MetricsCollector::Impl::observe(ProbeMetrics& s, const ProbeResult& r) {
  std::lock_guard lk(s.mu);
  auto& result = s.results[static_cast<std::size_t>(r.reason)];
  if (!result) {
    auto labels = s.labels;
    labels.emplace("reason", to_string(r.reason));
    result = &metrics.probe_results.Add(labels);
  }
  result->Increment();
  s.success->Set(r.ok ? 1 : 0);
  if (r.kind == ProbeKind::icmp && !r.rtts.empty()) {
    for (const auto& echo : r.rtts)
      if (echo) add_rtt(s, seconds(*echo));
  } else if (r.rtt) {
    add_rtt(s, seconds(*r.rtt));
  }
  s.jitter->Set(s.jitter_estimate);
  if (s.echoes_sent) {
    s.echoes_sent->Increment(std::max(r.sent, 0));
    s.echoes_lost->Increment(std::max(r.sent - r.received, 0));
  }
  const bool echoes = r.kind == ProbeKind::icmp && r.sent > 0;
  s.loss->Set(echoes ? r.loss() : (r.ok ? 0 : 1));
  set_phase(metrics, s, ProbePhase::dns, r.phases.dns);
  set_phase(metrics, s, ProbePhase::connect, r.phases.connect);
  set_phase(metrics, s, ProbePhase::tls, r.phases.tls);
  set_phase(metrics, s, ProbePhase::ttfb, r.phases.ttfb);
  set_phase(metrics, s, ProbePhase::transfer, r.phases.transfer);
  if (r.llm) {
    set_phase(metrics, s, ProbePhase::ttft, r.llm->ttft);
    set_phase(metrics, s, ProbePhase::total, r.llm->total);
    if (s.ttft && r.llm->ttft) s.ttft->Observe(seconds(*r.llm->ttft));
  }
}

MetricsCollector::MetricsCollector(const Config& config, MetricsSources sources,
                                   MetricsOptions options)
    : impl_(std::make_unique<Impl>(std::move(sources), std::move(options))) {
  for (const ProbeJob& job : make_jobs(config))
    impl_->add_probe(job.line->id, job.target->id, *job.spec);
  impl_->add_lines(config);
  impl_->add_routes(config);
  impl_->add_alerts_and_receivers(config);
  impl_->add_agent();
}

MetricsCollector::~MetricsCollector() = default;

std::size_t MetricsCollector::probe_series() const { return impl_->probes.size(); }

void MetricsCollector::on_result(const ProbeResult& result) {
  std::shared_lock lk(impl_->series_mu);
  ProbeMetrics* s = impl_->find(result);
  if (!s) {
    impl_->unknown->Increment();
    return;
  }
  impl_->observe(*s, result);
}

}  // namespace linewatch

#include "exporters/metrics.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "exporters/metrics_text.h"

namespace linewatch {
namespace {

using MT = MetricType;

// The one list of families. Keep docs/metrics.md in step (metrics_test.cc
// checks it names each one with its type).
constexpr MetricSpec kCatalogue[] = {
    // Probes
    {"linewatch_probe_rtt_seconds", MT::histogram, "line,target,kind", "seconds",
     "Round-trip time of probe rounds: every answered echo for icmp, the connect for tcp, the "
     "whole request for http, the time to first token (completion) or the whole call (models) "
     "for llm."},
    {"linewatch_probe_results_total", MT::counter, "line,target,kind,reason", "1",
     "Probe rounds by outcome: reason ok for a success, else why the round failed."},
    {"linewatch_probe_success", MT::gauge, "line,target,kind", "1",
     "Whether the latest round succeeded (1) or failed (0)."},
    {"linewatch_probe_loss_ratio", MT::gauge, "line,target,kind", "ratio",
     "Loss of the latest round: lost echoes over sent for icmp, 1 for a failed round of another "
     "kind, else 0."},
    {"linewatch_probe_jitter_seconds", MT::gauge, "line,target,kind", "seconds",
     "RFC 3550 jitter estimate over consecutive RTTs (every echo for icmp): J += (|D| - J) / 16."},
    {"linewatch_probe_echoes_sent_total", MT::counter, "line,target", "1",
     "ICMP echo requests sent (rate of lost over sent is the loss over any window)."},
    {"linewatch_probe_echoes_lost_total", MT::counter, "line,target", "1",
     "ICMP echo requests that had no reply within the timeout."},
    {"linewatch_probe_phase_seconds", MT::gauge, "line,target,kind,phase", "seconds",
     "Phase durations of the latest round that reached the phase: dns, connect, tls, ttfb, "
     "transfer (tcp, http, llm), ttft and total (llm)."},
    {"linewatch_llm_ttft_seconds", MT::histogram, "line,target", "seconds",
     "Time to first token of llm completion rounds, from the request written to the first "
     "content token."},
    // Lines
    {"linewatch_line_state", MT::gauge, "line,state", "1",
     "Failover health of the line: 1 for its current state (up, degraded or down), 0 for the "
     "others. Only with routes."},
    {"linewatch_line_takes_traffic", MT::gauge, "line", "1",
     "Whether the route plan may use the line (up and not held down). Only with routes."},
    {"linewatch_line_alive", MT::gauge, "line", "1",
     "Liveness: a reflector answered the line's echoes within detect. Only with routes."},
    {"linewatch_line_score", MT::gauge, "line", "1",
     "The line's score, 0..1, higher is better (rules/score.h). Only with routes."},
    {"linewatch_line_flap_penalty", MT::gauge, "line", "1",
     "The line's flap penalty (RFC 2439 style). Only with routes."},
    {"linewatch_line_bandwidth_bytes_per_second", MT::gauge, "line,direction", "bytes/s",
     "Traffic on the line's interface over the last sample (1 s), direction rx or tx; times 8 "
     "for bits. Absent while not measured."},
    {"linewatch_line_utilisation_ratio", MT::gauge, "line", "ratio",
     "max(rx, tx) over the line's capacity; above 1 when the interface carries more. Absent "
     "without a capacity or while not measured."},
    {"linewatch_line_availability_ratio", MT::gauge, "line,window", "ratio",
     "Share of the line's rounds over the window (1h, 24h, 30d) without a network failure, "
     "every target together, from the agent's own rollups (as the availability rule reads "
     "them; up to 30 s old). Absent until first read."},
    {"linewatch_line_capacity_bytes_per_second", MT::gauge, "line", "bytes/s",
     "The line's configured capacity (lines[].capacity, in bits/s there) in bytes per second."},
    // Routes
    {"linewatch_route_plan_version", MT::gauge, "", "1",
     "Version of the route plan in force; 0 before the first. Only with routes."},
    {"linewatch_route_plan_panic", MT::gauge, "", "1",
     "1 while the plan in force keeps a line that does not take traffic because no better one "
     "is left (never blackhole), else 0. Only with routes."},
    {"linewatch_route_next_hop_weight", MT::gauge, "route,line", "1",
     "Multipath weight of the line in the plan in force for the route (routes[].prefix); 0 "
     "while the route lists the line but sends it nothing. Only with routes."},
    {"linewatch_route_applied_version", MT::gauge, "", "1",
     "Newest plan version fully applied to this host's kernel; 0 before any. Only with apply."},
    {"linewatch_gateway_delivered_version", MT::gauge, "gateway", "1",
     "Newest plan version in force at the gateway; 0 before any."},
    {"linewatch_gateway_pending_version", MT::gauge, "gateway", "1",
     "Newest plan version published but not yet in force at the gateway; 0 when none waits."},
    {"linewatch_gateway_push_attempts_total", MT::counter, "gateway", "1",
     "Attempts to deliver a plan to the gateway, whatever their outcome."},
    {"linewatch_gateway_push_failures_total", MT::counter, "gateway", "1",
     "Attempts that did not put the plan in force at the gateway."},
    {"linewatch_failover_decision_lag_seconds", MT::gauge, "", "seconds",
     "Last decision step: from its oldest input entering the inbox to its end. Only with routes."},
    {"linewatch_failover_inbox_dropped_total", MT::counter, "", "1",
     "Failover inputs dropped because its inbox was full. Only with routes."},
    // Alerts and notifications
    {"linewatch_alerts", MT::gauge, "rule,state", "1",
     "Alerts of the rule in the state (pending or firing), as of the last evaluation."},
    {"linewatch_alerting_inbox_dropped_total", MT::counter, "", "1",
     "Alerting inputs dropped because its inbox was full."},
    {"linewatch_notify_outbox_pending", MT::gauge, "receiver", "1",
     "Notifications waiting in the outbox for the receiver (not parked)."},
    {"linewatch_notify_outbox_parked", MT::gauge, "receiver", "1",
     "Notifications the receiver refused for good, parked in the outbox."},
    {"linewatch_notify_delivered_total", MT::counter, "receiver", "1",
     "Notifications the receiver took."},
    {"linewatch_notify_failures_total", MT::counter, "receiver", "1",
     "Delivery attempts to the receiver that failed and will be retried."},
    // The agent itself
    {"linewatch_scheduler_rounds_total", MT::counter, "", "1", "Probe rounds started."},
    {"linewatch_scheduler_overruns_total", MT::counter, "", "1",
     "Probe slots skipped because the job's previous round was still running."},
    {"linewatch_scheduler_missed_total", MT::counter, "", "1",
     "Probe slots skipped because the scheduler's timer stalled."},
    {"linewatch_scheduler_lag_seconds_total", MT::counter, "", "seconds",
     "Sum over rounds of the start's lateness against its plan (divide by rounds for the mean)."},
    {"linewatch_scheduler_lag_max_seconds", MT::gauge, "", "seconds",
     "Largest lateness of a round's start since the agent started."},
    {"linewatch_scheduler_queue_rounds", MT::gauge, "", "1",
     "Due rounds waiting for a worker now (HTTP, LLM, TCP with send or expect)."},
    {"linewatch_scheduler_rounds_per_second", MT::gauge, "", "1",
     "Probe rounds started per second over the last minute."},
    {"linewatch_engine_rounds_in_flight", MT::gauge, "", "1",
     "ICMP rounds and TCP connects running on the round engine's event loop now."},
    {"linewatch_engine_loop_lag_p99_seconds", MT::gauge, "", "seconds",
     "99th percentile of how late the round engine's timers fired, over the last 10 to 20 s."},
    {"linewatch_engine_loop_lag_max_seconds", MT::gauge, "", "seconds",
     "Largest lateness of a round engine timer over the last 10 to 20 s."},
    {"linewatch_engine_late_replies_total", MT::counter, "", "1",
     "Echo replies the kernel received after their echo's deadline: dropped, the echo lost."},
    {"linewatch_engine_overflow_drops_total", MT::counter, "", "1",
     "Packets the kernel dropped because a shared echo socket's receive buffer was full."},
    {"linewatch_engine_ignored_packets_total", MT::counter, "", "1",
     "Packets on the shared echo sockets that answer no echo of ours (strangers, duplicates)."},
    {"linewatch_storage_queue_rows", MT::gauge, "", "1",
     "Rows accepted by the storage writer and not yet committed."},
    {"linewatch_storage_queue_limit_rows", MT::gauge, "", "1",
     "Queued rows at which the writer refuses more (lower while storage is failing)."},
    {"linewatch_storage_rows_written_total", MT::counter, "row", "1",
     "Rows committed to SQLite, row result, event or bandwidth."},
    {"linewatch_storage_rows_dropped_total", MT::counter, "row", "1",
     "Rows refused by the writer (queue full, storage failing or stopped)."},
    {"linewatch_storage_write_errors_total", MT::counter, "", "1",
     "Failed write attempts (a batch or a retention pass); each is retried."},
    {"linewatch_storage_batches_total", MT::counter, "", "1", "Committed write transactions."},
    {"linewatch_storage_batch_seconds_total", MT::counter, "", "seconds",
     "Time spent writing committed batches (divide by batches for the mean write latency)."},
    {"linewatch_storage_batch_max_seconds", MT::gauge, "", "seconds",
     "Longest committed batch since the agent started."},
    {"linewatch_storage_failing", MT::gauge, "", "1",
     "Whether storage is failing (1) or writing (0)."},
    {"linewatch_metrics_unknown_results_total", MT::counter, "", "1",
     "Probe results about a line, target or kind the config does not have; not exported."},
    {"linewatch_config_last_reload_successful", MT::gauge, "", "1",
     "Whether the last config reload succeeded (1) or was refused (0); 1 before any."},
    {"linewatch_config_last_reload_success_timestamp_seconds", MT::gauge, "", "seconds",
     "When the config in force was loaded (start or last good reload), since the Unix epoch."},
    {"linewatch_config_reloads_total", MT::counter, "result", "1",
     "Config reloads (SIGHUP or POST /-/reload) by result: success or failure."},
    {"linewatch_build_info", MT::gauge, "version", "1", "Always 1; the agent's version."},
    {"linewatch_start_time_seconds", MT::gauge, "", "seconds",
     "When the agent started, in seconds since the Unix epoch."},
};

constexpr std::array<double, 17> kRttBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 10};

const MetricSpec& spec(std::string_view name, MetricType type) {
  for (const MetricSpec& s : kCatalogue)
    if (s.name == name) {
      if (s.type != type) throw std::logic_error("metric " + std::string(name) + ": wrong type");
      return s;
    }
  throw std::logic_error("metric " + std::string(name) + " is not in the catalogue");
}

}  // namespace

template <typename Builder>
auto& LinewatchMetrics::add(Builder builder, std::string_view name, MetricType type) {
  const MetricSpec& s = spec(name, type);
  ++registered_;
  return builder.Name(std::string(s.name)).Help(std::string(s.help)).Register(*registry_);
}
LinewatchMetrics::Counters& LinewatchMetrics::counter(std::string_view name) {
  return add(prometheus::BuildCounter(), name, MT::counter);
}
LinewatchMetrics::Gauges& LinewatchMetrics::gauge(std::string_view name) {
  return add(prometheus::BuildGauge(), name, MT::gauge);
}
LinewatchMetrics::Histograms& LinewatchMetrics::histogram(std::string_view name) {
  return add(prometheus::BuildHistogram(), name, MT::histogram);
}

std::string_view to_string(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "?";
}

std::span<const MetricSpec> metric_catalogue() { return kCatalogue; }

std::span<const double> rtt_buckets() { return kRttBuckets; }

void raise_to(prometheus::Counter& counter, double total) {
  const double now = counter.Value();
  if (total > now) counter.Increment(total - now);
}

// clang-format off
LinewatchMetrics::LinewatchMetrics()
    : registry_(std::make_shared<prometheus::Registry>(prometheus::Registry::InsertBehavior::Throw)),
      probe_rtt(histogram("linewatch_probe_rtt_seconds")),
      probe_results(counter("linewatch_probe_results_total")),
      probe_success(gauge("linewatch_probe_success")),
      probe_loss(gauge("linewatch_probe_loss_ratio")),
      probe_jitter(gauge("linewatch_probe_jitter_seconds")),
      probe_echoes_sent(counter("linewatch_probe_echoes_sent_total")),
      probe_echoes_lost(counter("linewatch_probe_echoes_lost_total")),
      probe_phase(gauge("linewatch_probe_phase_seconds")),
      llm_ttft(histogram("linewatch_llm_ttft_seconds")),
      line_state(gauge("linewatch_line_state")),
      line_takes_traffic(gauge("linewatch_line_takes_traffic")),
      line_alive(gauge("linewatch_line_alive")),
      line_score(gauge("linewatch_line_score")),
      line_flap_penalty(gauge("linewatch_line_flap_penalty")),
      line_bandwidth(gauge("linewatch_line_bandwidth_bytes_per_second")),
      line_utilisation(gauge("linewatch_line_utilisation_ratio")),
      line_availability(gauge("linewatch_line_availability_ratio")),
      line_capacity(gauge("linewatch_line_capacity_bytes_per_second")),
      route_plan_version(gauge("linewatch_route_plan_version")),
      route_plan_panic(gauge("linewatch_route_plan_panic")),
      route_next_hop_weight(gauge("linewatch_route_next_hop_weight")),
      route_applied_version(gauge("linewatch_route_applied_version")),
      gateway_delivered_version(gauge("linewatch_gateway_delivered_version")),
      gateway_pending_version(gauge("linewatch_gateway_pending_version")),
      gateway_push_attempts(counter("linewatch_gateway_push_attempts_total")),
      gateway_push_failures(counter("linewatch_gateway_push_failures_total")),
      failover_decision_lag(gauge("linewatch_failover_decision_lag_seconds")),
      failover_inbox_dropped(counter("linewatch_failover_inbox_dropped_total")),
      alerts(gauge("linewatch_alerts")),
      alerting_inbox_dropped(counter("linewatch_alerting_inbox_dropped_total")),
      notify_outbox_pending(gauge("linewatch_notify_outbox_pending")),
      notify_outbox_parked(gauge("linewatch_notify_outbox_parked")),
      notify_delivered(counter("linewatch_notify_delivered_total")),
      notify_failures(counter("linewatch_notify_failures_total")),
      scheduler_rounds(counter("linewatch_scheduler_rounds_total")),
      scheduler_overruns(counter("linewatch_scheduler_overruns_total")),
      scheduler_missed(counter("linewatch_scheduler_missed_total")),
      scheduler_lag(counter("linewatch_scheduler_lag_seconds_total")),
      scheduler_lag_max(gauge("linewatch_scheduler_lag_max_seconds")),
      scheduler_queue(gauge("linewatch_scheduler_queue_rounds")),
      scheduler_rounds_per_second(gauge("linewatch_scheduler_rounds_per_second")),
      engine_in_flight(gauge("linewatch_engine_rounds_in_flight")),
      engine_loop_lag_p99(gauge("linewatch_engine_loop_lag_p99_seconds")),
      engine_loop_lag_max(gauge("linewatch_engine_loop_lag_max_seconds")),
      engine_late_replies(counter("linewatch_engine_late_replies_total")),
      engine_overflow_drops(counter("linewatch_engine_overflow_drops_total")),
      engine_ignored_packets(counter("linewatch_engine_ignored_packets_total")),
      storage_queue(gauge("linewatch_storage_queue_rows")),
      storage_queue_limit(gauge("linewatch_storage_queue_limit_rows")),
      storage_rows_written(counter("linewatch_storage_rows_written_total")),
      storage_rows_dropped(counter("linewatch_storage_rows_dropped_total")),
      storage_write_errors(counter("linewatch_storage_write_errors_total")),
      storage_batches(counter("linewatch_storage_batches_total")),
      storage_batch_time(counter("linewatch_storage_batch_seconds_total")),
      storage_batch_time_max(gauge("linewatch_storage_batch_max_seconds")),
      storage_failing(gauge("linewatch_storage_failing")),
      metrics_unknown_results(counter("linewatch_metrics_unknown_results_total")),
      config_last_reload_successful(gauge("linewatch_config_last_reload_successful")),
      config_last_reload_success_time(
          gauge("linewatch_config_last_reload_success_timestamp_seconds")),
      config_reloads(counter("linewatch_config_reloads_total")),
      build_info(gauge("linewatch_build_info")),
      start_time(gauge("linewatch_start_time_seconds")) {
  // The registry refuses a name twice, so as many registrations as entries
  // means every catalogue entry has its family.
  if (registered_ != std::size(kCatalogue))
    throw std::logic_error("a metric of the catalogue has no family");
}
// clang-format on

std::string LinewatchMetrics::render() const {
  std::string out;
  write_exposition(registry_->Collect(), out);
  return out;
}

}  // namespace linewatch

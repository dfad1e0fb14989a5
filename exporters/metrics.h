// The agent's Prometheus metrics: every family it exports, with its HELP
// text, type, labels and unit, in one catalogue (metrics.cc), and the
// prometheus-cpp registry that holds them, rendered in the text exposition
// format (0.0.4) for GET /metrics (exporters/metrics_text.h).
//
// Conventions: names start with linewatch_, values are in base units
// (seconds, bytes per second, ratios 0..1; promtool refuses bits), counters
// end in _total. Label values come only from the config's ids (line, target, gateway, receiver,
// alert rule, route prefix) or from fixed sets in the code (kind, reason, phase, state,
// direction, row, result, window), never from a URL or a secret, so the number of series is
// bounded by the config. docs/metrics.md lists every family; a test checks
// it against the catalogue.
//
// Which series exist, and when their values change, is the collector's
// business (agent/metrics_collector.h); this file only defines the families.
//
// Thread-safety: the families and their metrics are prometheus-cpp's, safe
// to update from any thread; render() may run beside updates (each metric is
// read under its own lock or atomically, the families under theirs).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace linewatch {

enum class MetricType { counter, gauge, histogram };
std::string_view to_string(MetricType t);  // "counter", "gauge", "histogram"

// One family as the catalogue describes it.
struct MetricSpec {
  std::string_view name;    // "linewatch_probe_rtt_seconds"
  MetricType type;          //
  std::string_view labels;  // label names, comma separated: "line,target,kind"; "" for none
  std::string_view unit;    // "seconds", "ratio", "bytes/s", "1" (a count or a 0/1 state)
  std::string_view help;    // the HELP text
};

// Every family, in the order docs/metrics.md lists them.
std::span<const MetricSpec> metric_catalogue();

// Histogram buckets of probe RTT and LLM time to first token, in seconds:
// 1 ms to 10 s, denser where international lines sit (100-500 ms).
std::span<const double> rtt_buckets();

// The families, registered in one registry. References stay valid for the
// object's life. Not copyable.
class LinewatchMetrics {
 public:
  // Builds every family of the catalogue. Throws std::logic_error when the
  // catalogue and the families below disagree (a bug: the unit test builds one).
  LinewatchMetrics();
  LinewatchMetrics(const LinewatchMetrics&) = delete;
  LinewatchMetrics& operator=(const LinewatchMetrics&) = delete;

  // The whole registry in the text exposition format. Cost: linear in the
  // series (docs/benchmarks.md: bench_metrics).
  std::string render() const;

  prometheus::Registry& registry() { return *registry_; }

 private:
  // Declared first: the families below live in the registry.
  std::size_t registered_ = 0;  // families built, checked against the catalogue
  std::shared_ptr<prometheus::Registry> registry_;

 public:
  using Counters = prometheus::Family<prometheus::Counter>;
  using Gauges = prometheus::Family<prometheus::Gauge>;
  using Histograms = prometheus::Family<prometheus::Histogram>;

 private:
  template <typename Builder>
  auto& add(Builder builder, std::string_view name, MetricType type);
  Counters& counter(std::string_view name);
  Gauges& gauge(std::string_view name);
  Histograms& histogram(std::string_view name);

 public:
  // Probes: one series per configured line x target x kind.
  Histograms& probe_rtt;
  Counters& probe_results;
  Gauges& probe_success;
  Gauges& probe_loss;
  Gauges& probe_jitter;
  Counters& probe_echoes_sent;
  Counters& probe_echoes_lost;
  Gauges& probe_phase;
  Histograms& llm_ttft;
  // Lines.
  Gauges& line_state;
  Gauges& line_takes_traffic;
  Gauges& line_alive;
  Gauges& line_score;
  Gauges& line_flap_penalty;
  Gauges& line_bandwidth;
  Gauges& line_utilisation;
  Gauges& line_availability;
  Gauges& line_capacity;
  // Routes.
  Gauges& route_plan_version;
  Gauges& route_plan_panic;
  Gauges& route_next_hop_weight;
  Gauges& route_applied_version;
  Gauges& gateway_delivered_version;
  Gauges& gateway_pending_version;
  Counters& gateway_push_attempts;
  Counters& gateway_push_failures;
  Gauges& failover_decision_lag;
  Counters& failover_inbox_dropped;
  // Alerts and notifications.
  Gauges& alerts;
  Counters& alerting_inbox_dropped;
  Gauges& notify_outbox_pending;
  Gauges& notify_outbox_parked;
  Counters& notify_delivered;
  Counters& notify_failures;
  // The agent itself.
  Counters& scheduler_rounds;
  Counters& scheduler_overruns;
  Counters& scheduler_missed;
  Counters& scheduler_lag;
  Gauges& scheduler_lag_max;
  Gauges& scheduler_queue;
  Gauges& scheduler_rounds_per_second;
  Gauges& engine_in_flight;
  Gauges& engine_loop_lag_p99;
  Gauges& engine_loop_lag_max;
  Counters& engine_late_replies;
  Counters& engine_overflow_drops;
  Counters& engine_ignored_packets;
  Gauges& storage_queue;
  Gauges& storage_queue_limit;
  Counters& storage_rows_written;
  Counters& storage_rows_dropped;
  Counters& storage_write_errors;
  Counters& storage_batches;
  Counters& storage_batch_time;
  Gauges& storage_batch_time_max;
  Gauges& storage_failing;
  Counters& metrics_unknown_results;
  Gauges& config_last_reload_successful;
  Gauges& config_last_reload_success_time;
  Counters& config_reloads;
  Gauges& build_info;
  Gauges& start_time;
};

// Raises `counter` to `total`, a running total kept elsewhere (a component's
// stats); a total below the counter's value is ignored (counters only grow).
void raise_to(prometheus::Counter& counter, double total);

}  // namespace linewatch

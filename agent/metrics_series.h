// MetricsCollector's insides, shared by metrics_collector.cc (construction
// and the results path) and metrics_scrape.cc (the scrape). Not a public
// header: only those two files include it.
//
// The probe series are our own (agent/metrics_probe_series.h), written by
// agent/metrics_probe_text.h; every other family is prometheus-cpp's.
// Pointers to prometheus-cpp metrics stay valid while their family holds
// them (the families live in `metrics` for the collector's life; only the
// scrape removes bandwidth series, and it is the only reader of those).
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/metrics_collector.h"
#include "agent/metrics_probe_series.h"

namespace linewatch {

// One line.
struct LineMetrics {
  std::string id;
  // With routes only (else null).
  std::array<prometheus::Gauge*, 3> state{};  // up, degraded, down
  prometheus::Gauge* takes_traffic = nullptr;
  prometheus::Gauge* alive = nullptr;
  prometheus::Gauge* score = nullptr;
  prometheus::Gauge* flap_penalty = nullptr;
  prometheus::Gauge* capacity = nullptr;  // with lines[].capacity only
  // Present while the line is measured (scrape only).
  prometheus::Gauge* rx = nullptr;
  prometheus::Gauge* tx = nullptr;
  prometheus::Gauge* utilisation = nullptr;
  // linewatch_line_availability_ratio by window (kAvailabilityWindows), once read.
  std::array<prometheus::Gauge*, 3> availability{};
};

struct GatewayMetrics {
  prometheus::Gauge* delivered = nullptr;
  prometheus::Gauge* pending = nullptr;
  prometheus::Counter* attempts = nullptr;
  prometheus::Counter* failures = nullptr;
};

struct ReceiverMetrics {
  prometheus::Gauge* pending = nullptr;
  prometheus::Gauge* parked = nullptr;
  prometheus::Counter* delivered = nullptr;
  prometheus::Counter* failures = nullptr;
};

// storage_rows_*{row}: result, event, bandwidth.
struct RowCounters {
  prometheus::Counter* written = nullptr;
  prometheus::Counter* dropped = nullptr;
};

struct MetricsCollector::Impl {
  Impl(MetricsSources s, MetricsOptions o) : sources(std::move(s)), options(std::move(o)) {}

  ProbeSeries* find(const ProbeResult& r) const;
  // The config's probe series in make_jobs order: `old` series of the same
  // line, target and kind are kept (their figures go on), the rest made new.
  void build_probes(const Config& config, std::vector<std::unique_ptr<ProbeSeries>> old);
  void add_lines(const Config& config);
  void add_routes(const Config& config);
  void add_alerts_and_receivers(const Config& config);
  void add_agent();

  void read_scheduler();
  void read_engine();
  void read_storage();
  void read_failover();
  void read_routes();
  void read_bandwidth();
  void read_availability();
  void read_alerts();
  void read_receivers();
  void read_reload();

  // reconfigure()'s parts.
  void relines(const Config& config);
  void rebuild_rest(const Config& config);

  MetricsSources sources;  // replaced by reconfigure() under scrape_mu
  const MetricsOptions options;
  LinewatchMetrics metrics;

  // Built by the constructor; changed only by reconfigure(), which holds
  // series_mu exclusively (rounds hold it shared) and scrape_mu.
  mutable std::shared_mutex series_mu;
  std::vector<std::unique_ptr<ProbeSeries>> probes;  // make_jobs order
  std::unordered_map<SeriesKey, ProbeSeries*, SeriesKeyHash> probes_by_key;
  LabelPool probe_labels;          // the probes' line and target ids
  std::vector<LineMetrics> lines;  // config order
  std::unordered_map<std::string, LineMetrics*> lines_by_id;
  std::unordered_map<std::string, GatewayMetrics> gateways;
  // linewatch_route_next_hop_weight by routes[].prefix, then line.
  std::map<std::string, std::map<std::string, prometheus::Gauge*>> route_hops;
  std::unordered_map<std::string, ReceiverMetrics> receivers;
  // linewatch_alerts by rule: pending, firing.
  std::unordered_map<std::string, std::array<prometheus::Gauge*, 2>> alert_gauges;
  std::array<RowCounters, 3> rows{};  // result, event, bandwidth
  prometheus::Counter* unknown = nullptr;
  std::array<prometheus::Counter*, 2> reloads{};  // success, failure

  std::mutex scrape_mu;  // one scrape at a time
};

// A duration in seconds, the unit of every time metric.
inline double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace linewatch

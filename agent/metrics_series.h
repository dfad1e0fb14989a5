// MetricsCollector's insides, shared by metrics_collector.cc (construction
// and the results path) and metrics_scrape.cc (the scrape). Not a public
// header: only those two files include it.
//
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

namespace linewatch {

// Phases of probe_phase_seconds, in Phases' order, then the LLM's.
enum class ProbePhase : std::size_t { dns, connect, tls, ttfb, transfer, ttft, total };
inline constexpr std::size_t kProbePhases = 7;
inline constexpr const char* kPhaseNames[kProbePhases] = {"dns",      "connect", "tls",  "ttfb",
                                                          "transfer", "ttft",    "total"};
inline constexpr std::size_t kReasons = static_cast<std::size_t>(kLastReason) + 1;

// One line × target × kind.
struct ProbeMetrics {
  prometheus::Labels labels;  // line, target, kind
  ProbeKind kind = ProbeKind::icmp;
  prometheus::Histogram* rtt = nullptr;
  prometheus::Gauge* success = nullptr;
  prometheus::Gauge* loss = nullptr;
  prometheus::Gauge* jitter = nullptr;
  prometheus::Counter* echoes_sent = nullptr;  // icmp only
  prometheus::Counter* echoes_lost = nullptr;  // icmp only
  prometheus::Histogram* ttft = nullptr;       // llm only

  std::mutex mu;  // one round at a time per series; guards the rest
  std::array<prometheus::Counter*, kReasons> results{};   // created on first sight
  std::array<prometheus::Gauge*, kProbePhases> phases{};  // created on first sight
  std::optional<double> last_rtt;                         // seconds, for the jitter
  double jitter_estimate = 0;                             // seconds
};

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

  ProbeMetrics* find(const ProbeResult& r) const;
  void observe(ProbeMetrics& s, const ProbeResult& r);
  void add_probe(const std::string& line, const std::string& target, const ProbeSpec& spec);
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
  void reprobe(const Config& config);
  void remove_probe(ProbeMetrics& s);
  void relines(const Config& config);
  void rebuild_rest(const Config& config);

  MetricsSources sources;  // replaced by reconfigure() under scrape_mu
  const MetricsOptions options;
  LinewatchMetrics metrics;

  // Built by the constructor; changed only by reconfigure(), which holds
  // series_mu exclusively (rounds hold it shared) and scrape_mu.
  mutable std::shared_mutex series_mu;
  std::vector<std::unique_ptr<ProbeMetrics>> probes;
  std::unordered_map<std::string, ProbeMetrics*> probes_by_key;  // series_key()
  std::vector<LineMetrics> lines;                                // config order
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

// The key of probes_by_key: line, target and kind, NUL between.
std::string series_key(std::string_view line, std::string_view target, ProbeKind kind);

// A duration in seconds, the unit of every time metric.
inline double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace linewatch

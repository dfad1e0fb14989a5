// MetricsCollector: what GET /metrics shows (docs/metrics.md), kept in the
// families of exporters/metrics.h.
//
//   results fan-out (probe workers) ─ on_result ─> probe families (counters,
//                                                  histograms, latest-round gauges)
//   GET /metrics (API thread) ─ scrape ─> reads MetricsSources' snapshots
//                                         (scheduler, storage, failover, apply,
//                                         gateways, bandwidth, alerts, outbox)
//                                         ─> gauges and counters ─> text
//
// Series come from the config only: every line × target × kind of make_jobs,
// every line, gateway, notify receiver and alert rule. A result about
// anything else is counted in linewatch_metrics_unknown_results_total and
// otherwise dropped, so nothing a peer sends can add a series. Created at
// construction: each probe series' rtt, success, loss, jitter and
// results{reason="ok"} (plus the echo counters for icmp and the TTFT
// histogram for llm); created on first sight, still within the config's
// bound: results of a failure reason (at most the reasons of core/probe_result.h)
// and each phase a round reached (at most 7 per series). Bandwidth series are
// present only while the line is measured.
//
// Threading. on_result() runs on probe workers, several at once: it finds
// its series in a map built at construction (changed only by reconfigure(),
// under a reader-writer lock the rounds share), takes that series' own short lock and updates
// its plain figures (agent/metrics_probe_series.h); it never waits on the scrape, storage or the
// network. scrape() runs on the API's thread: it calls the sources (each copies a snapshot under
// its owner's lock; the outbox's is one short SQLite read of its own connection), sets the snapshot
// families (prometheus-cpp) and renders, the probe families straight from their series (taking
// each series' lock briefly, agent/metrics_probe_text.h); concurrent scrapes are serialised.
// Neither path touches the failover's decision state or the scheduler's timer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/alerting.h"
#include "agent/bandwidth_sampler.h"
#include "agent/failover_apply.h"
#include "agent/failover_snapshot.h"
#include "agent/scheduler.h"
#include "core/config.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "exporters/metrics.h"
#include "exporters/notify_outbox.h"
#include "exporters/plan_pusher.h"
#include "probes/round_engine.h"
#include "rules/alert_engine.h"
#include "storage/outbox.h"
#include "storage/store.h"

namespace linewatch {

struct TextSpill;  // agent/metrics_probe_text.h

// One notify receiver's figures for the scrape.
struct ReceiverFigures {
  std::string id;                       // notify[].id
  std::optional<std::int64_t> pending;  // nullopt: the outbox could not be read
  std::optional<std::int64_t> parked;
  std::uint64_t delivered = 0;
  std::uint64_t failures = 0;
};

// The sender's counters and the outbox's queues, joined by receiver id. A
// receiver without a row in `queues` has none pending or parked; `queues`
// nullopt (the read failed): pending and parked are nullopt too, so the
// scrape keeps the figures it had.
std::vector<ReceiverFigures> receiver_figures(
    const std::vector<ReceiverStatus>& status,
    const std::optional<std::vector<OutboxReceiverSummary>>& queues);

// The config reloads, for linewatch_config_* (Prometheus's own names).
struct ConfigReloadFigures {
  bool last_successful = true;  // the last reload was applied (true before any)
  WallTime last_success{};      // when the config in force was loaded
  std::uint64_t successes = 0;
  std::uint64_t failures = 0;
};

// Where the scrape reads. Each runs on the API's thread, must be quick and
// must not block on I/O beyond a short read; an empty one means that part of
// the agent does not exist (no routes: no failover; no apply; ...).
struct MetricsSources {
  std::function<SchedulerStats()> scheduler;
  std::function<RoundEngineStats()> engine;  // summed over the engines a reload replaced
  std::function<WriterStats()> storage;
  std::function<FailoverSnapshot()> failover;
  std::function<LocalApplyStats()> apply;
  std::function<std::vector<GatewayStatus>()> gateways;
  std::function<std::vector<LineBandwidth>()> bandwidth;
  // A line's availability over a window (StoreAvailability's line key: every
  // target, network failures only); nullopt until read. Must not block.
  std::function<std::optional<double>(const std::string& line, Duration window)> availability;
  std::function<AlertsView()> alerts;
  std::function<std::uint64_t()> alerting_dropped;  // AlertingStats::dropped
  // Receivers' figures; a receiver whose queues could not be read has
  // pending/parked nullopt (kept from the last scrape).
  std::function<std::vector<ReceiverFigures>()> receivers;
  std::function<ConfigReloadFigures()> reload;
};

struct MetricsOptions {
  std::string version = "0.0.0";  // linewatch_build_info{version}
  WallTime started{};             // linewatch_start_time_seconds
};

class MetricsCollector {
 public:
  // Creates every series the config implies (see above). `config` is read
  // only here.
  MetricsCollector(const Config& config, MetricsSources sources, MetricsOptions options = {});
  ~MetricsCollector();
  MetricsCollector(const MetricsCollector&) = delete;
  MetricsCollector& operator=(const MetricsCollector&) = delete;

  // Follows a reloaded config (the agent's reload thread): series the new
  // config still implies keep their metrics, so counters and histograms go
  // on; series it no longer implies leave the exposition; new ones are
  // created as at construction. `sources` replace the old ones (a part that
  // appeared or went: its families follow). Waits for a scrape in progress
  // and for rounds being counted; rounds wait for it (a few ms per 10 000
  // series).
  void reconfigure(const Config& config, MetricsSources sources);

  // One probe round: a fan-out subscriber. Any thread; never blocks on
  // anything but the series' own short lock.
  void on_result(const ProbeResult& result);

  // Reads the sources and renders every family (text exposition 0.0.4).
  std::string scrape();
  // The same text, gzip-compressed as it is written: the whole text (about
  // 20 MB at 10,000 series) is never held, only the compressed answer
  // (a tenth of it) and 64 KiB of text at a time.
  std::string scrape_gzip();

  // Probe series (line × target × kind) known from the config.
  std::size_t probe_series() const;

 private:
  // Every family's text, spilled as it grows (agent/metrics_probe_text.h).
  std::string render(const TextSpill* spill);

  // The series and the scrape's state (agent/metrics_series.h).
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace linewatch

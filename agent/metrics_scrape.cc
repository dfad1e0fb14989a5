// MetricsCollector::scrape(): the families that mirror other components'
// snapshots, set from those snapshots on the API's thread, then the text:
// the probe families from their series, the rest from the registry.
#include <Poco/DeflatingStream.h>

#include <map>
#include <sstream>

#include "agent/metrics_collector.h"
#include "agent/metrics_probe_text.h"
#include "agent/metrics_series.h"

namespace linewatch {

std::vector<ReceiverFigures> receiver_figures(
    const std::vector<ReceiverStatus>& status,
    const std::optional<std::vector<OutboxReceiverSummary>>& queues) {
  std::map<std::string, const OutboxReceiverSummary*> by_id;
  if (queues)
    for (const OutboxReceiverSummary& q : *queues) by_id[q.receiver] = &q;
  std::vector<ReceiverFigures> out;
  out.reserve(status.size());
  for (const ReceiverStatus& s : status) {
    ReceiverFigures& f = out.emplace_back();
    f.id = s.id;
    f.delivered = s.delivered;
    f.failures = s.failures;
    if (queues) {
      auto it = by_id.find(s.id);
      f.pending = it == by_id.end() ? 0 : it->second->pending;
      f.parked = it == by_id.end() ? 0 : it->second->parked;
    }
  }
  return out;
}

void MetricsCollector::Impl::read_scheduler() {
  if (!sources.scheduler) return;
  const SchedulerStats st = sources.scheduler();
  raise_to(metrics.scheduler_rounds.Add({}), static_cast<double>(st.rounds));
  raise_to(metrics.scheduler_overruns.Add({}), static_cast<double>(st.overruns));
  raise_to(metrics.scheduler_missed.Add({}), static_cast<double>(st.missed));
  raise_to(metrics.scheduler_lag.Add({}), seconds(st.lag_total));
  metrics.scheduler_lag_max.Add({}).Set(seconds(st.lag_max));
  metrics.scheduler_queue.Add({}).Set(static_cast<double>(st.queued));
  metrics.scheduler_rounds_per_second.Add({}).Set(st.rounds_per_second);
}

void MetricsCollector::Impl::read_engine() {
  if (!sources.engine) return;
  const RoundEngineStats st = sources.engine();
  metrics.engine_in_flight.Add({}).Set(static_cast<double>(st.in_flight));
  metrics.engine_loop_lag_p99.Add({}).Set(seconds(st.lag_p99));
  metrics.engine_loop_lag_max.Add({}).Set(seconds(st.lag_max));
  raise_to(metrics.engine_late_replies.Add({}), static_cast<double>(st.late_replies));
  raise_to(metrics.engine_overflow_drops.Add({}), static_cast<double>(st.overflow_drops));
  raise_to(metrics.engine_ignored_packets.Add({}), static_cast<double>(st.ignored));
}

void MetricsCollector::Impl::read_storage() {
  if (!sources.storage) return;
  const WriterStats st = sources.storage();
  const std::uint64_t written[] = {st.written, st.events_written, st.bandwidth_written};
  const std::uint64_t dropped[] = {st.dropped, st.events_dropped, st.bandwidth_dropped};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    raise_to(*rows[i].written, static_cast<double>(written[i]));
    raise_to(*rows[i].dropped, static_cast<double>(dropped[i]));
  }
  metrics.storage_queue.Add({}).Set(static_cast<double>(st.pending));
  metrics.storage_queue_limit.Add({}).Set(static_cast<double>(st.queue_limit));
  raise_to(metrics.storage_write_errors.Add({}), static_cast<double>(st.write_errors));
  raise_to(metrics.storage_batches.Add({}), static_cast<double>(st.batches));
  raise_to(metrics.storage_batch_time.Add({}), seconds(st.batch_time_total));
  metrics.storage_batch_time_max.Add({}).Set(seconds(st.batch_time_max));
  metrics.storage_failing.Add({}).Set(st.state == StoreState::failing ? 1 : 0);
}

void MetricsCollector::Impl::read_failover() {
  if (!sources.failover) return;
  const FailoverSnapshot snap = sources.failover();
  for (const FailoverLineView& v : snap.lines) {
    auto it = lines_by_id.find(v.line);
    if (it == lines_by_id.end()) continue;
    LineMetrics& l = *it->second;
    for (std::size_t i = 0; i < l.state.size(); ++i)
      l.state[i]->Set(static_cast<std::size_t>(v.state) == i ? 1 : 0);
    l.takes_traffic->Set(v.takes_traffic ? 1 : 0);
    l.alive->Set(v.alive ? 1 : 0);
    l.score->Set(v.score);
    l.flap_penalty->Set(v.penalty);
  }
  metrics.route_plan_version.Add({}).Set(static_cast<double>(snap.plan.version));
  metrics.route_plan_panic.Add({}).Set(snap.plan.panic ? 1 : 0);
  // Every configured hop, so a line the plan leaves out reads 0, not absent.
  for (auto& [route, hops] : route_hops)
    for (auto& [line, g] : hops) g->Set(0);
  for (const RouteEntry& route : snap.plan.routes) {
    auto r = route_hops.find(route.prefix);
    if (r == route_hops.end()) continue;
    for (const NextHop& hop : route.nexthops)
      if (auto h = r->second.find(hop.line); h != r->second.end()) h->second->Set(hop.weight);
  }
  metrics.failover_decision_lag.Add({}).Set(seconds(snap.counters.lag_last));
  raise_to(metrics.failover_inbox_dropped.Add({}),
           static_cast<double>(snap.counters.inbox_dropped));
}

void MetricsCollector::Impl::read_routes() {
  if (sources.apply)
    metrics.route_applied_version.Add({}).Set(static_cast<double>(sources.apply().applied_version));
  if (!sources.gateways) return;
  for (const GatewayStatus& g : sources.gateways()) {
    auto it = gateways.find(g.id);
    if (it == gateways.end()) continue;
    it->second.delivered->Set(static_cast<double>(g.delivered.value_or(0)));
    it->second.pending->Set(static_cast<double>(g.pending.value_or(0)));
    raise_to(*it->second.attempts, static_cast<double>(g.attempts));
    raise_to(*it->second.failures, static_cast<double>(g.failures));
  }
}

namespace {

// Sets the gauge of `labels` to `value`, creating it, or removes it when
// `value` is nullopt: an unknown figure is an absent series, not a zero.
void set_or_remove(prometheus::Family<prometheus::Gauge>& family, prometheus::Gauge*& gauge,
                   const prometheus::Labels& labels, std::optional<double> value) {
  if (!value) {
    if (gauge) family.Remove(gauge);
    gauge = nullptr;
    return;
  }
  if (!gauge) gauge = &family.Add(labels);
  gauge->Set(*value);
}

}  // namespace

void MetricsCollector::Impl::read_bandwidth() {
  if (!sources.bandwidth) return;
  for (const LineBandwidth& b : sources.bandwidth()) {
    auto it = lines_by_id.find(b.line);
    if (it == lines_by_id.end()) continue;
    LineMetrics& l = *it->second;
    const bool measuring = b.reading.state == CounterState::measuring;
    // The sampler's rates are bits/s; the metric's unit is bytes/s.
    auto bytes = [&](const std::optional<double>& bps) {
      return measuring && bps ? std::optional(*bps / 8) : std::nullopt;
    };
    set_or_remove(metrics.line_bandwidth, l.rx, {{"line", l.id}, {"direction", "rx"}},
                  bytes(b.reading.rx_bps));
    set_or_remove(metrics.line_bandwidth, l.tx, {{"line", l.id}, {"direction", "tx"}},
                  bytes(b.reading.tx_bps));
    set_or_remove(metrics.line_utilisation, l.utilisation, {{"line", l.id}},
                  measuring ? b.reading.utilisation : std::nullopt);
  }
}

void MetricsCollector::Impl::read_availability() {
  if (!sources.availability) return;
  static constexpr std::array<std::pair<const char*, Duration>, 3> kWindows{
      {{"1h", std::chrono::hours(1)},
       {"24h", std::chrono::hours(24)},
       {"30d", std::chrono::hours(720)}}};
  for (LineMetrics& l : lines)
    for (std::size_t i = 0; i < kWindows.size(); ++i)
      set_or_remove(metrics.line_availability, l.availability[i],
                    {{"line", l.id}, {"window", kWindows[i].first}},
                    sources.availability(l.id, kWindows[i].second));
}

void MetricsCollector::Impl::read_alerts() {
  if (sources.alerting_dropped)
    raise_to(metrics.alerting_inbox_dropped.Add({}),
             static_cast<double>(sources.alerting_dropped()));
  if (!sources.alerts) return;
  const AlertsView view = sources.alerts();
  std::unordered_map<std::string, std::array<int, 2>> counts;
  for (const ActiveAlert& a : view.alerts) {
    if (a.status == AlertStatus::pending) ++counts[a.rule][0];
    if (a.status == AlertStatus::firing) ++counts[a.rule][1];
  }
  for (auto& [rule, gauges] : alert_gauges) {
    auto it = counts.find(rule);
    for (std::size_t i = 0; i < gauges.size(); ++i)
      gauges[i]->Set(it == counts.end() ? 0 : it->second[i]);
  }
}

void MetricsCollector::Impl::read_receivers() {
  if (!sources.receivers) return;
  for (const ReceiverFigures& f : sources.receivers()) {
    auto it = receivers.find(f.id);
    if (it == receivers.end()) continue;
    if (f.pending) it->second.pending->Set(static_cast<double>(*f.pending));
    if (f.parked) it->second.parked->Set(static_cast<double>(*f.parked));
    raise_to(*it->second.delivered, static_cast<double>(f.delivered));
    raise_to(*it->second.failures, static_cast<double>(f.failures));
  }
}

void MetricsCollector::Impl::read_reload() {
  if (!sources.reload) return;
  const ConfigReloadFigures f = sources.reload();
  metrics.config_last_reload_successful.Add({}).Set(f.last_successful ? 1 : 0);
  if (f.last_success != WallTime{})
    metrics.config_last_reload_success_time.Add({}).Set(seconds(f.last_success.time_since_epoch()));
  raise_to(*reloads[0], static_cast<double>(f.successes));
  raise_to(*reloads[1], static_cast<double>(f.failures));
}

std::string MetricsCollector::scrape() { return render(nullptr); }

std::string MetricsCollector::scrape_gzip() {
  std::ostringstream compressed;
  {
    // Level 1: at 10,000 series it still shrinks the text tenfold, for a
    // fraction of the CPU the default level costs.
    Poco::DeflatingOutputStream gzip(compressed, Poco::DeflatingStreamBuf::STREAM_GZIP, 1);
    const TextSpill spill{[&gzip](std::string& text) {
      gzip.write(text.data(), static_cast<std::streamsize>(text.size()));
      text.clear();
    }};
    std::string rest = render(&spill);
    spill.take(rest);
    gzip.close();
  }
  return std::move(compressed).str();
}

std::string MetricsCollector::render(const TextSpill* spill) {
  std::lock_guard lk(impl_->scrape_mu);
  // Shared: a reconfigure() waits; rounds go on.
  std::shared_lock series(impl_->series_mu);
  impl_->read_reload();
  impl_->read_scheduler();
  impl_->read_engine();
  impl_->read_storage();
  impl_->read_failover();
  impl_->read_routes();
  impl_->read_bandwidth();
  impl_->read_availability();
  impl_->read_alerts();
  impl_->read_receivers();
  std::string out;
  write_metrics(impl_->probes, impl_->metrics.registry().Collect(), out, spill);
  return out;
}

}  // namespace linewatch

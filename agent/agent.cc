#include "agent/agent.h"

#include <algorithm>
#include <mutex>

#include "agent/agent_impl.h"
#include "agent/alerting.h"
#include "agent/alerting_api.h"
#include "agent/api_lines.h"
#include "agent/api_series.h"
#include "agent/api_server.h"
#include "agent/bandwidth_sampler.h"
#include "agent/config_load.h"
#include "agent/failover.h"
#include "agent/failover_apply.h"
#include "agent/failover_events.h"
#include "agent/failover_liveness.h"
#include "agent/json.h"
#include "agent/log.h"
#include "agent/metrics_collector.h"
#include "agent/outbox_notices.h"
#include "agent/plan_state.h"
#include "agent/result_fanout.h"
#include "agent/scheduler.h"
#include "agent/store_availability.h"
#include "core/units.h"
#include "exporters/notify.h"
#include "exporters/notify_outbox.h"
#include "exporters/plan_pusher.h"
#include "exporters/route_apply.h"
#include "probes/liveness_engine.h"
#include "probes/probe.h"
#include "rules/status_board.h"
#include "storage/outbox.h"
#include "storage/store.h"

namespace linewatch {

using namespace std::chrono_literals;

namespace {

// One line when storage starts failing and one when it recovers (store.h:
// the store reports each change once, never per retry).
void log_storage_event(const StoreEvent& e) {
  if (e.state == StoreState::failing) {
    log(LogLevel::error, "msg=\"storage failing\" error=" + log_quote(e.error) +
                             " sqlite_code=" + std::to_string(e.sqlite_code) +
                             " op=" + log_quote(e.operation) + " db=" + log_quote(e.file));
    return;
  }
  const auto lasted = std::chrono::duration_cast<std::chrono::milliseconds>(e.lasted);
  log(e.rows_dropped ? LogLevel::warn : LogLevel::info,
      "msg=\"storage recovered\" after=" + format_duration(lasted) + " failed_attempts=" +
          std::to_string(e.failed_attempts) + " rows_dropped=" + std::to_string(e.rows_dropped));
}

// Hands each new plan to the pusher, which copies it and returns at once.
class PushSink final : public PlanSink {
 public:
  explicit PushSink(PlanPusher& pusher) : pusher_(pusher) {}
  void on_plan(const RoutePlan& plan) override { pusher_.publish(plan); }

 private:
  PlanPusher& pusher_;
};

}  // namespace

void LivenessRelay::set(Failover* failover) {
  std::lock_guard lock(mu_);
  target_ = failover;
}
void LivenessRelay::on_sent(const std::string& line, const std::string& reflector,
                            std::uint64_t seq, MonoTime sent) {
  std::lock_guard lock(mu_);
  if (target_) target_->on_sent(line, reflector, seq, sent);
}
void LivenessRelay::on_reply(const std::string& line, const std::string& reflector,
                             std::uint64_t seq, MonoTime sent, MonoTime received, Duration rtt) {
  std::lock_guard lock(mu_);
  if (target_) target_->on_reply(line, reflector, seq, sent, received, rtt);
}
void LivenessRelay::on_error(const std::string& line, const std::string& reflector,
                             std::uint64_t seq, EchoError error) {
  std::lock_guard lock(mu_);
  if (target_) target_->on_error(line, reflector, seq, error);
}
void LivenessRelay::on_tick(MonoTime now) {
  std::lock_guard lock(mu_);
  if (target_) target_->on_tick(now);
}

void NoticeRelay::set(NoticeSink& sink) {
  std::lock_guard lock(mu_);
  target_ = &sink;
}
void NoticeRelay::enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) {
  std::lock_guard lock(mu_);
  target_->enqueue(notice, receivers);
}

void AvailabilityRelay::set(std::shared_ptr<StoreAvailability> source) {
  std::lock_guard lock(mu_);
  source_ = std::move(source);
}
std::optional<double> AvailabilityRelay::availability(const AlertScopeKey& key, Duration window,
                                                      MonoTime now) {
  std::shared_ptr<StoreAvailability> source;
  {
    std::lock_guard lock(mu_);
    source = source_;
  }
  return source ? source->availability(key, window, now) : std::nullopt;
}

void FailoverParts::stop() {
  if (liveness) liveness->stop();
  if (failover) failover->stop();
  if (apply) apply->stop();    // routes stay: the next failover adopts them
  if (pusher) pusher->stop();  // an attempt cut short is no outcome
}

void Agent::Impl::on_round(Probing& p, std::size_t job_index, const ProbeJob& job) {
  on_result(p, job_index,
            run_probe(ProbeRequest{*job.line, job.target->id, *job.spec, clock, &tls}));
}

void Agent::Impl::on_result(Probing& p, std::size_t job_index, const ProbeResult& r) {
  results.publish(r);
  const signed char now_ok = r.ok ? 1 : 0;
  if (p.last_ok[job_index] != now_ok) {
    const bool first = p.last_ok[job_index] < 0;
    p.last_ok[job_index] = now_ok;
    if (first && r.ok) return;  // an expected start is not news
    // round= is the round's start, the time `status` shows as LAST FAILURE and
    // storage keeps; the log line's own stamp is when the round ended.
    std::string msg = "line=" + r.line + " target=" + r.target +
                      " kind=" + std::string(to_string(r.kind)) +
                      " state=" + (r.ok ? "up" : "down") + " round=" + format_time(r.time);
    if (!r.ok)
      msg += " reason=" + std::string(to_string(r.reason)) + " detail=" + log_quote(r.detail);
    log(r.ok ? LogLevel::info : LogLevel::warn, msg);
  }
}

// Every line and target of the config: a line's availability sums its targets'.
std::shared_ptr<StoreAvailability> Agent::Impl::make_availability(const Config& c) {
  std::vector<std::string> lines, targets;
  for (const LineSpec& l : c.lines) lines.push_back(l.id);
  for (const TargetSpec& t : c.targets) targets.push_back(t.id);
  const Store* s = store.get();
  auto a = std::make_shared<StoreAvailability>(
      [s](const AvailabilityQuery& q) { return s->availability(q); }, std::move(lines),
      std::move(targets), clock);
  a->start();
  return a;
}

// The receivers' secrets are read now, so that a variable or file that is
// missing stops the start (or the reload) with its key named (check-config
// reads no variables, and the sender reads them again at each attempt, so a
// rotated key applies). Nothing is started: see start_receivers().
Result<Receivers> Agent::Impl::make_receivers(const Config& c) {
  Receivers r;
  if (c.notify.empty()) return r;
  for (std::size_t i = 0; i < c.notify.size(); ++i) {
    auto secrets = resolve_secrets(c.notify[i], "notify[" + std::to_string(i) + "]");
    if (!secrets) {
      const std::string where = c.source_path.empty() ? "" : c.source_path + ": ";
      return Error{secrets.error().code, where + secrets.error().message};
    }
  }
  if (!outbox) {
    auto o = Outbox::open(c.agent.data_dir);
    if (!o) return o.error();
    outbox = std::move(*o);
  }
  auto s = OutboxSender::create(*outbox, c.notify, events, clock);
  if (!s) return s.error();
  r.sender = std::move(*s);
  r.notices = std::make_unique<OutboxNotices>(*r.sender, c.agent.id, c.notify, clock);
  return r;
}

// The sender starts after the alerting: the event fan-out takes no new sink
// once something emits.
void Agent::Impl::start_receivers() {
  if (!receivers.sender) return;
  notices.set(*receivers.notices);
  receivers.sender->start();
  receivers.notices->start();
}

// The failover's echo sockets are checked here like the listen socket; the
// decision path does not wait for the probe scheduler.
Result<std::unique_ptr<FailoverParts>> Agent::Impl::prepare_failover(const Config& c) {
  auto parts = std::make_unique<FailoverParts>();
  if (c.apply) {
    auto table = parse_route_table(c.apply->table);
    if (!table) return table.error();
    LocalApplyOptions options;
    options.route.table = *table;
    if (Status s = check_options(options.route); !s) return s.error();
    parts->apply_options = options;
    parts->apply_table = c.apply->table;
  }
  if (!c.gateways.empty()) {
    auto p = PlanPusher::start(c.gateways, PushOptions{}, events, clock);
    if (!p) return p.error();
    parts->pusher = std::move(*p);
    parts->push_sink = std::make_unique<PushSink>(*parts->pusher);
  }
  auto engine = start_liveness(c, parts->relay);
  if (!engine) return engine.error();
  parts->liveness = std::move(*engine);
  return parts;
}

// The plan and version in force (`start`) go to the failover and the local
// apply alike, as at a restart.
void Agent::Impl::finish_failover(FailoverParts& parts, const Config& c,
                                  const FailoverStart& start) {
  std::vector<PlanSink*> sinks{plan_state.get()};
  if (parts.apply_options) {
    parts.apply =
        std::make_unique<LocalApplySink>(*parts.apply_options, clock, events, start.last_plan);
    sinks.push_back(parts.apply.get());
  }
  if (parts.push_sink) sinks.push_back(parts.push_sink.get());
  parts.failover = std::make_unique<Failover>(c, clock, events, std::move(sinks), start);
  parts.relay.set(parts.failover.get());
  parts.failover->start();
}

std::unique_ptr<BandwidthSampler> Agent::Impl::make_bandwidth(const Config& c, Failover* failover) {
  return std::make_unique<BandwidthSampler>(
      c.lines, clock,
      [to_store = bandwidth_to(*store, failover, c), this](const std::string& line,
                                                           const BandwidthReading& r) {
        to_store(line, r);
        alerting->on_bandwidth(line, r);
      });
}

std::unique_ptr<Probing> Agent::Impl::make_probing(std::shared_ptr<const Config> c) {
  auto p = std::make_unique<Probing>();
  p->config = std::move(c);
  auto jobs = make_jobs(*p->config);
  p->last_ok.assign(jobs.size(), -1);
  Probing* raw = p.get();
  Scheduler::Launch launch;
  if (auto engine = RoundEngine::start()) {
    p->engine = std::move(*engine);
    launch = [this, raw](std::size_t i, const ProbeJob& job, MonoTime,
                         std::function<void()> finished) {
      raw->engine->submit(ProbeRequest{*job.line, job.target->id, *job.spec, clock},
                          [this, raw, i, finished = std::move(finished)](ProbeResult r) {
                            on_result(*raw, i, r);
                            finished();
                          });
    };
  } else {
    log(LogLevel::warn, "msg=\"round engine: cannot start; packet rounds run on workers\" error=" +
                            log_quote(engine.error().message));
  }
  p->scheduler = std::make_unique<Scheduler>(
      clock, std::move(jobs), p->config->agent.workers,
      [this, raw](std::size_t i, const ProbeJob& job, MonoTime) { on_round(*raw, i, job); },
      std::move(launch), p->engine ? &p->engine->loop() : nullptr);
  return p;
}

// The scrape reads snapshots only, each copied under its owner's lock; the
// outbox's queues are one short read of its own connection, as for the API.
// Which sources exist follows the parts in force (called again by a reload).
MetricsSources Agent::Impl::metrics_sources() {
  MetricsSources s;
  s.scheduler = [this] {
    std::shared_lock lock(parts_mu);
    return scheduler_stats_locked();
  };
  s.engine = [this] {
    std::shared_lock lock(parts_mu);
    return engine_stats_locked();
  };
  s.storage = [this] { return store->stats(); };
  std::shared_lock lock(parts_mu);
  if (failover) {
    s.failover = [this] {
      std::shared_lock l(parts_mu);
      return failover ? failover->failover->snapshot() : FailoverSnapshot{};
    };
    if (failover->apply) {
      s.apply = [this] {
        std::shared_lock l(parts_mu);
        return failover && failover->apply ? failover->apply->stats() : LocalApplyStats{};
      };
    }
    if (failover->pusher) {
      s.gateways = [this] {
        std::shared_lock l(parts_mu);
        return failover && failover->pusher ? failover->pusher->status()
                                            : std::vector<GatewayStatus>{};
      };
    }
  }
  s.bandwidth = [this] {
    std::shared_lock l(parts_mu);
    return bandwidth->snapshot();
  };
  // The cache the availability rule reads: a scrape never waits for SQLite,
  // and its asking keeps the figures refreshed.
  s.availability = [this](const std::string& line, Duration window) {
    return availability.availability(AlertScopeKey{line, "", ""}, window, clock.now());
  };
  s.alerts = [this] { return alerting->view(); };
  s.alerting_dropped = [this] { return alerting->stats().dropped; };
  if (receivers.sender) {
    s.receivers = [this] {
      std::shared_lock l(parts_mu);
      if (!receivers.sender) return std::vector<ReceiverFigures>{};
      auto queues = outbox->summary();
      return receiver_figures(receivers.sender->status(),
                              queues ? std::optional(std::move(*queues)) : std::nullopt);
    };
  }
  s.reload = [this] {
    std::shared_lock l(parts_mu);
    return reloads;
  };
  return s;
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() {
  if (impl_ && impl_->probing) stop(Duration::max());
}

Result<std::unique_ptr<Agent>> Agent::open(Config config, const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::make_shared<const Config>(std::move(config)), clock);
  const std::shared_ptr<const Config> c = impl->config;
  StoreTuning tuning;
  tuning.on_state_change = log_storage_event;
  // Three pages a series (storage/store.h), within 512 KiB..SQLite's 2000.
  tuning.writer_cache_kib = std::clamp<std::size_t>(job_count(*c) * 12, 512, 2000);
  auto store = Store::open(c->agent.data_dir, c->storage, clock, tuning);
  if (!store) return store.error();
  impl->store = std::move(*store);
  Impl* raw = impl.get();
  impl->results.subscribe([raw](const ProbeResult& r) { raw->board.record(r); });
  // Never blocks; a full queue counts a drop.
  impl->results.subscribe([raw](const ProbeResult& r) { raw->store->submit(r); });
  // Every event (failover decisions, alert transitions, reloads) to the log and the store.
  impl->events.add(impl->event_log);
  impl->events.add(*impl->store);
  impl->store_availability = impl->make_availability(*c);
  impl->availability.set(impl->store_availability);
  auto receivers = impl->make_receivers(*c);
  if (!receivers) return receivers.error();
  impl->receivers = std::move(*receivers);
  // Before the failover: the alerts hear its line events from the first one.
  auto alerting = Alerting::create(*c, clock, impl->events, impl->notices, &impl->availability);
  if (!alerting) return alerting.error();
  impl->alerting = std::move(*alerting);
  impl->events.add(impl->alerting->line_events());
  impl->results.subscribe([raw](const ProbeResult& r) { raw->alerting->on_result(r); });
  impl->alerting->start();
  impl->start_receivers();
  // Through the lock: a reload may replace (or add, or remove) the failover.
  impl->results.subscribe([raw](const ProbeResult& r) {
    std::shared_lock lock(raw->parts_mu);
    if (raw->failover) raw->failover->failover->on_result(r);
  });
  impl->plan_state = std::make_unique<PlanStateSink>(*impl->store);
  if (!c->routes.empty()) {
    auto parts = impl->prepare_failover(*c);
    if (!parts) return parts.error();
    // The last run's plan and version; what cannot be read is a fresh start.
    LoadedPlanState loaded = load_plan_state(*impl->store);
    for (const std::string& w : loaded.warnings) log(LogLevel::warn, "msg=" + log_quote(w));
    impl->finish_failover(**parts, *c, loaded.start);
    impl->failover = std::move(*parts);
  }
  impl->bandwidth =
      impl->make_bandwidth(*c, impl->failover ? impl->failover->failover.get() : nullptr);
  impl->metrics = std::make_unique<MetricsCollector>(
      *c, impl->metrics_sources(), MetricsOptions{LINEWATCH_VERSION, clock.wall_now()});
  impl->reloads.last_success = clock.wall_now();
  impl->results.subscribe([raw](const ProbeResult& r) { raw->metrics->on_result(r); });
  impl->probing = impl->make_probing(c);

  std::unique_ptr<Agent> agent(new Agent(std::move(impl)));
  Agent* self = agent.get();
  ApiSources sources;
  sources.status = [self] { return self->status_json(); };
  sources.routes = [raw] { return raw->routes_json(); };
  sources.events = [raw](const EventQuery& q) { return raw->store->events(q); };
  // The outbox's queues are one short read of its table (its own connection).
  sources.alerts = [raw] {
    std::optional<OutboxView> outbox;
    std::string id;
    {
      std::shared_lock lock(raw->parts_mu);
      id = raw->config->agent.id;
      if (raw->receivers.sender)
        outbox = outbox_view(raw->receivers.sender->status(), raw->outbox->summary());
    }
    return alerts_document(raw->alerting->view(), id, raw->clock.wall_now(), outbox);
  };
  // A plain scrape at 10,000 series builds a 20 MB answer: its pages go back
  // soon after. Prometheus asks for gzip, which never holds the whole text.
  sources.metrics = [raw] {
    raw->heap_trim.poke();
    return raw->metrics->scrape();
  };
  sources.metrics_gzip = [raw] {
    raw->heap_trim.poke();
    return raw->metrics->scrape_gzip();
  };
  sources.lines = [raw] { return raw->lines_json(); };
  sources.targets = [raw] {
    std::shared_lock lock(raw->parts_mu);
    return targets_document(*raw->config);
  };
  // The lines and targets a query may name are the config's in force.
  sources.series = [raw](std::string_view query) {
    std::shared_ptr<const Config> c;
    {
      std::shared_lock lock(raw->parts_mu);
      c = raw->config;
    }
    return series_answer(store_series_source(*c, *raw->store, raw->clock), query);
  };
  sources.reload_token = [raw] {
    std::shared_lock lock(raw->parts_mu);
    return raw->config->agent.api_token;
  };
  sources.reload = [self]() -> std::optional<ReloadOutcome> {
    auto verdict = self->reload();
    if (verdict.wait_for(kReloadWait) != std::future_status::ready) return std::nullopt;
    return verdict.get();
  };
  auto api = ApiServer::start(c->agent.listen, std::move(sources));
  if (!api) return api.error();
  raw->api = std::move(*api);
  raw->reloader =
      std::make_unique<Reloader>([raw](std::promise<ReloadOutcome>& v) { raw->reload(v); });
  return agent;
}

void Agent::start() {
  std::unique_lock lock(impl_->parts_mu);
  impl_->started = true;
  impl_->probing->scheduler->start();
}

std::shared_future<ReloadOutcome> Agent::reload() {
  if (!impl_->reloader) {
    std::promise<ReloadOutcome> refused;
    ReloadOutcome o;
    o.errors.push_back("the agent is stopping");
    refused.set_value(std::move(o));
    return refused.get_future().share();
  }
  return impl_->reloader->request();
}

std::uint64_t Agent::config_generation() const {
  std::shared_lock lock(impl_->parts_mu);
  return impl_->generation;
}

bool Agent::stop(Duration grace) {
  if (!impl_->probing) return true;
  // No request reaches a part being stopped, nor asks for a reload; a
  // reload under way ends first (the reloader joins it), none starts after.
  impl_->api.reset();
  impl_->reloader.reset();
  bool joined = impl_->probing->scheduler->stop(grace);
  for (auto& p : impl_->abandoned) joined = p->scheduler->stop(grace) && joined;
  // Rounds still in flight may publish to a stopped failover: it ignores them.
  if (impl_->failover) impl_->failover->stop();
  impl_->bandwidth->stop();
  impl_->alerting->stop();  // before the store: its last events are flushed there
  impl_->store_availability->stop();
  // Then the notices it raised go into the outbox, and the sender's last
  // events into the store; an attempt cut short is sent by the next start.
  if (impl_->receivers.notices) impl_->receivers.notices->stop();
  if (impl_->receivers.sender) impl_->receivers.sender->stop();
  impl_->store->stop();  // flushes what the rounds already submitted
  if (joined) {
    std::unique_lock lock(impl_->parts_mu);
    impl_->retired = impl_->scheduler_stats_locked();
    impl_->retired_engine = impl_->engine_stats_locked();
    impl_->probing.reset();
    impl_->abandoned.clear();
  }
  return joined;
}

WriterStats Agent::storage_stats() const { return impl_->store->stats(); }

std::uint16_t Agent::api_port() const { return impl_->api ? impl_->api->port() : 0; }

}  // namespace linewatch

#include "agent/agent.h"

#include <Poco/JSON/Array.h>

#include <mutex>
#include <sstream>

#include "agent/alerting.h"
#include "agent/alerting_api.h"
#include "agent/api_lines.h"
#include "agent/api_server.h"
#include "agent/bandwidth_sampler.h"
#include "agent/failover.h"
#include "agent/failover_apply.h"
#include "agent/failover_events.h"
#include "agent/failover_json.h"
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

struct Agent::Impl {
  Impl(Config c, const Clock& clk) : config(std::move(c)), clock(clk), board(clk, 5min) {}

  void on_round(std::size_t job_index, const ProbeJob& job);
  void open_availability();
  void open_metrics();
  Status open_notify();
  Status open_alerting();
  Status open_failover();
  std::string routes_json() const;
  std::string lines_json() const;

  // Destroyed in reverse order: whatever calls into a member is declared after it.
  const Config config;
  const Clock& clock;
  StatusBoard board;
  LogEventSink event_log;
  // Every failover event goes out once, here: to the log and the store.
  EventFanout events;
  std::unique_ptr<Store> store;
  // Every round goes out once, here; consumers subscribe in open().
  ResultFanout results;
  // Alerts: with receivers (notify:), notices go to the notifier outbox,
  // whose sender delivers them and reports to `events`; without receivers
  // no notice is raised, and `notice_log` stands in.
  // The outbox outlives the alerting that feeds it, and stops after it and
  // before the store its events go to. The availability rules read the
  // store's rollups through a cache refreshed off the alerting thread.
  LogNoticeSink notice_log;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<OutboxSender> sender;          // one thread per receiver
  std::unique_ptr<OutboxNotices> notice_outbox;  // notices into the outbox, off the alerting thread
  NoticeSink* notices = &notice_log;
  std::unique_ptr<StoreAvailability> store_availability;
  AvailabilitySource* availability = nullptr;
  std::unique_ptr<Alerting> alerting;  // fed by results, failover events and bandwidth
  // Failover, only when routes are configured (apply only with apply.table).
  std::unique_ptr<PlanPusher> pusher;  // gateways[]: each plan signed and pushed
  std::unique_ptr<PlanSink> push_sink;
  std::unique_ptr<LocalApplySink> apply;
  std::unique_ptr<PlanStateSink> plan_state;  // each plan into the store, for the next start
  std::unique_ptr<Failover> failover;
  std::unique_ptr<LivenessEngine> liveness;
  std::unique_ptr<BandwidthSampler> bandwidth;  // feeds store and failover
  // Fed by results; reads the members above (and the scheduler, when there
  // is one) at each scrape of /metrics.
  std::unique_ptr<MetricsCollector> metrics;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<ApiServer> api;
  // Last outcome per job, to log only on change. A job never runs twice at
  // once and the scheduler's lock orders its rounds, so each slot has one
  // writer at a time.
  std::vector<signed char> last_ok;
};

void Agent::Impl::on_round(std::size_t job_index, const ProbeJob& job) {
  const ProbeResult r = run_probe(ProbeRequest{*job.line, job.target->id, *job.spec, clock});
  results.publish(r);
  const signed char now_ok = r.ok ? 1 : 0;
  if (last_ok[job_index] != now_ok) {
    const bool first = last_ok[job_index] < 0;
    last_ok[job_index] = now_ok;
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
void Agent::Impl::open_availability() {
  std::vector<std::string> lines, targets;
  for (const LineSpec& l : config.lines) lines.push_back(l.id);
  for (const TargetSpec& t : config.targets) targets.push_back(t.id);
  const Store* s = store.get();
  store_availability = std::make_unique<StoreAvailability>(
      [s](const AvailabilityQuery& q) { return s->availability(q); }, std::move(lines),
      std::move(targets), clock);
  store_availability->start();
  availability = store_availability.get();
}

// The receivers' secrets are read now, so that a variable or file that is
// missing stops the start with its key named (check-config reads no
// variables, and the sender reads them again at each attempt, so a rotated
// key applies). The sender starts after open_alerting(): the event fan-out
// takes no new sink once something emits.
Status Agent::Impl::open_notify() {
  for (std::size_t i = 0; i < config.notify.size(); ++i) {
    auto secrets = resolve_secrets(config.notify[i], "notify[" + std::to_string(i) + "]");
    if (!secrets) {
      const std::string where = config.source_path.empty() ? "" : config.source_path + ": ";
      return Error{secrets.error().code, where + secrets.error().message};
    }
  }
  auto o = Outbox::open(config.agent.data_dir);
  if (!o) return o.error();
  outbox = std::move(*o);
  auto s = OutboxSender::create(*outbox, config.notify, events, clock);
  if (!s) return s.error();
  sender = std::move(*s);
  notice_outbox = std::make_unique<OutboxNotices>(*sender, config.agent.id, config.notify, clock);
  notices = notice_outbox.get();
  return ok_status();
}

// Before the failover: the alerts hear its line events from the first one.
Status Agent::Impl::open_alerting() {
  auto a = Alerting::create(config, clock, events, *notices, availability);
  if (!a) return a.error();
  alerting = std::move(*a);
  events.add(alerting->line_events());
  Alerting* raw = alerting.get();
  results.subscribe([raw](const ProbeResult& r) { raw->on_result(r); });
  alerting->start();
  return ok_status();
}

// The failover runs from open(), not start(): its echo sockets are checked
// at open like the listen socket, and the decision path does not wait for
// the probe scheduler.
Status Agent::Impl::open_failover() {
  // The last run's plan and version (the failover and the local apply both
  // take it); what cannot be read is a fresh start, not a failed one.
  LoadedPlanState loaded = load_plan_state(*store);
  for (const std::string& w : loaded.warnings) log(LogLevel::warn, "msg=" + log_quote(w));
  const FailoverStart start = std::move(loaded.start);
  plan_state = std::make_unique<PlanStateSink>(*store);
  std::vector<PlanSink*> sinks{plan_state.get()};
  if (config.apply) {
    auto table = parse_route_table(config.apply->table);
    if (!table) return table.error();
    LocalApplyOptions options;
    options.route.table = *table;
    if (Status s = check_options(options.route); !s) return s.error();
    apply = std::make_unique<LocalApplySink>(options, clock, events, start.last_plan);
    sinks.push_back(apply.get());
  }
  if (!config.gateways.empty()) {
    auto p = PlanPusher::start(config.gateways, PushOptions{}, events, clock);
    if (!p) return p.error();
    pusher = std::move(*p);
    push_sink = std::make_unique<PushSink>(*pusher);
    sinks.push_back(push_sink.get());
  }
  failover = std::make_unique<Failover>(config, clock, events, std::move(sinks), start);
  Failover* f = failover.get();
  results.subscribe([f](const ProbeResult& r) { f->on_result(r); });
  failover->start();
  auto engine = start_liveness(config, *failover);
  if (!engine) return engine.error();
  liveness = std::move(*engine);
  return ok_status();
}

// The scrape reads snapshots only, each copied under its owner's lock; the
// outbox's queues are one short read of its own connection, as for the API.
void Agent::Impl::open_metrics() {
  MetricsSources s;
  s.scheduler = [this] { return scheduler ? scheduler->stats() : SchedulerStats{}; };
  s.storage = [this] { return store->stats(); };
  if (failover) s.failover = [this] { return failover->snapshot(); };
  if (apply) s.apply = [this] { return apply->stats(); };
  if (pusher) s.gateways = [this] { return pusher->status(); };
  s.bandwidth = [this] { return bandwidth->snapshot(); };
  s.alerts = [this] { return alerting->view(); };
  s.alerting_dropped = [this] { return alerting->stats().dropped; };
  if (sender) {
    s.receivers = [this] {
      auto queues = outbox->summary();
      return receiver_figures(sender->status(),
                              queues ? std::optional(std::move(*queues)) : std::nullopt);
    };
  }
  metrics = std::make_unique<MetricsCollector>(config, std::move(s),
                                               MetricsOptions{LINEWATCH_VERSION, clock.wall_now()});
  MetricsCollector* m = metrics.get();
  results.subscribe([m](const ProbeResult& r) { m->on_result(r); });
}

// Snapshots only: Failover::snapshot() and LocalApplySink::stats() copy under their own locks.
std::string Agent::Impl::routes_json() const {
  RoutesView view;
  view.agent = config.agent.id;
  view.now = clock.wall_now();
  if (failover) view.failover = failover->snapshot();
  if (apply) {
    view.apply_table = config.apply->table;
    view.apply = apply->stats();
  }
  if (pusher) view.gateways = pusher->status();  // copied under the pusher's locks
  return routes_document(view);
}

// Snapshots only, each copied under its owner's lock.
std::string Agent::Impl::lines_json() const {
  LinesView view{&config, clock.wall_now(), board.snapshot(), bandwidth->snapshot(), std::nullopt};
  if (failover) view.failover = failover->snapshot();
  return lines_document(view);
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() {
  if (impl_ && impl_->scheduler) stop(Duration::max());
}

Result<std::unique_ptr<Agent>> Agent::open(Config config, const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(config), clock);
  StoreTuning tuning;
  tuning.on_state_change = log_storage_event;
  auto store = Store::open(impl->config.agent.data_dir, impl->config.storage, clock, tuning);
  if (!store) return store.error();
  impl->store = std::move(*store);
  Impl* raw = impl.get();
  impl->results.subscribe([raw](const ProbeResult& r) { raw->board.record(r); });
  // Never blocks; a full queue counts a drop.
  impl->results.subscribe([raw](const ProbeResult& r) { raw->store->submit(r); });
  // Every event (failover decisions, alert transitions) to the log and the store.
  impl->events.add(impl->event_log);
  impl->events.add(*impl->store);
  impl->open_availability();
  if (!impl->config.notify.empty()) {
    if (Status s = impl->open_notify(); !s) return s.error();
  }
  if (Status s = impl->open_alerting(); !s) return s.error();
  if (impl->sender) {
    impl->sender->start();
    impl->notice_outbox->start();
  }
  if (!impl->config.routes.empty()) {
    if (Status s = impl->open_failover(); !s) return s.error();
  }
  impl->bandwidth = std::make_unique<BandwidthSampler>(
      impl->config.lines, clock,
      [to_store = bandwidth_to(*impl->store, impl->failover.get(), impl->config), raw](
          const std::string& line, const BandwidthReading& r) {
        to_store(line, r);
        raw->alerting->on_bandwidth(line, r);
      });

  impl->open_metrics();

  auto jobs = make_jobs(impl->config);
  impl->last_ok.assign(jobs.size(), -1);
  impl->scheduler = std::make_unique<Scheduler>(
      clock, std::move(jobs), impl->config.agent.workers,
      [raw](std::size_t i, const ProbeJob& job, MonoTime) { raw->on_round(i, job); });

  std::unique_ptr<Agent> agent(new Agent(std::move(impl)));
  Agent* self = agent.get();
  ApiSources sources;
  sources.status = [self] { return self->status_json(); };
  sources.routes = [raw] { return raw->routes_json(); };
  sources.events = [raw](const EventQuery& q) { return raw->store->events(q); };
  // The outbox's queues are one short read of its table (its own connection).
  sources.alerts = [raw] {
    std::optional<OutboxView> outbox;
    if (raw->sender) outbox = outbox_view(raw->sender->status(), raw->outbox->summary());
    return alerts_document(raw->alerting->view(), raw->config.agent.id, raw->clock.wall_now(),
                           outbox);
  };
  sources.metrics = [raw] { return raw->metrics->scrape(); };
  sources.lines = [raw] { return raw->lines_json(); };
  sources.targets = [raw] { return targets_document(raw->config); };
  auto api = ApiServer::start(agent->impl_->config.agent.listen, std::move(sources));
  if (!api) return api.error();
  agent->impl_->api = std::move(*api);
  return agent;
}

void Agent::start() { impl_->scheduler->start(); }

bool Agent::stop(Duration grace) {
  if (!impl_->scheduler) return true;
  const bool joined = impl_->scheduler->stop(grace);
  // Rounds still in flight may publish to a stopped failover: it ignores them.
  if (impl_->liveness) impl_->liveness->stop();
  impl_->bandwidth->stop();
  if (impl_->failover) impl_->failover->stop();
  impl_->alerting->stop();  // before the store: its last events are flushed there
  impl_->store_availability->stop();
  // Then the notices it raised go into the outbox, and the sender's last
  // events into the store; an attempt cut short is sent by the next start.
  if (impl_->notice_outbox) impl_->notice_outbox->stop();
  if (impl_->sender) impl_->sender->stop();
  if (impl_->apply) impl_->apply->stop();    // routes stay: a restart adopts them
  if (impl_->pusher) impl_->pusher->stop();  // an attempt cut short is no outcome
  impl_->api.reset();
  impl_->store->stop();  // flushes what the rounds already submitted
  if (joined) impl_->scheduler.reset();
  return joined;
}

WriterStats Agent::storage_stats() const { return impl_->store->stats(); }

std::uint16_t Agent::api_port() const { return impl_->api ? impl_->api->port() : 0; }

std::string Agent::status_json() const {
  Poco::JSON::Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("agent", impl_->config.agent.id);
  doc.set("version", LINEWATCH_VERSION);
  doc.set("now", format_time(impl_->clock.wall_now()));
  doc.set("window_s",
          std::chrono::duration_cast<std::chrono::seconds>(impl_->board.window()).count());

  const auto ss = impl_->scheduler ? impl_->scheduler->stats() : SchedulerStats{};
  Poco::JSON::Object::Ptr sched = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  sched->set("jobs", impl_->last_ok.size());
  sched->set("rounds", ss.rounds);
  sched->set("overruns", ss.overruns);
  sched->set("missed", ss.missed);
  sched->set("lag_avg_ms", ss.rounds ? to_ms(ss.lag_total) / static_cast<double>(ss.rounds) : 0.0);
  sched->set("lag_max_ms", to_ms(ss.lag_max));
  doc.set("scheduler", sched);

  const auto st = impl_->store->stats();
  Poco::JSON::Object::Ptr storage = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  storage->set("state", std::string(to_string(st.state)));
  storage->set("since", format_time(st.since));
  storage->set("last_error", st.last_error);
  storage->set("queue", st.pending);
  storage->set("queue_limit", st.queue_limit);
  storage->set("submitted", st.submitted);
  storage->set("written", st.written);
  storage->set("dropped", st.dropped);
  storage->set("lost", st.lost);
  storage->set("write_errors", st.write_errors);
  storage->set("wal_checkpoints", st.wal_checkpoints);
  doc.set("storage", storage);

  Poco::JSON::Array::Ptr lines = new Poco::JSON::Array;
  for (const auto& l : impl_->bandwidth->snapshot()) lines->add(line_bandwidth_to_json(l));
  doc.set("lines", lines);

  if (impl_->failover) doc.set("failover", failover_to_json(impl_->failover->snapshot()));

  Poco::JSON::Array::Ptr series = new Poco::JSON::Array;
  for (const auto& s : impl_->board.snapshot()) series->add(summary_to_json(s));
  doc.set("series", series);
  std::ostringstream out;
  doc.stringify(out);
  return out.str();
}

}  // namespace linewatch

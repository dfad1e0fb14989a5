// Agent::Impl: the running agent's parts, shared by agent.cc (open, start,
// stop), agent_status.cc (the status, routes and lines documents) and
// agent_reload.cc (the config reload). Not a public header: only those three
// files include it.
//
// Parts that a reload replaces (the scheduler, the failover with its
// liveness, apply and pushers, the bandwidth sampler, the receivers, the
// availability cache) sit behind `parts_mu`: readers on other threads (probe
// workers, the API and the scrape, the sampler) take it shared for as long
// as they use a part; the reload thread takes it exclusively only to swap
// pointers, and stops or joins what it replaced outside it, so that no
// thread ever waits for a join while holding it. A reader never takes it
// twice (std::shared_mutex is not recursive). Parts that stay (store, status
// board, alerting, metrics, API, outbox) are reached directly; the alerting
// reaches the swapped receivers and availability through the relays below.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/alerting.h"
#include "agent/api_server.h"
#include "agent/bandwidth_sampler.h"
#include "agent/failover.h"
#include "agent/failover_apply.h"
#include "agent/failover_events.h"
#include "agent/heap_trim.h"
#include "agent/metrics_collector.h"
#include "agent/outbox_notices.h"
#include "agent/plan_state.h"
#include "agent/reloader.h"
#include "agent/result_fanout.h"
#include "agent/scheduler.h"
#include "agent/store_availability.h"
#include "exporters/notify_outbox.h"
#include "exporters/plan_pusher.h"
#include "probes/liveness_engine.h"
#include "probes/round_engine.h"
#include "probes/tls_contexts.h"
#include "rules/status_board.h"
#include "storage/outbox.h"

namespace linewatch {

// Echoes to the failover set last; dropped before one is set. A reload opens
// the new liveness sockets (which can fail) before the new failover can be
// built (it needs the old one's final plan). Thread-safe.
class LivenessRelay final : public LivenessObserver {
 public:
  void set(Failover* failover);
  void on_sent(const std::string& line, const std::string& reflector, std::uint64_t seq,
               MonoTime sent) override;
  void on_reply(const std::string& line, const std::string& reflector, std::uint64_t seq,
                MonoTime sent, MonoTime received, Duration rtt) override;
  void on_error(const std::string& line, const std::string& reflector, std::uint64_t seq,
                EchoError error) override;
  void on_tick(MonoTime now) override;

 private:
  std::mutex mu_;
  Failover* target_ = nullptr;  // guarded by mu_
};

// Notices to the receivers in force (the outbox's), or to the log without
// receivers. Thread-safe; enqueue() runs on the alerting thread.
class NoticeRelay final : public NoticeSink {
 public:
  explicit NoticeRelay(NoticeSink& first) : target_(&first) {}
  void set(NoticeSink& sink);
  void enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) override;

 private:
  std::mutex mu_;
  NoticeSink* target_;  // guarded by mu_
};

// Availability from the cache in force, rebuilt when the lines or targets
// change (what "every line" and "every target" count). Thread-safe.
class AvailabilityRelay final : public AvailabilitySource {
 public:
  void set(std::shared_ptr<StoreAvailability> source);
  std::optional<double> availability(const AlertScopeKey& key, Duration window,
                                     MonoTime now) override;

 private:
  std::mutex mu_;
  std::shared_ptr<StoreAvailability> source_;  // guarded by mu_
};

// The failover with what feeds it and what it feeds: built, swapped and
// stopped together. Declared so that each is destroyed before what it calls.
struct FailoverParts {
  LivenessRelay relay;
  std::optional<LocalApplyOptions> apply_options;  // with apply: only
  std::string apply_table;                         // apply.table as configured
  std::unique_ptr<PlanPusher> pusher;              // gateways[]
  std::unique_ptr<PlanSink> push_sink;
  std::unique_ptr<LocalApplySink> apply;
  std::unique_ptr<Failover> failover;
  std::unique_ptr<LivenessEngine> liveness;

  // Liveness, decision thread, apply and pushers; applied routes stay.
  void stop();
};

// The scheduler with the config its jobs point into, and the round engine
// that runs its packet rounds (null when its loop could not start: then
// every round runs on a worker).
struct Probing {
  std::shared_ptr<const Config> config;
  // Last outcome per job, to log only on change. A job never runs twice at
  // once and the scheduler's lock orders its rounds, so each slot has one
  // writer at a time.
  std::vector<signed char> last_ok;
  std::unique_ptr<Scheduler> scheduler;
  // After the scheduler: destroyed first, so no round ends into a scheduler
  // that is gone.
  std::unique_ptr<RoundEngine> engine;
};

// The notify receivers: the sender's threads and the notices' writer.
struct Receivers {
  std::unique_ptr<OutboxSender> sender;
  std::unique_ptr<OutboxNotices> notices;  // writes through `sender`
};

// What a reload built before its verdict (agent_reload.cc).
struct PreparedReload;

struct Agent::Impl {
  Impl(std::shared_ptr<const Config> c, const Clock& clk)
      : clock(clk), board(clk, std::chrono::minutes(5)), config(std::move(c)) {}

  // open(): each part from `c`.
  void on_round(Probing& probing, std::size_t job_index, const ProbeJob& job);
  // A round's result, from a worker or the round engine's loop.
  void on_result(Probing& probing, std::size_t job_index, const ProbeResult& r);
  std::shared_ptr<StoreAvailability> make_availability(const Config& c);
  Result<Receivers> make_receivers(const Config& c);
  // The fallible half of the failover: pushers, apply options, liveness sockets.
  Result<std::unique_ptr<FailoverParts>> prepare_failover(const Config& c);
  // The rest, seeded with `start`: apply, decision thread; then started.
  void finish_failover(FailoverParts& parts, const Config& c, const FailoverStart& start);
  std::unique_ptr<BandwidthSampler> make_bandwidth(const Config& c, Failover* failover);
  std::unique_ptr<Probing> make_probing(std::shared_ptr<const Config> c);
  MetricsSources metrics_sources();
  void start_receivers();
  std::string routes_json() const;
  std::string lines_json() const;
  SchedulerStats scheduler_stats_locked() const;  // parts_mu held
  RoundEngineStats engine_stats_locked() const;   // parts_mu held (never waits for the loop)
  // What the agent's own health asks to fix now; empty when the load is met.
  std::vector<std::string> load_warnings_locked(const SchedulerStats& s,
                                                const RoundEngineStats& e) const;

  // The reload (agent_reload.cc), on the reloader's thread.
  void reload(std::promise<ReloadOutcome>& verdict);
  Result<std::unique_ptr<PreparedReload>> prepare(const Config& running,
                                                  std::shared_ptr<const Config> next);
  std::string commit(PreparedReload& p);
  void refuse(const std::vector<std::string>& errors);
  void replace_failover(PreparedReload& p);
  void replace_receivers(PreparedReload& p);
  void replace_probing(const std::shared_ptr<const Config>& next);

  // Destroyed in reverse order: whatever calls into a member is declared after it.
  const Clock& clock;
  // The HTTP and LLM rounds' TLS contexts, one per setting, kept across
  // reloads (a setting no longer configured costs one idle context).
  TlsContexts tls;
  StatusBoard board;
  LogEventSink event_log;
  // Every event goes out once, here: to the log and the store.
  EventFanout events;
  std::unique_ptr<Store> store;
  // Every round goes out once, here; consumers subscribe in open().
  ResultFanout results;
  // Alerts: with receivers (notify:), notices go to the notifier outbox,
  // whose sender delivers them and reports to `events`; without receivers
  // no notice is raised, and `notice_log` stands in.
  LogNoticeSink notice_log;
  NoticeRelay notices{notice_log};
  std::unique_ptr<Outbox> outbox;  // opened with the first receivers, kept
  AvailabilityRelay availability;
  std::unique_ptr<Alerting> alerting;         // fed by results, failover events and bandwidth
  std::unique_ptr<PlanStateSink> plan_state;  // each plan into the store, for the next start
  // Fed by results; reads the parts (under parts_mu) at each scrape.
  std::unique_ptr<MetricsCollector> metrics;

  mutable std::shared_mutex parts_mu;
  // Guarded by parts_mu; written by open() and the reload thread only.
  std::shared_ptr<const Config> config;
  std::uint64_t generation = 1;
  ConfigReloadFigures reloads;
  std::shared_ptr<StoreAvailability> store_availability;
  Receivers receivers;
  std::unique_ptr<FailoverParts> failover;  // only with routes
  std::unique_ptr<BandwidthSampler> bandwidth;
  std::unique_ptr<Probing> probing;
  SchedulerStats retired;           // summed over the schedulers a reload replaced
  RoundEngineStats retired_engine;  // the same for their round engines' counters
  bool started = false;

  // Schedulers a reload stopped with rounds still running (reload thread,
  // then stop()): their jobs point into their config, kept here.
  std::vector<std::unique_ptr<Probing>> abandoned;
  // Gives freed heap pages back (agent/heap_trim.h). Poked from the API's
  // thread and the reloader's, so it outlives both.
  HeapTrimmer heap_trim;
  std::unique_ptr<ApiServer> api;
  std::unique_ptr<Reloader> reloader;  // destroyed first: no reload runs after
};

}  // namespace linewatch

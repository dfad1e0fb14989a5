// What the agent shows of itself: the /api/v1/status, /api/v1/routes and
// /api/v1/lines documents and the load warnings, from snapshots of the parts
// in force (each copied under its owner's lock, the parts under parts_mu).
#include <Poco/JSON/Array.h>

#include <mutex>
#include <sstream>

#include "agent/agent.h"
#include "agent/agent_impl.h"
#include "agent/api_lines.h"
#include "agent/api_server.h"
#include "agent/failover_json.h"
#include "agent/json.h"
#include "core/units.h"

namespace linewatch {

SchedulerStats Agent::Impl::scheduler_stats_locked() const {
  SchedulerStats s = retired;
  if (!probing) return s;
  const SchedulerStats now = probing->scheduler->stats();
  s.rounds += now.rounds;
  s.overruns += now.overruns;
  s.missed += now.missed;
  s.lag_total += now.lag_total;
  s.lag_max = std::max(s.lag_max, now.lag_max);
  s.in_flight = now.in_flight;
  s.launched_in_flight = now.launched_in_flight;
  s.queued = now.queued;
  // The last minute's figures are the running scheduler's: a reload starts them afresh.
  s.rounds_per_second = now.rounds_per_second;
  s.overruns_last_minute = now.overruns_last_minute;
  s.missed_last_minute = now.missed_last_minute;
  return s;
}

RoundEngineStats Agent::Impl::engine_stats_locked() const {
  RoundEngineStats s = retired_engine;
  if (!probing || !probing->engine) return s;
  const RoundEngineStats now = probing->engine->stats();
  s.rounds_started += now.rounds_started;
  s.rounds_done += now.rounds_done;
  s.in_flight = now.in_flight;
  s.icmp_sockets = now.icmp_sockets;
  s.echoes_sent += now.echoes_sent;
  s.replies += now.replies;
  s.late_replies += now.late_replies;
  s.ignored += now.ignored;
  s.overflow_drops += now.overflow_drops;
  s.receive_errors += now.receive_errors;
  s.send_errors += now.send_errors;
  s.connects += now.connects;
  s.lag_p99 = now.lag_p99;
  s.lag_max = now.lag_max;
  return s;
}

// The loop lag above which the packet rounds' timing cannot be trusted: a
// round's echoes would leave late and its replies be read late.
constexpr Duration kLoopLagBound = std::chrono::milliseconds(10);

std::vector<std::string> Agent::Impl::load_warnings_locked(const SchedulerStats& s,
                                                           const RoundEngineStats& e) const {
  std::vector<std::string> w;
  if (s.overruns_last_minute > 0)
    w.push_back(std::to_string(s.overruns_last_minute) +
                " probe slots skipped in the last minute because the job's previous round was "
                "still running: the configured load cannot be met on this machine (fewer "
                "targets, longer intervals, or more agent.workers for HTTP and LLM rounds)");
  if (s.missed_last_minute > 0)
    w.push_back(std::to_string(s.missed_last_minute) +
                " probe slots missed in the last minute because the scheduler's timer stalled: "
                "the machine is overloaded");
  if (e.lag_p99 > kLoopLagBound)
    w.push_back("round engine loop lag p99 " +
                format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(e.lag_p99)) +
                " over the last 10 s is above 10ms: ICMP and TCP rounds start and read late; "
                "the configured packet probes cannot be met on this machine");
  const int workers = config->agent.workers;
  if (s.queued > static_cast<std::size_t>(workers))
    w.push_back(std::to_string(s.queued) + " rounds wait for one of " + std::to_string(workers) +
                " workers: raise agent.workers or lengthen the HTTP and LLM intervals");
  if (e.overflow_drops > 0)
    w.push_back(std::to_string(e.overflow_drops) +
                " echo replies dropped by the kernel since start because a shared echo socket's "
                "receive buffer was full (net.core.rmem_max caps it without CAP_NET_ADMIN)");
  return w;
}

// Snapshots only: Failover::snapshot() and LocalApplySink::stats() copy under their own locks.
std::string Agent::Impl::routes_json() const {
  RoutesView view;
  view.now = clock.wall_now();
  std::shared_lock lock(parts_mu);
  view.agent = config->agent.id;
  if (failover) {
    view.failover = failover->failover->snapshot();
    if (failover->apply) {
      view.apply_table = failover->apply_table;
      view.apply = failover->apply->stats();
    }
    if (failover->pusher) view.gateways = failover->pusher->status();  // copied under its locks
  }
  return routes_document(view);
}

// Snapshots only, each copied under its owner's lock.
std::string Agent::Impl::lines_json() const {
  std::shared_lock lock(parts_mu);
  LinesView view{config.get(), clock.wall_now(), board.snapshot(), bandwidth->snapshot(),
                 std::nullopt};
  if (failover) view.failover = failover->failover->snapshot();
  return lines_document(view);
}

std::string Agent::status_json() const {
  Poco::JSON::Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  std::shared_lock lock(impl_->parts_mu);
  doc.set("agent", impl_->config->agent.id);
  doc.set("version", LINEWATCH_VERSION);
  doc.set("now", format_time(impl_->clock.wall_now()));
  doc.set("window_s",
          std::chrono::duration_cast<std::chrono::seconds>(impl_->board.window()).count());

  const SchedulerStats ss = impl_->scheduler_stats_locked();
  Poco::JSON::Object::Ptr sched = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  sched->set("jobs", impl_->probing ? impl_->probing->last_ok.size() : 0);
  sched->set("rounds", ss.rounds);
  sched->set("overruns", ss.overruns);
  sched->set("missed", ss.missed);
  sched->set("lag_avg_ms", ss.rounds ? to_ms(ss.lag_total) / static_cast<double>(ss.rounds) : 0.0);
  sched->set("lag_max_ms", to_ms(ss.lag_max));
  sched->set("rounds_per_second", ss.rounds_per_second);
  sched->set("queue", ss.queued);
  sched->set("workers_busy", ss.in_flight);
  sched->set("workers", impl_->config->agent.workers);
  sched->set("overruns_last_minute", ss.overruns_last_minute);
  sched->set("missed_last_minute", ss.missed_last_minute);
  doc.set("scheduler", sched);

  const RoundEngineStats es = impl_->engine_stats_locked();
  Poco::JSON::Object::Ptr engine = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  engine->set("running", impl_->probing && impl_->probing->engine != nullptr);
  engine->set("rounds_in_flight", es.in_flight);
  engine->set("rounds_done", es.rounds_done);
  engine->set("loop_lag_p99_ms", to_ms(es.lag_p99));
  engine->set("loop_lag_max_ms", to_ms(es.lag_max));
  engine->set("icmp_sockets", es.icmp_sockets);
  engine->set("echoes_sent", es.echoes_sent);
  engine->set("replies", es.replies);
  engine->set("late_replies", es.late_replies);
  engine->set("overflow_drops", es.overflow_drops);
  engine->set("ignored_packets", es.ignored);
  engine->set("send_errors", es.send_errors);
  doc.set("engine", engine);

  const HeapTrimStats hs = impl_->heap_trim.stats();
  Poco::JSON::Object::Ptr memory = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  memory->set("rss_bytes", resident_bytes());
  memory->set("heap_trims", hs.trims);
  memory->set("heap_released_bytes", hs.released_bytes);
  doc.set("memory", memory);

  Poco::JSON::Array::Ptr warnings = new Poco::JSON::Array;
  for (const std::string& w : impl_->load_warnings_locked(ss, es)) warnings->add(w);
  doc.set("warnings", warnings);

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
  // A fold that keeps failing leaves rows unindexed and every read slower,
  // while the store itself stays ok: say so here, not only in WriterStats.
  storage->set("fold_errors", st.fold_errors);
  storage->set("last_fold_error", st.last_fold_error);
  doc.set("storage", storage);

  Poco::JSON::Array::Ptr lines = new Poco::JSON::Array;
  for (const auto& l : impl_->bandwidth->snapshot()) lines->add(line_bandwidth_to_json(l));
  doc.set("lines", lines);

  if (impl_->failover) doc.set("failover", failover_to_json(impl_->failover->failover->snapshot()));

  // The series go out one at a time, after the rest: a tree of every
  // series' objects would cost about 6 KB per series at once (60 MB at
  // 10,000 targets), which the allocator then keeps.
  std::ostringstream out;
  doc.stringify(out);
  std::string text = std::move(out).str();
  text.pop_back();  // the closing brace
  text += R"(,"series":[)";
  bool first = true;
  for (const auto& s : impl_->board.snapshot()) {
    std::ostringstream one;
    summary_to_json(s)->stringify(one);
    if (!first) text += ',';
    first = false;
    text += std::move(one).str();
  }
  text += "]}";
  return text;
}

}  // namespace linewatch

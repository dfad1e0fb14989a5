// Failover: the decision component. It turns liveness echoes, probe results
// and bandwidth samples into line health, scores and a route plan, and hands
// each new plan to the plan sinks (local apply, gateway pushers).
//
//   liveness engine (loop thread) ─ on_sent/on_reply/on_tick ─┐
//   results fan-out (probe workers) ─ on_result ──────────────┼─> inbox ─> decision thread:
//   bandwidth sampler ─ on_bandwidth ─────────────────────────┘    liveness, quality, judge,
//                                                                  health, scores, ranking,
//                                                                  planner ─> PlanSinks, EventSink
//
// Threading. The inputs may be called from any thread and never block: each
// copies the input into a bounded inbox (FailoverOptions::inbox_capacity)
// and returns; a full inbox drops the input and counts it. LivenessObserver
// calls arrive on the engine's loop thread, where they cost one small copy
// and a short lock. All rules state (rules/*) lives on the one decision
// thread started by start(): it runs step() whenever the engine ticks
// (at most every tick_period()/2) and at least every tick_period() =
// the smallest liveness interval / 2. Tests call step() themselves and never
// start the thread. snapshot() may be called from any thread.
//
// One step: take the inbox in order (echo sends and replies, probe rounds,
// bandwidth samples; each engine tick ticks the liveness trackers at its own
// time, after the replies the engine read before it), count echoes unanswered
// for miss_timeout as of the latest engine tick as losses (not as of the
// clock: a reply the kernel received in time may still be unread when the
// engine's loop lags, e.g. on a busy host or after a suspend), and every
// FailoverOptions::quality_every also hand the reflectors' outcomes to the destination judge, judge
// destinations and recompute quality figures, SLA breaches and scores without the down destinations
// (figures and scores every step while the planner is starting, so the first plan ranks the lines
// by what they showed). Then evaluate every line's health, score the lines, update the ranking and
// the planner. Every event the rules produced goes to the EventSink (on the decision thread; it
// must not block). Then, when the plan version changed, every PlanSink gets the plan (on the
// decision thread; they must not block either, see failover_plan_sink.h).
//
// Only network reasons count against a line or a destination
// (rules/path_outcome.h): HTTP 401/429/5xx rounds say the line carried them.
// A round's network failure counts against the line only once the judge has
// ruled it is not the destination's (FailoverLine::settle): a closed port
// refused through every line at start must not degrade every line before the
// judge has its `confirm` rounds. Liveness echoes are never held back.
//
// Startup. The planner keeps the plan in force before the restart
// (FailoverStart, loaded from storage by the caller) until every line has
// evidence (a liveness reply or a declared silence), a line that plan uses
// is down, or startup_grace passes, so a restart alone makes no new version.
// The ranking is seeded with that plan's primary-backup primaries (lines still
// watched, routes[] order), so at the end of startup they keep their place
// unless another line beats them through the band (scoring.margin for
// scoring.margin_for); weighted hops keep the plan's weights within the band.
// Without a last plan the start plan is empty: the first plan is made from
// evidence, not from the optimistic initial "up" of every line.
//
// Active only when config.routes is not empty: otherwise start() starts no
// thread and the inputs are ignored.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/failover_inbox.h"
#include "agent/failover_line.h"
#include "agent/failover_plan_sink.h"
#include "agent/failover_snapshot.h"
#include "core/config.h"
#include "core/event.h"
#include "probes/liveness_engine.h"
#include "rules/destination.h"
#include "rules/planner.h"
#include "rules/score.h"

namespace linewatch {

// What survived the last run, loaded by the caller (storage's agent state).
struct FailoverStart {
  std::uint64_t last_version = 0;      // highest plan version ever handed out
  std::optional<RoutePlan> last_plan;  // the plan in force before the restart
};

struct FailoverOptions {
  // Inputs waiting for the decision thread; beyond this they are dropped and
  // counted. 10 ms echoes from 2 reflectors on 8 lines make 3200 inputs a
  // second, so the default covers a 20 s stall. Default: 65536.
  std::size_t inbox_capacity = 65536;
  // How often quality figures, SLA breaches, scores and destination verdicts
  // are recomputed (each is O(samples · log) per line). Default: 1s.
  Duration quality_every = std::chrono::seconds(1);
  // A bandwidth sample older than this no longer counts in the score. Default: 30s.
  Duration bandwidth_stale = std::chrono::seconds(30);
  // Longest the start plan is kept while waiting for evidence. Default: 30s.
  Duration startup_grace = std::chrono::seconds(30);
};

class Failover final : public LivenessObserver {
 public:
  // `clock`, `events` and every sink must outlive the Failover. Watches
  // failover_lines(config) (agent/failover_liveness.h); the rules take their
  // options from config.health, config.scoring and the lines' liveness.
  Failover(const Config& config, const Clock& clock, EventSink& events,
           std::vector<PlanSink*> sinks, FailoverStart start = {}, FailoverOptions options = {});
  ~Failover() override;  // stop()
  Failover(const Failover&) = delete;
  Failover& operator=(const Failover&) = delete;

  bool active() const { return !lines_.empty(); }

  // Starts the decision thread (nothing when not active or already started).
  void start();
  // Stops and joins it; inputs are ignored from now on. Idempotent.
  void stop();

  // Inputs: any thread, never blocking. Lines the failover does not watch
  // are counted and ignored.
  void on_sent(const std::string& line, const std::string& reflector, std::uint64_t seq,
               MonoTime sent) override;
  void on_reply(const std::string& line, const std::string& reflector, std::uint64_t seq,
                MonoTime sent, MonoTime received, Duration rtt) override;
  // Counted only: the echo stays unanswered and counts as missed after
  // miss_timeout, like any other echo that did not come back.
  void on_error(const std::string& line, const std::string& reflector, std::uint64_t seq,
                EchoError error) override;
  void on_tick(MonoTime now) override;
  // A probe round, from the results fan-out.
  void on_result(const ProbeResult& result);
  // Traffic on `line` in bits/s each way; `utilisation` 0..1 of its capacity
  // when the sampler knows it. Feeds the load and bandwidth parts of the score.
  void on_bandwidth(const std::string& line, std::uint64_t rx_bps, std::uint64_t tx_bps,
                    std::optional<double> utilisation);

  // One decision step at clock.now() (see the top comment). Called by the
  // decision thread; without start(), by the owner (tests). Never from two
  // threads at once.
  void step();

  // The state as of the last step.
  FailoverSnapshot snapshot() const;

  Duration tick_period() const { return tick_period_; }

 private:
  std::optional<std::size_t> line_index(const std::string& line);
  void push(FailoverInput input, bool wake);
  void apply(FailoverInput& input, std::vector<Event>& events);
  void judge(std::vector<Event>& events);  // destination verdicts from the evidence so far
  void rescore(MonoTime now);              // quality figures, breaches and scores
  // Health, ranking and planner; true when the plan has a new version.
  bool decide(std::vector<Event>& events);
  void finish(const FailoverInbox::Batch& batch);
  FailoverSnapshot make_snapshot() const;
  void run();

  const Clock& clock_;
  EventSink& events_;
  const std::vector<PlanSink*> sinks_;
  const FailoverOptions options_;
  std::map<std::string, std::size_t> index_;  // line id -> lines_ index; fixed after construction
  Duration tick_period_{};
  FailoverInbox inbox_;
  std::atomic<std::uint64_t> unknown_line_{0};
  std::atomic<std::uint64_t> echo_errors_{0};

  // Decision thread only (the line list itself is fixed after construction).
  std::vector<FailoverLine> lines_;
  ScoringWeights weights_;
  DestinationJudge judge_;
  Ranking ranking_;
  RoutePlanner planner_;
  std::optional<MonoTime> last_refresh_;
  // The engine's latest tick: every reply the kernel received before it has
  // been applied, so echoes are judged missed as of this time.
  std::optional<MonoTime> last_tick_;
  std::uint64_t delivered_version_;
  FailoverCounters counters_;

  mutable std::mutex snapshot_mu_;
  FailoverSnapshot snapshot_;  // guarded by snapshot_mu_

  std::thread thread_;
  bool started_ = false;  // owner thread only
};

}  // namespace linewatch

// LocalApplySink: the failover's plans into this host's kernel (config
// `apply: { table }`), through exporters/route_apply.h's RouteApplier on a
// thread of its own, so netlink never stalls a failover decision.
//
// on_plan() keeps the newest plan and wakes the thread; a plan not yet
// applied when a newer one arrives is skipped (only the newest matters).
// The thread applies each plan it takes (make-before-break), and every
// `reconcile_every` puts back what someone changed behind its back. A plan
// that did not fully apply (the kernel refused a route, netlink failed) is
// applied again at that cadence instead, until it does.
//
// Events (to the EventSink, from the apply thread):
//   apply_ok        reason "applied": a plan is in the kernel ("retried": after failing)
//   apply_failed    reason "conflict" (another protocol's route holds a prefix),
//                   "route_failed" (the kernel refused a route), "netlink" (no socket or
//                   table dump), or "reconcile" (a repair failed; once per episode)
//   route_restored  reason "drift": a route was changed or deleted by someone else and put back
// Stopping leaves the routes in place: a restarted agent adopts them.
//
// Thread-safety: on_plan() and stats() from any thread. The applier and its
// netlink socket live on the sink's thread, started in the constructor, so
// they belong to the network namespace of the constructing thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/failover_plan_sink.h"
#include "core/event.h"
#include "exporters/route_apply.h"

namespace linewatch {

struct LocalApplyOptions {
  RouteApplyOptions route;  // apply.table via parse_route_table(); the rest default
  // Drift check (and retry of a plan that failed) every this long. Default: 5s.
  Duration reconcile_every = std::chrono::seconds(5);
};

struct LocalApplyStats {
  std::uint64_t applied_version = 0;  // the newest plan fully in the kernel; 0 before any
  std::uint64_t applies = 0;          // apply passes (retries included)
  std::uint64_t failures = 0;         // apply passes that did not fully apply
  std::uint64_t reconciles = 0;       // drift checks run
  std::uint64_t restored = 0;         // routes put back after drift
  std::uint64_t skipped = 0;          // plans replaced by a newer one before they were applied
};

class LocalApplySink final : public PlanSink {
 public:
  // Checks nothing itself: a bad table shows as apply_failed (check the
  // options with check_options() first). `initial`: the plan in force before
  // a restart, applied first, so the applier adopts its routes (nothing is
  // rewritten when they are right) and has something to reconcile.
  // `clock` and `events` must outlive the sink.
  LocalApplySink(LocalApplyOptions options, const Clock& clock, EventSink& events,
                 std::optional<RoutePlan> initial = std::nullopt);
  ~LocalApplySink() override;  // stop()
  LocalApplySink(const LocalApplySink&) = delete;
  LocalApplySink& operator=(const LocalApplySink&) = delete;

  // Keeps a copy of `plan` for the apply thread; returns at once.
  void on_plan(const RoutePlan& plan) override;

  // Ends the thread after the pass in progress (a pass is bounded by the
  // netlink timeouts). Routes stay. Idempotent.
  void stop();

  LocalApplyStats stats() const;

 private:
  void run();
  void apply(RouteApplier& applier, const RoutePlan& plan, bool retry);
  void reconcile(RouteApplier& applier);

  const LocalApplyOptions options_;
  const Clock& clock_;
  EventSink& events_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<RoutePlan> pending_;  // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  LocalApplyStats stats_;             // guarded by mu_

  // Apply thread only.
  std::optional<RoutePlan> unapplied_;  // the newest plan while it has not fully applied
  bool applied_any_ = false;
  bool reconcile_failing_ = false;

  std::thread thread_;  // last: started once the state above exists
};

}  // namespace linewatch

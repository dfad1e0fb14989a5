// Plan state: the failover's plan and version kept across restarts in the
// store's agent state, so versions keep growing after a restart and the plan
// in force before it is kept through startup (agent/failover.h, "Startup").
//
//   failover.plan          the newest plan, as exporters/plan_codec.h encodes it
//   failover.plan_version  its version, decimal
//
// The version has a key of its own so that a plan that cannot be read any
// more still leaves the version to continue from; the store orders values per
// key only, so the loader takes the larger of the two versions.
//
// Thread-safety: PlanStateSink::on_plan() from the failover's decision
// thread (it only queues, see storage/store.h save_state); load_plan_state()
// from any thread, meant for start-up.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/failover.h"
#include "agent/failover_plan_sink.h"
#include "storage/store.h"

namespace linewatch {

inline constexpr std::string_view kPlanStateKey = "failover.plan";
inline constexpr std::string_view kPlanVersionStateKey = "failover.plan_version";

// Saves every plan it is handed. Never blocks: a save the store refuses (its
// state queue full, or stopped) is counted there in `state_dropped`, and the
// next plan saves again.
class PlanStateSink final : public PlanSink {
 public:
  // `store` must outlive the sink.
  explicit PlanStateSink(Store& store) : store_(store) {}
  void on_plan(const RoutePlan& plan) override;

 private:
  Store& store_;
};

struct LoadedPlanState {
  FailoverStart start;                // {} on a first start or when nothing could be read
  std::vector<std::string> warnings;  // one per value that was present but unusable
};

// What the last run saved. Never fails: a value that cannot be read (a
// storage read error, a plan the codec refuses, a version that is not a
// number) is left out with a warning naming the key, so the agent starts
// fresh rather than not at all.
LoadedPlanState load_plan_state(const Store& store);

}  // namespace linewatch

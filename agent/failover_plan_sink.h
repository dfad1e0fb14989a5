// PlanSink: where the failover hands each new route plan: the local applier
// (agent/failover_apply.h) and the pushers to gateways.
//
// on_plan() is called on the failover's decision thread, once per new plan
// version, in version order. It must return at once: keep the plan (a copy)
// and act on it on the sink's own thread. A sink that blocks delays every
// later failover decision, which is what DESIGN.md forbids ("failover never
// waits on storage or the network of another component"). It must not throw.
// A sink may skip versions it had no time for: only the newest matters.
#pragma once

#include "rules/plan.h"

namespace linewatch {

class PlanSink {
 public:
  virtual ~PlanSink() = default;
  // A new plan version. The plan is borrowed for the call; copy what is kept.
  virtual void on_plan(const RoutePlan& plan) = 0;
};

}  // namespace linewatch

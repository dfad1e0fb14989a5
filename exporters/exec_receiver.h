// ExecReceiver: hands route plans to a local program (gateways[].exec), for
// gateways that are configured by a script rather than an HTTP endpoint.
//
// The contract with the program (docs/route-push.md, "Delivery"):
//   - it is run directly (posix_spawn: no shell, no arguments) in its own
//     process group, once per attempt;
//   - stdin carries the plan JSON (exporters/plan_codec.h), then EOF; there is
//     no signature, the program is trusted like the agent's own binary;
//   - the environment is exactly PATH (the agent's), LINEWATCH_PLAN_VERSION
//     (the plan's version) and LINEWATCH_GATEWAY (gateways[].id): nothing else
//     of the agent's, whose environment may hold API keys;
//   - exit status 0 within gateways[].timeout means the plan is in force; any
//     other status, a signal or the timeout is a failed attempt, retried by
//     the pusher. On the timeout the group gets SIGTERM, then SIGKILL after
//     the kill grace;
//   - the first 4 KiB of stdout+stderr go into the failure's detail.
//
// Thread-safety: as PlanReceiver (one pusher thread at a time).
#pragma once

#include <string>

#include "core/route_options.h"
#include "exporters/plan_receiver.h"

namespace linewatch {

class ExecReceiver final : public PlanReceiver {
 public:
  // `spec.exec` is the program's path. `kill_grace`: how long a program past
  // its timeout has between SIGTERM and SIGKILL. Reads PATH from the agent's
  // environment once, here.
  ExecReceiver(GatewaySpec spec, Duration kill_grace);

  // Success: Kind::applied, reason "applied", applied_version = plan.version.
  // Failure (Kind::transient): "exec_start" (the program could not be run),
  // "exec_exit" (a non-zero status or a signal; detail has the status and the
  // output), "exec_timeout". Kind::cancelled when `stop` ended the run.
  DeliveryOutcome deliver(const RoutePlan& plan, std::stop_token stop) override;

 private:
  GatewaySpec spec_;
  Duration kill_grace_;
  std::string path_env_;  // "PATH=..." handed to the program
};

}  // namespace linewatch

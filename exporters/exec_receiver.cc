#include "exporters/exec_receiver.h"

#include <signal.h>
#include <string.h>

#include <cstdlib>

#include "exporters/plan_codec.h"
#include "exporters/program_run.h"

namespace linewatch {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// " (output: ...)" or "" when the program printed nothing.
std::string output_text(const ProgramRun& run) {
  std::string text = excerpt(run.output, kProgramOutputLimit);
  if (text.empty()) return "";
  if (run.output_cut > 0) text += " [" + std::to_string(run.output_cut) + " more bytes]";
  return "; output: " + text;
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

}  // namespace

ExecReceiver::ExecReceiver(GatewaySpec spec, Duration kill_grace)
    : spec_(std::move(spec)), kill_grace_(kill_grace) {
  const char* path = std::getenv("PATH");
  path_env_ = std::string("PATH=") + (path && *path ? path : kDefaultPath);
}

DeliveryOutcome ExecReceiver::deliver(const RoutePlan& plan, std::stop_token stop) {
  const std::vector<std::string> env = {path_env_,
                                        "LINEWATCH_PLAN_VERSION=" + std::to_string(plan.version),
                                        "LINEWATCH_GATEWAY=" + spec_.id};
  const ProgramRun run =
      run_program(spec_.exec, env, encode_plan(plan), spec_.timeout, kill_grace_, stop);
  DeliveryOutcome o;
  o.took = run.took;
  o.kind = DeliveryOutcome::Kind::transient;
  switch (run.end) {
    case ProgramRun::End::exited:
      if (run.code == 0) {
        o.kind = DeliveryOutcome::Kind::applied;
        o.reason = "applied";
        o.applied_version = plan.version;
        o.detail = spec_.exec + " exited 0 in " + duration_text(run.took);
        return o;
      }
      o.reason = "exec_exit";
      o.detail = spec_.exec + " exited " + std::to_string(run.code) +
                 (run.error.empty() ? "" : " (" + run.error + ")") + output_text(run);
      return o;
    case ProgramRun::End::signalled:
      o.reason = "exec_exit";
      o.detail = spec_.exec + " was killed by " + signal_name(run.code) + output_text(run);
      return o;
    case ProgramRun::End::timed_out:
      o.reason = "exec_timeout";
      o.detail = spec_.exec + " did not exit within " + duration_text(spec_.timeout) +
                 " and was stopped" + output_text(run);
      return o;
    case ProgramRun::End::cancelled:
      o.kind = DeliveryOutcome::Kind::cancelled;
      o.reason = "cancelled";
      o.detail = spec_.exec + " was stopped because the agent is stopping";
      return o;
    case ProgramRun::End::not_started:
      break;
  }
  o.reason = "exec_start";
  o.detail = run.error;
  return o;
}

}  // namespace linewatch

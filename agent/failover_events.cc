#include "agent/failover_events.h"

#include <set>

#include "agent/log.h"

namespace linewatch {
namespace {

bool is_warning(const std::string& kind) {
  static const std::set<std::string> kWarn = {
      "line_down",    "line_degraded", "destination_down", "plan_panic",    "tilt",
      "apply_failed", "push_failed",   "notify_failed",    "notify_parked",
  };
  return kWarn.count(kind) > 0;
}

}  // namespace

std::string event_log_line(const Event& e) {
  std::string out = "event=" + e.kind;
  if (!e.line.empty()) out += " line=" + e.line;
  if (!e.target.empty()) out += " target=" + e.target;
  if (!e.reason.empty()) out += " reason=" + e.reason;
  out += " detail=" + log_quote(e.detail);
  return out;
}

void LogEventSink::emit(const Event& event) {
  log(is_warning(event.kind) ? LogLevel::warn : LogLevel::info, event_log_line(event));
}

}  // namespace linewatch

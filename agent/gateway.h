// Gateway: the receiving side of route push (docs/gateway.md). It takes
// signed route plans from agents, checks them with PlanVerifier
// (exporters/plan_signature.h), puts accepted ones into the kernel through a
// RouteTable (RouteApplier in production), remembers the applied version in
// GatewayState, and answers:
//
//   POST /v1/routes  200 {"applied_version":N}       the plan is in force (or already was)
//                    401 {"error":CODE,"detail":...}  signature or timestamp refused
//                    400 {"error":"malformed_plan",...}
//                    409 {"error":"stale_version","detail":...,"applied_version":N}
//                    502 {"error":"apply_failed","detail":...,"applied_version":N,"routes":[...]}
//                    500 {"error":"persist_failed",...}  in force, but not saved
//   GET  /v1/routes  {"applied_version":N,"plan":PLAN or null}
//   GET  /v1/events  {"events":[...]}  the last `max_events` decisions, oldest first
//   GET  /-/healthy  OK
//
// Every push, accepted or not, is one logfmt line with its reason code (the
// verifier's codes, or applied, in_force, apply_failed, persist_failed) and an
// Event in memory. The secret never appears in an answer, a line or an event.
// Refused pushes are the exception once they come in a flood: anyone who can
// reach the port can send them, and one line and event each would fill the
// log and push the real decisions out of GET /v1/events. At most
// `refusals_per_window` of them are recorded one by one per
// `refusal_window`; the rest are still answered, counted, and recorded as one
// "plan_rejected" event with reason "suppressed" and their count when the
// window ends (by the next refusal or tick()).
//
// The version rises only once the whole plan is in force: a plan the kernel
// partly refused is answered 502 and may be pushed again with its version.
//
// Thread-safety: none. handle() and tick() must run on one thread (the
// HTTP server's: its handler and its timer), which also owns the RouteTable.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "agent/gateway_state.h"
#include "agent/http_message.h"
#include "agent/log.h"
#include "core/event.h"
#include "core/time.h"
#include "exporters/plan_signature.h"
#include "exporters/route_apply.h"

namespace linewatch {

// Where accepted plans go. Not thread-safe; one owner thread.
class RouteTable {
 public:
  virtual ~RouteTable() = default;
  // As RouteApplier::apply and RouteApplier::reconcile.
  virtual Result<RouteReport> apply(const RoutePlan& plan) = 0;
  virtual Result<RouteReport> reconcile() = 0;
};

// The kernel's table, through RouteApplier. Touches nothing until the first
// call, and must then be called on one thread only.
class KernelRouteTable final : public RouteTable {
 public:
  KernelRouteTable(RouteApplyOptions options, const Clock& clock) : applier_(options, clock) {}
  Result<RouteReport> apply(const RoutePlan& plan) override { return applier_.apply(plan); }
  Result<RouteReport> reconcile() override { return applier_.reconcile(); }

 private:
  RouteApplier applier_;
};

struct GatewayOptions {
  std::string id;      // gateway.id, in every log line
  std::string secret;  // the HMAC key; only the verifier reads it
  // Freshness window for X-Linewatch-Timestamp. Default 30s.
  Duration max_skew = std::chrono::seconds(30);
  // Interval between tick()s after the first. Default 5s.
  Duration reconcile = std::chrono::seconds(5);
  // Events kept for GET /v1/events. Default 100.
  std::size_t max_events = 100;
  // Refused pushes recorded one by one per window; the rest are summed up.
  // Defaults: 10 per 10s.
  std::size_t refusals_per_window = 10;
  Duration refusal_window = std::chrono::seconds(10);
};

using LogFn = std::function<void(LogLevel, std::string_view)>;

class Gateway {
 public:
  // `applied` is what `state` loaded: its version is the floor for pushes.
  // `clock`, `table` and `state` must outlive the gateway. `log_line` gets
  // each line (default: agent/log.h's log()).
  Gateway(GatewayOptions options, const Clock& clock, RouteTable& table, GatewayState& state,
          AppliedState applied, LogFn log_line = log);

  // Answers one request (see the top comment). Never throws.
  HttpResponse handle(const HttpRequest& request);

  // The timer's job. The first call puts the saved plan back in force (a
  // reboot empties the kernel's tables; an unchanged table costs no write);
  // later calls repair drift with reconcile(). Each repair and failure is
  // logged. Returns the delay until the next call: options.reconcile.
  Duration tick();

  std::uint64_t applied_version() const { return verifier_.last_applied(); }
  const std::deque<Event>& events() const { return events_; }

 private:
  HttpResponse push(const HttpRequest& request);
  HttpResponse refuse(const HttpRequest& request, const PushVerdict& verdict);
  HttpResponse apply(const HttpRequest& request, RoutePlan plan);
  HttpResponse routes_json() const;
  HttpResponse events_json() const;
  void restore_saved_plan();
  void reconcile();
  // Whether this refusal is recorded on its own (see the top comment); first
  // records the sum of a window that has ended.
  bool admit_refusal();
  void flush_suppressed(MonoTime now);
  // Logs one line "gateway=ID event=KIND reason=REASON FIELDS detail=..."
  // and keeps the Event.
  void record(LogLevel level, std::string kind, std::string reason, const std::string& fields,
              std::string detail);

  GatewayOptions options_;
  const Clock& clock_;
  RouteTable& table_;
  GatewayState& state_;
  LogFn log_;
  PlanVerifier verifier_;
  std::optional<RoutePlan> plan_;    // the plan in force, version applied_version()
  std::deque<Event> events_;         // at most options_.max_events, oldest first
  MonoTime refusal_window_start_{};  // start of the current refusal window
  std::size_t refusals_in_window_ = 0;
  std::size_t refusals_suppressed_ = 0;  // refused in this window, not recorded
  bool started_ = false;                 // tick() ran once
  std::string last_reconcile_error_;     // logged once until it changes
};

}  // namespace linewatch

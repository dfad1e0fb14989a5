#include "agent/gateway.h"

#include <Poco/JSONString.h>

#include <cstdio>
#include <exception>
#include <utility>

#include "agent/json.h"
#include "core/units.h"
#include "exporters/plan_codec.h"

namespace linewatch {
namespace {

constexpr std::string_view kRoutesPath = "/v1/routes";

std::string quote(std::string_view s) { return Poco::toJSON(std::string(s), true); }

HttpResponse json(int status, std::string body) {
  return HttpResponse{status, "application/json", std::move(body) + "\n", {}};
}

// {"error":CODE,"detail":TEXT then `more` fields}
std::string error_body(std::string_view code, std::string_view detail,
                       const std::string& more = "") {
  return R"({"error":)" + quote(code) + R"(,"detail":)" + quote(detail) + more + "}";
}

// The status a refused push is answered with: the sender's signature or clock
// is at fault (401), its plan is (400), or it is behind (409: re-sync).
int status_of(PushRejection r) {
  switch (r) {
    case PushRejection::malformed_plan:
      return 400;
    case PushRejection::stale_version:
      return 409;
    default:
      return 401;
  }
}

HttpResponse method_not_allowed(const char* allow) {
  HttpResponse r = error_response(405);
  r.headers.emplace_back("Allow", allow);
  return r;
}

// "198.19.7.0/24 added, 198.19.8.0/24 unchanged" for the log line.
std::string changes_of(const RouteReport& report) {
  std::string out;
  for (const RouteOutcome& o : report.routes)
    out += (out.empty() ? "" : ", ") + o.prefix + " " + std::string(to_string(o.change));
  return out;
}

// The refused routes' errors, "; "-joined, for details.
std::string errors_of(const RouteReport& report) {
  std::string out;
  for (const RouteOutcome& o : report.routes)
    if (!o.error.empty()) out += (out.empty() ? "" : "; ") + o.error;
  return out;
}

bool changed_any(const RouteReport& report) {
  for (const RouteOutcome& o : report.routes)
    if (o.change != RouteChange::unchanged) return true;
  return false;
}

}  // namespace

Gateway::Gateway(GatewayOptions options, const Clock& clock, RouteTable& table, GatewayState& state,
                 AppliedState applied, LogFn log_line)
    : options_(std::move(options)),
      clock_(clock),
      table_(table),
      state_(state),
      log_(std::move(log_line)),
      // The verifier keeps the only copy of the key.
      verifier_(clock, std::exchange(options_.secret, {}), applied.version, options_.max_skew),
      plan_(std::move(applied.plan)) {}

HttpResponse Gateway::handle(const HttpRequest& request) {
  try {
    const bool read = request.method == "GET" || request.method == "HEAD";
    if (request.path == kRoutesPath) {
      if (request.method == "POST") return push(request);
      return read ? routes_json() : method_not_allowed("GET, HEAD, POST");
    }
    if (request.path == "/v1/events") return read ? events_json() : method_not_allowed("GET, HEAD");
    if (request.path == "/-/healthy")
      return read ? HttpResponse{200, "text/plain", "OK\n", {}} : method_not_allowed("GET, HEAD");
    return error_response(404);
  } catch (const std::exception& e) {
    record(LogLevel::error, "internal_error", "internal_error", "peer=" + request.peer, e.what());
    return error_response(500);
  }
}

HttpResponse Gateway::push(const HttpRequest& request) {
  PushVerdict verdict = verifier_.verify(request.header(kSignatureHeader),
                                         request.header(kTimestampHeader), request.body);
  if (!verdict.ok()) return refuse(request, verdict);
  return apply(request, std::move(*verdict.plan));
}

HttpResponse Gateway::refuse(const HttpRequest& request, const PushVerdict& verdict) {
  const int status = status_of(verdict.rejection);
  const std::string_view code = to_string(verdict.rejection);
  if (admit_refusal())
    record(LogLevel::warn, "plan_rejected", std::string(code),
           "status=" + std::to_string(status) + " peer=" + request.peer, verdict.detail);
  std::string more;
  if (verdict.rejection == PushRejection::stale_version)
    more = R"(,"applied_version":)" + std::to_string(applied_version());
  HttpResponse r = json(status, error_body(code, verdict.detail, more));
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Linewatch-HMAC");
  return r;
}

HttpResponse Gateway::apply(const HttpRequest& request, RoutePlan plan) {
  const std::string who = " peer=" + request.peer + " agent=" + log_quote(plan.agent) +
                          " version=" + std::to_string(plan.version);
  auto report = table_.apply(plan);
  if (!report || !report->ok()) {
    const std::string detail = report ? errors_of(*report) : report.error().message;
    record(LogLevel::error, "apply_failed", "apply_failed", "status=502" + who, detail);
    std::string routes = R"(,"applied_version":)" + std::to_string(applied_version());
    if (report) {
      routes += R"(,"routes":[)";
      for (std::size_t i = 0; i < report->routes.size(); ++i) {
        const RouteOutcome& o = report->routes[i];
        routes += std::string(i ? "," : "") + R"({"prefix":)" + quote(o.prefix) + R"(,"change":)" +
                  quote(to_string(o.change)) + R"(,"error":)" + quote(o.error) + "}";
      }
      routes += "]";
    }
    return json(502, error_body("apply_failed", detail, routes));
  }
  // In force from here on: a replay must be refused even if saving fails.
  verifier_.applied(plan.version);
  char took_ms[32];
  std::snprintf(took_ms, sizeof took_ms, "%.3f", to_ms(report->took));
  const std::string took = std::string(" took_ms=") + took_ms;
  const std::string what = "version " + std::to_string(plan.version) + " from agent " + plan.agent +
                           ": " + changes_of(*report);
  if (Status saved = state_.save(plan); !saved.ok()) {
    plan_ = std::move(plan);
    record(LogLevel::error, "persist_failed", "persist_failed", "status=500" + who + took,
           saved.error().message);
    return json(500, error_body("persist_failed", saved.error().message,
                                R"(,"applied_version":)" + std::to_string(applied_version())));
  }
  const char* reason = changed_any(*report) ? "applied" : "in_force";
  record(LogLevel::info, "plan_applied", reason, "status=200" + who + took, what);
  plan_ = std::move(plan);
  return json(200, R"({"applied_version":)" + std::to_string(applied_version()) + "}");
}

HttpResponse Gateway::routes_json() const {
  return json(200, R"({"applied_version":)" + std::to_string(applied_version()) + R"(,"plan":)" +
                       (plan_ ? encode_plan(*plan_) : "null") + "}");
}

HttpResponse Gateway::events_json() const {
  std::string body = R"({"events":[)";
  for (std::size_t i = 0; i < events_.size(); ++i) {
    const Event& e = events_[i];
    body += std::string(i ? "," : "") + R"({"time":)" + quote(format_time(e.time)) + R"(,"kind":)" +
            quote(e.kind) + R"(,"reason":)" + quote(e.reason) + R"(,"detail":)" + quote(e.detail) +
            "}";
  }
  return json(200, body + "]}");
}

Duration Gateway::tick() {
  try {
    flush_suppressed(clock_.now());
    if (!started_) {
      started_ = true;
      if (plan_) restore_saved_plan();
    } else {
      reconcile();
    }
  } catch (const std::exception& e) {
    record(LogLevel::error, "internal_error", "internal_error", "", e.what());
  }
  return options_.reconcile;
}

bool Gateway::admit_refusal() {
  const MonoTime now = clock_.now();
  flush_suppressed(now);
  if (refusals_in_window_ == 0) refusal_window_start_ = now;
  if (refusals_in_window_ < options_.refusals_per_window) {
    ++refusals_in_window_;
    return true;
  }
  ++refusals_suppressed_;
  return false;
}

void Gateway::flush_suppressed(MonoTime now) {
  if (refusals_in_window_ == 0 || now - refusal_window_start_ < options_.refusal_window) return;
  const std::size_t n = std::exchange(refusals_suppressed_, 0);
  refusals_in_window_ = 0;
  if (n == 0) return;
  record(LogLevel::warn, "plan_rejected", "suppressed", "count=" + std::to_string(n),
         std::to_string(n) + " more refused pushes in " + format_duration(options_.refusal_window) +
             " not recorded one by one");
}

void Gateway::restore_saved_plan() {
  const std::string who =
      " agent=" + log_quote(plan_->agent) + " version=" + std::to_string(plan_->version);
  auto report = table_.apply(*plan_);
  if (!report || !report->ok()) {
    record(LogLevel::error, "restore_failed", "apply_failed", who.substr(1),
           report ? errors_of(*report) : report.error().message);
    return;
  }
  record(LogLevel::info, "plan_restored", changed_any(*report) ? "applied" : "in_force",
         who.substr(1), "saved version put back at start: " + changes_of(*report));
}

void Gateway::reconcile() {
  auto report = table_.reconcile();
  if (!report) {
    if (report.error().message != last_reconcile_error_) {
      last_reconcile_error_ = report.error().message;
      record(LogLevel::warn, "reconcile_failed", "reconcile_failed", "", last_reconcile_error_);
    }
    return;
  }
  last_reconcile_error_.clear();
  for (const RouteOutcome& o : report->routes) {
    const bool fixed = o.change == RouteChange::restored;
    record(
        fixed ? LogLevel::warn : LogLevel::error, fixed ? "route_restored" : "restore_failed",
        "drift", "prefix=" + o.prefix + " found=" + log_quote(o.found),
        fixed ? "route " + o.prefix + " had changed behind linewatch's back; put back" : o.error);
  }
}

void Gateway::record(LogLevel level, std::string kind, std::string reason,
                     const std::string& fields, std::string detail) {
  std::string line = "gateway=" + options_.id + " event=" + kind + " reason=" + reason;
  if (!fields.empty()) line += " " + fields;
  if (!detail.empty()) line += " detail=" + log_quote(detail);
  log_(level, line);
  events_.push_back(
      Event{clock_.wall_now(), std::move(kind), "", "", std::move(reason), std::move(detail)});
  while (events_.size() > options_.max_events) events_.pop_front();
}

}  // namespace linewatch

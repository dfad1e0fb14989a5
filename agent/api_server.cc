#include "agent/api_server.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <charconv>
#include <sstream>

#include "agent/alerting_api.h"
#include "agent/failover_json.h"
#include "agent/json.h"
#include "agent/page_assets.h"

namespace linewatch {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr object() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

std::string stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

HttpResponse json_error(int status, const std::string& message, const std::string& parameter = "") {
  Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("error", message);
  if (!parameter.empty()) o.set("parameter", parameter);
  return {status, "application/json", stringify(o)};
}

// Digits at text[pos, pos+n) as a number; false when any is not a digit.
bool digits(std::string_view text, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

HttpResponse events_answer(const ApiSources& sources, const HttpRequest& req) {
  auto parsed = parse_event_query(req.query);
  if (auto* bad = std::get_if<BadParameter>(&parsed))
    return json_error(400, bad->message, bad->parameter);
  const EventQuery& q = std::get<EventQuery>(parsed);
  auto events = sources.events(q);
  if (!events) return json_error(503, "storage: " + events.error().message);
  return {200, "application/json", events_document(*events, q.limit)};
}

// The query takes no parameter: refuse one, so a filter is never ignored.
HttpResponse alerts_answer(const ApiSources& sources, const HttpRequest& req) {
  if (!req.query.empty()) {
    const std::string name = req.query.substr(0, req.query.find_first_of("=&"));
    return json_error(400, "unknown parameter \"" + name + "\" (none are taken)", name);
  }
  return {200, "application/json", sources.alerts()};
}

// A document that takes no parameter: one is refused, as for /api/v1/alerts.
HttpResponse parameterless_answer(const std::function<std::string()>& document,
                                  const HttpRequest& req) {
  if (!req.query.empty()) {
    const std::string name = req.query.substr(0, req.query.find_first_of("=&"));
    return json_error(400, "unknown parameter \"" + name + "\" (none are taken)", name);
  }
  return {200, "application/json", document()};
}

HttpResponse alert_history_answer(const ApiSources& sources, const HttpRequest& req) {
  auto parsed = parse_event_query(req.query);
  if (auto* bad = std::get_if<BadParameter>(&parsed))
    return json_error(400, bad->message, bad->parameter);
  const EventQuery& q = std::get<EventQuery>(parsed);
  if (q.kind && !is_alert_event_kind(*q.kind))
    return json_error(400,
                      "kind: not an alert event (alert_pending, alert_firing, alert_resolved, "
                      "...), got \"" +
                          *q.kind + "\"",
                      "kind");
  auto events = alert_history(q, sources.events);
  if (!events) return json_error(503, "storage: " + events.error().message);
  return {200, "application/json", events_document(*events, q.limit)};
}

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool same_words(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Poco::icompare(std::string(a), std::string(b)) == 0;
}

// Whether one coding's parameters (after its ';') give it a q-value of zero.
bool zero_weight(std::string_view params) {
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    std::string_view p = trim_blanks(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
    p.remove_prefix(2);
    if (p.empty() || p[0] != '0') return false;
    p.remove_prefix(1);
    if (!p.empty() && p[0] == '.') p.remove_prefix(1);
    return p.find_first_not_of('0') == std::string_view::npos;
  }
  return false;
}

}  // namespace

bool accepts_gzip(std::optional<std::string_view> accept_encoding) {
  if (!accept_encoding) return false;
  std::string_view rest = *accept_encoding;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view coding = trim_blanks(item.substr(0, semi));
    if (!same_words(coding, "gzip") && !same_words(coding, "x-gzip") && coding != "*") continue;
    if (!zero_weight(semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1)))
      return true;
  }
  return false;
}

bool same_token(std::string_view given, std::string_view expected) {
  unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>((i < given.size() ? given[i] : 0) ^ expected[i]);
  return diff == 0;
}

HttpResponse reload_answer(const ApiSources& sources, const HttpRequest& req) {
  if (req.method != "POST") {
    HttpResponse r = error_response(405);
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  const std::string token = sources.reload_token ? sources.reload_token() : "";
  if (token.empty()) return json_error(403, "reload over HTTP is off: set agent.api_token_file");
  const auto auth = req.header("authorization");
  const std::string_view scheme = "Bearer ";
  const bool bearer =
      auth && auth->size() > scheme.size() &&
      Poco::icompare(std::string(auth->substr(0, scheme.size())), std::string(scheme)) == 0;
  if (!bearer || !same_token(auth->substr(scheme.size()), token)) {
    HttpResponse r =
        json_error(401, "reload: missing or wrong bearer token (agent.api_token_file)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  const std::optional<ReloadOutcome> outcome = sources.reload();
  if (!outcome)
    return json_error(503,
                      "reload: still running behind an earlier one; its outcome will show as a "
                      "config_reloaded or config_reload_failed event");
  Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  if (!outcome->ok) {
    o.set("error", "config not reloaded");
    Array::Ptr errors = new Array;
    for (const std::string& e : outcome->errors) errors->add(e);
    o.set("errors", errors);
    return {400, "application/json", stringify(o)};
  }
  o.set("status", "reloaded");
  o.set("config", outcome->config);
  o.set("generation", outcome->generation);
  return {200, "application/json", stringify(o)};
}

std::optional<WallTime> parse_rfc3339(std::string_view t) {
  int y, mo, d, h, mi, s;
  if (!digits(t, 0, 4, y) || t.size() < 19 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || (t[10] != 'T' && t[10] != 't') || !digits(t, 11, 2, h) ||
      t[13] != ':' || !digits(t, 14, 2, mi) || t[16] != ':' || !digits(t, 17, 2, s))
    return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  std::size_t pos = 19;
  std::chrono::microseconds frac{0};
  if (pos < t.size() && t[pos] == '.') {
    std::size_t n = 0;
    for (++pos; pos < t.size() && t[pos] >= '0' && t[pos] <= '9'; ++pos, ++n)
      if (n < 6) frac = frac * 10 + std::chrono::microseconds(t[pos] - '0');
    if (n == 0) return std::nullopt;
    for (; n < 6; ++n) frac *= 10;
  }
  std::chrono::minutes offset{0};
  if (pos < t.size() && (t[pos] == 'Z' || t[pos] == 'z')) {
    ++pos;
  } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
    int oh, om;
    if (!digits(t, pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' ||
        !digits(t, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset = std::chrono::hours(oh) + std::chrono::minutes(om);
    if (t[pos] == '-') offset = -offset;
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != t.size()) return std::nullopt;
  const auto local = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                     std::chrono::seconds(s) + frac;
  return std::chrono::time_point_cast<WallTime::duration>(local - offset);
}

std::variant<EventQuery, BadParameter> parse_event_query(std::string_view query) {
  EventQuery q;
  q.limit = kDefaultEventLimit;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    std::string value;
    try {
      if (eq != std::string_view::npos) Poco::URI::decode(std::string(pair.substr(eq + 1)), value);
    } catch (const Poco::Exception&) {
      return BadParameter{name, name + ": bad percent-encoding"};
    }
    if (name == "since") {
      auto t = parse_rfc3339(value);
      if (!t)
        return BadParameter{
            name, "since: not an RFC 3339 time (2026-11-27T07:00:00Z), got \"" + value + "\""};
      q.since = *t;
    } else if (name == "line") {
      q.line = value.empty() ? std::nullopt : std::optional(value);
    } else if (name == "kind") {
      q.kind = value.empty() ? std::nullopt : std::optional(value);
    } else if (name == "limit") {
      std::size_t n = 0;
      const char* last = value.data() + value.size();
      auto [ptr, ec] = std::from_chars(value.data(), last, n);
      if (value.empty() || ec != std::errc() || ptr != last || n < 1 || n > kMaxEventLimit)
        return BadParameter{name, "limit: must be an integer 1.." + std::to_string(kMaxEventLimit) +
                                      ", got \"" + value + "\""};
      q.limit = n;
    } else {
      return BadParameter{name, "unknown parameter \"" + name + "\" (since, line, kind, limit)"};
    }
  }
  return q;
}

std::string events_document(const std::vector<Event>& events, std::size_t limit) {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("limit", limit);
  Array::Ptr list = new Array;
  for (const Event& e : events) {
    Object::Ptr o = object();
    o->set("time", format_time(e.time));
    o->set("kind", e.kind);
    o->set("line", e.line);
    o->set("target", e.target);
    o->set("reason", e.reason);
    o->set("detail", e.detail);
    list->add(o);
  }
  doc.set("events", list);
  return stringify(doc);
}

std::string routes_document(const RoutesView& v) {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("agent", v.agent);
  doc.set("now", format_time(v.now));
  doc.set("failover", v.failover.has_value());
  if (v.failover) {
    Object::Ptr f = failover_to_json(*v.failover);
    doc.set("plan", f->getObject("plan"));
    doc.set("lines", f->getArray("lines"));
  } else {
    doc.set("plan", Poco::Dynamic::Var());
    doc.set("lines", Array::Ptr(new Array));
  }
  Array::Ptr gateways = new Array;
  for (const GatewayStatus& g : v.gateways) {
    Object::Ptr o = object();
    o->set("id", g.id);
    o->set("kind", g.kind);
    o->set("state", g.failing_for > 0 ? "failing"
                    : g.pending       ? "pending"
                    : g.delivered     ? "ok"
                                      : "-");
    o->set("version", g.delivered ? Poco::Dynamic::Var(*g.delivered) : Poco::Dynamic::Var());
    o->set("pending", g.pending ? Poco::Dynamic::Var(*g.pending) : Poco::Dynamic::Var());
    o->set("last_attempt", g.last_attempt ? Poco::Dynamic::Var(format_time(*g.last_attempt))
                                          : Poco::Dynamic::Var());
    o->set("last_reason", g.last_reason);
    o->set("last_error", g.last_error);
    o->set("attempts", g.attempts);
    o->set("failures", g.failures);
    gateways->add(o);
  }
  doc.set("gateways", gateways);
  if (v.apply_table && v.apply) {
    Object::Ptr a = object();
    a->set("table", *v.apply_table);
    a->set("applied_version", v.apply->applied_version);
    a->set("applies", v.apply->applies);
    a->set("failures", v.apply->failures);
    a->set("reconciles", v.apply->reconciles);
    a->set("restored", v.apply->restored);
    a->set("skipped", v.apply->skipped);
    doc.set("apply", a);
  } else {
    doc.set("apply", Poco::Dynamic::Var());
  }
  return stringify(doc);
}

Result<std::unique_ptr<ApiServer>> ApiServer::start(const std::string& listen, ApiSources sources,
                                                    HttpServerOptions options) {
  // POST reaches the handler only for /-/reload; elsewhere it is refused as
  // the server refuses any other method.
  if (sources.reload) {
    options.requests.allow_post = true;
    options.requests.max_body_bytes = 4096;  // the reload takes no body
  }
  auto route = [sources = std::move(sources)](const HttpRequest& req) -> HttpResponse {
    if (req.path == "/-/reload" && sources.reload) return reload_answer(sources, req);
    if (req.method == "POST") return error_response(405);
    if (req.path == "/api/v1/status" && sources.status)
      return {200, "application/json", sources.status()};
    if (req.path == "/api/v1/routes" && sources.routes)
      return {200, "application/json", sources.routes()};
    if (req.path == "/api/v1/events" && sources.events) return events_answer(sources, req);
    if (req.path == "/api/v1/alerts" && sources.alerts) return alerts_answer(sources, req);
    if (req.path == "/api/v1/alerts/history" && sources.events)
      return alert_history_answer(sources, req);
    if (req.path == "/api/v1/lines" && sources.lines)
      return parameterless_answer(sources.lines, req);
    if (req.path == "/api/v1/targets" && sources.targets)
      return parameterless_answer(sources.targets, req);
    if (req.path == "/api/v1/series" && sources.series) return sources.series(req.query);
    if (req.path == "/metrics" && sources.metrics) {
      constexpr const char* kType = "text/plain; version=0.0.4; charset=utf-8";
      if (!sources.metrics_gzip || !accepts_gzip(req.header("accept-encoding")))
        return {200, kType, sources.metrics()};
      return {200,
              kType,
              sources.metrics_gzip(),
              {{"Content-Encoding", "gzip"}, {"Vary", "Accept-Encoding"}}};
    }
    if (req.path == "/-/healthy") return {200, "text/plain", "OK\n"};
    if (auto page = page_response(req.path)) return *std::move(page);
    return error_response(404);
  };
  auto server = HttpServer::start(listen, options, std::move(route));
  if (!server) return Error{server.error().code, "agent.listen " + server.error().message};
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(*server)));
}

Result<std::unique_ptr<ApiServer>> ApiServer::start(const std::string& listen, StatusFn status,
                                                    HttpServerOptions options) {
  ApiSources sources;
  sources.status = std::move(status);
  return start(listen, std::move(sources), options);
}

}  // namespace linewatch

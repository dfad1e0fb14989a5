// The agent's HTTP API: a read-only JSON view for the CLI, scripts and people.
//
//   GET /api/v1/status   every series: latest round and window figures
//   GET /api/v1/routes   the route plan in force, its gateways and local apply
//   GET /api/v1/events   stored failover events, newest first (?since=&line=&kind=&limit=)
//   GET /api/v1/alerts   alerts pending or firing (agent/alerting_api.h)
//   GET /api/v1/alerts/history  stored alert_* events, newest first (?since=&line=&kind=&limit=)
//   GET /api/v1/lines    per line: state, health, role, targets answering, traffic (api_lines.h)
//   GET /api/v1/targets  per target: address (no secrets), kinds, lines (api_lines.h)
//   GET /api/v1/series   one line x target x kind per step (agent/api_series.h)
//   GET /metrics         Prometheus text exposition (agent/metrics_collector.h, docs/metrics.md)
//   GET /-/healthy       "OK" while the agent runs (for supervisors)
//   GET /                the built-in page, and its /page.js, /page.css (agent/page_assets.h)
//   POST /-/reload       re-read the config file (docs/api.md, "Reload"); the
//                        only path that takes POST, and the only one that
//                        needs a token: Authorization: Bearer <agent.api_token_file>
//
// Other paths answer 404 {"error":"not found"}; everything about the protocol
// and the limits that keep hostile clients from locking the operator out
// (head deadline, head size, connection caps with eviction) is HttpServer's,
// see http_server.h and docs/api.md.
//
// Handlers only read snapshots handed out by the ApiSources: the status
// board's and the failover's snapshots (each copied under its own lock, see
// Failover::snapshot()), the local apply's stats, and storage's read
// connection, which runs beside the writer (WAL) and never waits for it. No
// handler touches the scheduler or the decision state. An events read holds
// the API's one thread for the query (at most kMaxEventLimit rows).
// Listens where agent.listen says (loopback by default).
// Thread-safety: the server owns its one thread, which calls the sources;
// destruction stops and joins it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/failover_apply.h"
#include "agent/failover_snapshot.h"
#include "agent/http_server.h"
#include "agent/reloader.h"
#include "core/error.h"
#include "core/event.h"
#include "exporters/plan_pusher.h"
#include "storage/store.h"

namespace linewatch {

inline constexpr std::size_t kDefaultEventLimit = 100;
inline constexpr std::size_t kMaxEventLimit = 1000;

// Where the handlers read from. Each runs on the server's thread and must be
// quick; an empty one makes its path answer 404.
struct ApiSources {
  std::function<std::string()> status;  // the /api/v1/status document
  std::function<std::string()> routes;  // the /api/v1/routes document (routes_document())
  // Stored events matching the query, newest first; failure: a storage read error.
  std::function<Result<std::vector<Event>>(const EventQuery&)> events;
  // The /api/v1/alerts document (alerts_document()). /api/v1/alerts/history
  // reads `events`.
  std::function<std::string()> alerts;
  // The /metrics text (MetricsCollector::scrape()), served as the text
  // exposition format 0.0.4; `metrics_gzip` the same text gzip-compressed
  // (scrape_gzip()), served with Content-Encoding: gzip to a client that
  // accepts it (Prometheus always does). Empty: never compressed.
  std::function<std::string()> metrics;
  std::function<std::string()> metrics_gzip;
  // The /api/v1/lines and /api/v1/targets documents (agent/api_lines.h);
  // like /api/v1/alerts they take no query parameter.
  std::function<std::string()> lines;
  std::function<std::string()> targets;
  // The whole /api/v1/series answer to a query string (series_answer()).
  std::function<HttpResponse(std::string_view query)> series;
  // POST /-/reload. `reload_token`: the token in force (its file is re-read
  // at every reload); "" = reload over HTTP is off (403). `reload`: asks for
  // a reload and waits for its verdict, at most kReloadWait (the API's one
  // thread waits: reading and checking a config takes milliseconds, the
  // bound is for a reload queued behind one still applying); nullopt when
  // the bound passed. An empty `reload` makes the path answer 404.
  std::function<std::string()> reload_token;
  std::function<std::optional<ReloadOutcome>()> reload;
};

// How long POST /-/reload waits for the verdict before answering 503.
inline constexpr Duration kReloadWait = std::chrono::seconds(3);

// Whether an Accept-Encoding value accepts gzip: a "gzip" (or "x-gzip") or
// "*" coding, any case, whose q-value is not zero (RFC 9110 12.5.3).
// nullopt (no header): no.
bool accepts_gzip(std::optional<std::string_view> accept_encoding);

// True when `given` equals `expected`, in time that depends on `expected`'s
// length only (the token is never compared byte by byte with an early exit).
bool same_token(std::string_view given, std::string_view expected);

// The answer to POST /-/reload (API11.md): 403 without a token configured,
// 401 with WWW-Authenticate: Bearer for a missing or wrong one, 400 with the
// errors for a config refused, 503 when the verdict did not come within the
// wait, 200 {"status":"reloaded","config","generation"} otherwise.
HttpResponse reload_answer(const ApiSources& sources, const HttpRequest& request);

class ApiServer {
 public:
  using StatusFn = std::function<std::string()>;  // returns the status JSON; must be quick

  // Binds `listen` ("HOST:PORT", IPv4 or [IPv6]) and starts serving. Fails
  // with a message naming agent.listen when the address is busy or not local,
  // e.g. "agent.listen 127.0.0.1:9464: bind: Address already in use".
  // `options` are for tests; the agent runs with the defaults.
  static Result<std::unique_ptr<ApiServer>> start(const std::string& listen, ApiSources sources,
                                                  HttpServerOptions options = {});
  // Status and health only.
  static Result<std::unique_ptr<ApiServer>> start(const std::string& listen, StatusFn status,
                                                  HttpServerOptions options = {});

  std::uint16_t port() const { return server_->port(); }

 private:
  explicit ApiServer(std::unique_ptr<HttpServer> server) : server_(std::move(server)) {}
  std::unique_ptr<HttpServer> server_;
};

// A query parameter the API refuses: which one and why.
struct BadParameter {
  std::string parameter;  // "since", "limit", ... (the whole text for a malformed pair)
  std::string message;    // "limit: must be an integer 1..1000, got \"0\""
};

// The query string of /api/v1/events (after '?', percent-encoded; '+' is a
// plus, as in a time offset):
//   since  RFC 3339 time ("2026-11-27T07:00:00Z", fraction and offset optional); default: any
//   line   only events about this line; empty or absent: any
//   kind   only this kind ("plan_new"); empty or absent: any
//   limit  1..kMaxEventLimit, default kDefaultEventLimit
// Unknown parameters are refused, so a misspelt filter never returns everything.
std::variant<EventQuery, BadParameter> parse_event_query(std::string_view query);

// "2026-11-27T07:40:01.123Z" or with an offset ("...+08:00"); seconds
// required, any fraction digits (kept to the microsecond). nullopt otherwise.
std::optional<WallTime> parse_rfc3339(std::string_view text);

// The /api/v1/events document: {"limit":N,"events":[{time,kind,line,target,reason,detail}]}.
std::string events_document(const std::vector<Event>& events, std::size_t limit);

// What /api/v1/routes shows. `failover` nullopt: no routes are configured.
struct RoutesView {
  std::string agent;
  WallTime now{};
  std::optional<FailoverSnapshot> failover;
  std::optional<std::string> apply_table;  // apply.table when local apply is configured
  std::optional<LocalApplyStats> apply;    // its stats then
  std::vector<GatewayStatus> gateways;     // one per gateways[] entry, in config order
};

// {"agent","now","failover":bool,"plan":{...}|null,"lines":[...],"gateways":[...],"apply":{...}|null}
// (docs/api.md). A gateway's "state" is "failing" after a failed attempt,
// "pending" while a newer version waits, "ok" when the newest is in force.
std::string routes_document(const RoutesView& view);

}  // namespace linewatch

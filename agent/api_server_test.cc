// ApiServer's routes and its start-up error; the protocol and the limits are
// tested in http_server_test.cc.
#include "agent/api_server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

using namespace linewatch;

namespace {

struct Answer {
  int status = 0;
  std::string reason, body, content_type;
};

Answer get(std::uint16_t port, const std::string& method, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse res;
  std::istream& in = session.receiveResponse(res);
  Answer a{static_cast<int>(res.getStatus()), res.getReason(), "", res.getContentType()};
  Poco::StreamCopier::copyToString(in, a.body);
  return a;
}

}  // namespace

TEST_CASE("the API serves status and health and answers other paths and methods in JSON") {
  auto api = ApiServer::start("127.0.0.1:0", [] { return std::string(R"({"series":[]})"); });
  REQUIRE(api.ok());
  const std::uint16_t port = (*api)->port();
  const Answer status = get(port, "GET", "/api/v1/status");
  CHECK(status.status == 200);
  CHECK(status.content_type == "application/json");
  CHECK(status.body == R"({"series":[]})");
  const Answer healthy = get(port, "GET", "/-/healthy?verbose");
  CHECK(healthy.status == 200);
  CHECK(healthy.body == "OK\n");
  const Answer missing = get(port, "GET", "/api/v2/status");
  CHECK(missing.status == 404);
  CHECK(missing.body == R"({"error":"not found"})");
  const Answer post = get(port, "POST", "/api/v1/status");
  CHECK(post.status == 405);
  CHECK(post.reason == "Method Not Allowed");
  CHECK(post.body == R"({"error":"method not allowed"})");
}

TEST_CASE("the API names agent.listen when its address is busy") {
  auto first = ApiServer::start("127.0.0.1:0", [] { return std::string("{}"); });
  REQUIRE(first.ok());
  const std::string listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = ApiServer::start(listen, [] { return std::string("{}"); });
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message == "agent.listen " + listen + ": bind: Address already in use");
}

namespace {

Event sample_event(std::string kind, std::string line) {
  Event e;
  e.time = WallTime(std::chrono::milliseconds(1'800'000'000'250));
  e.kind = std::move(kind);
  e.line = std::move(line);
  e.reason = "silence";
  e.detail = "no reply for 1.00s";
  return e;
}

}  // namespace

TEST_CASE("the events query takes since, line, kind and limit with their defaults") {
  auto q = std::get<EventQuery>(parse_event_query(""));
  CHECK(q.since == WallTime{});
  CHECK_FALSE(q.line.has_value());
  CHECK_FALSE(q.kind.has_value());
  CHECK(q.limit == 100);
  q = std::get<EventQuery>(parse_event_query(
      "since=2027-01-15T08:00:00.5%2B08:00&line=cn2-gia-1&kind=plan_new&limit=1000"));
  CHECK(q.since == *parse_rfc3339("2027-01-15T00:00:00.500Z"));
  CHECK(q.line == std::optional<std::string>("cn2-gia-1"));
  CHECK(q.kind == std::optional<std::string>("plan_new"));
  CHECK(q.limit == 1000);
  q = std::get<EventQuery>(parse_event_query("line=&kind="));  // empty means any
  CHECK_FALSE(q.line.has_value());
  CHECK_FALSE(q.kind.has_value());
}

TEST_CASE("the events query refuses a bad parameter and names it") {
  struct Bad {
    const char* query;
    const char* parameter;
    const char* message;
  };
  const Bad cases[] = {
      {"limit=0", "limit", R"(limit: must be an integer 1..1000, got "0")"},
      {"limit=1001", "limit", R"(limit: must be an integer 1..1000, got "1001")"},
      {"limit=ten", "limit", R"(limit: must be an integer 1..1000, got "ten")"},
      {"limit=", "limit", R"(limit: must be an integer 1..1000, got "")"},
      {"since=yesterday", "since",
       R"(since: not an RFC 3339 time (2026-11-27T07:00:00Z), got "yesterday")"},
      {"since=2027-02-30T00:00:00Z", "since",
       R"(since: not an RFC 3339 time (2026-11-27T07:00:00Z), got "2027-02-30T00:00:00Z")"},
      {"since=%zz", "since", "since: bad percent-encoding"},
      {"lines=l1", "lines", R"(unknown parameter "lines" (since, line, kind, limit))"},
  };
  for (const Bad& b : cases) {
    CAPTURE(b.query);
    auto parsed = parse_event_query(b.query);
    REQUIRE(std::holds_alternative<BadParameter>(parsed));
    CHECK(std::get<BadParameter>(parsed).parameter == b.parameter);
    CHECK(std::get<BadParameter>(parsed).message == b.message);
  }
}

TEST_CASE("RFC 3339 times are read with a fraction and an offset and refused otherwise") {
  const WallTime base = WallTime(std::chrono::seconds(1'800'000'000));  // 2027-01-15T08:00:00Z
  CHECK(parse_rfc3339("2027-01-15T08:00:00Z") == base);
  CHECK(parse_rfc3339("2027-01-15t08:00:00z") == base);
  CHECK(parse_rfc3339("2027-01-15T08:00:00.123456Z") == base + std::chrono::microseconds(123456));
  CHECK(parse_rfc3339("2027-01-15T16:00:00+08:00") == base);
  CHECK(parse_rfc3339("2027-01-15T03:30:00-04:30") == base);
  for (const char* bad : {"2027-01-15T08:00:00", "2027-01-15 08:00:00Z", "2027-01-15T08:00Z",
                          "2027-01-15T08:00:00.Z", "2027-01-15T24:00:00Z", "2027-13-01T00:00:00Z",
                          "2027-01-15T08:00:00+0800", "2027-01-15T08:00:00Zjunk", ""}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rfc3339(bad).has_value());
  }
}

TEST_CASE("the API serves events and routes from its sources and answers 400 naming a parameter") {
  ApiSources sources;
  sources.status = [] { return std::string("{}"); };
  std::optional<EventQuery> asked;
  sources.events = [&asked](const EventQuery& q) -> Result<std::vector<Event>> {
    asked = q;
    return std::vector<Event>{sample_event("plan_new", ""), sample_event("line_down", "l1")};
  };
  RoutesView view;
  view.agent = "bj-gw-1";
  view.now = WallTime(std::chrono::seconds(1'800'000'000));
  sources.routes = [view] { return routes_document(view); };
  auto api = ApiServer::start("127.0.0.1:0", std::move(sources));
  REQUIRE(api.ok());
  const std::uint16_t port = (*api)->port();

  const Answer events = get(port, "GET", "/api/v1/events?kind=line_down&limit=5");
  CHECK(events.status == 200);
  REQUIRE(asked.has_value());
  CHECK(asked->kind == std::optional<std::string>("line_down"));
  CHECK(asked->limit == 5);
  CHECK(events.body ==
        R"({"limit":5,"events":[{"time":"2027-01-15T08:00:00.250Z","kind":"plan_new","line":"",)"
        R"("target":"","reason":"silence","detail":"no reply for 1.00s"},)"
        R"({"time":"2027-01-15T08:00:00.250Z","kind":"line_down","line":"l1","target":"",)"
        R"("reason":"silence","detail":"no reply for 1.00s"}]})");

  asked.reset();
  const Answer bad = get(port, "GET", "/api/v1/events?limit=5000");
  CHECK(bad.status == 400);
  CHECK(bad.body ==
        R"({"error":"limit: must be an integer 1..1000, got \"5000\"","parameter":"limit"})");
  CHECK_FALSE(asked.has_value());  // storage is not read for a refused query

  const Answer routes = get(port, "GET", "/api/v1/routes");
  CHECK(routes.status == 200);
  CHECK(routes.body ==
        R"({"agent":"bj-gw-1","now":"2027-01-15T08:00:00.000Z","failover":false,"plan":null,)"
        R"("lines":[],"gateways":[],"apply":null})");
}

TEST_CASE("the API answers 503 naming storage when stored events cannot be read") {
  ApiSources sources;
  sources.events = [](const EventQuery&) -> Result<std::vector<Event>> {
    return Error{ErrorCode::io, "/var/lib/linewatch/linewatch.db: select events: disk I/O error"};
  };
  auto api = ApiServer::start("127.0.0.1:0", std::move(sources));
  REQUIRE(api.ok());
  const Answer a = get((*api)->port(), "GET", "/api/v1/events");
  CHECK(a.status == 503);
  CHECK(a.body ==
        R"({"error":"storage: /var/lib/linewatch/linewatch.db: select events: disk I/O error"})");
  CHECK(get((*api)->port(), "GET", "/api/v1/routes").status == 404);  // no routes source
}

TEST_CASE("the routes document shows the plan, the lines and the local apply") {
  RoutesView view;
  view.agent = "bj-gw-1";
  view.now = WallTime(std::chrono::seconds(1'800'000'000));
  view.failover = FailoverSnapshot{};
  view.apply_table = "main";
  view.apply = LocalApplyStats{};
  view.failover->starting = false;
  view.failover->plan.version = 7;
  view.failover->plan.time = WallTime(std::chrono::seconds(1'799'999'990));
  view.failover->plan.routes = {{"198.19.255.0/24", {{"l1", "198.18.1.2", "eth1", 1}}}};
  FailoverLineView line;
  line.line = "l1";
  line.since = view.failover->plan.time;
  line.reason = "startup";
  view.failover->lines = {line};
  view.apply->applied_version = 7;
  view.apply->applies = 2;
  const std::string doc = routes_document(view);
  CHECK(doc.find(R"("failover":true,"plan":{"version":7,"time":"2027-01-15T07:59:50.000Z",)"
                 R"("panic":false,"starting":false,"routes":[{"prefix":"198.19.255.0/24",)"
                 R"("nexthops":[{"line":"l1","via":"198.18.1.2","dev":"eth1","weight":1}]}]},)"
                 R"("lines":[{"line":"l1","state":"up",)") != std::string::npos);
  CHECK(doc.find(R"("gateways":[],"apply":{"table":"main","applied_version":7,"applies":2,)"
                 R"("failures":0,"reconciles":0,"restored":0,"skipped":0}})") != std::string::npos);
}

TEST_CASE("the routes document shows each gateway's delivered and pending versions") {
  RoutesView view;
  view.agent = "bj-gw-1";
  view.now = WallTime(std::chrono::seconds(1'800'000'000));
  GatewayStatus ok;
  ok.id = "gw1";
  ok.kind = "url";
  ok.delivered = 7;
  ok.last_reason = "applied";
  ok.attempts = 3;
  GatewayStatus failing;
  failing.id = "hook";
  failing.kind = "exec";
  failing.delivered = 6;
  failing.pending = 7;
  failing.last_attempt = WallTime(std::chrono::seconds(1'799'999'999));
  failing.last_reason = "exec_exit";
  failing.last_error = "exit 1: no route";
  failing.attempts = 4;
  failing.failures = 2;
  failing.failing_for = 2;
  view.gateways = {ok, failing};
  const std::string doc = routes_document(view);
  CHECK(doc.find(
            R"("gateways":[{"id":"gw1","kind":"url","state":"ok","version":7,"pending":null,)"
            R"("last_attempt":null,"last_reason":"applied","last_error":"","attempts":3,)"
            R"("failures":0},{"id":"hook","kind":"exec","state":"failing","version":6,)"
            R"("pending":7,"last_attempt":"2027-01-15T07:59:59.000Z","last_reason":"exec_exit",)"
            R"("last_error":"exit 1: no route","attempts":4,"failures":2}])") != std::string::npos);
}

TEST_CASE("Accept-Encoding accepts gzip by name or star unless its weight is zero") {
  CHECK_FALSE(accepts_gzip(std::nullopt));
  CHECK(accepts_gzip("gzip"));
  CHECK(accepts_gzip("GZip"));
  CHECK(accepts_gzip("x-gzip"));
  CHECK(accepts_gzip("deflate, gzip;q=1.0"));
  CHECK(accepts_gzip(" br ,\tgzip ; q=0.5 "));
  CHECK(accepts_gzip("gzip;q=0.001"));
  CHECK(accepts_gzip("*"));
  CHECK_FALSE(accepts_gzip(""));
  CHECK_FALSE(accepts_gzip("identity"));
  CHECK_FALSE(accepts_gzip("deflate, br"));
  CHECK_FALSE(accepts_gzip("gzip;q=0"));
  CHECK_FALSE(accepts_gzip("gzip; q=0.000"));
  CHECK_FALSE(accepts_gzip("br, *;q=0"));
  CHECK_FALSE(accepts_gzip("gzipped"));
}

TEST_CASE("the API sends /metrics gzip-compressed only to a client that accepts it") {
  ApiSources sources;
  sources.metrics = [] { return std::string("plain text\n"); };
  sources.metrics_gzip = [] { return std::string("compressed"); };
  auto api = ApiServer::start("127.0.0.1:0", std::move(sources));
  REQUIRE(api.ok());
  auto fetch = [port = (*api)->port()](const std::string& accept) {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest req("GET", "/metrics", Poco::Net::HTTPMessage::HTTP_1_1);
    if (!accept.empty()) req.set("Accept-Encoding", accept);
    session.sendRequest(req);
    Poco::Net::HTTPResponse res;
    std::istream& in = session.receiveResponse(res);
    std::string body;
    Poco::StreamCopier::copyToString(in, body);
    return std::make_pair(body, res.get("Content-Encoding", ""));
  };
  CHECK(fetch("gzip") == std::make_pair(std::string("compressed"), std::string("gzip")));
  CHECK(fetch("") == std::make_pair(std::string("plain text\n"), std::string()));
  CHECK(fetch("gzip;q=0, identity") == std::make_pair(std::string("plain text\n"), std::string()));
}

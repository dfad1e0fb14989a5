// The alerts in the HTTP API: the document, the history merge, and the
// routes with their JSON errors.
#include "agent/alerting_api.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

#include "agent/api_server.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

Event alert_event(std::string kind, Duration after, std::string detail) {
  Event e;
  e.time = kT0 + std::chrono::duration_cast<WallTime::duration>(after);
  e.kind = std::move(kind);
  e.line = "l1";
  e.reason = "failures";
  e.detail = std::move(detail);
  return e;
}

// Stored events by kind, newest first, as the store answers a kind query.
std::map<std::string, std::vector<Event>> stored() {
  return {{"alert_pending", {alert_event("alert_pending", 0s, "a l1")}},
          {"alert_firing",
           {alert_event("alert_firing", 5s, "b l1"), alert_event("alert_firing", 2s, "a l1")}},
          {"alert_resolved", {alert_event("alert_resolved", 5s, "a l1")}}};
}

std::pair<int, std::string> get(std::uint16_t port, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse res;
  std::istream& in = session.receiveResponse(res);
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  return {static_cast<int>(res.getStatus()), body};
}

}  // namespace

TEST_CASE("alerts document: scope labels, figures in the metric's unit, null for line-down") {
  AlertsView view;
  ActiveAlert slow;
  slow.rule = "api-slow";
  slow.metric = AlertMetric::loss;
  slow.severity = "warning";
  slow.key = {"l1", "api", "http"};
  slow.status = AlertStatus::firing;
  slow.since_wall = kT0;
  slow.value = 0.025;
  slow.value_text = "2.5%";
  slow.threshold = 0.01;
  slow.threshold_text = "1%";
  slow.summary = "api-slow: l1 → api (http) loss 2.5% above 1%";
  ActiveAlert down;
  down.rule = "line-down";
  down.metric = AlertMetric::failures;
  down.severity = "critical";
  down.key = {"l2", "", ""};
  down.status = AlertStatus::pending;
  down.held = false;
  down.since_wall = kT0;
  down.summary = "line-down: line l2 is down";
  view.alerts = {slow, down};
  view.evaluated = kT0 + 1s;
  CHECK(
      alerts_document(view, "bj-gw-1", kT0 + 2s) ==
      R"({"agent":"bj-gw-1","now":"2027-01-15T08:00:02.000Z","evaluated":"2027-01-15T08:00:01.000Z",)"
      R"("alerts":[{"rule":"api-slow","state":"firing","held":false,)"
      R"("scope":{"line":"l1","target":"api","kind":"http"},"key":"l1:api:http",)"
      R"("since":"2027-01-15T08:00:00.000Z","value":{"text":"2.5%","number":2.5},)"
      R"("threshold":{"text":"1%","number":1},"severity":"warning",)"
      R"("summary":"api-slow: l1 → api (http) loss 2.5% above 1%"},)"
      R"({"rule":"line-down","state":"pending","held":false,"scope":{"line":"l2"},"key":"l2",)"
      R"("since":"2027-01-15T08:00:00.000Z","value":null,"threshold":null,)"
      R"("severity":"critical","summary":"line-down: line l2 is down"}]})");
  CHECK(alerts_document(AlertsView{}, "x", kT0).find(R"("evaluated":null,"alerts":[])") !=
        std::string::npos);
}

TEST_CASE("alert history: one read per alert kind, merged newest first and cut to the limit") {
  const auto events = stored();
  std::vector<std::string> asked;
  EventReader read = [&](const EventQuery& q) -> Result<std::vector<Event>> {
    asked.push_back(*q.kind);
    auto it = events.find(*q.kind);
    return it == events.end() ? std::vector<Event>{} : it->second;
  };
  EventQuery q;
  q.limit = 3;
  auto h = alert_history(q, read);
  REQUIRE(h.ok());
  CHECK(asked.size() == kAlertEventKinds.size());
  std::vector<std::string> got;
  for (const Event& e : *h) got.push_back(e.kind + " " + e.detail);
  // Same millisecond: resolved is decided after firing, so it comes first.
  CHECK(got ==
        std::vector<std::string>{"alert_resolved a l1", "alert_firing b l1", "alert_firing a l1"});

  asked.clear();
  q.kind = "alert_pending";
  h = alert_history(q, read);
  REQUIRE(h.ok());
  CHECK(asked == std::vector<std::string>{"alert_pending"});
  CHECK(h->size() == 1);

  EventReader broken = [](const EventQuery&) -> Result<std::vector<Event>> {
    return Error{ErrorCode::io, "linewatch.db: select events: disk I/O error"};
  };
  q.kind.reset();
  CHECK(alert_history(q, broken).error().message == "linewatch.db: select events: disk I/O error");
  CHECK(is_alert_event_kind("alert_held"));
  CHECK_FALSE(is_alert_event_kind("line_down"));
}

TEST_CASE("the API serves alerts and their history and refuses bad queries in JSON") {
  ApiSources sources;
  sources.alerts = [] { return std::string(R"({"alerts":[]})"); };
  const auto events = stored();
  sources.events = [&events](const EventQuery& q) -> Result<std::vector<Event>> {
    auto it = events.find(q.kind.value_or(""));
    return it == events.end() ? std::vector<Event>{} : it->second;
  };
  auto api = ApiServer::start("127.0.0.1:0", std::move(sources));
  REQUIRE(api.ok());
  const std::uint16_t port = (*api)->port();
  CHECK(get(port, "/api/v1/alerts") == std::pair<int, std::string>{200, R"({"alerts":[]})"});
  CHECK(get(port, "/api/v1/alerts?state=firing") ==
        std::pair<int, std::string>{
            400,
            R"js({"error":"unknown parameter \"state\" (none are taken)","parameter":"state"})js"});
  const auto history = get(port, "/api/v1/alerts/history?limit=2");
  CHECK(history.first == 200);
  CHECK(history.second.starts_with(R"({"limit":2,"events":[{"time":"2027-01-15T08:00:05.000Z",)"
                                   R"("kind":"alert_resolved")"));
  const auto bad_kind = get(port, "/api/v1/alerts/history?kind=line_down");
  CHECK(bad_kind.first == 400);
  CHECK(bad_kind.second.find(R"("parameter":"kind")") != std::string::npos);
  CHECK(get(port, "/api/v1/alerts/history?limit=0").first == 400);
}

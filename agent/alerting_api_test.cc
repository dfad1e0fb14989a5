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
      R"("severity":"critical","summary":"line-down: line l2 is down"}],"outbox":null})");
  CHECK(alerts_document(AlertsView{}, "x", kT0).find(R"("evaluated":null,"alerts":[])") !=
        std::string::npos);
}

TEST_CASE("outbox view: the senders in config order, their queues, then unconfigured queues") {
  ReceiverStatus ops;
  ops.id = "ops";
  ops.kind = NotifierKind::webhook;
  ops.failing = true;
  ops.delivered = 4;
  ops.last_attempt = kT0 + 3s;
  ops.last_reason = "http_5xx";
  ops.last_error = "127.0.0.1:9400 answered HTTP 503: busy";
  ReceiverStatus wx;
  wx.id = "wx";
  wx.kind = NotifierKind::wecom;
  OutboxReceiverSummary ops_q;
  ops_q.receiver = "ops";
  ops_q.pending = 3;
  ops_q.parked = 1;
  ops_q.oldest = kT0;
  ops_q.last_error = "an older error";
  OutboxReceiverSummary wx_q;
  wx_q.receiver = "wx";
  wx_q.parked = 2;
  // Stored before a restart: the sender has no error of its own for it yet.
  wx_q.last_error = "qyapi.weixin.qq.com:443 answered HTTP 200 errcode 93000";
  OutboxReceiverSummary gone;
  gone.receiver = "old";
  gone.pending = 5;

  const OutboxView v = outbox_view({ops, wx}, std::vector{gone, ops_q, wx_q});
  CHECK(v.error.empty());
  REQUIRE(v.receivers.size() == 3);
  CHECK(v.receivers[0].id == "ops");
  CHECK(v.receivers[0].pending == 3);
  CHECK(v.receivers[0].parked == 1);
  CHECK(v.receivers[0].last_error == "127.0.0.1:9400 answered HTTP 503: busy");
  CHECK(v.receivers[1].id == "wx");
  CHECK(v.receivers[1].last_error == "qyapi.weixin.qq.com:443 answered HTTP 200 errcode 93000");
  CHECK(v.receivers[2].id == "old");
  CHECK_FALSE(v.receivers[2].kind.has_value());
  CHECK(v.receivers[2].pending == 5);

  AlertsView empty;
  empty.evaluated = kT0;
  CHECK(alerts_document(empty, "a", kT0, outbox_view({ops}, std::vector{ops_q})) ==
        R"({"agent":"a","now":"2027-01-15T08:00:00.000Z","evaluated":"2027-01-15T08:00:00.000Z",)"
        R"("alerts":[],"outbox":{"error":null,"receivers":[{"id":"ops","kind":"webhook",)"
        R"("pending":3,"parked":1,"failing":true,"delivered":4,)"
        R"("oldest":"2027-01-15T08:00:00.000Z","last_attempt":"2027-01-15T08:00:03.000Z",)"
        R"("last_reason":"http_5xx","last_error":"127.0.0.1:9400 answered HTTP 503: busy"}]}})");

  // The outbox cannot be read: the senders' counters, and why.
  const OutboxView broken =
      outbox_view({ops}, Error{ErrorCode::io, "linewatch.db: read outbox: database is locked"});
  CHECK(broken.error == "linewatch.db: read outbox: database is locked");
  CHECK(broken.receivers.size() == 1);
  CHECK(broken.receivers[0].pending == 0);
}

TEST_CASE("outbox view: no URL path or query reaches the API") {
  CHECK(without_url_paths("connect https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET "
                          "failed") == "connect https://qyapi.weixin.qq.com failed");
  CHECK(without_url_paths("\"http://127.0.0.1:9400/hook?token=abc\", then http://h:1?x=1") ==
        "\"http://127.0.0.1:9400\", then http://h:1");
  CHECK(without_url_paths("127.0.0.1:9400 answered HTTP 503: busy") ==
        "127.0.0.1:9400 answered HTTP 503: busy");
  CHECK(without_url_paths("ends with https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN") ==
        "ends with https://open.feishu.cn");
  ReceiverStatus s;
  s.id = "fs";
  s.last_error = "bad https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN";
  CHECK(outbox_view({s}, std::vector<OutboxReceiverSummary>{}).receivers[0].last_error ==
        "bad https://open.feishu.cn");
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

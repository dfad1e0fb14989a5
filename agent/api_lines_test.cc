// The /api/v1/lines state rules (with and without routes) and /api/v1/targets'
// secret hygiene. The full documents are pinned by cli_golden_test.cc.
#include "agent/api_lines.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

#include "agent/api_server.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

LineSpec line_spec(const std::string& id) {
  LineSpec l;
  l.id = id;
  return l;
}

// A probe of `kind` at `where` (a host, or an URL for http and llm).
ProbeSpec probe(ProbeKind kind, const std::string& where) {
  ProbeSpec p;
  p.kind = kind;
  p.icmp.host = p.tcp->host = p.http->url = p.llm->base_url = where;
  return p;
}

FailoverLineView watched(const std::string& line, LineState state, double score) {
  FailoverLineView l;
  l.line = line;
  l.state = state;
  l.score = score;
  l.fresh = true;
  return l;
}

NextHop hop(const std::string& line) {
  NextHop h;
  h.line = line;
  return h;
}

Config two_lines_two_targets() {
  Config c;
  c.agent.id = "a1";
  c.lines = {line_spec("cn2"), line_spec("cmi")};
  c.targets = {TargetSpec{"dns", {probe(ProbeKind::icmp, "198.18.0.2")}},
               TargetSpec{"web", {probe(ProbeKind::tcp, "198.18.0.3")}}};
  return c;
}

SeriesSummary round(const std::string& line, const std::string& target, ProbeKind kind, bool ok,
                    int at_s) {
  SeriesSummary s;
  s.key = {line, target, kind};
  s.latest.line = line;
  s.latest.target = target;
  s.latest.kind = kind;
  s.latest.ok = ok;
  s.latest.time = WallTime(std::chrono::seconds(at_s));
  return s;
}

Poco::JSON::Object::Ptr row(const std::string& doc, const std::string& line) {
  auto parsed = Poco::JSON::Parser().parse(doc).extract<Poco::JSON::Object::Ptr>();
  auto lines = parsed->getArray("lines");
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto o = lines->getObject(static_cast<unsigned>(i));
    if (o->getValue<std::string>("line") == line) return o;
  }
  FAIL("no row for line " << line);
  return nullptr;
}

std::string state(const std::string& doc, const std::string& line) {
  return row(doc, line)->getValue<std::string>("state");
}

}  // namespace

TEST_CASE("without routes a line is unknown before any round, up while one target answers") {
  const Config c = two_lines_two_targets();
  LinesView v{&c, WallTime(1000s), {}, {}, std::nullopt};
  CHECK(state(lines_document(v), "cn2") == "unknown");
  v.series = {round("cn2", "dns", ProbeKind::icmp, false, 10),
              round("cn2", "web", ProbeKind::tcp, true, 10)};
  const std::string doc = lines_document(v);
  CHECK(state(doc, "cn2") == "up");
  CHECK(row(doc, "cn2")->getValue<int>("targets") == 2);
  CHECK(row(doc, "cn2")->getValue<int>("targets_ok") == 1);
  CHECK(row(doc, "cn2")->isNull("health"));
  CHECK(row(doc, "cn2")->isNull("role"));
  CHECK(row(doc, "cn2")->isNull("score"));
  CHECK(state(doc, "cmi") == "unknown");  // rounds on another line say nothing of it
}

TEST_CASE("without routes a line is down when every target's latest round failed") {
  const Config c = two_lines_two_targets();
  LinesView v{&c, WallTime(1000s), {}, {}, std::nullopt};
  v.series = {round("cn2", "dns", ProbeKind::icmp, false, 10),
              round("cn2", "web", ProbeKind::tcp, false, 10),
              round("cmi", "dns", ProbeKind::icmp, true, 10)};
  const std::string doc = lines_document(v);
  CHECK(state(doc, "cn2") == "down");
  CHECK(row(doc, "cn2")->getValue<int>("targets_ok") == 0);
  CHECK(state(doc, "cmi") == "up");
}

TEST_CASE("a target's newest round over its kinds decides whether it answers") {
  Config c = two_lines_two_targets();
  c.targets = {TargetSpec{"dns", {c.targets[0].probes[0], probe(ProbeKind::tcp, "198.18.0.2")}}};
  LinesView v{&c, WallTime(1000s), {}, {}, std::nullopt};
  v.series = {round("cn2", "dns", ProbeKind::icmp, true, 10),
              round("cn2", "dns", ProbeKind::tcp, false, 20)};
  CHECK(state(lines_document(v), "cn2") == "down");
  v.series[0].latest.time = WallTime(30s);
  CHECK(state(lines_document(v), "cn2") == "up");
}

TEST_CASE("with routes the failover's state wins over the rounds and sets health, score and role") {
  Config c = two_lines_two_targets();
  c.lines.push_back(line_spec("free"));  // named by no route
  c.routes = {RouteSpec{"198.19.0.0/16", RouteSpec::Policy::primary_backup, {"cn2", "cmi"}}};
  FailoverSnapshot f;
  f.lines = {watched("cn2", LineState::down, 0.25), watched("cmi", LineState::degraded, 0.5)};
  LinesView v{&c, WallTime(1000s), {}, {}, f};
  // Rounds say cn2 answers and cmi does not: the failover's view is shown.
  v.series = {round("cn2", "dns", ProbeKind::icmp, true, 10),
              round("cmi", "dns", ProbeKind::icmp, false, 10),
              round("free", "dns", ProbeKind::icmp, false, 10)};
  std::string doc = lines_document(v);
  CHECK(state(doc, "cn2") == "down");
  CHECK(row(doc, "cn2")->getValue<std::string>("health") == "bad");
  CHECK(row(doc, "cn2")->getValue<double>("score") == doctest::Approx(0.25));
  CHECK(state(doc, "cmi") == "up");  // degraded still carries a reachable line
  CHECK(row(doc, "cmi")->getValue<std::string>("health") == "degraded");
  CHECK(state(doc, "free") == "down");  // not watched: the rounds decide
  CHECK(row(doc, "free")->isNull("health"));
  CHECK(row(doc, "cn2")->isNull("role"));  // no plan in force yet

  v.failover->plan.routes = {RouteEntry{"198.19.0.0/16", {hop("cmi")}}};
  doc = lines_document(v);
  CHECK(row(doc, "cmi")->getValue<std::string>("role") == "primary");
  CHECK(row(doc, "cn2")->getValue<std::string>("role") == "backup");
  CHECK(row(doc, "free")->isNull("role"));

  v.failover->lines[0].fresh = false;  // no liveness evidence since start
  CHECK(state(lines_document(v), "cn2") == "unknown");
}

TEST_CASE("a line's traffic figures come from its bandwidth reading and capacity from the config") {
  Config c = two_lines_two_targets();
  c.lines[0].capacity_bps = 500'000'000;
  LineBandwidth bw;
  bw.line = "cn2";
  bw.reading.state = CounterState::measuring;
  bw.reading.rx_bps = 1.5e6;
  bw.reading.tx_bps = 2.5e6;
  bw.reading.utilisation = 0.005;
  LinesView v{&c, WallTime(1000s), {}, {bw}, std::nullopt};
  const std::string doc = lines_document(v);
  CHECK(row(doc, "cn2")->getValue<double>("rx_bps") == doctest::Approx(1.5e6));
  CHECK(row(doc, "cn2")->getValue<double>("tx_bps") == doctest::Approx(2.5e6));
  CHECK(row(doc, "cn2")->getValue<double>("utilisation") == doctest::Approx(0.005));
  CHECK(row(doc, "cn2")->getValue<std::uint64_t>("capacity_bps") == 500'000'000);
  CHECK(row(doc, "cmi")->isNull("rx_bps"));
  CHECK(row(doc, "cmi")->isNull("capacity_bps"));
}

TEST_CASE("url_without_secrets drops userinfo, query and fragment") {
  CHECK(url_without_secrets("https://user:pa55@api.example.com:8443/v1/x?key=s3cret#frag") ==
        "https://api.example.com:8443/v1/x");
  CHECK(url_without_secrets("https://api.example.com/v1?key=s3cret") ==
        "https://api.example.com/v1");
  CHECK(url_without_secrets("http://tok@198.18.0.2") == "http://198.18.0.2");
  CHECK(url_without_secrets("http://198.18.0.2/a@b") == "http://198.18.0.2/a@b");
  CHECK(url_without_secrets("https://api.example.com/v1") == "https://api.example.com/v1");
}

TEST_CASE("targets show their address, kinds and lines and never an URL's userinfo or query") {
  Config c = two_lines_two_targets();
  c.targets.push_back(TargetSpec{
      "api",
      {probe(ProbeKind::http, "https://ops:hunter2@status.example.com/health?token=abc123"),
       probe(ProbeKind::llm, "https://key:sk-secret@gw.example.com/v1beta?key=AIza-secret")}});
  const std::string doc = targets_document(c);
  for (const char* secret : {"hunter2", "ops:", "token", "abc123", "sk-secret", "AIza", "?"})
    CHECK_MESSAGE(doc.find(secret) == std::string::npos, secret << " in " << doc);
  auto parsed = Poco::JSON::Parser().parse(doc).extract<Poco::JSON::Object::Ptr>();
  auto targets = parsed->getArray("targets");
  REQUIRE(targets->size() == 3);
  auto api = targets->getObject(2);
  CHECK(api->getValue<std::string>("target") == "api");
  CHECK(api->getValue<std::string>("address") == "https://status.example.com/health");
  CHECK(api->getArray("kinds")->size() == 2);
  CHECK(api->getArray("kinds")->getElement<std::string>(1) == "llm");
  CHECK(targets->getObject(0)->getValue<std::string>("address") == "198.18.0.2");
  CHECK(targets->getObject(0)->getArray("lines")->getElement<std::string>(1) == "cmi");
}

TEST_CASE("the API serves lines and targets and refuses a query parameter on them") {
  ApiSources sources;
  sources.lines = [] { return std::string(R"({"lines":[]})"); };
  sources.targets = [] { return std::string(R"({"targets":[]})"); };
  auto api = ApiServer::start("127.0.0.1:0", std::move(sources));
  REQUIRE(api.ok());
  auto get = [port = (*api)->port()](const std::string& path) {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(5, 0));
    Poco::Net::HTTPRequest req("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse res;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(res), body);
    return std::pair(static_cast<int>(res.getStatus()), body);
  };
  CHECK(get("/api/v1/lines") == std::pair(200, std::string(R"({"lines":[]})")));
  CHECK(get("/api/v1/targets") == std::pair(200, std::string(R"({"targets":[]})")));
  CHECK(get("/api/v1/lines?line=cn2") ==
        std::pair(400, std::string(R"j({"error":"unknown parameter \"line\" (none are taken)",)j"
                                   R"j("parameter":"line"})j")));
  CHECK(get("/api/v1/targets?x").first == 400);
}

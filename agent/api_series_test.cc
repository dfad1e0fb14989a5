// GET /api/v1/series: each bad parameter refused with 400 and named, unknown
// ids 404, the kind picked or asked for, and a good answer read field by
// field from a real store, also through the HTTP server.
#include "agent/api_series.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "tests/support/temp_dir.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;

// 2027-01-15T08:00:00Z.
const WallTime kT0 = WallTime(std::chrono::seconds(1'800'000'000));

// A source over canned points that records the query it was asked.
struct Fake {
  std::vector<SeriesInfo> stored;
  std::vector<SeriesPoint> points;
  std::optional<SeriesQuery> asked;
  bool fail = false;
  WallTime now = kT0 + 3h + 500ms;

  SeriesSource source() {
    SeriesSource s;
    s.lines = {"cn2", "cu"};
    s.targets = {{"dns", {ProbeKind::icmp}}, {"api", {ProbeKind::icmp, ProbeKind::http}}};
    s.stored = [this]() -> Result<std::vector<SeriesInfo>> { return stored; };
    s.points = [this](const SeriesQuery& q) -> Result<std::vector<SeriesPoint>> {
      asked = q;
      if (fail) return io_error("/data/linewatch.db: read series: disk I/O error");
      return points;
    };
    s.now = [this] { return now; };
    return s;
  }
};

std::string error_of(const HttpResponse& r) {
  auto o = Poco::JSON::Parser().parse(r.body).extract<Object::Ptr>();
  CHECK(o->size() == 1);  // {"error": ...} and nothing else
  return o->getValue<std::string>("error");
}

TEST_CASE("series: every bad parameter is a 400 that names it") {
  Fake f;
  const auto src = f.source();
  const std::pair<const char*, const char*> cases[] = {
      {"target=dns", "line: required (an id from the config)"},
      {"line=cn2", "target: required (an id from the config)"},
      {"line=cn2&target=dns&limit=5",
       "unknown parameter \"limit\" (line, target, kind, since, until, step)"},
      {"line=cn2&target=dns&line=cu", "line: given twice"},
      {"line=cn2&target=dns&since=yesterday",
       "since: not a duration back from now (3h) or an RFC 3339 time (2026-11-30T12:00:00Z), "
       "got \"yesterday\""},
      {"line=cn2&target=dns&until=3h",
       "until: not an RFC 3339 time (2026-11-30T15:00:00Z), got \"3h\""},
      {"line=cn2&target=dns&since=2027-01-15T10:00:00Z&until=2027-01-15T09:00:00Z",
       "until: 2027-01-15T09:00:00Z is not after since 2027-01-15T10:00:00Z"},
      {"line=cn2&target=dns&since=2027-01-15T10:00:00Z&until=2027-01-15T10:00:00Z",
       "until: 2027-01-15T10:00:00Z is not after since 2027-01-15T10:00:00Z"},
      {"line=cn2&target=dns&step=0s", "step: must be at least 1s, got \"0s\""},
      {"line=cn2&target=dns&step=1500ms", "step: must be whole seconds, got \"1500ms\""},
      {"line=cn2&target=dns&step=5", "step: \"5\": a unit is required (ns, us, ms, s, m, h or d)"},
      {"line=cn2&target=dns&step=1s", "step: 1s over 3h gives 10800 points, at most 10000"},
      {"line=cn2&target=dns&kind=udp", "kind: must be icmp, tcp, http or llm, got \"udp\""},
      {"line=cn2&target=dns&since=%zz", "since=%zz: bad percent-encoding"},
  };
  for (const auto& [query, message] : cases) {
    CAPTURE(std::string(query));
    const HttpResponse r = series_answer(src, query);
    CHECK(r.status == 400);
    CHECK(r.content_type == "application/json");
    CHECK(error_of(r) == message);
  }
  CHECK_FALSE(f.asked);  // nothing was read for a refused query
}

TEST_CASE("series: an unknown line or target is a 404 naming it") {
  Fake f;
  const auto src = f.source();
  auto line = series_answer(src, "line=x&target=dns");
  CHECK(line.status == 404);
  CHECK(error_of(line) == "line: no line \"x\" in the config");
  auto target = series_answer(src, "line=cn2&target=y");
  CHECK(target.status == 404);
  CHECK(error_of(target) == "target: no target \"y\" in the config");
}

TEST_CASE("series: the kind is the one stored, else the one configured, else asked for") {
  Fake f;
  const auto src = f.source();
  SUBCASE("two kinds stored: 400 listing them") {
    f.stored = {{"cn2", "api", ProbeKind::http, kT0}, {"cn2", "api", ProbeKind::icmp, kT0}};
    auto r = series_answer(src, "line=cn2&target=api");
    CHECK(r.status == 400);
    CHECK(error_of(r) == "kind: target api on line cn2 has kinds icmp, http; say which");
  }
  SUBCASE("one kind stored on this line: that one, whatever is configured") {
    f.stored = {{"cn2", "api", ProbeKind::http, kT0}, {"cu", "api", ProbeKind::icmp, kT0}};
    CHECK(series_answer(src, "line=cn2&target=api").status == 200);
    REQUIRE(f.asked);
    CHECK(f.asked->kind == ProbeKind::http);
  }
  SUBCASE("nothing stored, one kind configured") {
    CHECK(series_answer(src, "line=cu&target=dns").status == 200);
    REQUIRE(f.asked);
    CHECK(f.asked->kind == ProbeKind::icmp);
  }
  SUBCASE("nothing stored, two configured") {
    auto r = series_answer(src, "line=cu&target=api");
    CHECK(r.status == 400);
    CHECK(error_of(r) == "kind: target api on line cu has kinds icmp, http; say which");
  }
  SUBCASE("named: used as is") {
    f.stored = {{"cn2", "api", ProbeKind::http, kT0}, {"cn2", "api", ProbeKind::icmp, kT0}};
    CHECK(series_answer(src, "line=cn2&target=api&kind=icmp").status == 200);
    REQUIRE(f.asked);
    CHECK(f.asked->kind == ProbeKind::icmp);
  }
}

TEST_CASE("series: defaults are the last 3h in whole seconds at 36s steps") {
  Fake f;  // now is kT0 + 3h + 0.5s
  const auto src = f.source();
  auto r = series_answer(src, "line=cn2&target=dns");
  REQUIRE(r.status == 200);
  REQUIRE(f.asked);
  CHECK(f.asked->from == kT0);
  CHECK(f.asked->to == kT0 + 3h);
  CHECK(f.asked->step == 36s);
  SUBCASE("a duration since, an RFC 3339 until, a range not a multiple of 300 s") {
    f.asked.reset();
    REQUIRE(
        series_answer(src, "line=cn2&target=dns&since=30d&until=2027-01-15T11:00:00.250%2B00:00")
            .status == 200);
    CHECK(f.asked->from == kT0 + 3h - 24h * 30);
    CHECK(f.asked->to == kT0 + 3h + 250ms);
    CHECK(f.asked->step == 8641s);  // (30 d + 0.25 s) / 300, rounded up
  }
  SUBCASE("exactly 10000 steps is allowed") {
    f.asked.reset();
    CHECK(series_answer(src, "line=cn2&target=dns&since=10000s&step=1s").status == 200);
  }
}

TEST_CASE("series: a storage failure is a 500 with its message") {
  Fake f;
  f.fail = true;
  auto r = series_answer(f.source(), "line=cn2&target=dns");
  CHECK(r.status == 500);
  CHECK(error_of(r) == "storage: /data/linewatch.db: read series: disk I/O error");
}

ProbeResult icmp_round(WallTime t, int received, std::optional<int> rtt_us) {
  ProbeResult r;
  r.line = "cn2";
  r.target = "dns";
  r.kind = ProbeKind::icmp;
  r.time = t;
  r.ok = received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  r.sent = 5;
  r.received = received;
  if (rtt_us) r.rtt = r.rtt_median = std::chrono::microseconds(*rtt_us);
  if (rtt_us) r.rtt_min = *r.rtt - 100us, r.rtt_max = *r.rtt + 400us;
  return r;
}

Config two_lines() {
  Config c;
  c.lines.resize(2);
  c.lines[0].id = "cn2";
  c.lines[1].id = "cu";
  c.targets.resize(1);
  c.targets[0].id = "dns";
  c.targets[0].probes.resize(1);
  c.targets[0].probes[0].kind = ProbeKind::icmp;
  return c;
}

std::string http_get(std::uint16_t port, const std::string& target, int& status,
                     std::string& type) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest req("GET", target, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse res;
  std::istream& in = session.receiveResponse(res);
  status = res.getStatus();
  type = res.getContentType();
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  return body;
}

TEST_CASE("series: a good answer from a real store, field by field, over HTTP") {
  testing::TempDir dir("linewatch-api-series");
  FakeClock clock(kT0 + 1h);
  auto store = Store::open(dir.path(), StorageOptions{}, clock);
  REQUIRE(store);
  // Step [0, 60s): 150.1, 150.4, 151.0 ms, one round losing 2 of 5 echoes.
  // Step [120s, 180s): one round with every echo lost.
  for (const auto& r : {icmp_round(kT0 + 1s, 5, 150'400), icmp_round(kT0 + 20s, 3, 150'100),
                        icmp_round(kT0 + 59s, 5, 151'000), icmp_round(kT0 + 130s, 0, {})})
    REQUIRE((*store)->submit(r));
  REQUIRE((*store)->flush(10s));
  const Config config = two_lines();
  ApiSources sources;
  sources.series = [src = store_series_source(config, **store, clock)](std::string_view q) {
    return series_answer(src, q);
  };
  auto api = ApiServer::start("127.0.0.1:0", std::move(sources));
  REQUIRE(api);
  int status = 0;
  std::string type;
  const std::string body = http_get(
      (*api)->port(),
      "/api/v1/series?line=cn2&target=dns&since=2027-01-15T08:00:00Z&until=2027-01-15T08:03:00Z"
      "&step=60s",
      status, type);
  REQUIRE(status == 200);
  CHECK(type == "application/json");
  auto doc = Poco::JSON::Parser().parse(body).extract<Object::Ptr>();
  CHECK(doc->getValue<std::string>("line") == "cn2");
  CHECK(doc->getValue<std::string>("target") == "dns");
  CHECK(doc->getValue<std::string>("kind") == "icmp");
  CHECK(doc->getValue<std::string>("from") == "2027-01-15T08:00:00Z");
  CHECK(doc->getValue<std::string>("to") == "2027-01-15T08:03:00Z");
  CHECK(doc->getValue<int>("step_s") == 60);
  auto points = doc->getArray("points");
  REQUIRE(points->size() == 2);
  auto a = points->getObject(0);
  CHECK(a->getValue<std::string>("t") == "2027-01-15T08:00:00Z");
  CHECK(a->getValue<int>("rounds") == 3);
  CHECK(a->getValue<int>("ok") == 3);
  CHECK(a->getValue<int>("sent") == 15);
  CHECK(a->getValue<int>("lost") == 2);
  CHECK(a->getValue<double>("loss") == doctest::Approx(2.0 / 15));
  auto rtt = a->getObject("rtt_ms");
  CHECK(rtt->getValue<double>("min") == doctest::Approx(150.0));
  CHECK(rtt->getValue<double>("p10") == doctest::Approx(150.1));
  CHECK(rtt->getValue<double>("p25") == doctest::Approx(150.1));
  CHECK(rtt->getValue<double>("median") == doctest::Approx(150.4));
  CHECK(rtt->getValue<double>("p75") == doctest::Approx(151.0));
  CHECK(rtt->getValue<double>("p90") == doctest::Approx(151.0));
  CHECK(rtt->getValue<double>("max") == doctest::Approx(151.4));
  auto b = points->getObject(1);
  CHECK(b->getValue<std::string>("t") == "2027-01-15T08:02:00Z");
  CHECK(b->getValue<int>("rounds") == 1);
  CHECK(b->getValue<int>("ok") == 0);
  CHECK(b->getValue<double>("loss") == 1.0);
  CHECK(b->isNull("rtt_ms"));
  // Numbers are written shortest-exact, as a reader would type them.
  CHECK(body.find(R"("median":150.4,)") != std::string::npos);

  const std::string missing =
      http_get((*api)->port(), "/api/v1/series?line=nope&target=dns", status, type);
  CHECK(status == 404);
  CHECK(missing == R"({"error":"line: no line \"nope\" in the config"})");
}

TEST_CASE("series times are whole seconds when they can be") {
  CHECK(format_series_time(kT0) == "2027-01-15T08:00:00Z");
  CHECK(format_series_time(kT0 + 250ms) == "2027-01-15T08:00:00.250Z");
}

}  // namespace
}  // namespace linewatch

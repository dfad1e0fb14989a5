// Gateway's answers and records on a fake clock and a fake route table: what
// each push is answered with, what reaches the table, what is logged, what
// survives a restart, and that the key leaks nowhere.
#include "agent/gateway.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <vector>

#include "core/fake_clock.h"
#include "exporters/plan_codec.h"
#include "tests/support/temp_dir.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const std::string kKey = "gateway-test-key-0123456789";

// Records what it is asked to apply; answers as set.
struct FakeTable final : RouteTable {
  std::vector<RoutePlan> applied;
  int reconciles = 0;
  std::optional<Error> fail;            // apply() fails outright
  std::string refuse;                   // apply(): every route "failed" with this error
  std::vector<RouteOutcome> drift;      // what the next reconcile() reports
  std::optional<Error> reconcile_fail;  // reconcile() fails outright

  Result<RouteReport> apply(const RoutePlan& plan) override {
    if (fail) return *fail;
    RouteReport r;
    for (const RouteEntry& e : plan.routes) {
      const bool same =
          !applied.empty() && !applied.back().routes.empty() && applied.back().routes.front() == e;
      r.routes.push_back({e.prefix,
                          refuse.empty() ? (same ? RouteChange::unchanged : RouteChange::added)
                                         : RouteChange::failed,
                          "", refuse});
    }
    if (refuse.empty()) applied.push_back(plan);
    return r;
  }
  Result<RouteReport> reconcile() override {
    ++reconciles;
    if (reconcile_fail) return *reconcile_fail;
    RouteReport r;
    r.routes = std::exchange(drift, {});
    return r;
  }
};

RoutePlan plan_of(std::uint64_t version, const std::string& via = "198.18.1.2") {
  RoutePlan p;
  p.agent = "bj-gw-1";
  p.version = version;
  p.time = WallTime(std::chrono::milliseconds(1'800'000'000'123));
  p.routes = {{"198.19.7.0/24", {{"cn2", via, "d1", 1}}}};
  return p;
}

struct LogLine {
  LogLevel level;
  std::string text;
};

// One gateway on a temp data_dir; restart() makes a new one from the saved state.
struct Rig {
  testing::TempDir dir{"linewatch-gw"};
  FakeClock clock;
  FakeTable table;
  std::vector<LogLine> lines;
  std::optional<GatewayState> state;
  std::unique_ptr<Gateway> gw;
  // Room for every refusal case of one test to be recorded on its own.
  GatewayOptions options{
      .id = "gw1", .secret = kKey, .max_skew = 30s, .max_events = 5, .refusals_per_window = 20};

  Rig() { restart(); }
  explicit Rig(GatewayOptions o) : options(std::move(o)) { restart(); }
  void restart() {
    gw.reset();
    state.reset();
    auto s = GatewayState::open(dir.path());
    REQUIRE(s.ok());
    state.emplace(std::move(*s));
    auto applied = state->load();
    REQUIRE(applied.ok());
    gw = std::make_unique<Gateway>(options, clock, table, *state, std::move(*applied),
                                   [this](LogLevel l, std::string_view t) {
                                     lines.push_back({l, std::string(t)});
                                   });
  }
  HttpRequest signed_push(const std::string& body, const std::string& key = kKey,
                          WallTime at = {}) {
    if (at == WallTime{}) at = clock.wall_now();
    const std::string ts = std::to_string(unix_ms(at));
    HttpRequest r{"POST", "/v1/routes", "", {}, body, "198.18.9.9:4000"};
    r.headers = {{"x-linewatch-timestamp", ts},
                 {"x-linewatch-signature", "sha256=" + hmac_sha256_hex(key, ts + "." + body)}};
    return r;
  }
  HttpResponse push(const RoutePlan& p) { return gw->handle(signed_push(encode_plan(p))); }
  HttpResponse get(const std::string& path) {
    return gw->handle(HttpRequest{"GET", path, "", {}, "", "198.18.9.9:4000"});
  }
  const std::string& last_line() const { return lines.back().text; }
};

}  // namespace

TEST_CASE("a signed fresh plan is applied, saved and answered with its version") {
  Rig rig;
  const HttpResponse a = rig.push(plan_of(1));
  CHECK(a.status == 200);
  CHECK(a.body == "{\"applied_version\":1}\n");
  REQUIRE(rig.table.applied.size() == 1);
  CHECK(rig.table.applied[0] == plan_of(1));
  CHECK(rig.gw->applied_version() == 1);
  CHECK(rig.state->load()->version == 1);
  CHECK(rig.lines.back().level == LogLevel::info);
  CHECK(rig.last_line().starts_with(
      "gateway=gw1 event=plan_applied reason=applied status=200 peer=198.18.9.9:4000 "
      "agent=\"bj-gw-1\" version=1 took_ms="));
  CHECK(rig.last_line().ends_with(" detail=\"version 1 from agent bj-gw-1: 198.19.7.0/24 added\""));
  // A newer version with the same routes is in force already: 200, nothing changed.
  CHECK(rig.push(plan_of(2)).status == 200);
  CHECK(rig.last_line().find("reason=in_force") != std::string::npos);
  CHECK(rig.gw->applied_version() == 2);
}

TEST_CASE("each refused push gets its status and reason code and never reaches the table") {
  Rig rig;
  REQUIRE(rig.push(plan_of(5)).status == 200);
  const std::string body = encode_plan(plan_of(6, "198.18.2.2"));
  HttpRequest tampered = rig.signed_push(body);
  tampered.body.replace(tampered.body.find("198.18.2.2"), 10, "198.18.3.2");
  HttpRequest no_sig = rig.signed_push(body);
  no_sig.headers.pop_back();
  HttpRequest no_ts = rig.signed_push(body);
  no_ts.headers.erase(no_ts.headers.begin());
  HttpRequest bad_sig = rig.signed_push(body);
  bad_sig.headers[1].second = "sha1=abc";
  HttpRequest bad_ts = rig.signed_push(body);
  bad_ts.headers[0].second = "soon";
  struct Case {
    HttpRequest request;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {tampered, 401, "bad_signature"},
      {rig.signed_push(body, "another-key-of-enough-length"), 401, "bad_signature"},
      {rig.signed_push(body, kKey, rig.clock.wall_now() - 31s), 401, "stale_timestamp"},
      {rig.signed_push(body, kKey, rig.clock.wall_now() + 31s), 401, "stale_timestamp"},
      {no_sig, 401, "missing_signature"},
      {no_ts, 401, "missing_timestamp"},
      {bad_sig, 401, "malformed_signature"},
      {bad_ts, 401, "malformed_timestamp"},
      {rig.signed_push("{\"agent\":"), 400, "malformed_plan"},
      {rig.signed_push(encode_plan(plan_of(5, "198.18.2.2"))), 409, "stale_version"},
      {rig.signed_push(encode_plan(plan_of(4, "198.18.2.2"))), 409, "stale_version"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.code);
    const HttpResponse a = rig.gw->handle(c.request);
    CHECK(a.status == c.status);
    CHECK(a.body.starts_with("{\"error\":\"" + c.code + "\",\"detail\":\""));
    CHECK(rig.last_line().starts_with("gateway=gw1 event=plan_rejected reason=" + c.code +
                                      " status=" + std::to_string(c.status) +
                                      " peer=198.18.9.9:4000 detail=\""));
    CHECK(rig.lines.back().level == LogLevel::warn);
    if (c.status == 409) CHECK(a.body.find(",\"applied_version\":5}") != std::string::npos);
    if (c.status == 401) CHECK(a.headers == HttpHeaders{{"WWW-Authenticate", "Linewatch-HMAC"}});
  }
  CHECK(rig.table.applied.size() == 1);
  CHECK(rig.gw->applied_version() == 5);
  for (const LogLine& l : rig.lines) CHECK(l.text.find(kKey) == std::string::npos);
  for (const Event& e : rig.gw->events()) CHECK(e.detail.find(kKey) == std::string::npos);
}

TEST_CASE("a flood of refused pushes is summed up and keeps the real events") {
  Rig rig(GatewayOptions{.id = "gw1",
                         .secret = kKey,
                         .max_events = 5,
                         .refusals_per_window = 2,
                         .refusal_window = 10s});
  rig.gw->tick();  // the start-up tick: nothing saved to put back
  REQUIRE(rig.push(plan_of(1)).status == 200);
  const HttpRequest forged =
      rig.signed_push(encode_plan(plan_of(2)), "forged-key-of-enough-length");
  for (int i = 0; i < 50; ++i) CHECK(rig.gw->handle(forged).status == 401);
  // Two refusals recorded one by one, the other 48 only counted so far.
  CHECK(rig.lines.size() == 3);
  REQUIRE(rig.gw->events().size() == 3);
  CHECK(rig.gw->events().front().kind == "plan_applied");
  rig.clock.advance(9s);
  rig.gw->tick();
  CHECK(rig.gw->events().back().reason == "bad_signature");
  rig.clock.advance(1s);
  rig.gw->tick();
  REQUIRE(rig.gw->events().size() == 4);
  const Event& sum = rig.gw->events().back();
  CHECK(sum.kind == "plan_rejected");
  CHECK(sum.reason == "suppressed");
  CHECK(sum.detail == "48 more refused pushes in 10s not recorded one by one");
  CHECK(rig.last_line().starts_with("gateway=gw1 event=plan_rejected reason=suppressed count=48 "));
  CHECK(rig.gw->events().front().kind == "plan_applied");
  // A new window records refusals one by one again, and a quiet window adds no sum.
  CHECK(rig.gw->handle(forged).status == 401);
  CHECK(rig.gw->events().back().reason == "bad_signature");
  rig.clock.advance(11s);
  const std::size_t before = rig.lines.size();
  rig.gw->tick();
  for (std::size_t i = before; i < rig.lines.size(); ++i)
    CHECK(rig.lines[i].text.find("suppressed") == std::string::npos);
  CHECK(rig.push(plan_of(3)).status == 200);
}

TEST_CASE("a plan the kernel refuses is answered 502 and its version can be pushed again") {
  Rig rig;
  REQUIRE(rig.push(plan_of(1)).status == 200);
  rig.table.refuse = "route 198.19.7.0/24: next hop via 198.18.2.2: Network is unreachable";
  const HttpResponse a = rig.push(plan_of(2, "198.18.2.2"));
  CHECK(a.status == 502);
  CHECK(a.body ==
        "{\"error\":\"apply_failed\",\"detail\":\"route 198.19.7.0/24: next hop via 198.18.2.2: "
        "Network is unreachable\",\"applied_version\":1,\"routes\":[{\"prefix\":\"198.19.7.0/"
        "24\",\"change\":\"failed\",\"error\":\"route 198.19.7.0/24: next hop via 198.18.2.2: "
        "Network is unreachable\"}]}\n");
  CHECK(
      rig.last_line().starts_with("gateway=gw1 event=apply_failed reason=apply_failed status=502"));
  CHECK(rig.gw->applied_version() == 1);
  CHECK(rig.state->load()->version == 1);
  rig.table.refuse.clear();
  rig.table.fail = io_error("netlink: socket: Operation not permitted");
  CHECK(rig.push(plan_of(2, "198.18.2.2")).status == 502);
  rig.table.fail.reset();
  CHECK(rig.push(plan_of(2, "198.18.2.2")).status == 200);
  CHECK(rig.gw->applied_version() == 2);
}

TEST_CASE("the applied version survives a restart, so a replay is still refused") {
  Rig rig;
  const HttpRequest push2 = rig.signed_push(encode_plan(plan_of(2)));
  REQUIRE(rig.gw->handle(push2).status == 200);
  rig.restart();
  CHECK(rig.gw->applied_version() == 2);
  const HttpResponse replay = rig.gw->handle(push2);
  CHECK(replay.status == 409);
  CHECK(replay.body.find("\"applied_version\":2") != std::string::npos);
  const HttpResponse routes = rig.get("/v1/routes");
  CHECK(routes.status == 200);
  CHECK(routes.body == "{\"applied_version\":2,\"plan\":" + encode_plan(plan_of(2)) + "}\n");
  CHECK(rig.push(plan_of(3)).status == 200);
}

TEST_CASE("the first tick puts the saved plan back and later ticks repair drift") {
  Rig rig;
  CHECK(rig.gw->tick() == 5s);  // nothing saved: nothing to put back
  CHECK(rig.table.applied.empty());
  REQUIRE(rig.push(plan_of(4)).status == 200);
  rig.restart();
  rig.table.applied.clear();
  rig.gw->tick();
  REQUIRE(rig.table.applied.size() == 1);
  CHECK(rig.table.applied[0].version == 4);
  CHECK(rig.last_line() ==
        "gateway=gw1 event=plan_restored reason=applied agent=\"bj-gw-1\" version=4 "
        "detail=\"saved version put back at start: 198.19.7.0/24 added\"");
  CHECK(rig.table.reconciles == 0);
  rig.table.drift = {{"198.19.7.0/24", RouteChange::restored, "no route", ""}};
  rig.gw->tick();
  CHECK(rig.table.reconciles == 1);
  CHECK(rig.lines.back().level == LogLevel::warn);
  CHECK(rig.last_line() ==
        "gateway=gw1 event=route_restored reason=drift prefix=198.19.7.0/24 found=\"no route\" "
        "detail=\"route 198.19.7.0/24 had changed behind linewatch's back; put back\"");
  // A failing reconcile is logged once until its message changes.
  const std::size_t before = rig.lines.size();
  rig.table.reconcile_fail = io_error("netlink: dump: No buffer space available");
  rig.gw->tick();
  rig.gw->tick();
  CHECK(rig.lines.size() == before + 1);
  rig.table.reconcile_fail.reset();
  rig.gw->tick();
  CHECK(rig.lines.size() == before + 1);
}

TEST_CASE("GET /v1/events keeps the newest events up to max_events") {
  Rig rig;
  for (std::uint64_t v = 1; v <= 7; ++v) REQUIRE(rig.push(plan_of(v)).status == 200);
  CHECK(rig.gw->events().size() == 5);
  CHECK(rig.gw->events().front().detail.starts_with("version 3 "));
  const HttpResponse a = rig.get("/v1/events");
  CHECK(a.status == 200);
  CHECK(a.body.starts_with(
      "{\"events\":[{\"time\":\"2027-01-15T08:00:00.000Z\",\"kind\":\"plan_applied\",\"reason\":"
      "\"in_force\",\"detail\":\"version 3 from agent bj-gw-1: 198.19.7.0/24 unchanged\"}"));
}

TEST_CASE("gateway paths answer their methods only and health is plain text") {
  Rig rig;
  CHECK(rig.get("/-/healthy").body == "OK\n");
  CHECK(rig.get("/nope").status == 404);
  CHECK(rig.get("/v1/routes").body == "{\"applied_version\":0,\"plan\":null}\n");
  HttpRequest post_events{"POST", "/v1/events", "", {}, "", ""};
  const HttpResponse a = rig.gw->handle(post_events);
  CHECK(a.status == 405);
  CHECK(a.headers == HttpHeaders{{"Allow", "GET, HEAD"}});
  HttpRequest put{"PUT", "/v1/routes", "", {}, "", ""};
  CHECK(rig.gw->handle(put).headers == HttpHeaders{{"Allow", "GET, HEAD, POST"}});
}

TEST_CASE("a plan in force that cannot be saved is answered 500 and still refuses its replay") {
  Rig rig;
  std::filesystem::create_directory(rig.dir.file("state.json.tmp"));
  const HttpRequest push = rig.signed_push(encode_plan(plan_of(3)));
  const HttpResponse a = rig.gw->handle(push);
  CHECK(a.status == 500);
  CHECK(a.body.starts_with("{\"error\":\"persist_failed\",\"detail\":\"" +
                           rig.dir.file("state.json.tmp") + ": open: "));
  CHECK(a.body.ends_with(",\"applied_version\":3}\n"));
  CHECK(rig.gw->handle(push).status == 409);
  CHECK(rig.get("/v1/routes").body.starts_with("{\"applied_version\":3,\"plan\":{"));
}

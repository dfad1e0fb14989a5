// RouteApplier errors and options: messages name the prefix, the next hop and
// the kernel's words; a refused route keeps the old one; options are checked.
#include <doctest/doctest.h>

#include "exporters/route_apply.h"
#include "exporters/route_apply_test_util.h"

namespace linewatch {
namespace {

using namespace route_test;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("errors name the prefix, the next hop and the kernel's words") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    REQUIRE(applier.apply(plan_of({{"198.19.1.0/24", {hop("a", "198.18.1.2", "d1")}}})).ok());
    const auto objects_before = our_nexthops();

    auto report = applier.apply(plan_of({
        {"198.19.1.0/24", {hop("bad", "198.18.9.9", "d1")}},  // kernel: not on d1
        {"198.19.2.0/24", {hop("far", "198.18.9.9", "")}},    // no link reaches it
        {"198.19.4.0/24", {hop("typo", "198.18.1.2", "nosuch0")}},
        {"198.19.7.0/24", {hop("a", "198.18.1.2", "d1", 1), hop("b", "198.18.9.9", "d2", 1)}},
        {"198.19.6.0/24", {hop("a", "198.18.1.2", "d1")}},
    }));
    REQUIRE(report.ok());
    INFO(summary(*report));
    CHECK_FALSE(report->ok());
    const std::string refused = report->find("198.19.1.0/24")->error;
    CHECK(change_of(*report, "198.19.1.0/24") == RouteChange::failed);
    CHECK(contains(refused, "route 198.19.1.0/24"));
    CHECK(contains(refused, "via 198.18.9.9 dev d1 (line bad)"));
    CHECK(contains(refused, "kernel: Nexthop has invalid gateway"));
    const std::string far = report->find("198.19.2.0/24")->error;
    CHECK(contains(far, "route 198.19.2.0/24"));
    CHECK(contains(far, "via 198.18.9.9 (line far)"));
    CHECK(contains(far, "Network is unreachable"));
    CHECK(contains(report->find("198.19.4.0/24")->error, "device nosuch0 does not exist"));
    const std::string group = report->find("198.19.7.0/24")->error;
    CHECK(contains(group, "route 198.19.7.0/24"));
    CHECK(contains(group, "via 198.18.9.9 dev d2 (line b)"));
    CHECK(change_of(*report, "198.19.6.0/24") == RouteChange::added);  // the rest still applies

    // Make-before-break: the refused switch left the old route, and no
    // object of the failed attempts stayed behind.
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    CHECK(our_nexthops().size() == objects_before.size() + 1);
    auto clean = applier.reconcile();
    REQUIRE(clean.ok());
    CHECK(clean->routes.empty());
  });
}

TEST_CASE("multipath errors name the prefix, the next hops and the kernel's words") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplyOptions options;
    options.nexthop_objects = NexthopObjects::never;
    RouteApplier applier(options, clock);
    auto report = applier.apply(plan_of(
        {{"198.19.1.0/24", {hop("a", "198.18.1.2", "d1", 1), hop("bad", "198.18.9.9", "d1", 1)}}}));
    REQUIRE(report.ok());
    const std::string error = report->find("198.19.1.0/24")->error;
    CHECK(contains(error, "route 198.19.1.0/24"));
    CHECK(contains(error, "via 198.18.9.9 dev d1 (line bad)"));
    CHECK(contains(error, "kernel: Nexthop has invalid gateway"));
    CHECK(gateway_for("198.19.1.1") == "unreachable");
  });
}

TEST_CASE("plan entries the kernel cannot take are refused with their prefix") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    auto report = applier.apply(plan_of({
        {"198.19.1.1/24", {hop("a", "198.18.1.2", "d1")}},
        {"198.19.2.0/24", {}},
        {"198.19.3.0/24", {hop("a", "2001:2:0:1::2", "d1")}},
        {"198.19.4.0/24", {hop("a", "198.18.1.2", "d1", 0), hop("b", "198.18.2.2", "d2")}},
        {"198.19.5.0/24", {hop("a", "198.18.1.2", "d1")}},
        {"198.19.5.0/24", {hop("b", "198.18.2.2", "d2")}},
    }));
    REQUIRE(report.ok());
    INFO(summary(*report));
    REQUIRE(report->routes.size() == 6);
    CHECK(contains(report->routes[0].error, "198.19.1.1/24: not an IPv4 or IPv6 prefix"));
    CHECK(contains(report->routes[1].error, "198.19.2.0/24: has no next hop"));
    CHECK(contains(report->routes[2].error, "not of the same IP version"));
    CHECK(contains(report->routes[3].error, "weight must be 1..255, got 0"));
    CHECK(report->routes[4].change == RouteChange::added);
    CHECK(contains(report->routes[5].error, "198.19.5.0/24: listed twice"));
    CHECK(gateway_for("198.19.5.1") == "198.18.1.2 d1");
  });
}

TEST_CASE("a numbered table gets the routes and main is untouched") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplyOptions options;
    options.table = 100;  // does not exist until its first route
    RouteApplier applier(options, clock);
    auto report =
        applier.apply(plan_of({{"198.19.1.0/24", {hop("a", "198.18.1.2", "d1")}},
                               {"2001:2:0:ff01::/64", {hop("a", "2001:2:0:1::2", "d1")}}}));
    REQUIRE(report.ok());
    INFO(summary(*report));
    CHECK(report->ok());
    CHECK(ip_hops(ip_route("198.19.1.0/24", "100")) == std::vector<std::string>{"198.18.1.2 d1"});
    CHECK(ip_route("2001:2:0:ff01::/64", "100"));
    CHECK_FALSE(ip_route("198.19.1.0/24"));
    CHECK(only_route(view_now(100), "198.19.1.0/24") != nullptr);
    CHECK(view_now(254).routes_for(*IpPrefix::parse("198.19.1.0/24")).empty());

    REQUIRE(run("ip route del 198.19.1.0/24 table 100"));
    auto repaired = applier.reconcile();
    REQUIRE(repaired.ok());
    CHECK(change_of(*repaired, "198.19.1.0/24") == RouteChange::restored);
    auto emptied = applier.apply(plan_of({}));
    REQUIRE(emptied.ok());
    CHECK(emptied->routes.size() == 2);
    CHECK(testing::ip_json("route show table 100")->size() == 0);
    CHECK(our_nexthops().empty());
  });
}

TEST_CASE("options and tables are checked") {
  CHECK(check_options({}).ok());
  RouteApplyOptions o;
  o.table = 0;
  CHECK(contains(check_options(o).error().message, "apply.table: 0"));
  o.table = 255;
  CHECK_FALSE(check_options(o).ok());
  o = {};
  o.protocol = 3;
  CHECK(contains(check_options(o).error().message, "3 (boot)"));
  o = {};
  o.nexthop_id_count = 1;
  CHECK_FALSE(check_options(o).ok());
  o = {};
  o.nexthop_id_first = 0xffffff00;
  o.nexthop_id_count = 0x200;
  CHECK_FALSE(check_options(o).ok());
  o.nexthop_id_count = 0x100;
  CHECK(check_options(o).ok());

  CHECK(*parse_route_table("main") == 254);
  CHECK(*parse_route_table("100") == 100);
  CHECK(*parse_route_table("4294967295") == 4294967295u);
  for (const char* bad : {"", "mian", "0", "255", "-1", "4294967296", "10x"}) {
    CAPTURE(bad);
    auto r = parse_route_table(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "apply.table"));
  }

  SystemClock clock;
  o = {};
  o.protocol = 2;
  RouteApplier applier(o, clock);
  auto report = applier.apply(plan_of({}));
  REQUIRE_FALSE(report.ok());
  CHECK(report.error().code == ErrorCode::invalid_argument);
}

}  // namespace
}  // namespace linewatch

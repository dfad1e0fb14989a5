// RouteApplier::reconcile() and restarts: what was changed behind the
// applier's back is put back and reported; a new applier adopts its routes.
// Each case in its own network namespace (exporters/route_apply_lab_test_support.h).
#include <doctest/doctest.h>
#include <linux/rtnetlink.h>

#include "exporters/route_apply.h"
#include "exporters/route_apply_test_util.h"

namespace linewatch {
namespace {

using namespace route_test;

const RoutePlan kPlan =
    plan_of({{"198.19.1.0/24", {hop("a", "198.18.1.2", "d1")}},
             {"198.19.3.0/24",
              {hop("a", "198.18.1.2", "d1", 10), hop("b", "198.18.2.2", "d2", 20),
               hop("c", "198.18.3.2", "d3", 30)}},
             {"2001:2:0:ff01::/64", {hop("a", "2001:2:0:1::2", "d1")}}});

// The one outcome of a reconcile that found exactly one drifted route.
RouteOutcome only_drift(RouteApplier& applier) {
  auto report = applier.reconcile();
  REQUIRE(report.ok());
  INFO(summary(*report));
  REQUIRE(report->routes.size() == 1);
  return report->routes.front();
}

TEST_CASE("reconcile puts back deleted routes and reports the drift") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    REQUIRE(applier.apply(kPlan).ok());
    auto clean = applier.reconcile();
    REQUIRE(clean.ok());
    CHECK(clean->routes.empty());  // nothing drifted: nothing reported, nothing written

    REQUIRE(run("ip route del 198.19.1.0/24"));
    CHECK(gateway_for("198.19.1.1") == "unreachable");
    const RouteOutcome v4 = only_drift(applier);
    CHECK(v4.prefix == "198.19.1.0/24");
    CHECK(v4.change == RouteChange::restored);
    CHECK(v4.found == "no route");
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    auto back = ip_route("198.19.1.0/24");
    REQUIRE(back);
    CHECK(back->getValue<std::string>("protocol") == "76");
    CHECK(back->has("nhid"));

    REQUIRE(run("ip -6 route del 2001:2:0:ff01::/64"));
    const RouteOutcome v6 = only_drift(applier);
    CHECK(v6.prefix == "2001:2:0:ff01::/64");
    CHECK(v6.change == RouteChange::restored);
    CHECK(ip_hops(ip_route("2001:2:0:ff01::/64")) == std::vector<std::string>{"2001:2:0:1::2 d1"});

    auto settled = applier.reconcile();
    REQUIRE(settled.ok());
    CHECK(settled->routes.empty());
    CHECK(our_nexthops().size() == 1 + 4 + 1);  // no objects left over from the repairs
  });
}

TEST_CASE("reconcile puts back a route pointed elsewhere behind its back") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    REQUIRE(applier.apply(kPlan).ok());

    // Replaced by hand: same slot, another protocol; the prefix is still ours.
    REQUIRE(run("ip route replace 198.19.1.0/24 via 198.18.2.2 dev d2"));
    CHECK(gateway_for("198.19.1.1") == "198.18.2.2 d2");
    const RouteOutcome replaced = only_drift(applier);
    CHECK(replaced.change == RouteChange::restored);
    CHECK(replaced.found.find("proto boot") != std::string::npos);
    CHECK(replaced.found.find("via 198.18.2.2 dev d2") != std::string::npos);
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    CHECK(ip_route("198.19.1.0/24")->getValue<std::string>("protocol") == "76");

    // Our nexthop object changed in place.
    const std::uint32_t id = only_route(view_now(), "198.19.1.0/24")->nexthop_id;
    REQUIRE(run("ip nexthop replace id " + std::to_string(id) + " via 198.18.3.2 dev d3 proto 76"));
    CHECK(gateway_for("198.19.1.1") == "198.18.3.2 d3");
    const RouteOutcome changed = only_drift(applier);
    CHECK(changed.change == RouteChange::restored);
    CHECK(changed.found.find("via 198.18.3.2 dev d3") != std::string::npos);
    CHECK(changed.found.find("nexthop " + std::to_string(id)) != std::string::npos);
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    CHECK(view_now().nexthop(id) == nullptr);  // the tampered object is gone
  });
}

TEST_CASE("reconcile puts back nexthop objects deleted behind its back") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    RouteApplier applier({}, clock);
    REQUIRE(applier.apply(kPlan).ok());
    const KernelView view = view_now();

    // A member of the weighted group: the kernel drops it from the group.
    const KernelRoute* weighted = only_route(view, "198.19.3.0/24");
    REQUIRE(weighted != nullptr);
    const KernelNexthop* group = view.nexthop(weighted->nexthop_id);
    REQUIRE(group != nullptr);
    std::uint32_t member_via_d2 = 0;
    for (const auto& [id, weight] : group->group)
      if (view.nexthop(id)->hop.gateway.str() == "198.18.2.2") member_via_d2 = id;
    REQUIRE(member_via_d2 != 0);
    REQUIRE(run("ip nexthop del id " + std::to_string(member_via_d2)));
    CHECK(ip_hops(ip_route("198.19.3.0/24")).size() == 2);
    const RouteOutcome shrunk = only_drift(applier);
    CHECK(shrunk.prefix == "198.19.3.0/24");
    CHECK(shrunk.change == RouteChange::restored);
    CHECK(shrunk.found.find("198.18.1.2") != std::string::npos);
    CHECK(shrunk.found.find("198.18.2.2") == std::string::npos);
    CHECK(ip_hops(ip_route("198.19.3.0/24")) ==
          std::vector<std::string>{"198.18.1.2 d1 w10", "198.18.2.2 d2 w20", "198.18.3.2 d3 w30"});

    // A single route's object: the kernel deletes the route with it.
    const std::uint32_t single = only_route(view, "198.19.1.0/24")->nexthop_id;
    REQUIRE(run("ip nexthop del id " + std::to_string(single)));
    CHECK_FALSE(ip_route("198.19.1.0/24"));
    const RouteOutcome gone = only_drift(applier);
    CHECK(gone.prefix == "198.19.1.0/24");
    CHECK(gone.found == "no route");
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    CHECK(our_nexthops().size() == 1 + 4 + 1);
  });
}

TEST_CASE("a new applier adopts its routes without churn and clears leftover objects") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    const RouteApplyOptions options;
    { REQUIRE(RouteApplier(options, clock).apply(kPlan).ok()); }
    const auto before = our_nexthops();
    const std::string leftover = std::to_string(options.nexthop_id_first + 5000);
    const std::string others = std::to_string(options.nexthop_id_first + 5001);
    REQUIRE(run("ip nexthop add id " + leftover + " via 198.18.1.2 dev d1 proto 76"));
    REQUIRE(run("ip nexthop add id " + others + " via 198.18.1.2 dev d1 proto static"));

    // As after a restart: same plan, fresh applier.
    RouteApplier restarted(options, clock);
    auto report = restarted.apply(kPlan);
    REQUIRE(report.ok());
    INFO(summary(*report));
    for (const auto& r : report->routes) CHECK(r.change == RouteChange::unchanged);
    CHECK(our_nexthops() == before);  // same objects; the leftover of ours is gone
    CHECK(testing::ip_json("nexthop show id " + others)->size() == 1);  // not ours: kept

    // It guards what it adopted.
    REQUIRE(run("ip route del 198.19.3.0/24"));
    auto repaired = restarted.reconcile();
    REQUIRE(repaired.ok());
    CHECK(change_of(*repaired, "198.19.3.0/24") == RouteChange::restored);
  });
}

TEST_CASE("reconcile before any apply reads nothing and reports nothing") {
  SystemClock clock;
  RouteApplier applier({}, clock);
  auto report = applier.reconcile();
  REQUIRE(report.ok());
  CHECK(report->routes.empty());
}

}  // namespace
}  // namespace linewatch

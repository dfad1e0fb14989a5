// LocalApplySink in a private network namespace (exporters' route lab):
// plans reach the kernel on the sink's thread, drift is put back, and a
// route that cannot be applied is reported once, not at every retry.
#include "agent/failover_apply.h"

#include <doctest/doctest.h>

#include <thread>

#include "agent/failover_test_support.h"
#include "exporters/route_apply_test_util.h"

namespace linewatch {
namespace {

using namespace failover_test;
using namespace route_test;
using namespace std::chrono_literals;

// Waits (bounded) until `events` holds `n` events of `kind`.
bool wait_for(const EventRecorder& events, const std::string& kind, int n = 1) {
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (events.count(kind) >= n) return true;
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

RoutePlan versioned(std::uint64_t version, std::vector<RouteEntry> routes) {
  RoutePlan p = plan_of(std::move(routes));
  p.version = version;
  return p;
}

LocalApplyOptions quick() {
  LocalApplyOptions o;
  o.reconcile_every = 50ms;
  return o;
}

}  // namespace

TEST_CASE("local apply puts each plan into the kernel and puts drifted routes back") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    EventRecorder events;
    LocalApplySink sink(quick(), clock, events);

    sink.on_plan(versioned(1, {{"198.19.1.0/24", {hop("l1", "198.18.1.2", "d1")}}}));
    REQUIRE(wait_for(events, "apply_ok"));
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");

    sink.on_plan(versioned(2, {{"198.19.1.0/24", {hop("l2", "198.18.2.2", "d2")}}}));
    REQUIRE(wait_for(events, "apply_ok", 2));
    CHECK(gateway_for("198.19.1.1") == "198.18.2.2 d2");
    const Event ok = events.events().back();
    CHECK(ok.reason == "applied");
    CHECK(ok.detail.rfind("version 2: 198.19.1.0/24 switched in ", 0) == 0);

    REQUIRE(run("ip route del 198.19.1.0/24"));
    REQUIRE(wait_for(events, "route_restored"));
    CHECK(gateway_for("198.19.1.1") == "198.18.2.2 d2");
    const auto all = events.events();
    const Event restored = *std::find_if(all.begin(), all.end(),
                                         [](const Event& e) { return e.kind == "route_restored"; });
    CHECK(restored.reason == "drift");
    CHECK(restored.detail == "198.19.1.0/24: found no route; put back");

    sink.stop();
    CHECK(gateway_for("198.19.1.1") == "198.18.2.2 d2");  // stopping leaves the routes
    const LocalApplyStats st = sink.stats();
    CHECK(st.applied_version == 2);
    CHECK(st.restored == 1);
    CHECK(st.failures == 0);
    CHECK(events.count("apply_failed") == 0);
  });
}

TEST_CASE("local apply reports a conflicting route once and keeps retrying it") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    REQUIRE(run("ip route add 198.19.9.0/24 via 198.18.3.2 dev d3"));  // proto boot: not ours
    SystemClock clock;
    EventRecorder events;
    LocalApplySink sink(quick(), clock, events);
    sink.on_plan(versioned(7, {{"198.19.1.0/24", {hop("l1", "198.18.1.2", "d1")}},
                               {"198.19.9.0/24", {hop("l1", "198.18.1.2", "d1")}}}));
    REQUIRE(wait_for(events, "apply_failed"));
    const auto failed = events.events().back();
    CHECK(failed.reason == "conflict");
    CHECK(failed.detail.rfind("version 7: ", 0) == 0);
    // The other route still went in; retries at the reconcile cadence.
    CHECK(gateway_for("198.19.1.1") == "198.18.1.2 d1");
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (sink.stats().applies < 4 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    CHECK(sink.stats().applies >= 4);
    CHECK(events.count("apply_failed") == 1);

    // Once the other route is gone, the retry applies the plan.
    REQUIRE(run("ip route del 198.19.9.0/24"));
    REQUIRE(wait_for(events, "apply_ok"));
    CHECK(events.events().back().reason == "retried");
    CHECK(gateway_for("198.19.9.1") == "198.18.1.2 d1");
    CHECK(sink.stats().applied_version == 7);
  });
}

TEST_CASE("local apply applies the plan in force at start first") {
  SKIP_WITHOUT_LAB();
  RUN_IN_LAB([] {
    SystemClock clock;
    EventRecorder events;
    LocalApplySink sink(quick(), clock, events,
                        versioned(41, {{"198.19.1.0/24", {hop("l3", "198.18.3.2", "d3")}}}));
    REQUIRE(wait_for(events, "apply_ok"));
    CHECK(gateway_for("198.19.1.1") == "198.18.3.2 d3");
    CHECK(sink.stats().applied_version == 41);
  });
}

}  // namespace linewatch

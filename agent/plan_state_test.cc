// The failover's plan and version survive a restart through a real store,
// and a value that cannot be read any more means a fresh start, never a crash.
#include "agent/plan_state.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"
#include "exporters/plan_codec.h"
#include "tests/support/temp_dir.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<Store> open_store(const testing::TempDir& dir, const Clock& clock) {
  auto s = Store::open(dir.path(), StorageOptions{}, clock);
  REQUIRE_MESSAGE(s, s.error().message);
  return std::move(*s);
}

RoutePlan sample_plan(std::uint64_t version) {
  RoutePlan p;
  p.agent = "bj-gw-1";
  p.version = version;
  p.time = WallTime(std::chrono::milliseconds(1'800'000'000'123));  // the codec keeps ms
  p.routes = {{"198.19.255.0/24",
               {{"cn2-gia-1", "198.18.1.2", "eth1", 200}, {"cu-vip-2", "198.18.2.2", "", 55}}}};
  return p;
}

void save_raw(const testing::TempDir& dir, const Clock& clock, std::string_view key,
              std::string value) {
  auto store = open_store(dir, clock);
  REQUIRE(store->save_state(std::string(key), std::move(value)));
  REQUIRE(store->flush(10s));
}

}  // namespace

TEST_CASE("plan state: a first start loads nothing and warns of nothing") {
  testing::TempDir dir("linewatch-plan-state");
  FakeClock clock;
  auto store = open_store(dir, clock);
  const LoadedPlanState loaded = load_plan_state(*store);
  CHECK(loaded.start.last_version == 0);
  CHECK_FALSE(loaded.start.last_plan.has_value());
  CHECK(loaded.warnings.empty());
}

TEST_CASE("plan state: the newest plan and its version are loaded after a restart") {
  testing::TempDir dir("linewatch-plan-state");
  FakeClock clock;
  {
    auto store = open_store(dir, clock);
    PlanStateSink sink(*store);
    sink.on_plan(sample_plan(6));
    sink.on_plan(sample_plan(7));
    REQUIRE(store->flush(10s));
  }
  auto reopened = open_store(dir, clock);
  const LoadedPlanState loaded = load_plan_state(*reopened);
  CHECK(loaded.warnings.empty());
  CHECK(loaded.start.last_version == 7);
  REQUIRE(loaded.start.last_plan.has_value());
  CHECK(*loaded.start.last_plan == sample_plan(7));  // agent, panic and routes
  CHECK(loaded.start.last_plan->version == 7);
  CHECK(loaded.start.last_plan->time == sample_plan(7).time);
}

TEST_CASE("plan state: a corrupt plan keeps the saved version and starts without the plan") {
  testing::TempDir dir("linewatch-plan-state");
  FakeClock clock;
  save_raw(dir, clock, kPlanVersionStateKey, "12");
  save_raw(dir, clock, kPlanStateKey, R"({"agent":"bj-gw-1","version":)");
  auto store = open_store(dir, clock);
  const LoadedPlanState loaded = load_plan_state(*store);
  CHECK(loaded.start.last_version == 12);
  CHECK_FALSE(loaded.start.last_plan.has_value());
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0].find("agent state failover.plan: ") == 0);
  CHECK(loaded.warnings[0].find("starting without the last plan") != std::string::npos);
}

TEST_CASE("plan state: a corrupt version falls back to the plan's own version") {
  testing::TempDir dir("linewatch-plan-state");
  FakeClock clock;
  save_raw(dir, clock, kPlanStateKey, encode_plan(sample_plan(9)));
  save_raw(dir, clock, kPlanVersionStateKey, "9x");
  auto store = open_store(dir, clock);
  const LoadedPlanState loaded = load_plan_state(*store);
  CHECK(loaded.start.last_version == 9);
  REQUIRE(loaded.start.last_plan.has_value());
  CHECK(loaded.start.last_plan->version == 9);
  REQUIRE(loaded.warnings.size() == 1);
  CHECK(loaded.warnings[0] == "agent state failover.plan_version: not a version number, ignored");
}

TEST_CASE("plan state: versions continue from the larger of the two saved values") {
  testing::TempDir dir("linewatch-plan-state");
  FakeClock clock;
  // The store orders values per key only: after a crash either key may be ahead.
  save_raw(dir, clock, kPlanStateKey, encode_plan(sample_plan(4)));
  save_raw(dir, clock, kPlanVersionStateKey, "5");
  auto store = open_store(dir, clock);
  LoadedPlanState loaded = load_plan_state(*store);
  CHECK(loaded.start.last_version == 5);
  CHECK(loaded.start.last_plan->version == 4);
  REQUIRE(store->save_state(std::string(kPlanVersionStateKey), "3"));
  REQUIRE(store->flush(10s));
  loaded = load_plan_state(*store);
  CHECK(loaded.start.last_version == 4);
  CHECK(loaded.warnings.empty());
}

}  // namespace linewatch

#include "rules/planner.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

const std::string kPrefix = "198.19.255.0/24";

PlanLine line(std::string id, bool takes, double score, LineCondition cond = LineCondition::up,
              bool fresh = true) {
  std::string n = id.substr(id.size() - 1);
  return {id, takes, cond, score, "198.18." + n + ".2", "eth" + n, fresh};
}

std::vector<RouteSpec> one_route(RouteSpec::Policy policy) {
  return {{kPrefix, policy, {"l1", "l2", "l3"}}};
}

PlannerOptions options() { return {"bj-gw-1", 30s, 0.10}; }

std::vector<std::string> hop_lines(const RoutePlan& p, std::size_t route = 0) {
  std::vector<std::string> out;
  for (const auto& h : p.routes.at(route).nexthops) out.push_back(h.line);
  return out;
}

std::vector<std::uint32_t> hop_weights(const RoutePlan& p, std::size_t route = 0) {
  std::vector<std::uint32_t> out;
  for (const auto& h : p.routes.at(route).nexthops) out.push_back(h.weight);
  return out;
}

int count(const std::vector<Event>& events, const std::string& kind) {
  int n = 0;
  for (const auto& e : events) n += e.kind == kind;
  return n;
}

}  // namespace

TEST_CASE("plan equality ignores version and time") {
  RoutePlan a{"gw", 1, WallTime(1s), false, {{kPrefix, {{"l1", "198.18.1.2", "eth1", 1}}}}};
  RoutePlan b = a;
  b.version = 2;
  b.time = WallTime(2s);
  CHECK(a == b);
  b.routes[0].nexthops[0].weight = 2;
  CHECK_FALSE(a == b);
  b = a;
  b.panic = true;
  CHECK_FALSE(a == b);
}

TEST_CASE("primary-backup takes the first preferred line that takes traffic") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 41, {});
  auto events = p.update({line("l1", true, 0.5), line("l2", true, 0.9), line("l3", true, 0.7)},
                         {"l3", "l2", "l1"});
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l3"});
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{1});
  CHECK(p.plan().routes[0].nexthops[0].via == "198.18.3.2");
  CHECK(p.plan().routes[0].nexthops[0].dev == "eth3");
  CHECK(p.plan().version == 42);
  CHECK(p.plan().agent == "bj-gw-1");
  CHECK_FALSE(p.plan().panic);
  REQUIRE(count(events, "plan_new") == 1);
  CHECK(events.back().reason == "route_changed");

  // l3 stops taking traffic: the next preferred one.
  p.update({line("l1", true, 0.5), line("l2", true, 0.9), line("l3", false, 0.7)}, {"l2", "l1"});
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l2"});
  CHECK(p.plan().version == 43);
}

TEST_CASE("primary-backup without a ranking falls back to score") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 0, {});
  p.update({line("l1", true, 0.5), line("l2", true, 0.9), line("l3", true, 0.7)}, {});
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l2"});
  p.update({line("l1", true, 0.5), line("l2", true, 0.9), line("l3", true, 0.7)}, {"l1"});
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l1"});
}

TEST_CASE("planner makes a new version only on a real change") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 7, {});
  std::vector<PlanLine> in{line("l1", true, 0.9), line("l2", true, 0.5)};
  CHECK(count(p.update(in, {"l1", "l2"}), "plan_new") == 1);
  const auto time = p.plan().time;
  for (int i = 0; i < 50; ++i) {
    clock.advance(100ms);
    in[1].score = 0.5 + i * 0.001;  // a backup's score moves: no route changes
    CHECK(p.update(in, {"l1", "l2"}).empty());
  }
  CHECK(p.plan().version == 8);
  CHECK(p.plan().time == time);
}

TEST_CASE("weighted spreads over the lines that take traffic by score") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::weighted), 0, {});
  p.update({line("l1", true, 0.4), line("l2", true, 0.8), line("l3", false, 0.9)}, {});
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l1", "l2"});
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{128, 255});
  p.update({line("l1", true, 0.001), line("l2", true, 0.8), line("l3", true, 0.2)}, {});
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{1, 255, 64});  // never below 1
  p.update({line("l1", true, 0), line("l2", true, 0), line("l3", true, 0)}, {});
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{255, 255, 255});
  p.update({line("l1", false, 0.4), line("l2", true, 0.8), line("l3", false, 0.2)}, {});
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{1});  // one hop
}

TEST_CASE("weighted keeps weights while scores move inside the band") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::weighted), 0, {});
  p.update({line("l1", true, 0.4), line("l2", true, 0.8)}, {});
  const auto version = p.plan().version;
  CHECK(p.update({line("l1", true, 0.43), line("l2", true, 0.8)}, {}).empty());  // 137 vs 128
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{128, 255});
  CHECK(p.plan().version == version);
  p.update({line("l1", true, 0.6), line("l2", true, 0.8)}, {});  // 191: outside the band
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{191, 255});
  CHECK(p.plan().version == version + 1);
}

TEST_CASE("panic keeps the least bad line and says so once per episode") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 0, {});
  p.update({line("l1", true, 0.9), line("l2", true, 0.5), line("l3", true, 0.4)}, {"l1"});
  std::vector<PlanLine> dead{line("l1", false, 0.9, LineCondition::down),
                             line("l2", false, 0.1, LineCondition::degraded),
                             line("l3", false, 0.4, LineCondition::degraded)};
  auto events = p.update(dead, {});
  REQUIRE(p.plan().routes.size() == 1);
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l3"});  // degraded beats down
  CHECK(p.plan().panic);
  REQUIRE(count(events, "plan_panic") == 1);
  CHECK(events.front().reason == "all_lines_down");
  CHECK(events.front().line == "l3");
  CHECK(events.back().kind == "plan_new");
  CHECK(events.back().reason == "panic");

  // Still in panic, scores move: the kept line stays, no second event.
  dead[1].score = 0.8;
  for (int i = 0; i < 10; ++i) CHECK(p.update(dead, {}).empty());
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l3"});

  // A line up but in hold-down beats degraded ones.
  dead[0].condition = LineCondition::up;
  events = p.update(dead, {});
  CHECK(count(events, "plan_panic") == 0);
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l1"});

  // Recovery ends the episode; a new one is reported again.
  p.update({line("l1", true, 0.9), line("l2", true, 0.5), line("l3", true, 0.4)}, {"l1"});
  CHECK_FALSE(p.plan().panic);
  CHECK(count(p.update(dead, {}), "plan_panic") == 1);
}

TEST_CASE("panic between equally bad lines keeps the line already in use") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 0, {});
  p.update({line("l1", true, 0.5), line("l2", true, 0.9)}, {"l2"});
  p.update(
      {line("l1", false, 0.9, LineCondition::down), line("l2", false, 0.2, LineCondition::down)},
      {});
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l2"});
  CHECK(p.plan().panic);
}

TEST_CASE("panic with no input for any line keeps the previous next hops") {
  FakeClock clock;
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::weighted), 0, {});
  p.update({line("l1", true, 0.4), line("l2", true, 0.8)}, {});
  const auto before = p.plan().routes;
  auto events = p.update({}, {});
  CHECK(p.plan().routes == before);
  CHECK(p.plan().panic);
  REQUIRE(count(events, "plan_panic") == 1);
  CHECK(events.front().reason == "no_line_known");
}

TEST_CASE("startup keeps the plan in force until every line has fresh evidence") {
  FakeClock clock;
  RoutePlan start{
      "bj-gw-1", 90, WallTime(1s), false, {{kPrefix, {{"l2", "198.18.2.2", "eth2", 1}}}}};
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 12, start);
  CHECK(p.starting());
  // Health has not judged l2 and l3 yet; l1 looks best but nothing moves.
  std::vector<PlanLine> in{line("l1", true, 0.9), line("l2", false, 0, LineCondition::up, false),
                           line("l3", false, 0, LineCondition::up, false)};
  for (int i = 0; i < 10; ++i, clock.advance(1s)) CHECK(p.update(in, {"l1"}).empty());
  CHECK(p.plan() == start);
  CHECK(p.plan().version == 90);
  // Fresh evidence for all and l2 still the best: the plan stays, same version.
  in = {line("l1", true, 0.5), line("l2", true, 0.9), line("l3", true, 0.4)};
  CHECK(p.update(in, {"l2", "l1", "l3"}).empty());
  CHECK_FALSE(p.starting());
  CHECK(p.plan().version == 90);
  // Later changes continue from the larger of the two versions.
  p.update(in, {"l1", "l2", "l3"});
  CHECK(p.plan().version == 91);
}

TEST_CASE("startup ends early when a line of the kept plan is down") {
  FakeClock clock;
  RoutePlan start{
      "bj-gw-1", 5, WallTime(1s), false, {{kPrefix, {{"l2", "198.18.2.2", "eth2", 1}}}}};
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 5, start);
  p.update({line("l1", true, 0.9), line("l2", false, 0, LineCondition::down),
            line("l3", false, 0, LineCondition::up, false)},
           {"l1"});
  CHECK_FALSE(p.starting());
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l1"});
  CHECK(p.plan().version == 6);
}

TEST_CASE("startup ends after the grace period") {
  FakeClock clock;
  RoutePlan start{
      "bj-gw-1", 5, WallTime(1s), false, {{kPrefix, {{"l2", "198.18.2.2", "eth2", 1}}}}};
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::primary_backup), 0, start);
  std::vector<PlanLine> in{line("l1", true, 0.9), line("l2", true, 0.5, LineCondition::up, false)};
  clock.advance(29s);
  p.update(in, {"l1"});
  CHECK(p.starting());
  clock.advance(1s);
  p.update(in, {"l1"});
  CHECK_FALSE(p.starting());
  CHECK(hop_lines(p.plan()) == std::vector<std::string>{"l1"});
}

TEST_CASE("startup of a weighted plan ends without a version when weights stay inside the band") {
  FakeClock clock;
  RoutePlan start{"bj-gw-1",
                  20,
                  WallTime(1s),
                  false,
                  {{kPrefix,
                    {{"l1", "198.18.1.2", "eth1", 240},
                     {"l2", "198.18.2.2", "eth2", 255},
                     {"l3", "198.18.3.2", "eth3", 120}}}}};
  RoutePlanner p(clock, options(), one_route(RouteSpec::Policy::weighted), 20, start);
  // Ideal weights 255, 248 and 128: each within 10 % of the start plan's.
  std::vector<PlanLine> in{line("l1", true, 0.70), line("l2", true, 0.68), line("l3", true, 0.35)};
  CHECK(p.update(in, {}).empty());
  CHECK_FALSE(p.starting());
  CHECK(p.plan().version == 20);
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{240, 255, 120});
  // One weight leaves the band: a new version, the others kept.
  in[2].score = 0.42;  // ideal 153, 27 % above 120
  CHECK(count(p.update(in, {}), "plan_new") == 1);
  CHECK(p.plan().version == 21);
  CHECK(hop_weights(p.plan()) == std::vector<std::uint32_t>{240, 255, 153});
}

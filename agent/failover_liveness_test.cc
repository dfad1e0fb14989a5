// Which reflectors each failover line echoes, and the real liveness engine
// feeding a real failover on loopback.
#include "agent/failover_liveness.h"

#include <doctest/doctest.h>

#include <thread>

#include "agent/failover.h"
#include "agent/failover_test_support.h"

namespace linewatch {
namespace {

using namespace failover_test;
using namespace std::chrono_literals;

std::vector<std::string> ids(const LivenessLine& l) {
  std::vector<std::string> out;
  for (const auto& r : l.reflectors) out.push_back(r.id + "=" + r.address.host());
  return out;
}

}  // namespace

TEST_CASE("liveness reflectors come from the line, then liveness, then every icmp target") {
  Config c = two_lines();
  c.targets.push_back(icmp_target("edge2", "2001:db8::1"));
  c.targets.push_back(icmp_target("named", "edge.example.net"));
  c.lines.push_back(line_spec("l3", 3));  // in no route: not watched

  SUBCASE("the top-level list") {
    auto lines = liveness_lines(c);
    REQUIRE(lines.ok());
    REQUIRE(lines->size() == 2);
    CHECK((*lines)[0].line == "l1");
    CHECK((*lines)[0].binding.source == "198.18.1.1");
    CHECK(ids((*lines)[0]) == std::vector<std::string>{"edge=198.19.255.1"});
    CHECK(ids((*lines)[1]) == std::vector<std::string>{"edge=198.19.255.1"});
  }
  SUBCASE("a line's own options and reflectors") {
    LivenessOptions own = LivenessOptions::fast();
    own.reflectors = {"edge2"};
    c.lines[1].liveness = own;
    auto lines = liveness_lines(c);
    REQUIRE(lines.ok());
    CHECK(ids((*lines)[1]) == std::vector<std::string>{"edge2=2001:db8::1"});
    CHECK((*lines)[1].options.interval == 10ms);
    CHECK((*lines)[0].options.interval == 100ms);
  }
  SUBCASE("by default every target with an icmp address, names left out") {
    c.liveness.reflectors.clear();
    auto lines = liveness_lines(c);
    REQUIRE(lines.ok());
    CHECK(ids((*lines)[0]) == std::vector<std::string>{"edge=198.19.255.1", "edge2=2001:db8::1"});
  }
}

TEST_CASE("liveness reflectors that cannot be echoed are errors naming the key") {
  Config c = two_lines();
  c.targets.push_back(icmp_target("named", "edge.example.net"));
  SUBCASE("unknown target") {
    c.liveness.reflectors = {"nope"};
    auto lines = liveness_lines(c);
    REQUIRE_FALSE(lines.ok());
    CHECK(lines.error().message == "liveness.reflectors: unknown target nope");
  }
  SUBCASE("no icmp probe, in a line's own list") {
    LivenessOptions own;
    own.reflectors = {"api"};
    c.lines[1].liveness = own;
    auto lines = liveness_lines(c);
    REQUIRE_FALSE(lines.ok());
    CHECK(lines.error().message == "lines[1].liveness.reflectors: target api has no icmp probe");
  }
  SUBCASE("a name, not an address") {
    c.liveness.reflectors = {"named"};
    auto lines = liveness_lines(c);
    REQUIRE_FALSE(lines.ok());
    CHECK(lines.error().message ==
          "liveness.reflectors: target named: icmp host edge.example.net is a name; liveness "
          "needs an IP address");
  }
  SUBCASE("nothing to echo at all") {
    c.liveness.reflectors.clear();
    c.targets = {http_target("api", "https://198.19.255.2/"), c.targets.back()};
    auto lines = liveness_lines(c);
    REQUIRE_FALSE(lines.ok());
    CHECK(lines.error().message ==
          "line l1: no liveness reflector: set liveness.reflectors or add a target with an icmp "
          "address");
  }
}

TEST_CASE("failover fed by the real liveness engine on loopback plans a route") {
  Config c;
  c.agent.id = "loop";
  LineSpec l1 = line_spec("l1", 1), l2 = line_spec("l2", 2);
  l1.binding = {"127.0.0.1", "", std::nullopt};
  l2.binding = {"127.0.0.1", "", std::nullopt};
  LivenessOptions fast = LivenessOptions::fast();
  fast.reflectors = {"r1"};
  l1.liveness = fast;
  fast.reflectors = {"r2"};
  l2.liveness = fast;
  c.lines = {l1, l2};
  c.targets = {icmp_target("r1", "127.0.0.1"), icmp_target("r2", "127.0.0.2")};
  c.routes = {{kPrefix, RouteSpec::Policy::primary_backup, {"l1", "l2"}}};

  SystemClock clock;
  EventRecorder events;
  PlanRecorder plans;
  Failover failover(c, clock, events, {&plans});
  failover.start();
  EchoStream::Options echo;
  echo.kind = EchoSocket::Kind::raw;  // the tests run as root; ping sockets need ping_group_range
  auto engine = start_liveness(c, failover, echo);
  REQUIRE(engine.ok());

  FailoverSnapshot s;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < deadline) {
    s = failover.snapshot();
    if (!s.starting && !plans.plans().empty()) break;
    std::this_thread::sleep_for(10ms);
  }
  (*engine)->stop();
  failover.stop();

  REQUIRE(plans.plans().size() >= 1);
  const RoutePlan plan = plans.plans().back();
  CHECK_FALSE(plan.panic);
  REQUIRE(plan.routes.size() == 1);
  REQUIRE(plan.routes[0].nexthops.size() == 1);
  const std::string line = plan.routes[0].nexthops[0].line;
  CHECK((line == "l1" || line == "l2"));
  REQUIRE(s.lines.size() == 2);
  for (const FailoverLineView& l : s.lines) {
    CHECK(l.alive);
    CHECK(l.fresh);
    CHECK(l.rtt_median.has_value());
  }
  CHECK(s.counters.steps > 0);
  CHECK(s.counters.inputs > 0);
  CHECK(s.counters.inbox_dropped == 0);
  CHECK(events.count("line_down") == 0);
}

}  // namespace linewatch

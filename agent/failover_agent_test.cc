// The agent's failover wiring: off without routes (the status document is
// unchanged), and with routes and apply.table, liveness on loopback drives a
// plan into the kernel of a private network namespace and into the status.
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "agent/agent.h"
#include "agent/failover_test_support.h"
#include "exporters/route_apply_test_util.h"

namespace linewatch {
namespace {

namespace fs = std::filesystem;
using namespace failover_test;
using namespace std::chrono_literals;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "linewatch-failover-XXXXXX").string();
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Lines l1 (gateway 198.18.1.2 on d1) and l2 (198.18.2.2 on d2) whose
// liveness echoes loopback addresses, so they answer wherever lo is up.
Config loopback_config(const fs::path& data_dir) {
  Config c;
  c.agent.id = "agent-test";
  c.agent.listen = "127.0.0.1:0";
  c.agent.data_dir = data_dir.string();
  c.agent.workers = 1;
  LineSpec l1 = line_spec("l1", 1), l2 = line_spec("l2", 2);
  l1.binding = {"127.0.0.1", "", std::nullopt};
  l2.binding = {"127.0.0.1", "", std::nullopt};
  c.lines = {l1, l2};
  c.targets = {icmp_target("r1", "127.0.0.1"), icmp_target("r2", "127.0.0.2")};
  c.liveness = LivenessOptions::fast();
  return c;
}

Poco::JSON::Object::Ptr parse(const std::string& json) {
  return Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
}

}  // namespace

TEST_CASE("agent without routes runs no failover and shows none") {
  TempDir dir;
  SystemClock clock;
  auto agent = Agent::open(loopback_config(dir.path), clock);
  REQUIRE(agent.ok());
  auto doc = parse((*agent)->status_json());
  CHECK_FALSE(doc->has("failover"));
  CHECK(doc->has("series"));
  CHECK((*agent)->stop(1s));
}

TEST_CASE("agent with routes and apply puts its plan in the kernel and in the status") {
  SKIP_WITHOUT_LAB();
  TempDir dir;
  RUN_IN_LAB([&] {
    Config c = loopback_config(dir.path);
    c.lines[0].gateway = "198.18.1.2";
    c.lines[1].gateway = "198.18.2.2";
    c.routes = {{"198.19.7.0/24", RouteSpec::Policy::primary_backup, {"l1", "l2"}}};
    c.apply = ApplyOptions{"main"};
    SystemClock clock;
    auto agent = Agent::open(c, clock);
    REQUIRE(agent.ok());

    std::string gateway;
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
      gateway = route_test::gateway_for("198.19.7.1");
      if (gateway != "unreachable") break;
      std::this_thread::sleep_for(10ms);
    }
    // Both lines answer alike on loopback: either may lead, by score.
    CHECK((gateway == "198.18.1.2 d1" || gateway == "198.18.2.2 d2"));

    auto doc = parse((*agent)->status_json());
    REQUIRE(doc->has("failover"));
    auto failover = doc->getObject("failover");
    auto lines = failover->getArray("lines");
    REQUIRE(lines->size() == 2);
    auto l1 = lines->getObject(0);
    CHECK(l1->getValue<std::string>("line") == "l1");
    CHECK(l1->getValue<std::string>("state") == "up");
    CHECK(l1->has("since"));
    CHECK(l1->has("reason"));
    CHECK(l1->getValue<bool>("takes_traffic"));
    CHECK(l1->has("score"));
    auto plan = failover->getObject("plan");
    CHECK(plan->getValue<std::uint64_t>("version") == 1);
    auto routes = plan->getArray("routes");
    REQUIRE(routes->size() == 1);
    CHECK(routes->getObject(0)->getValue<std::string>("prefix") == "198.19.7.0/24");
    CHECK(failover->getObject("counters")->getValue<std::uint64_t>("inbox_dropped") == 0);
    CHECK((*agent)->stop(1s));
  });
}

}  // namespace linewatch

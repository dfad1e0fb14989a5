#include "agent/result_fanout.h"

#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace linewatch;

namespace {

ProbeResult result_for(std::string line) {
  ProbeResult r;
  r.line = std::move(line);
  r.target = "edge";
  r.ok = true;
  r.reason = Reason::ok;
  return r;
}

}  // namespace

TEST_CASE("the fan-out hands each result to every subscriber in subscription order") {
  ResultFanout fanout;
  std::vector<std::string> calls;
  REQUIRE(fanout.subscribe([&](const ProbeResult& r) { calls.push_back("board " + r.line); }));
  REQUIRE(fanout.subscribe([&](const ProbeResult& r) { calls.push_back("store " + r.line); }));
  CHECK(fanout.subscribers() == 2);
  fanout.publish(result_for("l1"));
  fanout.publish(result_for("l2"));
  CHECK(calls == std::vector<std::string>{"board l1", "store l1", "board l2", "store l2"});
}

TEST_CASE("the fan-out refuses a subscriber once results flow, and an empty one") {
  ResultFanout fanout;
  CHECK_FALSE(fanout.subscribe(nullptr));
  int first = 0, late = 0;
  REQUIRE(fanout.subscribe([&](const ProbeResult&) { ++first; }));
  fanout.publish(result_for("l1"));
  CHECK_FALSE(fanout.subscribe([&](const ProbeResult&) { ++late; }));
  fanout.publish(result_for("l1"));
  CHECK(first == 2);
  CHECK(late == 0);
  CHECK(fanout.subscribers() == 1);
}

TEST_CASE("the fan-out serves probe workers publishing at once") {
  ResultFanout fanout;
  std::atomic<int> a{0}, b{0};
  REQUIRE(fanout.subscribe([&](const ProbeResult&) { a.fetch_add(1); }));
  REQUIRE(fanout.subscribe([&](const ProbeResult&) { b.fetch_add(1); }));
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      const ProbeResult r = result_for("l1");
      for (int i = 0; i < 1000; ++i) fanout.publish(r);
    });
  }
  for (auto& t : workers) t.join();
  CHECK(a.load() == 4000);
  CHECK(b.load() == 4000);
}

#include "rules/destination.h"

#include <doctest/doctest.h>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  FakeClock clock;
  DestinationJudge judge{DestinationOptions{}, clock};

  // `n` rounds of `target` through `line`, now, all ending with `reason`.
  void rounds(const std::string& line, const std::string& target, Reason reason, int n = 3) {
    for (int i = 0; i < n; ++i) judge.record(line, target, reason);
  }
};

}  // namespace

TEST_CASE("destination: a target failing on every line while others answer is down") {
  Fixture f;
  for (const char* line : {"cn2", "cu"}) {
    f.rounds(line, "openai", Reason::timeout);
    f.rounds(line, "anthropic", Reason::ok);
  }
  auto events = f.judge.evaluate();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "destination_down");
  CHECK(events[0].target == "openai");
  CHECK(events[0].line == "");
  CHECK(events[0].reason == "all_lines_fail");
  CHECK(events[0].detail.find("cn2, cu") != std::string::npos);
  CHECK(events[0].time == f.clock.wall_now());
  CHECK(f.judge.is_down("openai"));
  CHECK(f.judge.down() == std::set<std::string>{"openai"});
  CHECK(f.judge.all_down({"openai"}));
  CHECK_FALSE(f.judge.all_down({"openai", "anthropic"}));
  CHECK_FALSE(f.judge.all_down({}));

  // Events only on change.
  f.clock.advance(1s);
  f.rounds("cn2", "openai", Reason::timeout);
  CHECK(f.judge.evaluate().empty());

  f.judge.record("cu", "openai", Reason::ok);
  events = f.judge.evaluate();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "destination_up");
  CHECK(events[0].reason == "answered");
  CHECK(events[0].detail == "answers again on cu");
  CHECK_FALSE(f.judge.is_down("openai"));
}

TEST_CASE("destination: a target that answers on another line is the failing line's problem") {
  Fixture f;
  f.rounds("cn2", "openai", Reason::timeout);
  f.rounds("cn2", "anthropic", Reason::ok);
  f.rounds("cu", "openai", Reason::ok);
  f.rounds("cu", "anthropic", Reason::ok);
  CHECK(f.judge.evaluate().empty());
  CHECK(f.judge.down().empty());
}

TEST_CASE("destination: a dead line blames no target") {
  Fixture f;
  for (const char* target : {"openai", "anthropic"}) f.rounds("cn2", target, Reason::unreachable);
  CHECK(f.judge.evaluate().empty());
  // With a second, healthy line, the dead one neither proves nor blocks a verdict.
  f.rounds("cu", "anthropic", Reason::ok);
  f.rounds("cu", "openai", Reason::refused);
  auto events = f.judge.evaluate();
  REQUIRE(events.size() == 1);
  CHECK(events[0].target == "openai");
}

TEST_CASE("destination: endpoint errors mean the path works, local errors mean nothing") {
  Fixture f;
  for (const char* line : {"cn2", "cu"}) {
    f.rounds(line, "openai", Reason::http_status);
    f.rounds(line, "gemini", Reason::body_mismatch);
    f.rounds(line, "anthropic", Reason::ok);
  }
  CHECK(f.judge.evaluate().empty());
  // bind failures leave the earlier evidence as it was: still answering.
  f.rounds("cn2", "openai", Reason::bind);
  f.rounds("cu", "openai", Reason::internal);
  CHECK(f.judge.evaluate().empty());
}

TEST_CASE("destination: fewer than confirm failures in a row decide nothing") {
  Fixture f;
  for (const char* line : {"cn2", "cu"}) {
    f.rounds(line, "anthropic", Reason::ok);
    f.rounds(line, "openai", Reason::timeout, 2);
  }
  CHECK(f.judge.evaluate().empty());
  f.judge.record("cu", "openai", Reason::timeout);
  CHECK(f.judge.evaluate().empty());  // cn2 still undecided
  f.judge.record("cn2", "openai", Reason::tls);
  CHECK(f.judge.evaluate().size() == 1);
}

TEST_CASE("destination: with one target there is nothing to compare against") {
  Fixture f;
  f.rounds("cn2", "openai", Reason::timeout);
  f.rounds("cu", "openai", Reason::timeout);
  CHECK(f.judge.evaluate().empty());
}

TEST_CASE("destination: stale evidence leaves the vote") {
  Fixture f;
  f.rounds("cn2", "openai", Reason::timeout);
  f.rounds("cn2", "anthropic", Reason::ok);
  REQUIRE(f.judge.evaluate().size() == 1);
  f.clock.advance(61s);
  auto events = f.judge.evaluate();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == "destination_up");
  CHECK(events[0].reason == "no_evidence");
}

TEST_CASE("destination: a held verdict survives a line that is not yet sure") {
  Fixture f;
  f.rounds("cn2", "openai", Reason::timeout);
  f.rounds("cn2", "anthropic", Reason::ok);
  REQUIRE(f.judge.evaluate().size() == 1);
  // A new line starts probing: its first failure does not bring the target back.
  f.rounds("cu", "openai", Reason::timeout, 1);
  CHECK(f.judge.evaluate().empty());
  CHECK(f.judge.is_down("openai"));
}

TEST_CASE("destination: deciding lasts from a first failure until confirm or an answer") {
  Fixture f;
  f.rounds("cn2", "anthropic", Reason::ok);
  CHECK_FALSE(f.judge.deciding("openai"));  // no evidence
  CHECK_FALSE(f.judge.deciding("anthropic"));
  CHECK(f.judge.failures_in_row("cn2", "anthropic") == 0);
  f.rounds("cn2", "openai", Reason::refused, 1);
  f.rounds("cu", "openai", Reason::refused, 1);
  CHECK(f.judge.deciding("openai"));
  CHECK(f.judge.failures_in_row("cn2", "openai") == 1);
  f.rounds("cn2", "openai", Reason::refused, 2);
  CHECK(f.judge.failures_in_row("cn2", "openai") == 3);
  CHECK(f.judge.deciding("openai"));  // cu is not sure yet
  f.judge.record("cu", "openai", Reason::ok);
  CHECK_FALSE(f.judge.deciding("openai"));
  CHECK(f.judge.failures_in_row("cu", "openai") == 0);
  f.clock.advance(61s);  // stale evidence is no failure
  CHECK(f.judge.failures_in_row("cn2", "openai") == 0);
}

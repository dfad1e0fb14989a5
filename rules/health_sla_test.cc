// LineHealth fed from LineQuality and DestinationJudge, as the agent will wire them.

#include <doctest/doctest.h>

#include <functional>
#include <map>

#include "core/fake_clock.h"
#include "rules/destination.h"
#include "rules/health.h"
#include "rules/quality.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

ProbeResult http_round(const std::string& line, const std::string& target, Reason reason) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::http;
  r.ok = reason == Reason::ok;
  r.reason = reason;
  return r;
}

// Lines, each with a quality window and a health machine, and one judge for all.
struct Agent {
  FakeClock clock;
  HealthOptions options;
  DestinationJudge judge{options.destination, clock};
  std::map<std::string, LineQuality> quality;
  std::map<std::string, LineHealth> health;
  std::vector<Event> events;

  explicit Agent(std::initializer_list<const char*> lines) {
    for (const char* l : lines) {
      quality.emplace(l, LineQuality(options.sla));
      health.emplace(std::piecewise_construct, std::forward_as_tuple(l),
                     std::forward_as_tuple(l, options, clock));
    }
  }
  void echo(const std::string& line, std::optional<Duration> rtt) {
    quality.at(line).add_echo("edge", clock.now(), rtt);
    judge.record(line, "edge", rtt ? PathOutcome::answered : PathOutcome::failed);
  }
  void round(const std::string& line, const std::string& target, Reason reason) {
    quality.at(line).add_round(http_round(line, target, reason), clock.now());
    judge.record(line, target, reason);
  }
  // One evaluation of everything, as the decision thread would run it.
  void evaluate(bool alive = true) {
    auto add = [this](std::vector<Event> e) { events.insert(events.end(), e.begin(), e.end()); };
    add(judge.evaluate());
    for (auto& [line, h] : health) {
      HealthInput in;
      in.alive = alive;
      in.silence_excused = judge.all_down({"edge"});
      in.breaches = quality.at(line).breaches(clock.now(), judge.down());
      add(h.evaluate(in));
    }
  }
  std::vector<std::string> kinds() const {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.kind + ":" + e.line + e.target + ":" + e.reason);
    return out;
  }
};

using Kinds = std::vector<std::string>;

}  // namespace

TEST_CASE("health with quality: each SLA figure degrades the line") {
  struct Case {
    std::string figure;
    std::function<std::optional<Duration>(int)> rtt;  // echo i's RTT, nullopt when lost
  };
  const Case cases[] = {
      {"loss", [](int i) { return i % 10 == 0 ? std::nullopt : std::optional<Duration>(150ms); }},
      {"rtt_p95", [](int i) { return std::optional<Duration>(i % 10 == 0 ? 500ms : 150ms); }},
      {"jitter", [](int i) { return std::optional<Duration>(i % 2 ? 150ms : 220ms); }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.figure);
    Agent a({"cn2"});
    for (int i = 0; i < 100; ++i) {
      a.clock.advance(100ms);
      a.echo("cn2", i < 20 ? std::optional<Duration>(150ms) : c.rtt(i));
      a.evaluate();
    }
    REQUIRE(a.events.size() == 1);
    CHECK(a.events[0].kind == "line_degraded");
    CHECK(a.events[0].reason == c.figure);
    CHECK(a.health.at("cn2").state() == LineState::degraded);
  }
}

TEST_CASE("health with quality: an endpoint down on every line degrades no line") {
  Agent a({"cn2", "cu"});
  for (int i = 0; i < 100; ++i) {
    a.clock.advance(100ms);
    for (const char* line : {"cn2", "cu"}) {
      a.echo(line, 150ms);
      if (i % 5 == 0) a.round(line, "openai", Reason::timeout);
    }
    a.evaluate();
  }
  CHECK(a.kinds() == Kinds{"destination_down:openai:all_lines_fail"});
  CHECK(a.health.at("cn2").takes_traffic());
  CHECK(a.health.at("cu").takes_traffic());
}

TEST_CASE("health with quality: an endpoint failing on one line degrades that line") {
  Agent a({"cn2", "cu"});
  for (int i = 0; i < 100; ++i) {
    a.clock.advance(100ms);
    for (const char* line : {"cn2", "cu"}) {
      a.echo(line, 150ms);
      if (i % 5 == 0)
        a.round(line, "openai", line == std::string("cn2") ? Reason::timeout : Reason::ok);
    }
    a.evaluate();
  }
  CHECK(a.kinds() == Kinds{"line_degraded:cn2:loss"});
  CHECK(a.health.at("cu").takes_traffic());
}

TEST_CASE("health with quality: API errors never count against a line") {
  Agent a({"cn2"});
  for (int i = 0; i < 100; ++i) {
    a.clock.advance(100ms);
    a.echo("cn2", 150ms);
    a.round("cn2", "openai", i % 2 ? Reason::http_status : Reason::body_mismatch);
    a.evaluate();
  }
  CHECK(a.events.empty());
}

TEST_CASE("health with quality: silence towards a reflector down everywhere is excused") {
  Agent a({"cn2", "cu"});
  for (int i = 0; i < 30; ++i) {
    a.clock.advance(100ms);
    for (const char* line : {"cn2", "cu"}) {
      a.echo(line, std::nullopt);  // the reflector itself stopped answering
      a.round(line, "openai", Reason::ok);
    }
    a.evaluate(/*alive=*/i < 10);
  }
  // The reflector was judged down before liveness gave up on it.
  CHECK(a.kinds() == Kinds{"destination_down:edge:all_lines_fail"});
  CHECK(a.health.at("cn2").state() == LineState::up);
}

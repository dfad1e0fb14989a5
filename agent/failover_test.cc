// Failover on a fake clock with synthetic inputs: no sockets, no sleeping.
// Each simulated liveness interval sends one echo per line to its reflector,
// feeds the replies of the lines that answer, ticks and runs one step.
#include "agent/failover.h"

#include <doctest/doctest.h>

#include <map>

#include "agent/failover_test_support.h"
#include "core/fake_clock.h"

namespace linewatch {
namespace {

using namespace failover_test;
using namespace std::chrono_literals;

class Sim {
 public:
  explicit Sim(Config config = two_lines(), FailoverStart start = {}, FailoverOptions options = {})
      : config_(std::move(config)),
        failover_(config_, clock_, events_, {&plans_}, std::move(start), options) {
    for (const LineSpec& l : config_.lines) answering_[l.id] = true;
    rtt_["l1"] = 20ms;
    rtt_["l2"] = 40ms;
  }

  // One liveness interval (100 ms): echoes, replies, a tick, a step.
  void interval() {
    const MonoTime sent = clock_.now();
    for (const auto& [line, answers] : answering_) {
      failover_.on_sent(line, "edge", seq_, sent);
      if (answers) failover_.on_reply(line, "edge", seq_, sent, sent + rtt_[line], rtt_[line]);
    }
    ++seq_;
    clock_.advance(config_.liveness.interval);
    failover_.on_tick(clock_.now());
    failover_.step();
  }
  void run_for(Duration d) {
    for (const MonoTime end = clock_.now() + d; clock_.now() < end;) interval();
  }
  // Runs intervals until pred() holds, at most `limit`; returns whether it did.
  template <class Pred>
  bool run_until(Pred pred, Duration limit) {
    for (const MonoTime end = clock_.now() + limit; clock_.now() < end;) {
      interval();
      if (pred()) return true;
    }
    return false;
  }
  // One HTTP round through `line` towards `target`.
  void round(const std::string& line, const std::string& target, Reason reason, int status = 0) {
    ProbeResult r;
    r.line = line;
    r.target = target;
    r.kind = ProbeKind::http;
    r.time = clock_.wall_now();
    r.ok = reason == Reason::ok;
    r.reason = reason;
    r.http_status = status;
    failover_.on_result(r);
  }

  // One LLM round through `line` towards `target`; `body_bytes` of the
  // response body arrived before it ended.
  void llm_round(const std::string& line, const std::string& target, Reason reason, int status,
                 std::uint64_t body_bytes = 0) {
    ProbeResult r;
    r.line = line;
    r.target = target;
    r.kind = ProbeKind::llm;
    r.time = clock_.wall_now();
    r.ok = reason == Reason::ok;
    r.reason = reason;
    r.http_status = status;
    r.llm = LlmFigures{};
    r.llm->mode = LlmMode::completion;
    r.llm->stream_bytes = body_bytes;
    failover_.on_result(r);
  }

  void answers(const std::string& line, bool on) { answering_[line] = on; }
  std::string primary() const {
    const auto plans = plans_.plans();
    if (plans.empty() || plans.back().routes.empty()) return "";
    return plans.back().routes.front().nexthops.front().line;
  }

  FakeClock clock_;
  Config config_;
  EventRecorder events_;
  PlanRecorder plans_;
  Failover failover_;
  std::map<std::string, bool> answering_;
  std::map<std::string, Duration> rtt_;
  std::uint64_t seq_ = 0;
};

std::vector<Event> of_kind(const std::vector<Event>& events, const std::string& kind) {
  std::vector<Event> out;
  for (const Event& e : events)
    if (e.kind == kind) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("failover with every line healthy plans the route on the preferred line") {
  Sim sim;
  CHECK(sim.failover_.active());
  sim.interval();
  const auto plans = sim.plans_.plans();
  REQUIRE(plans.size() == 1);
  CHECK(plans[0].version == 1);
  CHECK(plans[0].agent == "bj-gw-1");
  CHECK_FALSE(plans[0].panic);
  REQUIRE(plans[0].routes.size() == 1);
  CHECK(plans[0].routes[0].prefix == kPrefix);
  CHECK(plans[0].routes[0].nexthops == std::vector<NextHop>{{"l1", "198.18.1.2", "d1", 1}});

  sim.run_for(40s);
  CHECK(sim.plans_.plans().size() == 1);  // calm: no new version while nothing changes
  CHECK(sim.events_.count("plan_new") == 1);
  CHECK(sim.events_.count("line_down") == 0);
  CHECK(sim.events_.count("line_degraded") == 0);

  const FailoverSnapshot s = sim.failover_.snapshot();
  REQUIRE(s.lines.size() == 2);
  CHECK(s.lines[0].line == "l1");
  CHECK(s.lines[0].state == LineState::up);
  CHECK(s.lines[0].takes_traffic);
  CHECK(s.lines[0].score > s.lines[1].score);  // 20 ms against 40 ms
  CHECK(s.lines[0].rtt_median == 20ms);
  CHECK(s.plan.version == 1);
  CHECK_FALSE(s.starting);
  CHECK(s.preferred == std::vector<std::string>{"l1", "l2"});
  CHECK(s.counters.steps == 401);
  CHECK(s.counters.inbox_dropped == 0);
}

TEST_CASE(
    "failover moves the route to line 2 in the tick where line 1 has been silent for detect") {
  Sim sim;
  sim.run_for(3s);
  REQUIRE(sim.primary() == "l1");
  sim.answers("l1", false);
  const MonoTime last_reply = sim.clock_.now() - 100ms + sim.rtt_["l1"];
  const Duration detect = sim.config_.liveness.detect;

  REQUIRE(sim.run_until([&] { return sim.primary() == "l2"; }, 5s));
  const Duration took = sim.clock_.now() - last_reply;
  CHECK(took >= detect);
  CHECK(took < detect + sim.config_.liveness.interval);  // within one tick of the silence

  const auto kinds = sim.events_.kinds();
  const auto down = std::find(kinds.begin(), kinds.end(), "line_down:l1");
  REQUIRE(down != kinds.end());
  CHECK(std::find(down, kinds.end(), "plan_new") != kinds.end());
  const auto events = sim.events_.events();
  const Event line_down = of_kind(events, "line_down").front();
  CHECK(line_down.reason == "silence");
  const Event moved = of_kind(events, "plan_new").back();
  CHECK(moved.time == line_down.time);  // the same step
  CHECK(sim.plans_.plans().back().version == 2);
  CHECK_FALSE(sim.plans_.plans().back().panic);
}

TEST_CASE("failover brings line 1 back only after rise and hold-down") {
  Config config = two_lines();
  config.scoring.margin_for = 0s;  // isolate health: the better line may lead at once
  Sim sim(config);
  sim.run_for(3s);
  sim.answers("l1", false);
  REQUIRE(sim.run_until([&] { return sim.primary() == "l2"; }, 5s));
  sim.run_for(3s);
  sim.answers("l1", true);
  const MonoTime restored = sim.clock_.now();

  REQUIRE(sim.run_until([&] { return sim.primary() == "l1"; }, 120s));
  const MonoTime back = sim.clock_.now();
  CHECK(back - restored >= config.health.hold_down);

  const auto events = sim.events_.events();
  const auto started = of_kind(events, "hold_down_started");
  const auto ended = of_kind(events, "hold_down_ended");
  REQUIRE(started.size() == 1);
  REQUIRE(ended.size() == 1);
  CHECK(started[0].line == "l1");
  CHECK(started[0].reason == "rise");
  CHECK(ended[0].time - started[0].time >= config.health.hold_down);
  CHECK(of_kind(events, "plan_new").back().time == ended[0].time);  // back in that very step
  CHECK(sim.plans_.plans().size() == 3);
}

TEST_CASE("failover charges one flap penalty for a short cut of the fast profile") {
  Config config = two_lines();
  config.liveness = LivenessOptions::fast();  // 10 ms echoes, down after 100 ms of silence
  config.liveness.reflectors = {"edge"};
  config.health.min_dwell = 0s;  // the rise alone brings the line back
  Sim sim(config);
  sim.run_for(5s);
  REQUIRE(sim.primary() == "l1");
  sim.answers("l1", false);
  sim.run_for(1s);  // 100 echoes lost: 3 % of the 30 s window, above the 2 % loss SLA
  sim.answers("l1", true);
  const WallTime restored = sim.clock_.wall_now();
  sim.run_for(20s);

  const auto events = sim.events_.events();
  CHECK(sim.events_.count("line_down") == 1);
  CHECK(sim.events_.count("line_degraded") == 0);  // the outage's losses are not held against it
  const auto up = of_kind(events, "line_up");
  REQUIRE(up.size() == 1);
  CHECK(up[0].line == "l1");
  CHECK(of_kind(events, "hold_down_started").size() == 1);
  // The rise counts seconds, not 10 ms decision steps.
  CHECK(up[0].time - restored >= 2s);
  const FailoverSnapshot s = sim.failover_.snapshot();
  REQUIRE(s.lines.size() == 2);
  CHECK(s.lines[0].line == "l1");
  CHECK(s.lines[0].penalty < 1000);  // one failure, decaying since the line came back up
}

TEST_CASE("failover with every line silent keeps a hop in a panic plan and says so once") {
  Sim sim;
  sim.run_for(3s);
  sim.answers("l1", false);
  sim.answers("l2", false);
  sim.run_for(5s);

  const auto plans = sim.plans_.plans();
  REQUIRE(plans.size() == 2);
  CHECK(plans.back().panic);
  REQUIRE(plans.back().routes.size() == 1);
  CHECK(plans.back().routes[0].nexthops == std::vector<NextHop>{{"l1", "198.18.1.2", "d1", 1}});
  CHECK(sim.events_.count("line_down") == 2);
  CHECK(sim.events_.count("plan_panic") == 1);
  const Event panic = of_kind(sim.events_.events(), "plan_panic").front();
  CHECK(panic.reason == "all_lines_down");
  CHECK(panic.line == "l1");

  sim.run_for(5s);
  CHECK(sim.events_.count("plan_panic") == 1);  // one per episode
  CHECK(sim.plans_.plans().size() == 2);
}

TEST_CASE("failover ignores HTTP 429 and 500 answers on every line") {
  Sim sim;
  sim.run_for(30s);
  for (int i = 0; i < 40; ++i) {
    for (const char* line : {"l1", "l2"}) {
      sim.round(line, "api", Reason::http_status, i % 2 ? 429 : 500);
      sim.round(line, "edge", Reason::ok);
    }
    sim.run_for(1s);
  }
  CHECK(sim.events_.count("line_degraded") == 0);
  CHECK(sim.events_.count("line_down") == 0);
  CHECK(sim.events_.count("destination_down") == 0);
  CHECK(sim.plans_.plans().size() == 1);
  CHECK(sim.primary() == "l1");
}

// The LLM API's answers are the endpoint's: a line that carries 401s, 429s
// and 5xx to one target, while the other line gets answers, stays healthy.
// The same rounds failing for a network reason (a stall before any byte)
// degrade it, so the test can tell.
TEST_CASE("failover never marks a line unhealthy for LLM API errors on it alone") {
  struct Case {
    const char* name;
    Reason reason;
    int status;
    std::uint64_t body_bytes;
    bool degrades;
  };
  const Case cases[] = {
      {"401 auth", Reason::auth, 401, 120, false},
      {"403 auth", Reason::auth, 403, 80, false},
      {"429 rate limited", Reason::rate_limited, 429, 90, false},
      {"500 server error", Reason::server_error, 500, 60, false},
      {"503 server error", Reason::server_error, 503, 0, false},
      {"unparseable answer", Reason::bad_response, 200, 30, false},
      {"model missing", Reason::model_missing, 200, 400, false},
      {"stall after the body began", Reason::stream_stall, 200, 250, false},
      {"stall before any byte", Reason::stream_stall, 0, 0, true},
      {"timeout", Reason::timeout, 0, 0, true},
  };
  for (const Case& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    Sim sim;
    sim.run_for(30s);
    for (int i = 0; i < 40; ++i) {
      sim.llm_round("l1", "api", c.reason, c.status, c.body_bytes);
      sim.llm_round("l2", "api", Reason::ok, 200, 300);
      sim.run_for(1s);
    }
    CHECK(sim.events_.count("destination_down") == 0);
    CHECK(sim.events_.count("line_down") == 0);
    if (c.degrades) {
      CHECK(sim.events_.count("line_degraded") == 1);
      CHECK(sim.primary() == "l2");
    } else {
      CHECK(sim.events_.count("line_degraded") == 0);
      CHECK(sim.plans_.plans().size() == 1);
      CHECK(sim.primary() == "l1");
    }
  }
}

TEST_CASE("failover blames a target that fails on every line, not the lines") {
  Sim sim;
  sim.run_for(30s);  // a full SLA window of answered echoes
  for (int i = 0; i < 40; ++i) {
    for (const char* line : {"l1", "l2"}) {
      sim.round(line, "api", Reason::timeout);
      sim.round(line, "edge", Reason::ok);
    }
    sim.run_for(1s);
  }
  const auto downs = of_kind(sim.events_.events(), "destination_down");
  REQUIRE(downs.size() == 1);
  CHECK(downs[0].target == "api");
  CHECK(sim.events_.count("line_degraded") == 0);
  CHECK(sim.events_.count("line_down") == 0);
  CHECK(sim.plans_.plans().size() == 1);
  CHECK(sim.failover_.snapshot().destinations_down == std::vector<std::string>{"api"});
}

// At start the SLA window holds few samples (20 echoes at 2 s with the default
// 100 ms interval): one round refused by a closed port, counted as a loss
// before the judge can blame the port, is 1 in 21 (4.8 % > 2 %) and used to
// degrade every line, leaving the route in panic.
TEST_CASE("failover at start does not degrade lines for a target refused on every line") {
  Sim sim;
  for (int i = 0; i < 10; ++i) {  // l2's rounds half a second after l1's
    for (const char* line : {"l1", "l2"}) {
      sim.round(line, "api", Reason::refused);
      sim.round(line, "edge", Reason::ok);
      sim.run_for(500ms);
    }
  }
  const auto downs = of_kind(sim.events_.events(), "destination_down");
  REQUIRE(downs.size() == 1);
  CHECK(downs[0].target == "api");
  CHECK(sim.events_.count("line_degraded") == 0);
  CHECK(sim.events_.count("plan_panic") == 0);
  REQUIRE(sim.plans_.plans().size() == 1);
  CHECK(sim.primary() == "l1");
}

// The hold waits for the judge, it does not hide a line's own failures.
TEST_CASE("failover at start still degrades the one line a target is refused on") {
  Sim sim;
  bool degraded = false;
  for (int i = 0; i < 10 && !degraded; ++i) {
    sim.round("l1", "api", Reason::refused);
    sim.round("l2", "api", Reason::ok);
    sim.run_for(1s);
    degraded = sim.events_.count("line_degraded") > 0;
  }
  const auto degrades = of_kind(sim.events_.events(), "line_degraded");
  REQUIRE(degrades.size() == 1);
  CHECK(degrades[0].line == "l1");
  CHECK(degrades[0].reason == "loss");
  CHECK(sim.events_.count("destination_down") == 0);
  CHECK(sim.primary() == "l2");
}

// The decision thread steps on its own timer when no tick comes. While the
// engine's loop lags (a busy host, a suspended process), replies the kernel
// received in time wait unread: the echoes must not be judged missed before
// the engine has read what came before them.
TEST_CASE("failover does not count replies read late after the engine stalled as loss") {
  Sim sim;
  sim.run_for(3s);
  const MonoTime sent = sim.clock_.now();
  for (const char* line : {"l1", "l2"}) sim.failover_.on_sent(line, "edge", sim.seq_, sent);
  for (int i = 0; i < 15; ++i) {  // 1.5 s of steps without a tick
    sim.clock_.advance(100ms);
    sim.failover_.step();
  }
  for (const char* line : {"l1", "l2"})
    sim.failover_.on_reply(line, "edge", sim.seq_, sent, sent + sim.rtt_[line], sim.rtt_[line]);
  ++sim.seq_;
  sim.failover_.on_tick(sim.clock_.now());
  sim.failover_.step();
  sim.run_for(2s);  // past the next quality refresh
  const FailoverSnapshot s = sim.failover_.snapshot();
  REQUIRE(s.lines.size() == 2);
  for (const FailoverLineView& v : s.lines) {
    INFO(v.line);
    CHECK(v.loss == 0);
  }
  CHECK(sim.events_.count("line_degraded") == 0);
}

TEST_CASE("failover after a restart keeps the last plan and version until there is evidence") {
  RoutePlan last;
  last.agent = "bj-gw-1";
  last.version = 41;
  last.routes = {{kPrefix, {{"l1", "198.18.1.2", "d1", 1}}}};
  Sim sim(two_lines(), FailoverStart{41, last});

  // No evidence yet: ticks alone change nothing.
  for (int i = 0; i < 5; ++i) {
    sim.clock_.advance(100ms);
    sim.failover_.on_tick(sim.clock_.now());
    sim.failover_.step();
  }
  FailoverSnapshot s = sim.failover_.snapshot();
  CHECK(s.starting);
  CHECK(s.plan.version == 41);
  CHECK(sim.plans_.plans().empty());

  // Evidence on every line, pointing where the last plan did: still no churn.
  sim.run_for(5s);
  s = sim.failover_.snapshot();
  CHECK_FALSE(s.starting);
  CHECK(s.plan.version == 41);
  CHECK(sim.plans_.plans().empty());
  CHECK(sim.events_.count("plan_new") == 0);

  // Then real news makes the next version.
  sim.answers("l1", false);
  REQUIRE(sim.run_until([&] { return sim.primary() == "l2"; }, 5s));
  CHECK(sim.plans_.plans().back().version == 42);
}

namespace {

// The plan in force before a restart: the test route on `line` alone.
FailoverStart saved_on(const std::string& line, int n) {
  RoutePlan last;
  last.agent = "bj-gw-1";
  last.version = 41;
  last.routes = {
      {kPrefix, {{line, "198.18." + std::to_string(n) + ".2", "d" + std::to_string(n), 1}}}};
  return FailoverStart{41, last};
}

}  // namespace

TEST_CASE(
    "failover after a restart keeps the saved primary while the other line leads inside the "
    "margin") {
  Sim sim(two_lines(), saved_on("l2", 2));
  sim.rtt_["l2"] = 21ms;  // l1 scores about 3 % better: inside the 10 % band
  sim.run_for(5s);
  FailoverSnapshot s = sim.failover_.snapshot();
  REQUIRE_FALSE(s.starting);
  REQUIRE(s.lines.size() == 2);
  REQUIRE(s.lines[0].score > s.lines[1].score);
  REQUIRE(s.lines[0].score < s.lines[1].score * (1 + sim.config_.scoring.margin));
  CHECK(s.plan.version == 41);  // the end of startup made no version
  CHECK(s.plan.routes.at(0).nexthops.at(0).line == "l2");
  CHECK(s.preferred == std::vector<std::string>{"l2", "l1"});
  CHECK(sim.plans_.plans().empty());
  CHECK(sim.events_.count("plan_new") == 0);

  sim.run_for(60s);  // a lead inside the margin never moves the route
  s = sim.failover_.snapshot();
  CHECK(s.plan.version == 41);
  CHECK(s.preferred == std::vector<std::string>{"l2", "l1"});
  CHECK(sim.plans_.plans().empty());
}

TEST_CASE(
    "failover after a restart moves off the saved primary once the other line held the margin") {
  Sim sim(two_lines(), saved_on("l2", 2));
  sim.rtt_["l2"] = 21ms;
  sim.run_for(5s);
  REQUIRE(sim.failover_.snapshot().plan.version == 41);
  sim.rtt_["l2"] = 40ms;  // l1 now about 27 % better once the median follows
  const double margin = sim.config_.scoring.margin;
  REQUIRE(sim.run_until(
      [&] {
        const FailoverSnapshot s = sim.failover_.snapshot();
        return s.lines[0].score > s.lines[1].score * (1 + margin);
      },
      60s));
  const MonoTime beating = sim.clock_.now();
  CHECK(sim.primary() == "");  // still the saved plan: nothing handed over
  REQUIRE(sim.run_until([&] { return sim.primary() == "l1"; }, 60s));
  const Duration took = sim.clock_.now() - beating;
  CHECK(took >= sim.config_.scoring.margin_for);
  CHECK(took <= sim.config_.scoring.margin_for + 1s);  // scores refresh every second
  CHECK(sim.plans_.plans().back().version == 42);
  const auto moved = of_kind(sim.events_.events(), "score_moved");
  REQUIRE_FALSE(moved.empty());
  CHECK(moved.back().reason == "margin_held");
  CHECK(moved.back().line == "l1");
}

TEST_CASE("failover after a restart fails over at once when the saved primary is down") {
  Sim sim(two_lines(), saved_on("l2", 2));
  sim.rtt_["l2"] = 21ms;
  sim.answers("l2", false);
  REQUIRE(sim.run_until([&] { return sim.primary() == "l1"; }, 3s));
  const auto events = sim.events_.events();
  const auto down = of_kind(events, "line_down");
  REQUIRE(down.size() == 1);
  CHECK(down[0].line == "l2");
  CHECK(of_kind(events, "plan_new").back().time == down[0].time);  // in that very step
  CHECK(sim.plans_.plans().back().version == 42);
  CHECK(sim.failover_.snapshot().preferred == std::vector<std::string>{"l1"});
}

TEST_CASE("failover after a restart ignores a saved line that is no longer configured") {
  Sim sim(two_lines(), saved_on("l9", 9));
  sim.rtt_["l2"] = 21ms;
  sim.run_for(5s);
  const FailoverSnapshot s = sim.failover_.snapshot();
  CHECK_FALSE(s.starting);
  CHECK(s.preferred == std::vector<std::string>{"l1", "l2"});  // by score, as on a first start
  CHECK(sim.primary() == "l1");
  REQUIRE(sim.plans_.plans().size() == 1);
  CHECK(sim.plans_.plans().back().version == 42);
}

TEST_CASE("failover without a saved plan orders lines inside the margin by score") {
  Sim sim;
  sim.rtt_["l2"] = 21ms;
  sim.run_for(5s);
  CHECK(sim.primary() == "l1");
  CHECK(sim.plans_.plans().size() == 1);
  CHECK(sim.failover_.snapshot().preferred == std::vector<std::string>{"l1", "l2"});
}

TEST_CASE("failover after a restart keeps saved weights that differ by less than the band") {
  Config config = two_lines();
  config.routes[0].policy = RouteSpec::Policy::weighted;
  // Scores 0.700 (20 ms) and 0.681 (21 ms): weights 255 and round(255 * 0.681 / 0.7) = 248.
  RoutePlan last;
  last.agent = "bj-gw-1";
  last.version = 41;
  last.routes = {{kPrefix, {{"l1", "198.18.1.2", "d1", 240}, {"l2", "198.18.2.2", "d2", 255}}}};

  SUBCASE("weights inside the band are kept, with no new version") {
    Sim sim(config, FailoverStart{41, last});
    sim.rtt_["l2"] = 21ms;
    sim.run_for(40s);  // past startup_grace
    const FailoverSnapshot s = sim.failover_.snapshot();
    CHECK_FALSE(s.starting);
    CHECK(s.plan.version == 41);
    CHECK(s.plan == last);
    CHECK(sim.plans_.plans().empty());
  }
  SUBCASE("a weight outside the band makes one new version") {
    last.routes[0].nexthops[1].weight = 200;  // 248 is 24 % above it
    Sim sim(config, FailoverStart{41, last});
    sim.rtt_["l2"] = 21ms;
    sim.run_for(40s);
    const auto plans = sim.plans_.plans();
    REQUIRE(plans.size() == 1);
    CHECK(plans[0].version == 42);
    REQUIRE(plans[0].routes.size() == 1);
    const auto& hops = plans[0].routes[0].nexthops;
    REQUIRE(hops.size() == 2);
    CHECK(hops[0].weight == 240);  // 255 is within 10 % of 240: kept
    CHECK(hops[1].weight == 248);
  }
}

TEST_CASE("failover without a last plan waits for evidence on every line") {
  Sim sim;
  sim.answers("l2", false);
  sim.interval();
  CHECK(sim.plans_.plans().empty());  // l2 has neither answered nor been declared silent
  CHECK(sim.failover_.snapshot().starting);
  // Silent at start: detect + miss_timeout, then the first plan, without l2.
  REQUIRE(sim.run_until([&] { return !sim.plans_.plans().empty(); }, 3s));
  CHECK(sim.primary() == "l1");
  CHECK(sim.plans_.plans().front().version == 1);
}

TEST_CASE("failover counts inputs a full inbox drops and never blocks the caller") {
  FailoverOptions options;
  options.inbox_capacity = 8;
  Sim sim(two_lines(), {}, options);
  for (std::uint64_t i = 0; i < 20; ++i) sim.failover_.on_sent("l1", "edge", i, sim.clock_.now());
  CHECK(sim.failover_.snapshot().counters.inbox_dropped == 12);
  sim.failover_.step();
  FailoverSnapshot s = sim.failover_.snapshot();
  CHECK(s.counters.inputs == 8);
  CHECK(s.counters.inbox_dropped == 12);
  sim.failover_.on_sent("l1", "edge", 21, sim.clock_.now());  // room again
  sim.failover_.step();
  CHECK(sim.failover_.snapshot().counters.inputs == 9);
  CHECK(sim.failover_.snapshot().counters.inbox_dropped == 12);
}

TEST_CASE("failover counts echoes of lines it does not watch and ignores their rounds") {
  Config config = two_lines();
  config.lines.push_back(line_spec("l3", 3));  // in no route
  Sim sim(config);
  sim.failover_.on_sent("l3", "edge", 1, sim.clock_.now());
  sim.failover_.on_sent("nope", "edge", 1, sim.clock_.now());
  sim.round("l3", "api", Reason::timeout);
  sim.failover_.step();
  const FailoverSnapshot s = sim.failover_.snapshot();
  CHECK(s.counters.unknown_line == 2);
  CHECK(s.counters.inputs == 0);
  CHECK(s.lines.size() == 2);
}

TEST_CASE("failover scores a busy line below an idle one from bandwidth samples") {
  Config config = two_lines();
  config.lines[0].capacity_bps = 100'000'000;
  config.lines[1].capacity_bps = 100'000'000;
  Sim sim(config);
  sim.rtt_["l2"] = 20ms;  // equal latency: only load and bandwidth differ
  sim.failover_.on_bandwidth("l1", 90'000'000, 10'000'000, 0.9);
  sim.failover_.on_bandwidth("l2", 10'000'000, 5'000'000, 0.1);
  sim.run_for(1s);
  const FailoverSnapshot s = sim.failover_.snapshot();
  REQUIRE(s.lines.size() == 2);
  CHECK(s.lines[0].score < s.lines[1].score);
  // Stale samples stop counting: the two lines score alike again.
  sim.run_for(31s);
  const FailoverSnapshot later = sim.failover_.snapshot();
  CHECK(later.lines[0].score == doctest::Approx(later.lines[1].score));
}

TEST_CASE("failover hands each new plan to every plan sink") {
  FakeClock clock;
  EventRecorder events;
  PlanRecorder a, b;
  const Config config = two_lines();
  Failover f(config, clock, events, {&a, &b});
  const MonoTime t = clock.now();
  for (const char* line : {"l1", "l2"}) {
    f.on_sent(line, "edge", 0, t);
    f.on_reply(line, "edge", 0, t, t + 10ms, 10ms);
  }
  clock.advance(100ms);
  f.on_tick(clock.now());
  f.step();
  REQUIRE(a.plans().size() == 1);
  REQUIRE(b.plans().size() == 1);
  CHECK(a.plans()[0] == b.plans()[0]);
  CHECK(a.plans()[0].version == b.plans()[0].version);
}

TEST_CASE("failover without routes is inactive and ignores its inputs") {
  FakeClock clock;
  EventRecorder events;
  PlanRecorder plans;
  Config config = two_lines();
  config.routes.clear();
  Failover f(config, clock, events, {&plans});
  CHECK_FALSE(f.active());
  f.start();  // no thread
  f.on_tick(clock.now());
  f.step();
  CHECK(plans.plans().empty());
  CHECK(f.snapshot().lines.empty());
  CHECK(f.snapshot().counters.inputs == 0);
}

}  // namespace linewatch

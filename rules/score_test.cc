#include "rules/score.h"

#include <doctest/doctest.h>

#include <cmath>

#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kMbps = 1'000'000;

LineUsage usage(std::string line, std::optional<Duration> rtt, std::optional<std::uint64_t> cap,
                std::optional<std::uint64_t> used) {
  return {std::move(line), rtt, cap, used};
}

std::vector<LineScore> scores(std::initializer_list<std::pair<const char*, double>> list) {
  std::vector<LineScore> out;
  for (auto [line, s] : list) out.push_back({line, s, 0, 0, 0});
  return out;
}

std::vector<std::string> names(std::initializer_list<const char*> list) {
  return {list.begin(), list.end()};
}

}  // namespace

TEST_CASE("score parts are normalised against the best line") {
  auto s = score_lines(
      {usage("a", 100ms, 1000 * kMbps, 500 * kMbps), usage("b", 200ms, 500 * kMbps, 100 * kMbps),
       usage("c", std::nullopt, std::nullopt, std::nullopt)},
      ScoringWeights{});
  REQUIRE(s.size() == 3);
  CHECK(s[0].line == "a");
  CHECK(s[0].latency == doctest::Approx(1.0));
  CHECK(s[0].load == doctest::Approx(0.5));
  CHECK(s[0].bandwidth == doctest::Approx(1.0));  // 500 Mbps headroom is the most
  CHECK(s[1].latency == doctest::Approx(0.5));    // twice as slow
  CHECK(s[1].load == doctest::Approx(0.8));
  CHECK(s[1].bandwidth == doctest::Approx(0.8));  // 400 of 500 Mbps headroom
  CHECK(s[2].latency == doctest::Approx(0.0));    // no RTT evidence
  CHECK(s[2].load == doctest::Approx(0.5));       // unknown capacity: neutral
  CHECK(s[2].bandwidth == doctest::Approx(0.5));
  CHECK(s[0].score == doctest::Approx(0.4 * 1.0 + 0.3 * 0.5 + 0.3 * 1.0));
  CHECK(s[1].score == doctest::Approx(0.4 * 0.5 + 0.3 * 0.8 + 0.3 * 0.8));
  CHECK(s[2].score == doctest::Approx(0.3 * 0.5 + 0.3 * 0.5));
}

TEST_CASE("score weights are divided by their sum") {
  std::vector<LineUsage> lines{usage("a", 120ms, 300 * kMbps, 30 * kMbps),
                               usage("b", 150ms, 600 * kMbps, 500 * kMbps)};
  auto half = score_lines(lines, {0.5, 0.25, 0.25});
  auto whole = score_lines(lines, {2, 1, 1});
  for (std::size_t i = 0; i < lines.size(); ++i) {
    CHECK(half[i].score == doctest::Approx(whole[i].score));
  }
  auto latency_only = score_lines(lines, {1, 0, 0});
  CHECK(latency_only[0].score == doctest::Approx(1.0));
  CHECK(latency_only[1].score == doctest::Approx(120.0 / 150.0));
  auto load_only = score_lines(lines, {0, 1, 0});
  CHECK(load_only[0].score == doctest::Approx(0.9));
  CHECK(load_only[1].score == doctest::Approx(1.0 - 500.0 / 600.0));
}

TEST_CASE("score of an overloaded or full line") {
  auto s = score_lines(
      {usage("a", 100ms, 100 * kMbps, 150 * kMbps), usage("b", 100ms, 100 * kMbps, 100 * kMbps)},
      ScoringWeights{});
  CHECK(s[0].load == doctest::Approx(0.0));
  CHECK(s[0].bandwidth == doctest::Approx(0.0));  // every line full: no headroom anywhere
  CHECK(s[1].bandwidth == doctest::Approx(0.0));
  CHECK(s[0].score == doctest::Approx(0.4));
}

TEST_CASE("score with capacity but no traffic reading counts the whole capacity as headroom") {
  auto s = score_lines(
      {usage("a", 100ms, 200 * kMbps, std::nullopt), usage("b", 100ms, 100 * kMbps, std::nullopt)},
      ScoringWeights{});
  CHECK(s[0].load == doctest::Approx(0.5));
  CHECK(s[0].bandwidth == doctest::Approx(1.0));
  CHECK(s[1].bandwidth == doctest::Approx(0.5));
}

TEST_CASE("scoring options validation names the key") {
  CHECK(validate(ScoringOptions{}).ok());
  ScoringOptions o;
  o.weights.load = -0.1;
  REQUIRE_FALSE(validate(o).ok());
  CHECK(validate(o).error().message.find("scoring.weights.load") != std::string::npos);
  o = {};
  o.weights.bandwidth = std::nan("");
  CHECK(validate(o).error().message.find("scoring.weights.bandwidth") != std::string::npos);
  o = {};
  o.weights = {0, 0, 0};
  CHECK(validate(o).error().message.find("scoring.weights") != std::string::npos);
  o = {};
  o.margin = -0.01;
  CHECK(validate(o).error().message.find("scoring.margin") != std::string::npos);
  o = {};
  o.margin_for = -1s;
  CHECK(validate(o).error().message.find("scoring.margin_for") != std::string::npos);
}

TEST_CASE("ranking orders the first scores directly and then reports only changes") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});
  CHECK_FALSE(r.update({}).has_value());
  auto e = r.update(scores({{"b", 0.5}, {"a", 0.9}, {"c", 0.7}}));
  REQUIRE(e.has_value());
  CHECK(e->kind == "score_moved");
  CHECK(e->reason == "first_scores");
  CHECK(e->line == "a");
  CHECK(r.order() == names({"a", "c", "b"}));
  for (int i = 0; i < 100; ++i) {
    clock.advance(1s);
    CHECK_FALSE(r.update(scores({{"b", 0.5}, {"a", 0.9}, {"c", 0.7}})).has_value());
  }
}

TEST_CASE("ranking moves the preferred line only after the margin held for margin_for") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});  // 10 %, 30 s
  r.update(scores({{"a", 0.70}, {"b", 0.60}}));
  int events = 0;
  for (int t = 0; t < 30; ++t) {  // b beats a by 14 % from t = 0 s to t = 29 s
    if (r.update(scores({{"a", 0.70}, {"b", 0.80}}))) ++events;
    CHECK(r.order().front() == "a");
    clock.advance(1s);
  }
  CHECK(events == 0);
  auto e = r.update(scores({{"a", 0.70}, {"b", 0.80}}));  // t = 30 s
  REQUIRE(e.has_value());
  CHECK(e->reason == "margin_held");
  CHECK(e->line == "b");
  CHECK(r.order() == names({"b", "a"}));
  clock.advance(1s);
  CHECK_FALSE(r.update(scores({{"a", 0.70}, {"b", 0.80}})).has_value());
}

TEST_CASE("ranking restarts the margin clock when the challenger dips into the band") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});
  r.update(scores({{"a", 0.70}, {"b", 0.60}}));
  for (int t = 0; t < 20; ++t, clock.advance(1s)) r.update(scores({{"a", 0.70}, {"b", 0.80}}));
  r.update(scores({{"a", 0.70}, {"b", 0.76}}));  // only 8.6 % better: inside the band
  clock.advance(1s);
  for (int t = 0; t < 30; ++t, clock.advance(1s)) {  // 30 s of lead, counted afresh
    CHECK_FALSE(r.update(scores({{"a", 0.70}, {"b", 0.80}})).has_value());
  }
  CHECK(r.update(scores({{"a", 0.70}, {"b", 0.80}})).has_value());
  CHECK(r.order().front() == "b");
}

TEST_CASE("ranking never moves on a lead inside the margin") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});
  r.update(scores({{"a", 0.70}, {"b", 0.60}}));
  for (int t = 0; t < 600; ++t, clock.advance(1s)) {
    CHECK_FALSE(r.update(scores({{"a", 0.70}, {"b", 0.769}})).has_value());
  }
  CHECK(r.order().front() == "a");
}

TEST_CASE("ranking drops a line at once and sends a newcomer to the back") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});
  r.update(scores({{"a", 0.9}, {"b", 0.6}, {"c", 0.5}}));
  auto e = r.update(scores({{"a", 0.9}, {"c", 0.5}}));  // b stopped taking traffic
  REQUIRE(e.has_value());
  CHECK(e->reason == "lines_changed");
  CHECK(r.order() == names({"a", "c"}));
  e = r.update(scores({{"a", 0.9}, {"b", 1.0}, {"c", 0.5}}));  // b is back, far better
  REQUIRE(e.has_value());
  CHECK(e->reason == "lines_changed");
  CHECK(r.order() == names({"a", "c", "b"}));
  clock.advance(30s);
  e = r.update(scores({{"a", 0.9}, {"b", 1.0}, {"c", 0.5}}));
  REQUIRE(e.has_value());
  CHECK(e->reason == "margin_held");
  CHECK(r.order() == names({"b", "a", "c"}));
}

TEST_CASE("ranking gives the primary its first place back when it returns within the margin") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});  // 10 %
  r.update(scores({{"a", 0.70}, {"b", 0.68}}));
  REQUIRE(r.order() == names({"a", "b"}));
  r.update(scores({{"b", 0.70}}));  // a, the primary, stopped taking traffic
  clock.advance(40s);
  r.update(scores({{"b", 0.70}}));
  // a back, 6 % behind b: a tie inside the band, so the primary leads again.
  auto e = r.update(scores({{"a", 0.66}, {"b", 0.70}}));
  REQUIRE(e.has_value());
  CHECK(e->reason == "revert");
  CHECK(e->line == "a");
  CHECK(r.order() == names({"a", "b"}));
  for (int t = 0; t < 60; ++t, clock.advance(1s)) {
    CHECK_FALSE(r.update(scores({{"a", 0.66}, {"b", 0.70}})).has_value());
  }
}

TEST_CASE("ranking sends the primary to the back when it returns beaten by the margin") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});
  r.update(scores({{"a", 0.70}, {"b", 0.68}, {"c", 0.6}}));
  r.update(scores({{"b", 0.70}, {"c", 0.6}}));
  auto e = r.update(scores({{"a", 0.5}, {"b", 0.70}, {"c", 0.6}}));  // 0.70 > 0.5 * 1.1
  REQUIRE(e.has_value());
  CHECK(e->reason == "lines_changed");
  CHECK(r.order() == names({"b", "c", "a"}));
  // The memory ended: b failing and a later return of a change nothing for a.
  r.update(scores({{"a", 0.5}, {"c", 0.6}}));
  r.update(scores({{"c", 0.6}}));
  r.update(scores({{"a", 0.58}, {"c", 0.6}}));
  CHECK(r.order() == names({"c", "a"}));
}

TEST_CASE("ranking places a line without evidence last and by score on its first evidence") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{});
  auto no_rtt = [](std::vector<LineScore> s, const char* line) {
    for (auto& x : s) x.evidence = x.line != line;
    return s;
  };
  // b has no RTT yet: its 0.33 says nothing, it waits at the back.
  auto e = r.update(no_rtt(scores({{"b", 0.33}, {"a", 0.80}, {"c", 0.50}}), "b"));
  REQUIRE(e.has_value());
  CHECK(e->reason == "first_scores");
  CHECK(r.order() == names({"a", "c", "b"}));
  // Without evidence a higher number still does not place it.
  CHECK_FALSE(r.update(no_rtt(scores({{"b", 0.60}, {"a", 0.80}, {"c", 0.50}}), "b")));
  clock.advance(150ms);
  // b's first RTT: 6 % ahead of c, inside the band, yet placed by score at once.
  e = r.update(scores({{"b", 0.53}, {"a", 0.80}, {"c", 0.50}}));
  REQUIRE(e.has_value());
  CHECK(r.order() == names({"a", "b", "c"}));
  // From then on the band applies as usual.
  for (int t = 0; t < 60; ++t, clock.advance(1s)) {
    CHECK_FALSE(r.update(scores({{"b", 0.53}, {"a", 0.80}, {"c", 0.56}})).has_value());
  }
  CHECK(r.order() == names({"a", "b", "c"}));
}

TEST_CASE("score_lines marks a line without an RTT median as without evidence") {
  auto s = score_lines({usage("a", 100ms, std::nullopt, std::nullopt),
                        usage("b", std::nullopt, std::nullopt, std::nullopt)},
                       ScoringWeights{});
  REQUIRE(s.size() == 2);
  CHECK(s[0].evidence);
  CHECK_FALSE(s[1].evidence);
}

TEST_CASE("ranking takes the best of several matured challengers") {
  FakeClock clock;
  ScoringOptions o;
  o.margin_for = 0s;
  Ranking r(clock, o);
  r.update(scores({{"a", 0.9}, {"b", 0.8}, {"c", 0.7}}));
  r.update(scores({{"a", 0.5}, {"b", 0.8}, {"c", 0.95}}));
  CHECK(r.order() == names({"c", "b", "a"}));
}

TEST_CASE(
    "ranking seeded with the order before a restart keeps it against a lead inside the margin") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{}, names({"b"}));  // 10 %, 30 s
  auto e = r.update(scores({{"a", 0.70}, {"b", 0.68}}));
  REQUIRE(e.has_value());
  CHECK(e->reason == "first_scores");
  CHECK(e->detail.find("b keeps its place") != std::string::npos);
  CHECK(r.order() == names({"b", "a"}));
  for (int t = 0; t < 600; ++t, clock.advance(1s)) {
    CHECK_FALSE(r.update(scores({{"a", 0.70}, {"b", 0.68}})).has_value());
  }
  // A real lead moves a up through the band like any other challenger.
  for (int t = 0; t < 30; ++t, clock.advance(1s)) {
    CHECK_FALSE(r.update(scores({{"a", 0.70}, {"b", 0.60}})).has_value());
  }
  e = r.update(scores({{"a", 0.70}, {"b", 0.60}}));
  REQUIRE(e.has_value());
  CHECK(e->reason == "margin_held");
  CHECK(r.order() == names({"a", "b"}));
}

TEST_CASE("ranking seed places a seeded line on its first evidence ahead of unseeded ones") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{}, names({"x", "c", "a"}));  // x is not a line any more
  auto no_rtt = [](std::vector<LineScore> s, const char* line) {
    for (auto& x : s) x.evidence = x.line != line;
    return s;
  };
  // c has no RTT yet: a, seeded, leads b, unseeded and 12 % better.
  r.update(no_rtt(scores({{"a", 0.70}, {"b", 0.80}, {"c", 0.1}}), "c"));
  CHECK(r.order() == names({"a", "b", "c"}));
  clock.advance(1s);
  // c's first RTT: to its seed rank, ahead of a, though it scores lowest.
  auto e = r.update(scores({{"a", 0.70}, {"b", 0.80}, {"c", 0.66}}));
  REQUIRE(e.has_value());
  CHECK(e->detail.find("c keeps its place") != std::string::npos);
  CHECK(r.order() == names({"c", "a", "b"}));
  // b beats a by the margin since t = 0 s and c since t = 1 s; a stays
  // within the margin of c, so only b moves up, rank by rank.
  clock.advance(29s);
  e = r.update(scores({{"a", 0.70}, {"b", 0.80}, {"c", 0.66}}));
  REQUIRE(e.has_value());
  CHECK(e->reason == "margin_held");
  CHECK(r.order() == names({"c", "b", "a"}));
  clock.advance(1s);
  e = r.update(scores({{"a", 0.70}, {"b", 0.80}, {"c", 0.66}}));
  REQUIRE(e.has_value());
  CHECK(r.order() == names({"b", "c", "a"}));
}

TEST_CASE("ranking seed claim ends when the seeded line does not take traffic") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{}, names({"b"}));
  r.update(scores({{"a", 0.70}}));  // b is down: failover does not wait for it
  CHECK(r.order() == names({"a"}));
  clock.advance(1s);
  r.update(scores({{"a", 0.70}, {"b", 0.66}}));  // back: placed by score, not by the seed
  CHECK(r.order() == names({"a", "b"}));
}

TEST_CASE("ranking seed claim lasts while the seeded line takes traffic without evidence") {
  FakeClock clock;
  Ranking r(clock, ScoringOptions{}, names({"b"}));
  auto silent_b = scores({{"a", 0.70}, {"b", 0.0}});
  silent_b[1].evidence = false;
  r.update(silent_b);
  CHECK(r.order() == names({"a", "b"}));
  clock.advance(1s);
  r.update(scores({{"a", 0.70}, {"b", 0.66}}));
  CHECK(r.order() == names({"b", "a"}));
}

// Long simulated runs of LineLiveness: calm under random loss, fast on a cut.
// Simulated time only (no clock, no sleeping); every run is seeded.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "rules/liveness.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

struct LineSim {
  LivenessOptions options;
  double loss = 0.1;                   // random loss per echo, independent
  Duration rtt = 150ms;                // base RTT of the line
  Duration rtt_spread = 20ms;          // uniform extra RTT 0..spread (reorders at 10 ms)
  Duration length = 2h;                // simulated time
  std::optional<MonoTime> cut;         // replies due at or after this never arrive
  bool stop_at_first_silence = false;  // for cut runs
  std::uint32_t seed = 1;
};

struct SimOutcome {
  LivenessStats stats;
  std::uint64_t silences = 0;
  std::optional<MonoTime> first_silence;  // the tick that declared it
  MonoTime last_reply{};
};

struct Reply {
  MonoTime at;
  MonoTime sent;
  std::uint64_t seq;
  bool operator>(const Reply& o) const { return at > o.at; }
};

// One reflector, one echo per interval, a tick at every send (the loop's wake-up).
SimOutcome run(const LineSim& sim) {
  std::mt19937 rng(sim.seed);
  std::bernoulli_distribution lost(sim.loss);
  std::uniform_int_distribution<Duration::rep> spread(0, sim.rtt_spread.count());
  std::priority_queue<Reply, std::vector<Reply>, std::greater<>> in_flight;
  const MonoTime start{};
  LineLiveness l(sim.options, start);
  SimOutcome out;
  const auto steps = static_cast<std::uint64_t>(sim.length / sim.options.interval);
  for (std::uint64_t k = 0; k < steps; ++k) {
    const MonoTime now = start + k * sim.options.interval;
    while (!in_flight.empty() && in_flight.top().at <= now) {
      const Reply r = in_flight.top();
      in_flight.pop();
      l.on_reply("edge", r.seq, r.sent, r.at);
      out.last_reply = r.at;
    }
    l.on_sent("edge", k, now);
    const MonoTime due = now + sim.rtt + Duration(spread(rng));
    const bool cut = sim.cut && due >= *sim.cut;
    if (!lost(rng) && !cut) in_flight.push(Reply{due, now, k});
    auto change = l.tick(now);
    if (change && change->kind == LivenessChangeKind::silent) {
      ++out.silences;
      if (!out.first_silence) out.first_silence = now;
      if (sim.stop_at_first_silence) break;
    }
  }
  out.stats = l.stats();
  return out;
}

// Expected runs of at least n misses among `echoes` at loss p: (1-p)·p^n each.
double expected_runs(double echoes, double p, int n) { return echoes * (1 - p) * std::pow(p, n); }

void check_calm(const std::string& profile, const LivenessOptions& options) {
  LineSim sim;
  sim.options = options;
  const SimOutcome o = run(sim);
  const double echoes = static_cast<double>(o.stats.echoes);
  const double loss = static_cast<double>(o.stats.misses) / echoes;
  const double naive_expected = expected_runs(echoes, sim.loss, 3);
  MESSAGE(profile << " profile, 10 % loss, 2 h simulated, " << o.stats.echoes
                  << " echoes: false downs " << o.silences << " (detect " << to_ms(options.detect)
                  << " ms), 3-miss rule " << o.stats.three_miss_trips << " (expected "
                  << naive_expected << ")");
  CHECK(loss == doctest::Approx(sim.loss).epsilon(0.1));
  CHECK(o.stats.tilts == 0);
  CHECK(o.silences == 0);
  // The comparison counts what the arithmetic in liveness.h predicts.
  CHECK(static_cast<double>(o.stats.three_miss_trips) > naive_expected / 2);
  CHECK(static_cast<double>(o.stats.three_miss_trips) < naive_expected * 2);
}

}  // namespace

TEST_CASE("liveness calm: no false down at 10 % loss over 2 simulated hours, default profile") {
  check_calm("default", LivenessOptions{});
}

TEST_CASE("liveness calm: no false down at 10 % loss over 2 simulated hours, fast profile") {
  check_calm("fast", LivenessOptions::fast());
}

TEST_CASE("liveness calm: at 50 % loss the fast profile does see long silences") {
  // Guards the calm tests: the rule must still trip when 10 echoes in a row are
  // lost. Expected: (1-p)·p^k per echo, k between 9 and 10 (see liveness.h).
  LineSim sim;
  sim.options = LivenessOptions::fast();
  sim.loss = 0.5;
  sim.length = 10min;
  const SimOutcome o = run(sim);
  const double echoes = static_cast<double>(o.stats.echoes);
  MESSAGE("fast profile, 50 % loss, 10 min simulated: downs " << o.silences << ", 3-miss rule "
                                                              << o.stats.three_miss_trips);
  CHECK(static_cast<double>(o.silences) > expected_runs(echoes, 0.5, 10) / 4);
  CHECK(static_cast<double>(o.silences) < expected_runs(echoes, 0.5, 9) * 4);
}

TEST_CASE(
    "liveness calm: a cut is detected within detect plus one interval of reaching the gateway") {
  struct Profile {
    std::string name;
    LivenessOptions options;
    Duration budget;  // the most a cut may take to detect
  };
  const Profile profiles[] = {{"fast", LivenessOptions::fast(), 150ms},
                              {"default", LivenessOptions{}, 1100ms}};
  for (const Profile& p : profiles) {
    std::mt19937 pick(7);
    std::uniform_int_distribution<Duration::rep> offset(0, Duration(1s).count());
    Duration worst{}, total{};
    const int trials = 200;
    for (int i = 0; i < trials; ++i) {
      LineSim sim;
      sim.options = p.options;
      sim.rtt = 150ms;
      sim.length = 30s;
      sim.cut = MonoTime{} + 15s + Duration(offset(pick));
      sim.stop_at_first_silence = true;
      sim.seed = 100 + static_cast<std::uint32_t>(i);
      const SimOutcome o = run(sim);
      REQUIRE(o.first_silence.has_value());
      REQUIRE(*o.first_silence >= *sim.cut);  // no false down before the cut
      const Duration after_cut = *o.first_silence - *sim.cut;
      CHECK(*o.first_silence - o.last_reply >= p.options.detect);  // never early
      CHECK(after_cut <= p.options.detect + p.options.interval);
      CHECK(after_cut <= p.budget);
      worst = std::max(worst, after_cut);
      total += after_cut;
    }
    MESSAGE(p.name << " profile, 150 ms line, 10 % loss, " << trials
                   << " cuts: detected after the cut reached the gateway in mean "
                   << to_ms(total / trials) << " ms, worst " << to_ms(worst) << " ms");
  }
}

#include "tests/lab/linesim/model.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/fake_clock.h"

namespace linewatch::linesim {
namespace {

using namespace std::chrono_literals;

LineSettings both(DirSettings d) { return LineSettings{false, d, d}; }

// A packet whose first 4 bytes are `seq`, `size` bytes long.
std::vector<std::uint8_t> packet(std::uint32_t seq, std::size_t size = 100) {
  std::vector<std::uint8_t> p(size, 0xab);
  std::memcpy(p.data(), &seq, sizeof seq);
  return p;
}

std::uint32_t seq_of(std::span<const std::uint8_t> p) {
  std::uint32_t s;
  std::memcpy(&s, p.data(), sizeof s);
  return s;
}

// Releases at `now`, returning the sequence numbers emitted.
std::vector<std::uint32_t> release(LineModel& m, MonoTime now) {
  std::vector<std::uint32_t> got;
  m.release_due(now, [&](std::span<const std::uint8_t> p) { got.push_back(seq_of(p)); });
  return got;
}

struct Stats {
  double mean_ms = 0, sd_ms = 0, min_ms = 1e18, max_ms = -1e18;
};
Stats stats(const std::vector<double>& v) {
  Stats s;
  for (double x : v)
    s.mean_ms += x, s.min_ms = std::min(s.min_ms, x), s.max_ms = std::max(s.max_ms, x);
  s.mean_ms /= static_cast<double>(v.size());
  for (double x : v) s.sd_ms += (x - s.mean_ms) * (x - s.mean_ms);
  s.sd_ms = std::sqrt(s.sd_ms / static_cast<double>(v.size() - 1));
  return s;
}

TEST_CASE("zero delay sends at once, and a fixed delay is honoured to the nanosecond") {
  FakeClock clock;
  LineModel m(1);
  auto p = packet(7);
  CHECK(m.admit(Dir::up, clock.now(), p) == Verdict::send_now);
  CHECK(m.counters(Dir::up).out == 1);
  CHECK_FALSE(m.next_release().has_value());

  m.set_settings(both({.delay = 20ms}));
  const MonoTime t0 = clock.now();
  CHECK(m.admit(Dir::up, t0, p) == Verdict::held);
  CHECK(m.queued(Dir::up) == 1);
  CHECK(m.next_release() == t0 + 20ms);
  clock.advance(20ms - 1ns);
  CHECK(release(m, clock.now()).empty());
  clock.advance(1ns);
  std::vector<std::uint8_t> out;
  m.release_due(clock.now(),
                [&](std::span<const std::uint8_t> b) { out.assign(b.begin(), b.end()); });
  CHECK(out == p);
  CHECK(m.queued(Dir::up) == 0);
  CHECK(m.counters(Dir::up).in == 2);
  CHECK(m.counters(Dir::up).out == 2);
  CHECK(m.counters(Dir::down).in == 0);
}

TEST_CASE("normal jitter: sigma as configured, truncated at 3 sigma") {
  LineModel m(42);
  m.set_settings(both({.delay = 100ms, .jitter = 10ms, .dist = Dist::normal}));
  std::vector<double> ms;
  for (int i = 0; i < 20000; ++i) ms.push_back(to_ms(m.draw_latency(Dir::up)));
  Stats s = stats(ms);
  CHECK(s.mean_ms == doctest::Approx(100.0).epsilon(0.005));
  CHECK(s.sd_ms > 9.0);
  CHECK(s.sd_ms < 11.0);
  CHECK(s.min_ms >= 70.0);
  CHECK(s.max_ms <= 130.0);
  CHECK(s.max_ms - s.min_ms > 50.0);  // a real spread, not a constant
}

TEST_CASE("uniform jitter stays within +-jitter and fills it") {
  LineModel m(43);
  m.set_settings(both({.delay = 100ms, .jitter = 10ms, .dist = Dist::uniform}));
  std::vector<double> ms;
  for (int i = 0; i < 20000; ++i) ms.push_back(to_ms(m.draw_latency(Dir::down)));
  Stats s = stats(ms);
  CHECK(s.min_ms >= 90.0);
  CHECK(s.max_ms <= 110.0);
  CHECK(s.min_ms < 90.1);
  CHECK(s.max_ms > 109.9);
  CHECK(s.sd_ms == doctest::Approx(10.0 / std::sqrt(3.0)).epsilon(0.05));
}

TEST_CASE("delay plus jitter never goes below zero") {
  LineModel m(44);
  m.set_settings(both({.delay = 1ms, .jitter = 10ms}));
  int zeros = 0;
  for (int i = 0; i < 2000; ++i) {
    Duration d = m.draw_latency(Dir::up);
    REQUIRE(d >= Duration::zero());
    zeros += d == Duration::zero();
  }
  CHECK(zeros > 500);  // about 46 % of normal(1, 10) is below 0
}

TEST_CASE("jitter never reorders packets within a direction") {
  FakeClock clock;
  LineModel m(45);
  m.set_settings(both({.delay = 50ms, .jitter = 20ms}));
  for (std::uint32_t i = 0; i < 1000; ++i) {
    REQUIRE(m.admit(Dir::up, clock.now(), packet(i)) == Verdict::held);
    clock.advance(100us);
  }
  std::vector<std::uint32_t> order;
  MonoTime last{};
  std::vector<MonoTime> releases;
  for (int step = 0; step < 3000 && m.queued(Dir::up) > 0; ++step) {
    auto next = m.next_release();
    REQUIRE(next.has_value());
    CHECK(*next >= last);
    last = *next;
    for (auto s : release(m, *next)) order.push_back(s), releases.push_back(*next);
  }
  REQUIRE(order.size() == 1000);
  CHECK(std::is_sorted(order.begin(), order.end()));
  CHECK(order.back() == 999);
  // Some packets were held back by the clamp: fewer distinct release times.
  std::size_t distinct = std::unique(releases.begin(), releases.end()) - releases.begin();
  CHECK(distinct < 1000);
}

double loss_ratio(LineModel& m, Dir dir, int n) {
  FakeClock clock;
  auto p = packet(1);
  int dropped = 0;
  for (int i = 0; i < n; ++i) dropped += m.admit(dir, clock.now(), p) == Verdict::dropped_loss;
  CHECK(m.counters(dir).dropped_loss == static_cast<std::uint64_t>(dropped));
  return static_cast<double>(dropped) / n;
}

TEST_CASE("loss ratio matches the setting over 20k packets") {
  for (double loss : {0.10, 0.30}) {
    CAPTURE(loss);
    LineModel m(46);
    m.set_settings(both({.loss = loss}));
    double r = loss_ratio(m, Dir::up, 20000);
    CHECK(r > loss - 0.01);
    CHECK(r < loss + 0.01);
  }
}

TEST_CASE("rt loss is split so a round trip loses the configured share") {
  LineModel m(47);
  auto cmd = parse_command("set rt loss=19%");
  REQUIRE(cmd.ok());
  m.set_settings(apply({}, std::get<SetCommand>(*cmd)));
  double up = loss_ratio(m, Dir::up, 20000);
  double down = loss_ratio(m, Dir::down, 20000);
  CHECK(up == doctest::Approx(0.10).epsilon(0.1));
  CHECK(down == doctest::Approx(0.10).epsilon(0.1));
  CHECK(1 - (1 - up) * (1 - down) == doctest::Approx(0.19).epsilon(0.06));
}

TEST_CASE("rate cap spaces 1500-byte packets 1 ms apart at 12 Mbps") {
  FakeClock clock;
  LineModel m(48);
  m.set_settings(both({.rate_bps = 12'000'000}));
  const MonoTime t0 = clock.now();
  CHECK(m.admit(Dir::down, t0, packet(0, 1500)) == Verdict::send_now);
  for (std::uint32_t i = 1; i < 10; ++i)
    CHECK(m.admit(Dir::down, t0, packet(i, 1500)) == Verdict::held);
  for (std::uint32_t i = 1; i < 10; ++i) {
    CHECK(m.next_release() == t0 + i * 1ms);
    CHECK(release(m, t0 + i * 1ms - 1ns).empty());
    CHECK(release(m, t0 + i * 1ms) == std::vector<std::uint32_t>{i});
  }
  // The other direction has its own link.
  CHECK(m.admit(Dir::up, t0, packet(99, 1500)) == Verdict::send_now);
}

TEST_CASE("a cut line drops everything, including what was held, until restored") {
  FakeClock clock;
  LineModel m(49);
  LineSettings s = both({.delay = 10ms});
  m.set_settings(s);
  CHECK(m.admit(Dir::up, clock.now(), packet(1)) == Verdict::held);
  CHECK(m.admit(Dir::down, clock.now(), packet(2)) == Verdict::held);
  s.cut = true;
  m.set_settings(s);
  CHECK(m.queued(Dir::up) == 0);
  CHECK(m.queued(Dir::down) == 0);
  for (int i = 0; i < 5; ++i) {
    CHECK(m.admit(Dir::up, clock.now(), packet(3)) == Verdict::dropped_down);
    CHECK(m.admit(Dir::down, clock.now(), packet(4)) == Verdict::dropped_down);
  }
  CHECK(m.counters(Dir::up).dropped_down == 6);
  CHECK(m.counters(Dir::down).dropped_down == 6);
  clock.advance(1s);
  CHECK(release(m, clock.now()).empty());
  s.cut = false;
  m.set_settings(s);
  CHECK(m.admit(Dir::up, clock.now(), packet(5)) == Verdict::held);
}

TEST_CASE("a full queue drops and counts") {
  FakeClock clock;
  LineModel m(50, QueueLimits{5, 1 << 20});
  m.set_settings(both({.delay = 1s}));
  for (std::uint32_t i = 0; i < 8; ++i) m.admit(Dir::up, clock.now(), packet(i));
  CHECK(m.queued(Dir::up) == 5);
  CHECK(m.counters(Dir::up).dropped_queue == 3);
  clock.advance(1s);
  CHECK(release(m, clock.now()) == std::vector<std::uint32_t>{0, 1, 2, 3, 4});

  LineModel by_bytes(51, QueueLimits{100, 3000});
  by_bytes.set_settings(both({.delay = 1s}));
  for (std::uint32_t i = 0; i < 4; ++i) by_bytes.admit(Dir::down, clock.now(), packet(i, 1000));
  CHECK(by_bytes.queued(Dir::down) == 3);
  CHECK(by_bytes.counters(Dir::down).dropped_queue == 1);
}

TEST_CASE("a setting change applies to later packets only") {
  FakeClock clock;
  LineModel m(52);
  m.set_settings(both({.delay = 30ms}));
  const MonoTime t0 = clock.now();
  m.admit(Dir::up, t0, packet(1));
  m.set_settings(both({.delay = 10ms}));
  m.admit(Dir::up, t0 + 1ms, packet(2));
  // Packet 2 would be due at 11 ms but stays behind packet 1 (in order).
  CHECK(release(m, t0 + 29ms).empty());
  CHECK(release(m, t0 + 30ms) == std::vector<std::uint32_t>{1, 2});
  m.admit(Dir::up, t0 + 40ms, packet(3));
  CHECK(m.next_release() == t0 + 50ms);
}

}  // namespace
}  // namespace linewatch::linesim

#include "agent/timetable.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "agent/config_load.h"
#include "core/fake_clock.h"

using namespace linewatch;
using namespace std::chrono_literals;

TEST_CASE("jobs of one interval are spread evenly across it") {
  FakeClock clock;
  const MonoTime t0 = clock.now();
  Timetable tt(std::vector<Duration>(10, 1s), t0);
  std::set<Duration::rep> offsets;
  for (std::size_t i = 0; i < tt.size(); ++i) offsets.insert((tt.due(i) - t0).count());
  CHECK(offsets.size() == 10);
  CHECK(*offsets.begin() == 0);
  CHECK(*offsets.rbegin() == Duration(900ms).count());
  // Step through one interval in 100 ms ticks: exactly one job starts per tick.
  for (int tick = 0; tick < 10; ++tick) {
    CHECK(tt.take_due(clock.now()).size() == 1);
    clock.advance(100ms);
  }
}

TEST_CASE("schedules do not drift over 10,000 ticks even when every start is late") {
  FakeClock clock;
  const MonoTime t0 = clock.now();
  Timetable tt({1s, 250ms}, t0);
  std::size_t runs = 0;
  Duration worst_error{0};
  for (int tick = 0; tick < 10'000; ++tick) {
    // Ticks arrive 37 ms late each time, as a loaded timer thread would.
    clock.advance(tick == 0 ? 37ms : 50ms);
    for (auto slot : tt.take_due(clock.now())) {
      ++runs;
      // Every planned start lies exactly on the job's grid.
      const Duration iv = slot.job == 0 ? Duration(1s) : Duration(250ms);
      const auto off = (slot.planned - t0) % iv;  // each is alone in its group: offset 0
      worst_error = std::max(worst_error, Duration(off));
    }
  }
  CHECK(worst_error == Duration(0));
  // 500 s of simulated time: 500 rounds at 1 s plus 2000 at 250 ms, give or take the edge.
  CHECK(runs >= 2499);
  CHECK(runs <= 2502);
  CHECK(tt.overruns() == 0);
  CHECK(tt.missed() == 0);
}

TEST_CASE("a job still running skips its slot and counts an overrun") {
  FakeClock clock;
  Timetable tt({1s}, clock.now());
  auto first = tt.take_due(clock.now());
  REQUIRE(first.size() == 1);
  tt.set_running(0, true);
  clock.advance(1s);
  CHECK(tt.take_due(clock.now()).empty());
  CHECK(tt.overruns() == 1);
  clock.advance(1s);
  CHECK(tt.take_due(clock.now()).empty());
  CHECK(tt.overruns() == 2);
  tt.set_running(0, false);
  clock.advance(1s);
  auto again = tt.take_due(clock.now());
  REQUIRE(again.size() == 1);
  CHECK(again[0].planned == clock.now());  // back on the original grid
}

TEST_CASE("a stalled timer runs each job once, late, and does not burst") {
  FakeClock clock;
  const MonoTime t0 = clock.now();
  Timetable tt({1s}, t0);
  CHECK(tt.take_due(clock.now()).size() == 1);
  clock.advance(5500ms);  // slots at 1,2,3,4,5 s were due during the stall
  auto due = tt.take_due(clock.now());
  CHECK(due.size() == 1);
  CHECK(tt.missed() == 4);
  CHECK(tt.due(0) == t0 + 6s);
}

TEST_CASE("the longest allowed interval spreads twice the job limit without overflow") {
  FakeClock clock;
  clock.advance(1s);
  const MonoTime t0 = clock.now();
  const Duration iv = config_limits::kMaxInterval;
  // Twice the limit: interval × job index would pass 2^63 ns here.
  const std::size_t n = 2 * config_limits::kMaxProbeJobs;
  Timetable tt(std::vector<Duration>(n, iv), t0);
  using i128 = __int128;
  for (std::size_t i = 0; i < n; ++i) {
    const auto want = static_cast<Duration::rep>(i128(iv.count()) * i128(i) / i128(n));
    if ((tt.due(i) - t0).count() != want) {
      FAIL_CHECK("job " << i << " offset " << (tt.due(i) - t0).count() << ", want " << want);
      break;
    }
  }
  CHECK(tt.due(n - 1) < t0 + iv);
  // One whole interval runs each job exactly once, then every job sits one
  // interval further on.
  clock.advance(iv - 1ns);
  CHECK(tt.take_due(clock.now()).size() == n);
  CHECK(tt.missed() == 0);
  CHECK(tt.due(0) == t0 + iv);
  CHECK(tt.due(n - 1) > t0 + iv);
}

TEST_CASE("an interval as long as the clock's range saturates instead of wrapping") {
  FakeClock clock;
  clock.advance(1s);
  const MonoTime t0 = clock.now();
  Timetable tt(std::vector<Duration>(3, Duration::max()), t0);
  CHECK(tt.due(0) == t0);
  CHECK(tt.due(1) > tt.due(0));
  CHECK(tt.due(2) > tt.due(1));
  REQUIRE(tt.take_due(clock.now()).size() == 1);
  CHECK(tt.due(0) == MonoTime::max());  // never again, rather than in the past
  for (int step = 0; step < 10; ++step) {
    clock.advance(24h);
    CHECK(tt.take_due(clock.now()).empty());
  }
  CHECK(tt.missed() == 0);
  CHECK(*tt.next_due() == tt.due(1));
}

TEST_CASE("two timetables splitting the jobs spread them as one and take only their own") {
  FakeClock clock;
  const MonoTime t0 = clock.now();
  const std::vector<Duration> intervals(6, 600ms);
  const std::vector<bool> mine = {true, false, true, false, false, true};
  std::vector<bool> theirs;
  for (const bool m : mine) theirs.push_back(!m);
  Timetable whole(intervals, t0), a(intervals, t0, mine), b(intervals, t0, theirs);
  std::vector<Timetable::Slot> from_whole, from_parts;
  for (int tick = 0; tick < 30; ++tick) {
    for (auto s : whole.take_due(clock.now())) from_whole.push_back(s);
    for (auto s : a.take_due(clock.now())) {
      CHECK(mine[s.job]);
      from_parts.push_back(s);
    }
    for (auto s : b.take_due(clock.now())) {
      CHECK(!mine[s.job]);
      from_parts.push_back(s);
    }
    clock.advance(100ms);
  }
  const auto key = [](const Timetable::Slot& s) { return std::make_pair(s.planned, s.job); };
  const auto by_key = [&](const Timetable::Slot& x, const Timetable::Slot& y) {
    return key(x) < key(y);
  };
  std::sort(from_whole.begin(), from_whole.end(), by_key);
  std::sort(from_parts.begin(), from_parts.end(), by_key);
  REQUIRE(from_whole.size() == 30);
  REQUIRE(from_parts.size() == from_whole.size());
  for (std::size_t i = 0; i < from_whole.size(); ++i)
    CHECK(key(from_parts[i]) == key(from_whole[i]));
  CHECK(a.next_due() == t0 + 3s);  // job 0's sixth slot
  CHECK(b.next_due() == t0 + 3s + 100ms);
}

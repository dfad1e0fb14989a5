// Runtime behaviour of the Scheduler on the real clock. The timing logic itself
// is tested without sleeping in timetable_test.cc; these tests check threads:
// rounds run, never overlap per job, and stop() keeps its promise.
#include "agent/scheduler.h"

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "probes/event_loop.h"

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  Config config;
  Fixture(int targets, Duration interval) {
    config.lines.emplace_back().id = "l1";
    for (int i = 0; i < targets; ++i) {
      TargetSpec t;
      t.id = "t" + std::to_string(i);
      ProbeSpec p{ProbeKind::tcp, {}, {}, {}, {}, {}};
      p.timing.interval = interval;
      t.probes.push_back(p);
      config.targets.push_back(t);
    }
  }
};

}  // namespace

TEST_CASE("make_jobs crosses every line with every probe of every target") {
  Fixture f(3, 1s);
  f.config.lines.emplace_back().id = "l2";
  f.config.targets[0].probes.push_back(ProbeSpec{ProbeKind::icmp, {}, {}, {}, {}, {}});
  auto jobs = make_jobs(f.config);
  CHECK(jobs.size() == 2 * 4);
  CHECK(jobs[0].line->id == "l1");
  CHECK(jobs[4].line->id == "l2");
  CHECK(jobs[1].spec->kind == ProbeKind::icmp);
}

TEST_CASE("rounds run on schedule and a slow job never overlaps itself") {
  Fixture f(4, 20ms);
  SystemClock clock;
  std::atomic<int> runs{0}, overlaps{0};
  std::vector<std::atomic<int>> active(4);
  Scheduler s(clock, make_jobs(f.config), 4, [&](std::size_t, const ProbeJob& job, MonoTime) {
    auto& a = active[std::stoi(job.target->id.substr(1))];
    if (a.fetch_add(1) != 0) ++overlaps;
    ++runs;
    // Target 0 is slow: 55 ms rounds on a 20 ms interval must skip slots.
    if (job.target->id == "t0") std::this_thread::sleep_for(55ms);
    a.fetch_sub(1);
  });
  s.start();
  std::this_thread::sleep_for(400ms);
  CHECK(s.stop(1s));
  const auto st = s.stats();
  CHECK(overlaps.load() == 0);
  CHECK(st.rounds == static_cast<std::uint64_t>(runs.load()));
  // Three fast jobs at 20 ms for 400 ms ≈ 60 rounds, the slow one ≈ 7.
  CHECK(runs.load() >= 40);
  CHECK(runs.load() <= 90);
  CHECK(st.overruns >= 8);
  CHECK(st.in_flight == 0);
}

TEST_CASE("stop returns within its grace even while a round blocks") {
  Fixture f(1, 10ms);
  SystemClock clock;
  std::atomic<bool> release{false};
  std::atomic<bool> started{false};
  auto s = std::make_unique<Scheduler>(clock, make_jobs(f.config), 1,
                                       [&](std::size_t, const ProbeJob&, MonoTime) {
                                         started = true;
                                         for (int i = 0; i < 300 && !release; ++i)
                                           std::this_thread::sleep_for(10ms);
                                       });
  s->start();
  for (int i = 0; i < 100 && !started; ++i) std::this_thread::sleep_for(5ms);
  REQUIRE(started.load());
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(s->stop(200ms));
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 200ms);
  CHECK(took < 1s);
  release = true;  // let the detached worker finish before the fixture goes away
  std::this_thread::sleep_for(50ms);
}

TEST_CASE("stop joins everything when rounds finish in time") {
  Fixture f(2, 10ms);
  SystemClock clock;
  std::atomic<int> runs{0};
  Scheduler s(clock, make_jobs(f.config), 2,
              [&](std::size_t, const ProbeJob&, MonoTime) { ++runs; });
  s.start();
  std::this_thread::sleep_for(100ms);
  CHECK(s.stop(1s));
  const int after = runs.load();
  std::this_thread::sleep_for(50ms);
  CHECK(runs.load() == after);  // nothing runs after stop
  CHECK(after > 5);
}

TEST_CASE("a job whose interval outlasts the clock runs once and never again") {
  // 106751d23h47m16s once passed the loader; its next slot wrapped into the
  // past and the job ran back to back.
  Fixture f(1, Duration::max());
  SystemClock clock;
  std::atomic<int> runs{0};
  Scheduler s(clock, make_jobs(f.config), 1,
              [&](std::size_t, const ProbeJob&, MonoTime) { ++runs; });
  s.start();
  std::this_thread::sleep_for(150ms);
  CHECK(s.stop(1s));
  CHECK(runs.load() == 1);
  CHECK(s.stats().missed == 0);
}

// Packet rounds go to the launcher, not the workers: one worker held by a
// slow HTTP round must not delay them (with every round on the workers, the
// ICMP jobs would wait 2 s behind it).
TEST_CASE("a slow HTTP round on the only worker does not starve packet rounds") {
  Config config;
  config.lines.emplace_back().id = "l1";
  TargetSpec slow;
  slow.id = "slow-http";
  ProbeSpec http{ProbeKind::http, {}, {}, {}, {}, {}};
  http.timing.interval = 20ms;
  slow.probes.push_back(http);
  config.targets.push_back(slow);
  for (int i = 0; i < 3; ++i) {
    TargetSpec t;
    t.id = "icmp" + std::to_string(i);
    ProbeSpec p{ProbeKind::icmp, {}, {}, {}, {}, {}};
    p.timing.interval = 20ms;
    p.icmp.host = "127.0.0." + std::to_string(i + 1);
    t.probes.push_back(p);
    config.targets.push_back(t);
  }
  SystemClock clock;
  std::atomic<int> http_runs{0}, launches{0};
  std::atomic<bool> release{false};
  Scheduler s(
      clock, make_jobs(config), 1,
      [&](std::size_t, const ProbeJob& job, MonoTime) {
        CHECK(job.spec->kind == ProbeKind::http);
        ++http_runs;
        for (int i = 0; i < 200 && !release; ++i) std::this_thread::sleep_for(10ms);
      },
      [&](std::size_t, const ProbeJob& job, MonoTime, std::function<void()> finished) {
        CHECK(job.spec->kind == ProbeKind::icmp);
        ++launches;
        finished();
      });
  s.start();
  std::this_thread::sleep_for(300ms);
  const SchedulerStats mid = s.stats();
  release = true;
  CHECK(s.stop(3s));
  // 3 jobs at 20 ms for 300 ms ≈ 45 launches; the worker ran one round.
  CHECK(launches.load() >= 30);
  CHECK(http_runs.load() == 1);
  CHECK(mid.in_flight == 1);
  CHECK(mid.launched_in_flight == 0);
  CHECK(mid.rounds_per_second > 0);
  CHECK(mid.overruns_last_minute >= 5);  // the slow job's skipped slots
}

// A launched round that has not finished holds stop() until it does.
TEST_CASE("stop waits for launched rounds and counts them in flight") {
  Fixture f(1, 20ms);
  f.config.targets[0].probes[0].tcp->host = "127.0.0.1";
  SystemClock clock;
  std::mutex mu;
  std::vector<std::function<void()>> open;
  Scheduler s(
      clock, make_jobs(f.config), 1, [](std::size_t, const ProbeJob&, MonoTime) {},
      [&](std::size_t, const ProbeJob&, MonoTime, std::function<void()> finished) {
        std::lock_guard lock(mu);
        open.push_back(std::move(finished));
      });
  s.start();
  std::this_thread::sleep_for(100ms);
  CHECK(s.stats().launched_in_flight == 1);
  CHECK(s.stats().overruns >= 2);
  std::atomic<bool> released{false};
  std::thread ender([&] {
    std::this_thread::sleep_for(100ms);
    std::lock_guard lock(mu);
    REQUIRE(open.size() == 1);
    released = true;
    open.front()();
  });
  CHECK(s.stop(5s));
  CHECK(released.load());
  ender.join();
  CHECK(s.stats().launched_in_flight == 0);
}

namespace {

// Launches on a loop: where each launch ran and what it planned, per job.
struct LoopLaunches {
  std::unique_ptr<EventLoop> loop = [] {
    auto l = EventLoop::start();
    REQUIRE(l.ok());
    return std::move(l).value();
  }();
  std::mutex mu;
  std::vector<std::vector<MonoTime>> planned;
  int off_loop = 0;
  Scheduler::Launch launch() {
    return [this](std::size_t i, const ProbeJob&, MonoTime at, std::function<void()> finished) {
      {
        std::lock_guard lock(mu);
        if (!loop->in_loop_thread()) ++off_loop;
        planned[i].push_back(at);
      }
      finished();
    };
  }
  std::size_t launched() {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const auto& job : planned) n += job.size();
    return n;
  }
};

}  // namespace

// Packet rounds timed on the loop: launched there, never overrunning, each
// job on its own grid, the jobs spread over the interval as one timetable
// spreads them (the worker job keeps its place among them), and stop()
// cancels the loop's timer: nothing launches after it returns.
TEST_CASE("packet rounds timed on the loop keep the spread and stop cleanly") {
  constexpr int kJobs = 5;
  Fixture f(kJobs, 50ms);
  for (auto& t : f.config.targets) t.probes[0].tcp->host = "127.0.0.1";
  f.config.targets[2].probes[0].tcp->send = "x";  // not the engine's: a worker's
  SystemClock clock;
  LoopLaunches l;
  l.planned.resize(kJobs);
  std::vector<MonoTime> worker_planned;
  std::mutex worker_mu;
  Scheduler s(
      clock, make_jobs(f.config), 1,
      [&](std::size_t, const ProbeJob&, MonoTime at) {
        std::lock_guard lock(worker_mu);
        worker_planned.push_back(at);
      },
      l.launch(), l.loop.get());
  s.start();
  std::this_thread::sleep_for(400ms);
  CHECK(s.stop(1s));
  const std::size_t after_stop = l.launched();
  std::this_thread::sleep_for(120ms);
  CHECK(l.launched() == after_stop);
  const auto st = s.stats();
  CHECK(st.overruns == 0);
  CHECK(st.missed == 0);
  CHECK(st.launched_in_flight == 0);
  CHECK(l.off_loop == 0);
  CHECK(st.rounds == l.launched() + worker_planned.size());
  CHECK(l.planned[2].empty());
  l.planned[2] = worker_planned;
  for (const auto& job : l.planned) {
    REQUIRE(job.size() >= 4);
    for (std::size_t k = 1; k < job.size(); ++k) CHECK(job[k] - job[k - 1] == Duration(50ms));
  }
  // Job i's grid sits i/5 of the interval after job 0's.
  for (int i = 1; i < kJobs; ++i) {
    const Duration gap = (l.planned[i][0] - l.planned[0][0]) % Duration(50ms);
    CHECK(gap == Duration(10ms) * i);
  }
}

TEST_CASE("the launch slack spans a few gaps between rounds within its floor and ceiling") {
  const auto slack = [](int jobs, Duration interval) {
    return Scheduler::launch_slack_for(
        std::vector<Duration>(static_cast<std::size_t>(jobs), interval));
  };
  CHECK(slack(0, 1s) == Scheduler::kLaunchSlack);
  CHECK(slack(200, 1s) == Duration(20ms));  // 4 gaps of 5 ms
  CHECK(slack(100, 1s) == Scheduler::kMaxLaunchSlack);
  CHECK(slack(10000, 1s) == Scheduler::kLaunchSlack);
  CHECK(slack(5, 50ms) == Duration(5ms));           // a tenth of the interval
  CHECK(slack(1, 5ms) == Scheduler::kLaunchSlack);  // never below the floor
  // Mixed intervals: rounds a second add up (100 at 1 s and 100 at 0.5 s: 300/s).
  std::vector<Duration> mixed(100, 1s);
  mixed.insert(mixed.end(), 100, 500ms);
  CHECK(Scheduler::launch_slack_for(mixed) ==
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(4.0 / 300)));
}

// Sparse rounds share wake-ups: 100 jobs at 0.5 s are 5 ms apart, so each
// wake-up of the loop launches about four (20 ms of slack), never one early.
TEST_CASE("sparse packet rounds on the loop share wake-ups and never start early") {
  constexpr int kJobs = 100;
  Fixture f(kJobs, 500ms);
  for (auto& t : f.config.targets) t.probes[0].tcp->host = "127.0.0.1";
  SystemClock clock;
  LoopLaunches l;
  std::vector<MonoTime> at;  // loop thread only until stop()
  int early = 0;
  Scheduler s(
      clock, make_jobs(f.config), 1, [](std::size_t, const ProbeJob&, MonoTime) {},
      [&](std::size_t, const ProbeJob&, MonoTime planned, std::function<void()> finished) {
        const MonoTime now = clock.now();
        if (now < planned) ++early;
        at.push_back(now);
        finished();
      },
      l.loop.get());
  CHECK(s.launch_slack() == Duration(20ms));
  s.start();
  std::this_thread::sleep_for(700ms);
  CHECK(s.stop(1s));
  const auto launches = l.loop->call([&] { return at; });
  REQUIRE(launches.size() >= kJobs);
  // Launches of one wake-up come microseconds apart; wake-ups, milliseconds.
  std::size_t wakeups = 1;
  for (std::size_t i = 1; i < launches.size(); ++i) wakeups += launches[i] - launches[i - 1] > 1ms;
  CHECK(wakeups * 2 <= launches.size());
  CHECK(early == 0);
}

// The agent stops its engine's loop after the scheduler, but a scheduler
// stopped after its loop must not hang nor touch the loop's thread.
TEST_CASE("a scheduler whose loop stopped first still stops") {
  Fixture f(2, 20ms);
  for (auto& t : f.config.targets) t.probes[0].tcp->host = "127.0.0.1";
  SystemClock clock;
  LoopLaunches l;
  l.planned.resize(2);
  Scheduler s(
      clock, make_jobs(f.config), 1, [](std::size_t, const ProbeJob&, MonoTime) {}, l.launch(),
      l.loop.get());
  s.start();
  std::this_thread::sleep_for(60ms);
  l.loop->stop();
  CHECK(s.stop(1s));
  CHECK(l.launched() >= 2);
}

namespace {

std::size_t threads_now() {
  std::size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)entry;
    ++n;
  }
  return n;
}

}  // namespace

// Idle threads cost CPU to start and join and RSS for their stacks: a
// scheduler starts workers only for the jobs they can run, and no thread
// when the loop times every job.
TEST_CASE("the scheduler starts only the threads its jobs need") {
  Fixture f(4, 50ms);
  for (auto& t : f.config.targets) t.probes[0].tcp->host = "127.0.0.1";
  SystemClock clock;
  LoopLaunches l;
  l.planned.resize(4);
  SUBCASE("every job on the loop: no thread") {
    Scheduler s(
        clock, make_jobs(f.config), 32, [](std::size_t, const ProbeJob&, MonoTime) {}, l.launch(),
        l.loop.get());
    const std::size_t before = threads_now();
    s.start();
    CHECK(threads_now() == before);
    std::this_thread::sleep_for(120ms);
    CHECK(s.stop(1s));
    CHECK(l.launched() >= 4);
  }
  SUBCASE("two worker jobs of 32 workers: the timer and two workers") {
    f.config.targets[0].probes[0].tcp->send = "x";
    f.config.targets[1].probes[0].tcp->send = "x";
    std::atomic<int> ran{0};
    Scheduler s(
        clock, make_jobs(f.config), 32, [&](std::size_t, const ProbeJob&, MonoTime) { ++ran; },
        l.launch(), l.loop.get());
    const std::size_t before = threads_now();
    s.start();
    CHECK(threads_now() == before + 3);
    std::this_thread::sleep_for(120ms);
    CHECK(s.stop(1s));
    CHECK(ran.load() >= 2);
    CHECK(l.launched() >= 2);
  }
}

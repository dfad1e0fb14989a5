// Scheduler: runs every probe job on its Timetable.
//
// One timer thread takes due slots from the Timetable. Packet rounds (ICMP,
// plain TCP connects: RoundEngine::handles) go to the `launch` function,
// which starts them without waiting (on the round engine's event loop) and
// reports their end through `finished`; the rest (HTTP, LLM, TCP with
// send/expect) go to `workers` threads, where a round blocks its worker for
// at most its budget. So `workers` bounds only those (no more start than
// there are such jobs, none when there is none), and a slow HTTP endpoint
// cannot starve the packet rounds. A packet job whose host is a
// name is handed to a worker to resolve, which then launches it and moves
// on. When every worker is busy, due rounds wait in a queue and start late
// (counted in lag); no round stacks on its own job (the Timetable skips
// that slot). Without `launch`, every round runs on a worker.
//
// With an event loop (the round engine's), the packet rounds to literal
// addresses are timed on that loop instead of the timer thread: one timer
// there takes what is due and launches it in place, so a round costs the
// loop no posted function, and rounds due within the launch slack of each
// other share a wake-up (starting up to that much late; planned times,
// hence the spread, are as before; the lag figures show the wait). The
// slack is about kLaunchBatch mean gaps between the loop's rounds, within
// [kLaunchSlack, kMaxLaunchSlack] and at most a tenth of the shortest
// interval: at 100 targets a second a round alone was a whole wake-up of a
// cold thread, a cost that sharing divides, and at 10,000 the floor keeps
// each wake-up's burst of echoes as small as before. Both timetables are
// built from every job's interval, so the rounds are spread exactly as one
// timetable spreads them. When the loop
// times every job, the scheduler starts no thread of its own.
//
// Thread-safe: stats() may be called from any thread. start() and stop() from
// the owner only.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/timetable.h"
#include "core/config.h"
#include "core/time.h"

namespace linewatch {

// One (line × target × kind) job. Points into a Config that outlives the scheduler.
struct ProbeJob {
  const LineSpec* line;
  const TargetSpec* target;
  const ProbeSpec* spec;
};

// Every (line × target × probe kind) of `config`, in config order.
std::vector<ProbeJob> make_jobs(const Config& config);

struct SchedulerStats {
  std::uint64_t rounds = 0;    // rounds started
  std::uint64_t overruns = 0;  // slots skipped because the job was still running
  std::uint64_t missed = 0;    // slots skipped because the timer stalled
  Duration lag_total{0};       // sum over rounds of (actual start − planned start)
  Duration lag_max{0};
  int in_flight = 0;           // rounds on workers now
  int launched_in_flight = 0;  // rounds handed to `launch` and not yet finished
  std::size_t queued = 0;      // due rounds waiting for a worker now
  // Over the last minute (a sliding window of one-second steps).
  double rounds_per_second = 0;
  std::uint64_t overruns_last_minute = 0;
  std::uint64_t missed_last_minute = 0;
};

// Counts events in one-second steps over the last minute.
class MinuteWindow {
 public:
  void add(MonoTime now, std::uint64_t n);
  std::uint64_t sum(MonoTime now) const;  // over the 60 s before `now`
  // The seconds the window covers so far (1..60): a young window divides by less.
  double seconds(MonoTime now) const;

 private:
  static constexpr int kSteps = 60;
  std::int64_t step_of(MonoTime t) const;
  std::array<std::uint64_t, kSteps> counts_{};
  std::array<std::int64_t, kSteps> steps_{};  // which second each slot holds
  std::optional<MonoTime> first_;
};

class EventLoop;

class Scheduler {
 public:
  // Rounds timed on the loop and due within the launch slack after a
  // wake-up wait for the next one, which is that much later: the slack's
  // floor and ceiling, and how many mean gaps between rounds it spans.
  static constexpr Duration kLaunchSlack = std::chrono::milliseconds(1);
  static constexpr Duration kMaxLaunchSlack = std::chrono::milliseconds(30);
  static constexpr int kLaunchBatch = 4;
  static constexpr int kSlackPerInterval = 10;  // the slack is at most this part of an interval
  // The launch slack of jobs with these intervals (each > 0): kLaunchBatch
  // times the mean gap between their rounds, clamped to the floor and to the
  // ceiling or a tenth of the shortest interval, whichever is less.
  static Duration launch_slack_for(const std::vector<Duration>& intervals);

  // Runs one round of jobs[index]; called on a worker thread. Must not throw.
  using Runner = std::function<void(std::size_t index, const ProbeJob& job, MonoTime planned)>;
  // Starts one round of jobs[index] and returns without waiting for it; the
  // round calls `finished` once, from any thread, when it has ended. Called
  // on the timer thread or, given a loop, on the loop thread (a literal
  // host), or on a worker (a name to resolve). Must not throw nor block
  // beyond resolving a name.
  using Launch = std::function<void(std::size_t index, const ProbeJob& job, MonoTime planned,
                                    std::function<void()> finished)>;

  // `launch` empty: every round runs on the workers. `loop` (with launch;
  // not owned; must outlive this, or be stopped before stop() is called)
  // times the rounds `launch` starts at once; then `clock` must be the
  // steady clock the loop runs on.
  Scheduler(const Clock& clock, std::vector<ProbeJob> jobs, int workers, Runner run,
            Launch launch = {}, EventLoop* loop = nullptr);
  ~Scheduler();  // stop(grace = infinite) if still running
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the timer and workers; the first slots fall in the next interval.
  void start();

  // Stops dispatching and waits up to `grace` for rounds in flight to end,
  // launched ones included. Returns true when every thread was joined and
  // every launched round finished. On false, threads still run a round (or
  // launched rounds may still call `finished`: stop their engine before
  // destroying this) and the caller must keep everything the jobs point to
  // alive, or end the process (the agent does after flushing storage).
  bool stop(Duration grace);

  SchedulerStats stats() const;

  // The launch slack of the jobs timed on the loop (kLaunchSlack without any).
  Duration launch_slack() const { return launch_slack_; }

 private:
  void timer_loop();
  void worker_loop();
  std::optional<Duration> on_loop_timer(MonoTime now);  // the loop's packet timetable
  void launch(const Timetable::Slot& slot);
  void finished(std::size_t job);
  void count_start(const Timetable::Slot& slot);  // mu_ held

  const Clock& clock_;
  const std::vector<ProbeJob> jobs_;
  const int worker_count_;
  const Runner run_;
  const Launch launch_;
  EventLoop* const loop_;
  // Per job: launched straight from the timer thread (a packet round to a
  // literal address), the same from the loop's timer, launched from a worker
  // (to a name), or run on a worker.
  enum class Route : std::uint8_t { launch, loop_launch, resolve_then_launch, worker };
  const std::vector<Route> routes_;
  const Duration launch_slack_;

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;             // wakes the timer on stop
  std::condition_variable work_cv_;              // wakes workers on new slots or stop
  std::condition_variable idle_cv_;              // wakes stop() as rounds end
  Timetable timetable_;                          // guarded by mu_: every job but loop_launch ones
  Timetable loop_timetable_;                     // guarded by mu_: loop_launch jobs
  std::optional<std::uint64_t> loop_timer_;      // the loop's timer id; owner only
  std::vector<Timetable::Slot> loop_launching_;  // on_loop_timer()'s scratch; loop thread
  std::deque<Timetable::Slot> queue_;            // guarded by mu_
  bool stopping_ = false;                        // guarded by mu_
  int live_threads_ = 0;                         // guarded by mu_
  SchedulerStats stats_;         // guarded by mu_ (overruns/missed read from timetable_)
  MinuteWindow started_window_;  // guarded by mu_
  MinuteWindow overrun_window_;  // guarded by mu_
  MinuteWindow missed_window_;   // guarded by mu_
  std::vector<std::thread> threads_;
  bool running_ = false;  // owner only: between start() and stop()
};

}  // namespace linewatch

// Scheduler: runs every probe job on its Timetable with a fixed pool of workers.
//
// One timer thread takes due slots from the Timetable and hands them to
// `workers` threads; a round blocks its worker for at most its budget. When
// every worker is busy, due rounds wait in a queue and start late (counted in
// lag); they never stack on the same job (the Timetable skips that slot).
//
// Thread-safe: stats() may be called from any thread. start() and stop() from
// the owner only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
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
  std::uint64_t rounds = 0;     // rounds started
  std::uint64_t overruns = 0;   // slots skipped because the job was still running
  std::uint64_t missed = 0;     // slots skipped because the timer stalled
  Duration lag_total{0};        // sum over rounds of (actual start − planned start)
  Duration lag_max{0};
  int in_flight = 0;
};

class Scheduler {
 public:
  // Runs one round of jobs[index]; called on a worker thread. Must not throw.
  using Runner = std::function<void(std::size_t index, const ProbeJob& job, MonoTime planned)>;

  Scheduler(const Clock& clock, std::vector<ProbeJob> jobs, int workers, Runner run);
  ~Scheduler();  // stop(grace = infinite) if still running
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the timer and workers; the first slots fall in the next interval.
  void start();

  // Stops dispatching and waits up to `grace` for rounds in flight to end.
  // Returns true when every thread was joined. On false, threads still run a
  // round and the caller must keep everything the jobs point to alive, or
  // end the process (the agent does after flushing storage).
  bool stop(Duration grace);

  SchedulerStats stats() const;

 private:
  void timer_loop();
  void worker_loop();

  const Clock& clock_;
  const std::vector<ProbeJob> jobs_;
  const int worker_count_;
  const Runner run_;

  mutable std::mutex mu_;
  std::condition_variable timer_cv_;   // wakes the timer on stop
  std::condition_variable work_cv_;    // wakes workers on new slots or stop
  std::condition_variable idle_cv_;    // wakes stop() as rounds end
  Timetable timetable_;                // guarded by mu_
  std::deque<Timetable::Slot> queue_;  // guarded by mu_
  bool stopping_ = false;              // guarded by mu_
  int live_threads_ = 0;               // guarded by mu_
  SchedulerStats stats_;               // guarded by mu_ (overruns/missed read from timetable_)
  std::vector<std::thread> threads_;
};

}  // namespace linewatch

// Timetable: when each probe job is due, as pure logic on monotonic time.
//
// Jobs of the same interval are spread evenly across it (job i of n starts at
// i/n of the interval) so a thousand targets never fire in one burst. The next
// due time is always the previous due time plus the interval, never "now plus
// interval", so schedules do not drift however late a round starts. A job that
// is still running when its slot comes skips that slot and counts an overrun,
// rather than stacking a second round on the same line and target.
//
// Arithmetic never wraps: offsets are computed without interval × job count,
// and due times saturate at MonoTime::max() (a job that far out never runs
// again) rather than overflow into the past.
//
// Costs: next_due O(1); take_due O(k log n) for k due jobs of n (a min-heap
// of due times: at 10,000 jobs the timer wakes every 100 µs, where a scan of
// every job per wake-up cost more than the rounds it started).
//
// Not thread-safe: one owner (the scheduler, under its mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <utility>
#include <vector>

#include "core/time.h"

namespace linewatch {

class Timetable {
 public:
  struct Slot {
    std::size_t job;
    MonoTime planned;  // when the job was due
  };

  // `intervals[i]` is job i's interval (> 0). Schedules start at `start`.
  // With `owned` (one flag per job), only the jobs flagged ever come due:
  // two timetables built from the same intervals and start split the jobs
  // between two owners and spread them exactly as one timetable would.
  Timetable(const std::vector<Duration>& intervals, MonoTime start,
            const std::vector<bool>& owned = {});

  // The earliest due time of any job; nullopt with no jobs.
  std::optional<MonoTime> next_due() const;

  // Jobs due at or before `now`, each advanced to its next slot. A job marked
  // running keeps its slot to no one: the slot is skipped and counted as an
  // overrun. Slots come in order of due time (then job). Slots missed entirely (the timer thread
  // stalled for more than an interval) are skipped and counted too, so a stall never causes a
  // burst.
  std::vector<Slot> take_due(MonoTime now);
  // The same into `out` (cleared first), whose capacity is kept: a timer
  // that wakes every few milliseconds allocates nothing.
  void take_due(MonoTime now, std::vector<Slot>& out);

  void set_running(std::size_t job, bool running) { jobs_.at(job).running = running; }
  bool running(std::size_t job) const { return jobs_.at(job).running; }

  std::uint64_t overruns() const { return overruns_; }
  std::uint64_t missed() const { return missed_; }
  std::size_t size() const { return jobs_.size(); }
  MonoTime due(std::size_t job) const { return jobs_.at(job).due; }

 private:
  struct Job {
    Duration interval;
    MonoTime due;
    bool running = false;
  };
  using Entry = std::pair<MonoTime, std::size_t>;  // (due, job)
  std::vector<Job> jobs_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;  // owned jobs
  std::uint64_t overruns_ = 0;
  std::uint64_t missed_ = 0;
};

}  // namespace linewatch

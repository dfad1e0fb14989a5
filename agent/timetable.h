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
// Not thread-safe: the scheduler's timer thread owns it.
#pragma once

#include <cstdint>
#include <optional>
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
  Timetable(const std::vector<Duration>& intervals, MonoTime start);

  // The earliest due time of any job; nullopt with no jobs.
  std::optional<MonoTime> next_due() const;

  // Jobs due at or before `now`, each advanced to its next slot. A job marked
  // running keeps its slot to no one: the slot is skipped and counted as an
  // overrun. Slots missed entirely (the timer thread stalled for more than an
  // interval) are skipped and counted too, so a stall never causes a burst.
  std::vector<Slot> take_due(MonoTime now);

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
  std::vector<Job> jobs_;
  std::uint64_t overruns_ = 0;
  std::uint64_t missed_ = 0;
};

}  // namespace linewatch

#include "agent/timetable.h"

#include <map>

namespace linewatch {

Timetable::Timetable(const std::vector<Duration>& intervals, MonoTime start) {
  std::map<Duration::rep, std::size_t> per_interval;
  for (auto iv : intervals) ++per_interval[iv.count()];
  std::map<Duration::rep, std::size_t> placed;
  jobs_.reserve(intervals.size());
  for (auto iv : intervals) {
    const std::size_t i = placed[iv.count()]++;
    const std::size_t n = per_interval[iv.count()];
    jobs_.push_back(Job{iv, start + iv * static_cast<Duration::rep>(i) / static_cast<Duration::rep>(n)});
  }
}

std::optional<MonoTime> Timetable::next_due() const {
  std::optional<MonoTime> best;
  for (const auto& j : jobs_)
    if (!best || j.due < *best) best = j.due;
  return best;
}

std::vector<Timetable::Slot> Timetable::take_due(MonoTime now) {
  // O(jobs) per call: fine for thousands of jobs at the timer's tick rate, and
  // simpler to keep correct than a heap that must be re-keyed on every skip.
  std::vector<Slot> out;
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    Job& j = jobs_[i];
    if (j.due > now) continue;
    const MonoTime planned = j.due;
    j.due += j.interval;
    if (j.due <= now) {
      // The timer fell more than a whole interval behind: run once, late, and
      // resume the original grid instead of replaying every missed slot.
      const auto behind = (now - j.due) / j.interval + 1;
      missed_ += static_cast<std::uint64_t>(behind);
      j.due += j.interval * behind;
    }
    if (j.running) {
      ++overruns_;
      continue;
    }
    out.push_back(Slot{i, planned});
  }
  return out;
}

}  // namespace linewatch

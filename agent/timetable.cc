#include "agent/timetable.h"

#include <map>

namespace linewatch {
namespace {

// t + d, held at MonoTime::max() instead of wrapping: a job whose next slot
// lies beyond the clock's range simply never comes due again.
MonoTime saturating_add(MonoTime t, Duration d) {
  if (t.time_since_epoch() <= Duration::zero()) return t + d;  // d ≥ 0 fits
  return d >= MonoTime::max() - t ? MonoTime::max() : t + d;
}

// interval × i / n without the product: it overflows for long intervals
// times many jobs (24h × 200,000 jobs > 2^63 ns). Exact for i < n.
Duration offset(Duration interval, std::size_t i, std::size_t n) {
  const auto iv = interval.count();
  const auto ii = static_cast<Duration::rep>(i), nn = static_cast<Duration::rep>(n);
  return Duration((iv / nn) * ii + (iv % nn) * ii / nn);
}

}  // namespace

Timetable::Timetable(const std::vector<Duration>& intervals, MonoTime start,
                     const std::vector<bool>& owned) {
  std::map<Duration::rep, std::size_t> per_interval;
  for (auto iv : intervals) ++per_interval[iv.count()];
  std::map<Duration::rep, std::size_t> placed;
  jobs_.reserve(intervals.size());
  for (auto iv : intervals) {
    const std::size_t i = placed[iv.count()]++;
    const std::size_t n = per_interval[iv.count()];
    jobs_.push_back(Job{iv, saturating_add(start, offset(iv, i, n))});
    const std::size_t job = jobs_.size() - 1;
    if (owned.empty() || (job < owned.size() && owned[job])) heap_.emplace(jobs_.back().due, job);
  }
}

std::optional<MonoTime> Timetable::next_due() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.top().first;
}

std::vector<Timetable::Slot> Timetable::take_due(MonoTime now) {
  std::vector<Slot> out;
  take_due(now, out);
  return out;
}

void Timetable::take_due(MonoTime now, std::vector<Slot>& out) {
  // A job's due time changes only here, so its heap entry never needs re-keying.
  out.clear();
  while (!heap_.empty() && heap_.top().first <= now) {
    const std::size_t i = heap_.top().second;
    heap_.pop();
    Job& j = jobs_[i];
    const MonoTime planned = j.due;
    j.due = saturating_add(j.due, j.interval);
    if (j.due <= now) {
      // The timer fell more than a whole interval behind: run once, late, and
      // resume the original grid instead of replaying every missed slot.
      // (now - due) - its remainder is a whole number of intervals ≤ now.
      const Duration late = now - j.due;
      missed_ += static_cast<std::uint64_t>(late / j.interval + 1);
      j.due = saturating_add(j.due + (late - late % j.interval), j.interval);
    }
    heap_.emplace(j.due, i);
    if (j.running) {
      ++overruns_;
      continue;
    }
    out.push_back(Slot{i, planned});
  }
}

}  // namespace linewatch

#include "agent/scheduler.h"

namespace linewatch {

std::vector<ProbeJob> make_jobs(const Config& config) {
  std::vector<ProbeJob> jobs;
  for (const auto& line : config.lines)
    for (const auto& target : config.targets)
      for (const auto& spec : target.probes) jobs.push_back(ProbeJob{&line, &target, &spec});
  return jobs;
}

namespace {
std::vector<Duration> intervals_of(const std::vector<ProbeJob>& jobs) {
  std::vector<Duration> out;
  out.reserve(jobs.size());
  for (const auto& j : jobs) out.push_back(j.spec->timing.interval);
  return out;
}
}  // namespace

Scheduler::Scheduler(const Clock& clock, std::vector<ProbeJob> jobs, int workers, Runner run)
    : clock_(clock),
      jobs_(std::move(jobs)),
      worker_count_(workers < 1 ? 1 : workers),
      run_(std::move(run)),
      timetable_(intervals_of(jobs_), clock.now()) {}

Scheduler::~Scheduler() {
  if (!threads_.empty()) stop(Duration::max());
}

void Scheduler::start() {
  {
    std::lock_guard lock(mu_);
    // Re-anchor on the start time so construction-to-start delay is not a burst.
    timetable_ = Timetable(intervals_of(jobs_), clock_.now());
    live_threads_ = worker_count_ + 1;
  }
  threads_.emplace_back([this] { timer_loop(); });
  for (int i = 0; i < worker_count_; ++i) threads_.emplace_back([this] { worker_loop(); });
}

bool Scheduler::stop(Duration grace) {
  std::unique_lock lock(mu_);
  stopping_ = true;
  queue_.clear();
  timer_cv_.notify_all();
  work_cv_.notify_all();
  const bool all_done = grace == Duration::max()
                            ? (idle_cv_.wait(lock, [&] { return live_threads_ == 0; }), true)
                            : idle_cv_.wait_for(lock, grace, [&] { return live_threads_ == 0; });
  lock.unlock();
  if (!all_done) {
    // The owner ends the process; joining would block on a round in flight.
    for (auto& t : threads_) t.detach();
  } else {
    for (auto& t : threads_) t.join();
  }
  threads_.clear();
  return all_done;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  SchedulerStats s = stats_;
  s.overruns = timetable_.overruns();
  s.missed = timetable_.missed();
  return s;
}

void Scheduler::timer_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto next = timetable_.next_due();
    if (!next) {
      timer_cv_.wait(lock, [&] { return stopping_; });
      break;
    }
    if (timer_cv_.wait_until(lock, *next, [&] { return stopping_; })) break;
    for (const auto& slot : timetable_.take_due(clock_.now())) {
      timetable_.set_running(slot.job, true);
      queue_.push_back(slot);
      // One wake per slot: waking every idle worker for each slot cost more
      // CPU in futex calls than the TCP probes themselves (bench_scheduler).
      work_cv_.notify_one();
    }
  }
  --live_threads_;
  idle_cv_.notify_all();
}

void Scheduler::worker_loop() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    const Timetable::Slot slot = queue_.front();
    queue_.pop_front();
    const Duration lag = clock_.now() - slot.planned;
    ++stats_.rounds;
    ++stats_.in_flight;
    stats_.lag_total += lag;
    if (lag > stats_.lag_max) stats_.lag_max = lag;
    lock.unlock();
    run_(slot.job, jobs_[slot.job], slot.planned);
    lock.lock();
    --stats_.in_flight;
    timetable_.set_running(slot.job, false);
  }
  --live_threads_;
  idle_cv_.notify_all();
}

}  // namespace linewatch

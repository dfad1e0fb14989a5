#include "agent/scheduler.h"

#include <algorithm>

#include "probes/event_loop.h"
#include "probes/round_engine.h"
#include "probes/socket.h"

namespace linewatch {

std::int64_t MinuteWindow::step_of(MonoTime t) const {
  return std::chrono::duration_cast<std::chrono::seconds>(t - *first_).count();
}

void MinuteWindow::add(MonoTime now, std::uint64_t n) {
  if (!first_) first_ = now;
  const std::int64_t step = step_of(now);
  const std::size_t slot = static_cast<std::size_t>(step % kSteps);
  if (steps_[slot] != step) {
    steps_[slot] = step;
    counts_[slot] = 0;
  }
  counts_[slot] += n;
}

std::uint64_t MinuteWindow::sum(MonoTime now) const {
  if (!first_) return 0;
  const std::int64_t step = step_of(now);
  std::uint64_t total = 0;
  for (int i = 0; i < kSteps; ++i)
    if (steps_[i] > step - kSteps && steps_[i] <= step) total += counts_[i];
  return total;
}

double MinuteWindow::seconds(MonoTime now) const {
  if (!first_) return 1.0;
  const double covered = std::chrono::duration<double>(now - *first_).count();
  return std::clamp(covered, 1.0, static_cast<double>(kSteps));
}

std::vector<ProbeJob> make_jobs(const Config& config) {
  std::vector<ProbeJob> jobs;
  for (const auto& line : config.lines)
    for (const auto& target : config.targets)
      for (const auto& spec : target.probes) jobs.push_back(ProbeJob{&line, &target, &spec});
  return jobs;
}

namespace {

bool literal_host(const ProbeSpec& spec) {
  SocketAddress ignored;
  const std::string& host = spec.kind == ProbeKind::icmp ? spec.icmp.host : spec.tcp->host;
  return parse_numeric_address(host, 0, ignored);
}

template <class Route>
std::vector<bool> owned_by(const std::vector<Route>& routes, bool loop) {
  std::vector<bool> owned;
  owned.reserve(routes.size());
  for (const Route r : routes) owned.push_back((r == Route::loop_launch) == loop);
  return owned;
}

std::vector<Duration> intervals_of(const std::vector<ProbeJob>& jobs) {
  std::vector<Duration> out;
  out.reserve(jobs.size());
  for (const auto& j : jobs) out.push_back(j.spec->timing.interval);
  return out;
}
}  // namespace

Scheduler::Scheduler(const Clock& clock, std::vector<ProbeJob> jobs, int workers, Runner run,
                     Launch launch, EventLoop* loop)
    : clock_(clock),
      jobs_(std::move(jobs)),
      worker_count_(workers < 1 ? 1 : workers),
      run_(std::move(run)),
      launch_(std::move(launch)),
      loop_(launch_ ? loop : nullptr),
      routes_([&] {
        std::vector<Route> routes;
        for (const ProbeJob& j : jobs_) {
          if (!launch_ || !RoundEngine::handles(*j.spec))
            routes.push_back(Route::worker);
          else if (!literal_host(*j.spec))
            routes.push_back(Route::resolve_then_launch);
          else
            routes.push_back(loop_ ? Route::loop_launch : Route::launch);
        }
        return routes;
      }()),
      launch_slack_([&] {
        std::vector<Duration> on_loop;
        for (std::size_t i = 0; i < jobs_.size(); ++i)
          if (routes_[i] == Route::loop_launch) on_loop.push_back(jobs_[i].spec->timing.interval);
        return launch_slack_for(on_loop);
      }()),
      timetable_(intervals_of(jobs_), clock.now(), owned_by(routes_, false)),
      loop_timetable_(intervals_of(jobs_), clock.now(), owned_by(routes_, true)) {}

Duration Scheduler::launch_slack_for(const std::vector<Duration>& intervals) {
  double per_second = 0;  // rounds a second, all jobs together
  Duration shortest = Duration::max();
  for (const Duration iv : intervals) {
    if (iv <= Duration::zero()) continue;
    per_second += 1.0 / std::chrono::duration<double>(iv).count();
    shortest = std::min(shortest, iv);
  }
  if (per_second <= 0) return kLaunchSlack;
  const auto slack = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(kLaunchBatch / per_second));
  // A late start stays far from the job's next slot, where a stalled loop
  // would turn it into a missed one.
  const Duration ceiling = std::min(kMaxLaunchSlack, shortest / kSlackPerInterval);
  return std::clamp(slack, kLaunchSlack, std::max(ceiling, kLaunchSlack));
}

Scheduler::~Scheduler() {
  if (running_) stop(Duration::max());
}

void Scheduler::start() {
  {
    std::lock_guard lock(mu_);
    // Re-anchor on the start time so construction-to-start delay is not a burst.
    const MonoTime now = clock_.now();
    timetable_ = Timetable(intervals_of(jobs_), now, owned_by(routes_, false));
    loop_timetable_ = Timetable(intervals_of(jobs_), now, owned_by(routes_, true));
  }
  // Threads only for the jobs that need them: a worker runs one job at a
  // time and a job never runs twice at once, so workers beyond the jobs
  // routed to them would idle for ever; with every job on the loop, no
  // thread at all (32 idle threads cost more than 100 ICMP targets' rounds
  // over a few seconds, and their stacks count in the RSS).
  int on_workers = 0;
  for (const Route r : routes_) on_workers += r == Route::worker || r == Route::resolve_then_launch;
  const int workers = std::min(worker_count_, on_workers);
  const bool timer_thread = timetable_.next_due().has_value();
  {
    std::lock_guard lock(mu_);
    live_threads_ = workers + (timer_thread ? 1 : 0);
    running_ = true;
  }
  if (const auto first = loop_timetable_.next_due(); loop_ && first) {
    // The loop's clock and clock_ are the same steady clock (see the constructor).
    loop_timer_ = loop_->call([this, due = *first] {
      return loop_->add_timer(due, [this](MonoTime now) { return on_loop_timer(now); });
    });
  }
  if (timer_thread) threads_.emplace_back([this] { timer_loop(); });
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { worker_loop(); });
}

bool Scheduler::stop(Duration grace) {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();
    timer_cv_.notify_all();
    work_cv_.notify_all();
  }
  // Not under mu_: the loop's timer takes it. After this the timer never
  // fires again (a stopped loop runs the call here).
  if (loop_timer_) loop_->call([this, id = *loop_timer_] { loop_->cancel_timer(id); });
  loop_timer_.reset();
  std::unique_lock lock(mu_);
  const auto idle = [&] { return live_threads_ == 0 && stats_.launched_in_flight == 0; };
  const bool all_done = grace == Duration::max() ? (idle_cv_.wait(lock, idle), true)
                                                 : idle_cv_.wait_for(lock, grace, idle);
  lock.unlock();
  if (!all_done) {
    // The owner ends the process; joining would block on a round in flight.
    for (auto& t : threads_) t.detach();
  } else {
    for (auto& t : threads_) t.join();
  }
  threads_.clear();
  running_ = false;
  return all_done;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(mu_);
  SchedulerStats s = stats_;
  s.overruns = timetable_.overruns() + loop_timetable_.overruns();
  s.missed = timetable_.missed() + loop_timetable_.missed();
  s.queued = queue_.size();
  const MonoTime now = clock_.now();
  s.rounds_per_second =
      static_cast<double>(started_window_.sum(now)) / started_window_.seconds(now);
  s.overruns_last_minute = overrun_window_.sum(now);
  s.missed_last_minute = missed_window_.sum(now);
  return s;
}

void Scheduler::count_start(const Timetable::Slot& slot) {
  const MonoTime now = clock_.now();
  const Duration lag = now - slot.planned;
  ++stats_.rounds;
  stats_.lag_total += lag;
  if (lag > stats_.lag_max) stats_.lag_max = lag;
  started_window_.add(now, 1);
}

// Hands one round to launch_; mu_ not held (it may resolve a name).
void Scheduler::launch(const Timetable::Slot& slot) {
  const std::size_t job = slot.job;
  launch_(job, jobs_[job], slot.planned, [this, job] { finished(job); });
}

void Scheduler::finished(std::size_t job) {
  std::lock_guard lock(mu_);
  --stats_.launched_in_flight;
  (routes_[job] == Route::loop_launch ? loop_timetable_ : timetable_).set_running(job, false);
  if (stopping_) idle_cv_.notify_all();
}

void Scheduler::timer_loop() {
  std::vector<Timetable::Slot> due, launching;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto next = timetable_.next_due();
    if (!next) {
      timer_cv_.wait(lock, [&] { return stopping_; });
      break;
    }
    if (timer_cv_.wait_until(lock, *next, [&] { return stopping_; })) break;
    const std::uint64_t overruns = timetable_.overruns();
    const std::uint64_t missed = timetable_.missed();
    const MonoTime now = clock_.now();
    timetable_.take_due(now, due);
    launching.clear();
    for (const auto& slot : due) {
      timetable_.set_running(slot.job, true);
      if (routes_[slot.job] == Route::launch) {
        count_start(slot);
        ++stats_.launched_in_flight;
        launching.push_back(slot);
        continue;
      }
      queue_.push_back(slot);
      // One wake per slot: waking every idle worker for each slot cost more
      // CPU in futex calls than the TCP probes themselves (bench_scheduler).
      work_cv_.notify_one();
    }
    overrun_window_.add(now, timetable_.overruns() - overruns);
    missed_window_.add(now, timetable_.missed() - missed);
    if (launching.empty()) continue;
    // Outside the lock: a round that ends at once calls finished().
    lock.unlock();
    for (const auto& slot : launching) launch(slot);
    lock.lock();
  }
  --live_threads_;
  idle_cv_.notify_all();
}

// Launches the loop's due rounds in place and returns the delay to the next
// wake-up: the next due start, or the launch slack from now if that is sooner.
// `now` is the loop's time, on clock_'s scale: the returned delay counts from it.
std::optional<Duration> Scheduler::on_loop_timer(MonoTime now) {
  std::unique_lock lock(mu_);
  if (stopping_) return std::nullopt;
  const std::uint64_t overruns = loop_timetable_.overruns();
  const std::uint64_t missed = loop_timetable_.missed();
  loop_timetable_.take_due(now, loop_launching_);
  for (const auto& slot : loop_launching_) {
    loop_timetable_.set_running(slot.job, true);
    count_start(slot);
    ++stats_.launched_in_flight;
  }
  if (const std::uint64_t n = loop_timetable_.overruns() - overruns) overrun_window_.add(now, n);
  if (const std::uint64_t n = loop_timetable_.missed() - missed) missed_window_.add(now, n);
  const std::optional<MonoTime> next = loop_timetable_.next_due();
  // Outside the lock: a round that ends at once calls finished().
  lock.unlock();
  for (const auto& slot : loop_launching_) launch(slot);
  if (!next) return std::nullopt;
  return std::max(*next - now, launch_slack_);
}

void Scheduler::worker_loop() {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    const Timetable::Slot slot = queue_.front();
    queue_.pop_front();
    count_start(slot);
    if (routes_[slot.job] == Route::resolve_then_launch) {
      ++stats_.launched_in_flight;
      lock.unlock();
      launch(slot);  // blocks only to resolve the name
      lock.lock();
      continue;
    }
    ++stats_.in_flight;
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

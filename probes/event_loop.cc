#include "probes/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

// Ready descriptors taken per epoll call; more wait for the next iteration.
constexpr int kMaxEvents = 256;
// The wake-up eventfd's registration (watch ids start at 1).
constexpr std::uint64_t kWakeId = 0;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

Result<std::unique_ptr<EventLoop>> EventLoop::start() {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return io_error(errno_text("event loop: epoll_create1"));
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake.valid()) return io_error(errno_text("event loop: eventfd"));
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeId;
  if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &event) != 0)
    return io_error(errno_text("event loop: epoll_ctl"));
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(epoll), std::move(wake)));
  // The loop thread waits for its id to be published before running work.
  std::promise<void> ready;
  std::future<void> started = ready.get_future();
  try {
    loop->thread_ = std::thread([self = loop.get(), go = started.share()] {
      go.wait();
      self->run();
    });
  } catch (const std::system_error& e) {
    return io_error(std::string("event loop: cannot start its thread: ") + e.what());
  }
  loop->thread_id_ = loop->thread_.get_id();
  ready.set_value();
  return loop;
}

EventLoop::EventLoop(Fd epoll, Fd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}

EventLoop::~EventLoop() { stop(); }

void EventLoop::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_asked_ = true;
    if (!woken_) {
      woken_ = true;
      const std::uint64_t one = 1;
      (void)!::write(wake_.get(), &one, sizeof(one));
    }
  }
  if (in_loop_thread()) return;
  std::lock_guard lock(join_mutex_);
  if (thread_.joinable()) thread_.join();
}

bool EventLoop::post(Callback fn) {
  std::lock_guard lock(mutex_);
  if (stopped_) return false;
  posted_.push_back(std::move(fn));
  if (!woken_) {
    woken_ = true;
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof(one));
  }
  return true;
}

Status EventLoop::watch(int fd, Callback on_ready, std::uint32_t events) {
  if (watch_of_fd_.count(fd) != 0)
    return io_error("event loop: fd " + std::to_string(fd) + " is already watched");
  const std::uint64_t id = next_watch_++;
  epoll_event event{};
  event.events = events;  // EPOLLERR and EPOLLHUP are always reported
  event.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0)
    return io_error(errno_text("event loop: epoll_ctl add"));
  watches_.emplace(id, Watch{fd, std::make_shared<Callback>(std::move(on_ready))});
  watch_of_fd_.emplace(fd, id);
  return ok_status();
}

void EventLoop::unwatch(int fd) {
  const auto it = watch_of_fd_.find(fd);
  if (it == watch_of_fd_.end()) return;
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  watches_.erase(it->second);
  watch_of_fd_.erase(it);
}

// A TimerId is the slot's generation (high 32 bits) and its index.
EventLoop::Timer* EventLoop::find_timer(TimerId id) {
  const auto slot = static_cast<std::size_t>(id & 0xffffffffu);
  if (slot >= timers_.size()) return nullptr;
  Timer& t = timers_[slot];
  if (!t.live || t.generation != static_cast<std::uint32_t>(id >> 32)) return nullptr;
  return &t;
}

namespace {
// The heap's order: std::push_heap keeps the largest on top, so "later"
// puts the earliest there; timers due together fire in the order they were
// scheduled.
template <class E>
bool later(const E& a, const E& b) {
  return a.due != b.due ? a.due > b.due : a.order > b.order;
}
}  // namespace

void EventLoop::schedule(std::uint32_t slot, MonoTime due) {
  Timer& t = timers_[slot];
  t.due = due;
  ++t.version;
  heap_.push_back(Entry{due, next_order_++, slot, t.version});
  std::push_heap(heap_.begin(), heap_.end(), later<Entry>);
  // Reschedules leave stale entries: sweep them once they outnumber the
  // live timers, so the heap stays O(live) however often timers move.
  if (heap_.size() > 2 * live_timers_ + 64) {
    std::erase_if(heap_, [this](const Entry& e) { return !valid(e); });
    std::make_heap(heap_.begin(), heap_.end(), later<Entry>);
  }
}

bool EventLoop::valid(const Entry& e) const {
  const Timer& t = timers_[e.slot];
  return t.live && !t.firing && t.version == e.version;
}

void EventLoop::release(std::uint32_t slot) {
  Timer& t = timers_[slot];
  t.live = false;
  t.callback = nullptr;
  ++t.generation;
  ++t.version;  // its heap entries go stale
  --live_timers_;
  free_slots_.push_back(slot);
}

std::optional<MonoTime> EventLoop::next_due() {
  while (!heap_.empty() && !valid(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), later<Entry>);
    heap_.pop_back();
  }
  if (heap_.empty()) return std::nullopt;
  return heap_.front().due;
}

EventLoop::TimerId EventLoop::add_timer(MonoTime due, TimerCallback callback) {
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(timers_.size());
    timers_.emplace_back();
  }
  Timer& t = timers_[slot];
  t.callback = std::move(callback);
  t.live = true;
  ++live_timers_;
  schedule(slot, due);
  return (static_cast<TimerId>(t.generation) << 32) | slot;
}

void EventLoop::cancel_timer(TimerId id) {
  Timer* t = find_timer(id);
  if (t == nullptr) return;
  const auto slot = static_cast<std::uint32_t>(id & 0xffffffffu);
  // From its own callback: the callback is running, so its slot is freed
  // when it returns.
  if (t->firing) {
    t->live = false;
    return;
  }
  release(slot);
}

void EventLoop::reschedule(TimerId id, MonoTime due) {
  Timer* t = find_timer(id);
  if (t == nullptr || t->firing) return;  // firing now: its delay wins
  schedule(static_cast<std::uint32_t>(id & 0xffffffffu), due);
}

void EventLoop::run() {
  std::vector<epoll_event> events(kMaxEvents);
  while (!stopping_) {
    const std::optional<MonoTime> until = next_due();
    const int ready = wait(until, events.data());
    for (int i = 0; i < ready; ++i) dispatch(events[static_cast<std::size_t>(i)]);
    run_due_timers();
    if (!run_posted()) stopping_ = true;
  }
}

// Waits for descriptors until `until` (nullopt: no timer, for ever). Returns
// how many events it stored (0 on timeout or EINTR).
int EventLoop::wait(std::optional<MonoTime> until, epoll_event* events) {
  timespec timeout{};
  timespec* bound = nullptr;
  if (until) {
    const auto left = std::max(Duration::zero(), Duration(*until - Steady::now()));
    timeout.tv_sec = static_cast<time_t>(left.count() / 1'000'000'000);
    timeout.tv_nsec = static_cast<long>(left.count() % 1'000'000'000);
    bound = &timeout;
  }
  int n = ::epoll_pwait2(epoll_.get(), events, kMaxEvents, bound, nullptr);
  if (n < 0 && errno == ENOSYS) {
    // Kernels before 5.11: whole milliseconds, rounded up so a timer is never early.
    int ms = -1;
    if (bound)
      ms = static_cast<int>(std::min<long long>(
          (timeout.tv_sec * 1'000'000'000LL + timeout.tv_nsec + 999'999) / 1'000'000,
          24LL * 3600 * 1000));
    n = ::epoll_wait(epoll_.get(), events, kMaxEvents, ms);
  }
  return std::max(n, 0);
}

void EventLoop::dispatch(const epoll_event& event) {
  const std::uint64_t id = event.data.u64;
  if (id == kWakeId) return;  // run_posted() reads the eventfd
  const auto it = watches_.find(id);
  if (it == watches_.end()) return;  // unwatched earlier in this batch
  const std::shared_ptr<Callback> callback = it->second.callback;
  ready_events_ = event.events;
  (*callback)();
  ready_events_ = 0;
}

void EventLoop::run_due_timers() {
  const MonoTime now = Steady::now();
  // Collected first: a timer rescheduled for `now` fires in the next
  // iteration, after descriptors, so it cannot starve them.
  due_.clear();
  while (!heap_.empty() && heap_.front().due <= now) {
    const Entry e = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), later<Entry>);
    heap_.pop_back();
    if (valid(e)) due_.emplace_back(e.slot, timers_[e.slot].generation);
  }
  for (const auto& [slot, generation] : due_) {
    Timer& t = timers_[slot];  // a deque: stays put while callbacks add timers
    if (!t.live || t.generation != generation) continue;  // cancelled by an earlier callback
    if (t.due > now) continue;                            // put off by an earlier callback
    t.firing = true;
    const std::optional<Duration> next = t.callback(now);
    t.firing = false;
    if (!t.live || !next) {  // cancelled from its own callback, or ended
      release(slot);
      continue;
    }
    schedule(slot, now + std::max(*next, Duration::zero()));
  }
}

bool EventLoop::run_posted() {
  std::vector<Callback> batch;
  bool go_on = true;
  {
    std::lock_guard lock(mutex_);
    if (woken_) {
      std::uint64_t count = 0;
      (void)!::read(wake_.get(), &count, sizeof(count));
      woken_ = false;
    }
    batch.swap(posted_);
    if (stop_asked_) {
      stopped_ = true;  // what was posted so far is in `batch` and still runs
      go_on = false;
    }
  }
  for (Callback& fn : batch) fn();
  return go_on;
}

}  // namespace linewatch

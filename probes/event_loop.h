// EventLoop: one thread that waits on epoll and runs three kinds of work:
// callbacks for readable descriptors, timers, and functions posted from
// other threads. In the spirit of redis's ae: small, single-threaded inside,
// a timer callback returns its next delay.
//
// Order within one iteration: ready descriptors first, then the timers due at
// the time read after them, then posted functions. A timer that judges
// silence (a liveness tick) therefore sees every reply the kernel queued
// before it ran, even after the loop stalled.
//
// Costs (n = timers, all per call on the loop thread unless said):
// - one iteration: one epoll_pwait2() (ns timeout; epoll_wait() rounded up
//   to whole ms where the kernel lacks it) and one steady-clock read;
// - add_timer, reschedule, each firing: O(log n) (a binary heap in one
//   vector), one std::function call; cancel_timer O(1). No allocation once
//   the loop has held as many timers as now: timers live in reused slots,
//   and a reschedule or cancel leaves a stale heap entry, skipped when it
//   surfaces and swept when stale entries outnumber live ones (a sorted set
//   and a map with a shared callback cost four allocations per round's
//   timer). A timer that fires is never early, and late by the wake-up
//   latency plus the thread's timer slack (50 µs by default);
// - watch / unwatch: one epoll_ctl(); a ready descriptor: one hash look-up;
// - post (any thread): a mutex and, when the queue was empty, one eventfd
//   write to wake the loop; call() adds a promise and a wait.
//
// Thread-safety: post(), call(), stop() and in_loop_thread() may be called
// from any thread. Everything else (watch, unwatch and the timer calls)
// only on the loop thread: inside a callback or a posted function. Callbacks
// run on the loop thread, one at a time; they must not block (every other
// descriptor and timer waits for them) and must not throw (the loop thread
// would end the process).
#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "core/time.h"

namespace linewatch {

class EventLoop {
 public:
  using Callback = std::function<void()>;
  // Called with the loop's time at firing. Returns the delay of the next
  // firing, counted from that same `now`, or nullopt to end the timer. A
  // timer that returns `next - now` fires at `next`, so a schedule on
  // absolute times does not drift.
  using TimerCallback = std::function<std::optional<Duration>(MonoTime now)>;
  using TimerId = std::uint64_t;

  // Creates the epoll and wake-up descriptors and starts the loop thread.
  // Failure: io error naming the call that failed.
  static Result<std::unique_ptr<EventLoop>> start();
  // Stops and joins the loop thread (see stop()). Not from a callback: a
  // thread cannot join itself.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Ends the loop: the current callback finishes, functions posted before
  // this call still run, then the thread is joined; no callback runs after
  // stop() returns. Idempotent. Called on the loop thread it only asks the
  // loop to end (a thread cannot join itself); the destructor joins.
  void stop();

  // Runs `fn` on the loop thread soon. Returns false, dropping fn, once the
  // loop has stopped.
  bool post(Callback fn);

  // Runs `fn` on the loop thread and returns its result, waiting for it.
  // On the loop thread, or once the loop has stopped (no other thread runs
  // loop work any more), fn runs here and now.
  template <class F>
  auto call(F&& fn) -> std::invoke_result_t<F&> {
    using R = std::invoke_result_t<F&>;
    if (in_loop_thread()) return fn();
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(fn));
    std::future<R> result = task->get_future();
    if (!post([task] { (*task)(); })) (*task)();
    return result.get();
  }

  bool in_loop_thread() const { return std::this_thread::get_id() == thread_id_; }

  // Loop thread only. Calls `on_ready` whenever `fd` is readable (or, with
  // `events` = EPOLLOUT, writable: a connect in progress) or has an error
  // pending (EPOLLERR: e.g. a socket's error queue holds news), level
  // triggered, until unwatch(fd). The callback must consume what made the
  // descriptor ready, or it is called again at once. `fd` stays the
  // caller's; unwatch it before closing it. Failure: io error (epoll_ctl),
  // e.g. the fd is already watched.
  Status watch(int fd, Callback on_ready, std::uint32_t events = EPOLLIN);
  // Loop thread only: inside a watch callback, the epoll events (EPOLLIN,
  // EPOLLERR, ...) that made its descriptor ready this time, so it can skip
  // reading a queue that holds nothing; 0 outside watch callbacks.
  std::uint32_t ready_events() const { return ready_events_; }

  // Loop thread only. Stops watching `fd`; a readiness already reported in
  // this iteration is not delivered. Unknown fds are ignored.
  void unwatch(int fd);

  // Loop thread only. First firing at `due` (at once if past). Returns the
  // id for cancel_timer().
  TimerId add_timer(MonoTime due, TimerCallback callback);
  // Loop thread only. The timer does not fire again, even when cancelled
  // from its own callback. Unknown or ended timers are ignored.
  void cancel_timer(TimerId id);
  // Loop thread only. Moves the timer's next firing to `due`, e.g. to put
  // off a backstop whose work was just done elsewhere. From the timer's own
  // callback the returned delay wins. Unknown or ended timers are ignored.
  void reschedule(TimerId id, MonoTime due);

 private:
  EventLoop(Fd epoll, Fd wake);
  void run();
  int wait(std::optional<MonoTime> until, epoll_event* events);
  void dispatch(const epoll_event& event);
  void run_due_timers();
  bool run_posted();  // returns false when the loop should end

  struct Watch {
    int fd;
    std::shared_ptr<Callback> callback;  // shared: survives unwatch from inside itself
  };
  // A timer's slot, reused after the timer ends (a new generation, so an
  // old id finds nothing). In a deque: a callback that adds timers must not
  // move the slot, and the callback, it runs from.
  struct Timer {
    MonoTime due{};
    TimerCallback callback;
    std::uint32_t generation = 1;
    std::uint32_t version = 0;  // bumped at each (re)scheduling: older heap entries are stale
    bool live = false;
    bool firing = false;
  };
  struct Entry {  // a heap entry: valid while its timer's version is unchanged
    MonoTime due;
    std::uint64_t order;  // ties on `due` go in scheduling order
    std::uint32_t slot;
    std::uint32_t version;
  };
  Timer* find_timer(TimerId id);
  void schedule(std::uint32_t slot, MonoTime due);  // push a fresh heap entry
  void release(std::uint32_t slot);
  bool valid(const Entry& e) const;
  std::optional<MonoTime> next_due();  // drops stale entries from the top

  Fd epoll_;
  Fd wake_;  // eventfd: post() and stop() wake the loop through it
  std::thread thread_;
  std::thread::id thread_id_;

  // Loop thread only.
  std::unordered_map<std::uint64_t, Watch> watches_;  // epoll data → registration
  std::unordered_map<int, std::uint64_t> watch_of_fd_;
  std::uint64_t next_watch_ = 1;
  std::deque<Timer> timers_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_timers_ = 0;
  std::uint64_t next_order_ = 0;
  std::vector<Entry> heap_;  // min-heap on due (std::push_heap with `later`)
  std::vector<std::pair<std::uint32_t, std::uint32_t>>
      due_;  // run_due_timers()' scratch: slot, generation
  bool stopping_ = false;
  std::uint32_t ready_events_ = 0;  // of the watch callback running now

  std::mutex join_mutex_;  // stop() from two threads joins once
  std::mutex mutex_;
  std::vector<Callback> posted_;  // guarded by mutex_
  bool woken_ = false;            // guarded by mutex_: a wake-up is already pending
  bool stop_asked_ = false;       // guarded by mutex_
  bool stopped_ = false;          // guarded by mutex_: post() refuses from here on
};

}  // namespace linewatch

#include "probes/event_loop.h"

#include <doctest/doctest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace linewatch {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

std::unique_ptr<EventLoop> started() {
  auto loop = EventLoop::start();
  REQUIRE_MESSAGE(loop.ok(), loop.error().message);
  return std::move(loop).value();
}

// An eventfd made readable on demand, closed by RAII.
struct Signal {
  Fd fd{::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)};
  void raise() const {
    const std::uint64_t one = 1;
    CHECK(::write(fd.get(), &one, sizeof(one)) == sizeof(one));
  }
  void clear() const {
    std::uint64_t count = 0;
    (void)!::read(fd.get(), &count, sizeof(count));
  }
};

TEST_CASE("posted functions run on the loop thread, in order, and call returns a value") {
  auto loop = started();
  std::vector<int> order;
  std::thread::id ran_on;
  for (int i = 0; i < 5; ++i) CHECK(loop->post([&order, i] { order.push_back(i); }));
  const int got = loop->call([&] {
    ran_on = std::this_thread::get_id();
    return static_cast<int>(order.size());
  });
  CHECK(got == 5);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(ran_on != std::this_thread::get_id());
  CHECK_FALSE(loop->in_loop_thread());
  // call() from inside the loop runs inline instead of waiting on itself.
  CHECK(loop->call([&] { return loop->call([&] { return loop->in_loop_thread(); }); }));
}

TEST_CASE("a timer fires never early, again after the delay it returns, and ends on nullopt") {
  auto loop = started();
  std::vector<MonoTime> fired;
  std::vector<MonoTime> planned;
  std::atomic<bool> done{false};
  const MonoTime anchor = Steady::now() + 5ms;
  loop->call([&] {
    planned.push_back(anchor);
    return loop->add_timer(anchor, [&](MonoTime now) -> std::optional<Duration> {
      fired.push_back(now);
      if (fired.size() == 5) {
        done = true;
        return std::nullopt;
      }
      // An absolute grid: the next firing is planned at anchor + k × 2 ms.
      planned.push_back(anchor + 2ms * static_cast<int>(fired.size()));
      return planned.back() - now;
    });
  });
  for (int i = 0; i < 2000 && !done; ++i) std::this_thread::sleep_for(1ms);
  REQUIRE(done);
  std::this_thread::sleep_for(20ms);  // an ended timer does not fire again
  loop->call([] { return 0; });
  REQUIRE(fired.size() == 5);
  for (std::size_t i = 0; i < fired.size(); ++i) {
    CAPTURE(i);
    CHECK(fired[i] >= planned[i]);
  }
}

TEST_CASE("timers fire in due order and a cancelled timer never fires") {
  auto loop = started();
  std::vector<int> order;
  const MonoTime base = Steady::now() + 10ms;
  loop->call([&] {
    auto once = [&order](int tag) {
      return [&order, tag](MonoTime) -> std::optional<Duration> {
        order.push_back(tag);
        return std::nullopt;
      };
    };
    loop->add_timer(base + 3ms, once(3));
    loop->add_timer(base + 1ms, once(1));
    const auto doomed = loop->add_timer(base + 2ms, once(99));
    loop->add_timer(base + 2ms, once(2));
    loop->cancel_timer(doomed);
    // A timer that cancels a later one from its callback.
    const auto later = loop->add_timer(base + 50ms, once(98));
    loop->add_timer(base, [&, later](MonoTime) -> std::optional<Duration> {
      order.push_back(0);
      loop->cancel_timer(later);
      return std::nullopt;
    });
    return 0;
  });
  std::this_thread::sleep_until(base + 100ms);
  const auto seen = loop->call([&] { return order; });
  CHECK(seen == std::vector<int>{0, 1, 2, 3});
}

// Both timers are due in the same iteration; the first puts the second off,
// which must then wait for its new time.
TEST_CASE("a timer put off by another callback fires at its new time, not its old one") {
  auto loop = started();
  std::vector<std::pair<int, MonoTime>> fired;
  const MonoTime base = Steady::now() + 5ms;
  const MonoTime later = base + 40ms;
  loop->call([&] {
    const auto backstop = loop->add_timer(base + 1us, [&](MonoTime now) -> std::optional<Duration> {
      fired.emplace_back(2, now);
      return std::nullopt;
    });
    loop->add_timer(base, [&, backstop](MonoTime now) -> std::optional<Duration> {
      fired.emplace_back(1, now);
      loop->reschedule(backstop, later);
      return std::nullopt;
    });
    // Brought forward: fires before both.
    const auto early = loop->add_timer(base + 1h, [&](MonoTime now) -> std::optional<Duration> {
      fired.emplace_back(0, now);
      return std::nullopt;
    });
    loop->reschedule(early, base - 1ms);
    loop->reschedule(12345, base);  // unknown: ignored
    return 0;
  });
  // Hold the loop until both first timers are due, so they fire in one iteration.
  loop->post([&] { std::this_thread::sleep_until(base + 2ms); });
  std::this_thread::sleep_until(later + 30ms);
  const auto seen = loop->call([&] { return fired; });
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].first == 0);
  CHECK(seen[1].first == 1);
  CHECK(seen[2].first == 2);
  CHECK(seen[2].second >= later);
}

TEST_CASE("a timer that cancels itself from its callback does not fire again") {
  auto loop = started();
  std::atomic<int> fired{0};
  loop->call([&] {
    auto id = std::make_shared<EventLoop::TimerId>();
    *id = loop->add_timer(Steady::now(), [&, id](MonoTime) -> std::optional<Duration> {
      ++fired;
      loop->cancel_timer(*id);
      return 1ms;  // ignored: cancelled
    });
    return 0;
  });
  std::this_thread::sleep_for(30ms);
  loop->call([] { return 0; });
  CHECK(fired == 1);
}

TEST_CASE(
    "a timer moved many times fires once at its last time and an ended timer's id finds nothing") {
  auto loop = started();
  std::vector<int> fired;
  const MonoTime base = Steady::now() + 10ms;
  const auto ended = loop->call([&] {
    // Each move leaves a stale entry behind: far more than the sweep allows.
    const auto moved = loop->add_timer(base + 1h, [&](MonoTime) -> std::optional<Duration> {
      fired.push_back(1);
      return std::nullopt;
    });
    for (int i = 0; i < 10000; ++i) loop->reschedule(moved, base + 1h - std::chrono::seconds(i));
    loop->reschedule(moved, base);
    const auto gone = loop->add_timer(base + 1h, [&](MonoTime) -> std::optional<Duration> {
      fired.push_back(2);
      return std::nullopt;
    });
    loop->cancel_timer(gone);
    // Takes the freed slot: the old id must not reach it.
    loop->add_timer(base + 5ms, [&](MonoTime) -> std::optional<Duration> {
      fired.push_back(3);
      return std::nullopt;
    });
    loop->reschedule(gone, base - 1ms);
    loop->cancel_timer(gone);
    return gone;
  });
  std::this_thread::sleep_until(base + 40ms);
  const auto seen = loop->call([&] {
    loop->reschedule(ended, Steady::now());  // ended: ignored
    return fired;
  });
  CHECK(seen == std::vector<int>{1, 3});
}

TEST_CASE("a watched descriptor calls back while readable and not after unwatch") {
  auto loop = started();
  Signal signal;
  std::atomic<int> calls{0};
  REQUIRE(loop->call([&] {
                return loop->watch(signal.fd.get(), [&] {
                  ++calls;
                  signal.clear();
                });
              })
              .ok());
  // Watching the same descriptor twice is refused.
  CHECK_FALSE(loop->call([&] { return loop->watch(signal.fd.get(), [] {}); }).ok());
  signal.raise();
  for (int i = 0; i < 1000 && calls == 0; ++i) std::this_thread::sleep_for(1ms);
  CHECK(calls == 1);
  loop->call([&] {
    loop->unwatch(signal.fd.get());
    return 0;
  });
  signal.raise();
  std::this_thread::sleep_for(20ms);
  loop->call([] { return 0; });
  CHECK(calls == 1);
}

// Both descriptors are ready in the same iteration; whichever runs first
// unwatches the other, whose readiness must then not be delivered.
TEST_CASE("a descriptor unwatched by another callback of the same batch is not called") {
  auto loop = started();
  Signal a, b;
  int calls = 0;
  loop->call([&] {
    CHECK(loop->watch(a.fd.get(),
                      [&] {
                        ++calls;
                        a.clear();
                        loop->unwatch(b.fd.get());
                      })
              .ok());
    CHECK(loop->watch(b.fd.get(),
                      [&] {
                        ++calls;
                        b.clear();
                        loop->unwatch(a.fd.get());
                      })
              .ok());
    a.raise();
    b.raise();  // both ready before the loop waits again
    return 0;
  });
  std::this_thread::sleep_for(30ms);
  CHECK(loop->call([&] { return calls; }) == 1);
}

TEST_CASE("stop is prompt with a far timer, runs what was posted, then refuses posts") {
  auto loop = started();
  std::atomic<bool> posted_ran{false};
  loop->call([&] {
    return loop->add_timer(Steady::now() + 1h, [](MonoTime) { return std::optional<Duration>(); });
  });
  // Posted behind a function that holds the loop, so it is still queued at stop().
  std::atomic<bool> holding{false};
  loop->post([&] {
    holding = true;
    std::this_thread::sleep_for(20ms);
  });
  loop->post([&] { posted_ran = true; });
  for (int i = 0; i < 1000 && !holding; ++i) std::this_thread::sleep_for(1ms);
  const auto start = Steady::now();
  loop->stop();
  CHECK(Steady::now() - start < 5s);  // the hour-long timer was not waited for
  CHECK(posted_ran);
  CHECK_FALSE(loop->post([] {}));
  // After stop, call() runs the function on the caller's thread.
  CHECK(loop->call([] { return 7; }) == 7);
  loop->stop();  // idempotent
}

TEST_CASE("stop from a callback ends the loop and the destructor joins") {
  auto loop = started();
  std::atomic<int> ticks{0};
  loop->call([&] {
    return loop->add_timer(Steady::now(), [&](MonoTime) -> std::optional<Duration> {
      if (++ticks == 3) loop->stop();
      return 1ms;
    });
  });
  for (int i = 0; i < 2000 && ticks < 3; ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  CHECK(ticks == 3);
  CHECK_FALSE(loop->post([] {}));
  loop.reset();
}

}  // namespace
}  // namespace linewatch

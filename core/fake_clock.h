// A manually advanced clock for tests of schedules and state machines.
// Thread-safe: advance() may race with now() from another thread.
#pragma once

#include <atomic>

#include "core/time.h"

namespace linewatch {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime wall_start = WallTime(std::chrono::seconds(1'800'000'000)))
      : mono_(0), wall_(wall_start.time_since_epoch().count()) {}

  MonoTime now() const override { return MonoTime(Duration(mono_.load())); }
  WallTime wall_now() const override {
    return WallTime(WallTime::duration(wall_.load()));
  }
  // Moves both clocks forward by d.
  void advance(Duration d) {
    mono_ += d.count();
    wall_ += std::chrono::duration_cast<WallTime::duration>(d).count();
  }
  // Steps only the wall clock (an NTP jump); monotonic time is unaffected.
  void step_wall(Duration d) { wall_ += std::chrono::duration_cast<WallTime::duration>(d).count(); }

 private:
  std::atomic<Duration::rep> mono_;
  std::atomic<WallTime::duration::rep> wall_;
};

}  // namespace linewatch

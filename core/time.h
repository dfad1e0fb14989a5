// Time types and the clock interface shared by every module.
//
// Intervals, deadlines and schedules use MonoTime (steady clock) so a wall-clock
// step never stretches or shrinks them; WallTime is only for timestamps that are
// stored or shown. Keeping them distinct types makes mixing them a compile error.
#pragma once

#include <chrono>

namespace linewatch {

using Duration = std::chrono::nanoseconds;
using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// Source of time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wall_now() const = 0;
};

// The real clocks. Stateless; one instance may be shared freely.
class SystemClock final : public Clock {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wall_now() const override { return std::chrono::system_clock::now(); }
};

// Microseconds as a plain integer, for storage and JSON where a unit is fixed.
inline long long to_us(Duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}
inline double to_ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
inline long long unix_ms(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace linewatch

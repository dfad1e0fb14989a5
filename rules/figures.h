// Short human forms of figures for Event::detail ("1.02s", "150ms", "2.5%").
// Display only: never parsed back (core/units.h has the exact, parseable forms).
// Pure functions; thread-safe.
#pragma once

#include <cstdio>
#include <string>

#include "core/time.h"

namespace linewatch {

// "1.02s" from one second up, "150ms" from 10 ms up, "2.5ms" below.
inline std::string duration_text(Duration d) {
  char buf[32];
  const double ms = to_ms(d);
  if (ms >= 1000 || ms <= -1000) {
    std::snprintf(buf, sizeof buf, "%.2fs", ms / 1000);
  } else if (ms >= 10 || ms <= -10) {
    std::snprintf(buf, sizeof buf, "%.0fms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fms", ms);
  }
  return buf;
}

// A fraction 0..1 as a percentage with one decimal: 0.025 -> "2.5%".
inline std::string percent_text(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100);
  return buf;
}

}  // namespace linewatch

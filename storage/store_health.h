// StoreHealth: the writer's ok/failing state machine (see "Health" in
// store.h). Pure bookkeeping on times and counters handed in by the caller,
// so each transition is tested without a database or a clock.
//
// Thread-safety: none; the writer guards it with its own mutex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"
#include "core/time.h"
#include "storage/store.h"

namespace linewatch {

class StoreHealth {
 public:
  // Starts `ok` since `wall`.
  explicit StoreHealth(WallTime wall) : since_(wall) {}

  // A write attempt failed with `e` (an Error from sqlite.h naming `db_path`).
  // `dropped` and `errors` are the writer's running totals, this failure
  // included. Returns the event when this failure starts an episode.
  std::optional<StoreEvent> failed(const Error& e, const std::string& db_path, MonoTime now,
                                   WallTime wall, std::uint64_t dropped, std::uint64_t errors);

  // A batch committed. Returns the event when this ends an episode.
  std::optional<StoreEvent> committed(MonoTime now, WallTime wall, std::uint64_t dropped,
                                      std::uint64_t errors);

  StoreState state() const { return state_; }
  WallTime since() const { return since_; }
  // When the current episode began on the monotonic clock; only while failing.
  MonoTime failing_since() const { return failing_since_; }
  // SQLite's extended code of the latest failure (0 before any).
  int last_code() const { return last_code_; }

 private:
  StoreState state_ = StoreState::ok;
  WallTime since_;
  MonoTime failing_since_{};
  std::uint64_t dropped_at_start_ = 0;
  std::uint64_t errors_at_start_ = 0;
  int last_code_ = 0;
};

}  // namespace linewatch

#include "storage/store_health.h"

#include "storage/sqlite.h"

namespace linewatch {

std::string_view to_string(StoreState s) { return s == StoreState::ok ? "ok" : "failing"; }

std::optional<StoreEvent> StoreHealth::failed(const Error& e, const std::string& db_path,
                                              MonoTime now, WallTime wall, std::uint64_t dropped,
                                              std::uint64_t errors) {
  const auto parts = split_sqlite_error(e, db_path);
  last_code_ = parts ? parts->code : 0;
  if (state_ == StoreState::failing) return std::nullopt;
  state_ = StoreState::failing;
  since_ = wall;
  failing_since_ = now;
  dropped_at_start_ = dropped;
  errors_at_start_ = errors - 1;  // this failure belongs to the episode
  StoreEvent ev;
  ev.state = state_;
  ev.at = wall;
  ev.file = db_path;
  if (parts) {
    ev.error = parts->message;
    ev.sqlite_code = parts->code;
    ev.operation = parts->what;
  } else {
    ev.error = e.message;  // not from SQLite (should not happen): keep it whole
  }
  return ev;
}

std::optional<StoreEvent> StoreHealth::committed(MonoTime now, WallTime wall, std::uint64_t dropped,
                                                 std::uint64_t errors) {
  if (state_ == StoreState::ok) return std::nullopt;
  state_ = StoreState::ok;
  since_ = wall;
  StoreEvent ev;
  ev.state = state_;
  ev.at = wall;
  ev.lasted = now - failing_since_;
  ev.failed_attempts = errors - errors_at_start_;
  ev.rows_dropped = dropped - dropped_at_start_;
  return ev;
}

}  // namespace linewatch

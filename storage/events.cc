// The events table: one core/event.h Event per row (see schema.h).
#include <algorithm>
#include <limits>

#include "storage/tables.h"

namespace linewatch {

const char* const kInsertEvent =
    "INSERT INTO events(ts_ms, kind, line, target, reason, detail) VALUES(?1, ?2, ?3, ?4, ?5, ?6)";

std::int64_t sql_limit(std::size_t limit) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
}

void bind_event(Stmt& st, const Event& e) {
  st.bind(1, static_cast<std::int64_t>(unix_ms(e.time)));
  int i = 2;
  for (const std::string* text : {&e.kind, &e.line, &e.target, &e.reason, &e.detail})
    st.bind(i++, std::string_view(*text));
}

Result<std::vector<Event>> select_events(Db& db, const EventQuery& q) {
  // Filters are added only when set, so SQLite can pick events_line for a
  // line and events_ts otherwise.
  std::string sql =
      "SELECT ts_ms, kind, line, target, reason, detail FROM events"
      " WHERE ts_ms >= ?1 AND ts_ms < ?2";
  if (q.line) sql += " AND line = ?3";
  if (q.kind) sql += " AND kind = ?4";
  sql += " ORDER BY ts_ms DESC, id DESC LIMIT ?5";
  auto st = db.prepare(sql, "read events");
  if (!st) return st.error();
  st->bind(1, static_cast<std::int64_t>(unix_ms(q.since)));
  st->bind(2, static_cast<std::int64_t>(unix_ms(q.until)));
  if (q.line) st->bind(3, std::string_view(*q.line));
  if (q.kind) st->bind(4, std::string_view(*q.kind));
  st->bind(5, sql_limit(q.limit));
  std::vector<Event> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    Event e;
    e.time = WallTime(std::chrono::milliseconds(st->column_int(0)));
    e.kind = st->column_text(1);
    e.line = st->column_text(2);
    e.target = st->column_text(3);
    e.reason = st->column_text(4);
    e.detail = st->column_text(5);
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace linewatch

// The agent_state table: small documents kept across restarts (see schema.h).
#include "storage/tables.h"

namespace linewatch {

const char* const kPutState =
    "INSERT INTO agent_state(key, value, ts_ms) VALUES(?1, ?2, ?3)"
    " ON CONFLICT(key) DO UPDATE SET value = excluded.value, ts_ms = excluded.ts_ms";

void bind_state(Stmt& st, const std::string& key, const StateValue& v) {
  st.bind(1, std::string_view(key));
  st.bind(2, std::string_view(v.value));
  st.bind(3, static_cast<std::int64_t>(unix_ms(v.at)));
}

Result<std::optional<std::string>> select_state(Db& db, const std::string& key) {
  auto st = db.prepare("SELECT value FROM agent_state WHERE key = ?1", "load state");
  if (!st) return st.error();
  st->bind(1, std::string_view(key));
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return std::optional<std::string>();
  return std::optional<std::string>(st->column_text(0));
}

}  // namespace linewatch

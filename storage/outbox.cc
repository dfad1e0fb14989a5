#include "storage/outbox.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "storage/schema.h"
#include "storage/store.h"
#include "storage/tables.h"

namespace linewatch {
namespace {

constexpr const char* kColumns =
    "id, receiver, notification, created_ms, attempts, next_attempt_ms, last_error, parked";

WallTime from_ms(std::int64_t ms) { return WallTime(std::chrono::milliseconds(ms)); }
std::int64_t ms_of(WallTime t) { return static_cast<std::int64_t>(unix_ms(t)); }

OutboxRow read_row(const Stmt& st) {
  OutboxRow r;
  r.id = st.column_int(0);
  r.receiver = st.column_text(1);
  r.notification = st.column_text(2);
  r.created = from_ms(st.column_int(3));
  r.attempts = static_cast<int>(st.column_int(4));
  r.next_attempt = from_ms(st.column_int(5));
  r.last_error = st.column_text(6);
  r.parked = st.column_int(7) != 0;
  return r;
}

Error gone(const std::string& path, std::int64_t id) {
  return {ErrorCode::not_found, path + ": outbox row " + std::to_string(id) +
                                    " is gone (delivered or dropped meanwhile)"};
}

}  // namespace

Duration outbox_retry_delay(int attempts, std::optional<Duration> retry_after,
                            const OutboxBackoff& backoff) {
  Duration wait = std::max(backoff.first, Duration(1));
  for (int i = 1; i < attempts && wait < backoff.max; ++i) wait *= 2;
  wait = std::min(wait, backoff.max);
  if (retry_after) wait = std::max(wait, std::min(*retry_after, backoff.retry_after_max));
  return wait;
}

Result<std::unique_ptr<Outbox>> Outbox::open(const std::string& data_dir,
                                             const OutboxTuning& tuning) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return io_error(data_dir + ": create data directory (agent.data_dir): " + ec.message());
  auto db = open_migrated(database_path(data_dir), tuning.busy_timeout);
  if (!db) return db.error();
  // An alert is rare and must outlive a power cut, not only a crash: each
  // commit of this connection syncs the WAL (the writer's stay NORMAL).
  if (auto s = db->exec("PRAGMA synchronous = FULL", "set synchronous"); !s) return s.error();
  return std::unique_ptr<Outbox>(new Outbox(std::move(*db), tuning));
}

Result<std::vector<std::int64_t>> Outbox::enqueue(const std::vector<std::string>& receivers,
                                                  std::string_view notification, WallTime now) {
  for (const std::string& r : receivers)
    if (r.empty()) return invalid("outbox: a notification for a receiver with no id (notify[].id)");
  std::lock_guard lk(mu_);
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  auto st = db_.prepare(
      "INSERT INTO outbox(receiver, notification, created_ms, attempts, next_attempt_ms,"
      " last_error, parked) VALUES(?1, ?2, ?3, 0, 0, '', 0) RETURNING id",
      "enqueue notification");
  if (!st) return st.error();
  std::vector<std::int64_t> ids;
  for (const std::string& receiver : receivers) {
    st->bind(1, std::string_view(receiver));
    st->bind(2, notification);
    st->bind(3, ms_of(now));
    auto row = st->step();
    if (!row) return row.error();
    ids.push_back(st->column_int(0));
    st->reset();
  }
  if (auto s = tx->commit(); !s) return s.error();
  return ids;
}

Result<std::vector<OutboxRow>> Outbox::select(const std::string& where_sql,
                                              const std::optional<std::string>& text,
                                              std::size_t limit) const {
  auto st = db_.prepare(std::string("SELECT ") + kColumns + " FROM outbox WHERE " + where_sql +
                            " ORDER BY id LIMIT ?2",
                        "read outbox");
  if (!st) return st.error();
  if (text) st->bind(1, std::string_view(*text));
  st->bind(2, sql_limit(limit));
  std::vector<OutboxRow> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read_row(*st));
  }
  return out;
}

Result<std::optional<OutboxRow>> Outbox::head(const std::string& receiver) const {
  std::lock_guard lk(mu_);
  auto rows = select("receiver = ?1 AND parked = 0", receiver, 1);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<OutboxRow>();
  return std::optional<OutboxRow>(std::move(rows->front()));
}

Result<std::vector<OutboxRow>> Outbox::parked(std::size_t limit) const {
  std::lock_guard lk(mu_);
  return select("parked = 1", std::nullopt, limit);
}

Result<std::vector<OutboxRow>> Outbox::rows(const std::string& receiver, std::size_t limit) const {
  std::lock_guard lk(mu_);
  return select("receiver = ?1", receiver, limit);
}

Status Outbox::delivered(std::int64_t id) {
  std::lock_guard lk(mu_);
  auto st = db_.prepare("DELETE FROM outbox WHERE id = ?1", "delete delivered notification");
  if (!st) return st.error();
  st->bind(1, id);
  return st->run();
}

Result<Duration> Outbox::failed(std::int64_t id, std::string_view error,
                                std::optional<Duration> retry_after, WallTime now) {
  std::lock_guard lk(mu_);
  // Read and write in one transaction, so the count and the wait agree even
  // with another process at the same row.
  auto tx = Transaction::begin(db_);
  if (!tx) return tx.error();
  auto read = db_.prepare("SELECT attempts FROM outbox WHERE id = ?1", "read attempts");
  if (!read) return read.error();
  read->bind(1, id);
  auto found = read->step();
  if (!found) return found.error();
  if (!*found) return gone(db_.path(), id);
  const int attempts = static_cast<int>(read->column_int(0)) + 1;
  read->reset();
  const Duration wait = outbox_retry_delay(attempts, retry_after, tuning_.backoff);
  auto st = db_.prepare(
      "UPDATE outbox SET attempts = ?2, last_error = ?3, next_attempt_ms = ?4 WHERE id = ?1",
      "record failed attempt");
  if (!st) return st.error();
  st->bind(1, id);
  st->bind(2, static_cast<std::int64_t>(attempts));
  st->bind(3, error);
  st->bind(4, ms_of(now + wait));
  if (auto s = st->run(); !s) return s.error();
  if (auto s = tx->commit(); !s) return s.error();
  return wait;
}

Status Outbox::park(std::int64_t id, std::string_view error, WallTime now) {
  std::lock_guard lk(mu_);
  auto st = db_.prepare(
      "UPDATE outbox SET parked = 1, attempts = attempts + 1, last_error = ?2,"
      " next_attempt_ms = ?3 WHERE id = ?1",
      "park notification");
  if (!st) return st.error();
  st->bind(1, id);
  st->bind(2, error);
  st->bind(3, ms_of(now));
  if (auto s = st->run(); !s) return s;
  if (sqlite3_changes64(db_.handle()) == 0) return gone(db_.path(), id);
  return ok_status();
}

Result<std::int64_t> Outbox::changes_of(std::string_view sql,
                                        const std::optional<std::string>& receiver,
                                        std::optional<std::int64_t> now, std::string_view what) {
  std::lock_guard lk(mu_);
  auto st = db_.prepare(sql, what);
  if (!st) return st.error();
  if (receiver) st->bind(1, std::string_view(*receiver));
  if (now) st->bind(2, *now);
  if (auto s = st->run(); !s) return s.error();
  return static_cast<std::int64_t>(sqlite3_changes64(db_.handle()));
}

Result<std::int64_t> Outbox::unpark(const std::optional<std::string>& receiver, WallTime now) {
  return changes_of(
      "UPDATE outbox SET parked = 0, attempts = 0, next_attempt_ms = ?2"
      " WHERE parked = 1 AND (?1 IS NULL OR receiver = ?1)",
      receiver, ms_of(now), "unpark notifications");
}

Result<std::int64_t> Outbox::drop_parked(const std::optional<std::string>& receiver) {
  return changes_of("DELETE FROM outbox WHERE parked = 1 AND (?1 IS NULL OR receiver = ?1)",
                    receiver, std::nullopt, "drop parked notifications");
}

Result<std::vector<OutboxReceiverSummary>> Outbox::summary() const {
  std::lock_guard lk(mu_);
  // Per receiver: counts, then its head's columns (the smallest pending id).
  auto st = db_.prepare(
      "SELECT s.receiver, s.pending, s.parked, h.created_ms, h.attempts, h.next_attempt_ms,"
      " h.last_error FROM (SELECT receiver, sum(parked = 0) AS pending, sum(parked) AS parked,"
      " min(CASE WHEN parked = 0 THEN id END) AS head FROM outbox GROUP BY receiver) s"
      " LEFT JOIN outbox h ON h.id = s.head ORDER BY s.receiver",
      "summarise outbox");
  if (!st) return st.error();
  std::vector<OutboxReceiverSummary> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    OutboxReceiverSummary s;
    s.receiver = st->column_text(0);
    s.pending = st->column_int(1);
    s.parked = st->column_int(2);
    if (!st->is_null(3)) {
      s.oldest = from_ms(st->column_int(3));
      s.attempts = static_cast<int>(st->column_int(4));
      if (s.attempts > 0) s.next_attempt = from_ms(st->column_int(5));
      s.last_error = st->column_text(6);
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace linewatch

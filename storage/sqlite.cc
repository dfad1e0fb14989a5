#include "storage/sqlite.h"

#include <utility>

namespace linewatch {

Error sqlite_error(const std::string& path, std::string_view what, const char* message, int rc) {
  std::string m = path;
  m += ": ";
  m += what;
  m += ": ";
  m += message ? message : sqlite3_errstr(rc);
  // The extended code tells SQLITE_IOERR_WRITE from SQLITE_IOERR_FSYNC and the like.
  m += " (sqlite code " + std::to_string(rc) + ")";
  return io_error(std::move(m));
}

std::optional<SqliteErrorParts> split_sqlite_error(const Error& e, const std::string& path) {
  std::string_view m = e.message;
  const std::string_view tail = " (sqlite code ";
  if (!m.starts_with(path + ": ") || !m.ends_with(")")) return std::nullopt;
  m.remove_prefix(path.size() + 2);
  const auto code_at = m.rfind(tail);
  const auto sep = m.find(": ");
  if (code_at == std::string_view::npos || sep == std::string_view::npos || sep > code_at)
    return std::nullopt;
  SqliteErrorParts p;
  p.what = std::string(m.substr(0, sep));
  p.message = std::string(m.substr(sep + 2, code_at - sep - 2));
  const std::string_view digits =
      m.substr(code_at + tail.size(), m.size() - code_at - tail.size() - 1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  p.code = std::stoi(std::string(digits));
  return p;
}

Result<Db> Db::open(const std::string& path, int flags, Duration busy_timeout) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw, path);  // owns raw even on failure: sqlite3_open_v2 may allocate it anyway
  if (rc != SQLITE_OK) return (sqlite_error(path, "open", raw ? sqlite3_errmsg(raw) : nullptr, rc));
  sqlite3_extended_result_codes(raw, 1);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(busy_timeout).count();
  sqlite3_busy_timeout(raw, static_cast<int>(ms));
  return db;
}

Result<Db> Db::open_immutable(const std::string& path, Duration busy_timeout) {
  std::string uri = "file:";
  for (const char c : path) {  // the URI's own characters, percent-encoded
    if (c == '%' || c == '?' || c == '#') {
      static constexpr char kHex[] = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[static_cast<unsigned char>(c) >> 4];
      uri += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      uri += c;
    }
  }
  uri += "?immutable=1";
  auto db = open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, busy_timeout);
  if (!db) {  // the message names the file, not the URI
    Error e = db.error();
    if (e.message.rfind(uri, 0) == 0) e.message = path + e.message.substr(uri.size());
    return e;
  }
  db->path_ = path;
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Error Db::error(std::string_view what) const {
  return error(what, db_ ? sqlite3_extended_errcode(db_) : SQLITE_MISUSE);
}

Error Db::error(std::string_view what, int rc) const {
  return (sqlite_error(path_, what, db_ ? sqlite3_errmsg(db_) : nullptr, rc));
}

Status Db::checkpoint_truncate() {
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc == SQLITE_OK) return ok_status();
  return error("checkpoint WAL", rc);
}

Status Db::exec(std::string_view sql, std::string_view what) {
  char* msg = nullptr;
  const int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &msg);
  if (rc == SQLITE_OK) return ok_status();
  Error e = (sqlite_error(path_, what, msg, rc));
  sqlite3_free(msg);
  return e;
}

Result<Stmt> Db::prepare(std::string_view sql, std::string_view what) {
  sqlite3_stmt* s = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), 0, &s, nullptr);
  if (rc != SQLITE_OK) return error(what, rc);
  return Stmt(path_, s, std::string(what));
}

Result<std::int64_t> Db::query_int(std::string_view sql, std::string_view what) {
  auto st = prepare(sql, what);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return io_error(path_ + ": " + std::string(what) + ": no row returned");
  return st->column_int(0);
}

Result<std::string> Db::query_text(std::string_view sql, std::string_view what) {
  auto st = prepare(sql, what);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  if (!*row) return io_error(path_ + ": " + std::string(what) + ": no row returned");
  return st->column_text(0);
}

Stmt::Stmt(Stmt&& other) noexcept
    : path_(std::move(other.path_)),
      s_(std::exchange(other.s_, nullptr)),
      what_(std::move(other.what_)),
      bind_rc_(other.bind_rc_) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (s_) sqlite3_finalize(s_);
    path_ = std::move(other.path_);
    s_ = std::exchange(other.s_, nullptr);
    what_ = std::move(other.what_);
    bind_rc_ = other.bind_rc_;
  }
  return *this;
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

void Stmt::note(int rc) {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Stmt::bind(int i, std::int64_t v) { note(sqlite3_bind_int64(s_, i, v)); }
void Stmt::bind(int i, std::string_view text) {
  note(sqlite3_bind_text(s_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
}
void Stmt::bind_blob(int i, std::string_view bytes) {
  note(sqlite3_bind_blob(s_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT));
}
void Stmt::bind_null(int i) { note(sqlite3_bind_null(s_, i)); }
void Stmt::bind(int i, const std::optional<std::int64_t>& v) {
  if (v)
    bind(i, *v);
  else
    bind_null(i);
}

void Stmt::bind_real(int i, const std::optional<double>& v) {
  if (v)
    note(sqlite3_bind_double(s_, i, *v));
  else
    bind_null(i);
}

Result<bool> Stmt::step() {
  if (bind_rc_ != SQLITE_OK) {
    const int rc = std::exchange(bind_rc_, SQLITE_OK);
    return sqlite_error(path_, what_ + " (bind)", sqlite3_errstr(rc), rc);
  }
  const int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(path_, what_, sqlite3_errmsg(sqlite3_db_handle(s_)), rc);
}

Status Stmt::run() {
  for (;;) {
    auto r = step();
    if (!r) {
      reset();
      return r.error();
    }
    if (!*r) break;
  }
  reset();
  return ok_status();
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
  bind_rc_ = SQLITE_OK;
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
std::int64_t Stmt::column_int(int col) const { return sqlite3_column_int64(s_, col); }
std::optional<std::int64_t> Stmt::column_opt(int col) const {
  if (is_null(col)) return std::nullopt;
  return column_int(col);
}
std::optional<double> Stmt::column_opt_real(int col) const {
  if (is_null(col)) return std::nullopt;
  return sqlite3_column_double(s_, col);
}
std::string Stmt::column_text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
  if (!p) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s_, col)));
}

std::string_view Stmt::column_blob(int col) const {
  const void* p = sqlite3_column_blob(s_, col);  // before _bytes, as SQLite asks
  if (!p) return {};
  return {static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(s_, col))};
}

Result<Transaction> Transaction::begin(Db& db) {
  auto s = db.exec("BEGIN IMMEDIATE", "begin transaction");
  if (!s) return s.error();
  return Transaction(&db);
}

Transaction::~Transaction() {
  // A failed COMMIT may already have rolled back; autocommit tells us whether
  // a transaction is still open so ROLLBACK is not issued twice.
  if (db_ && !sqlite3_get_autocommit(db_->handle())) db_->exec("ROLLBACK", "rollback");
}

Status Transaction::commit() {
  Db* db = std::exchange(db_, nullptr);
  auto s = db->exec("COMMIT", "commit");
  if (!s && !sqlite3_get_autocommit(db->handle())) db->exec("ROLLBACK", "rollback");
  return s;
}

}  // namespace linewatch

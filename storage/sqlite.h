// Thin RAII wrappers over the SQLite C API: a connection (Db), a prepared
// statement (Stmt) and a write transaction (Transaction).
//
// Every failure becomes an Error whose message names the database file and
// carries SQLite's own message, e.g.
//   "/var/lib/linewatch/linewatch.db: insert sample: database is locked (sqlite code 5)".
//
// Thread-safety: none of these objects may be used from two threads at once.
// Connections are opened with SQLITE_OPEN_NOMUTEX; the owner serialises use
// (the writer thread owns its connection, the reader guards its own with a mutex).
// Handing a Db from one thread to another between uses is fine.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace linewatch {

class Stmt;

// "<path>: <what>: <message> (sqlite code N)"; message defaults to sqlite3_errstr(rc).
// `what` names an operation and never contains ": ", so the parts can be split again.
Error sqlite_error(const std::string& path, std::string_view what, const char* message, int rc);

// The parts of an Error made by sqlite_error() for `path`.
struct SqliteErrorParts {
  std::string what;     // "commit", "insert sample", ...
  std::string message;  // SQLite's own text, e.g. "database or disk is full"
  int code = 0;         // extended result code
};
// nullopt when `e` was not made by sqlite_error() for `path`.
std::optional<SqliteErrorParts> split_sqlite_error(const Error& e, const std::string& path);

class Db {
 public:
  // Opens `path` with sqlite3_open_v2 flags (SQLITE_OPEN_NOMUTEX is added).
  // Success: an open connection with busy_timeout set. Failure: io Error.
  static Result<Db> open(const std::string& path, int flags, Duration busy_timeout);
  // Opens `path` read-only as immutable (SQLite's `immutable=1` URI
  // parameter): no lock is taken and no -wal or -shm file is created or
  // read, so it is only right for a file no one writes. Messages name `path`.
  static Result<Db> open_immutable(const std::string& path, Duration busy_timeout);

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();  // closes; statements not yet finalised keep it alive (sqlite3_close_v2)

  // Runs one or more statements that return no rows we need.
  Status exec(std::string_view sql, std::string_view what);
  // Compiles one statement. The Stmt must not outlive this Db (it may move).
  Result<Stmt> prepare(std::string_view sql, std::string_view what);
  // The first column of the first row of `sql` as an integer (PRAGMA user_version, COUNT(*)).
  Result<std::int64_t> query_int(std::string_view sql, std::string_view what);
  // The first column of the first row of `sql` as text ("" for NULL).
  Result<std::string> query_text(std::string_view sql, std::string_view what);

  // PRAGMA wal_checkpoint(TRUNCATE): copies every WAL page into the database
  // file and truncates the WAL to zero bytes, waiting (busy_timeout) for
  // readers. Failure (disk full, readers still busy): an Error; the WAL stays
  // valid and a later call may finish the work.
  Status checkpoint_truncate();

  // An Error for the last failure on this connection: "<path>: <what>: <sqlite message>".
  Error error(std::string_view what) const;
  Error error(std::string_view what, int rc) const;

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind errors are remembered and reported by step(), so
// a run of bind calls needs no checks of its own.
class Stmt {
 public:
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Parameters are 1-based, as in SQLite.
  void bind(int i, std::int64_t v);
  void bind(int i, std::string_view text);        // copied by SQLite
  void bind_blob(int i, std::string_view bytes);  // copied by SQLite
  void bind_null(int i);
  void bind(int i, const std::optional<std::int64_t>& v);
  // REAL values; named apart so an integer argument never picks them by accident.
  void bind_real(int i, const std::optional<double>& v);

  // Success: true when a row is ready, false when the statement is done.
  // Failure: the bind or step error, named by this statement's `what`.
  Result<bool> step();
  // Runs to completion, ignoring rows; then resets. For INSERT/UPDATE/DELETE.
  Status run();
  // Makes the statement reusable and clears bindings.
  void reset();

  bool is_null(int col) const;
  std::int64_t column_int(int col) const;
  std::optional<std::int64_t> column_opt(int col) const;
  std::optional<double> column_opt_real(int col) const;
  std::string column_text(int col) const;  // "" for NULL
  // The bytes of a BLOB (or any) column, "" for NULL; valid until the next step() or reset().
  std::string_view column_blob(int col) const;

 private:
  friend class Db;
  Stmt(std::string path, sqlite3_stmt* s, std::string what)
      : path_(std::move(path)), s_(s), what_(std::move(what)) {}
  void note(int rc);
  std::string path_;  // for messages; the connection comes from sqlite3_db_handle
  sqlite3_stmt* s_ = nullptr;
  std::string what_;
  int bind_rc_ = SQLITE_OK;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back on destruction unless committed.
// IMMEDIATE takes the write lock up front so a busy database fails at begin(),
// not halfway through a batch.
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  // The Db must not move while a Transaction on it is open.
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  // Success: the changes are durable (per synchronous=NORMAL). Failure: rolled back.
  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;
};

}  // namespace linewatch

// The notification outbox (schema v5, table `outbox`): every alert
// notification is a row per receiver before any attempt to send it, and
// leaves only when that receiver took it. A crash, a kill -9 or a receiver
// down for hours loses nothing that enqueue() returned for.
//
// Order: a receiver's rows go in id order, one at a time. head() gives the
// oldest row that is not parked, and the sender sends nothing else for that
// receiver until it is delivered (deleted) or parked. Receivers do not wait
// for each other.
//
// Parked rows were refused for good (a 4xx, a bad request): kept, visible in
// summary() and parked(), skipped by head(), until unpark() puts them back
// at the head of their receiver's queue or drop_parked() deletes them.
//
// The outbox has its own connection to the store's file (WAL), so its short
// transactions run beside the writer's batches: each call holds the write
// lock for one small statement or transaction, never across a delivery. Its
// commits are synchronous=FULL: an alert is rare and must survive a power
// cut too. Payloads are opaque here: the sender (exporters/notify_outbox.h)
// writes a notification's fields as JSON, never a secret.
//
// Thread-safety: every member may be called from any thread; one mutex
// serialises use of the connection. Several Outbox objects, in one process or
// several, may share a file: SQLite's locks order their writes.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "storage/sqlite.h"

namespace linewatch {

// One outbox row.
struct OutboxRow {
  std::int64_t id = 0;       // the order of sending within a receiver
  std::string receiver;      // notify[].id
  std::string notification;  // the payload as enqueued
  WallTime created{};        // when enqueued (stored to the ms)
  int attempts = 0;          // failed attempts since it was enqueued or unparked
  // Not tried again before this; 0 for a row never tried. For a parked row:
  // when it was parked.
  WallTime next_attempt{};
  std::string last_error;  // the latest failure's detail; "" before any
  bool parked = false;     // refused for good; skipped by head()

  bool operator==(const OutboxRow&) const = default;
};

// One receiver's queue, for the API and metrics.
struct OutboxReceiverSummary {
  std::string receiver;
  std::int64_t pending = 0;              // rows waiting to be sent (not parked)
  std::int64_t parked = 0;               // rows parked
  std::optional<WallTime> oldest;        // when the head (oldest pending row) was enqueued
  int attempts = 0;                      // the head's failed attempts
  std::optional<WallTime> next_attempt;  // when the head may be tried again; nullopt: never tried
  std::string last_error;                // the head's latest failure; "" before any
};

// Exponential back-off between attempts at one row.
struct OutboxBackoff {
  // The wait after a first failed attempt; it doubles with each further one.
  // Default: 1s.
  Duration first = std::chrono::seconds(1);
  // The longest wait, so a receiver back up is noticed soon. Default: 5 min.
  Duration max = std::chrono::minutes(5);
  // A receiver's Retry-After is honoured up to this long, even past `max`.
  // Default: 1 h.
  Duration retry_after_max = std::chrono::hours(1);
};

// The wait after the `attempts`-th failed attempt in a row (1 for the first):
// first x 2^(attempts - 1), at most max; then at least `retry_after` (at most
// retry_after_max). Pure.
Duration outbox_retry_delay(int attempts, std::optional<Duration> retry_after,
                            const OutboxBackoff& backoff);

struct OutboxTuning {
  // How long one call waits for a lock held by another connection. Default: 5s.
  Duration busy_timeout = std::chrono::seconds(5);
  OutboxBackoff backoff;
};

class Outbox {
 public:
  // Opens `<data_dir>/linewatch.db` (created and migrated if need be, as
  // Store::open does; creates data_dir). Failure: an Error naming the
  // directory or file; a database from a newer linewatch is left untouched.
  static Result<std::unique_ptr<Outbox>> open(const std::string& data_dir,
                                              const OutboxTuning& tuning = {});
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Adds one row per receiver, all in one transaction, due at once. Success:
  // the new ids, in `receivers` order, committed. Failure (nothing written):
  // an empty receiver id, or the SQLite error naming the file. Blocks for the
  // transaction (and up to busy_timeout for the lock).
  Result<std::vector<std::int64_t>> enqueue(const std::vector<std::string>& receivers,
                                            std::string_view notification, WallTime now);

  // The receiver's oldest row that is not parked, due or not; nullopt when none.
  Result<std::optional<OutboxRow>> head(const std::string& receiver) const;

  // The receiver took row `id`: deletes it. A row already gone is not an error.
  Status delivered(std::int64_t id);
  // An attempt at row `id` failed and will be retried: attempts + 1, the
  // error kept, next_attempt = now + outbox_retry_delay(). Success: that
  // wait. Failure: not_found when the row is gone (delivered or dropped
  // meanwhile), or the SQLite error.
  Result<Duration> failed(std::int64_t id, std::string_view error,
                          std::optional<Duration> retry_after, WallTime now);
  // Row `id` was refused for good: parked (attempts + 1, the error kept,
  // next_attempt = now). Failure: not_found when the row is gone, or the
  // SQLite error.
  Status park(std::int64_t id, std::string_view error, WallTime now);

  // Puts the parked rows of `receiver` (every receiver when nullopt) back in
  // their queues, due at `now` with their attempts reset; being older, they go
  // before the rows enqueued after them. Success: how many.
  Result<std::int64_t> unpark(const std::optional<std::string>& receiver, WallTime now);
  // Deletes the parked rows of `receiver` (every receiver when nullopt).
  // Success: how many.
  Result<std::int64_t> drop_parked(const std::optional<std::string>& receiver);

  // Every receiver with a row, ordered by receiver id.
  Result<std::vector<OutboxReceiverSummary>> summary() const;
  // Parked rows, oldest first, at most `limit`.
  Result<std::vector<OutboxRow>> parked(std::size_t limit = 100) const;
  // Every row of `receiver` (pending and parked), in id order, at most `limit`.
  Result<std::vector<OutboxRow>> rows(const std::string& receiver, std::size_t limit = 1000) const;

  const OutboxBackoff& backoff() const { return tuning_.backoff; }
  const std::string& path() const { return db_.path(); }

 private:
  Outbox(Db db, const OutboxTuning& tuning) : tuning_(tuning), db_(std::move(db)) {}
  Result<std::vector<OutboxRow>> select(const std::string& where_sql,
                                        const std::optional<std::string>& text,
                                        std::size_t limit) const;  // mu_ held
  Result<std::int64_t> changes_of(std::string_view sql, const std::optional<std::string>& receiver,
                                  std::optional<std::int64_t> now, std::string_view what);

  const OutboxTuning tuning_;
  mutable std::mutex mu_;
  mutable Db db_;  // guarded by mu_
};

}  // namespace linewatch

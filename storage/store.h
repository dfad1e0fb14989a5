// The storage module's public contract: probe results in SQLite.
//
// One Store per data directory, holding `<data_dir>/linewatch.db` (WAL mode,
// synchronous=NORMAL, foreign keys on; schema and migrations in schema.h).
//
// Writes go through a bounded queue to one writer thread, which commits them
// in batches (one transaction per batch) and periodically deletes rows older
// than the retention. submit() never waits for the disk: when the queue is
// full the result is refused and counted, so a slow or full disk can never
// stall a probe or the failover path. A failed batch is kept and retried; it
// counts against the same bound as the queue, so memory stays bounded and an
// accepted result is only lost if stop() gives up on a database that keeps
// failing (counted in `lost`).
//
// Health: the store is `ok` or `failing`. The first failed write (batch or
// retention) starts a failure episode; the next committed batch ends it. Each
// change is reported once, never per retry: in stats() (state, since) and
// through StoreTuning::on_state_change. While failing:
//   - memory: new results are accepted only while fewer than
//     StoreTuning::failing_queue are pending (430-550 bytes each), so a disk
//     that fails for hours does not pin a full storage.queue in memory;
//   - space: after a full disk or an I/O error, each retry first runs
//     `PRAGMA wal_checkpoint(TRUNCATE)`, so pages the WAL holds go back to the
//     file and the WAL's space is freed. The same runs after recovery, and
//     after any commit that leaves the WAL above StoreTuning::wal_limit (also
//     the journal_size_limit) or the filesystem with less than wal_limit
//     free: the WAL never grows without bound, and on a nearly full disk it
//     holds one batch, not the disk's last megabytes.
//
// Stopping: stop() writes what is pending. It gives a failing database at
// most stop_timeout, counted from when the failure began, with at least one
// last attempt made at once: a database that has failed for longer than
// stop_timeout gets that one attempt, then whatever it refused is counted in
// `lost`. A failure that begins during stop() gets the full stop_timeout.
//
// Reads use a second connection (WAL lets them run beside the writer).
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/probe_result.h"
#include "core/time.h"

namespace linewatch {

class SampleWriter;
class SampleReader;

// Whether the writer's last attempt worked. See "Health" above.
enum class StoreState {
  ok,       // the last write attempt committed (or none failed yet)
  failing,  // writes fail (full disk, I/O error, locked database); retried with back-off
};
std::string_view to_string(StoreState s);

// A change of StoreState, reported once per change.
struct StoreEvent {
  StoreState state = StoreState::ok;  // the state just entered
  WallTime at{};                      // when, on the injected clock
  // Entering `failing`: the failure that began the episode.
  std::string error;      // SQLite's own message, e.g. "database or disk is full"
  int sqlite_code = 0;    // SQLite's extended result code (13 is SQLITE_FULL)
  std::string operation;  // what the writer was doing: "commit", "insert sample", ...
  std::string file;       // the database file
  // Entering `ok` (recovered): the episode that ended.
  Duration lasted{};                  // from its first failure to the commit that ended it
  std::uint64_t failed_attempts = 0;  // write attempts that failed during it
  std::uint64_t rows_dropped = 0;     // results submit() refused during it
};

// Knobs that are not part of the user configuration.
struct StoreTuning {
  // How long one SQLite call waits for a lock held by another connection. Default: 5s.
  Duration busy_timeout = std::chrono::seconds(5);
  // How often retention runs, on the injected clock's monotonic time. Default: 1 min.
  Duration retention_every = std::chrono::minutes(1);
  // Rows deleted per retention transaction, so the write lock is held briefly. Default: 5000.
  std::size_t retention_chunk = 5000;
  // Longest the idle writer sleeps before looking at the injected clock again. Default: 1s.
  Duration idle_poll = std::chrono::seconds(1);
  // First retry delay after a failed write; doubles up to retry_max. Default: 100ms / 10s.
  Duration retry_min = std::chrono::milliseconds(100);
  Duration retry_max = std::chrono::seconds(10);
  // Longest stop() keeps retrying a failing database, counted from when the
  // failure began (see "Stopping" above). Default: 10s.
  Duration stop_timeout = std::chrono::seconds(10);
  // While failing, results are accepted only while fewer than this many are
  // pending (never more than storage.queue). Default: 4096 (about 2 MB).
  std::size_t failing_queue = 4096;
  // The WAL is checkpointed and truncated after a commit that leaves it larger
  // than this, or the filesystem with less than this free; also set as
  // journal_size_limit. Default: 4 MiB (SQLite's autocheckpoint of 1000 pages).
  std::uint64_t wal_limit = 4 << 20;
  // Caps the database file (PRAGMA max_page_count), so SQLite itself reports
  // "database or disk is full" past it. 0: no cap. Default: 0.
  std::uint64_t max_db_bytes = 0;
  // Called on the writer thread, with no lock held, after each change of
  // StoreState, in order. Keep it short (it delays writes); it may call
  // Store::stats() but not Store::stop(). Default: none.
  std::function<void(const StoreEvent&)> on_state_change;
};

// A consistent snapshot of the writer's counters.
struct WriterStats {
  std::uint64_t submitted = 0;          // accepted by submit()
  std::uint64_t dropped = 0;            // refused by submit() (queue full, failing or stopped)
  std::uint64_t written = 0;            // committed rows
  std::uint64_t batches = 0;            // committed transactions
  std::uint64_t write_errors = 0;       // failed attempts (batch or retention); each retried
  std::uint64_t lost = 0;               // accepted but abandoned by stop() on a failing database
  std::uint64_t retention_runs = 0;     // completed retention passes
  std::uint64_t retention_deleted = 0;  // rows deleted by retention
  std::uint64_t wal_checkpoints = 0;    // completed wal_checkpoint(TRUNCATE) runs
  std::size_t pending = 0;              // accepted, not yet committed
  std::size_t queue_limit = 0;  // submit() refuses at this many pending (lower while failing)
  StoreState state = StoreState::ok;
  WallTime since{};        // when `state` was entered (the open for the first `ok`)
  std::string last_error;  // whole message of the latest failure, "" if none
};

// One stored series and its newest row.
struct SeriesInfo {
  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  WallTime latest{};
};

struct SampleQuery {
  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  WallTime from{};                // inclusive
  WallTime to = WallTime::max();  // exclusive
  std::size_t limit = 10000;      // at most this many rows
  bool newest = false;            // when limited: keep the newest rows rather than the oldest
};

class Store {
 public:
  // Creates data_dir if missing, opens or creates linewatch.db, applies
  // migrations and starts the writer thread. `clock` must outlive the Store.
  // Failure: an Error naming the directory or file; for a database written by
  // a newer linewatch, one naming both versions, with the file left untouched.
  static Result<std::unique_ptr<Store>> open(const std::string& data_dir,
                                             const StorageOptions& options, const Clock& clock,
                                             const StoreTuning& tuning = {});
  ~Store();  // stop()
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues r for writing. Never blocks on I/O. Returns false, and counts it in
  // `dropped`, when queue_limit results are already pending (storage.queue, or
  // failing_queue while failing) or after stop().
  bool submit(ProbeResult r);
  // Waits until every result accepted before the call is committed. Returns
  // false if that did not happen within `timeout` or the writer has stopped
  // with rows lost.
  bool flush(Duration timeout = std::chrono::seconds(60));
  // Writes what is pending (a failing database gets the time described in
  // "Stopping" above) and joins the writer; what could not be written is
  // counted in `lost`. Idempotent. Later submits are refused.
  void stop();
  WriterStats stats() const;

  // Rows of one series with from <= time < to, ordered by time (oldest first).
  Result<std::vector<ProbeResult>> samples(const SampleQuery& q) const;
  // Every stored (line, target, kind) with its newest timestamp, ordered by names then kind.
  Result<std::vector<SeriesInfo>> series() const;
  // Total rows stored.
  Result<std::int64_t> count() const;
  // The newest row of a series; nullopt when it has none.
  Result<std::optional<ProbeResult>> latest(const std::string& line, const std::string& target,
                                            ProbeKind kind) const;

  const std::string& path() const { return path_; }

 private:
  Store(std::string path, std::unique_ptr<SampleWriter> w, std::unique_ptr<SampleReader> r);
  std::string path_;
  std::unique_ptr<SampleWriter> writer_;
  std::unique_ptr<SampleReader> reader_;
};

}  // namespace linewatch

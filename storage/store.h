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
// Reads use a second connection (WAL lets them run beside the writer).
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/probe_result.h"
#include "core/time.h"

namespace linewatch {

class SampleWriter;
class SampleReader;

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
  // How long stop() keeps retrying a failing database before counting the rest lost. Default: 10s.
  Duration stop_timeout = std::chrono::seconds(10);
};

// A consistent snapshot of the writer's counters.
struct WriterStats {
  std::uint64_t submitted = 0;          // accepted by submit()
  std::uint64_t dropped = 0;            // refused by submit() (queue full or stopped)
  std::uint64_t written = 0;            // committed rows
  std::uint64_t batches = 0;            // committed transactions
  std::uint64_t write_errors = 0;       // failed attempts (batch or retention); each retried
  std::uint64_t lost = 0;               // accepted but abandoned by stop() on a failing database
  std::uint64_t retention_runs = 0;     // completed retention passes
  std::uint64_t retention_deleted = 0;  // rows deleted by retention
  std::size_t pending = 0;              // accepted, not yet committed
  std::string last_error;               // message of the latest failure, "" if none
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
  // `dropped`, when queue_capacity results are already pending or after stop().
  bool submit(ProbeResult r);
  // Waits until every result accepted before the call is committed. Returns
  // false if that did not happen within `timeout` or the writer has stopped
  // with rows lost.
  bool flush(Duration timeout = std::chrono::seconds(60));
  // Writes what is pending (retrying a failing database up to stop_timeout)
  // and joins the writer. Idempotent. Later submits are refused.
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

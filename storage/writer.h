// The writer thread behind Store::submit(): a bounded queue drained in
// batched transactions, plus periodic retention. See store.h for the contract.
//
// Thread-safety: submit/flush/stop/stats may be called from any thread; the
// connection and statements are touched only by the writer thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/store_health.h"

namespace linewatch {

class SampleWriter {
 public:
  // Takes the (migrated) connection and starts the thread. `clock` must outlive this.
  SampleWriter(Db db, const StorageOptions& options, const StoreTuning& tuning, const Clock& clock);
  ~SampleWriter();  // stop()
  SampleWriter(const SampleWriter&) = delete;
  SampleWriter& operator=(const SampleWriter&) = delete;

  bool submit(ProbeResult r);
  bool flush(Duration timeout);
  void stop();
  WriterStats stats() const;

 private:
  using Steady = std::chrono::steady_clock;
  struct Pending {
    Steady::time_point at;  // when accepted, for flush_interval
    ProbeResult result;
  };
  enum class Work { batch, retention, exit };

  void run();
  Work wait_for_work(std::unique_lock<std::mutex>& lk, const std::vector<ProbeResult>& backlog);
  Work wait_for_retry(std::unique_lock<std::mutex>& lk);  // a failed batch is waiting
  void take_batch(std::vector<ProbeResult>& backlog);     // mu_ held
  void write(std::vector<ProbeResult>& backlog);
  void retention_step();
  bool retention_due() const;
  std::optional<StoreEvent> note_error(const Error& e);    // mu_ held
  void give_up(std::vector<ProbeResult>& backlog);         // mu_ held
  std::size_t queue_limit() const;                         // mu_ held
  void report(const std::optional<StoreEvent>& ev) const;  // no lock held

  // Writer thread only.
  Status write_batch(const std::vector<ProbeResult>& batch);
  Result<std::int64_t> intern(Stmt& upsert, std::unordered_map<std::string, std::int64_t>& cache,
                              const std::string& name);
  Status prepare();
  bool checkpoint();                // true when the WAL was truncated
  bool wal_needs_truncate() const;  // over wal_limit, or the filesystem is low on space

  const StorageOptions options_;
  const StoreTuning tuning_;
  const Clock& clock_;

  // Writer thread only (after construction).
  Db db_;
  std::optional<Stmt> insert_, line_upsert_, target_upsert_, retention_delete_;
  std::unordered_map<std::string, std::int64_t> line_ids_, target_ids_;
  int failures_ = 0;  // consecutive failed writes, for the backoff
  Steady::time_point retry_at_{};
  MonoTime next_retention_{};
  bool retention_more_ = false;  // the last chunk was full: continue promptly

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // wakes the writer
  std::condition_variable done_cv_;     // wakes flush()
  std::deque<Pending> queue_;           // guarded by mu_
  std::size_t in_flight_ = 0;           // guarded by mu_: taken by the writer, not committed
  std::size_t flushers_ = 0;            // guarded by mu_: flush() calls waiting
  bool stopping_ = false;               // guarded by mu_
  bool last_attempt_due_ = false;       // guarded by mu_: stop() wants one attempt at once
  bool exited_ = false;                 // guarded by mu_
  Steady::time_point stop_deadline_{};  // guarded by mu_
  std::uint64_t processed_ = 0;         // guarded by mu_: committed + lost, in submit order
  WriterStats stats_;                   // guarded by mu_ (pending, state computed on read)
  StoreHealth health_;                  // guarded by mu_

  std::mutex join_mu_;  // serialises joins when stop() races with itself
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace linewatch

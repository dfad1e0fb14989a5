// The writer thread behind Store::submit(), submit_event(), submit_bandwidth()
// and save_state(): one bounded queue of rows plus the newest value per state
// key, drained in batched transactions, and periodic retention. See store.h
// for the contract.
//
// Thread-safety: submit/flush/stop/stats may be called from any thread; the
// connection and statements are touched only by the writer thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "core/config.h"
#include "core/event.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "storage/sqlite.h"
#include "storage/statements.h"
#include "storage/store.h"
#include "storage/store_health.h"

namespace linewatch {

class SampleWriter {
 public:
  // One queued row; the index picks its counters in WriterStats.
  using Row = std::variant<ProbeResult, Event, BandwidthSample>;

  // Takes the (migrated) connection and starts the thread. `clock` must outlive this.
  SampleWriter(Db db, const StorageOptions& options, const StoreTuning& tuning, const Clock& clock);
  ~SampleWriter();  // stop()
  SampleWriter(const SampleWriter&) = delete;
  SampleWriter& operator=(const SampleWriter&) = delete;

  bool submit(Row row);
  bool save_state(std::string key, std::string value);
  bool flush(Duration timeout);
  void stop();
  WriterStats stats() const;

 private:
  using Steady = std::chrono::steady_clock;
  // A round as it waits: its series, and the rest encoded (core/round_codec.h,
  // about 30 to 60 bytes), instead of a 456-byte ProbeResult and its echoes.
  // At 10,000 rounds a second a fold or checkpoint queues ~10,000 of them.
  struct QueuedRound {
    std::string line;  // short ids fit in the string itself
    std::string target;
    std::vector<std::uint8_t> bytes;  // encode_round, exactly sized
  };
  // A Row as it waits, with the same alternatives in the same order (the
  // counters go by the index). The Event (five strings) is boxed so that it
  // does not set the size of every element.
  using QueuedRow = std::variant<QueuedRound, std::unique_ptr<Event>, BandwidthSample>;
  static_assert(std::variant_size_v<QueuedRow> == std::variant_size_v<Row>);
  struct Pending {
    Steady::time_point at;  // when accepted, for flush_interval
    QueuedRow row;
  };
  static_assert(sizeof(Pending) <= 128, "a queued row grew: see QueuedRound");
  // What one transaction writes; kept whole across retries.
  struct Batch {
    std::vector<QueuedRow> rows;
    StateValues state;            // newest value per key
    std::uint64_t state_seq = 0;  // every save_state() up to this one is in `state` or earlier
    bool empty() const { return rows.empty() && state.empty(); }
  };
  enum class Work { batch, retention, fold, exit };  // fold: the last one, at stop

  void run();
  Work wait_for_work(std::unique_lock<std::mutex>& lk, const Batch& backlog);
  Work wait_for_retry(std::unique_lock<std::mutex>& lk);     // a failed batch is waiting
  std::optional<Steady::time_point> batch_deadline() const;  // mu_ held
  void take_batch(Batch& backlog);                           // mu_ held
  void write(Batch& backlog);
  void note_committed(Batch& backlog);  // mu_ held
  void retention_step();
  bool fold_due(Steady::time_point now) const;
  bool fold_fits(std::uint64_t rows) const;  // room on the filesystem for folding `rows`
  void fold();
  bool retention_due() const;
  std::optional<StoreEvent> note_error(const Error& e);    // mu_ held
  void give_up(Batch& backlog);                            // mu_ held
  std::size_t queue_limit() const;                         // mu_ held
  std::uint64_t dropped_total() const;                     // mu_ held
  static QueuedRow queued(Row row);                        // no lock held: encodes a round
  static std::size_t queued_bytes(const QueuedRow& row);   // for WriterStats::queued_bytes
  void report(const std::optional<StoreEvent>& ev) const;  // no lock held

  // Writer thread only.
  Status write_batch(const Batch& batch);
  Status insert(const QueuedRow& row, ProbeResult& round);  // round: scratch for decoding
  bool checkpoint();                                        // true when the WAL was truncated
  bool wal_needs_truncate() const;  // over wal_limit, or the filesystem is low on space

  const StorageOptions options_;
  const StoreTuning tuning_;
  const Clock& clock_;

  // Writer thread only (after construction).
  Db db_;
  WriteStatements statements_;
  int failures_ = 0;  // consecutive failed writes, for the backoff
  Steady::time_point retry_at_{};
  MonoTime next_retention_{};
  bool retention_more_ = false;                     // the last chunk was full: continue promptly
  std::optional<Steady::time_point> recent_since_;  // first batch left in samples_recent
  Steady::time_point fold_retry_at_{};              // after a failed fold
  int fold_failures_ = 0;                           // consecutive failed folds, for the backoff
  bool stop_folded_ = false;                        // the fold at stop was tried

  mutable std::mutex mu_;
  std::condition_variable work_cv_;     // wakes the writer
  std::condition_variable done_cv_;     // wakes flush()
  std::deque<Pending> queue_;           // guarded by mu_
  std::size_t in_flight_ = 0;           // guarded by mu_: rows taken by the writer, not committed
  std::size_t queued_bytes_ = 0;        // guarded by mu_: queued_bytes() of queue_ and in flight
  StateValues state_;                   // guarded by mu_: saved, not yet taken
  Steady::time_point state_since_{};    // guarded by mu_: when state_ became non-empty
  std::size_t state_in_flight_ = 0;     // guarded by mu_: values taken, not committed
  std::uint64_t state_seq_ = 0;         // guarded by mu_: save_state() calls accepted
  std::uint64_t state_done_ = 0;        // guarded by mu_: saves up to here committed or lost
  std::uint64_t state_committed_ = 0;   // guarded by mu_: saves up to here committed
  std::size_t flushers_ = 0;            // guarded by mu_: flush() calls waiting
  bool stopping_ = false;               // guarded by mu_
  bool last_attempt_due_ = false;       // guarded by mu_: stop() wants one attempt at once
  bool exited_ = false;                 // guarded by mu_
  Steady::time_point stop_deadline_{};  // guarded by mu_
  std::uint64_t accepted_ = 0;          // guarded by mu_: queued rows of every kind
  std::uint64_t processed_ = 0;         // guarded by mu_: committed + lost, in submit order
  std::uint64_t committed_ = 0;         // guarded by mu_: committed, in submit order
  WriterStats stats_;                   // guarded by mu_ (pending, state computed on read)
  StoreHealth health_;                  // guarded by mu_

  std::mutex join_mu_;  // serialises joins when stop() races with itself
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace linewatch

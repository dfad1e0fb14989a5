// The storage module's public contract: probe results, failover events,
// per-second line bandwidth and the agent's own state, in SQLite.
//
// One Store per data directory, holding `<data_dir>/linewatch.db` (WAL mode,
// synchronous=NORMAL, foreign keys on; schema and migrations in schema.h).
//
// Writes go through a bounded queue to one writer thread, which commits them
// in batches (one transaction per batch, the availability rollups of its
// samples included) and periodically deletes samples, events and bandwidth
// rows older than storage.retention (rollups: see schema.h). submit(),
// submit_event() and submit_bandwidth() never wait for the disk: they share
// one queue, and when it is full the row is refused and counted per kind
// (`dropped`, `events_dropped`, `bandwidth_dropped`), so a slow or full disk
// can never stall a probe or the failover path, and no row disappears
// uncounted. A failed batch is kept and retried; it counts against the same
// bound as the queue, so memory stays bounded and an accepted row is only
// lost if stop() gives up on a database that keeps failing (counted in
// `lost`, `events_lost`, `bandwidth_lost`).
//
// State (save_state) is not queued row by row: the writer keeps the newest
// value per key and writes it with the next batch, so a key saved many times
// while the disk is slow costs one row write and one value of memory. Only a
// key that is not already pending can be refused (StoreTuning::state_keys).
// State is ordered per key only: a value may commit before rows queued ahead
// of it, never after a later value of its key.
//
// Health: the store is `ok` or `failing`. The first failed write (batch or
// retention) starts a failure episode; the next committed batch ends it. Each
// change is reported once, never per retry: in stats() (state, since) and
// through StoreTuning::on_state_change. While failing:
//   - memory: new results are accepted only while fewer than
//     StoreTuning::failing_queue are pending (about 440-560 bytes each), so a disk
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
#include "core/event.h"
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
  std::uint64_t rows_dropped = 0;     // rows of any kind refused during it (results, events, ...)
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
  // Most distinct keys save_state() holds for the next batch (the batch being
  // written or retried holds at most as many more); a save of a key already
  // waiting for the next batch always succeeds, as it replaces the value.
  // Default: 1024.
  std::size_t state_keys = 1024;
  // The WAL is checkpointed and truncated after a commit that leaves it larger
  // than this, or the filesystem with less than this free; also set as
  // journal_size_limit. Default: 4 MiB (SQLite's autocheckpoint of 1000 pages).
  std::uint64_t wal_limit = 4 << 20;
  // Caps the database file (PRAGMA max_page_count), so SQLite itself reports
  // "database or disk is full" past it. 0: no cap. Default: 0.
  std::uint64_t max_db_bytes = 0;
  // New samples land in the unindexed samples_recent table, which reads scan
  // whole; the writer folds them into the indexed samples_folded (schema.h,
  // v7) after a batch that leaves at least fold_rows there, or whose oldest
  // was written fold_age ago, and once more when it stops. Larger folds cost
  // the writer less per row (each series' index leaf is rewritten once per
  // fold) and every read more. A fold waits while the filesystem has less
  // room than a copy of the recent rows needs (about 512 bytes a row, at
  // least wal_limit). Default: 20000 rows / 10s.
  std::size_t fold_rows = 20000;
  Duration fold_age = std::chrono::seconds(10);
  // The writer connection's page cache (PRAGMA cache_size), in KiB. Its hot
  // pages are the recent table's tail and, per fold or batch, about one index
  // leaf and two rollup leaves per series; the OS caches the rest of the file.
  // At 200 series 1 MiB cost the writer a fifth more CPU per row than 2 MiB;
  // a small agent need not hold 2 MiB for a hundred series. Default: 2000
  // (SQLite's own).
  std::size_t writer_cache_kib = 2000;
  // Whether the writer keeps the availability rollups. Off, availability()
  // finds nothing new; only the benchmark turns it off, to measure its cost.
  // Default: true.
  bool rollups = true;
  // Called on the writer thread, with no lock held, after each change of
  // StoreState, in order. Keep it short (it delays writes); it may call
  // Store::stats() but not Store::stop(). Default: none.
  std::function<void(const StoreEvent&)> on_state_change;
};

// A consistent snapshot of the writer's counters.
// Probe results, events and bandwidth samples each have their own four
// counters: submitted = written + lost + still pending, and dropped were never
// accepted.
struct WriterStats {
  std::uint64_t submitted = 0;  // probe results accepted by submit()
  std::uint64_t dropped = 0;    // ... refused by submit() (queue full, failing or stopped)
  std::uint64_t written = 0;    // ... committed
  std::uint64_t lost = 0;       // ... accepted, then abandoned by stop() on a failing database
  std::uint64_t events_submitted = 0;  // the same four for submit_event()
  std::uint64_t events_dropped = 0;
  std::uint64_t events_written = 0;
  std::uint64_t events_lost = 0;
  std::uint64_t bandwidth_submitted = 0;  // the same four for submit_bandwidth()
  std::uint64_t bandwidth_dropped = 0;
  std::uint64_t bandwidth_written = 0;
  std::uint64_t bandwidth_lost = 0;
  // save_state(): saved = state_written + state_coalesced + state_lost + state_pending.
  std::uint64_t state_saved = 0;        // calls accepted
  std::uint64_t state_dropped = 0;      // calls refused (state_keys other keys pending, or stopped)
  std::uint64_t state_coalesced = 0;    // values replaced by a later save before being written
  std::uint64_t state_written = 0;      // values committed
  std::uint64_t state_lost = 0;         // values abandoned by stop() on a failing database
  std::uint64_t batches = 0;            // committed transactions
  std::uint64_t write_errors = 0;       // failed attempts (batch or retention); each retried
  std::uint64_t retention_runs = 0;     // completed retention passes
  std::uint64_t retention_deleted = 0;  // rows deleted by retention (samples, events, bandwidth,
                                        // rollups)
  std::uint64_t wal_checkpoints = 0;    // completed wal_checkpoint(TRUNCATE) runs
  std::uint64_t folds = 0;     // committed folds of samples_recent (StoreTuning::fold_rows)
  std::uint64_t folded = 0;    // samples they moved
  Duration fold_time_total{};  // begin to commit, summed over `folds`
  // Failed folds (a full disk, say). They leave the rows in samples_recent,
  // committed and read as before, so the state stays `ok`; each is retried
  // after the next batch once a back-off (retry_min doubling to retry_max)
  // has passed, and the fold at stop is skipped after one.
  std::uint64_t fold_errors = 0;
  std::string last_fold_error;  // whole message of the latest, "" if none
  // Write latency of committed batches (begin to commit): the sum over
  // `batches` and the longest. Failed attempts are not counted.
  Duration batch_time_total{};
  Duration batch_time_max{};
  std::size_t pending = 0;  // queued rows of every kind accepted, not yet committed
  // Memory those rows hold as queued: each one's queue element and what it
  // owns on the heap (string and vector capacities, not malloc's overhead).
  std::size_t queued_bytes = 0;
  std::size_t state_pending = 0;  // saved values not yet committed (one per key)
  std::size_t queue_limit = 0;    // the queue refuses at this many pending (lower while failing)
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

// One series aggregated per step (storage/series_read.h, GET /api/v1/series).
struct SeriesQuery {
  std::string line;
  std::string target;
  ProbeKind kind = ProbeKind::icmp;
  WallTime from{};  // inclusive; the first step starts here (stored to the ms)
  WallTime to{};    // exclusive
  Duration step = std::chrono::minutes(1);  // at least 1 ms; whole milliseconds
};

// Nearest-rank percentiles of the rounds' RTTs (rtt_us) in one step; min and
// max are the rounds' own rtt_min_us / rtt_max_us where stored.
struct SeriesRtt {
  Duration min{}, p10{}, p25{}, median{}, p75{}, p90{}, max{};
  bool operator==(const SeriesRtt&) const = default;
};

// One step that holds at least one round.
struct SeriesPoint {
  WallTime t{};             // the step's start: from + i * step
  std::int64_t rounds = 0;  // rounds started in the step
  std::int64_t ok = 0;      // ... that succeeded
  // Echoes for ICMP (sent, sent - received); for kinds without echoes each
  // round counts as one, lost when not ok.
  std::int64_t sent = 0;
  std::int64_t lost = 0;
  std::optional<double> loss;    // lost / sent; nullopt when sent is 0
  std::optional<SeriesRtt> rtt;  // nullopt when no round of the step has an RTT
  bool operator==(const SeriesPoint&) const = default;
};

// One bandwidth sample of a line, from its interface counters.
struct BandwidthSample {
  std::string line;
  WallTime time{};           // the end of the interval it measures (stored to the ms)
  std::uint64_t rx_bps = 0;  // bits/s received (stored up to INT64_MAX)
  std::uint64_t tx_bps = 0;  // bits/s sent (stored up to INT64_MAX)
  // use / capacity; nullopt (or NaN) when the line's capacity is unknown
  std::optional<double> utilisation;

  bool operator==(const BandwidthSample&) const = default;
};

struct EventQuery {
  WallTime since{};                  // inclusive
  WallTime until = WallTime::max();  // exclusive
  std::optional<std::string> line;  // only events about this line ("": about no line); nullopt: any
  std::optional<std::string> kind;  // only this kind ("line_down", ...); nullopt: any
  std::size_t limit = 1000;         // at most this many, the newest
};

struct BandwidthQuery {
  std::string line;
  WallTime from{};                // inclusive
  WallTime to = WallTime::max();  // exclusive
  std::size_t limit = 100000;     // at most this many rows
  bool newest = false;            // when limited: keep the newest rows rather than the oldest
};

// Availability of one line x target over a window ending at `now`, from the
// rollups (storage/rollup.h).
struct AvailabilityQuery {
  std::string line;
  std::string target;
  std::optional<ProbeKind> kind;  // nullopt: every kind together, each round weighing the same
  // Rounded up to whole minutes, at least one. The window is that many minute
  // buckets ending with the one that holds `now`, so its first edge is on the
  // minute: 1 h at 10:30:20 counts the rounds started from 09:31:00 on. A
  // window reaching back past the minute rows (kept max(storage.retention,
  // 2 days)) starts on its first whole hour instead, at most 59 minutes
  // short; past the hour rows (max(storage.retention, 32 days)) there is
  // nothing left to count.
  Duration window = std::chrono::hours(1);
  WallTime now{};
};

struct Availability {
  std::int64_t total = 0;           // rounds started in the window
  std::int64_t ok = 0;              // ... that succeeded (ProbeResult::ok)
  std::int64_t network_failed = 0;  // ... that failed in the network (is_network_failure)
  // ok / total: every failed round is down, the endpoint's own answers (5xx,
  // 429, a status outside the expected set) too, as a user of the endpoint
  // over this line would see it. nullopt when total is 0: no rounds is not 100 %.
  std::optional<double> ratio;
  // 1 - network_failed / total: the line's share, the endpoint's answers
  // counted as up. nullopt when total is 0.
  std::optional<double> line_ratio;

  bool operator==(const Availability&) const = default;
};

// `<data_dir>/linewatch.db`: the one database of a data directory.
std::string database_path(const std::string& data_dir);

// Store is an EventSink: emit() is submit_event() without its result, so
// decisions can send events straight here and drops are still counted.
class Store final : public EventSink {
 public:
  // Creates data_dir if missing, opens or creates linewatch.db, applies
  // migrations and starts the writer thread. `clock` must outlive the Store.
  // Failure: an Error naming the directory or file; for a database written by
  // a newer linewatch, one naming both versions, with the file left untouched.
  static Result<std::unique_ptr<Store>> open(const std::string& data_dir,
                                             const StorageOptions& options, const Clock& clock,
                                             const StoreTuning& tuning = {});
  ~Store() override;  // stop()
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Queues r for writing. Never blocks on I/O. Returns false, and counts it in
  // `dropped`, when queue_limit results are already pending (storage.queue, or
  // failing_queue while failing) or after stop().
  bool submit(ProbeResult r);
  // Queues an event, under the same bound and rules as submit(); refusals
  // are counted in `events_dropped`. Never blocks on I/O.
  bool submit_event(Event e);
  void emit(const Event& e) override { submit_event(e); }
  // Queues one bandwidth sample of `line`, under the same bound and rules as
  // submit(); refusals are counted in `bandwidth_dropped`. Never blocks on I/O.
  bool submit_bandwidth(std::string line, WallTime time, std::uint64_t rx_bps, std::uint64_t tx_bps,
                        std::optional<double> utilisation = std::nullopt);
  // Sets agent_state[key] = value (stamped with the clock's wall time) with the
  // next batch; a later save of the same key before then replaces the value
  // (counted in `state_coalesced`). Never blocks on I/O. Returns false, and
  // counts it in `state_dropped`, after stop() or when the key is not pending
  // and StoreTuning::state_keys other keys are.
  bool save_state(std::string key, std::string value);

  // Waits until every row and state value accepted before the call is
  // committed. Returns false if that did not happen within `timeout` or the
  // writer has stopped with rows lost.
  bool flush(Duration timeout = std::chrono::seconds(60));
  // Writes what is pending (a failing database gets the time described in
  // "Stopping" above) and joins the writer; what could not be written is
  // counted in `lost`. Idempotent. Later submits are refused.
  void stop();
  WriterStats stats() const;

  // Reads use their own connection and see committed rows only. Failure: an
  // Error naming the database file.
  //
  // Rows of one series with from <= time < to, ordered by time (oldest first).
  Result<std::vector<ProbeResult>> samples(const SampleQuery& q) const;
  // Every stored (line, target, kind) with its newest timestamp, ordered by names then kind.
  Result<std::vector<SeriesInfo>> series() const;
  // One series per step, steps without a round left out, oldest first: one
  // range read over the samples_series index, no per-echo data.
  Result<std::vector<SeriesPoint>> series_points(const SeriesQuery& q) const;
  // Total rows stored.
  Result<std::int64_t> count() const;
  // The newest row of a series; nullopt when it has none.
  Result<std::optional<ProbeResult>> latest(const std::string& line, const std::string& target,
                                            ProbeKind kind) const;

  // Events with since <= time < until matching the filters, newest first
  // (ties: the later submitted first), at most q.limit.
  Result<std::vector<Event>> events(const EventQuery& q) const;
  // Bandwidth samples of one line with from <= time < to, oldest first.
  Result<std::vector<BandwidthSample>> bandwidth(const BandwidthQuery& q) const;
  // The committed value of agent_state[key]; nullopt when never saved. A
  // synchronous read meant for start-up: values still queued are not seen
  // (flush() first to read one's own saves).
  Result<std::optional<std::string>> load_state(const std::string& key) const;

  // Availability from the rollups: at most 2 x 59 minute rows and one hour
  // row per hour of the window, per kind. Counts committed rounds only (a
  // queued one is at most storage.flush_interval old). Failure: an Error
  // naming the database file.
  Result<Availability> availability(const AvailabilityQuery& q) const;

  const std::string& path() const { return path_; }

 private:
  Store(std::string path, std::unique_ptr<SampleWriter> w, std::unique_ptr<SampleReader> r);
  std::string path_;
  std::unique_ptr<SampleWriter> writer_;
  std::unique_ptr<SampleReader> reader_;
};

}  // namespace linewatch

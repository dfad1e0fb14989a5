// Availability rollups (schema v5): per line x target x kind, how many rounds
// started in each minute and in each hour, how many of them were ok and how
// many failed in the network. Store::availability() answers a window from
// them, so 1 h, 24 h or 30 d cost a few hundred rows rather than a scan of
// up to 2.6 million samples, and the figures outlive the samples.
//
// Two resolutions: minute rows give a window its exact (minute) edges, hour
// rows its middle. A 30 d window reads at most 2 x 59 minute rows and 720
// hour rows per kind; minute rows alone would be 43,200, hour rows alone would
// put an edge up to an hour off (4 % of a 24 h window).
//
// The writer adds a batch's rounds in the batch's own transaction
// (RollupWriter), so a committed sample is always counted, once. Retention
// keeps minute rows for max(storage.retention, kMinuteRollupKeep) and hour
// rows for max(storage.retention, kHourRollupKeep).
//
// Thread-safety: a RollupWriter belongs to the writer thread; the free
// functions use only the connection they are given.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "storage/sqlite.h"
#include "storage/store.h"

namespace linewatch {

inline constexpr std::int64_t kRollupMinuteMs = 60'000;
inline constexpr std::int64_t kRollupHourMs = 3'600'000;
// Minute rows give a window its exact edges; two days covers the 1 h and 24 h
// windows with room. Older windows start on the hour (see store.h).
inline constexpr Duration kMinuteRollupKeep = std::chrono::hours(48);
// Hour rows carry a 30 d window (plus its partial first hour) with a day to spare.
inline constexpr Duration kHourRollupKeep = std::chrono::hours(24 * 32);

// The start of the bucket of `size_ms` that holds `ms` (floor, also before 1970).
std::int64_t bucket_start(std::int64_t ms, std::int64_t size_ms);

// The round counts of one batch, added to the rollup tables when it commits.
class RollupWriter {
 public:
  // `db` must outlive this and stay at its address.
  explicit RollupWriter(Db& db) : db_(&db) {}

  // Counts r's round in the pending batch. No I/O.
  void add(std::int64_t line_id, std::int64_t target_id, const ProbeResult& r);
  // Adds the pending counts to availability_minutes and availability_hours
  // inside the caller's transaction: one upsert per minute and per hour
  // touched, not per round. Then empties the batch, whatever the outcome.
  // Failure: the SQLite error; the caller rolls back.
  Status write();
  // Forgets the pending counts (their transaction rolled back).
  void clear() { minutes_.clear(); }

  // Deletes at most `chunk` minute rows whose whole minute is older than
  // now - max(retention, kMinuteRollupKeep), and as many hour rows whose whole
  // hour is older than now - max(retention, kHourRollupKeep), each delete its
  // own statement (autocommit). Adds what was deleted to `deleted`; sets
  // `more` when a table gave a full chunk.
  Status prune(WallTime now, Duration retention, std::size_t chunk, std::uint64_t& deleted,
               bool& more);

 private:
  struct Counts {
    std::int64_t rounds = 0, ok = 0, network_failed = 0;
  };
  using Key =
      std::tuple<std::int64_t, std::int64_t, std::int64_t, int>;  // line, target, bucket, kind
  Status prepare();
  static Status upsert(Stmt& st, const std::map<Key, Counts>& rows);

  Db* db_;
  std::optional<Stmt> minute_upsert_, hour_upsert_, minute_prune_, hour_prune_;
  std::map<Key, Counts> minutes_;  // the pending batch, per minute
};

// The query behind Store::availability() (see store.h for the window rules):
// at most three range reads over the primary keys. Failure: the SQLite error.
Result<Availability> select_availability(Db& db, const AvailabilityQuery& q);

}  // namespace linewatch

// The time-series read: one series aggregated per step (Store::series_points,
// GET /api/v1/series), and a read-only view of a database file for readers
// that run without a Store (the CLI when no agent answers).
//
// A series read is one range scan of the samples_series index
// (line_id, target_id, kind, ts_ms) over [from, to); each round costs one row
// of the fixed columns, never its per-echo `rtts`. The round's rtt_us (the
// round median for ICMP) is the RTT sample. Memory: one step's RTTs at a time.
//
// Thread-safety: select_series_points uses only the connection it is given
// (callers serialise); a ReadOnlyDatabase may be used from any thread (one
// mutex serialises its connection).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "storage/sqlite.h"
#include "storage/store.h"

namespace linewatch {

class SampleReader;

// The statement behind select_series_points (for EXPLAIN QUERY PLAN in tests):
// ?1 line name, ?2 target name, ?3 kind, ?4 from ms, ?5 to ms.
extern const char* const kSelectSeriesRounds;

// The query behind Store::series_points(): see SeriesQuery and SeriesPoint in
// store.h. Success: the points, oldest first; steps without a round are left
// out, and an unknown line or target has none. Failure: invalid_argument when
// q.step is below 1 ms or q.to is before q.from; otherwise the SQLite error.
Result<std::vector<SeriesPoint>> select_series_points(Db& db, const SeriesQuery& q);

// A database file opened read-only (SQLITE_OPEN_READONLY): never created,
// migrated or written, so it is safe beside a running agent or on a copy.
class ReadOnlyDatabase {
 public:
  // Success: the file is open and holds a schema this linewatch reads.
  // Failure: an Error naming `path`: the file is missing (io; nothing is
  // created), is not a linewatch database, or was written by a newer one.
  static Result<std::unique_ptr<ReadOnlyDatabase>> open(const std::string& path);
  ~ReadOnlyDatabase();
  ReadOnlyDatabase(const ReadOnlyDatabase&) = delete;
  ReadOnlyDatabase& operator=(const ReadOnlyDatabase&) = delete;

  // As Store::series() and Store::series_points(); failure names the file.
  Result<std::vector<SeriesInfo>> series() const;
  Result<std::vector<SeriesPoint>> series_points(const SeriesQuery& q) const;

  const std::string& path() const { return path_; }

 private:
  ReadOnlyDatabase(std::string path, std::unique_ptr<SampleReader> reader);
  std::string path_;
  std::unique_ptr<SampleReader> reader_;
};

}  // namespace linewatch

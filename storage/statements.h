// The writer thread's prepared statements: one insert per queued kind, the
// agent_state upsert, line and target name interning, the availability
// rollups of a batch's samples (storage/rollup.h) and the retention deletes.
//
// Prepared on first use, so a database that cannot prepare them (locked, full)
// fails a batch that the writer retries, rather than failing Store::open.
//
// Thread-safety: none; owned and used by the writer thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/probe_result.h"
#include "storage/rollup.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "storage/tables.h"

namespace linewatch {

class WriteStatements {
 public:
  // `db` must outlive this and stay at its address. `rollups`: whether
  // samples are counted in the availability rollups (StoreTuning::rollups).
  WriteStatements(Db& db, bool rollups) : db_(&db), rollups_(db), rollups_on_(rollups) {}

  // Each writes one row inside the caller's transaction (a sample is also
  // counted for write_rollups()). Failure: the SQLite error; the caller
  // rolls back and then calls rolled_back().
  Status insert(const ProbeResult& r);
  Status insert(const Event& e);
  Status insert(const BandwidthSample& b);
  Status put_state(const std::string& key, const StateValue& v);

  // Adds the rollup counts of the samples inserted since the last call, in
  // the caller's transaction, just before it commits. Failure: the SQLite
  // error; the caller rolls back and calls rolled_back().
  Status write_rollups() { return rollups_.write(); }

  // Ids interned and rounds counted in a transaction that rolled back do not
  // exist: drops them all.
  void rolled_back();

  struct Pruned {
    std::uint64_t deleted = 0;  // rows deleted over every table
    bool more = false;          // some table gave a full chunk: more may be left
  };
  // Deletes at most `chunk` rows older than now - retention from each of
  // samples, events and line_bandwidth, and rollup rows past their own keep
  // (rollup.h), each delete its own short transaction. `out` counts what was
  // deleted even when a later table fails.
  Status prune(WallTime now, Duration retention, std::size_t chunk, Pruned& out);

 private:
  Status prepare();
  Result<std::int64_t> intern(Stmt& upsert, std::unordered_map<std::string, std::int64_t>& cache,
                              const std::string& name);

  Db* db_;
  std::optional<Stmt> sample_, llm_, event_, bandwidth_, state_, line_upsert_, target_upsert_;
  std::vector<Stmt> prune_;  // one per retained table
  std::unordered_map<std::string, std::int64_t> line_ids_, target_ids_;
  RollupWriter rollups_;
  const bool rollups_on_;
};

}  // namespace linewatch

// The writer thread's prepared statements: one insert per queued kind, the
// agent_state upsert, line and target name interning, the availability
// rollups of a batch's samples (storage/rollup.h), the fold of
// samples_recent into samples_folded (schema.h, v7) and the retention deletes.
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

  // Ids interned, sample ids handed out and rounds counted in a transaction
  // that rolled back do not exist: drops them all (re-read at the next insert).
  void rolled_back();

  // Rows waiting in samples_recent: read at the first insert, then counted by
  // insert() and fold() (retention's deletes from it are not subtracted, so
  // this may be high, never low). 0 before the first insert or fold.
  std::uint64_t recent_rows() const { return recent_rows_; }

  // Moves every samples_recent row into samples_folded in id order and
  // empties samples_recent, in one transaction of its own (not inside a
  // batch's); their llm_samples rows stay. Success: the rows moved. Failure:
  // the SQLite error, everything rolled back (the rows stay recent).
  Result<std::uint64_t> fold();

  struct Pruned {
    std::uint64_t deleted = 0;  // rows deleted over every table
    bool more = false;          // some table gave a full chunk: more may be left
  };
  // Deletes at most `chunk` rows older than now - retention from each of
  // samples_folded, samples_recent (with their llm_samples rows), events and
  // line_bandwidth, and rollup rows past their own keep (rollup.h), each
  // delete its own short transaction. `out` counts what was
  // deleted even when a later table fails.
  Status prune(WallTime now, Duration retention, std::size_t chunk, Pruned& out);

 private:
  Status prepare();
  Status load_sequence();  // next_id_ and recent_rows_ from the tables
  Result<std::int64_t> intern(Stmt& upsert, std::unordered_map<std::string, std::int64_t>& cache,
                              const std::string& name);

  Db* db_;
  std::optional<Stmt> sample_, llm_, event_, bandwidth_, state_, line_upsert_, target_upsert_;
  std::optional<Stmt> fold_insert_, fold_delete_;
  std::vector<std::vector<Stmt>> prune_;  // per retained table: statements run in one transaction
  // The id of the next sample: one sequence over samples_folded and
  // samples_recent, so a row keeps its id (and its llm row) when it moves.
  std::optional<std::int64_t> next_id_;
  std::uint64_t recent_rows_ = 0;
  std::unordered_map<std::string, std::int64_t> line_ids_, target_ids_;
  RollupWriter rollups_;
  const bool rollups_on_;
};

}  // namespace linewatch

#include "storage/statements.h"

#include "storage/sample_row.h"

namespace linewatch {
namespace {

// Each deletes a chunk of old rows through the table's ts_ms index, so the
// write lock is held briefly however far behind retention is.
constexpr const char* kPruneSql[] = {
    "DELETE FROM samples WHERE id IN (SELECT id FROM samples WHERE ts_ms < ?1 LIMIT ?2)",
    "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_ms < ?1 LIMIT ?2)",
    "DELETE FROM line_bandwidth WHERE rowid IN"
    " (SELECT rowid FROM line_bandwidth WHERE ts_ms < ?1 LIMIT ?2)",
};

// DO UPDATE (a no-op write) rather than DO NOTHING so RETURNING yields the existing id too.
std::string intern_sql(const char* table) {
  return std::string("INSERT INTO ") + table +
         "(name) VALUES(?1) ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id";
}

}  // namespace

Status WriteStatements::prepare() {
  std::string sample_sql =
      std::string("INSERT INTO samples(line_id, target_id, ") + kSampleColumns + ") VALUES(?1, ?2";
  for (int i = 0; i < kSampleColumnCount; ++i) sample_sql += ", ?" + std::to_string(i + 3);
  sample_sql += ")";
  std::string llm_sql = std::string("INSERT INTO llm_samples(") + kLlmColumns + ") VALUES(?1";
  for (int i = 1; i < kLlmColumnCount; ++i) llm_sql += ", ?" + std::to_string(i + 1);
  llm_sql += ")";
  struct ToPrepare {
    std::optional<Stmt>* slot;
    std::string sql;
    const char* what;
  };
  const ToPrepare all[] = {
      {&sample_, sample_sql, "insert sample"},
      {&llm_, llm_sql, "insert llm sample"},
      {&event_, kInsertEvent, "insert event"},
      {&bandwidth_, kInsertBandwidth, "insert bandwidth"},
      {&state_, kPutState, "save state"},
      {&line_upsert_, intern_sql("lines"), "intern line name"},
      {&target_upsert_, intern_sql("targets"), "intern target name"},
  };
  std::vector<Stmt> prune;
  for (const char* sql : kPruneSql) {
    auto st = db_->prepare(sql, "retention delete");
    if (!st) return st.error();
    prune.push_back(std::move(*st));
  }
  // All or nothing, so a failure leaves nothing half prepared.
  std::vector<Stmt> done;
  for (const auto& p : all) {
    auto st = db_->prepare(p.sql, p.what);
    if (!st) return st.error();
    done.push_back(std::move(*st));
  }
  for (std::size_t i = 0; i < std::size(all); ++i) *all[i].slot = std::move(done[i]);
  prune_ = std::move(prune);
  return ok_status();
}

Result<std::int64_t> WriteStatements::intern(Stmt& upsert,
                                             std::unordered_map<std::string, std::int64_t>& cache,
                                             const std::string& name) {
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  upsert.bind(1, std::string_view(name));
  auto row = upsert.step();
  if (!row) {
    upsert.reset();
    return row.error();
  }
  const std::int64_t id = upsert.column_int(0);
  upsert.reset();
  cache.emplace(name, id);
  return id;
}

void WriteStatements::rolled_back() {
  line_ids_.clear();
  target_ids_.clear();
  rollups_.clear();
}

Status WriteStatements::insert(const ProbeResult& r) {
  if (!sample_) {
    if (auto s = prepare(); !s) return s;
  }
  auto line = intern(*line_upsert_, line_ids_, r.line);
  if (!line) return line.error();
  auto target = intern(*target_upsert_, target_ids_, r.target);
  if (!target) return target.error();
  sample_->bind(1, *line);
  sample_->bind(2, *target);
  bind_sample(*sample_, 3, r);
  if (auto s = sample_->run(); !s) return s;
  if (rollups_on_) rollups_.add(*line, *target, r);
  if (!r.llm) return ok_status();
  // In the caller's transaction: the sample and its figures commit together.
  bind_llm(*llm_, 1, sqlite3_last_insert_rowid(db_->handle()), *r.llm);
  return llm_->run();
}

Status WriteStatements::insert(const Event& e) {
  if (!event_) {
    if (auto s = prepare(); !s) return s;
  }
  bind_event(*event_, e);
  return event_->run();
}

Status WriteStatements::insert(const BandwidthSample& b) {
  if (!bandwidth_) {
    if (auto s = prepare(); !s) return s;
  }
  auto line = intern(*line_upsert_, line_ids_, b.line);
  if (!line) return line.error();
  bind_bandwidth(*bandwidth_, *line, b);
  return bandwidth_->run();
}

Status WriteStatements::put_state(const std::string& key, const StateValue& v) {
  if (!state_) {
    if (auto s = prepare(); !s) return s;
  }
  bind_state(*state_, key, v);
  return state_->run();
}

Status WriteStatements::prune(WallTime now, Duration retention, std::size_t chunk, Pruned& out) {
  if (prune_.empty()) {
    if (auto s = prepare(); !s) return s;
  }
  for (Stmt& del : prune_) {
    del.bind(1, static_cast<std::int64_t>(unix_ms(now - retention)));
    del.bind(2, sql_limit(chunk));
    if (auto s = del.run(); !s) return s;
    const auto n = static_cast<std::uint64_t>(sqlite3_changes64(db_->handle()));
    out.deleted += n;
    out.more = out.more || n >= chunk;
  }
  return rollups_.prune(now, retention, chunk, out.deleted, out.more);
}

}  // namespace linewatch

#include "storage/statements.h"

#include <vector>

#include "storage/sample_row.h"

namespace linewatch {
namespace {

// Each group deletes a chunk of old rows of one table in one transaction; the
// last statement's changes are the rows counted. samples_folded and the other
// tables go through their ts_ms index (samples_folded's trigger takes the llm
// rows along), so the write lock is held briefly however far behind retention
// is; samples_recent, small and unindexed, is scanned, and its llm rows are
// deleted first by the same choice of rows (rowid order).
struct PruneGroup {
  const char* first;
  const char* second;  // nullptr: none
};
constexpr PruneGroup kPruneSql[] = {
    {"DELETE FROM samples_folded WHERE id IN"
     " (SELECT id FROM samples_folded WHERE ts_ms < ?1 LIMIT ?2)",
     nullptr},
    {"DELETE FROM llm_samples WHERE sample_id IN"
     " (SELECT id FROM samples_recent WHERE ts_ms < ?1 ORDER BY id LIMIT ?2)",
     "DELETE FROM samples_recent WHERE id IN"
     " (SELECT id FROM samples_recent WHERE ts_ms < ?1 ORDER BY id LIMIT ?2)"},
    {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts_ms < ?1 LIMIT ?2)", nullptr},
    {"DELETE FROM line_bandwidth WHERE rowid IN"
     " (SELECT rowid FROM line_bandwidth WHERE ts_ms < ?1 LIMIT ?2)",
     nullptr},
};

// Every column of samples_folded and samples_recent, in the same order.
constexpr const char* kAllSampleColumns =
    "id, line_id, target_id, kind, ts_ms, ok, reason, rtt_us, duration_us, sent, received, "
    "rtt_min_us, rtt_median_us, rtt_avg_us, rtt_max_us, rtt_stddev_us, dns_us, connect_us, "
    "tls_us, ttfb_us, transfer_us, http_status, cert_expiry_ms, body_bytes, detail, rtts, echoes";

// DO UPDATE (a no-op write) rather than DO NOTHING so RETURNING yields the existing id too.
std::string intern_sql(const char* table) {
  return std::string("INSERT INTO ") + table +
         "(name) VALUES(?1) ON CONFLICT(name) DO UPDATE SET name = excluded.name RETURNING id";
}

}  // namespace

Status WriteStatements::prepare() {
  std::string sample_sql = std::string("INSERT INTO samples_recent(line_id, target_id, ") +
                           kSampleColumns + ") VALUES(?1, ?2";
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
      {&fold_insert_,
       std::string("INSERT INTO samples_folded(") + kAllSampleColumns + ") SELECT " +
           kAllSampleColumns + " FROM samples_recent ORDER BY id",
       "fold recent samples"},
      {&fold_delete_, "DELETE FROM samples_recent", "empty recent samples"},
  };
  std::vector<std::vector<Stmt>> prune;
  for (const auto& group : kPruneSql) {
    prune.emplace_back();
    for (const char* sql : {group.first, group.second}) {
      if (!sql) continue;
      auto st = db_->prepare(sql, "retention delete");
      if (!st) return st.error();
      prune.back().push_back(std::move(*st));
    }
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
  next_id_.reset();
}

Status WriteStatements::load_sequence() {
  auto last = db_->query_int(
      "SELECT max(coalesce((SELECT max(id) FROM samples_folded), 0),"
      " coalesce((SELECT max(id) FROM samples_recent), 0))",
      "read the last sample id");
  if (!last) return last.error();
  auto recent = db_->query_int("SELECT count(*) FROM samples_recent", "count recent samples");
  if (!recent) return recent.error();
  next_id_ = *last + 1;
  recent_rows_ = static_cast<std::uint64_t>(*recent);
  return ok_status();
}

Result<std::uint64_t> WriteStatements::fold() {
  if (!fold_insert_) {
    if (auto s = prepare(); !s) return s.error();
  }
  auto tx = Transaction::begin(*db_);
  if (!tx) return tx.error();
  if (auto s = fold_insert_->run(); !s) return s.error();
  const auto moved = static_cast<std::uint64_t>(sqlite3_changes64(db_->handle()));
  if (auto s = fold_delete_->run(); !s) return s.error();
  if (auto s = tx->commit(); !s) return s.error();
  recent_rows_ = 0;
  return moved;
}

Status WriteStatements::insert(const ProbeResult& r) {
  if (!sample_) {
    if (auto s = prepare(); !s) return s;
  }
  auto line = intern(*line_upsert_, line_ids_, r.line);
  if (!line) return line.error();
  auto target = intern(*target_upsert_, target_ids_, r.target);
  if (!target) return target.error();
  if (!next_id_) {
    if (auto s = load_sequence(); !s) return s;
  }
  const std::int64_t id = *next_id_;
  sample_->bind(1, *line);
  sample_->bind(2, *target);
  bind_sample(*sample_, 3, r, id);
  if (auto s = sample_->run(); !s) return s;
  ++*next_id_;
  ++recent_rows_;
  if (rollups_on_) rollups_.add(*line, *target, r);
  if (!r.llm) return ok_status();
  // In the caller's transaction: the sample and its figures commit together.
  bind_llm(*llm_, 1, id, *r.llm);
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
  for (auto& group : prune_) {
    auto tx = Transaction::begin(*db_);
    if (!tx) return tx.error();
    std::uint64_t n = 0;
    for (Stmt& del : group) {
      del.bind(1, static_cast<std::int64_t>(unix_ms(now - retention)));
      del.bind(2, sql_limit(chunk));
      if (auto s = del.run(); !s) return s;
      n = static_cast<std::uint64_t>(sqlite3_changes64(db_->handle()));
    }
    if (auto s = tx->commit(); !s) return s;
    out.deleted += n;
    out.more = out.more || n >= chunk;
  }
  return rollups_.prune(now, retention, chunk, out.deleted, out.more);
}

}  // namespace linewatch

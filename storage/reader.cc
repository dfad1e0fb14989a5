#include "storage/reader.h"

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "storage/rollup.h"
#include "storage/sample_row.h"
#include "storage/series_read.h"
#include "storage/tables.h"

namespace linewatch {

Result<std::vector<ProbeResult>> SampleReader::samples(const SampleQuery& q) const {
  std::lock_guard lk(mu_);
  return select(q.line, q.target, q.kind, unix_ms(q.from), unix_ms(q.to), q.limit, q.newest);
}

Result<std::optional<ProbeResult>> SampleReader::latest(const std::string& line,
                                                        const std::string& target,
                                                        ProbeKind kind) const {
  std::lock_guard lk(mu_);
  auto rows = select(line, target, kind, std::numeric_limits<std::int64_t>::min(),
                     std::numeric_limits<std::int64_t>::max(), 1, true);
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<ProbeResult>();
  return std::optional<ProbeResult>(std::move(rows->front()));
}

Result<std::vector<ProbeResult>> SampleReader::select(const std::string& line,
                                                      const std::string& target, ProbeKind kind,
                                                      std::int64_t from_ms, std::int64_t to_ms,
                                                      std::size_t limit, bool newest) const {
  // The name lookups are scalar subqueries so an unknown name simply matches nothing.
  // In schema v7 `samples` is a view of two tables: SQLite merges an ordered
  // read of samples_series (folded rows) with one sorted scan of
  // samples_recent, so a LIMIT stops early on the indexed side.
  // llm_samples rows join by rowid; other kinds find none and read NULLs.
  const std::string sql = std::string("SELECT ") + kSampleColumns + ", " + kLlmColumns +
                          " FROM samples LEFT JOIN llm_samples ON sample_id = samples.id"
                          " WHERE line_id = (SELECT id FROM lines WHERE name = ?1)"
                          " AND target_id = (SELECT id FROM targets WHERE name = ?2)"
                          " AND kind = ?3 AND ts_ms >= ?4 AND ts_ms < ?5 ORDER BY ts_ms " +
                          (newest ? "DESC, id DESC" : "ASC, id ASC") + " LIMIT ?6";
  auto st = db_.prepare(sql, "read samples");
  if (!st) return st.error();
  st->bind(1, std::string_view(line));
  st->bind(2, std::string_view(target));
  st->bind(3, static_cast<std::int64_t>(kind));
  st->bind(4, from_ms);
  st->bind(5, to_ms);
  st->bind(6, static_cast<std::int64_t>(
                  std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
  std::vector<ProbeResult> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    auto r = read_sample(*st, 0, db_.path());
    if (!r) return r.error();
    auto llm = read_llm(*st, kSampleColumnCount, db_.path());
    if (!llm) return llm.error();
    r->llm = std::move(*llm);
    r->line = line;
    r->target = target;
    out.push_back(std::move(*r));
  }
  if (newest) std::reverse(out.begin(), out.end());
  return out;
}

namespace {

// A deferred read transaction, so that statements run one after another see
// one snapshot: a fold committed between them would otherwise show its rows
// twice or not at all.
class ReadSnapshot {
 public:
  static Result<ReadSnapshot> begin(Db& db) {
    if (auto s = db.exec("BEGIN", "begin read"); !s) return s.error();
    return ReadSnapshot(db);
  }
  ReadSnapshot(ReadSnapshot&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  ReadSnapshot& operator=(ReadSnapshot&&) = delete;
  ~ReadSnapshot() {
    if (db_) (void)db_->exec("COMMIT", "end read");  // nothing was written: nothing to lose
  }

 private:
  explicit ReadSnapshot(Db& db) : db_(&db) {}
  Db* db_;
};

// Whether the file has schema v7's two sample tables (a read-only file may be
// older, with one `samples` table).
Result<bool> has_recent_table(Db& db) {
  auto n = db.query_int(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'samples_recent'",
      "look for samples_recent");
  if (!n) return n.error();
  return *n > 0;
}

using SeriesKey = std::tuple<std::int64_t, std::int64_t, std::int64_t>;  // line, target, kind

}  // namespace

Result<std::vector<SeriesInfo>> SampleReader::series() const {
  std::lock_guard lk(mu_);
  auto snapshot = ReadSnapshot::begin(db_);
  if (!snapshot) return snapshot.error();
  auto recent = has_recent_table(db_);
  if (!recent) return recent.error();
  std::map<SeriesKey, std::int64_t> newest;  // series -> max ts_ms
  if (auto s = indexed_series(*recent ? "samples_folded" : "samples", newest); !s) return s.error();
  if (*recent) {
    // The recent rows, read once (not per series): small and unindexed.
    auto st = db_.prepare(
        "SELECT line_id, target_id, kind, MAX(ts_ms) FROM samples_recent"
        " GROUP BY line_id, target_id, kind",
        "list recent series");
    if (!st) return st.error();
    for (;;) {
      auto row = st->step();
      if (!row) return row.error();
      if (!*row) break;
      const SeriesKey key{st->column_int(0), st->column_int(1), st->column_int(2)};
      const std::int64_t ts = st->column_int(3);
      auto [it, fresh] = newest.emplace(key, ts);
      if (!fresh) it->second = std::max(it->second, ts);
    }
  }
  std::vector<SeriesInfo> out;
  for (const auto& [key, ts] : newest) {
    const auto [line_id, target_id, kind] = key;
    if (kind < 0 || kind >= static_cast<std::int64_t>(std::size(kAllProbeKinds)))
      return io_error(db_.path() + ": corrupt sample kind " + std::to_string(kind));
    SeriesInfo s;
    s.latest = WallTime(std::chrono::milliseconds(ts));
    auto line = name("lines", line_id);
    if (!line) return line.error();
    auto target = name("targets", target_id);
    if (!target) return target.error();
    s.line = std::move(*line);
    s.target = std::move(*target);
    s.kind = static_cast<ProbeKind>(kind);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const SeriesInfo& a, const SeriesInfo& b) {
    return std::tie(a.line, a.target, a.kind) < std::tie(b.line, b.target, b.kind);
  });
  return out;
}

Status SampleReader::indexed_series(const char* table,
                                    std::map<SeriesKey, std::int64_t>& newest) const {
  // A skip scan over samples_series: each step seeks the next distinct
  // (line, target, kind) and its max ts_ms, so the cost grows with the number
  // of series, not of rows.
  auto next = db_.prepare(std::string("SELECT line_id, target_id, kind FROM ") + table +
                              " WHERE (line_id, target_id, kind) > (?1, ?2, ?3)"
                              " ORDER BY line_id, target_id, kind LIMIT 1",
                          "list series");
  if (!next) return next.error();
  auto max = db_.prepare(std::string("SELECT MAX(ts_ms) FROM ") + table +
                             " WHERE line_id = ?1 AND target_id = ?2 AND kind = ?3",
                         "newest sample of series");
  if (!max) return max.error();
  std::int64_t key[3] = {std::numeric_limits<std::int64_t>::min(), 0, 0};
  for (;;) {
    for (int i = 0; i < 3; ++i) next->bind(i + 1, key[i]);
    auto row = next->step();
    if (!row) return row.error();
    if (!*row) break;
    for (int i = 0; i < 3; ++i) key[i] = next->column_int(i);
    next->reset();
    for (int i = 0; i < 3; ++i) max->bind(i + 1, key[i]);
    auto found = max->step();
    if (!found) return found.error();
    newest[{key[0], key[1], key[2]}] = max->column_int(0);
    max->reset();
  }
  return ok_status();
}

Result<std::string> SampleReader::name(const char* table, std::int64_t id) const {
  return db_.query_text(
      std::string("SELECT name FROM ") + table + " WHERE id = " + std::to_string(id),
      std::string("name of ") + table + " id " + std::to_string(id));
}

Result<std::vector<SeriesPoint>> SampleReader::series_points(const SeriesQuery& q) const {
  std::lock_guard lk(mu_);
  return select_series_points(db_, q);
}

Result<std::int64_t> SampleReader::count() const {
  std::lock_guard lk(mu_);
  auto recent = has_recent_table(db_);
  if (!recent) return recent.error();
  // One statement, so one snapshot; each count is SQLite's page count of one
  // b-tree, where a count of the `samples` view would read every row.
  return db_.query_int(*recent ? "SELECT (SELECT COUNT(*) FROM samples_folded) +"
                                 " (SELECT COUNT(*) FROM samples_recent)"
                               : "SELECT COUNT(*) FROM samples",
                       "count samples");
}

Result<std::vector<Event>> SampleReader::events(const EventQuery& q) const {
  std::lock_guard lk(mu_);
  return select_events(db_, q);
}

Result<std::vector<BandwidthSample>> SampleReader::bandwidth(const BandwidthQuery& q) const {
  std::lock_guard lk(mu_);
  return select_bandwidth(db_, q);
}

Result<std::optional<std::string>> SampleReader::load_state(const std::string& key) const {
  std::lock_guard lk(mu_);
  return select_state(db_, key);
}

Result<Availability> SampleReader::availability(const AvailabilityQuery& q) const {
  std::lock_guard lk(mu_);
  return select_availability(db_, q);
}

}  // namespace linewatch

#include "storage/reader.h"

#include <algorithm>
#include <limits>
#include <tuple>

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

Result<std::vector<SeriesInfo>> SampleReader::series() const {
  std::lock_guard lk(mu_);
  // A skip scan over samples_series: each step seeks the next distinct
  // (line, target, kind) and its max ts_ms, so the cost grows with the number
  // of series, not of rows.
  auto next = db_.prepare(
      "SELECT line_id, target_id, kind FROM samples WHERE (line_id, target_id, kind) > (?1, ?2, ?3)"
      " ORDER BY line_id, target_id, kind LIMIT 1",
      "list series");
  if (!next) return next.error();
  auto newest = db_.prepare(
      "SELECT MAX(ts_ms) FROM samples WHERE line_id = ?1 AND target_id = ?2 AND kind = ?3",
      "newest sample of series");
  if (!newest) return newest.error();
  std::vector<SeriesInfo> out;
  std::int64_t key[3] = {std::numeric_limits<std::int64_t>::min(), 0, 0};
  for (;;) {
    for (int i = 0; i < 3; ++i) next->bind(i + 1, key[i]);
    auto row = next->step();
    if (!row) return row.error();
    if (!*row) break;
    for (int i = 0; i < 3; ++i) key[i] = next->column_int(i);
    next->reset();
    if (key[2] < 0 || key[2] >= static_cast<std::int64_t>(std::size(kAllProbeKinds)))
      return io_error(db_.path() + ": corrupt sample kind " + std::to_string(key[2]));
    for (int i = 0; i < 3; ++i) newest->bind(i + 1, key[i]);
    auto max = newest->step();
    if (!max) return max.error();
    SeriesInfo s;
    s.latest = WallTime(std::chrono::milliseconds(newest->column_int(0)));
    newest->reset();
    auto line = name("lines", key[0]);
    if (!line) return line.error();
    auto target = name("targets", key[1]);
    if (!target) return target.error();
    s.line = std::move(*line);
    s.target = std::move(*target);
    s.kind = static_cast<ProbeKind>(key[2]);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const SeriesInfo& a, const SeriesInfo& b) {
    return std::tie(a.line, a.target, a.kind) < std::tie(b.line, b.target, b.kind);
  });
  return out;
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
  return db_.query_int("SELECT COUNT(*) FROM samples", "count samples");
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

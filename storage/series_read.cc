#include "storage/series_read.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

#include "storage/reader.h"
#include "storage/schema.h"

namespace linewatch {

// The name lookups are scalar subqueries, as in SampleReader::select, so the
// planner seeks samples_series on all four columns and an unknown name
// matches nothing. In schema v7 `samples` is a view: the folded rows come
// in order from samples_series, merged with one sorted scan of the small
// samples_recent (older files: the one table).
const char* const kSelectSeriesRounds =
    "SELECT ts_ms, ok, sent, received, rtt_us, rtt_min_us, rtt_max_us FROM samples"
    " WHERE line_id = (SELECT id FROM lines WHERE name = ?1)"
    " AND target_id = (SELECT id FROM targets WHERE name = ?2)"
    " AND kind = ?3 AND ts_ms >= ?4 AND ts_ms < ?5 ORDER BY ts_ms";

namespace {

using std::chrono::microseconds;

// One step being summed up.
class StepSum {
 public:
  StepSum(bool echoes, WallTime t) : echoes_(echoes) { p_.t = t; }

  void add(const Stmt& row) {
    ++p_.rounds;
    const bool ok = row.column_int(1) != 0;
    p_.ok += ok;
    if (echoes_) {
      p_.sent += row.column_int(2);
      p_.lost += row.column_int(2) - row.column_int(3);
    } else {
      ++p_.sent;
      p_.lost += !ok;
    }
    const auto rtt = row.column_opt(4);
    if (!rtt) return;
    rtts_.push_back(*rtt);
    const std::int64_t lo = row.column_opt(5).value_or(*rtt);
    const std::int64_t hi = row.column_opt(6).value_or(*rtt);
    min_ = std::min(min_.value_or(lo), lo);
    max_ = std::max(max_.value_or(hi), hi);
  }

  SeriesPoint finish() {
    if (p_.sent > 0) p_.loss = static_cast<double>(p_.lost) / static_cast<double>(p_.sent);
    if (!rtts_.empty()) {
      std::sort(rtts_.begin(), rtts_.end());
      p_.rtt = SeriesRtt{microseconds(*min_), rank(10), rank(25), rank(50), rank(75), rank(90),
                         microseconds(*max_)};
    }
    return std::move(p_);
  }

 private:
  // Nearest rank in integers (ceil(pct * n / 100)), so 90 % of 10 is exactly
  // the 9th, with no floating-point edge.
  Duration rank(std::int64_t pct) const {
    const auto n = static_cast<std::int64_t>(rtts_.size());
    const std::int64_t r = std::clamp<std::int64_t>((pct * n + 99) / 100, 1, n);
    return microseconds(rtts_[static_cast<std::size_t>(r - 1)]);
  }

  bool echoes_;
  SeriesPoint p_;
  std::vector<std::int64_t> rtts_;  // µs
  std::optional<std::int64_t> min_, max_;
};

}  // namespace

Result<std::vector<SeriesPoint>> select_series_points(Db& db, const SeriesQuery& q) {
  const std::int64_t step_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(q.step).count();
  if (step_ms < 1) return invalid("series: step must be at least 1ms");
  if (q.to < q.from) return invalid("series: `to` is before `from`");
  auto st = db.prepare(kSelectSeriesRounds, "read series");
  if (!st) return st.error();
  const std::int64_t from_ms = unix_ms(q.from);
  st->bind(1, std::string_view(q.line));
  st->bind(2, std::string_view(q.target));
  st->bind(3, static_cast<std::int64_t>(q.kind));
  st->bind(4, from_ms);
  st->bind(5, static_cast<std::int64_t>(unix_ms(q.to)));
  const bool echoes = q.kind == ProbeKind::icmp;
  std::vector<SeriesPoint> out;
  std::optional<StepSum> sum;
  std::int64_t step_index = -1;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::int64_t i = (st->column_int(0) - from_ms) / step_ms;
    if (i != step_index) {
      if (sum) out.push_back(sum->finish());
      step_index = i;
      sum.emplace(echoes, WallTime(std::chrono::milliseconds(from_ms + i * step_ms)));
    }
    sum->add(*st);
  }
  if (sum) out.push_back(sum->finish());
  return out;
}

namespace {

// Without a -wal file no agent has the database open (an agent stopping
// cleanly removes it), so the file is opened as immutable: SQLite then needs
// no -shm either and creates nothing beside it. Otherwise a read-only
// connection would create the -wal and -shm side files, owned by whoever runs
// the CLI (root, say), which the agent's own user could then not open. With a
// -wal present an agent may be writing: a plain read-only open shares its
// -shm and sees only committed rows.
Result<Db> open_for_reading(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path + "-wal", ec))
    return Db::open(path, SQLITE_OPEN_READONLY, std::chrono::seconds(5));
  return Db::open_immutable(path, std::chrono::seconds(5));
}

}  // namespace

ReadOnlyDatabase::ReadOnlyDatabase(std::string path, std::unique_ptr<SampleReader> reader)
    : path_(std::move(path)), reader_(std::move(reader)) {}

ReadOnlyDatabase::~ReadOnlyDatabase() = default;

Result<std::unique_ptr<ReadOnlyDatabase>> ReadOnlyDatabase::open(const std::string& path) {
  // Checked first so that the message says what is wrong rather than
  // SQLite's "unable to open database file".
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    return Error{ErrorCode::io, path +
                                    ": no such database (the agent creates it on its first run;"
                                    " is agent.data_dir right?)"};
  if (!std::filesystem::is_regular_file(status))
    return Error{ErrorCode::io, path + ": not a regular file"};
  auto db = open_for_reading(path);
  if (!db) return db.error();
  if (auto s = check_not_newer(*db); !s) return s.error();
  auto version = schema_version(*db);
  if (!version) return version.error();
  if (*version < 2)
    return invalid(path + ": not a linewatch database of schema 2 or later (found " +
                   std::to_string(*version) + ")");
  auto reader = std::make_unique<SampleReader>(std::move(*db));
  return std::unique_ptr<ReadOnlyDatabase>(new ReadOnlyDatabase(path, std::move(reader)));
}

Result<std::vector<SeriesInfo>> ReadOnlyDatabase::series() const { return reader_->series(); }

Result<std::vector<SeriesPoint>> ReadOnlyDatabase::series_points(const SeriesQuery& q) const {
  return reader_->series_points(q);
}

}  // namespace linewatch

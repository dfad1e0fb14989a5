#include "storage/rollup.h"

#include <algorithm>

#include "storage/tables.h"

namespace linewatch {
namespace {

std::string upsert_sql(const char* table) {
  return std::string("INSERT INTO ") + table +
         "(line_id, target_id, bucket_ms, kind, rounds, ok, network_failed)"
         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
         " ON CONFLICT(line_id, target_id, bucket_ms, kind) DO UPDATE SET"
         " rounds = rounds + excluded.rounds, ok = ok + excluded.ok,"
         " network_failed = network_failed + excluded.network_failed";
}

// A chunk of the oldest rows through the bucket_ms index, deleted by primary key.
std::string prune_sql(const char* table) {
  return std::string("DELETE FROM ") + table +
         " WHERE (line_id, target_id, bucket_ms, kind) IN"
         " (SELECT line_id, target_id, bucket_ms, kind FROM " +
         table + " WHERE bucket_ms < ?1 LIMIT ?2)";
}

std::string sum_sql(const char* table) {
  return std::string(
             "SELECT coalesce(sum(rounds), 0), coalesce(sum(ok), 0),"
             " coalesce(sum(network_failed), 0) FROM ") +
         table +
         " WHERE line_id = (SELECT id FROM lines WHERE name = ?1)"
         " AND target_id = (SELECT id FROM targets WHERE name = ?2)"
         " AND bucket_ms >= ?3 AND bucket_ms < ?4 AND (?5 < 0 OR kind = ?5)";
}

std::int64_t ceil_to(std::int64_t ms, std::int64_t size) {
  const std::int64_t start = bucket_start(ms, size);
  return start == ms ? ms : start + size;
}

}  // namespace

std::int64_t bucket_start(std::int64_t ms, std::int64_t size_ms) {
  const std::int64_t r = ms % size_ms;
  return r < 0 ? ms - r - size_ms : ms - r;
}

void RollupWriter::add(std::int64_t line_id, std::int64_t target_id, const ProbeResult& r) {
  const Key key{line_id, target_id, bucket_start(unix_ms(r.time), kRollupMinuteMs),
                static_cast<int>(r.kind)};
  Counts& c = minutes_[key];
  ++c.rounds;
  c.ok += r.ok ? 1 : 0;
  c.network_failed += is_network_failure(r) ? 1 : 0;
}

Status RollupWriter::prepare() {
  auto mu = db_->prepare(upsert_sql("availability_minutes"), "add minute rollup");
  if (!mu) return mu.error();
  auto hu = db_->prepare(upsert_sql("availability_hours"), "add hour rollup");
  if (!hu) return hu.error();
  auto mp = db_->prepare(prune_sql("availability_minutes"), "retention delete");
  if (!mp) return mp.error();
  auto hp = db_->prepare(prune_sql("availability_hours"), "retention delete");
  if (!hp) return hp.error();
  minute_upsert_ = std::move(*mu);
  hour_upsert_ = std::move(*hu);
  minute_prune_ = std::move(*mp);
  hour_prune_ = std::move(*hp);
  return ok_status();
}

Status RollupWriter::upsert(Stmt& st, const std::map<Key, Counts>& rows) {
  for (const auto& [key, c] : rows) {
    const auto& [line, target, bucket, kind] = key;
    st.bind(1, line);
    st.bind(2, target);
    st.bind(3, bucket);
    st.bind(4, static_cast<std::int64_t>(kind));
    st.bind(5, c.rounds);
    st.bind(6, c.ok);
    st.bind(7, c.network_failed);
    if (auto s = st.run(); !s) return s;
  }
  return ok_status();
}

Status RollupWriter::write() {
  std::map<Key, Counts> minutes;
  minutes.swap(minutes_);
  if (minutes.empty()) return ok_status();
  if (!minute_upsert_) {
    if (auto s = prepare(); !s) return s;
  }
  std::map<Key, Counts> hours;
  for (const auto& [key, c] : minutes) {
    const auto& [line, target, bucket, kind] = key;
    Counts& h = hours[Key{line, target, bucket_start(bucket, kRollupHourMs), kind}];
    h.rounds += c.rounds;
    h.ok += c.ok;
    h.network_failed += c.network_failed;
  }
  if (auto s = upsert(*minute_upsert_, minutes); !s) return s;
  return upsert(*hour_upsert_, hours);
}

Status RollupWriter::prune(WallTime now, Duration retention, std::size_t chunk,
                           std::uint64_t& deleted, bool& more) {
  if (!minute_prune_) {
    if (auto s = prepare(); !s) return s;
  }
  struct Table {
    Stmt* del;
    Duration keep;
    std::int64_t size_ms;
  };
  const Table tables[] = {
      {&*minute_prune_, std::max(retention, kMinuteRollupKeep), kRollupMinuteMs},
      {&*hour_prune_, std::max(retention, kHourRollupKeep), kRollupHourMs},
  };
  for (const auto& [del, keep, size_ms] : tables) {
    // A row goes once every round it counts is past the keep.
    del->bind(1, static_cast<std::int64_t>(unix_ms(now - keep)) - size_ms);
    del->bind(2, sql_limit(chunk));
    if (auto s = del->run(); !s) return s;
    const auto n = static_cast<std::uint64_t>(sqlite3_changes64(db_->handle()));
    deleted += n;
    more = more || n >= chunk;
  }
  return ok_status();
}

Result<Availability> select_availability(Db& db, const AvailabilityQuery& q) {
  using std::chrono::minutes;
  const auto whole = std::max<std::int64_t>(std::chrono::ceil<minutes>(q.window).count(), 1);
  const std::int64_t end = bucket_start(unix_ms(q.now), kRollupMinuteMs) + kRollupMinuteMs;
  const std::int64_t start = end - whole * kRollupMinuteMs;
  // Whole hours inside the window come from hour rows, the edges from minute rows.
  const std::int64_t first_hour = ceil_to(start, kRollupHourMs);
  const std::int64_t last_hour = bucket_start(end, kRollupHourMs);
  struct Range {
    const char* table;
    std::int64_t from, to;
  };
  std::vector<Range> ranges;
  if (first_hour < last_hour) {
    ranges = {{"availability_minutes", start, first_hour},
              {"availability_hours", first_hour, last_hour},
              {"availability_minutes", last_hour, end}};
  } else {
    ranges = {{"availability_minutes", start, end}};
  }
  Availability a;
  for (const Range& r : ranges) {
    if (r.from >= r.to) continue;
    auto st = db.prepare(sum_sql(r.table), "read availability");
    if (!st) return st.error();
    st->bind(1, std::string_view(q.line));
    st->bind(2, std::string_view(q.target));
    st->bind(3, r.from);
    st->bind(4, r.to);
    st->bind(5, q.kind ? static_cast<std::int64_t>(*q.kind) : std::int64_t{-1});
    auto row = st->step();
    if (!row) return row.error();
    a.total += st->column_int(0);
    a.ok += st->column_int(1);
    a.network_failed += st->column_int(2);
  }
  if (a.total > 0) {
    const auto total = static_cast<double>(a.total);
    a.ratio = static_cast<double>(a.ok) / total;
    a.line_ratio = static_cast<double>(a.total - a.network_failed) / total;
  }
  return a;
}

}  // namespace linewatch

// The line_bandwidth table: one per-second bandwidth sample per row (see schema.h).
#include <algorithm>
#include <cmath>
#include <limits>

#include "storage/tables.h"

namespace linewatch {
namespace {

std::int64_t clamp_bps(std::uint64_t bps) {
  return static_cast<std::int64_t>(
      std::min<std::uint64_t>(bps, std::numeric_limits<std::int64_t>::max()));
}

}  // namespace

const char* const kInsertBandwidth =
    "INSERT INTO line_bandwidth(line_id, ts_ms, rx_bps, tx_bps, utilisation)"
    " VALUES(?1, ?2, ?3, ?4, ?5)";

void bind_bandwidth(Stmt& st, std::int64_t line_id, const BandwidthSample& b) {
  st.bind(1, line_id);
  st.bind(2, static_cast<std::int64_t>(unix_ms(b.time)));
  st.bind(3, clamp_bps(b.rx_bps));
  st.bind(4, clamp_bps(b.tx_bps));
  // NaN means "unknown" too; SQLite would store it as NULL anyway, say so here.
  const bool known = b.utilisation && !std::isnan(*b.utilisation);
  st.bind_real(5, known ? b.utilisation : std::nullopt);
}

Result<std::vector<BandwidthSample>> select_bandwidth(Db& db, const BandwidthQuery& q) {
  // The name lookup is a scalar subquery so an unknown line simply matches nothing.
  const std::string sql = std::string(
                              "SELECT ts_ms, rx_bps, tx_bps, utilisation FROM line_bandwidth"
                              " WHERE line_id = (SELECT id FROM lines WHERE name = ?1)"
                              " AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms ") +
                          (q.newest ? "DESC, rowid DESC" : "ASC, rowid ASC") + " LIMIT ?4";
  auto st = db.prepare(sql, "read bandwidth");
  if (!st) return st.error();
  st->bind(1, std::string_view(q.line));
  st->bind(2, static_cast<std::int64_t>(unix_ms(q.from)));
  st->bind(3, static_cast<std::int64_t>(unix_ms(q.to)));
  st->bind(4, sql_limit(q.limit));
  std::vector<BandwidthSample> out;
  for (;;) {
    auto row = st->step();
    if (!row) return row.error();
    if (!*row) break;
    BandwidthSample b;
    b.line = q.line;
    b.time = WallTime(std::chrono::milliseconds(st->column_int(0)));
    b.rx_bps = static_cast<std::uint64_t>(std::max<std::int64_t>(st->column_int(1), 0));
    b.tx_bps = static_cast<std::uint64_t>(std::max<std::int64_t>(st->column_int(2), 0));
    b.utilisation = st->column_opt_real(3);
    out.push_back(std::move(b));
  }
  if (q.newest) std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace linewatch

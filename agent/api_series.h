// GET /api/v1/series: one line x target x kind aggregated per step, for the
// page, Grafana and `linewatch history` (docs/api.md has the document).
//
// The answer is built the same way whether the points come from the agent's
// store or from a database file the CLI opened read-only (SeriesSource), so
// both give the same bytes for the same query and the same rows.
//
// Thread-safety: the functions are pure apart from what the SeriesSource's
// callbacks do; a SeriesSource is immutable once built and may be shared.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/api_server.h"
#include "agent/http_message.h"
#include "core/config.h"
#include "core/error.h"
#include "storage/store.h"

namespace linewatch {

inline constexpr std::int64_t kMaxSeriesPoints = 10000;
inline constexpr std::int64_t kDefaultSeriesPoints = 300;
inline constexpr Duration kDefaultSeriesRange = std::chrono::hours(3);

// A parsed query. Unset kind: the answer picks the one stored kind.
struct SeriesRequest {
  std::string line;
  std::string target;
  std::optional<ProbeKind> kind;
  WallTime from{};  // to the ms; "now" counts in whole seconds
  WallTime to{};    // after from
  Duration step{};  // whole seconds, at least 1s, at most kMaxSeriesPoints steps in [from, to)
};

// The query string (after '?', percent-encoded):
//   line, target  required
//   kind          icmp|tcp|http|llm
//   since         a duration back from `now` ("90s", "30d") or RFC 3339; default 3h
//   until         RFC 3339; default now
//   step          a duration of whole seconds; default (until - since) / 300 rounded
//                 up to a whole second, at least 1s
// Failure: the first bad parameter, its message starting with its name.
// Unknown and repeated parameters are refused.
std::variant<SeriesRequest, BadParameter> parse_series_query(std::string_view query, WallTime now);

// What series_answer reads. Build one with store_series_source() or by hand.
struct SeriesSource {
  std::vector<std::string> lines;                           // ids a query may name
  std::map<std::string, std::vector<ProbeKind>> targets;    // id -> its kinds (configured)
  std::string known_from = "in the config";                 // ends the 404 message
  std::function<Result<std::vector<SeriesInfo>>()> stored;  // every stored series
  std::function<Result<std::vector<SeriesPoint>>(const SeriesQuery&)> points;
  std::function<WallTime()> now;
};

// The config's lines and targets (every target is probed on every line), no
// callbacks yet.
SeriesSource config_series_source(const Config& config);
// config_series_source() reading `store`, "now" from `clock`. store and clock
// must outlive the source.
SeriesSource store_series_source(const Config& config, const Store& store, const Clock& clock);

// The whole answer to GET /api/v1/series?<query>: 200 with the document;
// 400 for a bad parameter or an ambiguous kind; 404 for a line or target
// the source does not know; 500 when the read fails. Every error body is
// {"error":"<message>"}.
HttpResponse series_answer(const SeriesSource& source, std::string_view query);

// {"line","target","kind","from","to","step_s","points":[...]} (docs/api.md).
std::string series_document(const SeriesQuery& q, const std::vector<SeriesPoint>& points);

// RFC 3339 UTC: whole seconds as "2026-11-30T12:00:00Z", else with milliseconds.
std::string format_series_time(WallTime t);

}  // namespace linewatch

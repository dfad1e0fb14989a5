// Mapping between ProbeResult and a `samples` row, and its LlmFigures and an
// `llm_samples` row (see schema.h).
//
// Durations are stored in whole microseconds and times in whole milliseconds,
// so a round trip truncates finer parts; everything else comes back exactly.
// Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/probe_result.h"
#include "storage/sqlite.h"

namespace linewatch {

// The stored columns after line_id and target_id, in order; kSampleColumnCount of them.
extern const char* const kSampleColumns;
inline constexpr int kSampleColumnCount = 25;

// Binds r to parameters first..first+kSampleColumnCount-1 in kSampleColumns
// order; `id` to the id column (nullopt: NULL, SQLite picks the next rowid).
void bind_sample(Stmt& st, int first, const ProbeResult& r,
                 std::optional<std::int64_t> id = std::nullopt);

// Reads a row whose columns from `first` on follow kSampleColumns. line and
// target are left for the caller. The per-echo RTTs come from `echoes` (rows
// written since schema v6) or else from the JSON `rtts` (older rows).
// Failure: a value outside its enum or malformed echoes or rtts (a corrupt or
// foreign row), named by the path in `where`.
Result<ProbeResult> read_sample(const Stmt& st, int first, std::string_view where);

// The llm_samples columns (schema v4), sample_id first; kLlmColumnCount of them.
extern const char* const kLlmColumns;
inline constexpr int kLlmColumnCount = 9;

// Binds `sample_id` and f to parameters first..first+kLlmColumnCount-1.
void bind_llm(Stmt& st, int first, std::int64_t sample_id, const LlmFigures& f);

// Reads columns from `first` on in kLlmColumns order, as a LEFT JOIN leaves
// them: all NULL (no llm row) is nullopt. Failure: a mode outside LlmMode.
Result<std::optional<LlmFigures>> read_llm(const Stmt& st, int first, std::string_view where);

// The `echoes` BLOB (schema v6) from per-echo RTTs (whole µs, nullopt for a
// lost echo); "" for none. Layout, every integer an unsigned LEB128 varint:
//   count of echoes n; then ceil(n / 8) bytes of lost flags (bit i % 8 of
//   byte i / 8 set: echo i was lost); then, for each answered echo in order,
//   zigzag(rtt_us - previous answered rtt_us), the first against 0.
// Differences are taken modulo 2^64, so any Duration's µs survive, negative too.
// Five echoes of a 5-80 ms line take about 13 bytes, against about 32 for the
// JSON text of schema v2-v5.
std::string encode_echoes(const std::vector<std::optional<Duration>>& rtts);
// The inverse; nullopt when `bytes` is not exactly such an encoding (short,
// trailing bytes, a varint past 10 bytes, a count the bytes cannot hold).
std::optional<std::vector<std::optional<Duration>>> decode_echoes(std::string_view bytes);

// "[812,null,790]" from per-echo RTTs (µs, null for lost); "" for none. The
// `rtts` column of rows written by schema v2-v5; new rows use encode_echoes().
std::string encode_rtts(const std::vector<std::optional<Duration>>& rtts);
// The inverse; nullopt when `text` is not such an array.
std::optional<std::vector<std::optional<Duration>>> decode_rtts(std::string_view text);

}  // namespace linewatch

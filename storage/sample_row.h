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
inline constexpr int kSampleColumnCount = 24;

// Binds r to parameters first..first+kSampleColumnCount-1 in kSampleColumns order.
void bind_sample(Stmt& st, int first, const ProbeResult& r);

// Reads a row whose columns from `first` on follow kSampleColumns. line and
// target are left for the caller. Failure: a value outside its enum or
// malformed rtts (a corrupt or foreign row), named by the path in `where`.
Result<ProbeResult> read_sample(const Stmt& st, int first, std::string_view where);

// The llm_samples columns (schema v4), sample_id first; kLlmColumnCount of them.
extern const char* const kLlmColumns;
inline constexpr int kLlmColumnCount = 9;

// Binds `sample_id` and f to parameters first..first+kLlmColumnCount-1.
void bind_llm(Stmt& st, int first, std::int64_t sample_id, const LlmFigures& f);

// Reads columns from `first` on in kLlmColumns order, as a LEFT JOIN leaves
// them: all NULL (no llm row) is nullopt. Failure: a mode outside LlmMode.
Result<std::optional<LlmFigures>> read_llm(const Stmt& st, int first, std::string_view where);

// "[812,null,790]" from per-echo RTTs (µs, null for lost); "" for none.
std::string encode_rtts(const std::vector<std::optional<Duration>>& rtts);
// The inverse; nullopt when `text` is not such an array.
std::optional<std::vector<std::optional<Duration>>> decode_rtts(std::string_view text);

}  // namespace linewatch

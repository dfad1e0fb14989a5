// The HTTP probe's body_regex, compiled with RE2.
//
// RE2 matches in time linear in the body and in memory bounded by
// kBodyRegexMaxMem whatever the pattern, so neither a hostile body nor an
// unlucky pattern can stall a round or overflow a worker's stack the way a
// backtracking engine (std::regex) does. The price is RE2's syntax: no
// backreferences and no lookaround.
//
// Thread-safety: compile_body_regex() is reentrant; the compiled regex is
// immutable and may be matched from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace re2 {
class RE2;
}

namespace linewatch {

// Memory one compiled body_regex may use, program and match cache together.
// Past it compilation fails ("pattern too large"), and a match that would need
// more cache falls back to RE2's slower, still linear, engine.
inline constexpr std::int64_t kBodyRegexMaxMem = 8 << 20;

// Compiles `pattern`. Success: the regex, shared and immutable.
// Failure: invalid_argument with RE2's own message ("missing ]: [unclosed"),
// for the caller to prefix with the config key.
Result<std::shared_ptr<const re2::RE2>> compile_body_regex(const std::string& pattern);

// True when `re` matches anywhere in `body` (a search, not a full match).
bool body_matches(const re2::RE2& re, std::string_view body);

}  // namespace linewatch

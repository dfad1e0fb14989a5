// Text forms of durations, bitrates and byte sizes used in configuration.
//
// Every quantity needs a unit: a bare number is an error, so "10" never means
// ten seconds in one place and ten milliseconds in another. Parsing is exact
// (integer arithmetic, no floating point); a decimal fraction is accepted only
// when it lands on a whole nanosecond, bit or byte. Negative values and values
// that overflow are rejected. format_*() gives a form that parses back to
// exactly the same value. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/time.h"

namespace linewatch {

// "250ms", "1.5s", "1h30m", "2d" (d = 24h). Units: ns, us, ms, s, m, h, d; a
// value may chain several, largest first ("1m30s"). Success: the duration.
// Failure: invalid_argument naming the text and the problem (no unit, unknown
// unit, negative, overflow, units out of order, below 1ns).
Result<Duration> parse_duration(std::string_view text);

// Shortest-ish exact form: days, hours and minutes as integers, the rest in
// the largest of s/ms/us/ns that is >= 1 with a decimal fraction
// (1500ms -> "1.5s", 90s -> "1m30s", 0 -> "0s"). Negative durations get a
// leading '-' (parse_duration rejects them; config never holds one).
std::string format_duration(Duration d);

// Bitrate in bits per second: "100bps", "64kbps", "500Mbps", "1.5Gbps",
// "1Tbps". SI decimal prefixes (k = 1e3, M = 1e6, G = 1e9, T = 1e12; "K" is
// accepted for k). Failure: invalid_argument as for parse_duration.
Result<std::uint64_t> parse_bitrate(std::string_view text);

// Largest prefix with value >= 1, decimal fraction as needed: 1500000 -> "1.5Mbps".
std::string format_bitrate(std::uint64_t bps);

// Byte size: "64B", binary "512KiB", "1MiB", "1GiB", "1TiB", decimal "1kB"
// (or "KB"), "1MB", "1GB", "1TB". Failure: invalid_argument.
Result<std::uint64_t> parse_bytes(std::string_view text);

// The largest unit, binary preferred, that divides the value exactly:
// 1048576 -> "1MiB", 1000 -> "1kB", 1500 -> "1500B".
std::string format_bytes(std::uint64_t bytes);

}  // namespace linewatch

// The Prometheus text exposition format (0.0.4) of prometheus-cpp's
// collected families, written fast: the same lines as prometheus-cpp's
// TextSerializer (HELP, TYPE, then each sample; a histogram's _count, _sum
// and cumulative _bucket lines with le last), but numbers through
// std::to_chars (shortest form that reads back exactly) into one reserved
// string instead of an ostream. At 10 000 probe series (260 000 samples)
// TextSerializer alone took about 170 ms here, above a scrape's budget
// (docs/benchmarks.md, bench_metrics).
//
// Escaping as the format says: label values escape backslash, double quote
// and line feed; HELP text escapes backslash and line feed. Summary and
// untyped families are written too, though the agent has none.
//
// Thread-safety: pure function.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace linewatch {

// Appends `families` in the text format to `out`.
void write_exposition(const std::vector<prometheus::MetricFamily>& families, std::string& out);

// The pieces, for writers of families that never become MetricFamily objects
// (agent/metrics_probe_text.h), so both write the same numbers and escapes.
// A sample value: NaN, +Inf, -Inf, or the shortest form that reads back exactly.
void put_number(std::string& out, double v);
// A count (a histogram's _count, a bucket), in decimal.
void put_count(std::string& out, std::uint64_t v);
// `s` escaped: backslash and line feed always, double quote when `quote`
// (label values; HELP text does not escape quotes).
void put_escaped(std::string& out, std::string_view s, bool quote);

}  // namespace linewatch

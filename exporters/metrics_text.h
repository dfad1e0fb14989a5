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

#include <string>
#include <vector>

namespace linewatch {

// Appends `families` in the text format to `out`.
void write_exposition(const std::vector<prometheus::MetricFamily>& families, std::string& out);

}  // namespace linewatch

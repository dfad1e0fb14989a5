// The text exposition (0.0.4) of the probe families, written straight from
// the ProbeSeries (agent/metrics_probe_series.h), series by series, with no
// prometheus::ClientMetric in between; and the whole /metrics text: those
// families placed among the registry's where prometheus-cpp would put them.
//
// The lines are exactly those exporters/metrics_text.h writes for the same
// values held in prometheus-cpp metrics (metrics_probe_text_test.cc checks
// it): HELP (the catalogue's, backslash and line feed escaped) and TYPE,
// labels in name order (kind, line, [phase|reason,] target), label values
// with backslash, double quote and line feed escaped, numbers as
// std::to_chars writes them (NaN, +Inf, -Inf), a histogram's _count, _sum,
// then cumulative _bucket lines with le last and le="+Inf" at the end. A
// family without a series is not written at all, as prometheus-cpp leaves
// out an empty family. Series come in the order given (the config's).
//
// Family order, as prometheus-cpp's Registry::Collect gives it: counters,
// then gauges, then summaries and histograms, each in registration order;
// the probe families are registered first (exporters/metrics.cc), so each
// group starts with them.
//
// Thread-safety: reads each series under its own lock, one family at a
// time; the caller keeps the series alive (MetricsCollector's shared lock).
#pragma once

#include <prometheus/metric_family.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/metrics_probe_series.h"

namespace linewatch {

using ProbeSeriesList = std::span<const std::unique_ptr<ProbeSeries>>;

// Where a long text goes as it is written: once `out` holds `at` bytes or
// more, at the end of a series, `take` is given it and must empty it (e.g.
// into a compressor). So the text of 10,000 series (about 20 MB) never sits
// in memory whole. Absent (null), the text just grows in `out`.
struct TextSpill {
  std::function<void(std::string& out)> take;
  std::size_t at = 64 * 1024;

  void maybe(std::string& out) const {
    if (out.size() >= at) take(out);
  }
};

// Appends linewatch_probe_results_total, _echoes_sent_total, _echoes_lost_total.
void write_probe_counters(ProbeSeriesList series, std::string& out,
                          const TextSpill* spill = nullptr);
// Appends linewatch_probe_success, _loss_ratio, _jitter_seconds, _phase_seconds.
void write_probe_gauges(ProbeSeriesList series, std::string& out, const TextSpill* spill = nullptr);
// Appends linewatch_probe_rtt_seconds and linewatch_llm_ttft_seconds.
void write_probe_histograms(ProbeSeriesList series, std::string& out,
                            const TextSpill* spill = nullptr);

// Whether `name` is one of the families above.
bool is_probe_family(std::string_view name);

// Appends the whole exposition: the probe families and `families` (a
// registry's Collect(); any probe family among them is skipped, so none is
// written twice) in prometheus-cpp's order. With `spill`, the text goes to
// it as it grows, and what is left at the end stays in `out`.
void write_metrics(ProbeSeriesList series, std::vector<prometheus::MetricFamily> families,
                   std::string& out, const TextSpill* spill = nullptr);

}  // namespace linewatch

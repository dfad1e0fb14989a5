#include "agent/metrics_probe_text.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

#include "exporters/metrics.h"
#include "exporters/metrics_text.h"

namespace linewatch {
namespace {

constexpr std::string_view kResults = "linewatch_probe_results_total";
constexpr std::string_view kEchoesSent = "linewatch_probe_echoes_sent_total";
constexpr std::string_view kEchoesLost = "linewatch_probe_echoes_lost_total";
constexpr std::string_view kSuccess = "linewatch_probe_success";
constexpr std::string_view kLoss = "linewatch_probe_loss_ratio";
constexpr std::string_view kJitter = "linewatch_probe_jitter_seconds";
constexpr std::string_view kPhase = "linewatch_probe_phase_seconds";
constexpr std::string_view kRtt = "linewatch_probe_rtt_seconds";
constexpr std::string_view kTtft = "linewatch_llm_ttft_seconds";
constexpr std::array kFamilies{kResults, kEchoesSent, kEchoesLost, kSuccess, kLoss,
                               kJitter,  kPhase,      kRtt,        kTtft};

// Writes a family's HELP and TYPE before its first sample, so that a family
// without series is left out as prometheus-cpp leaves it out.
class Family {
 public:
  Family(std::string& out, std::string_view name, std::string_view type)
      : out_(out), name_(name), type_(type) {}

  std::string_view name() const { return name_; }

  void open(std::string_view suffix) {
    if (!headed_) head();
    out_ += name_;
    out_ += suffix;
    out_ += '{';
  }

 private:
  void head() {
    headed_ = true;
    for (const MetricSpec& s : metric_catalogue())
      if (s.name == name_ && !s.help.empty()) {
        out_ += "# HELP ";
        out_ += name_;
        out_ += ' ';
        put_escaped(out_, s.help, false);
        out_ += '\n';
      }
    out_ += "# TYPE ";
    out_ += name_;
    out_ += ' ';
    out_ += type_;
    out_ += '\n';
  }

  std::string& out_;
  std::string_view name_;
  std::string_view type_;
  bool headed_ = false;
};

// One series' label values, escaped once per family pass into buffers that
// keep their capacity from series to series.
struct Labels {
  std::string line;
  std::string target;
  std::string_view kind;

  void set(const ProbeSeries& s) {
    line.clear();
    put_escaped(line, *s.line, true);
    target.clear();
    put_escaped(target, *s.target, true);
    kind = to_string(s.kind);
  }
};

// {kind="..",line="..",[extra="..",]target=".."[,le=".."]} and a space.
// `with_kind` false: line and target only. `le` is `,le="bound"` or empty.
void put_labels(std::string& out, const Labels& l, bool with_kind, std::string_view extra_name = {},
                std::string_view extra_value = {}, std::string_view le = {}) {
  if (with_kind) {
    out += "kind=\"";
    out += l.kind;
    out += "\",";
  }
  out += "line=\"";
  out += l.line;
  out += "\",";
  if (!extra_name.empty()) {
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += "\",";
  }
  out += "target=\"";
  out += l.target;
  out += '"';
  out += le;
  out += "} ";
}

// A one-value family over every series: `value` reads the series (under its
// lock) and returns nullopt where the series has no such sample.
template <typename Value>
void put_plain(std::string& out, const TextSpill* spill, ProbeSeriesList series,
               std::string_view name, std::string_view type, bool with_kind, Value value) {
  Family f(out, name, type);
  Labels l;
  for (const auto& s : series) {
    std::optional<double> v;
    {
      std::lock_guard lk(s->mu);
      v = value(*s);
    }
    if (!v) continue;
    l.set(*s);
    f.open("");
    put_labels(out, l, with_kind);
    put_number(out, *v);
    out += '\n';
    if (spill) spill->maybe(out);
  }
}

// `,le="bound"` for each bucket of rtt_buckets(), then `,le="+Inf"`.
std::array<std::string, kSeriesBuckets + 1> le_labels() {
  std::array<std::string, kSeriesBuckets + 1> out;
  const auto bounds = rtt_buckets();
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = ",le=\"";
    put_number(out[i], i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity());
    out[i] += '"';
  }
  return out;
}

void put_histogram(std::string& out, Family& f, const Labels& l, bool with_kind,
                   const SeriesHistogram& h,
                   const std::array<std::string, kSeriesBuckets + 1>& le) {
  std::uint64_t count = 0;
  for (std::uint64_t c : h.counts) count += c;
  f.open("_count");
  put_labels(out, l, with_kind);
  put_count(out, count);
  out += "\n";
  f.open("_sum");
  put_labels(out, l, with_kind);
  put_number(out, h.sum);
  out += "\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    f.open("_bucket");
    put_labels(out, l, with_kind, {}, {}, le[i]);
    put_count(out, cumulative);
    out += '\n';
  }
}

// Rough bytes of the probe families, so the text grows once at most.
std::size_t estimate(ProbeSeriesList series) {
  std::size_t size = 16 * 1024;
  for (const auto& s : series) {
    const std::size_t lines = 30 + (s->ttft ? 20 : 0);
    size += lines * (72 + s->line->size() + s->target->size());
  }
  return size;
}

}  // namespace

void write_probe_counters(ProbeSeriesList series, std::string& out, const TextSpill* spill) {
  Family results(out, kResults, "counter");
  Labels l;
  std::array<std::uint64_t, kReasons> counts;
  for (const auto& s : series) {
    std::uint32_t seen;
    {
      std::lock_guard lk(s->mu);
      seen = s->reasons_seen;
      counts = s->results;
    }
    l.set(*s);
    for (std::size_t r = 0; r < kReasons; ++r) {
      if (!(seen >> r & 1u)) continue;
      results.open("");
      put_labels(out, l, true, "reason", to_string(static_cast<Reason>(r)));
      put_number(out, static_cast<double>(counts[r]));
      out += '\n';
    }
    if (spill) spill->maybe(out);
  }
  auto echoes = [](std::uint64_t ProbeSeries::*field) {
    return [field](const ProbeSeries& s) -> std::optional<double> {
      if (!s.echoes()) return std::nullopt;
      return static_cast<double>(s.*field);
    };
  };
  put_plain(out, spill, series, kEchoesSent, "counter", false, echoes(&ProbeSeries::echoes_sent));
  put_plain(out, spill, series, kEchoesLost, "counter", false, echoes(&ProbeSeries::echoes_lost));
}

void write_probe_gauges(ProbeSeriesList series, std::string& out, const TextSpill* spill) {
  auto gauge = [](double ProbeSeries::*field) {
    return [field](const ProbeSeries& s) -> std::optional<double> { return s.*field; };
  };
  put_plain(out, spill, series, kSuccess, "gauge", true, gauge(&ProbeSeries::success));
  put_plain(out, spill, series, kLoss, "gauge", true, gauge(&ProbeSeries::loss));
  put_plain(out, spill, series, kJitter, "gauge", true, gauge(&ProbeSeries::jitter));
  Family phase(out, kPhase, "gauge");
  Labels l;
  std::array<double, kProbePhases> values;
  for (const auto& s : series) {
    std::uint8_t seen;
    {
      std::lock_guard lk(s->mu);
      seen = s->phases_seen;
      values = s->phases;
    }
    if (!seen) continue;
    l.set(*s);
    for (std::size_t p = 0; p < kProbePhases; ++p) {
      if (!(seen >> p & 1u)) continue;
      phase.open("");
      put_labels(out, l, true, "phase", kPhaseNames[p]);
      put_number(out, values[p]);
      out += '\n';
    }
    if (spill) spill->maybe(out);
  }
}

void write_probe_histograms(ProbeSeriesList series, std::string& out, const TextSpill* spill) {
  const auto le = le_labels();
  Labels l;
  SeriesHistogram h;
  Family rtt(out, kRtt, "histogram");
  for (const auto& s : series) {
    {
      std::lock_guard lk(s->mu);
      h = s->rtt;
    }
    l.set(*s);
    put_histogram(out, rtt, l, true, h, le);
    if (spill) spill->maybe(out);
  }
  Family ttft(out, kTtft, "histogram");
  for (const auto& s : series) {
    if (!s->ttft) continue;
    {
      std::lock_guard lk(s->mu);
      h = *s->ttft;
    }
    l.set(*s);
    put_histogram(out, ttft, l, false, h, le);
    if (spill) spill->maybe(out);
  }
}

bool is_probe_family(std::string_view name) {
  return std::find(kFamilies.begin(), kFamilies.end(), name) != kFamilies.end();
}

void write_metrics(ProbeSeriesList series, std::vector<prometheus::MetricFamily> families,
                   std::string& out, const TextSpill* spill) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> counters, gauges, summaries, rest;
  for (prometheus::MetricFamily& f : families) {
    if (is_probe_family(f.name)) continue;
    auto& group = f.type == MetricType::Counter   ? counters
                  : f.type == MetricType::Gauge   ? gauges
                  : f.type == MetricType::Summary ? summaries
                                                  : rest;
    group.push_back(std::move(f));
  }
  if (!spill) out.reserve(out.size() + estimate(series));
  write_probe_counters(series, out, spill);
  write_exposition(counters, out);
  write_probe_gauges(series, out, spill);
  write_exposition(gauges, out);
  write_exposition(summaries, out);
  write_probe_histograms(series, out, spill);
  write_exposition(rest, out);
}

}  // namespace linewatch

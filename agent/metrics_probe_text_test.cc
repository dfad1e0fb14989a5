// The probe families written from ProbeSeries against the same values held
// in prometheus-cpp metrics (as the collector kept them before): through
// TextSerializer, and through the exporters' own writer that /metrics used.
#include "agent/metrics_probe_text.h"

#include <doctest/doctest.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "exporters/metrics.h"
#include "exporters/metrics_text.h"

namespace linewatch {
namespace {

// The same figures, fed to our series and to LinewatchMetrics' families.
class Mirror {
 public:
  ProbeSeries& add(const std::string& line, const std::string& target, ProbeKind kind, bool ttft) {
    series_.push_back(
        std::make_unique<ProbeSeries>(pool_.intern(line), pool_.intern(target), kind, ttft));
    const prometheus::Labels l = labels(*series_.back());
    prom.probe_rtt.Add(l, bounds());
    prom.probe_success.Add(l);
    prom.probe_loss.Add(l);
    prom.probe_jitter.Add(l);
    prom.probe_results.Add(with(l, "reason", "ok"));
    if (kind == ProbeKind::icmp) {
      prom.probe_echoes_sent.Add(pair(*series_.back()));
      prom.probe_echoes_lost.Add(pair(*series_.back()));
    }
    if (ttft) prom.llm_ttft.Add(pair(*series_.back()), bounds());
    return *series_.back();
  }

  void rtt(ProbeSeries& s, double v) {
    s.rtt.observe(v);
    prom.probe_rtt.Add(labels(s), bounds()).Observe(v);
  }
  void ttft(ProbeSeries& s, double v) {
    s.ttft->observe(v);
    prom.llm_ttft.Add(pair(s), bounds()).Observe(v);
  }
  void results(ProbeSeries& s, Reason r, std::uint64_t n) {
    s.reasons_seen |= 1u << static_cast<unsigned>(r);
    s.results[static_cast<std::size_t>(r)] += n;
    prom.probe_results.Add(with(labels(s), "reason", std::string(to_string(r))))
        .Increment(static_cast<double>(n));
  }
  void gauges(ProbeSeries& s, double success, double loss, double jitter) {
    s.success = success;
    s.loss = loss;
    s.jitter = jitter;
    prom.probe_success.Add(labels(s)).Set(success);
    prom.probe_loss.Add(labels(s)).Set(loss);
    prom.probe_jitter.Add(labels(s)).Set(jitter);
  }
  void echoes(ProbeSeries& s, std::uint64_t sent, std::uint64_t lost) {
    s.echoes_sent += sent;
    s.echoes_lost += lost;
    prom.probe_echoes_sent.Add(pair(s)).Increment(static_cast<double>(sent));
    prom.probe_echoes_lost.Add(pair(s)).Increment(static_cast<double>(lost));
  }
  void phase(ProbeSeries& s, ProbePhase p, double v) {
    const auto i = static_cast<std::size_t>(p);
    s.phases_seen |= static_cast<std::uint8_t>(1u << i);
    s.phases[i] = v;
    prom.probe_phase.Add(with(labels(s), "phase", kPhaseNames[i])).Set(v);
  }

  // The new way: our families among the registry's (where they are empty).
  std::string ours() {
    std::string out;
    write_metrics(series_, prom.registry().Collect(), out);
    return out;
  }
  // The same, spilled every `at` bytes: the pieces joined, and the largest
  // the buffer grew before a spill.
  std::pair<std::string, std::size_t> spilled(std::size_t at) {
    std::string joined;
    std::size_t largest = 0;
    const TextSpill spill{[&](std::string& text) {
                            largest = std::max(largest, text.size());
                            joined += text;
                            text.clear();
                          },
                          at};
    std::string out;
    write_metrics(series_, prom.registry().Collect(), out, &spill);
    return {joined + out, largest};
  }
  // The old way: everything in prometheus-cpp, through the exporters' writer.
  std::string exporters_writer() {
    std::string out;
    write_exposition(prom.registry().Collect(), out);
    return out;
  }
  std::string text_serializer() {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, prom.registry().Collect());
    return out.str();
  }

  LinewatchMetrics prom;

 private:
  static std::vector<double> bounds() { return {rtt_buckets().begin(), rtt_buckets().end()}; }
  static prometheus::Labels labels(const ProbeSeries& s) {
    return {{"line", *s.line}, {"target", *s.target}, {"kind", std::string(to_string(s.kind))}};
  }
  static prometheus::Labels pair(const ProbeSeries& s) {
    return {{"line", *s.line}, {"target", *s.target}};
  }
  static prometheus::Labels with(prometheus::Labels l, const std::string& k, const std::string& v) {
    l.emplace(k, v);
    return l;
  }

  LabelPool pool_;
  std::vector<std::unique_ptr<ProbeSeries>> series_;
};

// Series with labels to escape, histogram edges, +Inf, failures, phases,
// an llm TTFT, and two families that are not the probes'.
void fill(Mirror& m) {
  ProbeSeries& icmp = m.add("cn2 \"gia\"", "back\\slash\nnew line", ProbeKind::icmp, false);
  for (double v : {0.0005, 0.001, 0.1, 0.15000000000000002, 1.0 / 3, 10.0, 12.5, 1e-7})
    m.rtt(icmp, v);
  m.results(icmp, Reason::ok, 7);
  m.results(icmp, Reason::timeout, 2);
  m.gauges(icmp, 1, 0.2, 0.000179687500001);
  m.echoes(icmp, 35, 3);
  ProbeSeries& tcp = m.add("cn2 \"gia\"", "api", ProbeKind::tcp, false);
  m.results(tcp, Reason::refused, 1);
  m.gauges(tcp, 0, 1, 0);
  m.phase(tcp, ProbePhase::connect, 0.04);
  ProbeSeries& llm = m.add("cu-vip", "chat", ProbeKind::llm, true);
  m.rtt(llm, 0.35);
  m.ttft(llm, 0.35);
  m.ttft(llm, 30);
  m.results(llm, Reason::ok, 1);
  m.gauges(llm, 1, 0, std::numeric_limits<double>::infinity());
  for (ProbePhase p : {ProbePhase::dns, ProbePhase::tls, ProbePhase::ttft, ProbePhase::total})
    m.phase(llm, p, 0.003 * (1 + static_cast<double>(p)));
  m.add("cu-vip", "api", ProbeKind::http, false);  // no round yet: zeros
  m.prom.metrics_unknown_results.Add({}).Increment(4);
  m.prom.build_info.Add({{"version", "1.2.3"}}).Set(1);
}

// A family's samples grouped by series (a histogram's lines stay together,
// in order), the groups sorted: prometheus-cpp keeps a family's metrics in a
// hash map, so only the series order may differ.
std::vector<std::string> canonical(const std::string& text) {
  std::vector<std::string> out, family;
  auto flush = [&] {
    std::sort(family.begin(), family.end());
    out.insert(out.end(), family.begin(), family.end());
    family.clear();
  };
  std::istringstream in(text);
  std::string current_series;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("#")) {
      flush();
      out.push_back(line);
      continue;
    }
    // The series: the labels without le; _count opens a histogram's group.
    const auto brace = line.find('{');
    std::string series = brace == std::string::npos ? line : line.substr(brace);
    if (const auto le = series.find(",le=\""); le != std::string::npos) series.erase(le);
    if (const auto end = series.find('}'); end != std::string::npos) series.erase(end);
    const bool joins =
        !family.empty() && series == current_series && line.find("_count{") == std::string::npos;
    if (joins) {
      family.back() += "\n" + line;
    } else {
      family.push_back(line);
    }
    current_series = series;
  }
  flush();
  return out;
}

TEST_CASE("probe text: the same lines as the exporters' writer gave from prometheus-cpp metrics") {
  Mirror m;
  fill(m);
  const std::string ours = m.ours();
  CHECK(ours.find("target=\"back\\\\slash\\nnew line\"") != std::string::npos);
  CHECK(ours.find("line=\"cn2 \\\"gia\\\"\"") != std::string::npos);
  CHECK(ours.find("le=\"+Inf\"} 8\n") != std::string::npos);
  CHECK(canonical(ours) == canonical(m.exporters_writer()));
}

// The value after the last space, read as a number; the rest as is.
std::pair<std::string, double> split_sample(const std::string& line) {
  const auto space = line.rfind(' ');
  std::string head = line.substr(0, space);
  // TextSerializer writes le bounds with 16 significant digits; ours the shortest.
  if (const auto le = head.find("le=\""); le != std::string::npos) {
    const auto end = head.find('"', le + 4);
    const double bound = std::stod(head.substr(le + 4, end - le - 4));
    head = head.substr(0, le) + "le=" + std::to_string(bound) + head.substr(end + 1);
  }
  return {head, std::stod(line.substr(space + 1))};
}

bool same_number(double x, double y) {
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  return std::fabs(x - y) <= 1e-15 * std::fabs(x);
}

TEST_CASE("probe text: the same samples as prometheus-cpp's TextSerializer for the same values") {
  Mirror m;
  fill(m);
  const auto a = canonical(m.ours()), b = canonical(m.text_serializer());
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i]);
    CAPTURE(b[i]);
    if (a[i].starts_with("#")) {
      CHECK(a[i] == b[i]);
      continue;
    }
    std::istringstream x(a[i]), y(b[i]);
    std::string lx, ly;
    while (std::getline(x, lx) && std::getline(y, ly)) {
      const auto [hx, vx] = split_sample(lx);
      const auto [hy, vy] = split_sample(ly);
      CHECK(hx == hy);
      CHECK(same_number(vx, vy));
    }
    CHECK(x.eof() == y.eof());
  }
}

TEST_CASE("probe text: a spilled text is the same text, held a series at a time") {
  Mirror m;
  fill(m);
  for (int i = 0; i < 400; ++i) {
    ProbeSeries& s = m.add("line-" + std::to_string(i % 4), "target-" + std::to_string(i),
                           i % 3 ? ProbeKind::icmp : ProbeKind::llm, i % 3 == 0);
    m.rtt(s, 0.001 * i);
    m.results(s, i % 5 ? Reason::ok : Reason::timeout, 1 + i);
    if (s.ttft) m.ttft(s, 0.01 * i);
  }
  const std::string whole = m.ours();
  REQUIRE(whole.size() > 200 * 1024);
  const auto [joined, largest] = m.spilled(4096);
  CHECK(joined == whole);
  // A spill comes at the end of the series that passed 4 KiB: one series'
  // lines (a histogram of 19 lines at most) past it.
  CHECK(largest >= 4096);
  CHECK(largest < 4096 + 4096);
}

TEST_CASE("probe text: a family without series is left out, as prometheus-cpp leaves it out") {
  Mirror m;
  ProbeSeries& tcp = m.add("a", "b", ProbeKind::tcp, false);
  m.results(tcp, Reason::ok, 1);
  const std::string ours = m.ours();
  CHECK(ours.find("linewatch_probe_echoes_sent_total") == std::string::npos);
  CHECK(ours.find("linewatch_probe_phase_seconds") == std::string::npos);
  CHECK(ours.find("linewatch_llm_ttft_seconds") == std::string::npos);
  CHECK(canonical(ours) == canonical(m.exporters_writer()));
  Mirror none;
  CHECK(none.ours().empty());
}

TEST_CASE("probe text: a value on a bucket bound counts in that bucket, as in prometheus-cpp") {
  SeriesHistogram h;
  h.observe(rtt_buckets()[3]);
  h.observe(rtt_buckets().back() * 2);
  CHECK(h.counts[3] == 1);
  CHECK(h.counts[kSeriesBuckets] == 1);  // +Inf
  CHECK(h.sum == doctest::Approx(rtt_buckets()[3] + rtt_buckets().back() * 2));
}

}  // namespace
}  // namespace linewatch

#include "exporters/metrics_text.h"

#include <doctest/doctest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

namespace linewatch {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A sample line's value; both writers may spell a number differently
// ("1e-06" and "0.000001", "Nan" and "NaN"). TextSerializer keeps 16
// significant digits, so only that much must agree (ours keeps all: see the
// next case).
bool same_number(const std::string& a, const std::string& b) {
  const double x = std::stod(a), y = std::stod(b);
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  return std::fabs(x - y) <= 1e-15 * std::fabs(x);
}

// The le="..." bound of a bucket line, read as a number, or the line as is.
std::string normalised_head(const std::string& head) {
  const auto le = head.find("le=\"");
  if (le == std::string::npos) return head;
  const auto end = head.find('"', le + 4);
  const double bound = std::stod(head.substr(le + 4, end - le - 4));
  return head.substr(0, le) + "le=" + std::to_string(bound) + head.substr(end + 1);
}

TEST_CASE("metrics text: the same samples, in the same order, as prometheus-cpp's TextSerializer") {
  prometheus::Registry registry;
  auto& counters = prometheus::BuildCounter().Name("t_total").Help("A counter.").Register(registry);
  // No line feed: TextSerializer writes it raw after a backslash.
  counters.Add({{"line", "a"}, {"odd", "quote \" backslash \\ end"}}).Increment(3);
  counters.Add({}).Increment(1e-6);
  auto& gauges = prometheus::BuildGauge().Name("t_gauge").Help("A gauge.").Register(registry);
  gauges.Add({{"k", "nan"}}).Set(std::numeric_limits<double>::quiet_NaN());
  gauges.Add({{"k", "inf"}}).Set(std::numeric_limits<double>::infinity());
  gauges.Add({{"k", "-inf"}}).Set(-std::numeric_limits<double>::infinity());
  gauges.Add({{"k", "third"}}).Set(1.0 / 3);
  auto& histograms =
      prometheus::BuildHistogram().Name("t_seconds").Help("A histogram.").Register(registry);
  auto& h =
      histograms.Add({{"line", "a"}}, prometheus::Histogram::BucketBoundaries{0.001, 0.1, 10});
  h.Observe(0.05);
  h.Observe(20);
  histograms.Add({}, prometheus::Histogram::BucketBoundaries{0.5});
  auto& summaries =
      prometheus::BuildSummary().Name("t_summary").Help("A summary.").Register(registry);
  summaries.Add({{"x", "y"}}, prometheus::Summary::Quantiles{{0.5, 0.05}}).Observe(2);

  const auto families = registry.Collect();
  std::string ours;
  write_exposition(families, ours);
  std::ostringstream theirs;
  prometheus::TextSerializer().Serialize(theirs, families);

  const auto a = lines_of(ours), b = lines_of(theirs.str());
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CAPTURE(a[i]);
    CAPTURE(b[i]);
    if (a[i].starts_with("#")) {
      CHECK(a[i] == b[i]);
      continue;
    }
    const auto sa = a[i].rfind(' '), sb = b[i].rfind(' ');
    CHECK(normalised_head(a[i].substr(0, sa)) == normalised_head(b[i].substr(0, sb)));
    CHECK(same_number(a[i].substr(sa + 1), b[i].substr(sb + 1)));
  }
  // Label values escaped as the format says.
  CHECK(ours.find(R"(odd="quote \" backslash \\ end")") != std::string::npos);
  CHECK(ours.find("t_seconds_bucket{line=\"a\",le=\"+Inf\"} 2\n") != std::string::npos);
}

TEST_CASE("metrics text: numbers read back exactly") {
  prometheus::Registry registry;
  auto& gauges = prometheus::BuildGauge().Name("g").Help("h").Register(registry);
  const std::vector<double> values{0.1 + 0.2, 1.7976931348623157e308, 5e-324, 1.0 / 3, 123456789.0};
  for (std::size_t i = 0; i < values.size(); ++i)
    gauges.Add({{"i", std::to_string(i)}}).Set(values[i]);
  std::string out;
  write_exposition(registry.Collect(), out);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string head = "g{i=\"" + std::to_string(i) + "\"} ";
    const auto at = out.find(head);
    REQUIRE(at != std::string::npos);
    const auto end = out.find('\n', at);
    CHECK(std::strtod(out.substr(at + head.size(), end - at - head.size()).c_str(), nullptr) ==
          values[i]);
  }
  CHECK(out.find("g{i=\"0\"} 0.30000000000000004\n") != std::string::npos);
}

TEST_CASE("metrics text: a line feed is escaped in HELP text and in label values") {
  prometheus::Registry registry;
  prometheus::BuildGauge()
      .Name("g")
      .Help("two\nlines \\ here")
      .Register(registry)
      .Add({{"v", "a\nb"}})
      .Set(1);
  std::string out;
  write_exposition(registry.Collect(), out);
  CHECK(out == "# HELP g two\\nlines \\\\ here\n# TYPE g gauge\ng{v=\"a\\nb\"} 1\n");
}

}  // namespace
}  // namespace linewatch

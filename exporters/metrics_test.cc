#include "exporters/metrics.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace linewatch {
namespace {

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

std::string read_docs() {
  std::ifstream in(std::filesystem::path(LINEWATCH_SOURCE_DIR) / "docs/metrics.md");
  REQUIRE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("metrics catalogue: every entry has its family and no name is taken twice") {
  // The constructor throws when the catalogue and the families disagree.
  CHECK_NOTHROW(LinewatchMetrics());
  std::set<std::string_view> names;
  for (const MetricSpec& s : metric_catalogue()) CHECK(names.insert(s.name).second);
}

TEST_CASE("metrics catalogue: names follow the Prometheus conventions") {
  const std::set<std::string_view> labels{"line",  "target",    "kind",  "reason",  "phase",
                                          "state", "direction", "row",   "gateway", "receiver", "route", "window",
                                          "rule",  "version",   "result"};
  for (const MetricSpec& s : metric_catalogue()) {
    CAPTURE(s.name);
    CHECK(s.name.starts_with("linewatch_"));
    CHECK(ends_with(s.name, "_total") == (s.type == MetricType::counter));
    CHECK_FALSE(s.help.empty());
    if (s.unit == "seconds") CHECK(s.name.find("_seconds") != std::string_view::npos);
    if (s.unit == "ratio") CHECK(ends_with(s.name, "_ratio"));
    if (s.unit == "bytes/s") CHECK(ends_with(s.name, "_bytes_per_second"));
    // Only the bounded labels of the header's list.
    std::string_view rest = s.labels;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      CHECK(labels.contains(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
    }
  }
}

TEST_CASE("metrics catalogue: docs/metrics.md lists every family with its type, and no other") {
  const std::string docs = read_docs();
  std::set<std::string> catalogue;
  for (const MetricSpec& s : metric_catalogue()) {
    CAPTURE(s.name);
    const std::string row =
        "| `" + std::string(s.name) + "` | " + std::string(to_string(s.type)) + " |";
    CHECK(docs.find(row) != std::string::npos);
    catalogue.emplace(s.name);
  }
  const std::regex row(R"(\n\| `(linewatch_[a-z_]+)` \|)");
  for (auto it = std::sregex_iterator(docs.begin(), docs.end(), row); it != std::sregex_iterator();
       ++it) {
    CAPTURE((*it)[1].str());
    CHECK(catalogue.contains((*it)[1].str()));
  }
}

TEST_CASE("metrics catalogue: RTT buckets rise from 1 ms to 10 s") {
  const auto b = rtt_buckets();
  REQUIRE(b.size() >= 10);
  CHECK(b.front() == 0.001);
  CHECK(b.back() == 10);
  for (std::size_t i = 1; i < b.size(); ++i) CHECK(b[i - 1] < b[i]);
}

TEST_CASE("metrics: raise_to follows a running total up and never down") {
  prometheus::Counter c;
  raise_to(c, 5);
  CHECK(c.Value() == 5);
  raise_to(c, 3);
  CHECK(c.Value() == 5);
  raise_to(c, 12.5);
  CHECK(c.Value() == 12.5);
}

TEST_CASE("metrics: render writes HELP, TYPE and the samples of a family") {
  LinewatchMetrics m;
  m.probe_results.Add({{"line", "a"}, {"target", "t"}, {"kind", "tcp"}, {"reason", "ok"}})
      .Increment(3);
  m.build_info.Add({{"version", "1.2.3"}}).Set(1);
  const std::string text = m.render();
  CHECK(text.find("# HELP linewatch_probe_results_total Probe rounds by outcome") !=
        std::string::npos);
  CHECK(text.find("# TYPE linewatch_probe_results_total counter\n") != std::string::npos);
  CHECK(text.find("linewatch_probe_results_total{kind=\"tcp\",line=\"a\",reason=\"ok\","
                  "target=\"t\"} 3\n") != std::string::npos);
  CHECK(text.find("linewatch_build_info{version=\"1.2.3\"} 1\n") != std::string::npos);
  // A family without series is left out.
  CHECK(text.find("linewatch_line_state") == std::string::npos);
}

}  // namespace
}  // namespace linewatch

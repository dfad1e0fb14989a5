#include "agent/status_table.h"

#include <Poco/JSON/Array.h>

#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

namespace linewatch {
namespace {

std::string ms(const Poco::JSON::Object& o, const char* key) {
  if (!o.has(key) || o.isNull(key)) return "-";
  char buf[32];
  const double v = o.getValue<double>(key);
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2fms" : v < 100 ? "%.1fms" : "%.0fms", v);
  return buf;
}

std::string pct(double v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", v * 100);
  return buf;
}

using Row = std::vector<std::string>;

}  // namespace

void print_aligned(const std::vector<std::vector<std::string>>& rows, std::ostream& out) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string format_bps(double v) {
  static const char* const prefix[] = {"", "k", "M", "G", "T"};
  std::size_t i = 0;
  while (v >= 999.5 && i + 1 < std::size(prefix)) {
    v /= 1000;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf,
                i == 0 || v >= 99.95 ? "%.0f%sbps"
                : v >= 9.995         ? "%.1f%sbps"
                                     : "%.2f%sbps",
                v, prefix[i]);
  return buf;
}

namespace {

std::string rate(const Poco::JSON::Object& o, const char* key) {
  return o.has(key) && !o.isNull(key) ? format_bps(o.getValue<double>(key)) : "-";
}

// Why a line shows no rate, for the rows that have none.
std::string no_rate(const Poco::JSON::Object& l) {
  const auto state = l.getValue<std::string>("state");
  if (state == "measuring") return "";
  if (state == "none")
    return l.has("detail") ? "none: " + l.getValue<std::string>("detail") : "none";
  // "since" is RFC 3339: show the time of day.
  return state + " since " + l.getValue<std::string>("since").substr(11, 8);
}

// The LINE IFACE RX TX UTIL block, only when some line has an interface, so
// an agent that measures no bandwidth prints what it always printed.
void print_bandwidth(const Poco::JSON::Object& status, std::ostream& out) {
  if (!status.has("lines")) return;  // an agent from before bandwidth
  auto lines = status.getArray("lines");
  std::vector<Row> rows{{"LINE", "IFACE", "RX", "TX", "UTIL"}};
  bool any = false;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto l = lines->getObject(static_cast<unsigned>(i));
    const bool has_iface = !l->isNull("interface");
    any = any || has_iface;
    rows.push_back({l->getValue<std::string>("line"),
                    has_iface ? l->getValue<std::string>("interface") : "-", rate(*l, "rx_bps"),
                    rate(*l, "tx_bps"),
                    l->has("utilisation") ? pct(l->getValue<double>("utilisation")) : "-"});
    if (auto why = no_rate(*l); !why.empty()) rows.back().push_back(why);
  }
  if (!any) return;
  out << "\n";
  print_aligned(rows, out);
}

}  // namespace

void print_status_table(const Poco::JSON::Object& status, std::ostream& out) {
  auto series = status.getArray("series");
  out << "agent " << status.getValue<std::string>("agent") << "  " << series->size()
      << " series  window " << status.getValue<int>("window_s") << "s  at "
      << status.getValue<std::string>("now") << "\n";
  // A TTFT column only when an llm series is there: an agent without one
  // prints what it always printed.
  bool any_llm = false;
  for (std::size_t i = 0; i < series->size(); ++i)
    any_llm = any_llm ||
              series->getObject(static_cast<unsigned>(i))->getValue<std::string>("kind") == "llm";
  std::vector<Row> rows{{"LINE", "TARGET", "KIND", "STATE", "LAST", "MEDIAN", "P95", "JITTER",
                         "LOSS", "AVAIL", "ROUNDS", "LAST FAILURE"}};
  if (any_llm) rows[0].insert(rows[0].begin() + 5, "TTFT");
  for (std::size_t i = 0; i < series->size(); ++i) {
    auto s = series->getObject(static_cast<unsigned>(i));
    auto latest = s->getObject("latest");
    auto win = s->getObject("window");
    const bool ok = latest->getValue<bool>("ok");
    std::string state = ok ? "up" : "DOWN " + latest->getValue<std::string>("reason");
    std::string failure = "-";
    if (win->has("last_failure"))
      failure = win->getValue<std::string>("last_failure") + " at " +
                win->getValue<std::string>("last_failure_time").substr(11, 8);
    rows.push_back({s->getValue<std::string>("line"), s->getValue<std::string>("target"),
                    s->getValue<std::string>("kind"), state, ms(*latest, "rtt_ms"),
                    ms(*win, "rtt_median_ms"), ms(*win, "rtt_p95_ms"), ms(*win, "jitter_ms"),
                    pct(win->getValue<double>("loss")), pct(win->getValue<double>("availability")),
                    std::to_string(win->getValue<int>("rounds")), failure});
    if (any_llm) rows.back().insert(rows.back().begin() + 5, ms(*latest, "ttft_ms"));
  }
  print_aligned(rows, out);
  print_bandwidth(status, out);
}

}  // namespace linewatch

#include "rules/alert_rules.h"

#include <array>
#include <charconv>
#include <cstdio>

#include "core/units.h"
#include "rules/alert_text.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

constexpr std::array<std::string_view, 8> kMetricNames = {
    "rtt_median", "rtt_p95", "jitter", "loss", "availability", "bandwidth_utilisation",
    "failures",   "ttft_p95"};
constexpr std::array<std::string_view, 3> kScopeNames = {"line", "target", "series"};

constexpr Duration kMaxDurationThreshold = 1h;
constexpr double kMaxCount = 1e6;

// "2.50" -> "2.5", "3.000" -> "3".
std::string trimmed_number(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

// A plain decimal ("99.9", "1", "0.5") as a fraction of 100, exactly: the
// digits over a power of ten, so "99.9%" is the double nearest 0.999 and
// compares equal to 999 / 1000 from a rollup. nullopt for anything else.
std::optional<double> percent_fraction(std::string_view s) {
  std::uint64_t digits = 0;
  int decimals = -1;  // -1: no point seen
  if (s.empty() || s.size() > 12) return std::nullopt;
  for (char c : s) {
    if (c == '.' && decimals < 0) {
      decimals = 0;
    } else if (c >= '0' && c <= '9') {
      digits = digits * 10 + static_cast<std::uint64_t>(c - '0');
      if (decimals >= 0) ++decimals;
    } else {
      return std::nullopt;
    }
  }
  if (decimals == 0 || s.front() == '.') return std::nullopt;  // "1." and ".5"
  double scale = 100;
  for (int i = 0; i < std::max(decimals, 0); ++i) scale *= 10;
  return static_cast<double>(digits) / scale;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

AlertRule rule(std::string name, AlertMetric metric, AlertScope scope, Duration window, bool above,
               double threshold, double clear, Duration for_duration, std::string severity) {
  AlertRule r;
  r.name = std::move(name);
  r.metric = metric;
  r.scope = scope;
  r.window = window;
  r.above = above;
  r.threshold = threshold;
  r.clear = clear;
  r.for_duration = for_duration;
  r.severity = std::move(severity);
  return r;
}

}  // namespace

AlertUnit unit_of(AlertMetric m) {
  switch (m) {
    case AlertMetric::rtt_median:
    case AlertMetric::rtt_p95:
    case AlertMetric::jitter:
    case AlertMetric::ttft_p95:
      return AlertUnit::duration;
    case AlertMetric::loss:
    case AlertMetric::availability:
    case AlertMetric::bandwidth_utilisation:
      return AlertUnit::fraction;
    case AlertMetric::failures:
      return AlertUnit::count;
  }
  return AlertUnit::count;
}

std::string_view to_string(AlertMetric m) { return kMetricNames.at(static_cast<std::size_t>(m)); }
std::string_view to_string(AlertScope s) { return kScopeNames.at(static_cast<std::size_t>(s)); }

std::optional<AlertMetric> alert_metric_from_string(std::string_view s) {
  for (std::size_t i = 0; i < kMetricNames.size(); ++i)
    if (kMetricNames[i] == s) return static_cast<AlertMetric>(i);
  return std::nullopt;
}

std::optional<AlertScope> alert_scope_from_string(std::string_view s) {
  for (std::size_t i = 0; i < kScopeNames.size(); ++i)
    if (kScopeNames[i] == s) return static_cast<AlertScope>(i);
  return std::nullopt;
}

std::string alert_metric_names() {
  std::string out;
  for (std::string_view n : kMetricNames) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

bool held_while_line_down(AlertMetric m) {
  return m != AlertMetric::availability && m != AlertMetric::bandwidth_utilisation;
}

AlertScope default_scope(AlertMetric m) {
  return m == AlertMetric::bandwidth_utilisation ? AlertScope::line : AlertScope::series;
}

Result<double> parse_threshold(AlertMetric m, std::string_view text) {
  const std::string name(to_string(m));
  switch (unit_of(m)) {
    case AlertUnit::duration: {
      auto d = text.ends_with('%') ? Result<Duration>(invalid("")) : parse_duration(text);
      if (!d) return invalid(name + " takes a duration such as 3000ms, got " + quoted(text));
      if (*d > kMaxDurationThreshold)
        return invalid(format_duration(*d) + " is above the maximum " +
                       format_duration(kMaxDurationThreshold));
      return to_ms(*d);
    }
    case AlertUnit::fraction: {
      const auto f =
          text.ends_with('%') ? percent_fraction(text.substr(0, text.size() - 1)) : std::nullopt;
      if (!f) return invalid(name + " takes a percentage such as 1%, got " + quoted(text));
      if (*f > 1) return invalid("must be at most 100%, got " + std::string(text));
      return *f;
    }
    case AlertUnit::count: {
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        return invalid(name + " takes a whole number of rounds such as 3, got " + quoted(text));
      if (static_cast<double>(n) > kMaxCount)
        return invalid("must be at most 1000000, got " + std::string(text));
      return static_cast<double>(n);
    }
  }
  return invalid("unknown metric");
}

std::string format_value(AlertMetric m, double value) {
  switch (unit_of(m)) {
    case AlertUnit::duration:
      return trimmed_number(value >= 10 ? "%.0f" : "%.2f", value) + " ms";
    case AlertUnit::fraction:
      return trimmed_number("%.3f", value * 100) + "%";
    case AlertUnit::count:
      return trimmed_number("%.0f", value);
  }
  return "";
}

double display_number(AlertMetric m, double value) {
  return unit_of(m) == AlertUnit::fraction ? value * 100 : value;
}

AlertScopeKey scope_key(AlertScope scope, const std::string& line, const std::string& target,
                        const std::string& kind) {
  switch (scope) {
    case AlertScope::line:
      return {line, "", ""};
    case AlertScope::target:
      return {"", target, ""};
    case AlertScope::series:
      return {line, target, kind};
  }
  return {line, target, kind};
}

std::string to_string(const AlertScopeKey& key) {
  std::string out;
  for (const std::string* part : {&key.line, &key.target, &key.kind})
    if (!part->empty()) out += (out.empty() ? "" : ":") + *part;
  return out;
}

std::vector<AlertRule> default_rules() {
  std::vector<AlertRule> out;
  out.push_back(rule("latency", AlertMetric::rtt_p95, AlertScope::series, 5min, true, 3000, 2500,
                     1min, "warning"));
  AlertRule loss =
      rule("loss", AlertMetric::loss, AlertScope::line, 5min, true, 0.01, 0.005, 2min, "warning");
  loss.match.kind = "icmp";  // the echoes: a line's packet loss, not endpoints' refusals
  out.push_back(std::move(loss));
  out.push_back(rule("bandwidth", AlertMetric::bandwidth_utilisation, AlertScope::line, 5min, true,
                     0.8, 0.7, 5min, "warning"));
  out.push_back(rule("availability", AlertMetric::availability, AlertScope::line, 24h, false, 0.999,
                     0.999, 0s, "critical"));
  return out;
}

std::vector<AlertRule> effective_rules(const AlertOptions& options) {
  std::vector<AlertRule> out;
  std::vector<bool> used(options.rules.size(), false);
  if (options.defaults) {
    for (AlertRule& d : default_rules()) {
      std::size_t i = 0;
      while (i < options.rules.size() && options.rules[i].name != d.name) ++i;
      if (i < options.rules.size()) {
        used[i] = true;
        out.push_back(options.rules[i]);
      } else {
        out.push_back(std::move(d));
      }
    }
  }
  for (std::size_t i = 0; i < options.rules.size(); ++i)
    if (!used[i]) out.push_back(options.rules[i]);
  return out;
}

std::string check_severity(const std::string& severity) {
  if (severity == "critical" || severity == "warning" || severity == "info") return "";
  return "must be critical, warning or info, got " + quoted(severity);
}

std::string check_clear(const AlertRule& r, double clear) {
  if (r.above ? clear <= r.threshold : clear >= r.threshold) return "";
  return "clear " + format_value(r.metric, clear) + " is " + (r.above ? "above" : "below") +
         " the threshold " + format_value(r.metric, r.threshold) + " (an alert that fires " +
         (r.above ? "above" : "below") + " the threshold resolves once the value is back " +
         (r.above ? "at or below" : "at or above") + " clear)";
}

Status validate(const AlertRule& r) {
  const std::string at = "rule " + quoted(r.name) + ": ";
  if (r.name.empty()) return invalid("alert rule without a name");
  if (r.name == kLineDownRule)
    return invalid(at + "the name is taken by the alert raised while a line is down");
  const bool bandwidth = r.metric == AlertMetric::bandwidth_utilisation;
  if (bandwidth && r.scope != AlertScope::line)
    return invalid(at + "scope: bandwidth_utilisation is measured per line (use scope: line)");
  if (bandwidth && (!r.match.target.empty() || !r.match.kind.empty()))
    return invalid(at + "match: bandwidth_utilisation is measured per line (match line only)");
  for (const std::string* glob : {&r.match.line, &r.match.target, &r.match.kind})
    if (std::string e = check_glob(*glob); !e.empty()) return invalid(at + "match: " + e);
  if (r.window <= Duration::zero()) return invalid(at + "window must be above 0s");
  if (r.for_duration < Duration::zero() || r.repeat < Duration::zero())
    return invalid(at + "for and repeat must not be negative");
  const double most = unit_of(r.metric) == AlertUnit::duration   ? to_ms(kMaxDurationThreshold)
                      : unit_of(r.metric) == AlertUnit::fraction ? 1.0
                                                                 : kMaxCount;
  if (!(r.threshold >= 0 && r.threshold <= most)) return invalid(at + "threshold out of range");
  if (r.clear) {
    if (!(*r.clear >= 0 && *r.clear <= most)) return invalid(at + "clear out of range");
    if (std::string e = check_clear(r, *r.clear); !e.empty()) return invalid(at + e);
  }
  if (std::string e = check_severity(r.severity); !e.empty()) return invalid(at + "severity " + e);
  auto summary = SummaryTemplate::compile(r.summary, r.scope);
  if (!summary) return invalid(at + "summary: " + summary.error().message);
  return ok_status();
}

}  // namespace linewatch

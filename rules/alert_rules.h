// Alert rules: metric names and units, thresholds as text, the reference
// design's default rules, and the check of a whole rule.
//
// The rule itself (AlertRule, AlertMetric, AlertScope, AlertMatch) is a plain
// config type in core/alert_options.h; this header adds what needs logic.
// Units: every metric has one (unit_of). Internally a value or threshold is a
// double in the metric's base unit: milliseconds for durations, a fraction
// 0..1 for percentages, a count for failures. People see "3412 ms", "1.5%",
// "3" (format_value); programs get the number in the same unit as the config
// writes it: ms, percent, count (display_number).
//
// Pure functions; thread-safe.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/alert_options.h"
#include "core/error.h"

namespace linewatch {

enum class AlertUnit : std::uint8_t {
  duration,  // config "3000ms", "2.5s"; base unit milliseconds
  fraction,  // config "1%", "99.9%"; base unit a fraction 0..1
  count,     // config "3"; base unit a count
};

AlertUnit unit_of(AlertMetric m);

// Config spellings ("rtt_p95", "series"); nullopt for any other text.
std::string_view to_string(AlertMetric m);
std::string_view to_string(AlertScope s);
std::optional<AlertMetric> alert_metric_from_string(std::string_view s);
std::optional<AlertScope> alert_scope_from_string(std::string_view s);
// "rtt_median, rtt_p95, ...": every metric, for messages.
std::string alert_metric_names();

// True for the metrics that say how a line carries packets (rtt_median,
// rtt_p95, jitter, loss, failures, ttft_p95): while the line is down its
// alerts on them are held back, the line-down alert speaks for them.
bool held_while_line_down(AlertMetric m);

// line for bandwidth_utilisation (only measured per line), series otherwise.
AlertScope default_scope(AlertMetric m);

// The threshold text of a config (above:, below:, clear:) in `m`'s base unit:
// a duration for the latencies and jitter ("3000ms"), a percentage for loss,
// availability and utilisation ("1%", 0..100 %), a whole number for failures.
// Failure: invalid_argument saying what the metric takes, e.g.
// `rtt_p95 takes a duration such as 3000ms, got "5%"`.
Result<double> parse_threshold(AlertMetric m, std::string_view text);

// A base-unit value for people: "3412 ms", "2.5 ms", "1.5%", "99.95%", "3".
std::string format_value(AlertMetric m, double value);
// The same value as a number in the config's unit: ms, percent, count.
double display_number(AlertMetric m, double value);

// What one alert is about: the fields of its scope, "" where the scope
// leaves one out (line scope: target and kind; target scope: line and kind).
struct AlertScopeKey {
  std::string line;
  std::string target;
  std::string kind;
  auto operator<=>(const AlertScopeKey&) const = default;
};

// The key of a result of `line`, `target`, `kind` in `scope`.
AlertScopeKey scope_key(AlertScope scope, const std::string& line, const std::string& target,
                        const std::string& kind);

// "cn2-bj-1", "openai", "cn2-bj-1:openai:http": the set fields, ':' between.
std::string to_string(const AlertScopeKey& key);

// The rule name of the alert raised while a line is down (see
// rules/alert_engine.h); no configured rule may take it.
inline constexpr std::string_view kLineDownRule = "line-down";

// The reference design's monitoring table, one rule each (docs/alerts.md):
//   latency       rtt_p95 above 3000ms, series, 5m window, clear 2500ms, for 1m, warning
//   loss          loss above 1%, line (icmp echoes), 5m, clear 0.5%, for 2m, warning
//   bandwidth     bandwidth_utilisation above 80%, line, 5m, clear 70%, for 5m, warning
//   availability  availability below 99.9%, line, 24h, clear 99.9%, for 0s, critical
std::vector<AlertRule> default_rules();

// The rules in force: the defaults when options.defaults (each replaced by
// the configured rule of the same name, in its place), then the other
// configured rules in file order.
std::vector<AlertRule> effective_rules(const AlertOptions& options);

// Checks one rule as a whole (the config loader checks the same per key, with
// positions): a name, a scope the metric has (bandwidth_utilisation: line,
// matched by line only), valid globs, a threshold in range, clear on the
// right side of it (at or below for above, at or above for below), a window
// above zero, a known severity and a summary whose placeholders exist for
// the scope. Failure: invalid_argument naming the rule and the key.
Status validate(const AlertRule& rule);

// "" when `severity` is critical, warning or info, else the message.
std::string check_severity(const std::string& severity);
// "" when `clear` is on the right side of the rule's threshold, else the
// message (with the values as people read them).
std::string check_clear(const AlertRule& rule, double clear);

}  // namespace linewatch

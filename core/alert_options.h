// Alert rules as the config gives them (`alerts:`), after defaults and
// validation. The logic that evaluates them is rules/alert_*.h; docs/alerts.md
// ("Rules") describes every key.
//
// Kept in core, like HealthOptions, so that Config can hold the rules without
// the rules module. Plain value types; no thread-safety concerns of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"

namespace linewatch {

// alerts.rules[].metric: what a rule watches. Each has one unit (see
// rules/alert_rules.h unit_of): durations for the latencies and jitter,
// fractions for loss, availability and utilisation, a count for failures.
enum class AlertMetric : std::uint8_t {
  rtt_median,    // median RTT of the window (each ICMP echo; TCP connect; HTTP total)
  rtt_p95,       // 95th percentile of the same samples
  jitter,        // mean |difference| of consecutive RTTs of one series
  loss,          // lost / sent: ICMP echoes, and TCP/HTTP rounds failed for a network reason
  availability,  // from the availability rollups (an injected source)
  bandwidth_utilisation,  // a line's traffic / its capacity, time-weighted over the window
  failures,               // failed rounds of any reason in the window
  ttft_p95,               // 95th percentile of LLM time to first token
};

// alerts.rules[].scope: what one alert is about.
enum class AlertScope : std::uint8_t {
  line,    // one per line, over every target and kind that passes `match`
  target,  // one per target, over every line and kind that passes `match`
  series,  // one per line × target × kind
};

// alerts.rules[].match: globs over the results a rule reads; "" = any.
// `*` any run of characters, `?` one character, `[a-z]` / `[!x]` a class.
struct AlertMatch {
  std::string line;
  std::string target;
  std::string kind;
  bool operator==(const AlertMatch&) const = default;
};

// One rule. Thresholds are in the metric's base unit: milliseconds for
// durations, fractions 0..1 for percentages, a count for failures.
struct AlertRule {
  std::string name;  // alerts.rules[].name; unique; names the alert everywhere
  AlertMetric metric = AlertMetric::rtt_p95;
  // Default: line for bandwidth_utilisation (measured per line), else series.
  AlertScope scope = AlertScope::series;
  AlertMatch match;
  // The sliding window the metric is computed over. Default: 5m.
  Duration window = std::chrono::minutes(5);
  // true: fires while the value is above `threshold` (`above:`); false: below (`below:`).
  bool above = true;
  double threshold = 0;
  // Hysteresis: a firing alert resolves once the value is no longer beyond
  // `clear` (at or below it for `above`). Default: the threshold itself.
  std::optional<double> clear;
  // How long the threshold must be broken before the alert fires. Default: 0s.
  Duration for_duration{};
  std::string severity = "warning";  // critical | warning | info
  // Template with {{line}} {{target}} {{kind}} {{value}} {{threshold}}
  // {{rule}} {{severity}}; "" = a default naming the metric and the scope.
  std::string summary;
  // Receiver ids; nullopt = every receiver, an empty list = none (events only).
  std::optional<std::vector<std::string>> notify;
  // While firing, the notification is sent again this often; 0 = never.
  // Default: 4h.
  Duration repeat = std::chrono::hours(4);
  bool operator==(const AlertRule&) const = default;
};

// alerts: the rules in force.
struct AlertOptions {
  // alerts.defaults: the reference design's four rules (rules/alert_rules.h
  // default_rules()); a rule of the same name in `rules` replaces one.
  bool defaults = true;
  std::vector<AlertRule> rules;  // alerts.rules, in file order
  bool operator==(const AlertOptions&) const = default;
};

}  // namespace linewatch

// AlertEngine: the alert rules, their windows and their state machines, fed
// with probe results, bandwidth readings and line health, evaluated at the
// caller's cadence (about once a second).
//
// Windows are shared: rules with the same source (rules/alert_window.h),
// scope and match read one AlertWindow per scope key, which keeps the
// samples once for the longest of their windows, and that key's state
// machines (rules/alert_state.h) sit beside it. A scope key appears with the
// first result that passes the rule's match, and goes once its window has
// been empty for its longest length and every state on it is inactive, so
// memory follows the series that report.
//
// Line down (set_line_down, from the failover health): while a line is down
//   - the alert "line-down" (kLineDownRule) fires for it at the next
//     evaluate(), severity critical, to every receiver, and resolves once the
//     line is up; it repeats every 4h while the line stays down;
//   - alerts of line and series scope on that line whose metric says how the
//     line carries packets (held_while_line_down: latencies, jitter, loss,
//     failures) are held: their machines run but send no notice, so one
//     alert speaks for the line instead of one per rule and target;
//   - when the line is back up, the samples of those metrics on that line are
//     dropped (they describe the outage, already told), so held alerts
//     resolve at the next evaluate(): silently when they fired while held,
//     with a resolved notice when their firing had been notified before.
// Target-scope alerts are not held: a target's view across lines includes
// the down line, as it should when every line fails towards it.
//
// Not thread-safe: single-threaded, owned by one thread (the decision
// thread); the API reads what active() returns, published by that thread.
// Cost: observe() O(window groups) plus the samples it adds; evaluate()
// O(rules × scope keys) plus the windows that changed since the last call
// (rules/alert_window.h); the availability source is asked once per
// availability rule and scope key per evaluate().
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/alert_options.h"
#include "core/error.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "rules/alert_rules.h"
#include "rules/alert_state.h"
#include "rules/alert_window.h"
#include "rules/bandwidth.h"
#include "rules/compact_scope_key.h"

namespace linewatch {

// Where availability comes from (the storage rollups, later). Called on the
// engine's thread from evaluate(): answer from memory, never block on I/O.
class AvailabilitySource {
 public:
  virtual ~AvailabilitySource() = default;
  // The share of `key` that was available over the `window` ending at `now`,
  // 0..1; nullopt when unknown (no data: the alert is not judged). Fields of
  // `key` that are "" mean all: a line key covers every target of the line.
  virtual std::optional<double> availability(const AlertScopeKey& key, Duration window,
                                             MonoTime now) = 0;
};

struct AlertEngineOptions {
  std::string agent = "linewatch";     // agent.id, the first part of notice ids
  std::vector<std::string> receivers;  // every notify[].id in config order: "all" for rules
  std::size_t max_samples = AlertWindow::kMaxSamples;  // per window and scope key
};

// One alert that is pending or firing, for the CLI and the API.
struct ActiveAlert {
  std::string rule;
  AlertMetric metric = AlertMetric::rtt_p95;
  std::string severity;
  AlertScopeKey key;
  AlertStatus status = AlertStatus::pending;
  bool held = false;  // its line is down: no notice goes out
  MonoTime since{};   // when the threshold began to be broken
  WallTime since_wall{};
  std::optional<double> value;      // base unit, as of the last evaluate()
  std::string value_text;           // "3412 ms"; "" for line-down
  std::optional<double> threshold;  // base unit; nullopt for line-down
  std::string threshold_text;       // "3000 ms"; "" for line-down
  std::string summary;              // the rule's summary, rendered as a notice would be
};

class AlertEngine {
 public:
  // Compiles `rules` (rules/alert_rules.h effective_rules gives the rules in
  // force). `availability` answers availability rules; null = they never
  // have a value. It must outlive the engine. Failure: invalid_argument for
  // an invalid rule, a duplicate rule name or a notify id not in
  // options.receivers.
  static Result<AlertEngine> create(const std::vector<AlertRule>& rules,
                                    AlertEngineOptions options = {},
                                    AvailabilitySource* availability = nullptr);

  // One probe round, received at `at` (monotonic). Feeds every window whose
  // match it passes.
  void observe(const AlertRound& round, MonoTime at);
  void observe(const ProbeResult& round, MonoTime at) { observe(AlertRound(round), at); }
  // One LLM round's time to first token through `line` towards `target`
  // (kind "llm"), received at `at`.
  void observe_ttft(const std::string& line, const std::string& target, Duration ttft, MonoTime at);
  // One reading of the line's bandwidth meter; only measuring readings with a
  // utilisation count (rules/bandwidth.h).
  void observe_bandwidth(const std::string& line, const BandwidthReading& reading);
  // One interval of `utilisation` (max(rx, tx) / capacity) ending at `at`.
  void observe_bandwidth(const std::string& line, double utilisation, Duration interval,
                         MonoTime at);

  // The failover health's verdict on `line` (down: LineState::down). Takes
  // effect at the next evaluate(); back up, it drops the line's held samples.
  void set_line_down(const std::string& line, bool down);

  // Runs every state machine at `now` / `wall`. Returns what happened, the
  // line-down alerts first, then by rule group and scope key.
  std::vector<AlertTransition> evaluate(MonoTime now, WallTime wall);

  // Alerts pending or firing as of the last evaluate(), sorted by rule then key.
  std::vector<ActiveAlert> active() const;

  // Takes over `old`'s state after a config reload, so that no alert starts
  // over: for every rule of this engine that `old` had (by name) and every
  // scope key `old` held for it, the state machine (pending or firing, its
  // start times, whether and when it notified, its episode) and the window's
  // samples (re-cut to this engine's windows); the lines down and the
  // line-down alerts; the series numbering of the jitter. Keys of groups this
  // engine no longer has, and states of rules it no longer has, are dropped
  // without a transition (their rule is gone). Call on a fresh engine, before
  // its first observe().
  void adopt(AlertEngine&& old);

  std::size_t rule_count() const { return rules_.size(); }
  // Scope keys held over all window groups (for tests and benchmarks).
  std::size_t scope_count() const;
  // Heap bytes the windows' samples take over all scope keys
  // (AlertWindow::sample_bytes; for tests and benchmarks).
  std::size_t sample_bytes() const;

 private:
  // The state machines of one scope key, index-aligned with Group::rules:
  // the first inline (most groups have one rule), the rest on the heap.
  class States {
   public:
    explicit States(std::size_t n)
        : rest_(n > 1 ? std::make_unique<AlertState[]>(n - 1) : nullptr) {}
    AlertState& operator[](std::size_t i) { return i == 0 ? first_ : rest_[i - 1]; }
    const AlertState& operator[](std::size_t i) const { return i == 0 ? first_ : rest_[i - 1]; }

   private:
    AlertState first_;
    std::unique_ptr<AlertState[]> rest_;
  };
  struct Entry {
    AlertWindow window;
    States states;
    MonoTime last_seen{};
  };
  // Rules that read the same samples: one source, scope and match.
  struct Group {
    AlertSource source;
    AlertScope scope;
    AlertMatch match;
    std::vector<Duration> lengths;       // the rules' windows, each once
    Duration longest{};                  // of lengths
    std::vector<std::size_t> rules;      // into rules_
    std::vector<std::size_t> length_of;  // per rule of `rules`: its index in lengths
    std::map<CompactScopeKey, Entry, CompactScopeKey::Less> entries;
  };

  AlertEngine(AlertEngineOptions options, AvailabilitySource* availability);
  Entry& entry(Group& g, const AlertScopeKey& key, MonoTime at);
  std::uint32_t series_id(const std::string& line, const std::string& target,
                          const std::string& kind);
  static std::uint32_t window_series(const Group& g, std::uint32_t series);
  void evaluate_group(Group& g, MonoTime now, WallTime wall, std::vector<AlertTransition>& out);
  void evaluate_line_down(MonoTime now, WallTime wall, std::vector<AlertTransition>& out);
  ActiveAlert describe(const CompiledAlertRule& rule, const AlertScopeKey& key,
                       const AlertState& state) const;

  AlertEngineOptions options_;
  AvailabilitySource* availability_;
  std::vector<CompiledAlertRule> rules_;
  std::vector<Group> groups_;
  // Line × target × kind, for the jitter of windows that hold more than one
  // series; empty while no group has such windows (series_by_id_ false).
  std::map<AlertScopeKey, std::uint32_t> series_ids_;
  bool series_by_id_ = false;
  std::set<std::string, std::less<>> down_;  // lines down now
  CompiledAlertRule line_down_rule_;
  std::map<std::string, AlertState> line_down_;  // per line ever reported down
};

}  // namespace linewatch

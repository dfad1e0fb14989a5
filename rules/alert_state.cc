#include "rules/alert_state.h"

#include <algorithm>

#include "core/units.h"

namespace linewatch {

std::string_view to_string(AlertStatus s) {
  switch (s) {
    case AlertStatus::inactive:
      return "inactive";
    case AlertStatus::pending:
      return "pending";
    case AlertStatus::firing:
      return "firing";
  }
  return "inactive";
}

Result<CompiledAlertRule> CompiledAlertRule::compile(AlertRule rule,
                                                     const std::vector<std::string>& receivers,
                                                     std::string agent) {
  if (Status st = validate(rule); !st) return st.error();
  const std::string text = rule.summary.empty() ? default_summary(rule) : rule.summary;
  auto summary = SummaryTemplate::compile(text, rule.scope);
  if (!summary) return invalid("rule \"" + rule.name + "\": summary: " + summary.error().message);
  std::vector<std::string> to = rule.notify.value_or(receivers);
  for (const std::string& id : to) {
    if (std::find(receivers.begin(), receivers.end(), id) == receivers.end())
      return invalid("rule \"" + rule.name + "\": notify: unknown receiver \"" + id + "\"");
  }
  CompiledAlertRule out{
      std::move(rule), std::move(*summary), std::move(to), std::move(agent), "", true};
  return out;
}

bool AlertState::breaks(const AlertRule& r, double v) const {
  return r.above ? v > r.threshold : v < r.threshold;
}

bool AlertState::beyond_clear(const AlertRule& r, double v) const {
  const double clear = r.clear.value_or(r.threshold);
  return r.above ? v > clear : v < clear;
}

// "rtt_p95 3412 ms above 3000 ms", "rtt_p95: no data".
std::string AlertState::figures(const CompiledAlertRule& c) const {
  const AlertRule& r = c.rule;
  const std::string metric(to_string(r.metric));
  if (!c.show_value) return "";
  if (!value_) return metric + ": no data in the " + format_duration(r.window) + " window";
  const bool beyond = breaks(r, *value_);
  return metric + " " + format_value(r.metric, *value_) + " " +
         (beyond ? (r.above ? "above " : "below ") : (r.above ? "at or below " : "at or above ")) +
         format_value(r.metric, r.threshold);
}

AlertNotice AlertState::notice(const CompiledAlertRule& c, const AlertScopeKey& key, WallTime wall,
                               bool resolved) const {
  const AlertRule& r = c.rule;
  AlertNotice n;
  const std::string tag = resolved        ? "resolved"
                          : repeats_ == 0 ? "firing"
                                          : "repeat-" + std::to_string(repeats_);
  n.id = c.agent + "/" + r.name + "/" + to_string(key) + "/" +
         std::to_string(unix_ms(since_wall_)) + "-" + std::to_string(episode_) + "/" + tag;
  n.rule = r.name;
  n.resolved = resolved;
  n.repeat = resolved ? 0 : repeats_;
  n.severity = r.severity;
  if (!key.line.empty()) n.labels["line"] = key.line;
  if (!key.target.empty()) n.labels["target"] = key.target;
  if (!key.kind.empty()) n.labels["kind"] = key.kind;
  n.labels["rule"] = r.name;
  n.labels["severity"] = r.severity;
  if (c.show_value) {
    n.value_text = value_ ? format_value(r.metric, *value_) : "no data";
    if (value_) n.value = display_number(r.metric, *value_);
    n.threshold_text = format_value(r.metric, r.threshold);
    n.threshold = display_number(r.metric, r.threshold);
  }
  n.summary = c.summary.render(SummaryValues{key.line, key.target, key.kind, n.value_text,
                                             n.threshold_text, r.name, r.severity});
  n.starts_at = since_wall_;
  if (resolved) n.ends_at = wall;
  n.receivers = c.receivers;
  return n;
}

void AlertState::emit(const CompiledAlertRule& c, const AlertScopeKey& key, WallTime wall,
                      std::string kind, std::string reason, std::string detail,
                      std::vector<AlertTransition>& out) const {
  Event e;
  e.time = wall;
  e.kind = std::move(kind);
  e.line = key.line;
  e.target = key.target;
  e.reason = std::move(reason);
  e.detail = c.rule.name + " " + to_string(key) + (detail.empty() ? "" : ": " + detail);
  out.push_back({std::move(e), std::nullopt});
}

void AlertState::step(const CompiledAlertRule& c, const AlertScopeKey& key, const AlertInput& in,
                      MonoTime now, WallTime wall, std::vector<AlertTransition>& out) {
  const AlertRule& r = c.rule;
  const AlertStatus before = status_;
  const bool was_held = held_;
  value_ = in.value;
  held_ = in.held;
  const bool breaking = in.value && breaks(r, *in.value);
  const std::string breach =
      c.breach_reason.empty() ? std::string(to_string(r.metric)) : c.breach_reason;
  const std::string held_note = held_ ? " (held: line " + key.line + " is down)" : "";
  auto announce = [&](bool resolved) {
    if (!resolved) notified_ = true, last_notice_ = now;
    if (!c.receivers.empty()) out.back().notice = notice(c, key, wall, resolved);
  };

  if (status_ == AlertStatus::inactive && breaking) {
    status_ = AlertStatus::pending;
    since_ = now, since_wall_ = wall, ++episode_, notified_ = false, repeats_ = 0;
    if (r.for_duration > Duration::zero())
      emit(c, key, wall, "alert_pending", breach,
           figures(c) + ", firing after " + format_duration(r.for_duration) + held_note, out);
  } else if (status_ == AlertStatus::pending && !breaking) {
    status_ = AlertStatus::inactive;
    emit(c, key, wall, "alert_inactive", "cleared",
         figures(c) + " before " + format_duration(r.for_duration), out);
    return;
  }

  if (status_ == AlertStatus::pending && now - since_ >= r.for_duration) {
    status_ = AlertStatus::firing;
    emit(c, key, wall, "alert_firing", breach,
         figures(c) +
             (r.for_duration > Duration::zero() ? " for " + format_duration(r.for_duration)
                                                : std::string()) +
             held_note,
         out);
    if (!held_) announce(false);
  } else if (status_ == AlertStatus::firing && before == AlertStatus::firing) {
    if (!value_ || !beyond_clear(r, *value_)) {
      status_ = AlertStatus::inactive;
      const bool was_notified = notified_;
      notified_ = false;
      std::string why = figures(c);
      if (value_ && r.clear && c.show_value)
        why += " (clear " + format_value(r.metric, *r.clear) + ")";
      emit(c, key, wall, "alert_resolved", value_ ? "cleared" : "no_data", why, out);
      if (was_notified && !c.receivers.empty()) out.back().notice = notice(c, key, wall, true);
      return;
    }
    if (!held_ && !was_held && notified_ && r.repeat > Duration::zero() &&
        now - last_notice_ >= r.repeat) {
      ++repeats_;
      emit(c, key, wall, "alert_repeat", "repeat_interval",
           figures(c) + ", firing since " + format_duration(now - since_) + " (repeat " +
               std::to_string(repeats_) + ")",
           out);
      announce(false);
    }
  }

  // An alert born held says so in its first event; later flips get their own.
  if (before == AlertStatus::inactive || status_ == AlertStatus::inactive || held_ == was_held)
    return;
  if (held_) {
    emit(c, key, wall, "alert_held", "line_down", "held back while line " + key.line + " is down",
         out);
    return;
  }
  emit(c, key, wall, "alert_released", "line_up", "line " + key.line + " is up again", out);
  if (status_ == AlertStatus::firing && !notified_) announce(false);
}

}  // namespace linewatch

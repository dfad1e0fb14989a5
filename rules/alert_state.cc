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
  std::optional<SummaryTemplate> resolved;
  if (rule.summary.empty()) {
    auto r = SummaryTemplate::compile(default_summary(rule, true), rule.scope);
    if (!r) return invalid("rule \"" + rule.name + "\": summary: " + r.error().message);
    resolved = std::move(*r);
  }
  CompiledAlertRule out{
      std::move(rule),    std::move(*summary), std::move(to), std::move(agent), "", true,
      std::move(resolved)};
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
  if (!c.show_value) return value() && *value() > 0 ? "down" : "up";
  if (!value()) return metric + ": no data in the " + format_duration(r.window) + " window";
  const bool beyond = breaks(r, *value());
  return metric + " " + format_value(r.metric, *value()) + " " +
         (beyond ? (r.above ? "above " : "below ") : (r.above ? "at or below " : "at or above ")) +
         format_value(r.metric, r.threshold);
}

AlertNotice AlertState::notice(const CompiledAlertRule& c, const AlertScopeKey& key, WallTime wall,
                               bool resolved) const {
  const AlertRule& r = c.rule;
  AlertNotice n;
  const std::string tag = resolved            ? "resolved"
                          : ep_->repeats == 0 ? "firing"
                                              : "repeat-" + std::to_string(ep_->repeats);
  n.id = c.agent + "/" + r.name + "/" + to_string(key) + "/" +
         std::to_string(unix_ms(ep_->since_wall)) + "-" + std::to_string(episode_) + "/" + tag;
  n.rule = r.name;
  n.resolved = resolved;
  n.repeat = resolved ? 0 : ep_->repeats;
  n.severity = r.severity;
  if (!key.line.empty()) n.labels["line"] = key.line;
  if (!key.target.empty()) n.labels["target"] = key.target;
  if (!key.kind.empty()) n.labels["kind"] = key.kind;
  n.labels["rule"] = r.name;
  n.labels["severity"] = r.severity;
  if (c.show_value) {
    n.value_text = value() ? format_value(r.metric, *value()) : "no data";
    if (value()) n.value = display_number(r.metric, *value());
    n.threshold_text = format_value(r.metric, r.threshold);
    n.threshold = display_number(r.metric, r.threshold);
  }
  const SummaryTemplate& text = resolved && c.resolved_summary ? *c.resolved_summary : c.summary;
  n.summary = text.render(SummaryValues{key.line, key.target, key.kind, n.value_text,
                                        n.threshold_text, r.name, r.severity});
  n.starts_at = ep_->since_wall;
  if (resolved) n.ends_at = wall;
  n.receivers = c.receivers;
  return n;
}

void AlertState::emit(const Step& s, std::string kind, std::string reason,
                      std::string detail) const {
  Event e;
  e.time = s.wall;
  e.kind = std::move(kind);
  e.line = s.key.line;
  e.target = s.key.target;
  e.reason = std::move(reason);
  e.detail = s.rule.rule.name + " " + to_string(s.key) + (detail.empty() ? "" : ": " + detail);
  s.out.push_back({std::move(e), std::nullopt});
}

std::string AlertState::breach_reason(const CompiledAlertRule& c) {
  return c.breach_reason.empty() ? std::string(to_string(c.rule.metric)) : c.breach_reason;
}

std::string AlertState::held_note(const AlertScopeKey& key) const {
  return held_ ? " (held: line " + key.line + " is down)" : "";
}

AlertState::AlertState(const AlertState& other)
    : value_(other.value_),
      ep_(other.ep_ ? std::make_unique<Episode>(*other.ep_) : nullptr),
      episode_(other.episode_),
      status_(other.status_),
      held_(other.held_),
      notified_(other.notified_),
      has_value_(other.has_value_) {}

AlertState& AlertState::operator=(const AlertState& other) {
  if (this != &other) *this = AlertState(other);
  return *this;
}

void AlertState::step(const CompiledAlertRule& c, const AlertScopeKey& key, const AlertInput& in,
                      MonoTime now, WallTime wall, std::vector<AlertTransition>& out) {
  const Step s{c, key, now, wall, out, status_, held_};
  has_value_ = in.value.has_value();
  value_ = in.value.value_or(0);
  held_ = in.held;
  const bool breaking = in.value && breaks(c.rule, *in.value);
  if (status_ == AlertStatus::inactive) {
    if (!breaking) return;
    begin(s);
  } else if (status_ == AlertStatus::pending && !breaking) {
    status_ = AlertStatus::inactive;
    emit(s, "alert_inactive", "cleared",
         figures(c) + " before " + format_duration(c.rule.for_duration));
    return;
  }
  if (status_ == AlertStatus::pending) {
    if (now - ep_->since >= c.rule.for_duration) fire(s);
  } else if (s.before == AlertStatus::firing) {
    if (!value() || !beyond_clear(c.rule, *value())) return resolve(s);
    if (!held_ && !s.was_held && notified_ && c.rule.repeat > Duration::zero() &&
        now - ep_->last_notice >= c.rule.repeat)
      repeat(s);
  }
  // An alert born held says so in its first event; later flips get their own.
  if (s.before != AlertStatus::inactive && held_ != s.was_held) held_changed(s);
}

void AlertState::begin(const Step& s) {
  status_ = AlertStatus::pending;
  if (!ep_) ep_ = std::make_unique<Episode>();
  ep_->since = s.now, ep_->since_wall = s.wall, ++episode_, notified_ = false, ep_->repeats = 0;
  if (s.rule.rule.for_duration > Duration::zero())
    emit(s, "alert_pending", breach_reason(s.rule),
         figures(s.rule) + ", firing after " + format_duration(s.rule.rule.for_duration) +
             held_note(s.key));
}

void AlertState::fire(const Step& s) {
  const Duration for_duration = s.rule.rule.for_duration;
  status_ = AlertStatus::firing;
  emit(s, "alert_firing", breach_reason(s.rule),
       figures(s.rule) +
           (for_duration > Duration::zero() ? " for " + format_duration(for_duration) : "") +
           held_note(s.key));
  if (!held_) announce(s);
}

void AlertState::resolve(const Step& s) {
  const AlertRule& r = s.rule.rule;
  status_ = AlertStatus::inactive;
  std::string why = figures(s.rule);
  if (value() && r.clear && s.rule.show_value)
    why += " (clear " + format_value(r.metric, *r.clear) + ")";
  emit(s, "alert_resolved", value() ? "cleared" : "no_data", why);
  if (notified_ && !s.rule.receivers.empty())
    s.out.back().notice = notice(s.rule, s.key, s.wall, true);
  notified_ = false;
}

void AlertState::repeat(const Step& s) {
  ++ep_->repeats;
  emit(s, "alert_repeat", "repeat_interval",
       figures(s.rule) + ", firing since " + format_duration(s.now - ep_->since) + " (repeat " +
           std::to_string(ep_->repeats) + ")");
  announce(s);
}

void AlertState::held_changed(const Step& s) {
  if (held_) {
    emit(s, "alert_held", "line_down", "held back while line " + s.key.line + " is down");
    return;
  }
  emit(s, "alert_released", "line_up", "line " + s.key.line + " is up again");
  if (status_ == AlertStatus::firing && !notified_) announce(s);
}

// A firing notice on the event just emitted.
void AlertState::announce(const Step& s) {
  notified_ = true;
  ep_->last_notice = s.now;
  if (!s.rule.receivers.empty()) s.out.back().notice = notice(s.rule, s.key, s.wall, false);
}

}  // namespace linewatch

// AlertState: the state of one rule for one scope key, and the one function
// that moves it. Every transition is an Event; the ones people must hear of
// also carry an AlertNotice for the notifier outbox.
//
// States:
//   inactive  the threshold holds (or there is no value)
//   pending   the threshold is broken, for less than the rule's `for` so far
//   firing    it stayed broken for `for`; stays so until the value is back
//             within `clear` (hysteresis), or has no value
// Held: the rule's line is down (rules/alert_engine.h): the machine moves as
// usual but sends no notice; a firing alert is notified once it is no longer
// held, and its resolution is notified only when its firing was.
//
// Events (Event::time = the step's wall time; Event::reason a code):
//   alert_pending   inactive -> pending       reason: the metric ("rtt_p95")
//   alert_firing    pending -> firing         reason: the metric      notice: firing
//                   (`for` 0: straight from inactive, without alert_pending)
//   alert_inactive  pending -> inactive       reason "cleared"        (no notice: it never fired)
//   alert_resolved  firing -> inactive        reason "cleared"        notice: resolved, if notified
//                                             reason "no_data" when the window emptied
//   alert_repeat    still firing, `repeat` since the last notice      notice: firing again
//   alert_held      pending/firing, the line went down   reason "line_down"
//   alert_released  pending/firing, held no more         reason "line_up"
//                                             notice: firing, if firing and not yet notified
// Notice ids are idempotency keys, one per notice and the same on every
// delivery attempt: "AGENT/RULE/SCOPE/STARTMS-EPISODE/TAG" with TAG firing,
// repeat-N or resolved; STARTMS is the wall time the episode began (unique
// across restarts), EPISODE counts this machine's episodes (unique within a
// millisecond).
//
// Not thread-safe: owned by the alert engine's thread. Cost: step() O(1) plus
// the text of what it emits.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/alert_options.h"
#include "core/event.h"
#include "core/time.h"
#include "rules/alert_rules.h"
#include "rules/alert_text.h"

namespace linewatch {

enum class AlertStatus : std::uint8_t { inactive, pending, firing };
std::string_view to_string(AlertStatus s);  // "inactive", "pending", "firing"

// A rule made ready to run: its summary compiled, its receivers resolved.
struct CompiledAlertRule {
  AlertRule rule;
  SummaryTemplate summary;
  std::vector<std::string> receivers;  // the ids notices go to, in config order
  std::string agent;                   // agent.id, the first part of notice ids
  // Events' reason when the threshold breaks; "" = the metric's name.
  std::string breach_reason;
  // Whether notices show the value and threshold (the line-down alert has none).
  bool show_value = true;
  // Resolved notices' summary when the rule gives none (default_summary's
  // resolved wording); absent: `summary` serves both.
  std::optional<SummaryTemplate> resolved_summary;

  // Checks `rule` (rules/alert_rules.h validate) and resolves its notify ids
  // against `receivers` (nullopt notify = all of them). Failure:
  // invalid_argument naming the rule and the problem, or an unknown receiver.
  static Result<CompiledAlertRule> compile(AlertRule rule,
                                           const std::vector<std::string>& receivers,
                                           std::string agent);
};

// What one step knows.
struct AlertInput {
  std::optional<double> value;  // the metric over the window, base unit; nullopt = no data
  bool held = false;            // the scope's line is down (held_while_line_down metrics)
};

// A notification to send: exporters/notify.h's Notification without the
// agent (the outbox adds it) and with the receivers it goes to.
struct AlertNotice {
  std::string id;  // idempotency key (see above)
  std::string rule;
  bool resolved = false;  // false: firing (the first notice or a repeat)
  int repeat = 0;         // 0: the first firing notice of the episode; N: its N-th repeat
  std::string severity;
  std::string summary;
  std::map<std::string, std::string> labels;  // line, target, kind (those set), rule, severity
  std::string value_text;                     // "3412 ms"; "no data" when the value is gone
  std::optional<double> value;                // the same in the config's unit (ms, %, count)
  std::string threshold_text;                 // "3000 ms"
  std::optional<double> threshold;
  WallTime starts_at{};             // when the threshold began to be broken (pending began)
  std::optional<WallTime> ends_at;  // resolved: when it resolved
  std::vector<std::string> receivers;
};

struct AlertTransition {
  Event event;
  std::optional<AlertNotice> notice;
};

class AlertState {
 public:
  AlertState() = default;
  AlertState(const AlertState& other);
  AlertState& operator=(const AlertState& other);
  AlertState(AlertState&&) noexcept = default;
  AlertState& operator=(AlertState&&) noexcept = default;

  // One evaluation at `now` / `wall`, for `key` of `rule`; appends what
  // happened to `out`. `now` must not go back between calls.
  void step(const CompiledAlertRule& rule, const AlertScopeKey& key, const AlertInput& in,
            MonoTime now, WallTime wall, std::vector<AlertTransition>& out);

  AlertStatus status() const { return status_; }
  bool held() const { return held_; }
  bool notified() const { return notified_; }  // a firing notice went out this episode
  // When the episode began (pending began), meaningful unless inactive.
  MonoTime since() const { return ep_ ? ep_->since : MonoTime{}; }
  WallTime since_wall() const { return ep_ ? ep_->since_wall : WallTime{}; }
  std::optional<double> value() const {  // of the last step
    return has_value_ ? std::optional<double>(value_) : std::nullopt;
  }

 private:
  // One step's fixed inputs, for the helpers of step().
  struct Step {
    const CompiledAlertRule& rule;
    const AlertScopeKey& key;
    MonoTime now;
    WallTime wall;
    std::vector<AlertTransition>& out;
    AlertStatus before;  // the status the step began in
    bool was_held;       // held before the step
  };

  void begin(const Step& s);
  void fire(const Step& s);
  void resolve(const Step& s);
  void repeat(const Step& s);
  void held_changed(const Step& s);
  void announce(const Step& s);
  void emit(const Step& s, std::string kind, std::string reason, std::string detail) const;
  bool breaks(const AlertRule& r, double v) const;
  bool beyond_clear(const AlertRule& r, double v) const;
  static std::string breach_reason(const CompiledAlertRule& rule);
  std::string held_note(const AlertScopeKey& key) const;
  AlertNotice notice(const CompiledAlertRule& rule, const AlertScopeKey& key, WallTime wall,
                     bool resolved) const;
  std::string figures(const CompiledAlertRule& rule) const;

  // What an episode keeps, on the heap from this machine's first episode
  // on: most machines never leave inactive, and one per rule and scope key
  // (thousands) stays 24 bytes.
  struct Episode {
    MonoTime since{};
    WallTime since_wall{};
    MonoTime last_notice{};  // the last firing notice, for `repeat`
    int repeats = 0;
  };

  double value_ = 0;  // the last step's, when has_value_
  std::unique_ptr<Episode> ep_;
  std::uint32_t episode_ = 0;
  AlertStatus status_ = AlertStatus::inactive;
  bool held_ = false;
  bool notified_ = false;
  bool has_value_ = false;
};

}  // namespace linewatch

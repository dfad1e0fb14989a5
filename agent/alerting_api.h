// The alerts as the HTTP API shows them (docs/api.md):
//   GET /api/v1/alerts          the alerts pending or firing now
//   GET /api/v1/alerts/history  the stored alert_* events, newest first
// Field names are the API's contract, read back by `linewatch alerts`.
//
// Pure functions over copies; thread-safe.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/alerting.h"
#include "core/error.h"
#include "core/event.h"
#include "storage/store.h"

namespace linewatch {

// Every kind of event an alert state machine emits (rules/alert_state.h), in
// the order of an episode's life: the tie-break of events stamped in the same
// millisecond (the later in this list is the later decided).
inline constexpr std::array<std::string_view, 7> kAlertEventKinds = {
    "alert_pending", "alert_held",     "alert_released", "alert_firing",
    "alert_repeat",  "alert_inactive", "alert_resolved"};
bool is_alert_event_kind(std::string_view kind);

// {"agent","now","evaluated":time|null,"alerts":[{rule, state, held, scope,
// key, since, value, threshold, severity, summary}]}; value and threshold are
// {"text","number"} (the number in the metric's unit: ms, percent, count) or
// null for the line-down alert.
std::string alerts_document(const AlertsView& view, const std::string& agent, WallTime now);

using EventReader = std::function<Result<std::vector<Event>>(const EventQuery&)>;

// The alert events matching `q` (since, line, limit; kind when set must be
// one of kAlertEventKinds), newest first, at most q.limit: one read per kind,
// merged. Failure: the first read's error.
Result<std::vector<Event>> alert_history(const EventQuery& q, const EventReader& read);

}  // namespace linewatch

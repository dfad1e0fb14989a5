// The alerts as the HTTP API shows them (docs/api.md):
//   GET /api/v1/alerts          the alerts pending or firing now, and the
//                               notifier outbox per receiver
//   GET /api/v1/alerts/history  the stored alert_* events, newest first
// Field names are the API's contract, read back by `linewatch alerts`.
//
// Pure functions over copies; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/alerting.h"
#include "core/error.h"
#include "core/event.h"
#include "exporters/notify_outbox.h"
#include "storage/outbox.h"
#include "storage/store.h"

namespace linewatch {

// Every kind of event an alert state machine emits (rules/alert_state.h), in
// the order of an episode's life: the tie-break of events stamped in the same
// millisecond (the later in this list is the later decided).
inline constexpr std::array<std::string_view, 7> kAlertEventKinds = {
    "alert_pending", "alert_held",     "alert_released", "alert_firing",
    "alert_repeat",  "alert_inactive", "alert_resolved"};
bool is_alert_event_kind(std::string_view kind);

// One receiver's notifications as /api/v1/alerts shows them: its sender's
// counters (exporters/notify_outbox.h ReceiverStatus) and its queue in the
// outbox (storage/outbox.h OutboxReceiverSummary).
struct OutboxReceiverView {
  std::string id;                    // notify[].id
  std::optional<NotifierKind> kind;  // nullopt: rows of a receiver no longer in notify:
  std::int64_t pending = 0;          // notifications waiting to be sent
  std::int64_t parked = 0;           // refused for good, kept until retried
  bool failing = false;              // its last attempt failed and will be retried
  std::uint64_t delivered = 0;       // taken since the agent started
  std::optional<WallTime> oldest;    // when the oldest pending one was raised
  std::optional<WallTime> last_attempt;
  std::string last_reason;  // "ok", "http_5xx", "refused", ...; "" before any attempt
  std::string last_error;   // "" when none; never a URL's path or query
};

// The outbox for the API; `error` is set (and the counts are the sender's
// only) when the outbox could not be read.
struct OutboxView {
  std::vector<OutboxReceiverView> receivers;
  std::string error;
};

// Merges the sender's receivers (in config order) with the outbox's queues;
// queues of receivers no longer configured come after them. A last error is
// the sender's latest, else the one stored with the receiver's oldest
// pending notification (it outlives a restart), with URLs cut to
// scheme://host:port.
OutboxView outbox_view(const std::vector<ReceiverStatus>& senders,
                       const Result<std::vector<OutboxReceiverSummary>>& queues);

// `text` with every URL in it cut to scheme://host:port: a chat robot's URL
// holds its token in the path or query. Delivery details never hold one;
// this keeps it so for any text that reaches the API.
std::string without_url_paths(std::string_view text);

// {"agent","now","evaluated":time|null,"alerts":[{rule, state, held, scope,
// key, since, value, threshold, severity, summary}],"outbox":...}; value and
// threshold are {"text","number"} (the number in the metric's unit: ms,
// percent, count) or null for the line-down alert. outbox is null without
// receivers, else {"error":text|null,"receivers":[{id, kind, pending, parked,
// failing, delivered, oldest, last_attempt, last_reason, last_error}]}.
std::string alerts_document(const AlertsView& view, const std::string& agent, WallTime now,
                            const std::optional<OutboxView>& outbox = std::nullopt);

using EventReader = std::function<Result<std::vector<Event>>(const EventQuery&)>;

// The alert events matching `q` (since, line, limit; kind when set must be
// one of kAlertEventKinds), newest first, at most q.limit: one read per kind,
// merged. Failure: the first read's error.
Result<std::vector<Event>> alert_history(const EventQuery& q, const EventReader& read);

}  // namespace linewatch

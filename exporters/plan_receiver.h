// PlanReceiver: one way of handing a route plan to one gateway (a signed
// HTTP POST, or a local program), as used by PlanPusher
// (exporters/plan_pusher.h). A receiver makes single attempts; retrying,
// back-off and events are the pusher's.
//
// Thread-safety: one receiver is used by one pusher thread at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "core/time.h"
#include "rules/plan.h"

namespace linewatch {

// What one attempt came to.
struct DeliveryOutcome {
  enum class Kind {
    applied,    // the gateway has this plan (or a newer one) in force
    transient,  // worth retrying soon: network error, 5xx, timeout, failed program
    rejected,   // the gateway refused this plan (4xx): retrying at once will not help
    cancelled,  // the attempt was stopped because the pusher is stopping
  };
  Kind kind = Kind::transient;
  // Stable code: "applied", "refused", "timeout", "dns", "tls", "network",
  // "http_3xx", "http_4xx", "http_5xx", "behind", "exec_start", "exec_exit",
  // "exec_timeout", "cancelled".
  std::string reason;
  // Operator text with the figures (status, gateway's reason code, exit code,
  // first output). Never holds a gateway secret.
  std::string detail;
  // The version the gateway says is in force, when it said so.
  std::optional<std::uint64_t> applied_version;
  int status = 0;   // HTTP status of the answer; 0 when there was none
  Duration took{};  // from the start of the attempt to its outcome
};

// `text` (a gateway's answer, a program's output) made fit for an event
// detail: control characters and runs of blanks become one space, the ends are
// trimmed, and it is cut to `max` bytes (at a UTF-8 boundary) with "..." added.
std::string excerpt(std::string_view text, std::size_t max);

// A duration for operator text: "0.4 ms", "12 ms", "30 s".
std::string duration_text(Duration d);

class PlanReceiver {
 public:
  virtual ~PlanReceiver() = default;
  // One attempt to put `plan` in force. Returns within the gateway's timeout
  // (plus, for a program, the kill grace); never throws. When `stop` is
  // requested a receiver may end the attempt early with Kind::cancelled.
  virtual DeliveryOutcome deliver(const RoutePlan& plan, std::stop_token stop) = 0;
};

}  // namespace linewatch

#include "agent/alerting_api.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <sstream>

#include "agent/json.h"
#include "rules/alert_rules.h"

namespace linewatch {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr object() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

// {"text","number"} of a base-unit value, or null when the alert shows none.
Poco::Dynamic::Var figure(AlertMetric metric, const std::string& text,
                          const std::optional<double>& base) {
  if (text.empty()) return Poco::Dynamic::Var();
  Object::Ptr o = object();
  o->set("text", text);
  o->set("number", base ? Poco::Dynamic::Var(display_number(metric, *base)) : Poco::Dynamic::Var());
  return o;
}

Object::Ptr alert_to_json(const ActiveAlert& a) {
  Object::Ptr o = object();
  o->set("rule", a.rule);
  o->set("state", std::string(to_string(a.status)));
  o->set("held", a.held);
  Object::Ptr scope = object();
  if (!a.key.line.empty()) scope->set("line", a.key.line);
  if (!a.key.target.empty()) scope->set("target", a.key.target);
  if (!a.key.kind.empty()) scope->set("kind", a.key.kind);
  o->set("scope", scope);
  o->set("key", to_string(a.key));
  o->set("since", format_time(a.since_wall));
  o->set("value", figure(a.metric, a.value_text, a.value));
  o->set("threshold", figure(a.metric, a.threshold_text, a.threshold));
  o->set("severity", a.severity);
  o->set("summary", a.summary);
  return o;
}

Poco::Dynamic::Var time_or_null(const std::optional<WallTime>& t) {
  return t ? Poco::Dynamic::Var(format_time(*t)) : Poco::Dynamic::Var();
}

Object::Ptr receiver_to_json(const OutboxReceiverView& r) {
  Object::Ptr o = object();
  o->set("id", r.id);
  o->set("kind",
         r.kind ? Poco::Dynamic::Var(std::string(to_string(*r.kind))) : Poco::Dynamic::Var());
  o->set("pending", r.pending);
  o->set("parked", r.parked);
  o->set("failing", r.failing);
  o->set("delivered", r.delivered);
  o->set("oldest", time_or_null(r.oldest));
  o->set("last_attempt", time_or_null(r.last_attempt));
  o->set("last_reason", r.last_reason);
  o->set("last_error", r.last_error);
  return o;
}

Object::Ptr outbox_to_json(const OutboxView& v) {
  Object::Ptr o = object();
  o->set("error", v.error.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(v.error));
  Array::Ptr receivers = new Array;
  for (const OutboxReceiverView& r : v.receivers) receivers->add(receiver_to_json(r));
  o->set("receivers", receivers);
  return o;
}

std::size_t rank(std::string_view kind) {
  return static_cast<std::size_t>(
      std::find(kAlertEventKinds.begin(), kAlertEventKinds.end(), kind) - kAlertEventKinds.begin());
}

}  // namespace

std::string without_url_paths(std::string_view text) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = text.find("://"); at != std::string_view::npos;
       at = text.find("://", from)) {
    const std::size_t host = at + 3;
    std::size_t end = text.find_first_of("/?# \t\r\n\"'<>", host);
    if (end == std::string_view::npos) end = text.size();
    out.append(text.substr(from, end - from));
    // The rest of the URL: up to a blank, a quote or an angle bracket.
    from = text.find_first_of(" \t\r\n\"'<>", end);
    if (from == std::string_view::npos) from = text.size();
  }
  out.append(text.substr(from));
  return out;
}

OutboxView outbox_view(const std::vector<ReceiverStatus>& senders,
                       const Result<std::vector<OutboxReceiverSummary>>& queues) {
  OutboxView v;
  for (const ReceiverStatus& s : senders) {
    OutboxReceiverView r;
    r.id = s.id;
    r.kind = s.kind;
    r.failing = s.failing;
    r.delivered = s.delivered;
    r.last_attempt = s.last_attempt;
    r.last_reason = s.last_reason;
    r.last_error = s.last_error;
    v.receivers.push_back(std::move(r));
  }
  if (!queues) {
    v.error = without_url_paths(queues.error().message);
  } else {
    for (const OutboxReceiverSummary& q : *queues) {
      auto it = std::find_if(v.receivers.begin(), v.receivers.end(),
                             [&](const OutboxReceiverView& r) { return r.id == q.receiver; });
      if (it == v.receivers.end()) {
        v.receivers.push_back(OutboxReceiverView{});
        it = std::prev(v.receivers.end());
        it->id = q.receiver;
      }
      it->pending = q.pending;
      it->parked = q.parked;
      it->oldest = q.oldest;
      if (it->last_error.empty()) it->last_error = q.last_error;
    }
  }
  for (OutboxReceiverView& r : v.receivers) r.last_error = without_url_paths(r.last_error);
  return v;
}

bool is_alert_event_kind(std::string_view kind) { return rank(kind) < kAlertEventKinds.size(); }

std::string alerts_document(const AlertsView& view, const std::string& agent, WallTime now,
                            const std::optional<OutboxView>& outbox) {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("agent", agent);
  doc.set("now", format_time(now));
  doc.set("evaluated",
          view.evaluated ? Poco::Dynamic::Var(format_time(*view.evaluated)) : Poco::Dynamic::Var());
  Array::Ptr alerts = new Array;
  for (const ActiveAlert& a : view.alerts) alerts->add(alert_to_json(a));
  doc.set("alerts", alerts);
  doc.set("outbox", outbox ? Poco::Dynamic::Var(outbox_to_json(*outbox)) : Poco::Dynamic::Var());
  std::ostringstream out;
  doc.stringify(out);
  return out.str();
}

Result<std::vector<Event>> alert_history(const EventQuery& q, const EventReader& read) {
  std::vector<Event> all;
  for (std::string_view kind : kAlertEventKinds) {
    if (q.kind && *q.kind != kind) continue;
    EventQuery one = q;
    one.kind = std::string(kind);
    auto events = read(one);
    if (!events) return events.error();
    all.insert(all.end(), events->begin(), events->end());
  }
  // Each read holds its kind's newest q.limit, so the newest q.limit of all
  // are among them. stable_sort keeps a read's own order within a kind.
  std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) {
    if (a.time != b.time) return a.time > b.time;
    return rank(a.kind) > rank(b.kind);
  });
  if (all.size() > q.limit) all.resize(q.limit);
  return all;
}

}  // namespace linewatch

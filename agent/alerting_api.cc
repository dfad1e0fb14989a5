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

std::size_t rank(std::string_view kind) {
  return static_cast<std::size_t>(
      std::find(kAlertEventKinds.begin(), kAlertEventKinds.end(), kind) - kAlertEventKinds.begin());
}

}  // namespace

bool is_alert_event_kind(std::string_view kind) { return rank(kind) < kAlertEventKinds.size(); }

std::string alerts_document(const AlertsView& view, const std::string& agent, WallTime now) {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("agent", agent);
  doc.set("now", format_time(now));
  doc.set("evaluated",
          view.evaluated ? Poco::Dynamic::Var(format_time(*view.evaluated)) : Poco::Dynamic::Var());
  Array::Ptr alerts = new Array;
  for (const ActiveAlert& a : view.alerts) alerts->add(alert_to_json(a));
  doc.set("alerts", alerts);
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

// outbox_payload() and notification_from_payload(): a Notification as the
// outbox stores it.
//
//   {"v":1,"id":"bj-gw-1/api-slow/42","agent":"bj-gw-1","rule":"api-slow",
//    "status":"firing","severity":"critical","summary":"...","labels":{...},
//    "value_text":"3412 ms","value":3412,"threshold_text":"3000 ms",
//    "threshold":3000,"starts_at_ms":1800000000000,"ends_at_ms":null,"link":""}
#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "exporters/notify_outbox.h"
#include "exporters/notify_text.h"

namespace linewatch {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Object;

// Raised when the stored layout changes; a sender refuses (parks) others.
constexpr int kPayloadVersion = 1;

struct DecodeError {
  std::string message;
};

[[noreturn]] void fail(const std::string& key, const std::string& what) {
  throw DecodeError{key + ": " + what};
}

Var field(const Object& o, const std::string& key) {
  if (!o.has(key)) fail(key, "missing");
  return o.get(key);
}

std::string text(const Object& o, const std::string& key) {
  const Var v = field(o, key);
  if (!v.isString()) fail(key, "must be a string");
  return v.extract<std::string>();
}

std::optional<double> number(const Object& o, const std::string& key) {
  const Var v = field(o, key);
  if (v.isEmpty()) return std::nullopt;
  if (!v.isNumeric() || v.isBoolean()) fail(key, "must be a number or null");
  return v.convert<double>();
}

std::optional<WallTime> time_ms(const Object& o, const std::string& key) {
  const Var v = field(o, key);
  if (v.isEmpty()) return std::nullopt;
  if (!v.isInteger() || v.isBoolean()) fail(key, "must be an integer (unix ms) or null");
  return WallTime(std::chrono::milliseconds(v.convert<Poco::Int64>()));
}

NotifyStatus status_of(const std::string& s) {
  for (NotifyStatus st : {NotifyStatus::firing, NotifyStatus::resolved, NotifyStatus::test})
    if (to_string(st) == s) return st;
  fail("status", "must be firing, resolved or test, got \"" + s + "\"");
}

Notification decode(const Object& o) {
  const Var v = field(o, "v");
  if (!v.isInteger() || v.convert<int>() != kPayloadVersion)
    fail("v", "must be " + std::to_string(kPayloadVersion) + " (written by another version)");
  Notification n;
  n.id = text(o, "id");
  n.agent = text(o, "agent");
  n.rule = text(o, "rule");
  n.status = status_of(text(o, "status"));
  n.severity = text(o, "severity");
  n.summary = text(o, "summary");
  const Var labels = field(o, "labels");
  if (labels.type() != typeid(Object::Ptr)) fail("labels", "must be an object");
  for (const auto& [name, value] : *labels.extract<Object::Ptr>()) {
    if (!value.isString()) fail("labels." + name, "must be a string");
    n.labels[name] = value.extract<std::string>();
  }
  n.value_text = text(o, "value_text");
  n.value = number(o, "value");
  n.threshold_text = text(o, "threshold_text");
  n.threshold = number(o, "threshold");
  const auto starts = time_ms(o, "starts_at_ms");
  if (!starts) fail("starts_at_ms", "must not be null");
  n.starts_at = *starts;
  n.ends_at = time_ms(o, "ends_at_ms");
  n.link = text(o, "link");
  return n;
}

std::string ms_or_null(const std::optional<WallTime>& t) {
  return t ? std::to_string(unix_ms(*t)) : "null";
}

}  // namespace

std::string outbox_payload(const Notification& n) {
  notify::JsonObject labels;
  for (const auto& [name, value] : n.labels) labels.str(name, value);
  return notify::JsonObject()
      .num("v", kPayloadVersion)
      .str("id", n.id)
      .str("agent", n.agent)
      .str("rule", n.rule)
      .str("status", to_string(n.status))
      .str("severity", n.severity)
      .str("summary", n.summary)
      .raw("labels", labels.done())
      .str("value_text", n.value_text)
      .num("value", n.value)
      .str("threshold_text", n.threshold_text)
      .num("threshold", n.threshold)
      .raw("starts_at_ms", std::to_string(unix_ms(n.starts_at)))
      .raw("ends_at_ms", ms_or_null(n.ends_at))
      .str("link", n.link)
      .done();
}

Result<Notification> notification_from_payload(std::string_view json) {
  Var parsed;
  try {
    Poco::JSON::Parser parser;
    parsed = parser.parse(std::string(json));
  } catch (const Poco::Exception& e) {
    return invalid("outbox notification: not valid JSON: " + e.displayText());
  }
  if (parsed.type() != typeid(Object::Ptr))
    return invalid("outbox notification: must be a JSON object");
  try {
    return decode(*parsed.extract<Object::Ptr>());
  } catch (const DecodeError& e) {
    return invalid("outbox notification: " + e.message);
  } catch (const Poco::Exception& e) {
    return invalid("outbox notification: " + e.displayText());
  }
}

Result<std::vector<std::int64_t>> enqueue_notification(Outbox& outbox,
                                                       const std::vector<std::string>& receivers,
                                                       const Notification& n, WallTime now) {
  return outbox.enqueue(receivers, outbox_payload(n), now);
}

}  // namespace linewatch

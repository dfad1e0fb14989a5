#include "tests/lab/mockllm/config.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cmath>
#include <map>

#include "tests/lab/mockllm/json_text.h"

namespace linewatch::mockllm {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Object;

// Sets one knob from a JSON value; the caller validates the whole result.
using Setter = Status (*)(Behaviour&, const Var&);

Result<Duration> milliseconds(const Var& v) {
  if (!v.isNumeric() || v.isBoolean()) return invalid("must be a number");
  const double ms = v.convert<double>();
  // Checked as a double first so a huge value cannot overflow the Duration.
  if (!std::isfinite(ms) || ms < 0 || ms > 3'600'000) return invalid("must be 0..3600000");
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

Result<long long> integer(const Var& v) {
  if (!v.isInteger() || v.isBoolean()) return invalid("must be an integer");
  return v.convert<long long>();
}

Result<std::vector<std::string>> strings(const Var& v) {
  if (v.type() != typeid(Poco::JSON::Array::Ptr)) return invalid("must be an array of strings");
  std::vector<std::string> out;
  for (const Var& item : *v.extract<Poco::JSON::Array::Ptr>()) {
    if (!item.isString()) return invalid("must be an array of strings");
    out.push_back(item.convert<std::string>());
  }
  return out;
}

template <auto Member>
Status set_ms(Behaviour& b, const Var& v) {
  Result<Duration> d = milliseconds(v);
  if (!d) return d.error();
  b.*Member = *d;
  return ok_status();
}

template <auto Member>
Status set_int(Behaviour& b, const Var& v) {
  Result<long long> n = integer(v);
  if (!n) return n.error();
  // Out of int range: clamp to a value validate() rejects with its message.
  b.*Member = static_cast<int>(std::clamp<long long>(*n, -2, 1'000'000'000));
  return ok_status();
}

template <auto Member>
Status set_bool(Behaviour& b, const Var& v) {
  if (!v.isBoolean()) return invalid("must be true or false");
  b.*Member = v.convert<bool>();
  return ok_status();
}

template <auto Member>
Status set_strings(Behaviour& b, const Var& v) {
  Result<std::vector<std::string>> s = strings(v);
  if (!s) return s.error();
  b.*Member = *s;
  return ok_status();
}

Status set_retry_after(Behaviour& b, const Var& v) {
  Result<long long> n = integer(v);
  if (!n) return n.error();
  if (*n < 0 || *n > 86'400) return invalid("must be 0..86400");
  b.retry_after = std::chrono::seconds(*n);
  return ok_status();
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> kSetters = {
      {"ttft_ms", set_ms<&Behaviour::ttft>},
      {"token_interval_ms", set_ms<&Behaviour::token_interval>},
      {"keepalive_ms", set_ms<&Behaviour::keepalive>},
      {"tokens", set_int<&Behaviour::tokens>},
      {"status", set_int<&Behaviour::forced_status>},
      {"retry_after_s", set_retry_after},
      {"reject_status", set_int<&Behaviour::reject_status>},
      {"stall_after_tokens", set_int<&Behaviour::stall_after_tokens>},
      {"error_after_tokens", set_int<&Behaviour::error_after_tokens>},
      {"stall_before_headers", set_bool<&Behaviour::stall_before_headers>},
      {"omit_end_marker", set_bool<&Behaviour::omit_end_marker>},
      {"crlf", set_bool<&Behaviour::crlf>},
      {"split_events", set_bool<&Behaviour::split_events>},
      {"keys", set_strings<&Behaviour::keys>},
      {"models", set_strings<&Behaviour::models>},
  };
  return kSetters;
}

// Applies the knobs of `o` (nothing else) to `b`; `where` prefixes messages.
Status apply_knobs(Behaviour& b, const Object& o, const std::string& where) {
  for (const std::string& key : o.getNames()) {
    auto setter = setters().find(key);
    if (setter == setters().end()) return invalid("unknown key '" + where + key + "'");
    if (Status s = setter->second(b, o.get(key)); !s)
      return invalid("'" + where + key + "' " + s.error().message);
  }
  return ok_status();
}

Object::Ptr knobs_json(const Behaviour& b) {
  Object::Ptr o = ordered();
  o->set("ttft_ms", to_ms(b.ttft));
  o->set("token_interval_ms", to_ms(b.token_interval));
  o->set("tokens", b.tokens);
  o->set("status", b.forced_status);
  o->set("retry_after_s", static_cast<long long>(b.retry_after.count()));
  o->set("reject_status", b.reject_status);
  o->set("key_count", static_cast<int>(b.keys.size()));
  Poco::JSON::Array::Ptr models = new Poco::JSON::Array;
  for (const std::string& m : b.models) models->add(m);
  o->set("models", models);
  o->set("stall_before_headers", b.stall_before_headers);
  o->set("stall_after_tokens", b.stall_after_tokens);
  o->set("error_after_tokens", b.error_after_tokens);
  o->set("omit_end_marker", b.omit_end_marker);
  o->set("keepalive_ms", to_ms(b.keepalive));
  o->set("crlf", b.crlf);
  o->set("split_events", b.split_events);
  return o;
}

}  // namespace

Result<Behaviours> apply_config_json(const Behaviours& current, const Behaviours& initial,
                                     const std::string& body) {
  Result<Object::Ptr> parsed = parse_object(body);
  if (!parsed) return invalid("/mock/config: " + parsed.error().message);
  Object::Ptr o = *parsed;
  Behaviours next = current;
  if (o->has("reset")) {
    if (!o->get("reset").isBoolean()) return invalid("'reset' must be true or false");
    if (o->getValue<bool>("reset")) next = initial;
    o->remove("reset");
  }
  Object global(*o);
  for (Flavour f : kFlavours) global.remove(std::string(to_string(f)));
  for (Flavour f : kFlavours)
    if (Status s = apply_knobs(of(next, f), global, ""); !s) return s.error();
  for (Flavour f : kFlavours) {
    const std::string name(to_string(f));
    if (!o->has(name)) continue;
    Object::Ptr one = o->getObject(name);
    if (!one) return invalid("'" + name + "' must be an object of knobs");
    if (Status s = apply_knobs(of(next, f), *one, name + "."); !s) return s.error();
  }
  for (Flavour f : kFlavours)
    if (Status s = validate(of(next, f)); !s)
      return invalid(std::string(to_string(f)) + ": " + s.error().message);
  return next;
}

std::string behaviours_json(const Behaviours& all) {
  Object::Ptr o = ordered();
  for (Flavour f : kFlavours) o->set(std::string(to_string(f)), knobs_json(of(all, f)));
  return text(o);
}

}  // namespace linewatch::mockllm

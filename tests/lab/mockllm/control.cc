#include "tests/lab/mockllm/control.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/NetworkInterface.h>

#include <cmath>
#include <set>
#include <sstream>

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Object;

Result<double> number(const Object::Ptr& o, const std::string& key) {
  const Poco::Dynamic::Var& v = o->get(key);
  if (!v.isNumeric() || v.isBoolean()) return invalid("'" + key + "' must be a number");
  const double d = v.convert<double>();
  if (!std::isfinite(d) || d < 0) return invalid("'" + key + "' must be >= 0");
  return d;
}

Result<long long> integer(const Object::Ptr& o, const std::string& key) {
  const Poco::Dynamic::Var& v = o->get(key);
  if (!v.isInteger() || v.isBoolean()) return invalid("'" + key + "' must be an integer");
  return v.convert<long long>();
}

Duration from_ms(double ms) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms));
}

// Applies one key; the caller validates the whole result afterwards.
Status apply_key(Behaviour& b, const Object::Ptr& o, const std::string& key) {
  if (key == "ttft_ms" || key == "token_interval_ms") {
    Result<double> ms = number(o, key);
    if (!ms) return ms.error();
    // Compare as doubles first so a huge value cannot overflow the Duration.
    if (*ms > 3'600'000) return invalid("'" + key + "' is too large");
    (key == "ttft_ms" ? b.ttft : b.token_interval) = from_ms(*ms);
    return ok_status();
  }
  Result<long long> n = integer(o, key);
  if (!n) return n.error();
  if (key == "tokens") {
    if (*n < 1 || *n > kMaxTokens)
      return invalid("'tokens' must be 1.." + std::to_string(kMaxTokens));
    b.tokens = static_cast<int>(*n);
  } else if (key == "status") {
    if (*n != 0 && *n != 429 && *n != 500 && *n != 503)
      return invalid("'status' must be 0, 429, 500 or 503");
    b.forced_status = static_cast<int>(*n);
  } else if (key == "retry_after_s") {
    if (*n < 0 || *n > 86'400) return invalid("'retry_after_s' must be 0..86400");
    b.retry_after = std::chrono::seconds(*n);
  }
  return ok_status();
}

}  // namespace

Status validate(const Behaviour& b) {
  if (b.ttft < Duration::zero() || b.ttft > kMaxTtft) return invalid("ttft must be 0..10m");
  if (b.token_interval < Duration::zero() || b.token_interval > kMaxTokenInterval)
    return invalid("token interval must be 0..1m");
  if (b.tokens < 1 || b.tokens > kMaxTokens)
    return invalid("tokens must be 1.." + std::to_string(kMaxTokens));
  if (b.forced_status != 0 && b.forced_status != 429 && b.forced_status != 500 &&
      b.forced_status != 503)
    return invalid("status must be 0, 429, 500 or 503");
  if (b.retry_after < std::chrono::seconds(0)) return invalid("retry_after must be >= 0");
  return ok_status();
}

Result<Behaviour> apply_config_json(const Behaviour& current, const std::string& body) {
  static const std::set<std::string> kKeys = {"ttft_ms", "token_interval_ms", "tokens", "status",
                                              "retry_after_s"};
  Object::Ptr o;
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(body);
    if (v.type() != typeid(Object::Ptr)) return invalid("body must be a JSON object");
    o = v.extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return invalid("body is not valid JSON: " + e.message());
  }
  Behaviour next = current;
  for (const std::string& key : o->getNames()) {
    if (!kKeys.count(key)) return invalid("unknown key '" + key + "'");
    if (Status s = apply_key(next, o, key); !s) return s.error();
  }
  if (Status s = validate(next); !s) return s.error();
  return next;
}

std::string behaviour_json(const Behaviour& b) {
  Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("ttft_ms", to_ms(b.ttft));
  o.set("token_interval_ms", to_ms(b.token_interval));
  o.set("tokens", b.tokens);
  o.set("status", b.forced_status);
  o.set("retry_after_s", static_cast<long long>(b.retry_after.count()));
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

bool same_namespace(const Poco::Net::IPAddress& peer) {
  if (peer.isLoopback()) return true;
  try {
    for (const Poco::Net::NetworkInterface& nif : Poco::Net::NetworkInterface::list(true, false))
      for (const Poco::Net::NetworkInterface::AddressTuple& a : nif.addressList())
        if (a.get<Poco::Net::NetworkInterface::IP_ADDRESS>() == peer) return true;
  } catch (const Poco::Exception&) {
    // Cannot enumerate interfaces: refuse, the safe answer for a control port.
  }
  return false;
}

}  // namespace linewatch::mockllm

#include "exporters/plan_codec.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <initializer_list>
#include <sstream>

namespace linewatch {

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

// Thrown inside decode_plan only, caught at its top: keeps each field read to one line.
struct DecodeError {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DecodeError{path + ": " + what};
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string kind_of(const Var& v) {
  if (v.isEmpty()) return "null";
  if (v.isBoolean()) return "a boolean";
  if (v.isInteger()) return "an integer";
  if (v.isNumeric()) return "a number";
  if (v.isString()) return "a string";
  if (v.type() == typeid(Array::Ptr)) return "an array";
  return "an object";
}

void only_keys(const Object& o, const std::string& path,
               std::initializer_list<std::string_view> keys) {
  for (const auto& [key, value] : o) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      fail(join(path, key), "unknown key");
  }
}

Var field(const Object& o, const std::string& path, const char* key) {
  if (!o.has(key)) fail(join(path, key), "missing");
  return o.get(key);
}

std::string get_string(const Object& o, const std::string& path, const char* key) {
  Var v = field(o, path, key);
  if (!v.isString()) fail(join(path, key), "must be a string, got " + kind_of(v));
  return v.extract<std::string>();
}

std::uint64_t get_uint(const Object& o, const std::string& path, const char* key, std::uint64_t lo,
                       std::uint64_t hi) {
  Var v = field(o, path, key);
  const std::string range = "must be an integer " + std::to_string(lo) + ".." + std::to_string(hi);
  if (!v.isInteger() || v.isBoolean()) fail(join(path, key), range + ", got " + kind_of(v));
  if (v.isSigned() && v.convert<Poco::Int64>() < 0) {
    fail(join(path, key), range + ", got " + v.convert<std::string>());
  }
  auto n = v.convert<Poco::UInt64>();
  if (n < lo || n > hi) fail(join(path, key), range + ", got " + std::to_string(n));
  return n;
}

Array::Ptr get_array(const Object& o, const std::string& path, const char* key) {
  Var v = field(o, path, key);
  if (v.type() != typeid(Array::Ptr)) fail(join(path, key), "must be an array, got " + kind_of(v));
  return v.extract<Array::Ptr>();
}

Object::Ptr object_at(const Array& a, const std::string& path, std::size_t i) {
  Var v = a.get(static_cast<unsigned>(i));
  std::string at = path + "[" + std::to_string(i) + "]";
  if (v.type() != typeid(Object::Ptr)) fail(at, "must be an object, got " + kind_of(v));
  return v.extract<Object::Ptr>();
}

void check(const Status& st, const std::string& path) {
  if (!st) fail(path, st.error().message);
}

NextHop decode_hop(const Object& o, const std::string& path) {
  only_keys(o, path, {"line", "via", "dev", "weight"});
  NextHop h;
  h.line = get_string(o, path, "line");
  if (h.line.empty()) fail(join(path, "line"), "must not be empty");
  h.via = get_string(o, path, "via");
  h.dev = get_string(o, path, "dev");
  h.weight = static_cast<std::uint32_t>(get_uint(o, path, "weight", 1, 255));
  if (h.via.empty() && h.dev.empty()) fail(path, "needs a via or a dev");
  if (!h.via.empty()) check(check_address(h.via), join(path, "via"));
  return h;
}

RouteEntry decode_route(const Object& o, const std::string& path) {
  only_keys(o, path, {"prefix", "nexthops"});
  RouteEntry r;
  r.prefix = get_string(o, path, "prefix");
  check(check_prefix(r.prefix), join(path, "prefix"));
  const std::string hops_path = join(path, "nexthops");
  Array::Ptr hops = get_array(o, path, "nexthops");
  if (hops->size() == 0) fail(hops_path, "must not be empty (a route always has a next hop)");
  for (std::size_t i = 0; i < hops->size(); ++i) {
    r.nexthops.push_back(
        decode_hop(*object_at(*hops, hops_path, i), hops_path + "[" + std::to_string(i) + "]"));
  }
  return r;
}

RoutePlan decode_object(const Object& o) {
  only_keys(o, "", {"agent", "version", "time", "panic", "routes"});
  RoutePlan p;
  p.agent = get_string(o, "", "agent");
  if (p.agent.empty()) fail("agent", "must not be empty");
  p.version = get_uint(o, "", "version", 0, UINT64_MAX);
  auto time = parse_time_ms(get_string(o, "", "time"));
  if (!time) fail("time", time.error().message);
  p.time = *time;
  Var panic = field(o, "", "panic");
  if (!panic.isBoolean()) fail("panic", "must be true or false, got " + kind_of(panic));
  p.panic = panic.extract<bool>();
  Array::Ptr routes = get_array(o, "", "routes");
  for (std::size_t i = 0; i < routes->size(); ++i) {
    p.routes.push_back(
        decode_route(*object_at(*routes, "routes", i), "routes[" + std::to_string(i) + "]"));
  }
  return p;
}

}  // namespace

std::string encode_plan(const RoutePlan& plan) {
  Object root(Poco::JSON_PRESERVE_KEY_ORDER);
  root.set("agent", plan.agent);
  root.set("version", Poco::UInt64(plan.version));
  root.set("time", format_time_ms(plan.time));
  root.set("panic", plan.panic);
  Array::Ptr routes = new Array;
  for (const auto& r : plan.routes) {
    Object::Ptr route = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    route->set("prefix", r.prefix);
    Array::Ptr hops = new Array;
    for (const auto& h : r.nexthops) {
      Object::Ptr hop = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      hop->set("line", h.line);
      hop->set("via", h.via);
      hop->set("dev", h.dev);
      hop->set("weight", Poco::UInt32(h.weight));
      hops->add(hop);
    }
    route->set("nexthops", hops);
    routes->add(route);
  }
  root.set("routes", routes);
  std::ostringstream out;
  root.stringify(out);
  return out.str();
}

Result<RoutePlan> decode_plan(std::string_view json) {
  Var parsed;
  try {
    Poco::JSON::Parser parser;
    parsed = parser.parse(std::string(json));
  } catch (const Poco::Exception& e) {
    return invalid("route plan: not valid JSON: " + e.displayText());
  }
  if (parsed.type() != typeid(Object::Ptr)) {
    return invalid("route plan: must be a JSON object, got " + kind_of(parsed));
  }
  try {
    return decode_object(*parsed.extract<Object::Ptr>());
  } catch (const DecodeError& e) {
    return invalid("route plan: " + e.message);
  } catch (const Poco::Exception& e) {
    return invalid("route plan: " + e.displayText());
  }
}

}  // namespace linewatch

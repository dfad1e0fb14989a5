#include "tests/lab/mockllm/json_text.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include <sstream>

namespace linewatch::mockllm {

using Poco::JSON::Object;

Object::Ptr ordered() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

std::string text(const Object::Ptr& o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

Result<Object::Ptr> parse_object(const std::string& body) {
  try {
    Poco::JSON::Parser parser;
    Poco::Dynamic::Var v = parser.parse(body);
    if (v.type() != typeid(Object::Ptr)) return invalid("request body must be a JSON object");
    return v.extract<Object::Ptr>();
  } catch (const Poco::Exception& e) {
    return invalid("request body is not valid JSON: " + e.message());
  }
}

std::string string_field(const Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key) || !o->get(key).isString()) return "";
  return o->getValue<std::string>(key);
}

int estimate_tokens(std::size_t chars) { return static_cast<int>((chars + 3) / 4); }

}  // namespace linewatch::mockllm

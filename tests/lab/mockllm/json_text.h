// Internal to mockllm: the few Poco::JSON helpers the dialects and the
// control endpoint share. Pure functions, thread-safe.
#pragma once

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <string>

#include "core/error.h"

namespace linewatch::mockllm {

// An object that keeps keys in insertion order, as providers write them.
Poco::JSON::Object::Ptr ordered();
std::string text(const Poco::JSON::Object::Ptr& o);

// Success: the body's top-level object. Failure: invalid_argument ("request
// body is not valid JSON: ...", "request body must be a JSON object").
Result<Poco::JSON::Object::Ptr> parse_object(const std::string& body);

// A string field of `o`, or "" when absent or not a string.
std::string string_field(const Poco::JSON::Object::Ptr& o, const std::string& key);

// Roughly what a BPE tokenizer gives for English text of `chars` characters.
int estimate_tokens(std::size_t chars);

}  // namespace linewatch::mockllm

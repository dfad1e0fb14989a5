#include "probes/llm_wire.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <array>
#include <exception>
#include <optional>
#include <sstream>
#include <typeinfo>

#include "core/probe_result.h"

namespace linewatch {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

// Short enough to cost one input token or so, and answered in one word.
constexpr std::string_view kPrompt = "Reply with the single word OK.";
// The range LlmOptions::max_tokens documents; a completion costs money, so a
// value outside it is clamped here rather than trusted.
constexpr int kMinTokens = 1;
constexpr int kMaxTokens = 5;
// Deep enough for any provider's documents, shallow enough that a hostile
// body cannot exhaust the stack while its tree is built or freed.
constexpr std::size_t kMaxJsonDepth = 32;
// Gemini's model list is paged; one page this large holds every model it
// offers today, so the probe's model is not missed on a later page.
constexpr std::string_view kGeminiModelsQuery = "?pageSize=1000";
constexpr std::string_view kGeminiModelPrefix = "models/";
// How much of an unparseable event or body a message quotes.
constexpr std::size_t kQuoteBytes = 80;
// How much of a value read from a body (an id, a type) a message quotes.
constexpr std::size_t kValueBytes = 64;
// google.rpc.ErrorInfo, the detail whose "reason" says why Google refused.
constexpr std::string_view kErrorInfoType = "type.googleapis.com/google.rpc.ErrorInfo";
// google.api.ErrorReason's reasons that blame the key (or token) itself:
// invalid (bad format, unknown, expired), or used outside its restrictions.
constexpr std::array<std::string_view, 7> kKeyReasons = {"API_KEY_INVALID",
                                                         "API_KEY_SERVICE_BLOCKED",
                                                         "API_KEY_HTTP_REFERRER_BLOCKED",
                                                         "API_KEY_IP_ADDRESS_BLOCKED",
                                                         "API_KEY_ANDROID_APP_BLOCKED",
                                                         "API_KEY_IOS_APP_BLOCKED",
                                                         "ACCESS_TOKEN_EXPIRED"};

// `text` as a JSON value; empty when it is not JSON.
Poco::Dynamic::Var parse_json(std::string_view text) {
  try {
    Poco::JSON::Parser parser;
    parser.setDepth(kMaxJsonDepth);
    return parser.parse(std::string(text));
  } catch (const Poco::Exception&) {
  } catch (const std::exception&) {
  }
  return {};
}

Object::Ptr as_object(const Poco::Dynamic::Var& v) {
  if (v.type() != typeid(Object::Ptr)) return nullptr;
  return v.extract<Object::Ptr>();
}

Array::Ptr as_array(const Poco::Dynamic::Var& v) {
  if (v.type() != typeid(Array::Ptr)) return nullptr;
  return v.extract<Array::Ptr>();
}

// The string member `key` of `o`; absent when missing or not a string.
std::optional<std::string> string_at(const Object::Ptr& o, const std::string& key) {
  if (!o || !o->has(key)) return std::nullopt;
  const Poco::Dynamic::Var v = o->get(key);
  if (!v.isString()) return std::nullopt;
  return v.extract<std::string>();
}

bool nonempty_string_at(const Object::Ptr& o, const std::string& key) {
  const auto s = string_at(o, key);
  return s && !s->empty();
}

// A provider's error, from {"error":{"type"|"status"|"code":..., "message":...}}
// (OpenAI, Anthropic, Gemini), {"error":"text"}, or a gateway's top-level
// {"message":...} / {"detail":...}.
struct ApiError {
  bool found = false;
  std::string type;
  std::string message;
};

ApiError api_error_of(const Object::Ptr& doc) {
  ApiError e;
  if (!doc) return e;
  if (const Object::Ptr err = doc->getObject("error")) {
    e.found = true;
    for (const char* key : {"type", "status", "code"}) {
      if (auto t = string_at(err, key)) {
        e.type = *t;
        break;
      }
    }
    e.message = string_at(err, "message").value_or("");
  } else if (auto text = string_at(doc, "error")) {
    e.found = true;
    e.message = *text;
  } else if (auto text = string_at(doc, "message")) {
    e.found = true;
    e.message = *text;
  } else if (auto text = string_at(doc, "detail")) {
    e.found = true;
    e.message = *text;
  }
  return e;
}

std::string stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

Object::Ptr user_message() {
  Object::Ptr m = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  m->set("role", "user");
  m->set("content", std::string(kPrompt));
  return m;
}

std::string openai_body(const LlmOptions& o, int max_tokens) {
  Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("model", o.model);
  Array::Ptr messages = new Array;
  messages->add(user_message());
  body.set("messages", messages);
  // "max_tokens" rather than the newer "max_completion_tokens": compatible
  // gateways know only the older name.
  body.set("max_tokens", max_tokens);
  body.set("stream", true);
  return stringify(body);
}

std::string anthropic_body(const LlmOptions& o, int max_tokens) {
  Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("model", o.model);
  body.set("max_tokens", max_tokens);
  Array::Ptr messages = new Array;
  messages->add(user_message());
  body.set("messages", messages);
  body.set("stream", true);
  return stringify(body);
}

std::string gemini_body(int max_tokens) {
  Object::Ptr part = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  part->set("text", std::string(kPrompt));
  Array::Ptr parts = new Array;
  parts->add(part);
  Object::Ptr content = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  content->set("role", "user");
  content->set("parts", parts);
  Array::Ptr contents = new Array;
  contents->add(content);
  Object::Ptr config = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  config->set("maxOutputTokens", max_tokens);
  Object body(Poco::JSON_PRESERVE_KEY_ORDER);
  body.set("contents", contents);
  body.set("generationConfig", config);
  return stringify(body);
}

// `text` as one path segment: every byte but RFC 3986's unreserved ones
// percent-encoded, so '/', '?', '#', ':' or a space cannot change the path.
std::string path_segment(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

// The Gemini model as one path segment, its "models/" prefix (Gemini's own
// spelling) dropped.
std::string gemini_model_segment(std::string_view model) {
  if (model.starts_with(kGeminiModelPrefix)) model.remove_prefix(kGeminiModelPrefix.size());
  return path_segment(model);
}

// The object holding a provider's error; Gemini's non-SSE stream answers
// errors as a one-element array of it.
Object::Ptr error_document(std::string_view body) {
  const Poco::Dynamic::Var doc = parse_json(body);
  if (const Array::Ptr array = as_array(doc); array && array->size() > 0)
    return array->getObject(0);
  return as_object(doc);
}

void add_auth(LlmRequest& r, const LlmOptions& o, std::string_view api_key) {
  switch (o.flavour) {
    case LlmFlavour::openai:
      r.headers.emplace_back("Authorization", "Bearer " + std::string(api_key));
      break;
    case LlmFlavour::anthropic:
      r.headers.emplace_back("x-api-key", std::string(api_key));
      r.headers.emplace_back("anthropic-version", o.anthropic_version);
      break;
    case LlmFlavour::gemini:
      r.headers.emplace_back("x-goog-api-key", std::string(api_key));
      break;
  }
}

StreamStep bad_step(std::string why) {
  StreamStep s;
  s.kind = StreamStep::Kind::bad;
  s.detail = std::move(why);
  return s;
}

StreamStep error_step(const ApiError& e) {
  StreamStep s;
  s.kind = StreamStep::Kind::error;
  s.error_type = printable_detail(e.type, 64);
  s.detail = printable_detail(e.message);
  return s;
}

StreamStep content_step(int pieces) {
  StreamStep s;
  if (pieces > 0) {
    s.kind = StreamStep::Kind::content;
    s.tokens = pieces;
  }
  return s;
}

// choices[].delta.content; the end is "[DONE]", handled before parsing.
StreamStep openai_step(const Object::Ptr& doc) {
  int pieces = 0;
  if (const Array::Ptr choices = doc->getArray("choices")) {
    for (unsigned i = 0; i < choices->size(); ++i) {
      const Object::Ptr choice = choices->getObject(i);
      if (choice && nonempty_string_at(choice->getObject("delta"), "content")) ++pieces;
    }
  }
  return content_step(pieces);
}

// `type` is the data's own "type", or the SSE event name when it has none.
StreamStep anthropic_step(const Object::Ptr& doc, const std::string& type, bool& done) {
  if (type == "message_stop") {
    done = true;
    StreamStep s;
    s.kind = StreamStep::Kind::done;
    return s;
  }
  if (type != "content_block_delta") return {};
  const Object::Ptr delta = doc->getObject("delta");
  const bool text = string_at(delta, "type") == "text_delta" && nonempty_string_at(delta, "text");
  return content_step(text ? 1 : 0);
}

// candidates[0].content.parts[].text (thought parts are not the answer), and
// the end: a finishReason. A prompt refused outright has no candidate but a
// promptFeedback.blockReason: an error of that type.
StreamStep gemini_step(const Object::Ptr& doc, bool& done) {
  if (auto block = string_at(doc->getObject("promptFeedback"), "blockReason")) {
    ApiError e{true, *block, "prompt blocked"};
    return error_step(e);
  }
  const Array::Ptr candidates = doc->getArray("candidates");
  const Object::Ptr first = candidates ? candidates->getObject(0) : nullptr;
  if (!first) return {};
  int pieces = 0;
  const Object::Ptr content = first->getObject("content");
  if (const Array::Ptr parts = content ? content->getArray("parts") : nullptr) {
    for (unsigned i = 0; i < parts->size(); ++i) {
      const Object::Ptr part = parts->getObject(i);
      if (!part || !nonempty_string_at(part, "text")) continue;
      const Poco::Dynamic::Var thought = part->get("thought");
      if (thought.type() == typeid(bool) && thought.extract<bool>()) continue;
      ++pieces;
    }
  }
  const auto reason = string_at(first, "finishReason");
  const bool finished = reason && !reason->empty() && *reason != "FINISH_REASON_UNSPECIFIED";
  if (finished) done = true;
  StreamStep s = content_step(pieces);
  if (pieces == 0 && finished) s.kind = StreamStep::Kind::done;
  return s;
}

}  // namespace

LlmRequest models_request(const LlmOptions& options, std::string_view base_path,
                          std::string_view api_key) {
  LlmRequest r;
  r.method = "GET";
  r.target = std::string(base_path) + "/models";
  if (options.flavour == LlmFlavour::anthropic) r.target += "/" + path_segment(options.model);
  if (options.flavour == LlmFlavour::gemini) r.target += kGeminiModelsQuery;
  add_auth(r, options, api_key);
  r.headers.emplace_back("Accept", "application/json");
  return r;
}

LlmRequest completion_request(const LlmOptions& options, std::string_view base_path,
                              std::string_view api_key) {
  const int max_tokens = std::clamp(options.max_tokens, kMinTokens, kMaxTokens);
  LlmRequest r;
  r.method = "POST";
  switch (options.flavour) {
    case LlmFlavour::openai:
      r.target = std::string(base_path) + "/chat/completions";
      r.body = openai_body(options, max_tokens);
      break;
    case LlmFlavour::anthropic:
      r.target = std::string(base_path) + "/messages";
      r.body = anthropic_body(options, max_tokens);
      break;
    case LlmFlavour::gemini:
      r.target = std::string(base_path) + "/models/" + gemini_model_segment(options.model) +
                 ":streamGenerateContent?alt=sse";
      r.body = gemini_body(max_tokens);
      break;
  }
  add_auth(r, options, api_key);
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Accept", "text/event-stream");
  r.headers.emplace_back("Content-Length", std::to_string(r.body.size()));
  return r;
}

Result<bool> model_listed(LlmFlavour flavour, std::string_view body, std::string_view model) {
  const Object::Ptr doc = as_object(parse_json(body));
  if (!doc)
    return invalid("model list is not a JSON object: " + printable_detail(body, kQuoteBytes));
  const bool gemini = flavour == LlmFlavour::gemini;
  const std::string key = gemini ? "models" : "data";
  // Gemini's JSON leaves an empty list out altogether.
  if (gemini && !doc->has(key)) return false;
  const Array::Ptr list = doc->getArray(key);
  if (!list) return invalid("model list has no \"" + key + "\" array");
  for (unsigned i = 0; i < list->size(); ++i) {
    const Object::Ptr item = list->getObject(i);
    const auto name = string_at(item, gemini ? "name" : "id");
    if (!name) continue;
    if (*name == model) return true;
    if (gemini && name->starts_with(kGeminiModelPrefix) &&
        std::string_view(*name).substr(kGeminiModelPrefix.size()) == model)
      return true;
  }
  return false;
}

Result<std::string> model_object_id(std::string_view body) {
  const Object::Ptr doc = as_object(parse_json(body));
  if (!doc)
    return invalid("model object is not a JSON object: " + printable_detail(body, kQuoteBytes));
  if (const auto type = string_at(doc, "type"); type && *type != "model")
    return invalid("model object has type \"" + printable_detail(*type, kValueBytes) +
                   "\", not \"model\"");
  const auto id = string_at(doc, "id");
  if (!id || id->empty()) return invalid("model object has no \"id\" string");
  return printable_detail(*id, kValueBytes);
}

std::string api_error_message(std::string_view body) {
  const ApiError e = api_error_of(error_document(body));
  return printable_detail(e.message.empty() ? e.type : e.message);
}

std::string api_error_type(std::string_view body) {
  return printable_detail(api_error_of(error_document(body)).type, kValueBytes);
}

bool api_key_refused(std::string_view body) {
  const Object::Ptr doc = error_document(body);
  const Object::Ptr error = doc ? doc->getObject("error") : nullptr;
  const Array::Ptr details = error ? error->getArray("details") : nullptr;
  for (unsigned i = 0; details && i < details->size(); ++i) {
    const Object::Ptr detail = details->getObject(i);
    if (string_at(detail, "@type") != kErrorInfoType) continue;
    const auto reason = string_at(detail, "reason");
    if (reason && std::find(kKeyReasons.begin(), kKeyReasons.end(), *reason) != kKeyReasons.end())
      return true;
  }
  return false;
}

StreamStep LlmStreamDecoder::on_event(const SseEvent& event) {
  if (flavour_ == LlmFlavour::openai && event.data == "[DONE]") {
    done_ = true;
    StreamStep s;
    s.kind = StreamStep::Kind::done;
    return s;
  }
  const Poco::Dynamic::Var parsed = parse_json(event.data);
  if (parsed.isEmpty()) return bad_step("not JSON: " + printable_detail(event.data, kQuoteBytes));
  const Object::Ptr doc = as_object(parsed);
  if (!doc) return bad_step("not a JSON object: " + printable_detail(event.data, kQuoteBytes));

  const std::string type = string_at(doc, "type").value_or(event.event);
  // Every flavour reports a failure mid-stream as an object with "error"
  // (Anthropic also names the event and the data's type "error"); a null
  // "error" some gateways put in every chunk is no failure.
  if (doc->getObject("error") || string_at(doc, "error") || type == "error")
    return error_step(api_error_of(doc));

  StreamStep step;
  switch (flavour_) {
    case LlmFlavour::openai:
      step = openai_step(doc);
      break;
    case LlmFlavour::anthropic:
      step = anthropic_step(doc, type, done_);
      break;
    case LlmFlavour::gemini:
      step = gemini_step(doc, done_);
      break;
  }
  tokens_ += step.tokens;
  return step;
}

}  // namespace linewatch

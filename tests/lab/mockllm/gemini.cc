// The Gemini dialect: /v1beta/models and models/MODEL:(stream)generateContent,
// errors as {"error":{"code","message","status"}}, streams as unnamed data
// events whose last content carries finishReason (no [DONE]).
#include <Poco/JSON/Array.h>

#include <algorithm>

#include "tests/lab/mockllm/dialect.h"
#include "tests/lab/mockllm/json_text.h"

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* status_name(Fault fault, int status) {
  switch (fault) {
    case Fault::bad_key:
      return status == 400   ? "INVALID_ARGUMENT"
             : status == 403 ? "PERMISSION_DENIED"
                             : "UNAUTHENTICATED";
    case Fault::forbidden:
      return "PERMISSION_DENIED";
    case Fault::no_route:
    case Fault::no_model:
      return "NOT_FOUND";
    case Fault::rate_limited:
      return "RESOURCE_EXHAUSTED";
    case Fault::server_error:
      return "INTERNAL";
    case Fault::unavailable:
    case Fault::overloaded:
      return "UNAVAILABLE";
    default:
      return "INVALID_ARGUMENT";
  }
}

// The details Google adds to its 400 for a wrong key: the reason, then the
// message again, localised.
Array::Ptr key_invalid_details(const std::string& message) {
  Object::Ptr metadata = ordered();
  metadata->set("service", "generativelanguage.googleapis.com");
  Object::Ptr info = ordered();
  info->set("@type", "type.googleapis.com/google.rpc.ErrorInfo");
  info->set("reason", "API_KEY_INVALID");
  info->set("domain", "googleapis.com");
  info->set("metadata", metadata);
  Object::Ptr localized = ordered();
  localized->set("@type", "type.googleapis.com/google.rpc.LocalizedMessage");
  localized->set("locale", "en-US");
  localized->set("message", message);
  Array::Ptr details = new Array;
  details->add(info);
  details->add(localized);
  return details;
}

std::string error_body(int code, const std::string& message, const char* status,
                       Array::Ptr details = nullptr) {
  Object::Ptr e = ordered();
  e->set("code", code);
  e->set("message", message);
  e->set("status", status);
  if (details) e->set("details", details);
  Object::Ptr o = ordered();
  o->set("error", e);
  return text(o);
}

const char* finish_reason(const Reply& r) { return r.cut ? "MAX_TOKENS" : "STOP"; }

// One GenerateContentResponse: `content` as the model's text, `finish` set
// on the last one, usage counted up to `tokens`.
std::string response(const Reply& r, const std::string& content, const char* finish, int tokens) {
  Object::Ptr part = ordered();
  part->set("text", content);
  Array::Ptr parts = new Array;
  parts->add(part);
  Object::Ptr body = ordered();
  body->set("parts", parts);
  body->set("role", "model");
  Object::Ptr candidate = ordered();
  candidate->set("content", body);
  if (finish) candidate->set("finishReason", finish);
  candidate->set("index", 0);
  Array::Ptr candidates = new Array;
  candidates->add(candidate);
  Object::Ptr usage = ordered();
  usage->set("promptTokenCount", r.prompt_tokens);
  usage->set("candidatesTokenCount", tokens);
  usage->set("totalTokenCount", r.prompt_tokens + tokens);
  Object::Ptr o = ordered();
  o->set("candidates", candidates);
  o->set("usageMetadata", usage);
  o->set("modelVersion", r.model);
  o->set("responseId", r.id);
  return text(o);
}

int estimate_prompt_tokens(const Array& contents) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < contents.size(); ++i) {
    Object::Ptr c = contents.getObject(static_cast<unsigned>(i));
    Array::Ptr parts = c ? c->getArray("parts") : nullptr;
    for (std::size_t j = 0; parts && j < parts->size(); ++j)
      chars += string_field(parts->getObject(static_cast<unsigned>(j)), "text").size();
  }
  return estimate_tokens(chars);
}

class Gemini final : public Dialect {
 public:
  std::string error_json(Fault fault, int status, const std::string& message) const override {
    // Only the ErrorInfo tells a refused key from any other bad request.
    const bool key_invalid = fault == Fault::bad_key && status == 400;
    return error_body(status, message, status_name(fault, status),
                      key_invalid ? key_invalid_details(message) : nullptr);
  }

  std::string key_message(bool given) const override {
    return given ? "API key not valid. Please pass a valid API key."
                 : "Method doesn't allow unregistered callers (callers without established "
                   "identity). Please use API Key or other form of API consumer identity to call "
                   "this API.";
  }

  // Google refuses a wrong key as a bad argument and a missing one as an
  // unknown caller.
  int key_status(bool given) const override { return given ? 400 : 403; }

  std::string no_model_message(const std::string& model) const override {
    return "models/" + model + " is not found for API version v1beta, or is not supported for " +
           "generateContent.";
  }

  std::string models_json(const std::vector<std::string>& models) const override {
    Array::Ptr list = new Array;
    for (const std::string& id : models) {
      Array::Ptr methods = new Array;
      methods->add("generateContent");
      methods->add("countTokens");
      Object::Ptr m = ordered();
      m->set("name", "models/" + id);
      m->set("version", "001");
      m->set("displayName", "mockllm " + id);
      m->set("inputTokenLimit", 1'048'576);
      m->set("outputTokenLimit", 8192);
      m->set("supportedGenerationMethods", methods);
      list->add(m);
    }
    Object::Ptr o = ordered();
    o->set("models", list);
    return text(o);
  }

  Result<CompletionRequest> parse_completion(const std::string& body) const override {
    Result<Object::Ptr> parsed = parse_object(body);
    if (!parsed) return parsed.error();
    const Object::Ptr& o = *parsed;
    CompletionRequest r;
    Array::Ptr contents = o->getArray("contents");
    if (!contents || contents->size() == 0)
      return invalid("* GenerateContentRequest.contents: contents is not specified");
    r.prompt_tokens = estimate_prompt_tokens(*contents);
    Object::Ptr config = o->getObject("generationConfig");
    if (config && config->has("maxOutputTokens")) {
      const Poco::Dynamic::Var& v = config->get("maxOutputTokens");
      if (!v.isInteger() || v.isBoolean() || v.convert<long long>() < 1)
        return invalid("generationConfig.maxOutputTokens must be a positive integer");
      r.max_tokens = static_cast<int>(std::min<long long>(v.convert<long long>(), 1'000'000'000));
    }
    return r;
  }

  std::string reply_id(std::uint64_t n) const override { return "mock" + std::to_string(n); }

  std::string whole_json(const Reply& r) const override {
    return response(r, reply_text(r.tokens), finish_reason(r), r.tokens);
  }

  std::vector<Event> head_events(const Reply&) const override { return {}; }

  Event token_event(const Reply& r, int index, bool finish) const override {
    return {"", response(r, token_text(index), finish ? finish_reason(r) : nullptr, index + 1)};
  }

  std::vector<Event> end_events(const Reply&, bool) const override { return {}; }

  Event error_event() const override {
    return {"", error_body(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")};
  }
};

}  // namespace

const Dialect& gemini_dialect() {
  static const Gemini d;
  return d;
}

}  // namespace linewatch::mockllm

// The OpenAI dialect (and OpenAI-compatible gateways): /v1/models and
// /v1/chat/completions, errors as {"error":{"message","type","param","code"}}.
#include <Poco/JSON/Array.h>

#include <algorithm>
#include <chrono>

#include "tests/lab/mockllm/dialect.h"
#include "tests/lab/mockllm/json_text.h"

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The per-message framing OpenAI counts, plus the text itself.
int estimate_prompt_tokens(const Array& messages) {
  int tokens = 3;
  for (std::size_t i = 0; i < messages.size(); ++i)
    tokens += 4 + estimate_tokens(
                      string_field(messages.getObject(static_cast<unsigned>(i)), "content").size());
  return tokens;
}

Object::Ptr usage(const Reply& r, int completion_tokens) {
  Object::Ptr u = ordered();
  u->set("prompt_tokens", r.prompt_tokens);
  u->set("completion_tokens", completion_tokens);
  u->set("total_tokens", r.prompt_tokens + completion_tokens);
  return u;
}

Object::Ptr reply_object(const Reply& r, const char* object) {
  Object::Ptr o = ordered();
  o->set("id", r.id);
  o->set("object", object);
  o->set("created", r.created);
  o->set("model", r.model);
  return o;
}

std::string chunk(const Reply& r, Object::Ptr delta, const char* finish_reason) {
  Object::Ptr choice = ordered();
  choice->set("index", 0);
  choice->set("delta", delta);
  choice->set("finish_reason",
              finish_reason ? Poco::Dynamic::Var(finish_reason) : Poco::Dynamic::Var());
  Array::Ptr choices = new Array;
  choices->add(choice);
  Object::Ptr o = reply_object(r, "chat.completion.chunk");
  o->set("choices", choices);
  return text(o);
}

const char* finish(const Reply& r) { return r.cut ? "length" : "stop"; }

// The first positive integer of max_completion_tokens / max_tokens, if any.
Result<std::optional<int>> max_tokens(const Object::Ptr& o) {
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (!o->has(key) || o->get(key).isEmpty()) continue;
    const Poco::Dynamic::Var& v = o->get(key);
    if (!v.isInteger() || v.isBoolean() || v.convert<long long>() < 1)
      return invalid(std::string("'") + key + "' must be a positive integer");
    return std::optional<int>(
        static_cast<int>(std::min<long long>(v.convert<long long>(), 1'000'000'000)));
  }
  return std::optional<int>();
}

class OpenAi final : public Dialect {
 public:
  std::string error_json(Fault fault, int, const std::string& message) const override {
    const char* type = "invalid_request_error";
    const char* code = nullptr;
    switch (fault) {
      case Fault::bad_key:
        code = "invalid_api_key";
        break;
      case Fault::forbidden:
        type = "request_forbidden";
        break;
      case Fault::no_model:
        code = "model_not_found";
        break;
      case Fault::bad_method:
        code = "method_not_allowed";
        break;
      case Fault::rate_limited:
        type = "requests";
        code = "rate_limit_exceeded";
        break;
      case Fault::server_error:
      case Fault::unavailable:
      case Fault::overloaded:
        type = "server_error";
        break;
      default:
        break;
    }
    Object::Ptr e = ordered();
    e->set("message", message);
    e->set("type", type);
    e->set("param", Poco::Dynamic::Var());
    e->set("code", code ? Poco::Dynamic::Var(code) : Poco::Dynamic::Var());
    Object::Ptr o = ordered();
    o->set("error", e);
    return text(o);
  }

  std::string key_message(bool given) const override {
    return given ? "Incorrect API key provided"
                 : "You didn't provide an API key. You need to provide your API key in an "
                   "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
  }
  int key_status(bool) const override { return 401; }

  std::string no_model_message(const std::string& model) const override {
    return "The model `" + model + "` does not exist or you do not have access to it.";
  }

  std::string models_json(const std::vector<std::string>& models) const override {
    Array::Ptr data = new Array;
    for (const std::string& id : models) {
      Object::Ptr m = ordered();
      m->set("id", id);
      m->set("object", "model");
      m->set("created", unix_seconds());
      m->set("owned_by", "mockllm");
      data->add(m);
    }
    Object::Ptr o = ordered();
    o->set("object", "list");
    o->set("data", data);
    return text(o);
  }

  Result<CompletionRequest> parse_completion(const std::string& body) const override {
    Result<Object::Ptr> parsed = parse_object(body);
    if (!parsed) return parsed.error();
    const Object::Ptr& o = *parsed;
    CompletionRequest r;
    if (!o->has("model") || !o->get("model").isString())
      return invalid("'model' is required and must be a string");
    r.model = o->getValue<std::string>("model");
    Array::Ptr messages = o->getArray("messages");
    if (!messages || messages->size() == 0)
      return invalid("'messages' is required and must be a non-empty array");
    r.prompt_tokens = estimate_prompt_tokens(*messages);
    if (o->has("stream") && !o->get("stream").isEmpty()) {
      if (!o->get("stream").isBoolean()) return invalid("'stream' must be a boolean");
      r.stream = o->getValue<bool>("stream");
    }
    Result<std::optional<int>> max = max_tokens(o);
    if (!max) return max.error();
    r.max_tokens = *max;
    Object::Ptr options = o->getObject("stream_options");
    r.include_usage = options && options->has("include_usage") &&
                      options->get("include_usage").isBoolean() &&
                      options->getValue<bool>("include_usage");
    return r;
  }

  std::string reply_id(std::uint64_t n) const override {
    return "chatcmpl-mock" + std::to_string(n);
  }

  std::string whole_json(const Reply& r) const override {
    Object::Ptr message = ordered();
    message->set("role", "assistant");
    message->set("content", reply_text(r.tokens));
    Object::Ptr choice = ordered();
    choice->set("index", 0);
    choice->set("message", message);
    choice->set("finish_reason", finish(r));
    Array::Ptr choices = new Array;
    choices->add(choice);
    Object::Ptr o = reply_object(r, "chat.completion");
    o->set("choices", choices);
    o->set("usage", usage(r, r.tokens));
    return text(o);
  }

  std::vector<Event> head_events(const Reply& r) const override {
    Object::Ptr delta = ordered();
    delta->set("role", "assistant");
    delta->set("content", "");
    return {{"", chunk(r, delta, nullptr)}};
  }

  Event token_event(const Reply& r, int index, bool) const override {
    Object::Ptr delta = ordered();
    delta->set("content", token_text(index));
    return {"", chunk(r, delta, nullptr)};
  }

  std::vector<Event> end_events(const Reply& r, bool marker) const override {
    std::vector<Event> events = {{"", chunk(r, ordered(), finish(r))}};
    if (r.include_usage) {
      // As OpenAI does: a last chunk with no choices carries the usage.
      Object::Ptr o = reply_object(r, "chat.completion.chunk");
      o->set("choices", Array::Ptr(new Array));
      o->set("usage", usage(r, r.tokens));
      events.push_back({"", text(o)});
    }
    if (marker) events.push_back({"", "[DONE]"});
    return events;
  }

  Event error_event() const override {
    return {"", error_json(Fault::server_error, 500,
                           "The server had an error while processing your request (mockllm "
                           "error_after_tokens)")};
  }
};

}  // namespace

const Dialect& openai_dialect() {
  static const OpenAi d;
  return d;
}

}  // namespace linewatch::mockllm

// The Anthropic dialect: /v1/models, /v1/models/ID and /v1/messages, errors
// as {"type":"error","error":{"type","message"}}, streams as named events.
#include <Poco/JSON/Array.h>

#include <algorithm>

#include "tests/lab/mockllm/dialect.h"
#include "tests/lab/mockllm/json_text.h"

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* error_type(Fault fault) {
  switch (fault) {
    case Fault::bad_key:
      return "authentication_error";
    case Fault::forbidden:
      return "permission_error";
    case Fault::no_route:
    case Fault::no_model:
      return "not_found_error";
    case Fault::too_large:
      return "request_too_large";
    case Fault::rate_limited:
      return "rate_limit_error";
    case Fault::server_error:
    case Fault::unavailable:
      return "api_error";
    case Fault::overloaded:
      return "overloaded_error";
    default:
      return "invalid_request_error";
  }
}

std::string error_body(const char* type, const std::string& message) {
  Object::Ptr e = ordered();
  e->set("type", type);
  e->set("message", message);
  Object::Ptr o = ordered();
  o->set("type", "error");
  o->set("error", e);
  return text(o);
}

Object::Ptr typed(const char* type) {
  Object::Ptr o = ordered();
  o->set("type", type);
  return o;
}

const char* stop_reason(const Reply& r) { return r.cut ? "max_tokens" : "end_turn"; }

Object::Ptr usage(const Reply& r, int output_tokens) {
  Object::Ptr u = ordered();
  u->set("input_tokens", r.prompt_tokens);
  u->set("output_tokens", output_tokens);
  return u;
}

Object::Ptr text_block(const std::string& text_value) {
  Object::Ptr b = typed("text");
  b->set("text", text_value);
  return b;
}

// The message object; `content` and `stop` as the caller has them so far.
Object::Ptr message(const Reply& r, Array::Ptr content, const char* stop, int output_tokens) {
  Object::Ptr m = ordered();
  m->set("id", r.id);
  m->set("type", "message");
  m->set("role", "assistant");
  m->set("model", r.model);
  m->set("content", content);
  m->set("stop_reason", stop ? Poco::Dynamic::Var(stop) : Poco::Dynamic::Var());
  m->set("stop_sequence", Poco::Dynamic::Var());
  m->set("usage", usage(r, output_tokens));
  return m;
}

// One model as the list and the get-a-model call show it.
Object::Ptr model_object(const std::string& id) {
  Object::Ptr m = typed("model");
  m->set("id", id);
  m->set("display_name", "mockllm " + id);
  m->set("created_at", "2024-10-22T00:00:00Z");
  return m;
}

int estimate_prompt_tokens(const Array& messages) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < messages.size(); ++i)
    chars += string_field(messages.getObject(static_cast<unsigned>(i)), "content").size();
  return 3 + 4 * static_cast<int>(messages.size()) + estimate_tokens(chars);
}

class Anthropic final : public Dialect {
 public:
  std::string error_json(Fault fault, int, const std::string& message) const override {
    return error_body(error_type(fault), message);
  }

  std::string key_message(bool given) const override {
    return given ? "invalid x-api-key" : "x-api-key header is required";
  }

  int key_status(bool) const override { return 401; }

  std::string no_model_message(const std::string& model) const override {
    return "model: " + model;
  }

  std::string models_json(const std::vector<std::string>& models) const override {
    Array::Ptr data = new Array;
    for (const std::string& id : models) data->add(model_object(id));
    Object::Ptr o = ordered();
    o->set("data", data);
    o->set("has_more", false);
    o->set("first_id", models.front());
    o->set("last_id", models.back());
    return text(o);
  }

  Result<CompletionRequest> parse_completion(const std::string& body) const override {
    Result<Object::Ptr> parsed = parse_object(body);
    if (!parsed) return parsed.error();
    const Object::Ptr& o = *parsed;
    CompletionRequest r;
    if (!o->has("model") || !o->get("model").isString())
      return invalid("model: Field required (a string)");
    r.model = o->getValue<std::string>("model");
    const Poco::Dynamic::Var max =
        o->has("max_tokens") ? o->get("max_tokens") : Poco::Dynamic::Var();
    if (!max.isInteger() || max.isBoolean() || max.convert<long long>() < 1)
      return invalid("max_tokens: Field required (a positive integer)");
    r.max_tokens = static_cast<int>(std::min<long long>(max.convert<long long>(), 1'000'000'000));
    Array::Ptr messages = o->getArray("messages");
    if (!messages || messages->size() == 0)
      return invalid("messages: Field required (a non-empty array)");
    r.prompt_tokens = estimate_prompt_tokens(*messages);
    if (o->has("stream") && !o->get("stream").isEmpty()) {
      if (!o->get("stream").isBoolean()) return invalid("stream: Input should be a valid boolean");
      r.stream = o->getValue<bool>("stream");
    }
    return r;
  }

  std::string reply_id(std::uint64_t n) const override { return "msg_mock" + std::to_string(n); }

  std::string whole_json(const Reply& r) const override {
    Array::Ptr content = new Array;
    content->add(text_block(reply_text(r.tokens)));
    return text(message(r, content, stop_reason(r), r.tokens));
  }

  std::vector<Event> head_events(const Reply& r) const override {
    Object::Ptr start = typed("message_start");
    start->set("message", message(r, new Array, nullptr, 1));
    Object::Ptr block = typed("content_block_start");
    block->set("index", 0);
    block->set("content_block", text_block(""));
    return {{"message_start", text(start)},
            {"content_block_start", text(block)},
            {"ping", text(typed("ping"))}};
  }

  Event token_event(const Reply&, int index, bool) const override {
    Object::Ptr delta = typed("text_delta");
    delta->set("text", token_text(index));
    Object::Ptr o = typed("content_block_delta");
    o->set("index", 0);
    o->set("delta", delta);
    return {"content_block_delta", text(o)};
  }

  std::vector<Event> end_events(const Reply& r, bool marker) const override {
    Object::Ptr stop = typed("content_block_stop");
    stop->set("index", 0);
    Object::Ptr delta = ordered();
    delta->set("stop_reason", stop_reason(r));
    delta->set("stop_sequence", Poco::Dynamic::Var());
    Object::Ptr out_tokens = ordered();
    out_tokens->set("output_tokens", r.tokens);
    Object::Ptr message_delta = typed("message_delta");
    message_delta->set("delta", delta);
    message_delta->set("usage", out_tokens);
    std::vector<Event> events = {{"content_block_stop", text(stop)},
                                 {"message_delta", text(message_delta)}};
    if (marker) events.push_back({"message_stop", text(typed("message_stop"))});
    return events;
  }

  Event error_event() const override {
    return {"error", error_body("overloaded_error", "Overloaded")};
  }
};

}  // namespace

const Dialect& anthropic_dialect() {
  static const Anthropic d;
  return d;
}

std::string anthropic_model_json(const std::string& id) { return text(model_object(id)); }

}  // namespace linewatch::mockllm

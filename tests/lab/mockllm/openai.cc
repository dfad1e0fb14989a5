#include "tests/lab/mockllm/openai.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <array>
#include <sstream>

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr ordered() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

std::string text(const Object::Ptr& o) {
  std::ostringstream out;
  o->stringify(out);
  return out.str();
}

// Roughly what a BPE tokenizer gives for English (4 characters a token) plus
// the per-message framing OpenAI counts; good enough for usage figures.
int estimate_prompt_tokens(const Array& messages) {
  int tokens = 3;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    tokens += 4;
    Object::Ptr m = messages.getObject(static_cast<unsigned>(i));
    if (m && m->has("content") && m->get("content").isString())
      tokens += static_cast<int>((m->getValue<std::string>("content").size() + 3) / 4);
  }
  return tokens;
}

Object::Ptr chunk(const ReplyHead& head, Object::Ptr delta, const std::string& finish_reason) {
  Object::Ptr choice = ordered();
  choice->set("index", 0);
  choice->set("delta", delta);
  if (finish_reason.empty())
    choice->set("finish_reason", Poco::Dynamic::Var());
  else
    choice->set("finish_reason", finish_reason);
  Array::Ptr choices = new Array;
  choices->add(choice);
  Object::Ptr o = ordered();
  o->set("id", head.id);
  o->set("object", "chat.completion.chunk");
  o->set("created", head.created);
  o->set("model", head.model);
  o->set("choices", choices);
  return o;
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

}  // namespace

Result<ChatRequest> parse_chat_request(const std::string& body) {
  Result<Object::Ptr> parsed = parse_object(body);
  if (!parsed) return parsed.error();
  const Object::Ptr& o = *parsed;
  ChatRequest r;
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
  if (o->has("max_tokens") && !o->get("max_tokens").isEmpty()) {
    const Poco::Dynamic::Var& v = o->get("max_tokens");
    if (!v.isInteger() || v.convert<long long>() < 1)
      return invalid("'max_tokens' must be a positive integer");
    r.max_tokens = static_cast<int>(std::min<long long>(v.convert<long long>(), 1'000'000'000));
  }
  return r;
}

std::string token_text(int index) {
  static constexpr std::array<const char*, 12> kWords = {
      "This", "is", "a", "mock", "reply", "from", "the", "far", "end", "of", "the", "line."};
  const char* word = kWords[static_cast<std::size_t>(index) % kWords.size()];
  return index == 0 ? std::string(word) : std::string(" ") + word;
}

std::string error_json(const std::string& message, const std::string& type,
                       const std::string& code) {
  Object::Ptr e = ordered();
  e->set("message", message);
  e->set("type", type);
  e->set("param", Poco::Dynamic::Var());
  if (code.empty())
    e->set("code", Poco::Dynamic::Var());
  else
    e->set("code", code);
  Object::Ptr o = ordered();
  o->set("error", e);
  return text(o);
}

std::string models_json(const std::vector<std::string>& models, std::int64_t created) {
  Array::Ptr data = new Array;
  for (const std::string& id : models) {
    Object::Ptr m = ordered();
    m->set("id", id);
    m->set("object", "model");
    m->set("created", created);
    m->set("owned_by", "mockllm");
    data->add(m);
  }
  Object::Ptr o = ordered();
  o->set("object", "list");
  o->set("data", data);
  return text(o);
}

std::string completion_json(const ReplyHead& head, const std::string& content,
                            const std::string& finish_reason, int prompt_tokens,
                            int completion_tokens) {
  Object::Ptr message = ordered();
  message->set("role", "assistant");
  message->set("content", content);
  Object::Ptr choice = ordered();
  choice->set("index", 0);
  choice->set("message", message);
  choice->set("finish_reason", finish_reason);
  Array::Ptr choices = new Array;
  choices->add(choice);
  Object::Ptr usage = ordered();
  usage->set("prompt_tokens", prompt_tokens);
  usage->set("completion_tokens", completion_tokens);
  usage->set("total_tokens", prompt_tokens + completion_tokens);
  Object::Ptr o = ordered();
  o->set("id", head.id);
  o->set("object", "chat.completion");
  o->set("created", head.created);
  o->set("model", head.model);
  o->set("choices", choices);
  o->set("usage", usage);
  return text(o);
}

std::string role_chunk_json(const ReplyHead& head) {
  Object::Ptr delta = ordered();
  delta->set("role", "assistant");
  delta->set("content", "");
  return text(chunk(head, delta, ""));
}

std::string content_chunk_json(const ReplyHead& head, const std::string& content) {
  Object::Ptr delta = ordered();
  delta->set("content", content);
  return text(chunk(head, delta, ""));
}

std::string final_chunk_json(const ReplyHead& head, const std::string& finish_reason) {
  return text(chunk(head, ordered(), finish_reason));
}

}  // namespace linewatch::mockllm

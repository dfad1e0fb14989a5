// Internal to mockllm: each flavour's wire formats, without sockets. A
// Dialect parses a completion request and writes the JSON of model lists,
// errors, whole replies and stream events as that provider does.
//
// The three dialects are immutable singletons: thread-safe, never freed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/lab/mockllm/behaviour.h"

namespace linewatch::mockllm {

// Why a request failed, in the mock's words; each dialect names it its own
// way (OpenAI type/code, Anthropic error type, Gemini status).
enum class Fault {
  bad_request,   // 400
  bad_key,       // 401, or the dialect's key_status(), or Behaviour::reject_status
  forbidden,     // 403
  no_route,      // 404: unknown path
  no_model,      // 404: unknown model
  bad_method,    // 405
  too_large,     // 413
  rate_limited,  // 429
  server_error,  // 500
  unavailable,   // 503
  overloaded,    // 529
};
int http_status(Fault f);
// The fault a Behaviour::forced_status stands for.
Fault forced_fault(int status);

// What a completion request asked for, as far as the mock cares.
struct CompletionRequest {
  std::string model;  // Gemini: from the path, filled by the caller
  bool stream = false;
  int prompt_tokens = 0;          // a rough estimate (4 characters a token)
  std::optional<int> max_tokens;  // caps the reply when given
  bool include_usage = false;     // OpenAI stream_options.include_usage
};

// One reply being made.
struct Reply {
  std::string id;
  std::int64_t created = 0;  // unix seconds
  std::string model;
  int prompt_tokens = 0;
  int tokens = 0;    // content tokens in the full reply
  bool cut = false;  // max tokens cut the reply: "length", "max_tokens", "MAX_TOKENS"
  bool include_usage = false;
};

// One server-sent event; `name` "" means no `event:` line.
struct Event {
  std::string name;
  std::string data;
};

class Dialect {
 public:
  virtual ~Dialect() = default;

  // The error body; `status` is the HTTP status it goes with.
  virtual std::string error_json(Fault fault, int status, const std::string& message) const = 0;
  // The message of a key answer: `given` false when no key was sent at all.
  virtual std::string key_message(bool given) const = 0;
  // The provider's own status for a key answer (Behaviour::reject_status 0).
  virtual int key_status(bool given) const = 0;
  // The message of a 404 for a model not served.
  virtual std::string no_model_message(const std::string& model) const = 0;
  virtual std::string models_json(const std::vector<std::string>& models) const = 0;

  // Success: the request. Failure: invalid_argument with a message fit for a
  // 400 reply (bad JSON, a required field missing or of the wrong type).
  virtual Result<CompletionRequest> parse_completion(const std::string& body) const = 0;
  // The reply id for the process-wide sequence number `n`.
  virtual std::string reply_id(std::uint64_t n) const = 0;
  virtual std::string whole_json(const Reply& r) const = 0;

  // Stream events: those before the first content, content token `index`
  // (0-based; `finish` true when it is the last token and the end marker is
  // wanted: a dialect that ends on its last content, Gemini, marks it there),
  // those after the last content (`marker` false: without the end marker),
  // and the error event sent mid-stream by error_after_tokens.
  virtual std::vector<Event> head_events(const Reply& r) const = 0;
  virtual Event token_event(const Reply& r, int index, bool finish) const = 0;
  virtual std::vector<Event> end_events(const Reply& r, bool marker) const = 0;
  virtual Event error_event() const = 0;
};

const Dialect& dialect(Flavour f);
// The singletons dialect() picks from, one per file (openai.cc, anthropic.cc, gemini.cc).
const Dialect& openai_dialect();
const Dialect& anthropic_dialect();
const Dialect& gemini_dialect();

// Anthropic's answer to GET /v1/models/ID for the listed model `id`
// ({"type":"model","id",...}). Only Anthropic's single-model call is served:
// the probe asks it because Anthropic's list holds no aliases.
std::string anthropic_model_json(const std::string& id);

// The text of reply token `index` (0-based); tokens concatenate into prose.
std::string token_text(int index);
// The content of the first `tokens` tokens.
std::string reply_text(int tokens);

}  // namespace linewatch::mockllm

// The three LLM API dialects on the wire, without sockets: the requests an
// `llm` probe sends, and what their answers mean.
//
//   flavour     models call                      completion call (streaming)
//   openai      GET {base}/models                POST {base}/chat/completions, "stream":true
//   anthropic   GET {base}/models/MODEL          POST {base}/messages, "stream":true
//   gemini      GET {base}/models?pageSize=1000  POST {base}/models/MODEL:streamGenerateContent
//                                                     ?alt=sse
//
// Auth headers: openai "Authorization: Bearer KEY"; anthropic "x-api-key: KEY"
// and "anthropic-version"; gemini "x-goog-api-key: KEY".
//
// OpenAI lists exact ids and Gemini names, so their model lists are searched
// (Gemini pages its list; one page of 1000 holds it all). Anthropic lists
// only dated ids ("claude-3-5-haiku-20241022"), never the aliases
// ("claude-3-5-haiku-latest") its messages call accepts, so the probe asks
// for the one model instead ("get a model", which resolves an alias).
// MODEL is options.model (Gemini's without a leading "models/") with every
// byte but letters, digits and "-._~" percent-encoded: one path segment.
// The completion asks for at most LlmOptions::max_tokens tokens (clamped to
// 1..5) of a fixed short prompt. Everything here is pure and reentrant.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/llm_options.h"
#include "probes/sse.h"

namespace linewatch {

// One HTTP request, ready for format_request() (probes/http_wire.h).
// `headers` hold the key: never log, store or print a request.
struct LlmRequest {
  std::string method;  // "GET" or "POST"
  std::string target;  // origin-form path and query: "/v1/models"
  // Auth and Accept; for a POST also Content-Type and the body's Content-Length
  // (format_request() would otherwise send "Content-Length: 0").
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // "" for GET
};

// `base_path` is the path of LlmOptions::base_url ("/v1", "" for none), with
// no trailing slash. `api_key` goes into the flavour's auth header(s).
LlmRequest models_request(const LlmOptions& options, std::string_view base_path,
                          std::string_view api_key);
LlmRequest completion_request(const LlmOptions& options, std::string_view base_path,
                              std::string_view api_key);

// Whether a 2xx model-list body names options.model. OpenAI (and Anthropic's
// list) {"data":[{"id":...}]}; Gemini lists {"models":[{"name":"models/NAME"}]}
// and "NAME" or "models/NAME" both match. Failure (Error, kind invalid): the
// body is not such a JSON document; the message is printable and short.
Result<bool> model_listed(LlmFlavour flavour, std::string_view body, std::string_view model);

// The id a 2xx Anthropic model object names: {"type":"model","id":...}, the
// dated id when an alias was asked for. Success: the id, printable and short.
// Failure (Error, kind invalid): the body is not such an object (no "id"
// string, or a "type" other than "model"); the message is printable and short.
Result<std::string> model_object_id(std::string_view body);

// The provider's own error text from an error answer's body
// ({"error":{"message":...}} and the like; gateways' {"error":"..."},
// {"message":...} or {"detail":...}; the error's type when it has no
// message), made printable and short (printable_detail); "" when the body
// holds none. Never echoes request headers.
std::string api_error_message(std::string_view body);

// The error's type from an error answer's body: {"error":{"type":...}}
// (OpenAI, Anthropic's "not_found_error"), or Gemini's "status"
// ("NOT_FOUND"); printable and short; "" when the body holds none.
std::string api_error_type(std::string_view body);

// Whether an error answer's body says the API key itself was refused, the way
// Google's APIs say it: {"error":{"details":[{"@type":
// "type.googleapis.com/google.rpc.ErrorInfo","reason":R}]}} with R one of
// google.api.ErrorReason's key reasons (API_KEY_INVALID, the API_KEY_*_BLOCKED
// restrictions, ACCESS_TOKEN_EXPIRED). Gemini answers a wrong key with 400
// INVALID_ARGUMENT, which the status alone cannot tell from a bad request.
bool api_key_refused(std::string_view body);

// What one stream event meant.
struct StreamStep {
  enum class Kind {
    nothing,  // metadata, role-only deltas, pings: no content
    content,  // at least one content token (non-empty text)
    done,     // the flavour's end: [DONE], message_stop, or a Gemini finishReason
    error,    // an error event in the stream
    bad,      // an event this flavour cannot send (unparseable JSON)
  };
  Kind kind = Kind::nothing;
  int tokens = 0;  // content: text pieces carried (one per delta / part)
  // error: the provider's error type ("overloaded_error", "rate_limit_error",
  // Gemini's status "UNAVAILABLE" or a blocked prompt's "SAFETY", ...; "" when
  // none) and message; bad: why. Printable and short.
  std::string error_type;
  std::string detail;
};

// Reads one flavour's completion stream, event by event.
// Thread-safety: one decoder per stream, one thread at a time.
class LlmStreamDecoder {
 public:
  explicit LlmStreamDecoder(LlmFlavour flavour) : flavour_(flavour) {}

  // Classifies `event`. A content step may also be the end (Gemini sends text
  // and finishReason in one chunk): then it is reported as content and done()
  // turns true.
  StreamStep on_event(const SseEvent& event);

  bool done() const { return done_; }     // the flavour's end marker was seen
  int tokens() const { return tokens_; }  // content pieces so far

 private:
  LlmFlavour flavour_;
  bool done_ = false;
  int tokens_ = 0;
};

}  // namespace linewatch

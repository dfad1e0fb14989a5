// Internal to mockllm: which flavour and API call a request is, from its
// path and headers alone. Pure, thread-safe.
//
// A path may start with a flavour prefix, /openai, /anthropic or /gemini,
// which picks the flavour outright and is stripped: a probe whose base URL is
// http://HOST/anthropic/v1 reaches Anthropic's routes whatever it sends.
// Without a prefix:
//   /v1beta/...        gemini
//   /v1/messages       anthropic
//   other /v1/ paths   anthropic when the request has an x-api-key or an
//                      anthropic-version header, else openai (/v1/models is
//                      both OpenAI's and Anthropic's model list)
// Calls per flavour (API path, after any prefix):
//   openai      GET /v1/models      POST /v1/chat/completions
//   anthropic   GET /v1/models      POST /v1/messages
//               GET /v1/models/MODEL  (one model; MODEL percent-decoded)
//   gemini      GET /v1beta/models  POST /v1beta/models/MODEL:streamGenerateContent
//                                   POST /v1beta/models/MODEL:generateContent
//               (/v1 for /v1beta too, behind the /gemini prefix only)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tests/lab/mockllm/behaviour.h"

namespace linewatch::mockllm {

// models: the model list; model: one model (Anthropic's "get a model").
enum class Call { models, model, completion, unknown };

struct Route {
  Flavour flavour = Flavour::openai;
  Call call = Call::unknown;
  std::string api_path;  // the path without the flavour prefix
  std::string model;     // gemini completion, anthropic model: the MODEL of the path
  bool stream = false;   // gemini completion: streamGenerateContent
};

// nullopt: not an API path (no flavour prefix, not under /v1/ or /v1beta/).
std::optional<Route> route(std::string_view path, bool anthropic_headers);

// The method a call takes: "GET" for models and model, "POST" for
// completion, "" for unknown.
std::string_view method_of(Call call);

}  // namespace linewatch::mockllm

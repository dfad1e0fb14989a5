// LlmOptions: what an `llm` probe of one target is configured with.
//
// Plain value type, filled by the config loader and read by probes/llm*. It
// holds where the API key comes from (an environment variable or a file),
// never the key itself: the key is read by the probe for each round and kept
// only in that round's request, so a Config can be printed, logged or copied
// without carrying a secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"

namespace linewatch {

// The API dialect: request paths, auth headers, bodies and stream events.
// `openai` covers OpenAI-compatible gateways too.
enum class LlmFlavour : std::uint8_t { openai, anthropic, gemini };

// `models`: the provider's model-list call (free). `completion`: one streaming
// request for a tiny completion, timed to its first content token (costs money).
enum class LlmMode : std::uint8_t { models, completion };

std::string_view to_string(LlmFlavour f);
std::string_view to_string(LlmMode m);
std::optional<LlmFlavour> llm_flavour_from_string(std::string_view s);
std::optional<LlmMode> llm_mode_from_string(std::string_view s);

struct LlmOptions {
  LlmFlavour flavour = LlmFlavour::openai;
  // Scheme, host, optional port and the API's path prefix, without a trailing
  // slash: "https://api.openai.com/v1", "https://api.anthropic.com/v1",
  // "https://generativelanguage.googleapis.com/v1beta".
  std::string base_url;
  std::string model;  // "gpt-4o-mini", "claude-3-5-haiku-latest", "gemini-1.5-flash"
  // Exactly one of the two is set by the loader.
  std::string api_key_env;   // name of the environment variable holding the key
  std::string api_key_file;  // path of a file holding the key (surrounding whitespace trimmed)
  LlmMode mode = LlmMode::models;
  int max_tokens = 5;  // completion: the most tokens asked for (1..5)
  // completion: the longest gap between two stream reads before the round
  // ends with reason stream_stall.
  Duration stall = std::chrono::seconds(5);
  // TLS, as for `http`.
  bool tls_verify = true;
  std::string ca_file;      // "" = system store
  std::string server_name;  // SNI and verification name; "" = URL host
  // Anthropic's required API version header value.
  std::string anthropic_version = "2023-06-01";
};

}  // namespace linewatch

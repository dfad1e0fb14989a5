// mockllm's knobs: the API flavours it speaks and, per flavour, how it
// answers (keys, models, pacing, failures, stream framing).
//
// Plain values; validate() and the helpers are pure and thread-safe. The
// Server holds one Behaviour per flavour and swaps them whole (see server.h).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace linewatch::mockllm {

// The API dialects served side by side (see route.h for how a request's
// flavour is chosen).
enum class Flavour : std::uint8_t { openai, anthropic, gemini };
inline constexpr std::array<Flavour, 3> kFlavours = {Flavour::openai, Flavour::anthropic,
                                                     Flavour::gemini};
std::string_view to_string(Flavour f);
std::optional<Flavour> flavour_from_string(std::string_view s);

struct Behaviour {
  // Auth and listing.
  std::vector<std::string> keys;  // accepted API keys; empty: no key needed
  // Answer to a missing or wrong key: 0 = the provider's own (Gemini: 400
  // API_KEY_INVALID for a wrong key, 403 for none; OpenAI, Anthropic: 401);
  // 401 or 403 = that status for both.
  int reject_status = 0;
  std::vector<std::string> models;  // listed and accepted; never empty

  // Pacing of a completion, counted from the moment its request head was read.
  Duration ttft = std::chrono::milliseconds(200);           // to the first content byte
  Duration token_interval = std::chrono::milliseconds(20);  // between content events
  int tokens = 20;  // content events of a full reply (the request's max tokens may cut it)

  // Failures. forced_status 0: none; 403, 429, 500, 503 or 529: every API
  // request of the flavour that passes auth gets it (429 with Retry-After).
  int forced_status = 0;
  std::chrono::seconds retry_after{1};
  bool stall_before_headers = false;  // a completion gets no byte at all, the connection stays open
  // Streams only; -1: off. N >= 0: after N content events (at most the
  // reply's), stall = send nothing more and keep the connection open;
  // error = send the flavour's error event and end the stream.
  int stall_after_tokens = -1;
  int error_after_tokens = -1;
  bool omit_end_marker = false;  // end a stream without [DONE] / message_stop / finishReason

  // Stream framing.
  Duration keepalive = Duration::zero();  // > 0: ": keep-alive" after this long without a write
  bool crlf = false;                      // line ends "\r\n" instead of "\n"
  bool split_events = false;              // each event written in three pieces (see stream.h)
};

// Indexed by Flavour.
using Behaviours = std::array<Behaviour, 3>;
inline Behaviour& of(Behaviours& all, Flavour f) { return all[static_cast<std::size_t>(f)]; }
inline const Behaviour& of(const Behaviours& all, Flavour f) {
  return all[static_cast<std::size_t>(f)];
}

// The models a flavour lists by default: a real-looking id and "mock-1"
// (Anthropic's dated, as Anthropic lists them).
std::vector<std::string> default_models(Flavour f);
// The listed model `id` names, Anthropic's way: `id` itself when listed, or
// for an alias "NAME-latest" the newest listed "NAME-YYYYMMDD"; nullopt when
// none.
std::optional<std::string> resolve_model(const std::vector<std::string>& models,
                                         std::string_view id);
// Behaviour{} with default_models(f), for each flavour.
Behaviours default_behaviours();

// Bounds that keep every request's hold on a thread finite.
inline constexpr Duration kMaxTtft = std::chrono::minutes(10);
inline constexpr Duration kMaxTokenInterval = std::chrono::minutes(1);
inline constexpr Duration kMaxKeepalive = std::chrono::minutes(1);
inline constexpr int kMaxTokens = 100'000;
// The longest a stall holds a connection when the client does not hang up.
inline constexpr Duration kMaxStall = std::chrono::minutes(10);

// Success: ok. Failure: invalid_argument naming the knob out of range.
Status validate(const Behaviour& b);

}  // namespace linewatch::mockllm

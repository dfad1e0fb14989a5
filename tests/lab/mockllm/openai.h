// Internal to mockllm: the OpenAI wire formats (request parsing and the JSON
// bodies of replies, chunks and errors). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace linewatch::mockllm {

struct ChatRequest {
  std::string model;
  bool stream = false;
  int prompt_tokens = 0;          // estimated: see estimate in openai.cc
  std::optional<int> max_tokens;  // caps the reply when given
};

// Success: the request. Failure: invalid_argument with a message fit for a
// 400 reply (not JSON, not an object, "model" or "messages" missing or of the
// wrong type, "stream" not a boolean, "max_tokens" not a positive integer).
Result<ChatRequest> parse_chat_request(const std::string& body);

// The text of reply token `index` (0-based); tokens concatenate into prose.
std::string token_text(int index);

// {"error":{"message":..,"type":..,"param":null,"code":..}}; an empty code is
// written as null.
std::string error_json(const std::string& message, const std::string& type,
                       const std::string& code);

// {"object":"list","data":[{"id":..,"object":"model","created":..,"owned_by":"mockllm"}]}
std::string models_json(const std::vector<std::string>& models, std::int64_t created);

// Fields shared by a completion and its chunks.
struct ReplyHead {
  std::string id;
  std::int64_t created = 0;  // unix seconds
  std::string model;
};

// A complete chat.completion object.
std::string completion_json(const ReplyHead& head, const std::string& content,
                            const std::string& finish_reason, int prompt_tokens,
                            int completion_tokens);

// One chat.completion.chunk. The first carries the role, the middle ones one
// token of content, the last an empty delta and the finish reason.
std::string role_chunk_json(const ReplyHead& head);
std::string content_chunk_json(const ReplyHead& head, const std::string& content);
std::string final_chunk_json(const ReplyHead& head, const std::string& finish_reason);

}  // namespace linewatch::mockllm

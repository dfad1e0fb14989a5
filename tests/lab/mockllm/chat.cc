// POST /v1/chat/completions: whole replies and server-sent-event streams,
// paced by the Behaviour in force when the request arrived.
#include <chrono>
#include <ostream>

#include "tests/lab/mockllm/handler.h"
#include "tests/lab/mockllm/openai.h"

namespace linewatch::mockllm {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

ReplyHead make_head(SharedState& state, const std::string& model) {
  return {state.next_completion_id(),
          std::chrono::duration_cast<std::chrono::seconds>(
              std::chrono::system_clock::now().time_since_epoch())
              .count(),
          model};
}

// Writes one event and pushes it out as its own HTTP chunk. False when the
// client has gone (the stream is bad), so the caller stops pacing.
bool send_event(std::ostream& out, const std::string& data) {
  out << "data: " << data << "\n\n";
  out.flush();
  return static_cast<bool>(out);
}

// Headers go out at once (a provider accepts the request before it has a
// token), then the role chunk at start + ttft, content chunk i (1-based) at
// start + ttft + i * interval, the final chunk and [DONE] right after.
void stream_reply(SharedState& state, HTTPServerResponse& response, const ReplyHead& head,
                  const Behaviour& b, int tokens, const std::string& finish, MonoTime start,
                  std::string& note) {
  response.setContentType("text/event-stream");
  response.set("Cache-Control", "no-cache");
  response.setChunkedTransferEncoding(true);
  std::ostream& out = response.send();
  out.flush();
  const MonoTime first = start + b.ttft;
  if (!state.sleep_until(first)) {
    note = "stopping";
    return;
  }
  if (!send_event(out, role_chunk_json(head))) {
    note = "client_gone";
    return;
  }
  for (int i = 0; i < tokens; ++i) {
    if (!state.sleep_until(first + (i + 1) * b.token_interval)) {
      note = "stopping";
      return;
    }
    if (!send_event(out, content_chunk_json(head, token_text(i)))) {
      note = "client_gone";
      return;
    }
  }
  if (!send_event(out, final_chunk_json(head, finish)) || !send_event(out, "[DONE]"))
    note = "client_gone";
}

}  // namespace

void serve_chat(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response,
                MonoTime start, std::string& note) {
  Result<std::string> body = read_body(request, kMaxBody);
  if (!body) return send_error(response, 413, body.error().message, "invalid_request_error", "");
  Result<ChatRequest> chat = parse_chat_request(*body);
  if (!chat) return send_error(response, 400, chat.error().message, "invalid_request_error", "");
  if (!state.has_model(chat->model)) {
    return send_error(
        response, 404,
        "The model `" + chat->model + "` does not exist or you do not have access to it.",
        "invalid_request_error", "model_not_found");
  }
  const Behaviour b = state.behaviour();
  const int tokens = chat->max_tokens ? std::min(b.tokens, *chat->max_tokens) : b.tokens;
  // As OpenAI does: a reply cut short by max_tokens finishes with "length".
  const std::string finish = tokens < b.tokens ? "length" : "stop";
  const ReplyHead head = make_head(state, chat->model);
  if (chat->stream) return stream_reply(state, response, head, b, tokens, finish, start, note);

  if (!state.sleep_until(start + b.ttft + tokens * b.token_interval)) {
    note = "stopping";
    return send_error(response, 503, "mockllm is shutting down", "server_error", "");
  }
  std::string content;
  for (int i = 0; i < tokens; ++i) content += token_text(i);
  send_json(response, 200, completion_json(head, content, finish, chat->prompt_tokens, tokens));
}

}  // namespace linewatch::mockllm

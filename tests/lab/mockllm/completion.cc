// The completion calls of every flavour: parse, check the model, then a
// whole reply or a stream (stream.h), paced by the Behaviour in force when
// the request arrived.
#include <algorithm>
#include <chrono>
#include <ostream>

#include "tests/lab/mockllm/handler.h"
#include "tests/lab/mockllm/stream.h"

namespace linewatch::mockllm {
namespace {

using Poco::Net::HTTPServerResponse;

Reply make_reply(SharedState& state, const Dialect& d, const CompletionRequest& c,
                 const Behaviour& b) {
  Reply r;
  r.id = d.reply_id(state.next_reply_number());
  r.created = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  r.model = c.model;
  r.prompt_tokens = c.prompt_tokens;
  r.tokens = c.max_tokens ? std::min(b.tokens, *c.max_tokens) : b.tokens;
  r.cut = r.tokens < b.tokens;  // as providers do: a reply cut by max tokens says so
  r.include_usage = c.include_usage;
  return r;
}

// Headers go out at once (a provider accepts the request before it has a
// token), the events as stream_reply() paces them.
End send_stream(const Dialect& d, const Reply& r, const Behaviour& b, HTTPServerResponse& response,
                const Pacer& pacer, MonoTime start, Record& rec) {
  response.setContentType("text/event-stream");
  response.set("Cache-Control", "no-cache");
  response.setChunkedTransferEncoding(true);
  rec.headers = stamp_now();
  std::ostream& out = response.send();
  out.flush();
  SseStream stream(out, pacer, b);
  const End end = stream_reply(stream, d, r, b, start, rec);
  // A stalled or cut connection is not reused, as a provider's would not be.
  if (end != End::done && end != End::no_end_marker && end != End::error_event)
    response.setKeepAlive(false);
  return end;
}

// The whole reply when its last token would have been streamed.
End send_whole(const Dialect& d, const Reply& r, const Behaviour& b, HTTPServerResponse& response,
               const Pacer& pacer, MonoTime start, Record& rec) {
  const Wake w = pacer.wait_until(start + b.ttft + (r.tokens - 1) * b.token_interval);
  if (w == Wake::stopping) {
    send_error(response, d, Fault::unavailable, "mockllm is shutting down");
    return End::stopping;
  }
  if (w == Wake::client_gone) return End::client_gone;
  rec.headers = rec.first_content = stamp_now();
  rec.tokens = r.tokens;
  send_json(response, 200, d.whole_json(r));
  return End::done;
}

}  // namespace

void serve_completion(SharedState& state, const Route& route, const Behaviour& b,
                      Poco::Net::HTTPServerRequest& request, HTTPServerResponse& response,
                      const Pacer& pacer, MonoTime start, Record& rec) {
  const Dialect& d = dialect(route.flavour);
  Result<std::string> body = read_body(request, kMaxBody);
  if (!body) return send_error(response, d, Fault::too_large, body.error().message);
  Result<CompletionRequest> c = d.parse_completion(*body);
  if (!c) return send_error(response, d, Fault::bad_request, c.error().message);
  if (route.flavour == Flavour::gemini) {
    c->model = route.model;
    c->stream = route.stream;
  }
  rec.model = c->model;
  rec.stream = c->stream;
  // Anthropic takes its aliases ("-latest") where its list has dated ids only.
  const bool served = route.flavour == Flavour::anthropic
                          ? resolve_model(b.models, c->model).has_value()
                          : std::find(b.models.begin(), b.models.end(), c->model) != b.models.end();
  if (!served) return send_error(response, d, Fault::no_model, d.no_model_message(c->model));
  const Reply r = make_reply(state, d, *c, b);
  rec.id = r.id;
  if (b.stall_before_headers) {
    pacer.wait_until(std::chrono::steady_clock::now() + kMaxStall);
    response.setKeepAlive(false);
    rec.end = End::stalled;
    return;
  }
  rec.end = c->stream ? send_stream(d, r, b, response, pacer, start, rec)
                      : send_whole(d, r, b, response, pacer, start, rec);
}

}  // namespace linewatch::mockllm

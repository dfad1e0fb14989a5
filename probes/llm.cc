// The LLM probe: one models call (the model list, or Anthropic's
// get-a-model), or one streamed completion timed to its first content token,
// through one line. Connection set-up is HttpConnection's (http_conn.*),
// HTTP/1.1 framing ResponseReader's (http_wire.*), the dialects llm_wire.*,
// the event stream sse.*; this file times the round and decides what the
// answer means.
//
// The API key is read for the round (llm_key.h), goes into the request and
// nowhere else; its bytes are wiped when the round ends, and any detail that
// quotes the server has the key (or a long piece of it) redacted.
#include <Poco/Exception.h>
#include <Poco/URI.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <optional>
#include <string>

#include "core/units.h"
#include "probes/http_conn.h"
#include "probes/http_wire.h"
#include "probes/llm_key.h"
#include "probes/llm_wire.h"
#include "probes/probe.h"
#include "probes/sse.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

constexpr std::uint64_t kMaxModelsBody = 4 << 20;   // model lists run to a few hundred KB
constexpr std::uint64_t kMaxErrorBody = 16 * 1024;  // a provider's error JSON
constexpr std::uint64_t kMaxStreamBody = 1 << 20;   // a 5-token stream is a few KB

void wipe(std::string& s) { OPENSSL_cleanse(s.data(), s.size()); }

// What a status outside 2xx says (see core/probe_result.h), with the body for
// the one answer whose status misleads: Google's 400 for a wrong key.
Reason reason_for_error(int status, std::string_view body) {
  if (status == 401 || status == 403) return Reason::auth;
  if (status == 400 && api_key_refused(body)) return Reason::auth;
  if (status == 429) return Reason::rate_limited;
  if (status >= 500 && status <= 599) return Reason::server_error;
  return Reason::bad_response;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool target_is_clean(const std::string& target) {
  return std::none_of(target.begin(), target.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return b <= 0x20 || b == 0x7f;
  });
}

// One round. Not reentrant; used once by run_llm.
class LlmRound {
 public:
  LlmRound(const ProbeRequest& request, const std::string& key)
      : request_(request), o_(*request.spec.llm), key_(key) {
    r_.llm = LlmFigures{};
    r_.llm->mode = o_.mode;
  }

  ProbeResult run();

 private:
  LlmFigures& figures() { return *r_.llm; }
  void fail(Reason reason, std::string detail) {
    r_.ok = false;
    r_.reason = reason;
    r_.detail = std::move(detail);
  }
  void fail(const ProbeFailure& f) { fail(f.reason, f.detail); }

  // Builds, connects and writes the request. False when the round failed.
  bool send(const LlmRequest& wire, const Poco::URI& base);
  // A read for the ResponseReader, bounded by the round's deadline and, in
  // completion mode, by `stall` since the last bytes arrived.
  Outcome<std::size_t> receive(char* buf, std::size_t size);
  std::string stall_detail() const;

  void judge_error(const ResponseHead& head, ResponseReader& reader, const std::string& method);
  // Whether an error answer says the model asked for does not exist (Anthropic's
  // get-a-model call's 404 not_found_error).
  bool model_unknown(int status, std::string_view body) const;
  // Records a models call answered whole (read to its end just now).
  void finish_models_call();
  void judge_models(const ResponseHead& head, ResponseReader& reader);
  void judge_model_object(const std::string& body);
  void judge_stream(const ResponseHead& head, ResponseReader& reader);

  const ProbeRequest& request_;
  const LlmOptions& o_;
  const std::string& key_;
  ProbeResult r_;
  std::optional<HttpConnection> conn_;
  MonoTime start_{}, deadline_{}, written_{}, last_read_{}, head_at_{};
  bool watch_stall_ = false;
  bool head_seen_ = false;
};

bool LlmRound::send(const LlmRequest& wire, const Poco::URI& base) {
  Outcome<HttpEndpoint> endpoint = endpoint_of(base);
  if (!endpoint.ok()) return fail(endpoint.failure()), false;
  if (!target_is_clean(wire.target))
    return fail(Reason::internal, "request target holds spaces or control characters (not sent)"),
           false;
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : wire.headers) {
    // The value may be the key: only the name is ever named.
    if (std::string why = check_header_field(name, value); !why.empty())
      return fail(Reason::internal, "header " + name + ": " + why + " (not sent)"), false;
    headers[name] = value;
  }
  std::string text = format_request(wire.method, wire.target, host_header(base), headers);
  text += wire.body;
  for (auto& [name, value] : headers) wipe(value);

  HttpOptions tls;
  tls.tls_verify = o_.tls_verify;
  tls.ca_file = o_.ca_file;
  tls.server_name = o_.server_name;
  ConnectInfo info{&r_.phases, {}};
  Outcome<HttpConnection> conn = HttpConnection::open(endpoint.value(), request_.line.binding, tls,
                                                      request_.tls, deadline_, info);
  if (!conn.ok()) {
    wipe(text);
    return fail(conn.failure()), false;
  }
  r_.cert_expiry = info.cert_expiry;
  conn_.emplace(std::move(conn.value()));
  Outcome<std::size_t> sent = conn_->send_all(text, deadline_);
  wipe(text);
  if (!sent.ok()) return fail(sent.failure()), false;
  written_ = last_read_ = Steady::now();
  return true;
}

std::string LlmRound::stall_detail() const {
  const std::string quiet = "no byte for " + format_duration(o_.stall);
  if (!head_seen_) return quiet + " after the request was sent (nothing of the answer arrived)";
  const std::uint64_t bytes = r_.llm->stream_bytes;
  if (bytes == 0) return quiet + " after the status line (no byte of the body arrived)";
  return "the stream went quiet: " + quiet + " after " + std::to_string(bytes) + " body bytes";
}

Outcome<std::size_t> LlmRound::receive(char* buf, std::size_t size) {
  const bool stall_bounds = watch_stall_ && last_read_ + o_.stall < deadline_;
  const MonoTime until = stall_bounds ? last_read_ + o_.stall : deadline_;
  Outcome<std::size_t> got = conn_->receive_some(buf, size, until);
  if (got.ok()) {
    last_read_ = Steady::now();
    return got;
  }
  if (stall_bounds && got.failure().reason == Reason::timeout)
    return ProbeFailure{Reason::stream_stall, stall_detail()};
  return got;
}

void LlmRound::judge_error(const ResponseHead& head, ResponseReader& reader,
                           const std::string& method) {
  const int status = head.status;
  std::string detail = "status " + std::to_string(status);
  if (status == 429) {
    if (std::optional<std::string> value = head.header("retry-after")) {
      figures().retry_after = parse_retry_after(*value, request_.clock.wall_now());
      if (figures().retry_after)
        detail += " (retry after " + format_duration(*figures().retry_after) + ")";
    }
  }
  if (status >= 300 && status < 400) detail += " (redirects are not followed)";
  // The status decides, but for two answers whose body says more (a key
  // refused with 400, a model unknown with 404); otherwise the body only adds
  // the provider's words, so a body that does not come is no failure of its own.
  std::string body;
  const bool whole = reader.read_body(head, method, kMaxErrorBody, body).ok();
  figures().stream_bytes = body.size();
  const std::string said = api_error_message(body);
  if (whole && model_unknown(status, body)) {
    finish_models_call();
    figures().model_listed = false;
    return fail(Reason::model_missing, "model " + o_.model + " is unknown to the API (" + detail +
                                           (said.empty() ? "" : ": " + said) + ")");
  }
  if (!said.empty()) detail += ": " + said;
  fail(reason_for_error(status, body), detail);
}

bool LlmRound::model_unknown(int status, std::string_view body) const {
  // A gateway that lacks the call answers 404 too, in its own words: only
  // Anthropic's error type says the model is what was not found.
  return o_.mode == LlmMode::models && o_.flavour == LlmFlavour::anthropic && status == 404 &&
         api_error_type(body) == "not_found_error";
}

void LlmRound::finish_models_call() {
  const MonoTime end = Steady::now();
  r_.phases.transfer = end - head_at_;
  figures().total = end - written_;
  r_.rtt = end - start_;  // the whole call, connection included, as http's rtt
}

void LlmRound::judge_models(const ResponseHead& head, ResponseReader& reader) {
  std::string body;
  Outcome<std::uint64_t> got = reader.read_body(head, "GET", kMaxModelsBody, body);
  figures().stream_bytes = body.size();
  if (!got.ok()) {
    r_.phases.transfer = Steady::now() - head_at_;
    return fail(got.failure());
  }
  finish_models_call();
  if (o_.flavour == LlmFlavour::anthropic) return judge_model_object(body);
  Result<bool> listed = model_listed(o_.flavour, body, o_.model);
  if (!listed.ok())
    return fail(Reason::bad_response, "model list (" + std::to_string(body.size()) +
                                          " bytes): " + listed.error().message);
  figures().model_listed = *listed;
  if (!*listed)
    return fail(Reason::model_missing, "model " + o_.model + " is not in the model list (" +
                                           std::to_string(body.size()) + " bytes)");
  r_.ok = true;
}

void LlmRound::judge_model_object(const std::string& body) {
  // The resolved id is not kept: detail is for failures, and stored with
  // every round.
  Result<std::string> id = model_object_id(body);
  if (!id.ok())
    return fail(Reason::bad_response,
                "model object (" + std::to_string(body.size()) + " bytes): " + id.error().message);
  figures().model_listed = true;
  r_.ok = true;
}

void LlmRound::judge_stream(const ResponseHead& head, ResponseReader& reader) {
  if (std::optional<std::string> type = head.header("content-type");
      type && lower(*type).find("text/event-stream") == std::string::npos) {
    std::string body;
    (void)reader.read_body(head, "POST", kMaxErrorBody, body);
    figures().stream_bytes = body.size();
    std::string detail = "expected a text/event-stream answer, got " + type->substr(0, 60);
    if (std::string said = api_error_message(body); !said.empty()) detail += ": " + said;
    return fail(Reason::bad_response, detail);
  }
  SseParser parser;
  LlmStreamDecoder decoder(o_.flavour);
  std::vector<SseEvent> events;
  std::optional<StreamStep> broke;  // an error or bad event ended the stream
  std::string parse_error;
  LlmFigures& f = figures();
  auto sink = [&](std::string_view piece) {
    const MonoTime now = Steady::now();
    f.stream_bytes += piece.size();
    events.clear();
    if (Status fed = parser.feed(piece, events); !fed.ok()) {
      parse_error = fed.error().message;
      return false;
    }
    for (const SseEvent& event : events) {
      StreamStep step = decoder.on_event(event);
      if (step.kind == StreamStep::Kind::content && !f.ttft) f.ttft = now - written_;
      if (step.kind == StreamStep::Kind::error || step.kind == StreamStep::Kind::bad) {
        broke = std::move(step);
        return false;
      }
      if (decoder.done()) {
        f.total = now - written_;
        return false;
      }
    }
    return true;
  };
  Outcome<std::uint64_t> got = reader.stream_body(head, "POST", kMaxStreamBody, sink);
  r_.phases.transfer = Steady::now() - head_at_;
  f.tokens = decoder.tokens();
  if (!got.ok()) return fail(got.failure());
  if (!parse_error.empty()) return fail(Reason::bad_response, "stream: " + parse_error);
  if (broke && broke->kind == StreamStep::Kind::bad)
    return fail(Reason::bad_response, "stream: " + broke->detail);
  if (broke) {
    const bool rate = broke->error_type.find("rate_limit") != std::string::npos;
    std::string detail = "stream error";
    if (!broke->error_type.empty()) detail += " " + broke->error_type;
    if (!broke->detail.empty()) detail += ": " + broke->detail;
    return fail(rate ? Reason::rate_limited : Reason::server_error, detail);
  }
  if (!decoder.done()) {
    if (got.value() >= kMaxStreamBody)
      return fail(Reason::bad_response,
                  "stream longer than " + format_bytes(kMaxStreamBody) + " without an end marker");
    return fail(Reason::bad_response, "the stream ended before its end marker (" +
                                          std::to_string(f.stream_bytes) + " bytes, " +
                                          std::to_string(f.tokens) + " content pieces)");
  }
  f.stream_complete = true;
  if (!f.ttft)
    return fail(Reason::bad_response,
                "the stream ended without a content token (a reasoning model may spend "
                "max_tokens before any text)");
  r_.rtt = f.ttft;
  r_.ok = true;
}

ProbeResult LlmRound::run() {
  start_ = Steady::now();
  deadline_ = start_ + request_.spec.timing.timeout;
  const Poco::URI base(o_.base_url);
  std::string base_path = base.getPath();
  while (!base_path.empty() && base_path.back() == '/') base_path.pop_back();
  const bool completion = o_.mode == LlmMode::completion;
  LlmRequest wire =
      completion ? completion_request(o_, base_path, key_) : models_request(o_, base_path, key_);
  const bool sent = send(wire, base);
  for (auto& [name, value] : wire.headers) wipe(value);
  if (!sent) return std::move(r_);

  watch_stall_ = completion;
  ResponseReader reader([this](char* buf, std::size_t size) { return receive(buf, size); });
  Outcome<ResponseHead> head = reader.read_head();
  if (!head.ok()) {
    fail(head.failure());
    return std::move(r_);
  }
  head_at_ = Steady::now();
  head_seen_ = true;
  r_.phases.ttfb = head_at_ - written_;
  r_.http_status = head.value().status;
  if (r_.http_status < 200 || r_.http_status > 299)
    judge_error(head.value(), reader, wire.method);
  else if (completion)
    judge_stream(head.value(), reader);
  else
    judge_models(head.value(), reader);
  if (r_.ok) r_.reason = Reason::ok;
  return std::move(r_);
}

ProbeResult run_guarded(const ProbeRequest& request, const std::string& key) {
  try {
    return LlmRound(request, key).run();
  } catch (const Poco::Exception& e) {
    ProbeResult r;
    r.reason = Reason::internal;
    r.detail = "llm: " + e.displayText();  // a malformed base_url
    return r;
  } catch (const std::exception& e) {
    ProbeResult r;
    r.reason = Reason::internal;
    r.detail = std::string("llm: ") + e.what();
    return r;
  }
}

}  // namespace

ProbeResult run_llm(const ProbeRequest& request) {
  const LlmOptions& o = *request.spec.llm;
  Result<std::string> key = read_api_key(o);
  if (!key.ok()) {
    ProbeResult r;
    r.reason = Reason::internal;
    r.detail = (o.api_key_env.empty() ? "api_key_file: " : "api_key_env: ") + key.error().message;
    r.llm = LlmFigures{};
    r.llm->mode = o.mode;
    return r;
  }
  ProbeResult r = run_guarded(request, key.value());
  // The detail may quote the server, which may quote the key it was sent.
  r.detail = printable_detail(redact_key(r.detail, key.value()));
  wipe(key.value());
  return r;
}

}  // namespace linewatch

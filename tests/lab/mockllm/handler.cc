#include "tests/lab/mockllm/handler.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdio>
#include <istream>
#include <optional>

#include "tests/lab/mockllm/control.h"

namespace linewatch::mockllm {
namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

// The query parameter `name`, if present.
std::optional<std::string> query_value(const std::string& uri, const std::string& name) {
  try {
    for (const auto& [key, value] : Poco::URI(uri).getQueryParameters())
      if (key == name) return value;
  } catch (const Poco::Exception&) {
    // A malformed query carries no usable value.
  }
  return std::nullopt;
}

// The API key as the flavour carries it; nullopt when none was sent.
std::optional<std::string> presented_key(Flavour f, const HTTPServerRequest& request) {
  switch (f) {
    case Flavour::openai: {
      if (!request.has("Authorization")) return std::nullopt;
      const std::string& auth = request.get("Authorization");
      static constexpr std::string_view kScheme = "Bearer ";
      return auth.starts_with(kScheme) ? auth.substr(kScheme.size()) : std::string();
    }
    case Flavour::anthropic:
      if (!request.has("x-api-key")) return std::nullopt;
      return request.get("x-api-key");
    case Flavour::gemini:
      if (request.has("x-goog-api-key")) return request.get("x-goog-api-key");
      return query_value(request.getURI(), "key");
  }
  return std::nullopt;
}

// Forced failures as a provider sends them: a 429 says when to come back.
void send_forced(HTTPServerResponse& response, const Dialect& d, const Behaviour& b) {
  const Fault fault = forced_fault(b.forced_status);
  if (fault == Fault::rate_limited)
    response.set("Retry-After", std::to_string(b.retry_after.count()));
  const char* what = fault == Fault::forbidden      ? "Request forbidden"
                     : fault == Fault::rate_limited ? "Rate limit reached"
                     : fault == Fault::server_error ? "The server had an error"
                                                    : "The server is overloaded";
  send_error(response, d, fault, std::string(what) + " (forced by mockllm)", b.forced_status);
}

// An API call: the key (never echoed or logged, right or wrong), Anthropic's
// version header, forced failures, then the call itself.
void serve_api(SharedState& state, const Route& route, HTTPServerRequest& request,
               HTTPServerResponse& response, const Pacer& pacer, MonoTime start,
               std::optional<Record>& rec) {
  const Dialect& d = dialect(route.flavour);
  const Behaviour b = state.behaviour(route.flavour);
  const std::optional<std::string> key = presented_key(route.flavour, request);
  if (!b.keys.empty() && (!key || std::find(b.keys.begin(), b.keys.end(), *key) == b.keys.end())) {
    const int status = b.reject_status != 0 ? b.reject_status : d.key_status(key.has_value());
    return send_error(response, d, Fault::bad_key, d.key_message(key.has_value()), status);
  }
  if (route.flavour == Flavour::anthropic && !request.has("anthropic-version"))
    return send_error(response, d, Fault::bad_request, "anthropic-version: header is required");
  if (b.forced_status != 0) return send_forced(response, d, b);
  if (route.call == Call::unknown)
    return send_error(response, d, Fault::no_route,
                      "Invalid URL (" + request.getMethod() + " " + route.api_path + ")");
  const std::string allow(method_of(route.call));
  if (request.getMethod() != allow) {
    response.set("Allow", allow);
    return send_error(response, d, Fault::bad_method, "Method not allowed; use " + allow);
  }
  if (route.call == Call::models) return send_json(response, 200, d.models_json(b.models));
  if (route.call == Call::model) {
    const std::optional<std::string> listed = resolve_model(b.models, route.model);
    if (!listed) return send_error(response, d, Fault::no_model, d.no_model_message(route.model));
    return send_json(response, 200, anthropic_model_json(*listed));
  }
  if (route.stream && query_value(request.getURI(), "alt") != "sse")
    return send_error(response, d, Fault::bad_request,
                      "mockllm streams Gemini only as server-sent events: add ?alt=sse");
  serve_completion(state, route, b, request, response, pacer, start, *rec);
}

// Answers the request; a completion call also gets its record in `rec`.
void dispatch(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response,
              const std::string& path, const Pacer& pacer, const Stamp& received,
              std::optional<Record>& rec) {
  if (path == "/healthz") {
    if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_GET) {
      response.set("Allow", "GET");
      return send_error(response, openai_dialect(), Fault::bad_method,
                        "Method not allowed; use GET");
    }
    response.setContentType("text/plain");
    response.setContentLength(2);
    response.send() << "ok";
  } else if (path.starts_with("/mock/")) {
    serve_mock(state, request, response, path);
  } else if (std::optional<Route> r =
                 route(path, request.has("x-api-key") || request.has("anthropic-version"))) {
    if (r->call == Call::completion) {
      rec.emplace();
      rec->flavour = r->flavour;
      rec->model = r->model;
      rec->stream = r->stream;
      rec->received = received;
    }
    serve_api(state, *r, request, response, pacer, received.mono, rec);
  } else {
    send_error(response, openai_dialect(), Fault::no_route,
               "Invalid URL (" + request.getMethod() + " " + path + ")");
  }
}

class RequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const Stamp received = stamp_now();
    const MonoTime start = received.mono;
    Poco::Net::StreamSocket& socket =
        static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
    // Streamed events are small writes spaced in time; Nagle would hold them.
    socket.setNoDelay(true);
    const Pacer pacer(*state_, socket);
    // The raw (still percent-encoded) path cannot hold spaces or newlines, so
    // the log line stays one parseable line; the query (maybe a key) is left out.
    const std::string& uri = request.getURI();
    const std::string path = uri.substr(0, uri.find('?'));
    std::string note;
    std::optional<Record> rec;
    try {
      dispatch(*state_, request, response, path, pacer, received, rec);
    } catch (const Poco::Exception& e) {
      note = "error";
      if (!response.sent())
        send_error(response, openai_dialect(), Fault::server_error, e.displayText());
    } catch (const std::exception& e) {
      note = "error";
      if (!response.sent()) send_error(response, openai_dialect(), Fault::server_error, e.what());
    }
    const int status = response.sent() ? static_cast<int>(response.getStatus()) : 0;
    if (rec && note.empty() && rec->end != End::done && rec->end != End::refused)
      note = std::string(to_string(rec->end));
    log(request, path, status, start, note);
    if (rec) {
      rec->status = status;
      state_->add_record(std::move(*rec));
    }
  }

 private:
  void log(const HTTPServerRequest& request, const std::string& path, int status, MonoTime start,
           const std::string& note) const {
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.1f", to_ms(std::chrono::steady_clock::now() - start));
    std::string line = "mockllm method=" + request.getMethod() + " path=" + path +
                       " status=" + std::to_string(status) + " duration_ms=" + ms +
                       " peer=" + request.clientAddress().toString();
    if (!note.empty()) line += " note=" + note;
    state_->log(line);
  }

  std::shared_ptr<SharedState> state_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* HandlerFactory::createRequestHandler(const HTTPServerRequest&) {
  return new RequestHandler(state_);
}

void send_json(HTTPServerResponse& response, int status, const std::string& body) {
  const auto code = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status);
  // Poco knows no reason phrase for Anthropic's 529.
  if (status == 529)
    response.setStatusAndReason(code, "Overloaded");
  else
    response.setStatusAndReason(code);
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

void send_error(HTTPServerResponse& response, const Dialect& d, Fault fault,
                const std::string& message, int status) {
  if (status == 0) status = http_status(fault);
  send_json(response, status, d.error_json(fault, status, message));
}

Result<std::string> read_body(HTTPServerRequest& request, std::size_t limit) {
  std::string body;
  std::istream& in = request.stream();
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    body.append(buf, static_cast<std::size_t>(in.gcount()));
    if (body.size() > limit)
      return invalid("request body is larger than " + std::to_string(limit) + " bytes");
  }
  return body;
}

}  // namespace linewatch::mockllm

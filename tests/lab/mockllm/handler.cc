#include "tests/lab/mockllm/handler.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstdio>
#include <istream>

#include "tests/lab/mockllm/control.h"
#include "tests/lab/mockllm/openai.h"

namespace linewatch::mockllm {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

std::int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void method_not_allowed(HTTPServerResponse& response, const std::string& allow) {
  response.set("Allow", allow);
  send_error(response, 405, "Method not allowed; use " + allow, "invalid_request_error",
             "method_not_allowed");
}

// Forced failures as a provider sends them: a 429 says when to come back.
void send_forced(HTTPServerResponse& response, const Behaviour& b) {
  if (b.forced_status == 429) {
    response.set("Retry-After", std::to_string(b.retry_after.count()));
    send_error(response, 429, "Rate limit reached (forced by mockllm)", "requests",
               "rate_limit_exceeded");
  } else if (b.forced_status == 503) {
    send_error(response, 503, "The server is overloaded (forced by mockllm)", "server_error", "");
  } else {
    send_error(response, b.forced_status, "The server had an error (forced by mockllm)",
               "server_error", "");
  }
}

void serve_control(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response) {
  if (!same_namespace(request.clientAddress().host())) {
    send_error(response, 403, "/mock/config is only served to clients in this network namespace",
               "invalid_request_error", "forbidden");
    return;
  }
  if (request.getMethod() == HTTPRequest::HTTP_GET) {
    send_json(response, 200, behaviour_json(state.behaviour()));
    return;
  }
  if (request.getMethod() != HTTPRequest::HTTP_POST)
    return method_not_allowed(response, "GET, POST");
  Result<std::string> body = read_body(request, kMaxBody);
  if (!body) return send_error(response, 413, body.error().message, "invalid_request_error", "");
  Result<Behaviour> next = apply_config_json(state.behaviour(), *body);
  if (!next) return send_error(response, 400, next.error().message, "invalid_request_error", "");
  state.set_behaviour(*next);
  send_json(response, 200, behaviour_json(*next));
}

void serve_v1(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response,
              const std::string& path, MonoTime start, std::string& note) {
  // The header's content is never echoed or logged, right or wrong.
  if (!state.authorised(request.get("Authorization", ""))) {
    send_error(response, 401, "Incorrect API key provided", "invalid_request_error",
               "invalid_api_key");
    return;
  }
  const Behaviour b = state.behaviour();
  if (b.forced_status != 0) return send_forced(response, b);
  if (path == "/v1/models") {
    if (request.getMethod() != HTTPRequest::HTTP_GET) return method_not_allowed(response, "GET");
    return send_json(response, 200, models_json(state.models(), unix_seconds()));
  }
  if (path == "/v1/chat/completions") {
    if (request.getMethod() != HTTPRequest::HTTP_POST) return method_not_allowed(response, "POST");
    return serve_chat(state, request, response, start, note);
  }
  send_error(response, 404, "Unknown request URL: " + request.getMethod() + " " + path,
             "invalid_request_error", "unknown_url");
}

void route(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response,
           const std::string& path, MonoTime start, std::string& note) {
  if (path == "/healthz") {
    if (request.getMethod() != HTTPRequest::HTTP_GET) return method_not_allowed(response, "GET");
    response.setContentType("text/plain");
    response.setContentLength(2);
    response.send() << "ok";
  } else if (path == "/mock/config") {
    serve_control(state, request, response);
  } else if (path.starts_with("/v1/")) {
    serve_v1(state, request, response, path, start, note);
  } else {
    send_error(response, 404, "Unknown request URL: " + request.getMethod() + " " + path,
               "invalid_request_error", "unknown_url");
  }
}

class RequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit RequestHandler(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const MonoTime start = std::chrono::steady_clock::now();
    // Streamed events are small writes spaced in time; Nagle would hold them.
    static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket().setNoDelay(true);
    // The raw (still percent-encoded) path cannot hold spaces or newlines, so
    // the log line stays one parseable line; the query is left out.
    const std::string& uri = request.getURI();
    const std::string path = uri.substr(0, uri.find('?'));
    std::string note;
    try {
      route(*state_, request, response, path, start, note);
    } catch (const Poco::Exception& e) {
      note = "error";
      if (!response.sent()) send_error(response, 500, e.displayText(), "server_error", "");
    } catch (const std::exception& e) {
      note = "error";
      if (!response.sent()) send_error(response, 500, e.what(), "server_error", "");
    }
    log(request, path, response.getStatus(), start, note);
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
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

void send_error(HTTPServerResponse& response, int status, const std::string& message,
                const std::string& type, const std::string& code) {
  send_json(response, status, error_json(message, type, code));
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

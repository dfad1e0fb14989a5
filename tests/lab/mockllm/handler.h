// Internal to mockllm: the Poco request handlers. One RequestHandler per
// request (Poco's model); it routes, answers and writes the request log line.
//
// Thread-safety: handlers run concurrently on the server's thread pool and
// share only the SharedState.
#pragma once

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <memory>
#include <string>

#include "core/time.h"
#include "tests/lab/mockllm/state.h"

namespace linewatch::mockllm {

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(std::shared_ptr<SharedState> state) : state_(std::move(state)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override;

 private:
  std::shared_ptr<SharedState> state_;
};

// A complete JSON reply with a Content-Length.
void send_json(Poco::Net::HTTPServerResponse& response, int status, const std::string& body);

// An OpenAI-style error reply (see error_json).
void send_error(Poco::Net::HTTPServerResponse& response, int status, const std::string& message,
                const std::string& type, const std::string& code);

// POST /v1/chat/completions once authorised: parses, paces from `start` and
// answers whole or streamed. `note` receives a word for the log when the
// reply did not complete ("client_gone", "stopping").
void serve_chat(SharedState& state, Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response, MonoTime start, std::string& note);

// Largest request body read (413 beyond).
inline constexpr std::size_t kMaxBody = 4 << 20;

// The request body, at most `limit` bytes. Failure: invalid_argument when
// longer (the caller answers 413).
Result<std::string> read_body(Poco::Net::HTTPServerRequest& request, std::size_t limit);

}  // namespace linewatch::mockllm

// Internal to mockllm: the Poco request handlers. One RequestHandler per
// request (Poco's model); it routes (route.h), checks the key, answers in
// the flavour's dialect and writes the request log line and, for a
// completion, the timing record.
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
#include "tests/lab/mockllm/dialect.h"
#include "tests/lab/mockllm/pace.h"
#include "tests/lab/mockllm/record.h"
#include "tests/lab/mockllm/route.h"
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

// The dialect's error reply with status `status`, or http_status(fault) when 0.
void send_error(Poco::Net::HTTPServerResponse& response, const Dialect& d, Fault fault,
                const std::string& message, int status = 0);

// A completion call that passed auth and forced failures: reads and parses
// the body, checks the model, then holds (stall_before_headers) or answers
// whole or streamed, paced from `start`. Fills `rec` but its status.
void serve_completion(SharedState& state, const Route& route, const Behaviour& b,
                      Poco::Net::HTTPServerRequest& request,
                      Poco::Net::HTTPServerResponse& response, const Pacer& pacer, MonoTime start,
                      Record& rec);

// Largest request body read (413 beyond).
inline constexpr std::size_t kMaxBody = 4 << 20;

// The request body, at most `limit` bytes. Failure: invalid_argument when
// longer (the caller answers 413).
Result<std::string> read_body(Poco::Net::HTTPServerRequest& request, std::size_t limit);

}  // namespace linewatch::mockllm

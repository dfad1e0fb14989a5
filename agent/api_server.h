// The agent's HTTP API: a read-only JSON view for the CLI, scripts and people.
//
//   GET /api/v1/status   every series: latest round and window figures
//   GET /-/healthy       "OK" while the agent runs (for supervisors)
//
// Other paths answer 404 {"error":"not found"}; everything about the protocol
// and the limits that keep hostile clients from locking the operator out
// (head deadline, head size, connection caps with eviction) is HttpServer's,
// see http_server.h and docs/api.md.
//
// Handlers only read snapshots handed out by `status`; they never touch the
// scheduler or storage directly. Listens where agent.listen says (loopback by
// default). Thread-safety: the server owns its one thread, which calls
// `status`; destruction stops and joins it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/http_server.h"
#include "core/error.h"

namespace linewatch {

class ApiServer {
 public:
  using StatusFn = std::function<std::string()>;  // returns the status JSON; must be quick

  // Binds `listen` ("HOST:PORT", IPv4 or [IPv6]) and starts serving. Fails
  // with a message naming agent.listen when the address is busy or not local,
  // e.g. "agent.listen 127.0.0.1:9464: bind: Address already in use".
  // `options` are for tests; the agent runs with the defaults.
  static Result<std::unique_ptr<ApiServer>> start(const std::string& listen, StatusFn status,
                                                  HttpServerOptions options = {});

  std::uint16_t port() const { return server_->port(); }

 private:
  explicit ApiServer(std::unique_ptr<HttpServer> server) : server_(std::move(server)) {}
  std::unique_ptr<HttpServer> server_;
};

}  // namespace linewatch

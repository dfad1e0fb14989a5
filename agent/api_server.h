// The agent's HTTP API: a read-only JSON view for the CLI, scripts and people.
//
//   GET /api/v1/status   every series: latest round and window figures
//   GET /-/healthy       "OK" while the agent runs (for supervisors)
//
// Handlers only read snapshots handed out by `status`; they never touch the
// scheduler or storage directly. Listens where agent.listen says (loopback by
// default). Thread-safe; the server owns its threads and stops them on
// destruction.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/error.h"

namespace Poco::Net {
class HTTPServer;
}

namespace linewatch {

class ApiServer {
 public:
  using StatusFn = std::function<std::string()>;  // returns the status JSON

  // Binds `listen` ("HOST:PORT", IPv4 or [IPv6]) and starts serving. Fails with
  // a message naming agent.listen when the address is busy or not local.
  static Result<std::unique_ptr<ApiServer>> start(const std::string& listen, StatusFn status);
  ~ApiServer();

  std::uint16_t port() const { return port_; }

 private:
  ApiServer() = default;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::uint16_t port_ = 0;
};

}  // namespace linewatch

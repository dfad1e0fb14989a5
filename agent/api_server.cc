#include "agent/api_server.h"

namespace linewatch {

Result<std::unique_ptr<ApiServer>> ApiServer::start(const std::string& listen, StatusFn status,
                                                    HttpServerOptions options) {
  auto route = [status = std::move(status)](const HttpRequest& req) -> HttpResponse {
    if (req.path == "/api/v1/status") return {200, "application/json", status()};
    if (req.path == "/-/healthy") return {200, "text/plain", "OK\n"};
    return error_response(404);
  };
  auto server = HttpServer::start(listen, options, std::move(route));
  if (!server) return Error{server.error().code, "agent.listen " + server.error().message};
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(*server)));
}

}  // namespace linewatch

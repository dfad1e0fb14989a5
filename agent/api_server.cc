#include "agent/api_server.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

namespace linewatch {
namespace {

using Poco::Net::HTTPResponse;

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(const ApiServer::StatusFn& status) : status_(status) {}

  void handleRequest(Poco::Net::HTTPServerRequest& req,
                     Poco::Net::HTTPServerResponse& res) override {
    const std::string path = req.getURI().substr(0, req.getURI().find('?'));
    if (req.getMethod() != "GET" && req.getMethod() != "HEAD") {
      res.set("Allow", "GET, HEAD");
      return send(res, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, R"({"error":"method not allowed"})");
    }
    if (path == "/api/v1/status") return send(res, HTTPResponse::HTTP_OK, status_());
    if (path == "/-/healthy") return send(res, HTTPResponse::HTTP_OK, "OK\n", "text/plain");
    send(res, HTTPResponse::HTTP_NOT_FOUND, R"({"error":"not found"})");
  }

 private:
  static void send(Poco::Net::HTTPServerResponse& res, HTTPResponse::HTTPStatus status,
                   const std::string& body, const char* type = "application/json") {
    res.setStatus(status);
    res.setContentType(type);
    res.set("Cache-Control", "no-store");
    res.setContentLength(static_cast<std::streamsize>(body.size()));
    res.send() << body;
  }
  const ApiServer::StatusFn& status_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ApiServer::StatusFn status) : status_(std::move(status)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(status_);
  }

 private:
  ApiServer::StatusFn status_;
};

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::start(const std::string& listen, StatusFn status) {
  std::unique_ptr<ApiServer> api(new ApiServer);
  try {
    Poco::Net::SocketAddress addr(listen);
    Poco::Net::ServerSocket socket;
    socket.bind(addr, /*reuseAddress=*/true);
    socket.listen(64);
    api->port_ = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    params->setKeepAlive(false);
    api->server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(std::move(status)), socket,
                                                           params);
    api->server_->start();
  } catch (const Poco::Exception& e) {
    return invalid("agent.listen " + listen + ": " + e.displayText());
  }
  return api;
}

ApiServer::~ApiServer() {
  if (server_) server_->stopAll(true);
}

}  // namespace linewatch

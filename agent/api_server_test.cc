// ApiServer's routes and its start-up error; the protocol and the limits are
// tested in http_server_test.cc.
#include "agent/api_server.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <doctest/doctest.h>

using namespace linewatch;

namespace {

struct Answer {
  int status = 0;
  std::string reason, body, content_type;
};

Answer get(std::uint16_t port, const std::string& method, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(5, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(req);
  Poco::Net::HTTPResponse res;
  std::istream& in = session.receiveResponse(res);
  Answer a{static_cast<int>(res.getStatus()), res.getReason(), "", res.getContentType()};
  Poco::StreamCopier::copyToString(in, a.body);
  return a;
}

}  // namespace

TEST_CASE("the API serves status and health and answers other paths and methods in JSON") {
  auto api = ApiServer::start("127.0.0.1:0", [] { return std::string(R"({"series":[]})"); });
  REQUIRE(api.ok());
  const std::uint16_t port = (*api)->port();
  const Answer status = get(port, "GET", "/api/v1/status");
  CHECK(status.status == 200);
  CHECK(status.content_type == "application/json");
  CHECK(status.body == R"({"series":[]})");
  const Answer healthy = get(port, "GET", "/-/healthy?verbose");
  CHECK(healthy.status == 200);
  CHECK(healthy.body == "OK\n");
  const Answer missing = get(port, "GET", "/api/v2/status");
  CHECK(missing.status == 404);
  CHECK(missing.body == R"({"error":"not found"})");
  const Answer post = get(port, "POST", "/api/v1/status");
  CHECK(post.status == 405);
  CHECK(post.reason == "Method Not Allowed");
  CHECK(post.body == R"({"error":"method not allowed"})");
}

TEST_CASE("the API names agent.listen when its address is busy") {
  auto first = ApiServer::start("127.0.0.1:0", [] { return std::string("{}"); });
  REQUIRE(first.ok());
  const std::string listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = ApiServer::start(listen, [] { return std::string("{}"); });
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().message == "agent.listen " + listen + ": bind: Address already in use");
}

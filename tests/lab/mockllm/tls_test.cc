// mockllm over HTTPS with a certificate from a throw-away CA.
#include <Poco/JSON/Array.h>
#include <Poco/Net/SSLManager.h>
#include <doctest/doctest.h>

#include <chrono>

#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;

TEST_CASE("HTTPS with a certificate from a throw-away CA works for a client trusting that CA") {
  test::TempDir dir;
  REQUIRE(test::make_pki(dir));
  Options o;
  o.tls_listen = {"127.0.0.1:0"};
  o.cert_file = dir.file("server.pem");
  o.key_file = dir.file("server.key");
  for (Behaviour& b : o.behaviour) {
    b.keys = {"sk-tls-test"};
    b.ttft = 50ms;
    b.token_interval = 5ms;
    b.tokens = 3;
  }
  auto started = Server::start(o);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  auto& server = *started;
  REQUIRE(server->http_addresses().empty());
  const Poco::Net::SocketAddress at = server->https_addresses().at(0);

  Poco::Net::Context::Ptr trusting = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, dir.file("ca.pem"), Poco::Net::Context::VERIFY_STRICT);
  test::Reply models =
      test::call(at, "GET", "/v1/models", "", test::bearer("sk-tls-test"), trusting);
  CHECK(models.status == 200);
  CHECK(models.json()->getArray("data")->size() == 2);
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const test::Completion c = test::stream_request(f, 0, "sk-tls-test");
    test::Reply stream = test::call(at, "POST", c.path, c.body, c.headers, trusting);
    CHECK(stream.status == 200);
    CHECK(test::content_events(f, stream.body) == 3);
  }

  // A client that does not trust the lab CA must fail the handshake, which
  // shows the server presents the certificate we made and nothing else.
  Poco::Net::Context::Ptr distrusting = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_STRICT);
  CHECK_THROWS(test::call(at, "GET", "/v1/models", "", test::bearer("sk-tls-test"), distrusting));
  // Plain HTTP to the TLS port gets no HTTP answer.
  CHECK_THROWS(test::call(at, "GET", "/healthz"));
}

}  // namespace
}  // namespace linewatch::mockllm

// mockllm streaming over real loopback sockets: time to first token measured
// on a raw socket, the event sequence, concurrency, stop, and HTTPS.
#include <Poco/JSON/Array.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/StreamSocket.h>
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using test::call;
using test::chat_body;
using Steady = std::chrono::steady_clock;

std::unique_ptr<Server> start(Duration ttft, Duration interval, int tokens) {
  Options o;
  o.listen = {"127.0.0.1:0"};
  o.behaviour.ttft = ttft;
  o.behaviour.token_interval = interval;
  o.behaviour.tokens = tokens;
  auto started = Server::start(std::move(o));
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  return std::move(*started);
}

// Sends a streaming request on a raw socket; returns the time from the end of
// the send to the arrival of the first "data: " bytes, and the bytes seen.
std::pair<Duration, std::string> time_to_first_event(const Poco::Net::SocketAddress& at) {
  Poco::Net::StreamSocket s(at);
  s.setReceiveTimeout(Poco::Timespan(5, 0));
  const std::string body = chat_body("mock-1", true);
  const std::string request =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Type: application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  s.sendBytes(request.data(), static_cast<int>(request.size()));
  const auto sent = Steady::now();
  std::string seen;
  char buf[4096];
  while (seen.find("data: ") == std::string::npos && Steady::now() - sent < 5s) {
    const int n = s.receiveBytes(buf, sizeof buf);
    if (n <= 0) break;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  return {Steady::now() - sent, seen};
}

TEST_CASE("the first streamed event arrives at ttft, not before and not much after") {
  // 20 tokens keep the stream going long after ttft + 100 ms, so an
  // unflushed (buffered) first event would arrive too late and fail.
  auto server = start(300ms, 20ms, 20);
  auto [ttft, seen] = time_to_first_event(server->http_addresses().at(0));
  REQUIRE(seen.find("data: ") != std::string::npos);
  CHECK(ttft >= 300ms);
  CHECK(ttft < 300ms + 100ms);
  CHECK(seen.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(seen.find("Transfer-Encoding: chunked") != std::string::npos);
}

TEST_CASE("a stream is a role chunk, one chunk per token, a final chunk, then [DONE]") {
  constexpr int kTokens = 6;
  auto server = start(100ms, 30ms, kTokens);
  const auto t0 = Steady::now();
  test::Reply r = call(server->http_addresses().at(0), "POST", "/v1/chat/completions",
                       chat_body("mock-1", true));
  const auto elapsed = Steady::now() - t0;
  REQUIRE(r.status == 200);
  CHECK(r.head.getContentType() == "text/event-stream");
  CHECK(elapsed >= 100ms + kTokens * 30ms);

  const std::vector<std::string> events = test::sse_data(r.body);
  REQUIRE(events.size() == kTokens + 3);
  CHECK(events.back() == "[DONE]");
  std::string content, id;
  for (int i = 0; i < kTokens + 2; ++i) {
    CAPTURE(i);
    Object::Ptr o = Poco::JSON::Parser().parse(events[i]).extract<Object::Ptr>();
    CHECK(o->getValue<std::string>("object") == "chat.completion.chunk");
    CHECK(o->getValue<std::string>("model") == "mock-1");
    if (i == 0) id = o->getValue<std::string>("id");
    CHECK(o->getValue<std::string>("id") == id);
    Object::Ptr choice = o->getArray("choices")->getObject(0);
    Object::Ptr delta = choice->getObject("delta");
    if (i == 0) {
      CHECK(delta->getValue<std::string>("role") == "assistant");
    } else if (i <= kTokens) {
      CHECK(!delta->has("role"));
      content += delta->getValue<std::string>("content");
    }
    if (i == kTokens + 1) {
      CHECK(delta->size() == 0);
      CHECK(choice->getValue<std::string>("finish_reason") == "stop");
    } else {
      CHECK(choice->get("finish_reason").isEmpty());
    }
  }
  CHECK(content == "This is a mock reply from");
}

TEST_CASE("streams are served concurrently, not one after another") {
  auto server = start(300ms, 10ms, 5);
  std::vector<std::future<int>> replies;
  const auto t0 = Steady::now();
  for (int i = 0; i < 6; ++i) {
    replies.push_back(std::async(std::launch::async, [&] {
      return call(server->http_addresses().at(0), "POST", "/v1/chat/completions",
                  chat_body("mock-1", i % 2 == 0))
          .status;
    }));
  }
  for (auto& r : replies) CHECK(r.get() == 200);
  CHECK(Steady::now() - t0 < 2 * 300ms);
}

TEST_CASE("stop() cuts a reply that is still waiting for its first token") {
  auto server = start(30s, 10ms, 5);
  const Poco::Net::SocketAddress at = server->http_addresses().at(0);
  auto reply = std::async(std::launch::async, [&] {
    try {
      return call(at, "POST", "/v1/chat/completions", chat_body("mock-1", true)).body;
    } catch (const Poco::Exception&) {
      return std::string("aborted");
    }
  });
  std::this_thread::sleep_for(200ms);
  const auto t0 = Steady::now();
  server->stop();
  CHECK(Steady::now() - t0 < 2s);
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK(reply.get().find("[DONE]") == std::string::npos);
  // Stopped means stopped: nothing listens on the port any more.
  CHECK_THROWS_AS(call(at, "GET", "/healthz"), Poco::Net::NetException);
}

TEST_CASE("HTTPS with a certificate from a throw-away CA works for a client trusting that CA") {
  test::TempDir dir;
  REQUIRE(test::make_pki(dir));
  Options o;
  o.tls_listen = {"127.0.0.1:0"};
  o.cert_file = dir.file("server.pem");
  o.key_file = dir.file("server.key");
  o.tokens = {"sk-tls-test"};
  o.behaviour.ttft = 50ms;
  o.behaviour.token_interval = 5ms;
  o.behaviour.tokens = 3;
  auto started = Server::start(o);
  REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  auto& server = *started;
  REQUIRE(server->http_addresses().empty());
  const Poco::Net::SocketAddress at = server->https_addresses().at(0);

  Poco::Net::Context::Ptr trusting = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, dir.file("ca.pem"), Poco::Net::Context::VERIFY_STRICT);
  test::Reply models = call(at, "GET", "/v1/models", "", "sk-tls-test", trusting);
  CHECK(models.status == 200);
  CHECK(models.json()->getArray("data")->size() == 2);
  test::Reply stream = call(at, "POST", "/v1/chat/completions", chat_body("gpt-4o-mini", true),
                            "sk-tls-test", trusting);
  CHECK(stream.status == 200);
  CHECK(test::sse_data(stream.body).size() == 3 + 3);

  // A client that does not trust the lab CA must fail the handshake, which
  // shows the server presents the certificate we made and nothing else.
  Poco::Net::Context::Ptr distrusting = new Poco::Net::Context(
      Poco::Net::Context::TLS_CLIENT_USE, "", Poco::Net::Context::VERIFY_STRICT);
  CHECK_THROWS(call(at, "GET", "/v1/models", "", "sk-tls-test", distrusting));
  // Plain HTTP to the TLS port gets no HTTP answer.
  CHECK_THROWS(call(at, "GET", "/healthz"));
}

}  // namespace
}  // namespace linewatch::mockllm

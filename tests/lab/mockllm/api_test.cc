// mockllm over real loopback HTTP: models, auth, whole completions, errors
// and the /mock/config control endpoint.
#include <Poco/JSON/Array.h>
#include <doctest/doctest.h>

#include <chrono>

#include "tests/lab/mockllm/control.h"
#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using test::call;
using test::chat_body;

constexpr const char* kToken = "sk-test-7f3a9c";

struct Fixture {
  test::LogSink logs;
  std::unique_ptr<Server> server;
  Poco::Net::SocketAddress at;

  explicit Fixture(std::vector<std::string> tokens = {kToken}) {
    Options o;
    o.listen = {"127.0.0.1:0"};
    o.tokens = std::move(tokens);
    o.behaviour.ttft = 150ms;
    o.behaviour.token_interval = 10ms;
    o.behaviour.tokens = 5;
    o.log = logs.writer();
    auto started = Server::start(std::move(o));
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
    server = std::move(*started);
    at = server->http_addresses().at(0);
    REQUIRE(at.port() != 0);
  }
};

void check_error(const test::Reply& r, int status, const std::string& type,
                 const std::string& code) {
  CHECK(r.status == status);
  CHECK(r.head.getReason() == Poco::Net::HTTPResponse::getReasonForStatus(r.head.getStatus()));
  CHECK(r.head.getContentType() == "application/json");
  Object::Ptr e = r.json()->getObject("error");
  REQUIRE(e);
  CHECK(!e->getValue<std::string>("message").empty());
  CHECK(e->getValue<std::string>("type") == type);
  if (code.empty())
    CHECK(e->get("code").isEmpty());
  else
    CHECK(e->getValue<std::string>("code") == code);
}

TEST_CASE("healthz answers ok without auth and models lists the configured ids") {
  Fixture f;
  test::Reply health = call(f.at, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok");

  test::Reply r = call(f.at, "GET", "/v1/models", "", kToken);
  REQUIRE(r.status == 200);
  Object::Ptr o = r.json();
  CHECK(o->getValue<std::string>("object") == "list");
  Poco::JSON::Array::Ptr data = o->getArray("data");
  REQUIRE(data);
  REQUIRE(data->size() == 2);
  const char* ids[] = {"gpt-4o-mini", "mock-1"};
  for (unsigned i = 0; i < 2; ++i) {
    Object::Ptr m = data->getObject(i);
    CHECK(m->getValue<std::string>("id") == ids[i]);
    CHECK(m->getValue<std::string>("object") == "model");
    CHECK(m->getValue<std::string>("owned_by") == "mockllm");
    CHECK(m->getValue<long long>("created") > 1'600'000'000);
  }
}

TEST_CASE("a missing or wrong token gets 401 and is never echoed or logged") {
  Fixture f;
  check_error(call(f.at, "GET", "/v1/models"), 401, "invalid_request_error", "invalid_api_key");
  test::Reply wrong = call(f.at, "GET", "/v1/models", "", "sk-wrong-55e1d0");
  check_error(wrong, 401, "invalid_request_error", "invalid_api_key");
  CHECK(wrong.json()->getObject("error")->getValue<std::string>("message") ==
        "Incorrect API key provided");
  CHECK(wrong.body.find("sk-wrong-55e1d0") == std::string::npos);
  CHECK(call(f.at, "POST", "/v1/chat/completions", chat_body("mock-1", false), "sk-wrong-55e1d0")
            .status == 401);
  CHECK(call(f.at, "GET", "/v1/models", "", kToken).status == 200);

  const std::vector<std::string> lines = f.logs.lines();
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].find("method=GET path=/v1/models status=401 duration_ms=") != std::string::npos);
  CHECK(lines[3].find("status=200") != std::string::npos);
  for (const std::string& line : lines) {
    CHECK(line.find("sk-") == std::string::npos);
    CHECK(line.find("Bearer") == std::string::npos);
  }
}

TEST_CASE("with no token configured, auth is not required") {
  Fixture f(std::vector<std::string>{});
  CHECK(call(f.at, "GET", "/v1/models").status == 200);
  CHECK(call(f.at, "GET", "/v1/models", "", "anything").status == 200);
}

TEST_CASE("a whole completion has the OpenAI shape and takes ttft + tokens x interval") {
  Fixture f;
  const auto t0 = std::chrono::steady_clock::now();
  test::Reply r =
      call(f.at, "POST", "/v1/chat/completions", chat_body("gpt-4o-mini", false), kToken);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(r.status == 200);
  CHECK(elapsed >= 150ms + 5 * 10ms);
  CHECK(elapsed < 150ms + 5 * 10ms + 300ms);
  Object::Ptr o = r.json();
  CHECK(o->getValue<std::string>("id").rfind("chatcmpl-", 0) == 0);
  CHECK(o->getValue<std::string>("object") == "chat.completion");
  CHECK(o->getValue<std::string>("model") == "gpt-4o-mini");
  CHECK(o->getValue<long long>("created") > 1'600'000'000);
  Object::Ptr choice = o->getArray("choices")->getObject(0);
  CHECK(choice->getValue<int>("index") == 0);
  CHECK(choice->getValue<std::string>("finish_reason") == "stop");
  Object::Ptr message = choice->getObject("message");
  CHECK(message->getValue<std::string>("role") == "assistant");
  CHECK(message->getValue<std::string>("content") == "This is a mock reply");
  Object::Ptr usage = o->getObject("usage");
  CHECK(usage->getValue<int>("completion_tokens") == 5);
  CHECK(usage->getValue<int>("prompt_tokens") > 0);
  CHECK(usage->getValue<int>("total_tokens") ==
        usage->getValue<int>("prompt_tokens") + usage->getValue<int>("completion_tokens"));
}

TEST_CASE("max_tokens below the reply length cuts it and finishes with length") {
  Fixture f;
  test::Reply r = call(f.at, "POST", "/v1/chat/completions", chat_body("mock-1", false, 2), kToken);
  REQUIRE(r.status == 200);
  Object::Ptr choice = r.json()->getArray("choices")->getObject(0);
  CHECK(choice->getValue<std::string>("finish_reason") == "length");
  CHECK(choice->getObject("message")->getValue<std::string>("content") == "This is");
  CHECK(r.json()->getObject("usage")->getValue<int>("completion_tokens") == 2);
}

TEST_CASE(
    "bad requests: unknown model 404, malformed JSON 400, unknown path 404, wrong method 405") {
  Fixture f;
  check_error(call(f.at, "POST", "/v1/chat/completions", chat_body("gpt-9", false), kToken), 404,
              "invalid_request_error", "model_not_found");
  check_error(call(f.at, "POST", "/v1/chat/completions", R"({"model":"mock-1",)", kToken), 400,
              "invalid_request_error", "");
  check_error(call(f.at, "POST", "/v1/chat/completions", R"({"model":"mock-1"})", kToken), 400,
              "invalid_request_error", "");
  check_error(call(f.at, "POST", "/v1/chat/completions", "[1,2]", kToken), 400,
              "invalid_request_error", "");
  check_error(call(f.at, "GET", "/v1/embeddings", "", kToken), 404, "invalid_request_error",
              "unknown_url");
  check_error(call(f.at, "GET", "/nowhere"), 404, "invalid_request_error", "unknown_url");
  test::Reply m = call(f.at, "GET", "/v1/chat/completions", "", kToken);
  check_error(m, 405, "invalid_request_error", "method_not_allowed");
  CHECK(m.head.get("Allow", "") == "POST");
}

TEST_CASE("control endpoint forces 429 with Retry-After, then status 0 restores normal") {
  Fixture f;
  test::Reply set = call(f.at, "POST", "/mock/config", R"({"status":429,"retry_after_s":7})");
  REQUIRE(set.status == 200);
  CHECK(set.json()->getValue<int>("status") == 429);

  test::Reply limited = call(f.at, "GET", "/v1/models", "", kToken);
  check_error(limited, 429, "requests", "rate_limit_exceeded");
  CHECK(limited.head.get("Retry-After", "") == "7");
  CHECK(call(f.at, "POST", "/v1/chat/completions", chat_body("mock-1", false), kToken).status ==
        429);
  // Auth still comes first, as with a real provider.
  CHECK(call(f.at, "GET", "/v1/models").status == 401);
  CHECK(call(f.at, "GET", "/healthz").status == 200);

  REQUIRE(call(f.at, "POST", "/mock/config", R"({"status":503})").status == 200);
  check_error(call(f.at, "GET", "/v1/models", "", kToken), 503, "server_error", "");

  REQUIRE(call(f.at, "POST", "/mock/config", R"({"status":0})").status == 200);
  CHECK(call(f.at, "GET", "/v1/models", "", kToken).status == 200);
  CHECK(f.server->behaviour().forced_status == 0);
}

TEST_CASE("control endpoint changes pacing and a bad body changes nothing") {
  Fixture f;
  REQUIRE(call(f.at, "POST", "/mock/config", R"({"ttft_ms":400,"tokens":3})").status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  test::Reply r = call(f.at, "POST", "/v1/chat/completions", chat_body("mock-1", false), kToken);
  CHECK(std::chrono::steady_clock::now() - t0 >= 400ms + 3 * 10ms);
  CHECK(r.json()->getObject("usage")->getValue<int>("completion_tokens") == 3);

  for (const char* bad : {R"({"ttft_ms":10,"colour":1})", R"({"status":404})", R"({"ttft_ms":-1})",
                          R"({"tokens":0})", R"({"status":"429"})", "{"}) {
    CAPTURE(bad);
    check_error(call(f.at, "POST", "/mock/config", bad), 400, "invalid_request_error", "");
  }
  test::Reply now = call(f.at, "GET", "/mock/config");
  REQUIRE(now.status == 200);
  CHECK(now.json()->getValue<double>("ttft_ms") == 400.0);
  CHECK(now.json()->getValue<int>("tokens") == 3);
  CHECK(now.json()->getValue<int>("status") == 0);
}

TEST_CASE("the control endpoint is for this namespace only") {
  CHECK(same_namespace(Poco::Net::IPAddress("127.0.0.1")));
  CHECK(same_namespace(Poco::Net::IPAddress("127.3.2.1")));
  CHECK(same_namespace(Poco::Net::IPAddress("::1")));
  // Documentation ranges (RFC 5737/3849): never an address of this host.
  CHECK_FALSE(same_namespace(Poco::Net::IPAddress("198.51.100.7")));
  CHECK_FALSE(same_namespace(Poco::Net::IPAddress("2001:db8::7")));
}

TEST_CASE("start rejects bad options with a message naming the problem") {
  Options none;
  CHECK(Server::start(none).error().message.find("no listen address") != std::string::npos);
  Options bad_address;
  bad_address.listen = {"127.0.0.1"};
  CHECK(Server::start(bad_address).error().message.find("ADDR:PORT") != std::string::npos);
  Options tls_without_cert;
  tls_without_cert.tls_listen = {"127.0.0.1:0"};
  CHECK(Server::start(tls_without_cert).error().message.find("--cert") != std::string::npos);
  Options slow;
  slow.listen = {"127.0.0.1:0"};
  slow.behaviour.ttft = std::chrono::hours(1);
  CHECK(!Server::start(slow).ok());
}

}  // namespace
}  // namespace linewatch::mockllm

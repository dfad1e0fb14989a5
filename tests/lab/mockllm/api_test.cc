// mockllm's OpenAI flavour over real loopback HTTP: models, auth, whole
// completions, errors, and forcing failures through /mock/config.
#include <Poco/JSON/Array.h>
#include <doctest/doctest.h>

#include <chrono>

#include "tests/lab/mockllm/control.h"
#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;
using test::bearer;
using test::call;
using test::chat_body;
using test::kKey;

void check_error(const test::Reply& r, int status, const std::string& type,
                 const std::string& code) {
  CHECK(r.status == status);
  CHECK(r.head.getReason() == Poco::Net::HTTPResponse::getReasonForStatus(r.head.getStatus()));
  CHECK(r.head.getContentType() == "application/json");
  Object::Ptr e = r.json()->getObject("error");
  REQUIRE(e);
  CHECK(!e->getValue<std::string>("message").empty());
  CHECK(e->getValue<std::string>("type") == type);
  CHECK(e->has("param"));
  if (code.empty())
    CHECK(e->get("code").isEmpty());
  else
    CHECK(e->getValue<std::string>("code") == code);
}

TEST_CASE("healthz answers ok without auth and models lists the configured ids") {
  test::Mock m;
  test::Reply health = call(m.at, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok");

  test::Reply r = call(m.at, "GET", "/v1/models", "", bearer(kKey));
  REQUIRE(r.status == 200);
  Object::Ptr o = r.json();
  CHECK(o->getValue<std::string>("object") == "list");
  Poco::JSON::Array::Ptr data = o->getArray("data");
  REQUIRE(data);
  REQUIRE(data->size() == 2);
  const char* ids[] = {"gpt-4o-mini", "mock-1"};
  for (unsigned i = 0; i < 2; ++i) {
    Object::Ptr model = data->getObject(i);
    CHECK(model->getValue<std::string>("id") == ids[i]);
    CHECK(model->getValue<std::string>("object") == "model");
    CHECK(model->getValue<std::string>("owned_by") == "mockllm");
    CHECK(model->getValue<long long>("created") > 1'600'000'000);
  }
  // The /openai prefix reaches the same call.
  CHECK(call(m.at, "GET", "/openai/v1/models", "", bearer(kKey)).body == r.body);
}

TEST_CASE("a missing or wrong OpenAI key gets 401 and is never echoed or logged") {
  test::Mock m;
  test::Reply missing = call(m.at, "GET", "/v1/models");
  check_error(missing, 401, "invalid_request_error", "invalid_api_key");
  CHECK(missing.json()->getObject("error")->getValue<std::string>("message").find(
            "You didn't provide an API key") == 0);
  test::Reply wrong = call(m.at, "GET", "/v1/models", "", bearer("sk-wrong-55e1d0"));
  check_error(wrong, 401, "invalid_request_error", "invalid_api_key");
  CHECK(wrong.json()->getObject("error")->getValue<std::string>("message") ==
        "Incorrect API key provided");
  CHECK(wrong.body.find("sk-wrong-55e1d0") == std::string::npos);
  check_error(call(m.at, "GET", "/v1/models", "", {{"Authorization", kKey}}), 401,
              "invalid_request_error", "invalid_api_key");
  CHECK(call(m.at, "POST", "/v1/chat/completions", chat_body("mock-1", false),
             bearer("sk-wrong-55e1d0"))
            .status == 401);
  CHECK(call(m.at, "GET", "/v1/models", "", bearer(kKey)).status == 200);

  const std::vector<std::string> lines = m.logs.lines();
  REQUIRE(lines.size() == 6);  // five request lines and the refused completion's record
  CHECK(lines[0].find("method=GET path=/v1/models status=401 duration_ms=") != std::string::npos);
  CHECK(lines.back().find("status=200") != std::string::npos);
  for (const std::string& line : lines) {
    CHECK(line.find("sk-") == std::string::npos);
    CHECK(line.find("Bearer") == std::string::npos);
  }
}

TEST_CASE("with no key configured, auth is not required") {
  test::Mock m([](Behaviour& b) { b.keys.clear(); });
  CHECK(call(m.at, "GET", "/v1/models").status == 200);
  CHECK(call(m.at, "GET", "/v1/models", "", bearer("anything")).status == 200);
}

TEST_CASE("reject_status 403 answers a wrong key with 403 in the same shape") {
  test::Mock m([](Behaviour& b) { b.reject_status = 403; });
  check_error(call(m.at, "GET", "/v1/models", "", bearer("sk-wrong")), 403, "invalid_request_error",
              "invalid_api_key");
  CHECK(call(m.at, "GET", "/v1/models", "", bearer(kKey)).status == 200);
}

TEST_CASE("a whole completion has the OpenAI shape and takes ttft + (tokens - 1) x interval") {
  test::Mock m;
  const auto t0 = std::chrono::steady_clock::now();
  test::Reply r =
      call(m.at, "POST", "/v1/chat/completions", chat_body("gpt-4o-mini", false), bearer(kKey));
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  REQUIRE(r.status == 200);
  CHECK(elapsed >= 150ms + 4 * 10ms);
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

TEST_CASE("max_tokens or max_completion_tokens below the reply length cut it with length") {
  test::Mock m;
  const std::string newer =
      R"({"model":"mock-1","max_completion_tokens":3,"messages":[{"role":"user","content":"hi"}]})";
  for (const std::string& body : {chat_body("mock-1", false, 2), newer}) {
    CAPTURE(body);
    test::Reply r = call(m.at, "POST", "/v1/chat/completions", body, bearer(kKey));
    REQUIRE(r.status == 200);
    Object::Ptr choice = r.json()->getArray("choices")->getObject(0);
    CHECK(choice->getValue<std::string>("finish_reason") == "length");
    const int want = body == newer ? 3 : 2;
    CHECK(choice->getObject("message")->getValue<std::string>("content") ==
          (want == 3 ? "This is a" : "This is"));
    CHECK(r.json()->getObject("usage")->getValue<int>("completion_tokens") == want);
  }
}

TEST_CASE(
    "bad requests: unknown model 404, malformed JSON 400, unknown path 404, wrong method 405") {
  test::Mock m;
  check_error(call(m.at, "POST", "/v1/chat/completions", chat_body("gpt-9", false), bearer(kKey)),
              404, "invalid_request_error", "model_not_found");
  check_error(call(m.at, "POST", "/v1/chat/completions", R"({"model":"mock-1",)", bearer(kKey)),
              400, "invalid_request_error", "");
  check_error(call(m.at, "POST", "/v1/chat/completions", R"({"model":"mock-1"})", bearer(kKey)),
              400, "invalid_request_error", "");
  check_error(call(m.at, "POST", "/v1/chat/completions", "[1,2]", bearer(kKey)), 400,
              "invalid_request_error", "");
  test::Reply unknown = call(m.at, "GET", "/v1/embeddings", "", bearer(kKey));
  check_error(unknown, 404, "invalid_request_error", "");
  CHECK(unknown.json()->getObject("error")->getValue<std::string>("message") ==
        "Invalid URL (GET /v1/embeddings)");
  check_error(call(m.at, "GET", "/nowhere"), 404, "invalid_request_error", "");
  test::Reply wrong = call(m.at, "GET", "/v1/chat/completions", "", bearer(kKey));
  check_error(wrong, 405, "invalid_request_error", "method_not_allowed");
  CHECK(wrong.head.get("Allow", "") == "POST");
}

TEST_CASE("control endpoint forces 429 with Retry-After, 403, 500, 503, then status 0 restores") {
  test::Mock m;
  test::Reply set = call(m.at, "POST", "/mock/config", R"({"status":429,"retry_after_s":7})");
  REQUIRE(set.status == 200);
  CHECK(set.json()->getObject("openai")->getValue<int>("status") == 429);

  test::Reply limited = call(m.at, "GET", "/v1/models", "", bearer(kKey));
  check_error(limited, 429, "requests", "rate_limit_exceeded");
  CHECK(limited.head.get("Retry-After", "") == "7");
  CHECK(
      call(m.at, "POST", "/v1/chat/completions", chat_body("mock-1", false), bearer(kKey)).status ==
      429);
  // Auth still comes first, as with a real provider.
  CHECK(call(m.at, "GET", "/v1/models").status == 401);
  CHECK(call(m.at, "GET", "/healthz").status == 200);

  const std::pair<int, const char*> others[] = {
      {403, "request_forbidden"}, {500, "server_error"}, {503, "server_error"}};
  for (const auto& [status, type] : others) {
    CAPTURE(status);
    REQUIRE(
        call(m.at, "POST", "/mock/config", "{\"status\":" + std::to_string(status) + "}").status ==
        200);
    test::Reply r = call(m.at, "GET", "/v1/models", "", bearer(kKey));
    check_error(r, status, type, "");
    CHECK(!r.head.has("Retry-After"));
  }

  REQUIRE(call(m.at, "POST", "/mock/config", R"({"status":0})").status == 200);
  CHECK(call(m.at, "GET", "/v1/models", "", bearer(kKey)).status == 200);
  CHECK(of(m.server->behaviours(), Flavour::openai).forced_status == 0);
}

TEST_CASE("control endpoint changes pacing and a bad body changes nothing") {
  test::Mock m;
  REQUIRE(call(m.at, "POST", "/mock/config", R"({"ttft_ms":400,"tokens":3})").status == 200);
  const auto t0 = std::chrono::steady_clock::now();
  test::Reply r =
      call(m.at, "POST", "/v1/chat/completions", chat_body("mock-1", false), bearer(kKey));
  CHECK(std::chrono::steady_clock::now() - t0 >= 400ms + 2 * 10ms);
  CHECK(r.json()->getObject("usage")->getValue<int>("completion_tokens") == 3);

  for (const char* bad :
       {R"({"ttft_ms":10,"colour":1})", R"({"status":404})", R"({"ttft_ms":-1})", R"({"tokens":0})",
        R"({"status":"429"})", R"({"openai":{"tokens":0}})", "{"}) {
    CAPTURE(bad);
    check_error(call(m.at, "POST", "/mock/config", bad), 400, "invalid_request_error", "");
  }
  test::Reply now = call(m.at, "GET", "/mock/config");
  REQUIRE(now.status == 200);
  for (const char* flavour : {"openai", "anthropic", "gemini"}) {
    CAPTURE(flavour);
    Object::Ptr b = now.json()->getObject(flavour);
    REQUIRE(b);
    CHECK(b->getValue<double>("ttft_ms") == 400.0);
    CHECK(b->getValue<int>("tokens") == 3);
    CHECK(b->getValue<int>("status") == 0);
  }
}

TEST_CASE("the control endpoints are for this namespace only") {
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
  of(slow.behaviour, Flavour::gemini).ttft = std::chrono::hours(1);
  CHECK(Server::start(slow).error().message == "gemini: ttft must be 0..10m");
  Options no_models;
  no_models.listen = {"127.0.0.1:0"};
  of(no_models.behaviour, Flavour::anthropic).models.clear();
  CHECK(Server::start(no_models).error().message == "anthropic: no model given");
}

}  // namespace
}  // namespace linewatch::mockllm

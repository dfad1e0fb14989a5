// mockllm's Anthropic flavour over real loopback HTTP: the model list, the
// key and version headers, whole and streamed messages, errors in
// Anthropic's shape.
#include <Poco/JSON/Array.h>
#include <doctest/doctest.h>

#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Object;
using test::anthropic_key;
using test::call;
using test::kKey;
using test::messages_body;

void check_error(const test::Reply& r, int status, const std::string& type) {
  CHECK(r.status == status);
  CHECK(r.head.getContentType() == "application/json");
  Object::Ptr o = r.json();
  CHECK(o->getValue<std::string>("type") == "error");
  Object::Ptr e = o->getObject("error");
  REQUIRE(e);
  CHECK(e->getValue<std::string>("type") == type);
  CHECK(!e->getValue<std::string>("message").empty());
}

TEST_CASE("Anthropic models: x-api-key and anthropic-version pick the flavour on /v1/models") {
  test::Mock m;
  test::Reply r = call(m.at, "GET", "/v1/models", "", anthropic_key(kKey));
  REQUIRE(r.status == 200);
  Poco::JSON::Array::Ptr data = r.json()->getArray("data");
  REQUIRE(data);
  REQUIRE(data->size() == 2);
  CHECK(data->getObject(0)->getValue<std::string>("type") == "model");
  // Dated ids only, as Anthropic lists them: aliases are not listed.
  CHECK(data->getObject(0)->getValue<std::string>("id") == "claude-3-5-haiku-20241022");
  CHECK(data->getObject(1)->getValue<std::string>("id") == "mock-1");
  CHECK(!data->getObject(0)->getValue<std::string>("created_at").empty());
  CHECK(r.json()->getValue<bool>("has_more") == false);
  // The /anthropic prefix gives the same answer.
  CHECK(call(m.at, "GET", "/anthropic/v1/models", "", anthropic_key(kKey)).body == r.body);
}

// The id of a 200 model object, checking its shape.
std::string model_id(const test::Reply& r) {
  REQUIRE(r.status == 200);
  CHECK(r.head.getContentType() == "application/json");
  Object::Ptr o = r.json();
  CHECK(o->getValue<std::string>("type") == "model");
  CHECK(!o->getValue<std::string>("display_name").empty());
  CHECK(!o->getValue<std::string>("created_at").empty());
  return o->getValue<std::string>("id");
}

TEST_CASE("Anthropic get a model: a listed id, or a -latest alias resolved to its dated id") {
  test::Mock m;
  CHECK(model_id(call(m.at, "GET", "/v1/models/claude-3-5-haiku-20241022", "",
                      anthropic_key(kKey))) == "claude-3-5-haiku-20241022");
  CHECK(model_id(call(m.at, "GET", "/v1/models/claude-3-5-haiku-latest", "",
                      anthropic_key(kKey))) == "claude-3-5-haiku-20241022");
  CHECK(model_id(call(m.at, "GET", "/anthropic/v1/models/mock-1", "", anthropic_key(kKey))) ==
        "mock-1");
  // The id is one percent-encoded path segment.
  CHECK(model_id(call(m.at, "GET", "/v1/models/claude%2D3%2D5-haiku-latest", "",
                      anthropic_key(kKey))) == "claude-3-5-haiku-20241022");
}

TEST_CASE("Anthropic get a model: the newest dated id answers for its alias") {
  test::Mock m([](Behaviour& b) {
    b.models = {"claude-x-20240101", "claude-x-20250301", "claude-x-20241231", "claude-xy-20260101",
                "claude-x-2025"};
  });
  CHECK(model_id(call(m.at, "GET", "/v1/models/claude-x-latest", "", anthropic_key(kKey))) ==
        "claude-x-20250301");
  CHECK(model_id(call(m.at, "GET", "/v1/models/claude-xy-latest", "", anthropic_key(kKey))) ==
        "claude-xy-20260101");
}

TEST_CASE("Anthropic get a model: an unknown id or alias is 404 not_found_error") {
  test::Mock m;
  for (const char* path :
       {"/v1/models/claude-9", "/v1/models/claude-9-latest", "/v1/models/claude-3-5-haiku",
        "/v1/models/latest", "/v1/models/claude-3-5-haiku-20241022-latest",
        "/v1/models/mock-1%2Fx"}) {
    CAPTURE(path);
    check_error(call(m.at, "GET", path, "", anthropic_key(kKey)), 404, "not_found_error");
  }
  const test::Reply r = call(m.at, "GET", "/v1/models/claude-9", "", anthropic_key(kKey));
  CHECK(r.json()->getObject("error")->getValue<std::string>("message") == "model: claude-9");
  // Auth and the version header come first, as for every call; then the method.
  check_error(call(m.at, "GET", "/anthropic/v1/models/mock-1"), 401, "authentication_error");
  check_error(call(m.at, "GET", "/v1/models/mock-1", "", {{"x-api-key", kKey}}), 400,
              "invalid_request_error");
  check_error(call(m.at, "POST", "/v1/models/mock-1", "{}", anthropic_key(kKey)), 405,
              "invalid_request_error");
  // Not a model id: an empty or two-segment path.
  check_error(call(m.at, "GET", "/v1/models/", "", anthropic_key(kKey)), 404, "not_found_error");
  check_error(call(m.at, "GET", "/v1/models/a/b", "", anthropic_key(kKey)), 404, "not_found_error");
}

TEST_CASE("Anthropic messages accept a -latest alias of a listed model") {
  test::Mock m;
  CHECK(call(m.at, "POST", "/v1/messages", messages_body("claude-3-5-haiku-latest", false),
             anthropic_key(kKey))
            .status == 200);
  check_error(call(m.at, "POST", "/v1/messages", messages_body("mock-2-latest", false),
                   anthropic_key(kKey)),
              404, "not_found_error");
}

TEST_CASE("Anthropic auth: 401 without or with a wrong x-api-key, 400 without anthropic-version") {
  test::Mock m;
  // Only the prefix can say "Anthropic" for a request that has no header of it.
  test::Reply missing = call(m.at, "GET", "/anthropic/v1/models");
  check_error(missing, 401, "authentication_error");
  CHECK(missing.json()->getObject("error")->getValue<std::string>("message") ==
        "x-api-key header is required");
  test::Reply wrong = call(m.at, "GET", "/v1/models", "", anthropic_key("sk-ant-wrong"));
  check_error(wrong, 401, "authentication_error");
  CHECK(wrong.json()->getObject("error")->getValue<std::string>("message") == "invalid x-api-key");
  CHECK(wrong.body.find("sk-ant-wrong") == std::string::npos);
  check_error(call(m.at, "POST", "/v1/messages", messages_body("mock-1", true)), 401,
              "authentication_error");

  test::Reply no_version = call(m.at, "GET", "/v1/models", "", {{"x-api-key", kKey}});
  check_error(no_version, 400, "invalid_request_error");
  CHECK(no_version.json()->getObject("error")->getValue<std::string>("message") ==
        "anthropic-version: header is required");
}

TEST_CASE("Anthropic stream: the real event sequence with event names and text deltas") {
  test::Mock m;
  test::Reply r =
      call(m.at, "POST", "/v1/messages", messages_body("mock-1", true, 3), anthropic_key(kKey));
  REQUIRE(r.status == 200);
  CHECK(r.head.getContentType() == "text/event-stream");
  const std::vector<test::SseEvent> events = test::sse_events(r.body);
  const std::vector<std::string> names = {
      "message_start",       "content_block_start", "ping",
      "content_block_delta", "content_block_delta", "content_block_delta",
      "content_block_stop",  "message_delta",       "message_stop"};
  REQUIRE(events.size() == names.size());
  std::string text;
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].name == names[i]);
    Object::Ptr o = test::parse(events[i].data);
    CHECK(o->getValue<std::string>("type") == names[i]);
    if (names[i] == "content_block_delta") {
      CHECK(o->getValue<int>("index") == 0);
      CHECK(o->getObject("delta")->getValue<std::string>("type") == "text_delta");
      text += o->getObject("delta")->getValue<std::string>("text");
    }
  }
  Object::Ptr message = test::parse(events[0].data)->getObject("message");
  CHECK(message->getValue<std::string>("id").rfind("msg_", 0) == 0);
  CHECK(message->getValue<std::string>("role") == "assistant");
  CHECK(message->getValue<std::string>("model") == "mock-1");
  CHECK(message->getArray("content")->size() == 0);
  CHECK(text == "This is a");
  Object::Ptr delta = test::parse(events[7].data);
  // max_tokens 3 cut the 5-token reply.
  CHECK(delta->getObject("delta")->getValue<std::string>("stop_reason") == "max_tokens");
  CHECK(delta->getObject("usage")->getValue<int>("output_tokens") == 3);
}

TEST_CASE("Anthropic whole message, required fields and unknown model") {
  test::Mock m;
  test::Reply r = call(m.at, "POST", "/v1/messages",
                       messages_body("claude-3-5-haiku-latest", false), anthropic_key(kKey));
  REQUIRE(r.status == 200);
  Object::Ptr o = r.json();
  CHECK(o->getValue<std::string>("type") == "message");
  CHECK(o->getValue<std::string>("stop_reason") == "end_turn");
  Object::Ptr block = o->getArray("content")->getObject(0);
  CHECK(block->getValue<std::string>("type") == "text");
  CHECK(block->getValue<std::string>("text") == "This is a mock reply");
  CHECK(o->getObject("usage")->getValue<int>("output_tokens") == 5);

  const std::string no_max = R"({"model":"mock-1","messages":[{"role":"user","content":"hi"}]})";
  check_error(call(m.at, "POST", "/v1/messages", no_max, anthropic_key(kKey)), 400,
              "invalid_request_error");
  check_error(
      call(m.at, "POST", "/v1/messages", messages_body("claude-9", true), anthropic_key(kKey)), 404,
      "not_found_error");
  check_error(call(m.at, "GET", "/v1/messages", "", anthropic_key(kKey)), 405,
              "invalid_request_error");
  check_error(call(m.at, "GET", "/v1/complete", "", anthropic_key(kKey)), 404, "not_found_error");
}

TEST_CASE("Anthropic forced failures: 429 with Retry-After, 529 overloaded, 500 api_error") {
  test::Mock m;
  const std::string body = R"({"anthropic":{"status":429,"retry_after_s":3}})";
  REQUIRE(call(m.at, "POST", "/mock/config", body).status == 200);
  test::Reply limited =
      call(m.at, "POST", "/v1/messages", messages_body("mock-1", true), anthropic_key(kKey));
  check_error(limited, 429, "rate_limit_error");
  CHECK(limited.head.get("Retry-After", "") == "3");
  // Only Anthropic was told to fail.
  CHECK(call(m.at, "GET", "/v1/models", "", test::bearer(kKey)).status == 200);

  REQUIRE(call(m.at, "POST", "/mock/config", R"({"anthropic":{"status":529}})").status == 200);
  test::Reply overloaded = call(m.at, "GET", "/v1/models", "", anthropic_key(kKey));
  check_error(overloaded, 529, "overloaded_error");
  CHECK(overloaded.head.getReason() == "Overloaded");
  REQUIRE(call(m.at, "POST", "/mock/config", R"({"anthropic":{"status":500}})").status == 200);
  check_error(call(m.at, "GET", "/v1/models", "", anthropic_key(kKey)), 500, "api_error");
}

TEST_CASE(
    "Anthropic error_after_tokens: an overloaded_error event after N deltas ends the stream") {
  test::Mock m([](Behaviour& b) { b.error_after_tokens = 2; });
  test::Reply r =
      call(m.at, "POST", "/v1/messages", messages_body("mock-1", true), anthropic_key(kKey));
  REQUIRE(r.status == 200);
  const std::vector<test::SseEvent> events = test::sse_events(r.body);
  REQUIRE(events.size() == 3 + 2 + 1);
  CHECK(events[3].name == "content_block_delta");
  CHECK(events[4].name == "content_block_delta");
  CHECK(events[5].name == "error");
  Object::Ptr error = test::parse(events[5].data);
  CHECK(error->getValue<std::string>("type") == "error");
  CHECK(error->getObject("error")->getValue<std::string>("type") == "overloaded_error");
  CHECK(r.body.find("message_stop") == std::string::npos);
}

}  // namespace
}  // namespace linewatch::mockllm

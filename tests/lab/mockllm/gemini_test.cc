// mockllm's Gemini flavour over real loopback HTTP: the model list, keys by
// header or query, streamed and whole generateContent, errors in Google's
// shape.
#include <Poco/JSON/Array.h>
#include <doctest/doctest.h>

#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using Poco::JSON::Object;
using test::call;
using test::gemini_body;
using test::gemini_key;
using test::kKey;

constexpr const char* kStream = "/v1beta/models/mock-1:streamGenerateContent?alt=sse";

void check_error(const test::Reply& r, int status, const std::string& name) {
  CHECK(r.status == status);
  CHECK(r.head.getContentType() == "application/json");
  Object::Ptr e = r.json()->getObject("error");
  REQUIRE(e);
  CHECK(e->getValue<int>("code") == status);
  CHECK(e->getValue<std::string>("status") == name);
  CHECK(!e->getValue<std::string>("message").empty());
}

// The text of candidates[0].content.parts[0] and the candidate.
std::pair<std::string, Object::Ptr> candidate(const std::string& json) {
  Object::Ptr c = test::parse(json)->getArray("candidates")->getObject(0);
  return {c->getObject("content")->getArray("parts")->getObject(0)->getValue<std::string>("text"),
          c};
}

TEST_CASE("Gemini models lists models/NAME and takes the key by header or query") {
  test::Mock m;
  test::Reply r = call(m.at, "GET", "/v1beta/models", "", gemini_key(kKey));
  REQUIRE(r.status == 200);
  Poco::JSON::Array::Ptr models = r.json()->getArray("models");
  REQUIRE(models);
  REQUIRE(models->size() == 2);
  CHECK(models->getObject(0)->getValue<std::string>("name") == "models/gemini-1.5-flash");
  CHECK(models->getObject(1)->getValue<std::string>("name") == "models/mock-1");
  CHECK(call(m.at, "GET", std::string("/v1beta/models?key=") + kKey).body == r.body);
  CHECK(call(m.at, "GET", "/gemini/v1beta/models", "", gemini_key(kKey)).body == r.body);
  CHECK(call(m.at, "GET", "/gemini/v1/models", "", gemini_key(kKey)).body == r.body);
}

// The google.rpc.ErrorInfo reason in an error's details; "" when none.
std::string error_info_reason(const test::Reply& r) {
  Poco::JSON::Array::Ptr details = r.json()->getObject("error")->getArray("details");
  for (unsigned i = 0; details && i < details->size(); ++i) {
    Object::Ptr d = details->getObject(i);
    if (d && d->optValue<std::string>("@type", "") == "type.googleapis.com/google.rpc.ErrorInfo")
      return d->optValue<std::string>("reason", "");
  }
  return "";
}

TEST_CASE("Gemini auth as Google answers: a wrong key 400 API_KEY_INVALID, none 403") {
  test::Mock m;
  test::Reply wrong = call(m.at, "POST", kStream, gemini_body(), gemini_key("AIza-wrong"));
  check_error(wrong, 400, "INVALID_ARGUMENT");
  CHECK(wrong.json()->getObject("error")->getValue<std::string>("message") ==
        "API key not valid. Please pass a valid API key.");
  CHECK(error_info_reason(wrong) == "API_KEY_INVALID");
  Object::Ptr info = wrong.json()->getObject("error")->getArray("details")->getObject(0);
  CHECK(info->getValue<std::string>("domain") == "googleapis.com");
  CHECK(info->getObject("metadata")->getValue<std::string>("service") ==
        "generativelanguage.googleapis.com");
  CHECK(wrong.body.find("AIza-wrong") == std::string::npos);
  test::Reply wrong_query = call(m.at, "GET", "/v1beta/models?key=AIza-wrong");
  check_error(wrong_query, 400, "INVALID_ARGUMENT");
  CHECK(error_info_reason(wrong_query) == "API_KEY_INVALID");
  CHECK(wrong_query.body.find("AIza-wrong") == std::string::npos);

  test::Reply missing = call(m.at, "GET", "/v1beta/models");
  check_error(missing, 403, "PERMISSION_DENIED");
  CHECK(missing.json()->getObject("error")->getValue<std::string>("message").starts_with(
      "Method doesn't allow unregistered callers"));
  CHECK(error_info_reason(missing) == "");
  // A Bearer header is OpenAI's: no Gemini key at all.
  check_error(call(m.at, "GET", "/v1beta/models", "", test::bearer(kKey)), 403,
              "PERMISSION_DENIED");
  // A bad request that is not the key's has no ErrorInfo.
  test::Reply no_sse = call(m.at, "POST", "/v1beta/models/mock-1:streamGenerateContent",
                            gemini_body(), gemini_key(kKey));
  check_error(no_sse, 400, "INVALID_ARGUMENT");
  CHECK(error_info_reason(no_sse) == "");
}

TEST_CASE("Gemini reject_status 403 or 401 answers a missing and a wrong key alike") {
  test::Mock m;
  REQUIRE(call(m.at, "POST", "/mock/config", R"({"gemini":{"reject_status":403}})").status == 200);
  check_error(call(m.at, "GET", "/v1beta/models"), 403, "PERMISSION_DENIED");
  check_error(call(m.at, "GET", "/v1beta/models", "", gemini_key("AIza-wrong")), 403,
              "PERMISSION_DENIED");
  REQUIRE(call(m.at, "POST", "/mock/config", R"({"gemini":{"reject_status":401}})").status == 200);
  test::Reply wrong = call(m.at, "GET", "/v1beta/models", "", gemini_key("AIza-wrong"));
  check_error(wrong, 401, "UNAUTHENTICATED");
  CHECK(error_info_reason(wrong) == "");
  check_error(call(m.at, "GET", "/v1beta/models"), 401, "UNAUTHENTICATED");
  // Back to Google's own answers.
  REQUIRE(call(m.at, "POST", "/mock/config", R"({"gemini":{"reject_status":0}})").status == 200);
  check_error(call(m.at, "GET", "/v1beta/models", "", gemini_key("AIza-wrong")), 400,
              "INVALID_ARGUMENT");
}

TEST_CASE("Gemini stream: data chunks of text, finishReason on the last, no DONE") {
  test::Mock m;
  test::Reply r = call(m.at, "POST", kStream, gemini_body(), gemini_key(kKey));
  REQUIRE(r.status == 200);
  CHECK(r.head.getContentType() == "text/event-stream");
  const std::vector<test::SseEvent> events = test::sse_events(r.body);
  REQUIRE(events.size() == 5);
  std::string text;
  for (std::size_t i = 0; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i].name.empty());
    auto [piece, c] = candidate(events[i].data);
    text += piece;
    CHECK(c->getObject("content")->getValue<std::string>("role") == "model");
    if (i + 1 < events.size())
      CHECK(!c->has("finishReason"));
    else
      CHECK(c->getValue<std::string>("finishReason") == "STOP");
  }
  CHECK(text == "This is a mock reply");
  CHECK(r.body.find("[DONE]") == std::string::npos);
  CHECK(test::parse(events[0].data)->getValue<std::string>("modelVersion") == "mock-1");
}

TEST_CASE("Gemini maxOutputTokens cuts with MAX_TOKENS and generateContent answers whole") {
  test::Mock m;
  test::Reply cut = call(m.at, "POST", kStream, gemini_body(2), gemini_key(kKey));
  const std::vector<std::string> data = test::sse_data(cut.body);
  REQUIRE(data.size() == 2);
  CHECK(candidate(data[1]).second->getValue<std::string>("finishReason") == "MAX_TOKENS");

  test::Reply whole = call(m.at, "POST", "/v1beta/models/gemini-1.5-flash:generateContent",
                           gemini_body(), gemini_key(kKey));
  REQUIRE(whole.status == 200);
  auto [text, c] = candidate(whole.body);
  CHECK(text == "This is a mock reply");
  CHECK(c->getValue<std::string>("finishReason") == "STOP");
  CHECK(whole.json()->getObject("usageMetadata")->getValue<int>("candidatesTokenCount") == 5);
}

TEST_CASE("Gemini bad requests: no alt=sse, no contents, unknown model, unknown action") {
  test::Mock m;
  check_error(call(m.at, "POST", "/v1beta/models/mock-1:streamGenerateContent", gemini_body(),
                   gemini_key(kKey)),
              400, "INVALID_ARGUMENT");
  check_error(call(m.at, "POST", kStream, R"({"contents":[]})", gemini_key(kKey)), 400,
              "INVALID_ARGUMENT");
  check_error(call(m.at, "POST", "/v1beta/models/gemini-9:streamGenerateContent?alt=sse",
                   gemini_body(), gemini_key(kKey)),
              404, "NOT_FOUND");
  check_error(
      call(m.at, "POST", "/v1beta/models/mock-1:embedContent", gemini_body(), gemini_key(kKey)),
      404, "NOT_FOUND");
}

TEST_CASE("Gemini forced 429 RESOURCE_EXHAUSTED with Retry-After and 503 UNAVAILABLE") {
  test::Mock m;
  REQUIRE(
      call(m.at, "POST", "/mock/config", R"({"gemini":{"status":429,"retry_after_s":9}})").status ==
      200);
  test::Reply limited = call(m.at, "POST", kStream, gemini_body(), gemini_key(kKey));
  check_error(limited, 429, "RESOURCE_EXHAUSTED");
  CHECK(limited.head.get("Retry-After", "") == "9");
  REQUIRE(call(m.at, "POST", "/mock/config", R"({"gemini":{"status":503}})").status == 200);
  check_error(call(m.at, "GET", "/v1beta/models", "", gemini_key(kKey)), 503, "UNAVAILABLE");
}

TEST_CASE("Gemini error_after_tokens: an error chunk after N texts, no finishReason") {
  test::Mock m([](Behaviour& b) { b.error_after_tokens = 1; });
  test::Reply r = call(m.at, "POST", kStream, gemini_body(), gemini_key(kKey));
  const std::vector<std::string> data = test::sse_data(r.body);
  REQUIRE(data.size() == 2);
  CHECK(candidate(data[0]).first == "This");
  Object::Ptr error = test::parse(data[1])->getObject("error");
  REQUIRE(error);
  CHECK(error->getValue<int>("code") == 503);
  CHECK(error->getValue<std::string>("status") == "UNAVAILABLE");
  CHECK(r.body.find("finishReason") == std::string::npos);
}

}  // namespace
}  // namespace linewatch::mockllm

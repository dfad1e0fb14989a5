// Which flavour and call a request path is (route.h), without sockets.
#include "tests/lab/mockllm/route.h"

#include <doctest/doctest.h>

namespace linewatch::mockllm {
namespace {

void check(std::string_view path, bool anthropic_headers, Flavour flavour, Call call) {
  CAPTURE(path);
  CAPTURE(anthropic_headers);
  std::optional<Route> r = route(path, anthropic_headers);
  REQUIRE(r);
  CHECK(r->flavour == flavour);
  CHECK(r->call == call);
}

TEST_CASE("unprefixed paths: v1beta is Gemini, messages Anthropic, v1 models by the headers") {
  check("/v1/models", false, Flavour::openai, Call::models);
  check("/v1/models", true, Flavour::anthropic, Call::models);
  check("/v1/chat/completions", false, Flavour::openai, Call::completion);
  check("/v1/messages", false, Flavour::anthropic, Call::completion);
  check("/v1/messages", true, Flavour::anthropic, Call::completion);
  check("/v1/embeddings", false, Flavour::openai, Call::unknown);
  check("/v1/chat/completions", true, Flavour::anthropic, Call::unknown);
  check("/v1beta/models", false, Flavour::gemini, Call::models);
  check("/v1beta/models", true, Flavour::gemini, Call::models);
  check("/v1beta/tunedModels", false, Flavour::gemini, Call::unknown);
  CHECK(!route("/healthz", false));
  CHECK(!route("/v1", false));
  CHECK(!route("/v2/models", true));
}

TEST_CASE("a flavour prefix picks the flavour whatever the headers and is stripped") {
  check("/openai/v1/models", true, Flavour::openai, Call::models);
  check("/anthropic/v1/models", false, Flavour::anthropic, Call::models);
  check("/anthropic/v1/messages", false, Flavour::anthropic, Call::completion);
  check("/anthropic/v1/chat/completions", false, Flavour::anthropic, Call::unknown);
  check("/gemini/v1beta/models", true, Flavour::gemini, Call::models);
  check("/gemini/v1/models", false, Flavour::gemini, Call::models);
  check("/gemini", false, Flavour::gemini, Call::unknown);
  CHECK(route("/anthropic/v1/models", false)->api_path == "/v1/models");
  // Not a prefix: a longer first segment.
  CHECK(!route("/openairy/v1/models", false));
}

TEST_CASE("Gemini completion paths carry the model and the action") {
  std::optional<Route> r = route("/v1beta/models/gemini-1.5-flash:streamGenerateContent", false);
  REQUIRE(r);
  CHECK(r->call == Call::completion);
  CHECK(r->model == "gemini-1.5-flash");
  CHECK(r->stream);
  r = route("/gemini/v1/models/mock-1:generateContent", false);
  REQUIRE(r);
  CHECK(r->call == Call::completion);
  CHECK(r->model == "mock-1");
  CHECK(!r->stream);
  // v1 without the prefix is OpenAI's or Anthropic's.
  CHECK(route("/v1/models/mock-1:generateContent", false)->flavour == Flavour::openai);
  for (const char* bad : {"/v1beta/models/:streamGenerateContent", "/v1beta/models/m",
                          "/v1beta/models/a/b:generateContent", "/v1beta/models/m:embedContent"}) {
    CAPTURE(bad);
    CHECK(route(bad, false)->call == Call::unknown);
  }
}

TEST_CASE("Anthropic's get-a-model path carries the id, percent-decoded") {
  std::optional<Route> r = route("/v1/models/claude-3-5-haiku-latest", true);
  REQUIRE(r);
  CHECK(r->flavour == Flavour::anthropic);
  CHECK(r->call == Call::model);
  CHECK(r->model == "claude-3-5-haiku-latest");
  r = route("/anthropic/v1/models/a%20b%2Fc", false);
  REQUIRE(r);
  CHECK(r->call == Call::model);
  CHECK(r->model == "a b/c");
  // OpenAI's is not served; nor an empty id, a second segment or a bad escape.
  check("/v1/models/gpt-4o-mini", false, Flavour::openai, Call::unknown);
  for (const char* bad : {"/v1/models/", "/v1/models/a/b", "/v1/models/a%2"}) {
    CAPTURE(bad);
    CHECK(route(bad, true)->call == Call::unknown);
  }
}

TEST_CASE("each call has one method") {
  CHECK(method_of(Call::model) == "GET");
  CHECK(method_of(Call::models) == "GET");
  CHECK(method_of(Call::completion) == "POST");
  CHECK(method_of(Call::unknown) == "");
}

}  // namespace
}  // namespace linewatch::mockllm

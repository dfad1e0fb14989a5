#include "probes/llm_wire.h"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "core/probe_result.h"
#include "probes/sse_test_support.h"

namespace linewatch {
namespace {

using test::SseFixture;
using test::WantDecode;

// What decoding one stream came to.
struct Decoded {
  std::string steps;    // one letter per event, as WantDecode::steps
  int tokens = 0;       // the decoder's count
  int step_tokens = 0;  // the sum over steps: must agree with `tokens`
  bool done = false;
  std::string error_type;
  std::string detail;
};

bool operator==(const Decoded& a, const Decoded& b) {
  return a.steps == b.steps && a.tokens == b.tokens && a.step_tokens == b.step_tokens &&
         a.done == b.done && a.error_type == b.error_type && a.detail == b.detail;
}

char letter(StreamStep::Kind k) {
  switch (k) {
    case StreamStep::Kind::nothing:
      return 'n';
    case StreamStep::Kind::content:
      return 'c';
    case StreamStep::Kind::done:
      return 'd';
    case StreamStep::Kind::error:
      return 'e';
    case StreamStep::Kind::bad:
      return 'b';
  }
  return '?';
}

// Feeds `stream` in pieces ending at `cuts` and decodes each event as soon
// as a read completes it, as the probe does.
Decoded decode_pieces(std::string_view stream, const std::vector<std::size_t>& cuts,
                      LlmFlavour flavour) {
  SseParser parser;
  LlmStreamDecoder decoder(flavour);
  Decoded d;
  std::size_t at = 0;
  auto feed = [&](std::size_t end) {
    std::vector<SseEvent> events;
    if (!parser.feed(stream.substr(at, end - at), events).ok()) d.steps += '!';
    at = end;
    for (const SseEvent& e : events) {
      const StreamStep s = decoder.on_event(e);
      d.steps += letter(s.kind);
      d.step_tokens += s.tokens;
      if ((s.kind == StreamStep::Kind::error || s.kind == StreamStep::Kind::bad) &&
          d.detail.empty()) {
        d.error_type = s.error_type;
        d.detail = s.detail;
      }
    }
  };
  for (std::size_t cut : cuts) feed(cut);
  feed(stream.size());
  d.tokens = decoder.tokens();
  d.done = decoder.done();
  return d;
}

// Streams up to this size are also decoded in every 3-way split (JSON
// parsing makes it dearer than the parser's own 3-way runs).
constexpr std::size_t kDecodeThreeWayMax = 300;

TEST_CASE("llm: every fixture decodes to its steps, tokens, end and error however it is split") {
  int fixtures = 0;
  for (const SseFixture& fx : test::sse_fixtures()) {
    if (!fx.decode) continue;
    ++fixtures;
    const WantDecode& want = *fx.decode;
    const std::string stream = test::read_sse_fixture(fx.file);
    INFO(fx.file);
    REQUIRE(!stream.empty());
    const Decoded whole = decode_pieces(stream, {}, want.flavour);
    CHECK(whole.steps == want.steps);
    CHECK(whole.tokens == want.tokens);
    CHECK(whole.step_tokens == want.tokens);
    CHECK(whole.done == want.done);
    CHECK(whole.error_type == want.error_type);
    CHECK(whole.detail == want.detail);

    std::string first_difference;
    test::for_each_split(
        stream.size(), stream.size() <= kDecodeThreeWayMax,
        [&](const std::vector<std::size_t>& cuts) {
          if (first_difference.empty() && !(decode_pieces(stream, cuts, want.flavour) == whole))
            first_difference = test::describe_cuts(cuts);
        });
    CHECK(first_difference == "");
  }
  CHECK(fixtures == 14);
}

TEST_CASE("llm: random splits of every fixture decode the same") {
  std::mt19937 random(test::kRandomSeed);
  for (const SseFixture& fx : test::sse_fixtures()) {
    if (!fx.decode) continue;
    const std::string stream = test::read_sse_fixture(fx.file);
    REQUIRE(!stream.empty());
    const Decoded whole = decode_pieces(stream, {}, fx.decode->flavour);
    std::string first_difference;
    for (int i = 0; i < test::kRandomSplits; ++i) {
      const std::vector<std::size_t> cuts = test::random_cuts(random, stream.size());
      if (first_difference.empty() && !(decode_pieces(stream, cuts, fx.decode->flavour) == whole))
        first_difference = test::describe_cuts(cuts);
    }
    INFO(fx.file);
    CHECK(first_difference == "");
  }
}

// --- decoder cases the fixtures do not hold -------------------------------

StreamStep step(LlmFlavour f, std::string_view data, std::string_view event = "") {
  LlmStreamDecoder d(f);
  return d.on_event(SseEvent{std::string(event), std::string(data), ""});
}

TEST_CASE("llm: an OpenAI chunk counts one token per choice with text") {
  const StreamStep s =
      step(LlmFlavour::openai, R"({"choices":[{"index":0,"delta":{"content":"O"}},)"
                               R"({"index":1,"delta":{"content":"K"}},{"index":2,"delta":{}}]})");
  CHECK(s.kind == StreamStep::Kind::content);
  CHECK(s.tokens == 2);
}

TEST_CASE("llm: a null error member in an OpenAI-compatible chunk is no error") {
  const StreamStep s =
      step(LlmFlavour::openai, R"({"error":null,"choices":[{"delta":{"content":"Hi"}}]})");
  CHECK(s.kind == StreamStep::Kind::content);
  CHECK(s.tokens == 1);
}

TEST_CASE("llm: an OpenAI chunk with an empty or non-string content carries no token") {
  CHECK(step(LlmFlavour::openai, R"({"choices":[{"delta":{"content":""}}]})").kind ==
        StreamStep::Kind::nothing);
  CHECK(step(LlmFlavour::openai, R"({"choices":[{"delta":{"content":null}}]})").kind ==
        StreamStep::Kind::nothing);
  CHECK(step(LlmFlavour::openai, R"({"choices":"none"})").kind == StreamStep::Kind::nothing);
}

TEST_CASE("llm: an Anthropic delta counts only non-empty text") {
  CHECK(
      step(
          LlmFlavour::anthropic,
          R"({"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}})")
          .kind == StreamStep::Kind::nothing);
  CHECK(step(LlmFlavour::anthropic,
             R"({"type":"content_block_delta","delta":{"type":"text_delta","text":""}})")
            .kind == StreamStep::Kind::nothing);
  // An event type added later is metadata until the probe learns it.
  CHECK(step(LlmFlavour::anthropic, R"({"type":"citation_added"})").kind ==
        StreamStep::Kind::nothing);
}

TEST_CASE("llm: an Anthropic event whose data has no type is read by its event name") {
  const StreamStep s = step(LlmFlavour::anthropic, R"({})", "message_stop");
  CHECK(s.kind == StreamStep::Kind::done);
  const StreamStep e = step(LlmFlavour::anthropic, R"({"message":"busy"})", "error");
  CHECK(e.kind == StreamStep::Kind::error);
  CHECK(e.detail == "busy");
}

TEST_CASE("llm: Gemini thought parts and an unspecified finishReason are not the answer") {
  LlmStreamDecoder d(LlmFlavour::gemini);
  const StreamStep s = d.on_event(SseEvent{
      "",
      R"({"candidates":[{"content":{"parts":[{"text":"thinking","thought":true},{"text":"OK"}]},)"
      R"("finishReason":"FINISH_REASON_UNSPECIFIED"}]})",
      ""});
  CHECK(s.kind == StreamStep::Kind::content);
  CHECK(s.tokens == 1);
  CHECK(!d.done());
}

TEST_CASE("llm: a Gemini chunk after the end is read on its own") {
  LlmStreamDecoder d(LlmFlavour::gemini);
  CHECK(d.on_event(SseEvent{"", R"({"candidates":[{"finishReason":"MAX_TOKENS"}]})", ""}).kind ==
        StreamStep::Kind::done);
  CHECK(d.on_event(SseEvent{"", R"({"candidates":[{"index":0}],"usageMetadata":{}})", ""}).kind ==
        StreamStep::Kind::nothing);
  CHECK(d.done());
}

TEST_CASE("llm: a Gemini prompt blocked outright is an error of its block reason") {
  const StreamStep s =
      step(LlmFlavour::gemini, R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{}})");
  CHECK(s.kind == StreamStep::Kind::error);
  CHECK(s.error_type == "SAFETY");
  CHECK(s.detail == "prompt blocked");
}

TEST_CASE("llm: an event that is JSON but not an object is bad, and so is DONE outside OpenAI") {
  const StreamStep arr = step(LlmFlavour::openai, "[1,2]");
  CHECK(arr.kind == StreamStep::Kind::bad);
  CHECK(arr.detail == "not a JSON object: [1,2]");
  const StreamStep done = step(LlmFlavour::anthropic, "[DONE]");
  CHECK(done.kind == StreamStep::Kind::bad);
  CHECK(done.detail == "not JSON: [DONE]");
}

TEST_CASE("llm: a hostile error event's text comes back printable and short") {
  const std::string message = "\x1b[31mred\n" + std::string(10000, 'x');
  Poco::JSON::Object err;
  err.set("type", std::string("bad\ttype"));
  err.set("message", message);
  Poco::JSON::Object::Ptr errp = new Poco::JSON::Object(err);
  Poco::JSON::Object doc;
  doc.set("error", errp);
  std::ostringstream json;
  doc.stringify(json);
  const StreamStep s = step(LlmFlavour::openai, json.str());
  REQUIRE(s.kind == StreamStep::Kind::error);
  CHECK(s.error_type == "bad\\x09type");
  CHECK(s.detail.starts_with("\\x1b[31mred\\x0axxx"));
  CHECK(s.detail.ends_with("..."));
  CHECK(s.detail.size() <= kMaxDetailBytes);
  // An unparseable event is quoted short too.
  const StreamStep bad = step(LlmFlavour::openai, std::string(5000, '{'));
  CHECK(bad.kind == StreamStep::Kind::bad);
  CHECK(bad.detail.size() <= 100);
}

TEST_CASE("llm: the decoder's token count adds up over events") {
  LlmStreamDecoder d(LlmFlavour::anthropic);
  const SseEvent text{"content_block_delta",
                      R"({"type":"content_block_delta","delta":{"type":"text_delta","text":"a"}})",
                      ""};
  for (int i = 0; i < 3; ++i) d.on_event(text);
  CHECK(d.tokens() == 3);
  CHECK(!d.done());
}

// --- requests ---------------------------------------------------------------

using Headers = std::vector<std::pair<std::string, std::string>>;

LlmOptions options(LlmFlavour f, std::string model) {
  LlmOptions o;
  o.flavour = f;
  o.model = std::move(model);
  o.mode = LlmMode::completion;
  return o;
}

constexpr std::string_view kKey = "sk-test-0123456789abcdef";
constexpr std::string_view kPromptJson = R"("Reply with the single word OK.")";

Poco::JSON::Object::Ptr parse_body(const std::string& body) {
  return Poco::JSON::Parser().parse(body).extract<Poco::JSON::Object::Ptr>();
}

TEST_CASE("llm: each flavour's model-list request") {
  const LlmRequest oa = models_request(options(LlmFlavour::openai, "gpt-4o-mini"), "/v1", kKey);
  CHECK(oa.method == "GET");
  CHECK(oa.target == "/v1/models");
  CHECK(oa.headers == Headers{{"Authorization", "Bearer sk-test-0123456789abcdef"},
                              {"Accept", "application/json"}});
  CHECK(oa.body == "");

  const LlmRequest an =
      models_request(options(LlmFlavour::anthropic, "claude-3-5-haiku-latest"), "/v1", kKey);
  CHECK(an.method == "GET");
  CHECK(an.target == "/v1/models/claude-3-5-haiku-latest");
  CHECK(an.headers == Headers{{"x-api-key", "sk-test-0123456789abcdef"},
                              {"anthropic-version", "2023-06-01"},
                              {"Accept", "application/json"}});
  CHECK(an.body == "");

  const LlmRequest ge =
      models_request(options(LlmFlavour::gemini, "gemini-1.5-flash"), "/v1beta", kKey);
  CHECK(ge.method == "GET");
  CHECK(ge.target == "/v1beta/models?pageSize=1000");
  CHECK(ge.headers ==
        Headers{{"x-goog-api-key", "sk-test-0123456789abcdef"}, {"Accept", "application/json"}});
  CHECK(ge.body == "");
}

TEST_CASE("llm: an OpenAI completion request streams at most max_tokens") {
  LlmOptions o = options(LlmFlavour::openai, "gpt-4o-mini");
  o.max_tokens = 3;
  const LlmRequest r = completion_request(o, "/v1", kKey);
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1/chat/completions");
  const std::string body = R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":)" +
                           std::string(kPromptJson) + R"(}],"max_tokens":3,"stream":true})";
  CHECK(r.body == body);
  CHECK(r.headers == Headers{{"Authorization", "Bearer sk-test-0123456789abcdef"},
                             {"Content-Type", "application/json"},
                             {"Accept", "text/event-stream"},
                             {"Content-Length", std::to_string(body.size())}});
}

TEST_CASE("llm: an Anthropic completion request carries the key and the API version") {
  LlmOptions o = options(LlmFlavour::anthropic, "claude-3-5-haiku-latest");
  o.anthropic_version = "2023-06-01-test";
  const LlmRequest r = completion_request(o, "/v1", kKey);
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1/messages");
  const std::string body = R"({"model":"claude-3-5-haiku-latest","max_tokens":5,)"
                           R"("messages":[{"role":"user","content":)" +
                           std::string(kPromptJson) + R"(}],"stream":true})";
  CHECK(r.body == body);
  CHECK(r.headers == Headers{{"x-api-key", "sk-test-0123456789abcdef"},
                             {"anthropic-version", "2023-06-01-test"},
                             {"Content-Type", "application/json"},
                             {"Accept", "text/event-stream"},
                             {"Content-Length", std::to_string(body.size())}});
}

TEST_CASE("llm: a Gemini completion request names the model in the path and asks for SSE") {
  const LlmRequest r =
      completion_request(options(LlmFlavour::gemini, "gemini-1.5-flash"), "/v1beta", kKey);
  CHECK(r.method == "POST");
  CHECK(r.target == "/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse");
  const std::string body = R"({"contents":[{"role":"user","parts":[{"text":)" +
                           std::string(kPromptJson) +
                           R"(}]}],"generationConfig":{"maxOutputTokens":5}})";
  CHECK(r.body == body);
  CHECK(r.headers == Headers{{"x-goog-api-key", "sk-test-0123456789abcdef"},
                             {"Content-Type", "application/json"},
                             {"Accept", "text/event-stream"},
                             {"Content-Length", std::to_string(body.size())}});
}

TEST_CASE("llm: an empty base path puts the calls at the root") {
  const LlmOptions o = options(LlmFlavour::openai, "m");
  CHECK(models_request(o, "", kKey).target == "/models");
  CHECK(completion_request(o, "", kKey).target == "/chat/completions");
}

TEST_CASE("llm: a Gemini model is one escaped path segment") {
  auto target = [](std::string model) {
    return completion_request(options(LlmFlavour::gemini, std::move(model)), "/v1beta", kKey)
        .target;
  };
  CHECK(target("gemini 1.5/flash?x#y:z") ==
        "/v1beta/models/gemini%201.5%2Fflash%3Fx%23y%3Az:streamGenerateContent?alt=sse");
  // Gemini's own spelling "models/NAME" names the same model.
  CHECK(target("models/gemini-1.5-flash") ==
        "/v1beta/models/gemini-1.5-flash:streamGenerateContent?alt=sse");
  CHECK(target("\xE6\xA8\xA1%") == "/v1beta/models/%E6%A8%A1%25:streamGenerateContent?alt=sse");
  CHECK(target("a-b_c.d~e") == "/v1beta/models/a-b_c.d~e:streamGenerateContent?alt=sse");
}

TEST_CASE("llm: an Anthropic model is one escaped path segment of its get-a-model call") {
  auto target = [](std::string model) {
    return models_request(options(LlmFlavour::anthropic, std::move(model)), "/v1", kKey).target;
  };
  CHECK(target("claude 3/5?x#y:z") == "/v1/models/claude%203%2F5%3Fx%23y%3Az");
  // "models/" is Gemini's spelling only: here it is part of the id.
  CHECK(target("models/claude-3-5-haiku-latest") == "/v1/models/models%2Fclaude-3-5-haiku-latest");
  CHECK(target("claude-3-5-haiku-20241022") == "/v1/models/claude-3-5-haiku-20241022");
  CHECK(models_request(options(LlmFlavour::anthropic, "m"), "", kKey).target == "/models/m");
}

TEST_CASE("llm: a model name is escaped in the JSON body and read back whole") {
  const std::string model = "we\"ird\\name\n\x01 \xC3\xA9 meta-llama/Llama-3";
  for (LlmFlavour f : {LlmFlavour::openai, LlmFlavour::anthropic}) {
    const LlmRequest r = completion_request(options(f, model), "/v1", kKey);
    CHECK(r.body.find(R"("model":"we\"ird\\name\n\u0001 )"
                      "\xC3\xA9"
                      R"( meta-llama/Llama-3")") != std::string::npos);
    const auto doc = parse_body(r.body);
    CHECK(doc->getValue<std::string>("model") == model);
    CHECK(doc->getValue<bool>("stream"));
    // The target does not depend on the model.
    CHECK(r.target.find("Llama") == std::string::npos);
  }
}

TEST_CASE("llm: max_tokens is kept within 1 to 5 for every flavour") {
  const std::vector<std::pair<int, int>> cases = {{-3, 1}, {0, 1}, {1, 1}, {3, 3},
                                                  {5, 5},  {6, 5}, {99, 5}};
  for (const auto& [asked, sent] : cases) {
    CAPTURE(asked);
    LlmOptions o = options(LlmFlavour::openai, "m");
    o.max_tokens = asked;
    CHECK(parse_body(completion_request(o, "/v1", kKey).body)->getValue<int>("max_tokens") == sent);
    o.flavour = LlmFlavour::anthropic;
    CHECK(parse_body(completion_request(o, "/v1", kKey).body)->getValue<int>("max_tokens") == sent);
    o.flavour = LlmFlavour::gemini;
    const auto gemini = parse_body(completion_request(o, "/v1beta", kKey).body);
    CHECK(gemini->getObject("generationConfig")->getValue<int>("maxOutputTokens") == sent);
  }
}

// How many times `needle` occurs in `hay`.
int occurrences(std::string_view hay, std::string_view needle) {
  int n = 0;
  for (auto at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST_CASE("llm: the key is only ever in the flavour's auth header") {
  const std::vector<std::pair<LlmFlavour, std::string>> auth = {
      {LlmFlavour::openai, "Authorization"},
      {LlmFlavour::anthropic, "x-api-key"},
      {LlmFlavour::gemini, "x-goog-api-key"}};
  for (const auto& [flavour, auth_header] : auth) {
    for (bool completion : {false, true}) {
      CAPTURE(auth_header);
      CAPTURE(completion);
      const LlmOptions o = options(flavour, "model-1");
      const LlmRequest r =
          completion ? completion_request(o, "/v1", kKey) : models_request(o, "/v1", kKey);
      CHECK(occurrences(r.method, kKey) == 0);
      CHECK(occurrences(r.target, kKey) == 0);
      CHECK(occurrences(r.body, kKey) == 0);
      int in_headers = 0;
      for (const auto& [name, value] : r.headers) {
        CHECK(occurrences(name, kKey) == 0);
        if (occurrences(value, kKey) > 0) {
          ++in_headers;
          CHECK(name == auth_header);
          CHECK(occurrences(value, kKey) == 1);
        }
      }
      CHECK(in_headers == 1);
    }
  }
}

// --- model lists ------------------------------------------------------------

constexpr std::string_view kOpenAiModels =
    R"({"object":"list","data":[{"id":"gpt-4o-mini","object":"model","created":1721172741,)"
    R"("owned_by":"system"},{"id":"gpt-4o","object":"model","created":1715367049,)"
    R"("owned_by":"system"}]})";
constexpr std::string_view kAnthropicModels =
    R"({"data":[{"type":"model","id":"claude-3-5-haiku-20241022","display_name":)"
    R"("Claude Haiku 3.5","created_at":"2024-10-22T00:00:00Z"},{"type":"model",)"
    R"("id":"claude-3-5-sonnet-20241022","display_name":"Claude Sonnet 3.5 New",)"
    R"("created_at":"2024-10-22T00:00:00Z"}],"has_more":false,)"
    R"("first_id":"claude-3-5-haiku-20241022","last_id":"claude-3-5-sonnet-20241022"})";
constexpr std::string_view kGeminiModels =
    R"({"models": [{"name": "models/gemini-1.5-flash","version": "001",)"
    R"("displayName": "Gemini 1.5 Flash","inputTokenLimit": 1000000,)"
    R"("supportedGenerationMethods": ["generateContent","countTokens"]},)"
    R"({"name": "models/gemini-1.5-pro","version": "001"}],"nextPageToken": "Ch5tb2RlbHM"})";

bool listed(LlmFlavour f, std::string_view body, std::string_view model) {
  const Result<bool> r = model_listed(f, body, model);
  REQUIRE(r.ok());
  return r.value();
}

TEST_CASE("llm: OpenAI and Anthropic model lists are matched by exact id") {
  CHECK(listed(LlmFlavour::openai, kOpenAiModels, "gpt-4o-mini"));
  CHECK(listed(LlmFlavour::openai, kOpenAiModels, "gpt-4o"));
  CHECK(!listed(LlmFlavour::openai, kOpenAiModels, "gpt-4"));
  CHECK(!listed(LlmFlavour::openai, kOpenAiModels, "GPT-4o"));
  CHECK(listed(LlmFlavour::anthropic, kAnthropicModels, "claude-3-5-haiku-20241022"));
  CHECK(!listed(LlmFlavour::anthropic, kAnthropicModels, "claude-3-5-haiku"));
  CHECK(!listed(LlmFlavour::openai, R"({"object":"list","data":[]})", "gpt-4o"));
  // Items that are not objects, or ids that are not strings, are passed over.
  CHECK(listed(LlmFlavour::openai, R"({"data":[1,"gpt-4o",{"id":7},{"id":"gpt-4o"}]})", "gpt-4o"));
  CHECK(!listed(LlmFlavour::openai, R"({"data":[1,"gpt-4o",{"id":7}]})", "gpt-4o"));
}

TEST_CASE("llm: a Gemini model list matches NAME and models/NAME") {
  CHECK(listed(LlmFlavour::gemini, kGeminiModels, "gemini-1.5-flash"));
  CHECK(listed(LlmFlavour::gemini, kGeminiModels, "models/gemini-1.5-flash"));
  CHECK(listed(LlmFlavour::gemini, kGeminiModels, "gemini-1.5-pro"));
  CHECK(!listed(LlmFlavour::gemini, kGeminiModels, "gemini-1.5"));
  CHECK(!listed(LlmFlavour::gemini, kGeminiModels, "flash"));
  CHECK(!listed(LlmFlavour::gemini, kGeminiModels, "models/"));
  // Gemini leaves an empty list out of its JSON.
  CHECK(!listed(LlmFlavour::gemini, "{}", "gemini-1.5-flash"));
  // An OpenAI-shaped list is not Gemini's.
  CHECK(!listed(LlmFlavour::gemini, R"({"data":[{"id":"gemini-1.5-flash"}]})", "gemini-1.5-flash"));
}

TEST_CASE("llm: a model list that is not the flavour's document fails with a short message") {
  const Result<bool> html = model_listed(LlmFlavour::openai, "<html>502 Bad Gateway</html>", "m");
  REQUIRE(!html.ok());
  CHECK(html.error().code == ErrorCode::invalid_argument);
  CHECK(html.error().message == "model list is not a JSON object: <html>502 Bad Gateway</html>");

  const Result<bool> no_data = model_listed(LlmFlavour::openai, R"({"data":"gpt-4o"})", "m");
  REQUIRE(!no_data.ok());
  CHECK(no_data.error().message == R"(model list has no "data" array)");
  CHECK(!model_listed(LlmFlavour::anthropic, R"({"models":[]})", "m").ok());
  CHECK(!model_listed(LlmFlavour::gemini, R"({"models":{"name":"models/m"}})", "m").ok());
  CHECK(!model_listed(LlmFlavour::openai, R"([{"id":"m"}])", "m").ok());
  CHECK(!model_listed(LlmFlavour::openai, "", "m").ok());
  CHECK(!model_listed(LlmFlavour::openai, R"({"data":[{"id":"m"}])", "m").ok());

  const Result<bool> hostile =
      model_listed(LlmFlavour::openai, "\x1b]0;owned\x07" + std::string(100000, 'A'), "m");
  REQUIRE(!hostile.ok());
  CHECK(
      hostile.error().message.starts_with("model list is not a JSON object: \\x1b]0;owned\\x07A"));
  CHECK(hostile.error().message.size() <= 120);
}

TEST_CASE("llm: an Anthropic model object gives the id an alias resolves to") {
  const Result<std::string> dated = model_object_id(
      R"({"type":"model","id":"claude-3-5-haiku-20241022","display_name":"Claude Haiku 3.5",)"
      R"("created_at":"2024-10-22T00:00:00Z"})");
  REQUIRE(dated.ok());
  CHECK(dated.value() == "claude-3-5-haiku-20241022");
  // Fields added later, and an object without a type, are still a model.
  const Result<std::string> bare = model_object_id(R"({"id":"m","capabilities":{}})");
  REQUIRE(bare.ok());
  CHECK(bare.value() == "m");
}

TEST_CASE("llm: an answer that is not a model object fails with a short message") {
  const Result<std::string> list = model_object_id(R"({"data":[{"type":"model","id":"m"}]})");
  REQUIRE(!list.ok());
  CHECK(list.error().code == ErrorCode::invalid_argument);
  CHECK(list.error().message == R"(model object has no "id" string)");
  const Result<std::string> error =
      model_object_id(R"({"type":"error","error":{"type":"api_error","message":"x"}})");
  REQUIRE(!error.ok());
  CHECK(error.error().message == R"(model object has type "error", not "model")");
  CHECK(!model_object_id(R"({"type":"model","id":""})").ok());
  CHECK(!model_object_id(R"({"type":"model","id":7})").ok());
  CHECK(!model_object_id(R"([{"type":"model","id":"m"}])").ok());
  const Result<std::string> html = model_object_id("<html>502 Bad Gateway</html>");
  REQUIRE(!html.ok());
  CHECK(html.error().message == "model object is not a JSON object: <html>502 Bad Gateway</html>");
  const Result<std::string> hostile =
      model_object_id(R"({"type":"\u001b[2J)" + std::string(1000, 'x') + R"("})");
  REQUIRE(!hostile.ok());
  CHECK(hostile.error().message.starts_with(R"(model object has type "\x1b[2Jxxx)"));
  CHECK(hostile.error().message.size() <= 120);
}

// --- error answers ----------------------------------------------------------

TEST_CASE("llm: each provider's error body gives its message") {
  CHECK(api_error_message(
            R"({"error":{"message":"Incorrect API key provided: sk-abc***xyz.",)"
            R"("type":"invalid_request_error","param":null,"code":"invalid_api_key"}})") ==
        "Incorrect API key provided: sk-abc***xyz.");
  CHECK(api_error_message(
            R"({"type":"error","error":{"type":"rate_limit_error","message":)"
            R"("Number of request tokens has exceeded your per-minute rate limit"}})") ==
        "Number of request tokens has exceeded your per-minute rate limit");
  CHECK(
      api_error_message(
          R"({"error": {"code": 400,"message": "API key not valid. Please pass a valid API key.",)"
          R"("status": "INVALID_ARGUMENT","details": [{"@type": )"
          R"("type.googleapis.com/google.rpc.ErrorInfo","reason": "API_KEY_INVALID"}]}})") ==
      "API key not valid. Please pass a valid API key.");
  // Gemini's non-SSE stream wraps its error in an array.
  CHECK(api_error_message(R"([{"error": {"code": 429,"message": "Quota exceeded",)"
                          R"("status": "RESOURCE_EXHAUSTED"}}])") == "Quota exceeded");
}

TEST_CASE("llm: gateways' error shapes give their text too") {
  CHECK(api_error_message(R"({"error":"Unauthorized"})") == "Unauthorized");
  CHECK(api_error_message(R"({"message":"no Route matched with those values"})") ==
        "no Route matched with those values");
  CHECK(api_error_message(R"({"detail":"Not authenticated"})") == "Not authenticated");
  // No message: the error's type is the best there is.
  CHECK(api_error_message(R"({"type":"error","error":{"type":"overloaded_error"}})") ==
        "overloaded_error");
}

TEST_CASE("llm: an error body gives its type") {
  CHECK(api_error_type(R"({"type":"error","error":{"type":"not_found_error",)"
                       R"("message":"model: claude-9"}})") == "not_found_error");
  CHECK(api_error_type(R"({"error":{"code":404,"message":"m","status":"NOT_FOUND"}})") ==
        "NOT_FOUND");
  CHECK(api_error_type(R"([{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}])") ==
        "RESOURCE_EXHAUSTED");
  CHECK(api_error_type(R"({"error":"Unauthorized"})") == "");
  CHECK(api_error_type("<html>404</html>") == "");
  CHECK(api_error_type(R"({"error":{"type":"a\nb"}})") == "a\\x0ab");
}

// Gemini's answer to a wrong key, as it comes (400, with its ErrorInfo).
constexpr std::string_view kGeminiBadKey =
    R"({"error": {"code": 400,"message": "API key not valid. Please pass a valid API key.",)"
    R"("status": "INVALID_ARGUMENT","details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",)"
    R"("reason": "API_KEY_INVALID","domain": "googleapis.com","metadata": {"service": )"
    R"("generativelanguage.googleapis.com"}},{"@type": "type.googleapis.com/google.rpc.LocalizedMessage",)"
    R"("locale": "en-US","message": "API key not valid. Please pass a valid API key."}]}})";

TEST_CASE("llm: a Google ErrorInfo with a key reason says the key was refused") {
  CHECK(api_key_refused(kGeminiBadKey));
  CHECK(api_key_refused("[" + std::string(kGeminiBadKey) + "]"));
  for (const char* reason :
       {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED", "API_KEY_IOS_APP_BLOCKED",
        "ACCESS_TOKEN_EXPIRED"}) {
    CAPTURE(reason);
    CHECK(api_key_refused(R"({"error":{"code":400,"status":"INVALID_ARGUMENT","details":[)"
                          R"({"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":")" +
                          std::string(reason) + R"("}]}})"));
  }
}

TEST_CASE("llm: other bad requests do not say the key was refused") {
  // A bad request of Gemini's own: no details.
  CHECK(!api_key_refused(R"({"error":{"code":400,"message":"* GenerateContentRequest.contents: )"
                         R"(contents is not specified","status":"INVALID_ARGUMENT"}})"));
  // Another reason, or the key reason outside an ErrorInfo.
  CHECK(!api_key_refused(
      R"({"error":{"code":400,"details":[{"@type":)"
      R"("type.googleapis.com/google.rpc.ErrorInfo","reason":"SERVICE_DISABLED"}]}})"));
  CHECK(!api_key_refused(
      R"({"error":{"code":400,"details":[{"@type":)"
      R"("type.googleapis.com/google.rpc.BadRequest","reason":"API_KEY_INVALID"}]}})"));
  CHECK(!api_key_refused(R"({"error":{"code":400,"details":[{"reason":"API_KEY_INVALID"}]}})"));
  CHECK(!api_key_refused(R"({"error":{"code":400,"details":"API_KEY_INVALID"}})"));
  // OpenAI's wrong key, a gateway's text, nothing.
  CHECK(!api_key_refused(R"({"error":{"message":"Incorrect API key provided","type":)"
                         R"("invalid_request_error","code":"invalid_api_key"}})"));
  CHECK(!api_key_refused("API_KEY_INVALID"));
  CHECK(!api_key_refused(""));
}

TEST_CASE("llm: a body with no error text gives an empty message") {
  CHECK(api_error_message("") == "");
  CHECK(api_error_message("<html><body>502 Bad Gateway</body></html>") == "");
  CHECK(api_error_message(R"({"ok":true})") == "");
  CHECK(api_error_message(R"({"error":{"code":500}})") == "");
  CHECK(api_error_message("[]") == "");
  CHECK(api_error_message(std::string(1 << 20, 'x')) == "");
  CHECK(api_error_message(std::string(100000, '[') + std::string(100000, ']')) == "");
}

TEST_CASE("llm: an error message is made printable and short") {
  const std::string big = R"({"error":{"message":")" + std::string(100000, 'x') + R"("}})";
  const std::string m = api_error_message(big);
  CHECK(m.size() <= kMaxDetailBytes);
  CHECK(m.ends_with("..."));
  CHECK(m.starts_with("xxxx"));
  CHECK(api_error_message(R"({"error":{"message":"bad\nkey\u001b[2J"}})") == "bad\\x0akey\\x1b[2J");
}

}  // namespace
}  // namespace linewatch

// Tests of the LLM probe against HTTP servers on 127.0.0.1 started here,
// speaking each flavour's wire format from a script.
#include <Poco/Net/Context.h>
#include <Poco/Net/NetSSL.h>
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <mutex>

#include "probes/http_test_support.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

using test::send_text;
using test::TestServer;
using Handler = TestServer::Handler;
using Steady = std::chrono::steady_clock;

constexpr const char* kKey = "sk-test-8c1e5b7a93d24f06a1b2c3d4e5f60718";

// The key lives in an environment variable of this process, as an operator's would.
std::string key_var() {
  static const std::string name = "LINEWATCH_LLM_TEST_KEY_" + std::to_string(::getpid());
  return name;
}

struct LlmCase {
  explicit LlmCase(const std::string& base_url, LlmMode mode = LlmMode::models) {
    ::setenv(key_var().c_str(), kKey, 1);
    spec.kind = ProbeKind::llm;
    spec.timing.timeout = 5s;
    spec.llm->base_url = base_url;
    spec.llm->model = "gpt-4o-mini";
    spec.llm->api_key_env = key_var();
    spec.llm->mode = mode;
    spec.llm->stall = 2s;
  }
  ProbeResult run() {
    const MonoTime start = Steady::now();
    ProbeResult r = run_probe(ProbeRequest{line, target, spec, clock});
    elapsed = Steady::now() - start;
    REQUIRE(r.llm.has_value());
    CHECK(r.llm->mode == spec.llm->mode);
    return r;
  }
  LineSpec line = [] {
    LineSpec l;
    l.id = "line-a";
    return l;
  }();
  std::string target = "openai";
  ProbeSpec spec{};
  SystemClock clock;
  Duration elapsed{};
};

// The request body after `head` (TestServer reads the head and maybe some
// of the body), read to its Content-Length, so the server never closes on
// unread bytes (a reset the client would see).
std::string read_body(Poco::Net::StreamSocket& s, const std::string& head) {
  const auto end_of_head = head.find("\r\n\r\n");
  std::string body = end_of_head == std::string::npos ? "" : head.substr(end_of_head + 4);
  const auto at = head.find("Content-Length: ");
  if (at == std::string::npos) return body;
  const std::size_t length = std::stoul(head.substr(at + 16));
  char buf[4096];
  while (body.size() < length) {
    const int n = s.receiveBytes(buf, sizeof buf);
    if (n <= 0) break;
    body.append(buf, static_cast<std::size_t>(n));
  }
  return body;
}

// Every request seen (head and body), for the tests to inspect.
struct Seen {
  std::mutex mutex;
  std::vector<std::string> requests;
  void add(std::string r) {
    std::lock_guard lock(mutex);
    requests.push_back(std::move(r));
  }
  std::string last() {
    std::lock_guard lock(mutex);
    return requests.empty() ? "" : requests.back();
  }
  std::size_t count() {
    std::lock_guard lock(mutex);
    return requests.size();
  }
};

// Answers every request with `response` after reading it whole.
Handler answer(Seen& seen, std::string response) {
  return [&seen, response](Poco::Net::StreamSocket& s, const std::string& head,
                           const std::atomic<bool>&) {
    seen.add(head.substr(0, head.find("\r\n\r\n") + 4) + read_body(s, head));
    send_text(s, response);
  };
}

std::string chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return size + std::string("\r\n") + data + "\r\n";
}

const std::string kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string openai_content(const std::string& text) {
  return "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" + text +
         "\"},\"finish_reason\":null}]}\n\n";
}
const std::string kOpenaiRole =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
const std::string kOpenaiDone = "data: [DONE]\n\n";

// A streamed answer: after reading the request, each step waits `delay` and
// then writes `bytes` as it is (the test builds chunks itself). With `stall`
// set, the connection then stays open and silent until the server stops.
struct Step {
  Duration delay;
  std::string bytes;
};
Handler stream(Seen& seen, std::vector<Step> steps, bool stall = false) {
  return [&seen, steps, stall](Poco::Net::StreamSocket& s, const std::string& head,
                               const std::atomic<bool>& stop) {
    seen.add(head.substr(0, head.find("\r\n\r\n") + 4) + read_body(s, head));
    for (const Step& step : steps) {
      test::wait_for_stop(stop, std::chrono::duration_cast<std::chrono::milliseconds>(step.delay));
      send_text(s, step.bytes);
    }
    if (stall) test::wait_for_stop(stop, 10s);
  };
}

std::string json_response(int status, const std::string& body, const std::string& extra = "") {
  return test::response(status, body, "Content-Type: application/json\r\n" + extra);
}

const std::string kOpenaiModels = R"({"object":"list","data":[{"id":"gpt-4o","object":"model"},)"
                                  R"({"id":"gpt-4o-mini","object":"model"}]})";

bool mentions_key(const ProbeResult& r) {
  const std::string key = kKey;
  for (const std::string* s : {&r.detail, &r.line, &r.target})
    for (std::size_t n = 8; n <= key.size(); ++n)
      for (std::size_t at = 0; at + n <= key.size(); at += n)
        if (s->find(key.substr(at, n)) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("llm: models mode finds the model in the list, timed phase by phase") {
  Seen seen;
  TestServer server(answer(seen, json_response(200, kOpenaiModels)));
  LlmCase c(server.url("/v1"));
  const ProbeResult r = c.run();
  CHECK(r.ok);
  CHECK(r.reason == Reason::ok);
  CHECK(r.kind == ProbeKind::llm);
  CHECK(r.http_status == 200);
  CHECK(r.llm->model_listed == std::optional<bool>(true));
  CHECK(r.llm->stream_bytes == kOpenaiModels.size());
  CHECK_FALSE(r.llm->ttft.has_value());
  REQUIRE(r.llm->total.has_value());
  REQUIRE(r.rtt.has_value());
  CHECK(*r.rtt >= *r.llm->total + *r.phases.connect);  // the whole call, as http's rtt
  CHECK(r.phases.connect);
  CHECK(r.phases.ttfb);
  CHECK(r.phases.transfer);
  CHECK_FALSE(r.phases.tls);
  const std::string request = seen.last();
  CHECK(request.rfind("GET /v1/models HTTP/1.1\r\n", 0) == 0);
  CHECK(request.find("\r\nAuthorization: Bearer " + std::string(kKey) + "\r\n") !=
        std::string::npos);
  CHECK(request.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") !=
        std::string::npos);
  CHECK(r.detail.empty());
}

TEST_CASE("llm: a model missing from the list is model_missing, an unparseable list bad_response") {
  Seen seen;
  {
    TestServer server(
        answer(seen, json_response(200, R"({"object":"list","data":[{"id":"o1"}]})")));
    const ProbeResult r = LlmCase(server.url("/v1")).run();
    CHECK(r.reason == Reason::model_missing);
    CHECK(r.llm->model_listed == std::optional<bool>(false));
    CHECK(r.detail.find("gpt-4o-mini is not in the model list") != std::string::npos);
    CHECK_FALSE(is_network_failure(r));
  }
  {
    TestServer server(answer(seen, test::response(200, "<html>gateway</html>")));
    const ProbeResult r = LlmCase(server.url("/v1")).run();
    CHECK(r.reason == Reason::bad_response);
    CHECK_FALSE(r.llm->model_listed.has_value());
    CHECK_FALSE(is_network_failure(r));
  }
}

// Answers by request target as Anthropic does: the list holds dated ids
// only, and GET /v1/models/ID knows the dated ids and their -latest aliases.
Handler anthropic_models(Seen& seen) {
  return [&seen](Poco::Net::StreamSocket& s, const std::string& head, const std::atomic<bool>&) {
    seen.add(head.substr(0, head.find("\r\n\r\n") + 4));
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string object =
        R"({"type":"model","id":"claude-3-5-haiku-20241022",)"
        R"("display_name":"Claude Haiku 3.5","created_at":"2024-10-22T00:00:00Z"})";
    if (line.starts_with("GET /v1/models?"))
      send_text(s, json_response(200, R"({"data":[)" + object + R"(],"has_more":false})"));
    else if (line == "GET /v1/models/claude-3-5-haiku-latest HTTP/1.1" ||
             line == "GET /v1/models/claude-3-5-haiku-20241022 HTTP/1.1")
      send_text(s, json_response(200, object));
    else
      send_text(s, json_response(404, R"({"type":"error","error":{"type":"not_found_error",)"
                                      R"("message":"model: claude-9"}})"));
  };
}

TEST_CASE("llm: an Anthropic alias the model list does not hold is found by its own call") {
  Seen seen;
  TestServer server(anthropic_models(seen));
  for (const char* model : {"claude-3-5-haiku-latest", "claude-3-5-haiku-20241022"}) {
    CAPTURE(model);
    LlmCase c(server.url("/v1"));
    c.spec.llm->flavour = LlmFlavour::anthropic;
    c.spec.llm->model = model;
    const ProbeResult r = c.run();
    CHECK_MESSAGE(r.ok, r.detail);
    CHECK(r.reason == Reason::ok);
    CHECK(r.http_status == 200);
    CHECK(r.llm->model_listed == std::optional<bool>(true));
    CHECK(r.rtt.has_value());
    CHECK(r.detail.empty());
    CHECK(seen.last().rfind("GET /v1/models/" + std::string(model) + " HTTP/1.1\r\n", 0) == 0);
  }
}

TEST_CASE("llm: an Anthropic model the API does not know is model_missing, not bad_response") {
  Seen seen;
  TestServer server(anthropic_models(seen));
  LlmCase c(server.url("/v1"));
  c.spec.llm->flavour = LlmFlavour::anthropic;
  c.spec.llm->model = "claude-9";
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::model_missing);
  CHECK(r.http_status == 404);
  CHECK(r.llm->model_listed == std::optional<bool>(false));
  CHECK(r.detail == "model claude-9 is unknown to the API (status 404: model: claude-9)");
  CHECK(r.rtt.has_value());  // the call was answered whole, as a list without the model
  CHECK_FALSE(is_network_failure(r));
  // A completion's 404 is the endpoint's bad answer, as before.
  LlmCase completion(server.url("/v1"), LlmMode::completion);
  completion.spec.llm->flavour = LlmFlavour::anthropic;
  CHECK(completion.run().reason == Reason::bad_response);
}

TEST_CASE(
    "llm: an Anthropic 404 that is not Anthropic's, or a 200 that is no model, is bad_response") {
  Seen seen;
  {
    // A gateway in front that lacks the call.
    TestServer server(answer(seen, test::response(404, "<html>Not Found</html>")));
    LlmCase c(server.url("/v1"));
    c.spec.llm->flavour = LlmFlavour::anthropic;
    const ProbeResult r = c.run();
    CHECK(r.reason == Reason::bad_response);
    CHECK_FALSE(r.llm->model_listed.has_value());
  }
  {
    TestServer server(answer(seen, json_response(200, R"({"data":[{"id":"gpt-4o-mini"}]})")));
    LlmCase c(server.url("/v1"));
    c.spec.llm->flavour = LlmFlavour::anthropic;
    const ProbeResult r = c.run();
    CHECK(r.reason == Reason::bad_response);
    CHECK(r.detail == R"(model object (31 bytes): model object has no "id" string)");
    CHECK_FALSE(r.llm->model_listed.has_value());
  }
}

TEST_CASE("llm: a completion is timed from the request written to the first content token") {
  Seen seen;
  // The role delta comes at once (no content), the first token after 300 ms,
  // the second 400 ms later: TTFT must see the first, not the end.
  TestServer server(stream(seen, {{0ms, kStreamHead + chunk(kOpenaiRole)},
                                  {300ms, chunk(openai_content("OK"))},
                                  {400ms, chunk(openai_content("."))},
                                  {0ms, chunk(kOpenaiDone) + "0\r\n\r\n"}}));
  LlmCase c(server.url("/v1"), LlmMode::completion);
  c.spec.llm->max_tokens = 2;
  const ProbeResult r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  REQUIRE(r.llm->ttft.has_value());
  REQUIRE(r.llm->total.has_value());
  CHECK(*r.llm->ttft >= 300ms);
  // Read as it arrived: the second token's gap lies between TTFT and the end.
  CHECK(*r.llm->total - *r.llm->ttft >= 400ms);
  CHECK(r.rtt == r.llm->ttft);
  CHECK(r.llm->tokens == 2);
  CHECK(r.llm->stream_complete);
  CHECK(r.llm->stream_bytes > 0);
  CHECK_FALSE(r.llm->model_listed.has_value());
  const std::string request = seen.last();
  CHECK(request.rfind("POST /v1/chat/completions HTTP/1.1\r\n", 0) == 0);
  CHECK(request.find("\r\nAccept: text/event-stream\r\n") != std::string::npos);
  const std::string body = request.substr(request.find("\r\n\r\n") + 4);
  CHECK(body.find("\"gpt-4o-mini\"") != std::string::npos);
  CHECK(body.find("\"stream\":true") != std::string::npos);
  CHECK(body.find(kKey) == std::string::npos);  // the key goes in its header only
}

TEST_CASE("llm: API statuses map to auth, rate_limited, server_error and bad_response") {
  struct Case {
    int status;
    Reason reason;
  };
  const std::string error_body =
      R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota"}})";
  for (const Case k :
       {Case{401, Reason::auth}, Case{403, Reason::auth}, Case{429, Reason::rate_limited},
        Case{500, Reason::server_error}, Case{503, Reason::server_error},
        Case{529, Reason::server_error}, Case{400, Reason::bad_response},
        Case{404, Reason::bad_response}, Case{301, Reason::bad_response}}) {
    for (const LlmMode mode : {LlmMode::models, LlmMode::completion}) {
      CAPTURE(k.status);
      const int is_completion = mode == LlmMode::completion;
      CAPTURE(is_completion);
      Seen seen;
      TestServer server(answer(seen, json_response(k.status, error_body)));
      const ProbeResult r = LlmCase(server.url("/v1"), mode).run();
      CHECK(r.reason == k.reason);
      CHECK(r.http_status == k.status);
      CHECK(r.detail.find("status " + std::to_string(k.status)) == 0);
      CHECK(r.detail.find("You exceeded your current quota") != std::string::npos);
      CHECK_FALSE(is_network_failure(r));
      CHECK_FALSE(r.llm->retry_after.has_value());  // a 429 without Retry-After too
    }
  }
}

TEST_CASE("llm: Gemini's 400 for a wrong key is auth, its other 400s bad_response") {
  const std::string bad_key =
      R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.",)"
      R"("status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",)"
      R"("reason":"API_KEY_INVALID","domain":"googleapis.com",)"
      R"("metadata":{"service":"generativelanguage.googleapis.com"}}]}})";
  const std::string bad_request =
      R"({"error":{"code":400,"message":"* GenerateContentRequest.contents: contents is not )"
      R"(specified","status":"INVALID_ARGUMENT"}})";
  for (const LlmMode mode : {LlmMode::models, LlmMode::completion}) {
    const int is_completion = mode == LlmMode::completion;
    CAPTURE(is_completion);
    Seen seen;
    {
      TestServer server(answer(seen, json_response(400, bad_key)));
      LlmCase c(server.url("/v1beta"), mode);
      c.spec.llm->flavour = LlmFlavour::gemini;
      c.spec.llm->model = "gemini-1.5-flash";
      const ProbeResult r = c.run();
      CHECK(r.reason == Reason::auth);
      CHECK(r.http_status == 400);
      CHECK(r.detail == "status 400: API key not valid. Please pass a valid API key.");
      CHECK_FALSE(is_network_failure(r));
    }
    {
      TestServer server(answer(seen, json_response(400, bad_request)));
      LlmCase c(server.url("/v1beta"), mode);
      c.spec.llm->flavour = LlmFlavour::gemini;
      c.spec.llm->model = "gemini-1.5-flash";
      const ProbeResult r = c.run();
      CHECK(r.reason == Reason::bad_response);
      CHECK(r.http_status == 400);
    }
  }
}

TEST_CASE("llm: a 429 records Retry-After given in seconds or as an HTTP-date") {
  Seen seen;
  {
    TestServer server(answer(seen, json_response(429, "{}", "Retry-After: 7\r\n")));
    const ProbeResult r = LlmCase(server.url("/v1"), LlmMode::completion).run();
    CHECK(r.reason == Reason::rate_limited);
    CHECK(r.llm->retry_after == std::optional<Duration>(7s));
    CHECK(r.detail == "status 429 (retry after 7s)");
  }
  {
    // An HTTP-date 2 minutes ahead of now (whole seconds, as the header has).
    const auto at = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()) + 120;
    std::tm tm{};
    gmtime_r(&at, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    TestServer server(
        answer(seen, json_response(429, "{}", "Retry-After: " + std::string(date) + "\r\n")));
    const ProbeResult r = LlmCase(server.url("/v1")).run();
    REQUIRE(r.llm->retry_after.has_value());
    CHECK(*r.llm->retry_after > 100s);
    CHECK(*r.llm->retry_after <= 121s);
  }
}

TEST_CASE("llm: no answer within stall is a stream_stall that counts against the line") {
  Seen seen;
  TestServer server(stream(seen, {}, /*stall=*/true));
  LlmCase c(server.url("/v1"), LlmMode::completion);
  c.spec.llm->stall = 300ms;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::stream_stall);
  CHECK(r.llm->stream_bytes == 0);
  CHECK(r.http_status == 0);
  CHECK(is_network_failure(r));
  CHECK(r.detail.find("nothing of the answer arrived") != std::string::npos);
  CHECK(c.elapsed < 2s);  // the stall ended it, long before the 5 s timeout
}

TEST_CASE("llm: a status line then silence is a stall before any body byte") {
  Seen seen;
  TestServer server(stream(seen, {{0ms, kStreamHead}}, /*stall=*/true));
  LlmCase c(server.url("/v1"), LlmMode::completion);
  c.spec.llm->stall = 300ms;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::stream_stall);
  CHECK(r.http_status == 200);
  CHECK(r.llm->stream_bytes == 0);
  CHECK(is_network_failure(r));
  CHECK(r.detail.find("no byte of the body arrived") != std::string::npos);
  CHECK(c.elapsed < 2s);
}

TEST_CASE("llm: a stream that goes quiet after content is the endpoint's stall") {
  Seen seen;
  TestServer server(
      stream(seen, {{0ms, kStreamHead + chunk(kOpenaiRole)}, {50ms, chunk(openai_content("OK"))}},
             /*stall=*/true));
  LlmCase c(server.url("/v1"), LlmMode::completion);
  c.spec.llm->stall = 300ms;
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::stream_stall);
  CHECK(r.llm->stream_bytes > 0);
  CHECK(r.llm->ttft.has_value());
  CHECK(r.llm->tokens == 1);
  CHECK_FALSE(r.llm->stream_complete);
  CHECK_FALSE(is_network_failure(r));
  CHECK(r.detail.find("the stream went quiet") != std::string::npos);
}

TEST_CASE("llm: keep-alive comments are bytes of the stream but not tokens") {
  Seen seen;
  std::vector<Step> steps{{0ms, kStreamHead}};
  for (int i = 0; i < 4; ++i) steps.push_back({150ms, chunk(": keep-alive\n\n")});
  steps.push_back({0ms, chunk(openai_content("OK") + kOpenaiDone) + "0\r\n\r\n"});
  TestServer server(stream(seen, steps));
  LlmCase c(server.url("/v1"), LlmMode::completion);
  c.spec.llm->stall = 400ms;  // each gap is below it, their sum is not
  const ProbeResult r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(*r.llm->ttft >= 600ms);
  CHECK(r.llm->tokens == 1);
}

TEST_CASE("llm: an error event in the stream is server_error, a rate-limit error rate_limited") {
  Seen seen;
  {
    TestServer server(
        stream(seen, {{0ms, kStreamHead + chunk(openai_content("OK"))},
                      {0ms, chunk(R"(data: {"error":{"message":"The server had an error","type":)"
                                  R"("server_error"}})"
                                  "\n\n") +
                                "0\r\n\r\n"}}));
    const ProbeResult r = LlmCase(server.url("/v1"), LlmMode::completion).run();
    CHECK(r.reason == Reason::server_error);
    CHECK(r.detail == "stream error server_error: The server had an error");
    CHECK(r.llm->tokens == 1);
    CHECK_FALSE(is_network_failure(r));
  }
  {
    TestServer server(
        stream(seen, {{0ms, kStreamHead +
                                chunk("event: error\ndata: {\"type\":\"error\",\"error\":"
                                      "{\"type\":\"rate_limit_error\",\"message\":\"slow "
                                      "down\"}}\n\n") +
                                "0\r\n\r\n"}}));
    LlmCase c(server.url("/v1"), LlmMode::completion);
    c.spec.llm->flavour = LlmFlavour::anthropic;
    const ProbeResult r = c.run();
    CHECK(r.reason == Reason::rate_limited);
    CHECK(r.detail == "stream error rate_limit_error: slow down");
  }
}

TEST_CASE("llm: a stream cut before its end marker, or not a stream, is bad_response") {
  Seen seen;
  {
    TestServer server(
        stream(seen, {{0ms, kStreamHead + chunk(openai_content("OK")) + "0\r\n\r\n"}}));
    const ProbeResult r = LlmCase(server.url("/v1"), LlmMode::completion).run();
    CHECK(r.reason == Reason::bad_response);
    CHECK_FALSE(r.llm->stream_complete);
    CHECK(r.llm->tokens == 1);
    CHECK(r.detail.find("before its end marker") != std::string::npos);
  }
  {
    TestServer server(answer(seen, json_response(200, R"({"choices":[]})")));
    const ProbeResult r = LlmCase(server.url("/v1"), LlmMode::completion).run();
    CHECK(r.reason == Reason::bad_response);
    CHECK(r.detail == "expected a text/event-stream answer, got application/json");
  }
  {
    TestServer server(
        stream(seen, {{0ms, kStreamHead + chunk(kOpenaiRole + kOpenaiDone) + "0\r\n\r\n"}}));
    const ProbeResult r = LlmCase(server.url("/v1"), LlmMode::completion).run();
    CHECK(r.reason == Reason::bad_response);
    CHECK(r.llm->stream_complete);
    CHECK(r.detail.find("without a content token") != std::string::npos);
  }
}

TEST_CASE("llm: a key the server echoes back never reaches the result") {
  Seen seen;
  const std::string body = R"({"error":{"message":"Incorrect API key provided: )" +
                           std::string(kKey) + R"(. Find yours at the console.",)" +
                           R"("type":"invalid_request_error"}})";
  TestServer server(answer(seen, json_response(401, body)));
  const ProbeResult r = LlmCase(server.url("/v1")).run();
  CHECK(r.reason == Reason::auth);
  CHECK(r.detail ==
        "status 401: Incorrect API key provided: [redacted]. Find yours at the console.");
  CHECK_FALSE(mentions_key(r));
}

TEST_CASE("llm: a key that cannot be read is internal and nothing is sent") {
  Seen seen;
  TestServer server(answer(seen, json_response(200, kOpenaiModels)));
  LlmCase c(server.url("/v1"));
  c.spec.llm->api_key_env = key_var() + "_UNSET";
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::internal);
  CHECK(r.detail == "api_key_env: environment variable " + key_var() + "_UNSET is not set");
  CHECK(seen.count() == 0);
  CHECK_FALSE(is_network_failure(r));
}

TEST_CASE("llm: anthropic and gemini send their own auth headers and paths") {
  struct Case {
    LlmFlavour flavour;
    const char* base;
    const char* request_line;
    const char* auth;
    const char* list;
    const char* model;
  };
  const Case cases[] = {
      {LlmFlavour::anthropic, "/v1", "GET /v1/models/claude-3-5-haiku-latest HTTP/1.1",
       "\r\nx-api-key: ", R"({"type":"model","id":"claude-3-5-haiku-20241022"})",
       "claude-3-5-haiku-latest"},
      {LlmFlavour::gemini, "/v1beta", "GET /v1beta/models?pageSize=1000 HTTP/1.1",
       "\r\nx-goog-api-key: ", R"({"models":[{"name":"models/gemini-1.5-flash"}]})",
       "gemini-1.5-flash"},
  };
  for (const Case& k : cases) {
    CAPTURE(to_string(k.flavour));
    Seen seen;
    TestServer server(answer(seen, json_response(200, k.list)));
    LlmCase c(server.url(k.base));
    c.spec.llm->flavour = k.flavour;
    c.spec.llm->model = k.model;
    const ProbeResult r = c.run();
    CHECK_MESSAGE(r.ok, r.detail);
    const std::string request = seen.last();
    CHECK(request.rfind(std::string(k.request_line) + "\r\n", 0) == 0);
    CHECK(request.find(k.auth + std::string(kKey) + "\r\n") != std::string::npos);
    CHECK(request.find("Authorization:") == std::string::npos);
  }
}

TEST_CASE("llm: tls options reach the connection as for http") {
  struct SslScope {
    SslScope() { Poco::Net::initializeSSL(); }
    ~SslScope() { Poco::Net::uninitializeSSL(); }
  } ssl;
  test::TempDir dir;
  REQUIRE(test::make_test_pki(dir, 30));
  Poco::Net::Context::Params params;
  params.privateKeyFile = dir.file("server.key");
  params.certificateFile = dir.file("server.pem");
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  Seen seen;
  TestServer server(answer(seen, json_response(200, kOpenaiModels)),
                    new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params));
  LlmCase c(server.url("/v1"));
  ProbeResult r = c.run();
  CHECK(r.reason == Reason::tls);  // the system store does not know the test CA
  CHECK(is_network_failure(r));
  c.spec.llm->ca_file = dir.file("ca.pem");
  r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
  CHECK(r.phases.tls);
  CHECK(r.cert_expiry);
  c.spec.llm->server_name = "other.example";
  r = c.run();
  CHECK(r.reason == Reason::tls);
  CHECK(r.detail.find("other.example") != std::string::npos);
  c.spec.llm->server_name = "localhost";
  r = c.run();
  CHECK_MESSAGE(r.ok, r.detail);
}

TEST_CASE("llm: connection failures keep their network reasons") {
  std::uint16_t port = 0;
  {
    TestServer closed([](auto&, auto&, auto&) {});
    port = closed.port();
  }  // the port is free again: nothing listens
  LlmCase c("http://127.0.0.1:" + std::to_string(port) + "/v1", LlmMode::completion);
  const ProbeResult r = c.run();
  CHECK(r.reason == Reason::refused);
  CHECK(is_network_failure(r));
  CHECK(r.llm->stream_bytes == 0);
}

}  // namespace linewatch

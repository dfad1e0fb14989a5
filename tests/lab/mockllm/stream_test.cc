// mockllm streams over real loopback sockets, every flavour: the time to
// first content byte, one HTTP chunk per event, keep-alive comments, CRLF,
// split events and a stream without its end marker.
#include <doctest/doctest.h>

#include <chrono>

#include "tests/lab/mockllm/raw_client.h"
#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;
using test::RawExchange;

// A streaming completion of `f` on a raw socket, read until its chunked
// body ends (at most 5 s).
RawExchange stream_whole(const test::Mock& m, Flavour f) {
  const test::Completion c = test::stream_request(f);
  RawExchange x(m.at, "POST", c.path, c.headers, c.body);
  x.read_until("\r\n0\r\n\r\n", 5s);
  return x;
}

TEST_CASE("each flavour's first content byte arrives no sooner than the TTFT") {
  test::Mock m([](Behaviour& b) { b.ttft = 300ms; });
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const test::Completion c = test::stream_request(f);
    RawExchange x(m.at, "POST", c.path, c.headers, c.body);
    const std::optional<MonoTime> first = x.read_until(test::first_content_needle(f), 5s);
    REQUIRE(first);
    CHECK(*first - x.sent() >= 300ms);
    CHECK(x.head().find("HTTP/1.1 200 OK\r\n") == 0);
    CHECK(x.head().find("Content-Type: text/event-stream") != std::string::npos);
    CHECK(x.head().find("Transfer-Encoding: chunked") != std::string::npos);
  }
}

TEST_CASE("each event is flushed as its own HTTP chunk") {
  test::Mock m;
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    RawExchange x = stream_whole(m, f);
    bool ended = false;
    const std::vector<std::string> chunks = x.chunks(&ended);
    CHECK(ended);
    REQUIRE(!chunks.empty());
    for (const std::string& chunk : chunks) {
      CAPTURE(chunk);
      CHECK(test::sse_events(chunk).size() == 1);
      CHECK(chunk.ends_with("\n\n"));
    }
    CHECK(test::content_events(f, x.body()) == 5);
    CHECK(x.body().find(test::end_marker(f)) != std::string::npos);
  }
}

TEST_CASE("an OpenAI stream is a role chunk, one chunk per token, a final chunk, then DONE") {
  test::Mock m;
  test::Reply r = test::call(m.at, "POST", "/v1/chat/completions", test::chat_body("mock-1", true),
                             test::bearer(test::kKey));
  REQUIRE(r.status == 200);
  CHECK(r.head.getContentType() == "text/event-stream");
  const std::vector<std::string> events = test::sse_data(r.body);
  REQUIRE(events.size() == 5 + 3);
  CHECK(events.back() == "[DONE]");
  std::string content, id;
  for (int i = 0; i < 5 + 2; ++i) {
    CAPTURE(i);
    Poco::JSON::Object::Ptr o = test::parse(events[i]);
    CHECK(o->getValue<std::string>("object") == "chat.completion.chunk");
    CHECK(o->getValue<std::string>("model") == "mock-1");
    if (i == 0) id = o->getValue<std::string>("id");
    CHECK(o->getValue<std::string>("id") == id);
    Poco::JSON::Object::Ptr choice = o->getArray("choices")->getObject(0);
    Poco::JSON::Object::Ptr delta = choice->getObject("delta");
    if (i == 0) CHECK(delta->getValue<std::string>("role") == "assistant");
    if (i >= 1 && i <= 5) content += delta->getValue<std::string>("content");
    if (i == 6) {
      CHECK(delta->size() == 0);
      CHECK(choice->getValue<std::string>("finish_reason") == "stop");
    } else {
      CHECK(choice->get("finish_reason").isEmpty());
    }
  }
  CHECK(content == "This is a mock reply");
}

TEST_CASE("OpenAI stream_options include_usage adds a usage chunk with no choices") {
  test::Mock m;
  const std::string body =
      R"({"model":"mock-1","stream":true,"stream_options":{"include_usage":true},)"
      R"("messages":[{"role":"user","content":"hi"}]})";
  test::Reply r = test::call(m.at, "POST", "/v1/chat/completions", body, test::bearer(test::kKey));
  const std::vector<std::string> events = test::sse_data(r.body);
  REQUIRE(events.size() == 5 + 4);
  Poco::JSON::Object::Ptr usage = test::parse(events[7]);
  CHECK(usage->getArray("choices")->size() == 0);
  CHECK(usage->getObject("usage")->getValue<int>("completion_tokens") == 5);
}

TEST_CASE("OpenAI error_after_tokens: an error data chunk after N tokens and no DONE") {
  test::Mock m([](Behaviour& b) { b.error_after_tokens = 2; });
  test::Reply r = test::call(m.at, "POST", "/v1/chat/completions", test::chat_body("mock-1", true),
                             test::bearer(test::kKey));
  REQUIRE(r.status == 200);
  const std::vector<std::string> events = test::sse_data(r.body);
  REQUIRE(events.size() == 1 + 2 + 1);
  CHECK(test::content_events(Flavour::openai, r.body) == 2);
  Poco::JSON::Object::Ptr error = test::parse(events[3])->getObject("error");
  REQUIRE(error);
  CHECK(error->getValue<std::string>("type") == "server_error");
  CHECK(!error->getValue<std::string>("message").empty());
  CHECK(r.body.find("[DONE]") == std::string::npos);
  CHECK(m.server->records().at(0).end == End::error_event);
}

TEST_CASE("omit_end_marker ends each flavour's stream cleanly but without its end marker") {
  test::Mock m([](Behaviour& b) { b.omit_end_marker = true; });
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    RawExchange x = stream_whole(m, f);
    bool ended = false;
    x.chunks(&ended);
    CHECK(ended);
    CHECK(test::content_events(f, x.body()) == 5);
    CHECK(x.body().find(test::end_marker(f)) == std::string::npos);
    CHECK(x.body().find("[DONE]") == std::string::npos);
    CHECK(x.body().find("message_stop") == std::string::npos);
    CHECK(x.body().find("finishReason") == std::string::npos);
  }
}

TEST_CASE("keep-alive comments fill the waits and the first content still comes at the TTFT") {
  test::Mock m([](Behaviour& b) {
    b.ttft = 300ms;
    b.token_interval = 100ms;
    b.tokens = 3;
    b.keepalive = 40ms;
  });
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const test::Completion c = test::stream_request(f);
    RawExchange x(m.at, "POST", c.path, c.headers, c.body);
    const std::optional<MonoTime> first = x.read_until(test::first_content_needle(f), 5s);
    REQUIRE(first);
    CHECK(*first - x.sent() >= 300ms);
    x.read_until("\r\n0\r\n\r\n", 5s);
    const std::string body = x.body();
    const std::size_t first_content = body.find(test::first_content_needle(f));
    int before = 0, after = 0;
    test::sse_events(body.substr(0, first_content), &before);
    test::sse_events(body.substr(first_content), &after);
    CHECK(before >= 1);
    CHECK(after >= 2);  // at least one in each of the two 100 ms gaps
    CHECK(body.find(": keep-alive\n\n") != std::string::npos);
    CHECK(test::content_events(f, body) == 3);
  }
}

TEST_CASE("crlf ends every stream line in CRLF") {
  test::Mock m([](Behaviour& b) { b.crlf = true; });
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const std::string body = stream_whole(m, f).body();
    REQUIRE(!body.empty());
    for (std::size_t i = body.find('\n'); i != std::string::npos; i = body.find('\n', i + 1))
      CHECK(body[i - 1] == '\r');
    CHECK(test::content_events(f, body) == 5);
  }
}

TEST_CASE("split_events cuts each event into three writes, inside the field name and the CRLF") {
  test::Mock m([](Behaviour& b) {
    b.split_events = true;
    b.crlf = true;
  });
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    RawExchange x = stream_whole(m, f);
    const std::vector<std::string> chunks = x.chunks();
    REQUIRE(chunks.size() % 3 == 0);
    REQUIRE(!chunks.empty());
    for (std::size_t i = 0; i < chunks.size(); i += 3) {
      CAPTURE(i);
      CHECK((chunks[i] == "dat" || chunks[i] == "eve"));
      CHECK(chunks[i + 1].ends_with("\r"));
      CHECK(chunks[i + 2].starts_with("\n"));
      CHECK(test::sse_events(chunks[i] + chunks[i + 1] + chunks[i + 2]).size() == 1);
    }
    CHECK(test::content_events(f, x.body()) == 5);
  }
}

}  // namespace
}  // namespace linewatch::mockllm

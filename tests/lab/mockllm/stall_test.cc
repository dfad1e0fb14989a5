// mockllm's stalls and hang-ups over real loopback sockets: a stream that
// stops after N tokens or before any byte keeps the connection open, a
// client that leaves frees its request, and stop() cuts waiting replies.
#include <Poco/Net/NetException.h>
#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/lab/mockllm/raw_client.h"
#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;
using test::RawExchange;

// The newest record once the server has written it (within 3 s), or nullopt.
std::optional<Record> wait_for_record(const Server& server, std::uint64_t after) {
  for (int i = 0; i < 300; ++i) {
    std::vector<Record> r = server.records(after, 1);
    if (!r.empty()) return r.back();
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

TEST_CASE("stall_after_tokens sends N content events and then nothing on an open connection") {
  test::Mock m([](Behaviour& b) { b.stall_after_tokens = 2; });
  std::uint64_t seen = 0;
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const test::Completion c = test::stream_request(f);
    RawExchange x(m.at, "POST", c.path, c.headers, c.body);
    REQUIRE(x.read_until(test::content_marker(f) + " is\"", 5s));
    CHECK(x.quiet_for(400ms));
    CHECK(test::content_events(f, x.body()) == 2);
    CHECK(x.body().find(test::end_marker(f)) == std::string::npos);
    x.close();
    const std::optional<Record> r = wait_for_record(*m.server, seen);
    REQUIRE(r);
    seen = r->seq;
    CHECK(r->end == End::stalled);
    CHECK(r->tokens == 2);
    CHECK(r->status == 200);
  }
}

TEST_CASE("stall_before_headers sends no byte at all and holds the connection") {
  test::Mock m([](Behaviour& b) { b.stall_before_headers = true; });
  const test::Completion c = test::stream_request(Flavour::anthropic);
  RawExchange x(m.at, "POST", c.path, c.headers, c.body);
  CHECK(x.quiet_for(400ms));
  CHECK(x.raw().empty());
  x.close();
  const std::optional<Record> r = wait_for_record(*m.server, 0);
  REQUIRE(r);
  CHECK(r->end == End::stalled);
  CHECK(r->status == 0);
  CHECK(!r->headers);
  CHECK(!r->first_content);
  // Model lists are not held.
  CHECK(test::call(m.at, "GET", "/v1/models", "", test::bearer(test::kKey)).status == 200);
}

TEST_CASE("a client that hangs up while waiting for the first token frees its request") {
  test::Mock m([](Behaviour& b) { b.ttft = 30s; });
  const test::Completion c = test::stream_request(Flavour::gemini);
  RawExchange x(m.at, "POST", c.path, c.headers, c.body);
  REQUIRE(x.read_until("\r\n\r\n", 5s));  // headers come at once
  x.close();
  const std::optional<Record> r = wait_for_record(*m.server, 0);
  REQUIRE(r);  // long before the 30 s TTFT
  CHECK(r->end == End::client_gone);
  CHECK(r->tokens == 0);
  CHECK(!r->first_content);
}

TEST_CASE("streams are served concurrently, not one after another") {
  test::Mock m([](Behaviour& b) { b.ttft = 1s; });
  std::vector<std::future<int>> replies;
  for (int i = 0; i < 6; ++i) {
    replies.push_back(std::async(std::launch::async, [&m, i] {
      const test::Completion c = test::stream_request(kFlavours[i % 3]);
      return test::call(m.at, "POST", c.path, c.body, c.headers).status;
    }));
  }
  for (auto& r : replies) CHECK(r.get() == 200);
  const std::vector<Record> records = m.server->records();
  REQUIRE(records.size() == 6);
  // Served one after another, a request would arrive after an earlier one's
  // first content; all six arrived before any first content.
  MonoTime last_received = records[0].received.mono, first_content = MonoTime::max();
  for (const Record& r : records) {
    REQUIRE(r.first_content);
    last_received = std::max(last_received, r.received.mono);
    first_content = std::min(first_content, r.first_content->mono);
  }
  CHECK(last_received < first_content);
}

TEST_CASE("stop() cuts a reply that is still waiting for its first token") {
  test::Mock m([](Behaviour& b) { b.ttft = 30s; });
  const Poco::Net::SocketAddress at = m.at;
  auto reply = std::async(std::launch::async, [&] {
    try {
      return test::call(at, "POST", "/v1/chat/completions", test::chat_body("mock-1", true),
                        test::bearer(test::kKey))
          .body;
    } catch (const Poco::Exception&) {
      return std::string("aborted");
    }
  });
  std::this_thread::sleep_for(200ms);
  m.server->stop();
  REQUIRE(reply.wait_for(5s) == std::future_status::ready);
  CHECK(reply.get().find("[DONE]") == std::string::npos);
  // Stopped means stopped: nothing listens on the port any more.
  CHECK_THROWS_AS(test::call(at, "GET", "/healthz"), Poco::Net::NetException);
}

}  // namespace
}  // namespace linewatch::mockllm

// mockllm's timing records (record.h): one per completion call, stamped on
// the same monotonic clock as the client, served by /mock/records and
// logged as JSON lines.
#include <Poco/JSON/Array.h>
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/lab/mockllm/raw_client.h"
#include "tests/lab/mockllm/test_support.h"

namespace linewatch::mockllm {
namespace {

using namespace std::chrono_literals;
using Poco::JSON::Object;

std::optional<Record> wait_for_record(const Server& server, std::uint64_t after) {
  for (int i = 0; i < 300; ++i) {
    std::vector<Record> r = server.records(after, 1);
    if (!r.empty()) return r.back();
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

TEST_CASE("each streamed completion's record lies between the client's own stamps") {
  test::Mock m([](Behaviour& b) { b.ttft = 200ms; });
  std::uint64_t seen = 0;
  for (Flavour f : kFlavours) {
    CAPTURE(to_string(f));
    const test::Completion c = test::stream_request(f);
    test::RawExchange x(m.at, "POST", c.path, c.headers, c.body);
    const std::optional<MonoTime> arrived = x.read_until(test::first_content_needle(f), 5s);
    REQUIRE(arrived);
    REQUIRE(x.read_until("\r\n0\r\n\r\n", 5s));
    const std::optional<Record> r = wait_for_record(*m.server, seen);
    REQUIRE(r);
    seen = r->seq;
    CHECK(r->flavour == f);
    CHECK(r->model == "mock-1");
    CHECK(r->stream);
    CHECK(r->status == 200);
    CHECK(r->end == End::done);
    CHECK(r->tokens == 5);
    CHECK(x.body().find(r->id) != std::string::npos);
    REQUIRE(r->headers);
    REQUIRE(r->first_content);
    // One monotonic clock for both processes' sides: the server's instants
    // fall between the client sending and the client reading.
    CHECK(x.before_send() <= r->received.mono);
    CHECK(r->received.mono <= r->headers->mono);
    CHECK(r->headers->mono <= r->first_content->mono);
    CHECK(r->first_content->mono <= *arrived);
    CHECK(r->first_content->mono - r->received.mono >= 200ms);
    // The wall clock moved by the same amount (no step expected mid-test).
    const Duration wall = r->first_content->wall - r->received.wall;
    const Duration mono = r->first_content->mono - r->received.mono;
    CHECK(std::chrono::abs(wall - mono) < 50ms);
  }
}

TEST_CASE("refused, whole and stalled completions are recorded, model lists are not") {
  test::Mock m;
  CHECK(test::call(m.at, "GET", "/v1beta/models", "", test::gemini_key(test::kKey)).status == 200);
  CHECK(m.server->records().empty());
  CHECK(test::call(m.at, "POST", "/v1/messages", test::messages_body("mock-1", true),
                   test::anthropic_key("sk-wrong"))
            .status == 401);
  CHECK(test::call(m.at, "POST", "/v1/chat/completions", test::chat_body("mock-1", false),
                   test::bearer(test::kKey))
            .status == 200);
  const std::vector<Record> r = m.server->records();
  REQUIRE(r.size() == 2);
  CHECK(r[0].seq == 1);
  CHECK(r[0].flavour == Flavour::anthropic);
  CHECK(r[0].status == 401);
  CHECK(r[0].end == End::refused);
  CHECK(r[0].id.empty());
  CHECK(!r[0].headers);
  CHECK(!r[0].first_content);
  CHECK(r[1].seq == 2);
  CHECK(r[1].flavour == Flavour::openai);
  CHECK(!r[1].stream);
  CHECK(r[1].end == End::done);
  CHECK(r[1].tokens == 5);
  REQUIRE(r[1].first_content);
  CHECK(r[1].first_content->mono - r[1].received.mono >= 150ms + 4 * 10ms);
}

TEST_CASE("GET /mock/records filters by after and last and matches the logged JSON lines") {
  test::Mock m([](Behaviour& b) { b.ttft = 0ms; });
  for (int i = 0; i < 4; ++i) {
    const test::Completion c = test::stream_request(kFlavours[i % 3]);
    REQUIRE(test::call(m.at, "POST", c.path, c.body, c.headers).status == 200);
  }
  auto seqs = [&](const std::string& query) {
    test::Reply r = test::call(m.at, "GET", "/mock/records" + query);
    REQUIRE(r.status == 200);
    std::vector<int> out;
    Poco::JSON::Array::Ptr records = r.json()->getArray("records");
    for (unsigned i = 0; i < records->size(); ++i)
      out.push_back(records->getObject(i)->getValue<int>("seq"));
    return out;
  };
  CHECK(seqs("") == std::vector<int>{1, 2, 3, 4});
  CHECK(seqs("?last=2") == std::vector<int>{3, 4});
  CHECK(seqs("?after=1") == std::vector<int>{2, 3, 4});
  CHECK(seqs("?after=1&last=1") == std::vector<int>{4});
  CHECK(seqs("?after=4").empty());
  CHECK(test::call(m.at, "GET", "/mock/records?last=x").status == 400);
  CHECK(test::call(m.at, "POST", "/mock/records").status == 405);

  // The log holds each record's JSON line, identical to what the endpoint serves.
  std::vector<std::string> logged;
  for (const std::string& line : m.logs.lines())
    if (line.starts_with("{")) logged.push_back(line);
  REQUIRE(logged.size() == 4);
  const std::vector<Record> kept = m.server->records();
  for (std::size_t i = 0; i < 4; ++i) CHECK(logged[i] == record_json(kept[i]));
}

TEST_CASE("the record JSON names every instant on both clocks and null when not reached") {
  Record r;
  r.seq = 7;
  r.id = "msg_mock7";
  r.flavour = Flavour::anthropic;
  r.model = "mock-1";
  r.stream = true;
  r.status = 200;
  r.received = {MonoTime(1'000'000'000ns), WallTime(1'700'000'000'000'000'000ns)};
  r.first_content = Stamp{MonoTime(1'250'500'000ns), WallTime(1'700'000'000'250'500'000ns)};
  r.tokens = 3;
  r.end = End::stalled;
  Object::Ptr o = test::parse(record_json(r));
  CHECK(o->getValue<std::string>("record") == "completion");
  CHECK(o->getValue<int>("seq") == 7);
  CHECK(o->getValue<std::string>("id") == "msg_mock7");
  CHECK(o->getValue<std::string>("flavour") == "anthropic");
  CHECK(o->getValue<bool>("stream"));
  CHECK(o->getValue<long long>("received_mono_ns") == 1'000'000'000);
  CHECK(o->getValue<long long>("received_unix_ns") == 1'700'000'000'000'000'000);
  CHECK(o->get("headers_mono_ns").isEmpty());
  CHECK(o->get("headers_unix_ns").isEmpty());
  CHECK(o->getValue<long long>("first_content_mono_ns") == 1'250'500'000);
  CHECK(o->getValue<double>("ttft_ms") == doctest::Approx(250.5));
  CHECK(o->getValue<int>("tokens") == 3);
  CHECK(o->getValue<std::string>("end") == "stalled");
  r.first_content.reset();
  CHECK(test::parse(record_json(r))->get("ttft_ms").isEmpty());
}

}  // namespace
}  // namespace linewatch::mockllm

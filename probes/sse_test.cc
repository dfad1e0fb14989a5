#include "probes/sse.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "probes/sse_test_support.h"

namespace linewatch {
namespace {

using test::FedStream;
using test::feed_pieces;
using test::SseFixture;

FedStream feed_whole(std::string_view stream, std::size_t cap = 256 * 1024) {
  return feed_pieces(stream, {}, cap);
}

// Feeds `stream` in the given reads, one parser.
FedStream feed_reads(const std::vector<std::string>& reads, std::size_t cap = 256 * 1024) {
  std::string stream;
  std::vector<std::size_t> cuts;
  for (const auto& r : reads) {
    stream += r;
    cuts.push_back(stream.size());
  }
  return feed_pieces(stream, cuts, cap);
}

void check_expected(const SseFixture& fx, const FedStream& fed) {
  INFO(fx.file);
  REQUIRE(fed.events.size() == fx.events.size());
  for (std::size_t i = 0; i < fx.events.size(); ++i) {
    INFO("event " << i);
    CHECK(fed.events[i].event == fx.events[i].event);
    CHECK(fed.events[i].data == fx.events[i].data);
    CHECK(fed.events[i].id == fx.events[i].id);
  }
  CHECK(fed.finished == fx.finished);
  CHECK(fed.comments == fx.comments);
  if (fx.fails)
    CHECK(fed.error ==
          "event stream: a line or an event over " + std::to_string(fx.cap) + " bytes");
  else
    CHECK(fed.error == "");
}

TEST_CASE("sse: every fixture fed whole yields exactly its events") {
  for (const SseFixture& fx : test::sse_fixtures()) {
    const std::string stream = test::read_sse_fixture(fx.file);
    INFO(fx.file);
    REQUIRE(!stream.empty());
    const FedStream fed = feed_whole(stream, fx.cap);
    check_expected(fx, fed);
    CHECK(fed.bytes == stream.size());
  }
}

TEST_CASE("sse: every fixture yields the same events however its reads are split") {
  for (const SseFixture& fx : test::sse_fixtures()) {
    const std::string stream = test::read_sse_fixture(fx.file);
    REQUIRE(!stream.empty());
    const FedStream whole = feed_whole(stream, fx.cap);
    std::size_t runs = 0;
    std::string first_difference;
    test::for_each_split(stream.size(), stream.size() <= test::kThreeWayMax,
                         [&](const std::vector<std::size_t>& cuts) {
                           ++runs;
                           const FedStream fed = feed_pieces(stream, cuts, fx.cap);
                           if (first_difference.empty() && !test::same_fed(fed, whole))
                             first_difference = test::describe_cuts(cuts);
                         });
    INFO(fx.file);
    CHECK(first_difference == "");
    CHECK(runs >= stream.size() + 3);
  }
}

TEST_CASE("sse: random splits of every fixture yield the same events") {
  std::mt19937 random(test::kRandomSeed);
  for (const SseFixture& fx : test::sse_fixtures()) {
    const std::string stream = test::read_sse_fixture(fx.file);
    REQUIRE(!stream.empty());
    const FedStream whole = feed_whole(stream, fx.cap);
    std::string first_difference;
    for (int i = 0; i < test::kRandomSplits; ++i) {
      const std::vector<std::size_t> cuts = test::random_cuts(random, stream.size());
      if (first_difference.empty() && !test::same_fed(feed_pieces(stream, cuts, fx.cap), whole))
        first_difference = test::describe_cuts(cuts);
    }
    INFO(fx.file);
    CHECK(first_difference == "");
  }
}

TEST_CASE("sse: a CR ending one read and the LF starting the next are one line end") {
  // Two line ends there would make a blank line and dispatch "a" alone.
  const FedStream fed = feed_reads({"data: a\r", "\ndata: b\r", "\n\r", "\n"});
  REQUIRE(fed.events.size() == 1);
  CHECK(fed.events[0].data == "a\nb");
  CHECK(fed.finished);
}

TEST_CASE("sse: two CRs are a line end and a blank line") {
  const FedStream fed = feed_reads({"data: a\r", "\r", "data: b\r\r"});
  REQUIRE(fed.events.size() == 2);
  CHECK(fed.events[0].data == "a");
  CHECK(fed.events[1].data == "b");
}

TEST_CASE("sse: a BOM is skipped only at the start of the stream") {
  const std::string bom = "\xEF\xBB\xBF";
  const FedStream first = feed_whole(bom + "data: x\n\n");
  REQUIRE(first.events.size() == 1);
  CHECK(first.events[0].data == "x");
  // A second BOM is part of the field name, so the field is unknown.
  const FedStream twice = feed_whole(bom + bom + "data: x\n\n");
  CHECK(twice.events.empty());
  CHECK(twice.finished);
  // Only a whole BOM is skipped: the start of one stays in the line.
  const FedStream partial = feed_reads({"\xEF\xBB", "data: x\n\n"});
  CHECK(partial.events.empty());
  CHECK(!feed_whole("\xEF\xBB").finished);
  // A BOM split over three reads.
  const FedStream split = feed_reads({"\xEF", "\xBB",
                                      "\xBF"
                                      "data: y\n\n"});
  REQUIRE(split.events.size() == 1);
  CHECK(split.events[0].data == "y");
}

TEST_CASE("sse: an id outlives its event and an id holding NUL is ignored") {
  using namespace std::literals;
  const std::string stream =
      std::string("id: 1\n\ndata: x\n\ndata: y\nid: a\0b\n\n"sv) + "id: 2\ndata: z\n\n";
  const FedStream fed = feed_whole(stream);
  REQUIRE(fed.events.size() == 3);
  CHECK(fed.events[0].id == "1");
  CHECK(fed.events[1].id == "1");
  CHECK(fed.events[2].id == "2");
}

TEST_CASE("sse: the default cap admits a line of 256 KiB and fails one byte more") {
  constexpr std::size_t kCap = 256 * 1024;
  const std::string fits = "data: " + std::string(kCap - 6, 'x') + "\n\n";
  const FedStream ok = feed_whole(fits);
  REQUIRE(ok.events.size() == 1);
  CHECK(ok.events[0].data.size() == kCap - 6);
  CHECK(ok.error == "");

  const std::string over = "data: " + std::string(kCap - 5, 'x') + "\n\n";
  const FedStream bad = feed_whole(over);
  CHECK(bad.events.empty());
  CHECK(bad.error == "event stream: a line or an event over 262144 bytes");
  CHECK(!bad.finished);
}

TEST_CASE("sse: an event's joined data may reach the cap but not pass it") {
  // Lines of at most 12 bytes, so only the joined data can pass the cap.
  const FedStream at_cap = feed_whole("data: 123456\ndata: 12345\n\n", 12);
  REQUIRE(at_cap.events.size() == 1);
  CHECK(at_cap.events[0].data == "123456\n12345");
  CHECK(at_cap.error == "");
  const FedStream over = feed_whole("data: 123456\ndata: 123456\n\n", 12);
  CHECK(over.events.empty());
  CHECK(over.error == "event stream: a line or an event over 12 bytes");
}

TEST_CASE("sse: a spent parser fails every later feed and yields nothing more") {
  SseParser parser(8);
  std::vector<SseEvent> out;
  CHECK(parser.feed("data: 1\n\n", out).ok());
  CHECK(!parser.feed("data: 123456789\n\n", out).ok());
  const Status later = parser.feed("data: 2\n\n", out);
  CHECK(!later.ok());
  CHECK(later.error().code == ErrorCode::invalid_argument);
  REQUIRE(out.size() == 1);
  CHECK(out[0].data == "1");
  CHECK(!parser.finish());
  CHECK(parser.bytes() == 9 + 17 + 9);
}

TEST_CASE("sse: a stream that stops after a data line is not finished") {
  CHECK(!feed_whole("data: x\n").finished);
  CHECK(!feed_whole("data: x").finished);
  CHECK(feed_whole("data: x\n\n").finished);
  CHECK(feed_whole("").finished);
  // An event name without data is nothing to lose.
  CHECK(feed_whole("event: ping\n").finished);
}

}  // namespace
}  // namespace linewatch

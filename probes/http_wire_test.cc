// ResponseReader over a scripted byte source: no sockets. Each script entry
// is what one read returns, so the tests control where reads split.
#include "probes/http_wire.h"

#include <doctest/doctest.h>

#include <deque>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

// Hands out the script one entry per read (an entry larger than the read is
// split); then 0 (the peer closed). Counts the reads.
struct Script {
  std::deque<std::string> reads;
  int calls = 0;
  ByteSource source() {
    return [this](char* buf, std::size_t size) -> Outcome<std::size_t> {
      ++calls;
      if (reads.empty()) return std::size_t{0};
      std::string& front = reads.front();
      const std::size_t n = std::min(size, front.size());
      front.copy(buf, n);
      front.erase(0, n);
      if (front.empty()) reads.pop_front();
      return n;
    };
  }
};

ResponseHead head_of(ResponseReader& reader) {
  Outcome<ResponseHead> head = reader.read_head();
  REQUIRE(head.ok());
  return head.value();
}

}  // namespace

TEST_CASE("stream_body hands each chunk over as it is read, before the rest arrives") {
  Script s;
  s.reads = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nfirst\r\n",
             "6\r\nsecond\r\n", "0\r\n\r\n"};
  ResponseReader reader(s.source());
  const ResponseHead head = head_of(reader);
  std::vector<std::string> pieces;
  std::vector<int> reads_at;  // how many reads had been made when each piece arrived
  Outcome<std::uint64_t> got = reader.stream_body(head, "POST", 1 << 20, [&](std::string_view p) {
    pieces.emplace_back(p);
    reads_at.push_back(s.calls);
    return true;
  });
  REQUIRE(got.ok());
  CHECK(got.value() == 11);
  CHECK(pieces == std::vector<std::string>{"first", "second"});
  // "first" came with the second read: the reader did not wait for the body's end.
  CHECK(reads_at == std::vector<int>{2, 3});
  CHECK_FALSE(reader.stopped());
}

TEST_CASE("stream_body stops reading when the sink says so") {
  Script s;
  s.reads = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "4\r\ndone\r\n",
             "4\r\nmore\r\n", "0\r\n\r\n"};
  ResponseReader reader(s.source());
  const ResponseHead head = head_of(reader);
  std::string seen;
  Outcome<std::uint64_t> got = reader.stream_body(head, "POST", 1 << 20, [&](std::string_view p) {
    seen += p;
    return false;
  });
  REQUIRE(got.ok());
  CHECK(seen == "done");
  CHECK(reader.stopped());
  CHECK(s.calls == 2);  // nothing read past the piece the sink stopped at
}

TEST_CASE("stream_body reads content-length and close-delimited bodies piece by piece") {
  for (const bool close_delimited : {false, true}) {
    CAPTURE(close_delimited);
    Script s;
    s.reads = {std::string("HTTP/1.1 200 OK\r\n") +
                   (close_delimited ? "" : "Content-Length: 9\r\n") + "\r\n",
               "abc", "def", "ghi"};
    ResponseReader reader(s.source());
    const ResponseHead head = head_of(reader);
    std::vector<std::string> pieces;
    Outcome<std::uint64_t> got = reader.stream_body(head, "GET", 1 << 20, [&](std::string_view p) {
      pieces.emplace_back(p);
      return true;
    });
    REQUIRE(got.ok());
    CHECK(pieces == std::vector<std::string>{"abc", "def", "ghi"});
  }
}

TEST_CASE("stream_body keeps read_body's cap and framing errors") {
  Script s;
  s.reads = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "abcdef", "ghij"};
  ResponseReader reader(s.source());
  const ResponseHead head = head_of(reader);
  std::string body;
  Outcome<std::uint64_t> got = reader.stream_body(head, "GET", 4, [&](std::string_view p) {
    body += p;
    return true;
  });
  REQUIRE(got.ok());
  CHECK(body == "abcd");

  Script cut;
  cut.reads = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "a\r\nshort"};
  ResponseReader cut_reader(cut.source());
  const ResponseHead cut_head = head_of(cut_reader);
  Outcome<std::uint64_t> failed =
      cut_reader.stream_body(cut_head, "GET", 1 << 20, [](std::string_view) { return true; });
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.failure().reason == Reason::protocol);
}

TEST_CASE("read_body still gathers the whole body") {
  Script s;
  s.reads = {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
             "2\r\nde\r\n0\r\n\r\n"};
  ResponseReader reader(s.source());
  const ResponseHead head = head_of(reader);
  std::string body;
  Outcome<std::uint64_t> got = reader.read_body(head, "GET", 1 << 20, body);
  REQUIRE(got.ok());
  CHECK(body == "abcde");
  CHECK(got.value() == 5);
}

TEST_CASE("parse_retry_after takes delay-seconds and HTTP-dates") {
  const auto now =
      std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(parse_retry_after("120", now) == std::optional<std::chrono::seconds>(120s));
  CHECK(parse_retry_after(" 7 ", now) == std::optional<std::chrono::seconds>(7s));
  CHECK(parse_retry_after("0", now) == std::optional<std::chrono::seconds>(0s));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now) ==
        std::optional<std::chrono::seconds>(30s));
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now) ==
        std::optional<std::chrono::seconds>(0s));  // already past
  CHECK(parse_retry_after("99999999999999999999999", now) ==
        std::optional<std::chrono::seconds>(std::chrono::seconds(366 * 86400)));
  for (const char* bad : {"", "-1", "1.5", "soon", "Wed, 21 Oct 2015", "7s"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_retry_after(bad, now).has_value());
  }
}

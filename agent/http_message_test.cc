// The wire format alone: where a head ends when it arrives in pieces, what a
// head asks for, and the bytes of an answer.
#include "agent/http_message.h"

#include <doctest/doctest.h>

using namespace linewatch;

TEST_CASE("find_head_end finds the blank line even when it is split between reads") {
  const std::string head = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  CHECK(find_head_end(head) == head.size());
  CHECK(find_head_end("GET / HTTP/1.1\nHost: t\n\nrest") == 24);
  CHECK(find_head_end("GET / HTTP/1.1\r\nHost: t\r\n") == std::string::npos);
  // Rescanning from every possible earlier size finds the same end.
  for (std::size_t before = 0; before < head.size(); ++before) {
    CAPTURE(before);
    CHECK(find_head_end(head, before) == head.size());
  }
}

TEST_CASE(
    "parse_head takes the path and query and checks line, version, headers, method in order") {
  const ParsedHead ok = parse_head("HEAD /a/b?c=d HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(ok.status == 0);
  CHECK(ok.request.method == "HEAD");
  CHECK(ok.request.path == "/a/b");
  CHECK(ok.request.query == "c=d");
  CHECK(parse_head("POST / HTTP/9.9\r\n\r\n").status == 505);         // version before method
  CHECK(parse_head("POST / HTTP/1.1\r\nbad\r\n\r\n").status == 400);  // headers before method
  CHECK(parse_head("GET / HTTP/1.1\r\nbad\r\n\r\n").status == 400);
  CHECK(parse_head("GET /\x01 HTTP/1.1\r\n\r\n").status == 400);
  CHECK(parse_head("OPTIONS * HTTP/1.1\r\n\r\n").status == 405);
}

TEST_CASE("format_response writes the status line, the fixed headers and the body") {
  const std::string a =
      format_response(error_response(405), false, std::chrono::system_clock::time_point{});
  CHECK(a ==
        "HTTP/1.1 405 Method Not Allowed\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
        "Content-Type: application/json\r\nContent-Length: 30\r\nCache-Control: no-store\r\n"
        "Connection: close\r\nAllow: GET, HEAD\r\n\r\n{\"error\":\"method not allowed\"}");
  const std::string head =
      format_response({200, "text/plain", "OK\n"}, true, std::chrono::system_clock::now());
  CHECK(head.find("Content-Length: 3\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\n"));
}

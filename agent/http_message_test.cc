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

TEST_CASE("format_response lets a response set its own Cache-Control in place of no-store") {
  const std::string a = format_response({200, "text/html", "<p>", {{"Cache-Control", "no-cache"}}},
                                        false, std::chrono::system_clock::now());
  CHECK(a.find("\r\nCache-Control: no-cache\r\n") != std::string::npos);
  CHECK(a.find("no-store") == std::string::npos);
  CHECK(a.ends_with("\r\n\r\n<p>"));
}

TEST_CASE("parse_head keeps the headers with lower-case names and trimmed values") {
  const ParsedHead p =
      parse_head("GET / HTTP/1.1\r\nHost:  t \r\nX-Linewatch-Timestamp:\t17\r\n\r\n");
  REQUIRE(p.status == 0);
  REQUIRE(p.request.headers.size() == 2);
  CHECK(p.request.headers[0] == std::pair<std::string, std::string>{"host", "t"});
  CHECK(p.request.header("x-linewatch-timestamp") == "17");
  CHECK(p.request.header("X-LINEWATCH-TIMESTAMP") == "17");
  CHECK_FALSE(p.request.header("x-linewatch-signature").has_value());
}

TEST_CASE("POST is refused with 405 unless the rules allow it") {
  const std::string head = "POST /v1/routes HTTP/1.1\r\nContent-Length: 2\r\n\r\n";
  CHECK(parse_head(head).status == 405);
  const ParsedHead p = parse_head(head, {.allow_post = true});
  CHECK(p.status == 0);
  CHECK(p.request.method == "POST");
  CHECK(p.request.path == "/v1/routes");
  CHECK(p.body_length == 2);
  CHECK_FALSE(p.expect_continue);
  // Still 405 for other methods on a POST server.
  CHECK(parse_head("PUT / HTTP/1.1\r\nContent-Length: 2\r\n\r\n", {.allow_post = true}).status ==
        405);
}

TEST_CASE("a POST body needs one plain Content-Length within the bound") {
  const RequestRules rules{.allow_post = true, .max_body_bytes = 100};
  auto status = [&](std::string_view headers) {
    return parse_head("POST / HTTP/1.1\r\n" + std::string(headers) + "\r\n", rules).status;
  };
  CHECK(status("") == 0);  // no length header: an empty body
  CHECK(parse_head("POST / HTTP/1.1\r\n\r\n", rules).body_length == 0);
  CHECK(status("Transfer-Encoding: chunked\r\n") == 411);
  CHECK(status("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") == 400);
  CHECK(status("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") == 400);
  CHECK(status("Content-Length: -5\r\n") == 400);
  CHECK(status("Content-Length: 5x\r\n") == 400);
  CHECK(status("Content-Length: \r\n") == 400);
  CHECK(status("Content-Length: 5, 5\r\n") == 400);
  CHECK(status("Content-Length: 5\r\nContent-Length: 6\r\n") == 400);
  CHECK(status("Content-Length: 99999999999999999999999\r\n") == 400);
  CHECK(status("Content-Length: 101\r\n") == 413);
  CHECK(status("Content-Length: 100\r\n") == 0);
  CHECK(status("content-length: 5\r\nContent-Length: 5\r\n") == 0);
  CHECK(status("Content-Length: 0\r\n") == 0);
}

TEST_CASE("Expect 100-continue is noticed on an HTTP/1.1 POST only") {
  const RequestRules rules{.allow_post = true};
  CHECK(parse_head("POST / HTTP/1.1\r\nContent-Length: 1\r\nExpect: 100-Continue\r\n\r\n", rules)
            .expect_continue);
  CHECK_FALSE(
      parse_head("POST / HTTP/1.0\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", rules)
          .expect_continue);
  CHECK_FALSE(parse_head("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", rules).expect_continue);
}

TEST_CASE("GET and HEAD bodies are not read, as before POST existed") {
  const ParsedHead p = parse_head("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(p.status == 0);
  CHECK(p.body_length == 0);
  CHECK(parse_head("GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", {.allow_post = true})
            .body_length == 0);
}

TEST_CASE("format_response writes the answer's own headers and its own Allow on a 405") {
  HttpResponse r = error_response(405);
  r.headers.emplace_back("Allow", "POST");
  const std::string a = format_response(r, false, std::chrono::system_clock::time_point{});
  CHECK(a.find("\r\nAllow: POST\r\n") != std::string::npos);
  CHECK(a.find("GET, HEAD") == std::string::npos);
  HttpResponse u{401, "application/json", "{}", {{"WWW-Authenticate", "Linewatch-HMAC"}}};
  CHECK(format_response(u, false, std::chrono::system_clock::now())
            .starts_with("HTTP/1.1 401 Unauthorized\r\n"));
  CHECK(format_response(u, false, std::chrono::system_clock::now())
            .find("\r\nWWW-Authenticate: Linewatch-HMAC\r\n") != std::string::npos);
  CHECK(error_response(413).body == R"({"error":"content too large"})");
  CHECK(error_response(411).body == R"({"error":"length required"})");
}

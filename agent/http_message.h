// The HTTP/1.x wire format of the agent's API server: reading a request head
// and writing an answer. Pure functions on strings, no I/O; HttpServer
// (http_server.h) owns the sockets and the limits.
//
// Only what a read-only API needs: HTTP/1.0 and HTTP/1.1, GET and HEAD, no
// request bodies, no keep-alive (every answer says Connection: close).
//
// Thread-safety: every function is thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/time.h"

namespace linewatch {

struct HttpRequest {
  std::string method;  // "GET" or "HEAD": other methods never reach a handler
  std::string path;    // the target up to '?', "/api/v1/status"
  std::string query;   // after '?', without it; empty when absent
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // sent as is; left out of the bytes for HEAD
};

// The index just past the blank line that ends the head in `data`, or npos
// while it has not all arrived. Lines may end in CRLF or a bare LF (RFC 9112
// 2.2). `from` lets a caller that appends to `data` rescan only the tail: pass
// the size `data` had before the append (the search backs up over a
// terminator split between two reads).
std::size_t find_head_end(std::string_view data, std::size_t from = 0);

// What a complete head (up to and including its blank line) asks for. Either
// `status` is 0 and `request` is the GET or HEAD to answer, or `status` is
// the refusal: 400 malformed request or header line, 505 a version other
// than HTTP/1.0 and HTTP/1.1, 405 a method other than GET and HEAD. The
// checks run in that order. Header values are not interpreted.
struct ParsedHead {
  int status = 0;
  HttpRequest request;
};
ParsedHead parse_head(std::string_view head);

// The answer's bytes: "HTTP/1.1 <status> <reason>", then Date (from `now`),
// Content-Type, Content-Length (of the body, also for HEAD), Cache-Control:
// no-store, Connection: close, and Allow: GET, HEAD on a 405; the body
// unless `head_only`.
std::string format_response(const HttpResponse& response, bool head_only, WallTime now);

// An answer the server makes itself: `status` with the JSON body
// {"error":"<reason phrase in lower case>"}, e.g. {"error":"not found"}.
HttpResponse error_response(int status);

// The reason phrase of `status` ("Method Not Allowed"); "Unknown" for a
// status this server never sends.
std::string_view reason_phrase(int status);

}  // namespace linewatch

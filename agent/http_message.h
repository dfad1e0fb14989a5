// The HTTP/1.x wire format of the agent's servers (the API, the gateway
// receiver): reading a request head and writing an answer. Pure functions on
// strings, no I/O; HttpServer (http_server.h) owns the sockets and the limits.
//
// Only what small JSON services need: HTTP/1.0 and HTTP/1.1, GET and HEAD,
// and, where a server allows it, POST with a body of a declared length
// (Content-Length; no chunked transfer coding); no keep-alive (every answer
// says Connection: close).
//
// Thread-safety: every function is thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

namespace linewatch {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;   // "GET", "HEAD", or "POST" where the server allows it
  std::string path;     // the target up to '?', "/api/v1/status"
  std::string query;    // after '?', without it; empty when absent
  HttpHeaders headers;  // in order; names in lower case, values without surrounding blanks
  std::string body;     // POST only: exactly Content-Length bytes
  std::string peer;     // the client's address and port, "127.0.0.1:40512" (for logs)

  // The value of the first header named `name` (any case); nullopt when absent.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;       // sent as is; left out of the bytes for HEAD
  HttpHeaders headers{};  // more header lines, e.g. {"Allow", "POST"}; no CR or LF in them
};

// What a server accepts beyond GET and HEAD.
struct RequestRules {
  bool allow_post = false;  // POST reaches the handler; else 405
  // Largest POST body (Content-Length); beyond it 413. Default: 1 MiB.
  std::size_t max_body_bytes = 1 << 20;
};

// The index just past the blank line that ends the head in `data`, or npos
// while it has not all arrived. Lines may end in CRLF or a bare LF (RFC 9112
// 2.2). `from` lets a caller that appends to `data` rescan only the tail: pass
// the size `data` had before the append (the search backs up over a
// terminator split between two reads).
std::size_t find_head_end(std::string_view data, std::size_t from = 0);

// What a complete head (up to and including its blank line) asks for. Either
// `status` is 0 and `request` is the request to answer (its body still to
// come: `body_length` bytes), or `status` is the refusal, checked in this
// order: 400 malformed request or header line, 505 a version other than
// HTTP/1.0 and HTTP/1.1, 405 a method other than GET, HEAD and (when
// `rules.allow_post`) POST; then for a POST: 400 both Transfer-Encoding and
// Content-Length (a request-smuggling shape), 411 Transfer-Encoding (chunked;
// neither header means an empty body, RFC 9112 6.3), 400 a Content-Length that is not digits or given
// twice with different values, 413 above `rules.max_body_bytes`. GET and
// HEAD bodies are not read: their Content-Length is ignored, as before.
struct ParsedHead {
  int status = 0;
  HttpRequest request;
  std::size_t body_length = 0;   // POST: the Content-Length; else 0
  bool expect_continue = false;  // an HTTP/1.1 POST that sent "Expect: 100-continue"
};
ParsedHead parse_head(std::string_view head, const RequestRules& rules = {});

// The answer's bytes: "HTTP/1.1 <status> <reason>", then Date (from `now`),
// Content-Type, Content-Length (of the body, also for HEAD), Cache-Control:
// no-store unless the response sets its own, Connection: close, the
// response's own headers, and on a 405
// without an Allow of its own, Allow: GET, HEAD; the body unless `head_only`.
std::string format_response(const HttpResponse& response, bool head_only, WallTime now);

// An answer the server makes itself: `status` with the JSON body
// {"error":"<reason phrase in lower case>"}, e.g. {"error":"not found"}.
HttpResponse error_response(int status);

// The interim answer to "Expect: 100-continue": send the body now.
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

// The reason phrase of `status` ("Method Not Allowed"); "Unknown" for a
// status this server never sends.
std::string_view reason_phrase(int status);

}  // namespace linewatch

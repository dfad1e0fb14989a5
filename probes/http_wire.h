// HTTP/1.1 on the wire for the HTTP and LLM probes: the request text, and a
// response reader (status line, headers, then a content-length, chunked or
// close-delimited body) that keeps at most a fixed number of body bytes, or
// hands the body over piece by piece as it arrives (a streamed answer).
//
// The reader pulls bytes from a ByteSource, so it knows nothing of sockets or
// TLS; the source carries the deadline. A response that breaks HTTP/1.1
// framing fails with Reason::protocol (the server answered, but not in HTTP).
// What a server sends costs time linear in its size and bounded memory: the
// head is capped at kMaxHead bytes and kMaxHeaderFields fields, a chunk-size
// or trailer line at 8 KiB, the body at the caller's max_bytes.
// Thread-safety: functions are reentrant; a ResponseReader is used by one
// thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "probes/socket.h"

namespace linewatch {

// Reads up to `size` bytes into `buf`. Success: bytes read, 0 when the peer
// closed. Failure: the ProbeFailure to report (timeout, refused, tls, ...).
using ByteSource = std::function<Outcome<std::size_t>(char* buf, std::size_t size)>;

inline constexpr std::size_t kMaxHead = 64 * 1024;  // status line + header fields
inline constexpr std::size_t kMaxHeaderFields = 256;

// "" when `name: value` can go on the wire as one header field: `name` is an
// HTTP token and `value` holds no control character but HTAB (a CR or LF
// would end the field early and start another). Otherwise why not, e.g.
// "header value must not contain CR, LF, NUL or other control characters".
std::string check_header_field(std::string_view name, std::string_view value);

// The request head: "METHOD target HTTP/1.1", Host, User-Agent
// "linewatch/0.1", Accept, Connection: close, then `headers`. A header of
// `headers` whose name matches a default one (case-insensitively) replaces it.
// `host_header` is the Host value ("example.com", "[::1]:8080"). The caller
// checks `headers` with check_header_field() first.
std::string format_request(std::string_view method, std::string_view target,
                           std::string_view host_header,
                           const std::map<std::string, std::string>& headers);

// A Retry-After value (RFC 9110 10.2.3): delay-seconds, or an HTTP-date
// (IMF-fixdate, "Wed, 21 Oct 2015 07:28:00 GMT") less `now`, at least zero.
// nullopt when it is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

struct ResponseHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  // The first value of header `lower_name`, absent when not sent.
  std::optional<std::string> header(std::string_view lower_name) const;
};

class ResponseReader {
 public:
  explicit ResponseReader(ByteSource source) : source_(std::move(source)) {}

  // Reads the status line and headers, skipping interim 1xx responses.
  // Failure: the source's, or protocol for a malformed head, one over
  // kMaxHead bytes (interim responses included) or kMaxHeaderFields fields.
  Outcome<ResponseHead> read_head();

  // Reads the body that follows `head` (the answer to `method`) and appends at
  // most `max_bytes` of it to `body`, then stops reading: the rest is left on
  // the wire for the caller to drop with the connection.
  // Failure: the source's, or protocol for bad framing or a body cut short.
  Outcome<std::uint64_t> read_body(const ResponseHead& head, std::string_view method,
                                   std::uint64_t max_bytes, std::string& body);

  // Receives body bytes as they arrive: each piece read (dechunked) goes to
  // the sink at once. Returning false stops the reading there.
  using BodySink = std::function<bool(std::string_view piece)>;

  // As read_body, but hands the body to `sink` piece by piece, as the source
  // delivers it, rather than gathering it: the caller sees the first byte of
  // a streamed answer when it arrives, not when the answer ends. Stops after
  // max_bytes, at the body's end, or when the sink returns false (see
  // stopped()). Success: body bytes handed over. Failure: as read_body.
  Outcome<std::uint64_t> stream_body(const ResponseHead& head, std::string_view method,
                                     std::uint64_t max_bytes, const BodySink& sink);

  // Whether the last stream_body ended because its sink returned false.
  bool stopped() const { return stopped_; }

 private:
  // Ensures at least one unread byte is buffered. Success: false at EOF.
  Outcome<bool> fill();
  // Consumes one CRLF-terminated line (CRLF stripped), at most `limit` bytes.
  Outcome<std::string> read_line(std::size_t limit);
  // Hands up to `n` bytes of body (fewer only at EOF, or when the sink stops)
  // to `sink` as they are read.
  Outcome<std::uint64_t> read_exact(std::uint64_t n, const BodySink& sink, bool eof_ok);
  Outcome<std::uint64_t> read_chunked(std::uint64_t max_bytes, const BodySink& sink);

  ByteSource source_;
  // Bytes read from the source and not yet consumed: buf_[pos_, end_). A
  // fixed buffer, so a server sending one byte at a time costs no reallocation.
  std::vector<char> buf_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  bool stopped_ = false;  // a sink returned false
};

}  // namespace linewatch

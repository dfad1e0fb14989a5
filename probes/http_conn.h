// One HTTP(S) connection of the HTTP probe, opened phase by phase so each
// phase can be timed: name lookup, TCP connect through the line's binding,
// TLS handshake with certificate and host-name verification.
//
// Every wait is bounded by the caller's deadline: socket send/receive
// timeouts are re-armed from the time left before each call.
// Thread-safety: an HttpConnection is used by one thread at a time; open() is
// reentrant (TLS contexts are built per call, nothing is shared).
#pragma once

#include <Poco/Net/StreamSocket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/probe_result.h"
#include "probes/socket.h"

namespace linewatch {

// Where to connect, split out of the URL.
struct HttpEndpoint {
  bool tls = false;
  std::string host;  // name or literal, IPv6 without brackets
  std::uint16_t port = 0;
};

// What open() learnt besides the connection. Durations are added to `phases`
// (a redirect chain accumulates them); absent phases did not happen.
struct ConnectInfo {
  Phases* phases = nullptr;             // not owned; must outlive open()
  std::optional<WallTime> cert_expiry;  // TLS only: the peer's notAfter
};

class HttpConnection {
 public:
  // Resolves, connects and (for TLS) handshakes by `deadline`.
  // Success: a connected, blocking socket. Failure: dns (lookup failed),
  // timeout (deadline passed in any phase), bind, refused, unreachable,
  // tls (context, handshake or verification; detail says which), internal.
  static Outcome<HttpConnection> open(const HttpEndpoint& endpoint, const LineBinding& binding,
                                      const HttpOptions& options, MonoTime deadline,
                                      ConnectInfo& info);

  // Writes all of `data` by `deadline`. Failure: timeout or the socket error.
  Outcome<std::size_t> send_all(std::string_view data, MonoTime deadline);

  // Reads what is available, waiting no later than `deadline`.
  // Success: bytes read, 0 when the peer closed. Failure: timeout, refused
  // (reset), tls, internal.
  Outcome<std::size_t> receive_some(char* buf, std::size_t size, MonoTime deadline);

 private:
  explicit HttpConnection(Poco::Net::StreamSocket socket) : socket_(std::move(socket)) {}

  Poco::Net::StreamSocket socket_;  // plain or SecureStreamSocket; closes on destruction
};

}  // namespace linewatch

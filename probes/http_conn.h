// One HTTP(S) connection of the HTTP probe, opened phase by phase so each
// phase can be timed: name lookup, TCP connect through the line's binding,
// TLS handshake with certificate and host-name verification.
//
// The round's deadline binds every phase. The socket stays non-blocking and
// each wait is a poll() that ends at the deadline, so a server that trickles
// bytes (one every half second, through a TLS handshake or a response) cannot
// hold a round past its timeout, as a per-call socket timeout re-armed on
// every byte would let it. TLS is driven with OpenSSL directly for the same
// reason: its calls return whenever they would block, and the wait is ours.
// Name lookup is bounded too (see resolve_host in socket.h); literal
// addresses never reach the resolver.
//
// Thread-safety: an HttpConnection is used by one thread at a time; open() is
// reentrant (TLS contexts come from a thread-safe TlsContexts, or are built
// for the call).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/fd.h"
#include "core/probe_result.h"
#include "probes/socket.h"
#include "probes/tls_contexts.h"

struct ssl_st;  // OpenSSL's SSL

namespace Poco {
class URI;
}

namespace linewatch {

// Where to connect, split out of the URL.
struct HttpEndpoint {
  bool tls = false;
  std::string host;  // name or literal, IPv6 without brackets
  std::uint16_t port = 0;
};

// Where an http:// or https:// URL points. Failure: internal (another
// scheme, or no host), naming the URL.
Outcome<HttpEndpoint> endpoint_of(const Poco::URI& uri);

// The Host header for `uri`: the host (IPv6 in brackets), with the port when
// it is not the scheme's well-known one.
std::string host_header(const Poco::URI& uri);

// What open() learnt besides the connection. Durations are added to `phases`
// (a redirect chain accumulates them); absent phases did not happen.
struct ConnectInfo {
  Phases* phases = nullptr;             // not owned; must outlive open()
  std::optional<WallTime> cert_expiry;  // TLS only: the peer's notAfter
};

class HttpConnection {
 public:
  // Resolves, connects and (for TLS) handshakes by `deadline`.
  // Success: a connected socket. Failure: dns (lookup failed), timeout
  // (deadline passed in any phase), bind, refused, unreachable, tls (context,
  // handshake or verification; detail says which), internal.
  // The TLS context comes from `contexts` (not owned; shared by the rounds
  // with the same tls_verify and ca_file); null builds one for this call.
  static Outcome<HttpConnection> open(const HttpEndpoint& endpoint, const LineBinding& binding,
                                      const HttpOptions& options, TlsContexts* contexts,
                                      MonoTime deadline, ConnectInfo& info);

  // Writes all of `data` by `deadline`. Failure: timeout, protocol (the
  // server reset or closed the connection), tls, internal.
  Outcome<std::size_t> send_all(std::string_view data, MonoTime deadline);

  // Reads what is available, waiting no later than `deadline`.
  // Success: bytes read (at least 1), 0 when the peer closed. Failure:
  // timeout, protocol (the server reset the connection), tls, internal.
  Outcome<std::size_t> receive_some(char* buf, std::size_t size, MonoTime deadline);

 private:
  struct SslFree {
    void operator()(ssl_st* ssl) const;
  };
  using SslPtr = std::unique_ptr<ssl_st, SslFree>;

  HttpConnection(Fd fd, SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}

  static Outcome<SslPtr> start_tls(int fd, const std::string& name, const HttpOptions& options,
                                   TlsContexts* contexts, MonoTime deadline, ConnectInfo& info);

  Fd fd_;       // non-blocking; declared first, so it closes after ssl_ is freed
  SslPtr ssl_;  // the TLS session over fd_; null for plain HTTP
};

}  // namespace linewatch

#include "probes/http_conn.h"

#include <Poco/URI.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "probes/binding.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

void add_phase(std::optional<Duration>& phase, Duration d) {
  phase = phase.value_or(Duration{}) + d;
}

// The first error on this thread's OpenSSL queue as text (`fallback` when the
// queue is empty); the queue is left empty.
std::string openssl_error(const char* fallback) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return fallback;
  char text[256];
  ERR_error_string_n(e, text, sizeof text);
  return text;
}

// After the connection is up, a reset or a write to a closed socket is the
// server breaking off the exchange, not a refused connection.
ProbeFailure io_failure(const std::string& what, int err) {
  const Reason reason =
      err == ECONNRESET || err == EPIPE ? Reason::protocol : reason_for_errno(err);
  return {reason, what + ": " + std::strerror(err)};
}

// Waits until `fd` is ready for `events` or `deadline` passes.
// Success: true. Failure: timeout, or internal when poll() failed.
Outcome<bool> wait_for(int fd, short events, MonoTime deadline, const std::string& what) {
  const int ready = wait_ready(fd, events, deadline);
  if (ready == 0) return ProbeFailure{Reason::timeout, what + ": timed out"};
  if (ready < 0) return ProbeFailure{Reason::internal, what + ": poll: " + std::strerror(errno)};
  return true;
}

// Why the OpenSSL call that returned `rc` failed.
std::string ssl_failure_text(SSL* ssl) {
  if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      ERR_clear_error();
      return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
  }
  return openssl_error("TLS error");
}

// Runs an OpenSSL call (`op`, which returns what SSL_connect/read/write
// return) on the non-blocking `fd` until it succeeds or fails, waiting for the
// socket in between, never past `deadline`. Success: op's positive result, or
// 0 when the peer closed. Failure: timeout, protocol (reset), tls, internal.
template <class Op>
Outcome<int> drive(SSL* ssl, int fd, MonoTime deadline, const std::string& what, Op op) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int rc = op();
    if (rc > 0) return rc;
    const int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      Outcome<bool> ready =
          wait_for(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, what);
      if (!ready.ok()) return ready.failure();
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err == SSL_ERROR_SYSCALL) {
      const int e = errno;
      ERR_clear_error();
      if (e == EINTR) continue;
      if (e == 0) return 0;  // end of stream without close_notify
      return io_failure(what, e);
    }
    return ProbeFailure{Reason::tls, what + ": " + ssl_failure_text(ssl)};
  }
}

bool is_ip_literal(const std::string& name) {
  SocketAddress literal;
  return parse_numeric_address(name, 0, literal);
}

bool certificate_matches(X509* cert, const std::string& name) {
  if (is_ip_literal(name)) return X509_check_ip_asc(cert, name.c_str(), 0) == 1;
  return X509_check_host(cert, name.data(), name.size(), 0, nullptr) == 1;
}

std::string subject_of(X509* cert) {
  char text[256];
  X509_NAME_oneline(X509_get_subject_name(cert), text, sizeof text);
  return text;
}

std::optional<WallTime> not_after(X509* cert) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1) return std::nullopt;
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

}  // namespace

Outcome<HttpEndpoint> endpoint_of(const Poco::URI& uri) {
  const std::string& scheme = uri.getScheme();
  if (scheme != "http" && scheme != "https")
    return ProbeFailure{Reason::internal,
                        "url " + uri.toString() + ": scheme must be http or https"};
  if (uri.getHost().empty())
    return ProbeFailure{Reason::internal, "url " + uri.toString() + ": no host"};
  return HttpEndpoint{scheme == "https", uri.getHost(), uri.getPort()};
}

std::string host_header(const Poco::URI& uri) {
  std::string host = uri.getHost();
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  const unsigned short port = uri.getSpecifiedPort();  // 0 when the URL names none
  const unsigned short well_known = uri.getScheme() == "https" ? 443 : 80;
  if (port == 0 || port == well_known) return host;
  return host + ":" + std::to_string(port);
}

void HttpConnection::SslFree::operator()(ssl_st* ssl) const { SSL_free(ssl); }

Outcome<HttpConnection::SslPtr> HttpConnection::start_tls(int fd, const std::string& name,
                                                          const HttpOptions& options,
                                                          TlsContexts* contexts, MonoTime deadline,
                                                          ConnectInfo& info) {
  // Without a cache (a one-off round), a context of its own for this round.
  const TlsSetting setting{options.tls_verify, options.ca_file};
  Outcome<TlsContextPtr> context =
      contexts != nullptr ? contexts->get(setting) : make_tls_context(setting);
  if (!context.ok()) return context.failure();
  SslPtr ssl(SSL_new(context.value().get()));  // holds its own reference to the context
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1)
    return ProbeFailure{Reason::internal, "tls: " + openssl_error("cannot create a session")};
  // SNI names hosts only (RFC 6066): an address is not sent.
  if (!is_ip_literal(name) && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1)
    return ProbeFailure{Reason::tls, "tls: server name " + name + ": " + openssl_error("refused")};

  Outcome<int> done =
      drive(ssl.get(), fd, deadline, "tls handshake", [&] { return SSL_connect(ssl.get()); });
  if (!done.ok()) {
    ProbeFailure f = done.failure();
    if (f.reason != Reason::timeout) f.reason = Reason::tls;
    return f;
  }
  if (done.value() == 0)
    return ProbeFailure{Reason::tls, "tls handshake: connection closed by the server"};
  X509* cert = SSL_get0_peer_certificate(ssl.get());  // owned by the session
  if (cert == nullptr) return ProbeFailure{Reason::tls, "tls handshake: no server certificate"};
  // OpenSSL verified the chain during the handshake; the name is checked
  // here so the message can say which certificate did not match.
  if (options.tls_verify && !certificate_matches(cert, name))
    return ProbeFailure{Reason::tls, "tls: certificate of \"" + subject_of(cert) +
                                         "\" does not match server name " + name};
  info.cert_expiry = not_after(cert);
  return ssl;
}

Outcome<HttpConnection> HttpConnection::open(const HttpEndpoint& endpoint,
                                             const LineBinding& binding, const HttpOptions& options,
                                             TlsContexts* contexts, MonoTime deadline,
                                             ConnectInfo& info) {
  SocketAddress literal;
  const bool is_literal = parse_numeric_address(endpoint.host, endpoint.port, literal);
  MonoTime start = Steady::now();
  Outcome<std::vector<SocketAddress>> addresses =
      resolve_host(endpoint.host, endpoint.port, binding_family(binding), deadline);
  if (!is_literal) add_phase(info.phases->dns, Steady::now() - start);
  if (!addresses.ok()) {
    ProbeFailure f = addresses.failure();
    if (f.reason == Reason::dns && Steady::now() >= deadline) f.reason = Reason::timeout;
    return f;
  }

  Duration handshake{};
  Outcome<Fd> fd = connect_any(addresses.value(), binding, deadline, &handshake);
  if (!fd.ok()) return fd.failure();
  add_phase(info.phases->connect, handshake);
  // Without it, Nagle holds the request written right after the client's TLS
  // Finished (still unacknowledged) for one round trip, and every time to
  // first byte or token over TLS reads one RTT high.
  const int on = 1;
  if (::setsockopt(fd.value().get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) != 0)
    return ProbeFailure{Reason::internal,
                        std::string("setsockopt TCP_NODELAY: ") + std::strerror(errno)};
  if (!endpoint.tls) return HttpConnection(std::move(fd.value()), nullptr);

  start = Steady::now();
  const std::string& name = options.server_name.empty() ? endpoint.host : options.server_name;
  Outcome<SslPtr> ssl = start_tls(fd.value().get(), name, options, contexts, deadline, info);
  if (!ssl.ok()) return ssl.failure();
  add_phase(info.phases->tls, Steady::now() - start);
  return HttpConnection(std::move(fd.value()), std::move(ssl.value()));
}

Outcome<std::size_t> HttpConnection::send_all(std::string_view data, MonoTime deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const std::size_t left = data.size() - sent;
    if (ssl_) {
      // OpenSSL writes with write(2), without MSG_NOSIGNAL: the agent ignores
      // SIGPIPE process-wide (main.cc), as any other embedder must.
      const int chunk = static_cast<int>(std::min<std::size_t>(left, 1 << 20));
      Outcome<int> n = drive(ssl_.get(), fd_.get(), deadline, "send",
                             [&] { return SSL_write(ssl_.get(), data.data() + sent, chunk); });
      if (!n.ok()) return n.failure();
      if (n.value() == 0) return ProbeFailure{Reason::protocol, "send: connection closed"};
      sent += static_cast<std::size_t>(n.value());
      continue;
    }
    // MSG_NOSIGNAL: a server that hung up must not SIGPIPE the agent.
    const ssize_t n = ::send(fd_.get(), data.data() + sent, left, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return io_failure("send", errno);
    Outcome<bool> ready = wait_for(fd_.get(), POLLOUT, deadline, "send");
    if (!ready.ok()) return ready.failure();
  }
  return sent;
}

Outcome<std::size_t> HttpConnection::receive_some(char* buf, std::size_t size, MonoTime deadline) {
  if (Steady::now() >= deadline) return ProbeFailure{Reason::timeout, "receive: timed out"};
  if (ssl_) {
    const int chunk = static_cast<int>(std::min<std::size_t>(size, 1 << 20));
    Outcome<int> n = drive(ssl_.get(), fd_.get(), deadline, "receive",
                           [&] { return SSL_read(ssl_.get(), buf, chunk); });
    if (!n.ok()) return n.failure();
    return static_cast<std::size_t>(n.value());
  }
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf, size, 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return io_failure("receive", errno);
    Outcome<bool> ready = wait_for(fd_.get(), POLLIN, deadline, "receive");
    if (!ready.ok()) return ready.failure();
  }
}

}  // namespace linewatch

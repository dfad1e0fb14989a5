#include "probes/http_conn.h"

#include <Poco/DateTime.h>
#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/StreamSocketImpl.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/Timespan.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "probes/binding.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

// Time left before `deadline` as a Poco timeout; absent once it passed.
// At least 1 ms, because a zero timespan means "wait forever" to Poco.
std::optional<Poco::Timespan> time_left(MonoTime deadline) {
  const Duration left = deadline - Steady::now();
  if (left <= Duration::zero()) return std::nullopt;
  const long long us = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
  return Poco::Timespan(std::max(us, 1000LL));
}

void add_phase(std::optional<Duration>& phase, Duration d) {
  phase = phase.value_or(Duration{}) + d;
}

// Poco's SSL initialisation is reference counted; this takes one reference for
// the process lifetime, once, on the first TLS connection.
void ensure_ssl_initialised() {
  static const bool initialised = (Poco::Net::initializeSSL(), true);
  (void)initialised;
}

// A fresh client context per connection: building one is cheap next to a
// handshake, and nothing mutable is shared between probe threads.
Outcome<Poco::Net::Context::Ptr> make_context(const HttpOptions& options) {
  Poco::Net::Context::Params params;
  params.verificationMode =
      options.tls_verify ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE;
  if (options.tls_verify) {
    params.caLocation = options.ca_file;
    params.loadDefaultCAs = options.ca_file.empty();
  }
  try {
    Poco::Net::Context::Ptr context =
        new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    // Poco's own name check skips "localhost" names and may do a DNS lookup
    // without a timeout; the name is checked with OpenSSL after the handshake.
    context->enableExtendedCertificateVerification(false);
    return context;
  } catch (const Poco::Exception& e) {
    const std::string ca =
        options.ca_file.empty() ? "system CA store" : "ca_file " + options.ca_file;
    return ProbeFailure{Reason::tls, "tls context (" + ca + "): " + e.displayText()};
  }
}

bool certificate_matches(const Poco::Net::X509Certificate& cert, const std::string& name) {
  // OpenSSL's check functions take a non-const X509 but do not modify it.
  X509* x509 = const_cast<X509*>(cert.certificate());
  SocketAddress literal;
  if (parse_numeric_address(name, 0, literal)) return X509_check_ip_asc(x509, name.c_str(), 0) == 1;
  return X509_check_host(x509, name.data(), name.size(), 0, nullptr) == 1;
}

WallTime to_wall(const Poco::DateTime& t) {
  return WallTime(std::chrono::microseconds(t.timestamp().epochMicroseconds()));
}

// Maps an exception from a socket call to the probe's failure.
ProbeFailure socket_failure(const std::string& what) {
  try {
    throw;
  } catch (const Poco::TimeoutException&) {
    return {Reason::timeout, what + ": timed out"};
  } catch (const Poco::Net::SSLException& e) {
    return {Reason::tls, what + ": " + e.displayText()};
  } catch (const Poco::Net::NetException& e) {
    return {reason_for_errno(e.code()), what + ": " + e.displayText()};
  } catch (const Poco::Exception& e) {
    return {Reason::internal, what + ": " + e.displayText()};
  }
}

Outcome<Poco::Net::StreamSocket> start_tls(Poco::Net::StreamSocket plain, const std::string& name,
                                           const HttpOptions& options, MonoTime deadline,
                                           ConnectInfo& info) {
  ensure_ssl_initialised();
  Outcome<Poco::Net::Context::Ptr> context = make_context(options);
  if (!context.ok()) return context.failure();
  const std::optional<Poco::Timespan> left = time_left(deadline);
  if (!left) return ProbeFailure{Reason::timeout, "tls handshake: timed out"};
  try {
    plain.setReceiveTimeout(*left);
    plain.setSendTimeout(*left);
    Poco::Net::SecureStreamSocket tls =
        Poco::Net::SecureStreamSocket::attach(plain, name, context.value());
    if (!tls.havePeerCertificate()) {
      if (Steady::now() >= deadline)
        return ProbeFailure{Reason::timeout, "tls handshake: timed out"};
      return ProbeFailure{Reason::tls, "tls handshake: no server certificate"};
    }
    const Poco::Net::X509Certificate cert = tls.peerCertificate();
    if (options.tls_verify && !certificate_matches(cert, name))
      return ProbeFailure{Reason::tls, "tls: certificate of \"" + cert.subjectName() +
                                           "\" does not match server name " + name};
    info.cert_expiry = to_wall(cert.expiresOn());
    return Poco::Net::StreamSocket(tls);
  } catch (...) {
    ProbeFailure f = socket_failure("tls handshake");
    if (f.reason != Reason::timeout) f.reason = Reason::tls;
    return f;
  }
}

}  // namespace

Outcome<HttpConnection> HttpConnection::open(const HttpEndpoint& endpoint,
                                             const LineBinding& binding, const HttpOptions& options,
                                             MonoTime deadline, ConnectInfo& info) {
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
  if (!set_blocking(fd.value().get(), true))
    return ProbeFailure{Reason::internal, "connect: cannot make the socket blocking"};
  // Poco takes ownership of the descriptor from here on.
  Poco::Net::StreamSocket plain(new Poco::Net::StreamSocketImpl(fd.value().release()));
  if (!endpoint.tls) return HttpConnection(plain);

  start = Steady::now();
  const std::string& name = options.server_name.empty() ? endpoint.host : options.server_name;
  Outcome<Poco::Net::StreamSocket> tls = start_tls(plain, name, options, deadline, info);
  if (!tls.ok()) return tls.failure();
  add_phase(info.phases->tls, Steady::now() - start);
  return HttpConnection(tls.value());
}

Outcome<std::size_t> HttpConnection::send_all(std::string_view data, MonoTime deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const std::optional<Poco::Timespan> left = time_left(deadline);
    if (!left) return ProbeFailure{Reason::timeout, "send: timed out"};
    try {
      socket_.setSendTimeout(*left);
      const int chunk = static_cast<int>(std::min<std::size_t>(data.size() - sent, INT_MAX));
      // MSG_NOSIGNAL: a server that hung up must not SIGPIPE the agent (plain
      // sockets only; OpenSSL writes TLS records without it).
      const int n = socket_.sendBytes(data.data() + sent, chunk, MSG_NOSIGNAL);
      if (n <= 0) return ProbeFailure{Reason::timeout, "send: timed out"};
      sent += static_cast<std::size_t>(n);
    } catch (...) {
      return socket_failure("send");
    }
  }
  return sent;
}

Outcome<std::size_t> HttpConnection::receive_some(char* buf, std::size_t size, MonoTime deadline) {
  const std::optional<Poco::Timespan> left = time_left(deadline);
  if (!left) return ProbeFailure{Reason::timeout, "receive: timed out"};
  try {
    socket_.setReceiveTimeout(*left);
    const int n = socket_.receiveBytes(buf, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    return static_cast<std::size_t>(std::max(n, 0));
  } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException&) {
    // Many servers close without a TLS close_notify; the body framing (not
    // the TLS layer) decides whether the response was complete.
    return std::size_t{0};
  } catch (...) {
    return socket_failure("receive");
  }
}

}  // namespace linewatch

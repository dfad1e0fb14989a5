// Socket helpers shared by the connection-oriented probes (TCP, HTTP): an
// owning fd, address resolution bounded by a deadline, and a connect through a
// line's binding bounded by a deadline.
//
// Deadlines are std::chrono::steady_clock time points (MonoTime) because they
// bound real waits in poll(); a test's FakeClock cannot make a socket faster.
// Failures come back as a ProbeFailure carrying the probe Reason to report, so
// a probe can copy it into its ProbeResult unchanged.
// Thread-safety: every function is thread-safe; an Fd is a plain owning value.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/config.h"
#include "core/fd.h"
#include "core/probe_result.h"
#include "core/time.h"

namespace linewatch {

// Why a socket step failed, as the probe should report it.
struct ProbeFailure {
  Reason reason = Reason::internal;
  std::string detail;  // "connect 127.0.0.1:80: Connection refused"
};

// `r` marked failed with f's reason and detail; what r measured so far stays.
inline ProbeResult failed(ProbeResult r, const ProbeFailure& f) {
  r.ok = false;
  r.reason = f.reason;
  r.detail = f.detail;
  return r;
}

// Either a value or a ProbeFailure.
template <class T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}                 // NOLINT: implicit by design
  Outcome(ProbeFailure failure) : v_(std::move(failure)) {}  // NOLINT: implicit by design
  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const ProbeFailure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<T, ProbeFailure> v_;
};

// An IPv4 or IPv6 socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  std::string host() const;       // "127.0.0.1", "::1"
  std::string to_string() const;  // "127.0.0.1:80", "[::1]:80"
};

// Parses a literal IPv4/IPv6 address (no brackets). Returns false, leaving
// `out` untouched, when `host` is not a literal.
bool parse_numeric_address(std::string_view host, std::uint16_t port, SocketAddress& out);

// Resolves `host` (literal or name) to addresses of `family` (AF_INET,
// AF_INET6 or AF_UNSPEC for both), returning by `deadline` at the latest.
// Literals never touch the resolver. getaddrinfo has no timeout, so names are
// looked up on a detached worker thread that owns its state: when the
// deadline passes first, the worker finishes in the background and its
// answer is dropped. Success: at least one address, resolver order.
// Failure: Reason::dns, detail "dns NAME: <gai text>" or "dns NAME: timed out";
// Reason::bind when `host` is a literal of another family than `family`.
Outcome<std::vector<SocketAddress>> resolve_host(const std::string& host, std::uint16_t port,
                                                 int family, MonoTime deadline);

// Waits until `fd` is ready for `events` (POLLIN/POLLOUT), retrying EINTR.
// Returns 1 when ready (or in error/hangup, which the next I/O call reveals),
// 0 when `deadline` passed, -1 with errno set when poll() failed.
int wait_ready(int fd, short events, MonoTime deadline);

// Opens a non-blocking stream socket of `address`'s family, applies `binding`
// (see binding.h) and connects, waiting no later than `deadline`.
// Success: the connected socket, still non-blocking (clear O_NONBLOCK with
// set_blocking() before handing it to blocking code). Failure: Reason::bind
// (binding message), refused, unreachable, timeout, or internal.
// `handshake`, when given, receives the handshake's round trip as the kernel
// measured it (TCP_INFO: SYN sent to SYN-ACK taken), or, when the SYN was
// retransmitted or the kernel has no sample, the time from just before
// connect() to the handshake's end. Socket creation and binding are not the
// line's delay, and neither is this thread's wake-up.
Outcome<Fd> connect_with_deadline(const SocketAddress& address, const LineBinding& binding,
                                  MonoTime deadline, Duration* handshake = nullptr);

// Tries `addresses` in order until one connects; a refused or unreachable
// address moves on to the next while time remains, any other failure ends the
// attempt. `handshake` is that of the address that connected.
Outcome<Fd> connect_any(const std::vector<SocketAddress>& addresses, const LineBinding& binding,
                        MonoTime deadline, Duration* handshake = nullptr);

// Sets or clears O_NONBLOCK. Returns false with errno set on failure.
bool set_blocking(int fd, bool blocking);

// Writes all of `data` to the non-blocking socket `fd` by `deadline`.
// Failure: Reason::timeout, or the errno's Reason (refused on a reset, ...),
// detail prefixed with "send".
Outcome<std::size_t> send_all(int fd, std::string_view data, MonoTime deadline);

// The probe Reason for a socket errno: refused, unreachable, timeout, internal.
Reason reason_for_errno(int err);

// A failure of step `what` ("connect 127.0.0.1:80") with errno `err`: its
// Reason and the detail "WHAT: <strerror>".
ProbeFailure errno_failure(const std::string& what, int err);

// The handshake of the connected TCP socket `fd` as the kernel measured it
// (TCP_INFO: SYN sent to SYN-ACK taken), or `measured` (the caller's own
// figure from just before connect()) when the SYN was retransmitted, the
// kernel has no sample, or its sample is the larger one.
Duration handshake_time(int fd, Duration measured);

}  // namespace linewatch

// The TCP probe: connect through the line, optionally send bytes and wait for
// an expected substring. The headline rtt is the connect time (SYN to
// SYN-ACK), which is what a TCP handshake costs an application on this line.
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "probes/binding.h"
#include "probes/probe.h"
#include "probes/socket.h"

namespace linewatch {
namespace {

// A reply longer than this without the expected text is a mismatch: the probe
// must not buffer whatever a misbehaving server streams at it.
constexpr std::size_t kMaxExpectBytes = 64 * 1024;

std::string quoted(const std::string& s) {
  constexpr std::size_t kShown = 64;
  return "\"" + (s.size() > kShown ? s.substr(0, kShown) + "..." : s) + "\"";
}

// Reads from `fd` until `expect` appears, the peer closes, the cap is reached
// or `deadline` passes.
Outcome<std::size_t> read_until(int fd, const std::string& expect, MonoTime deadline) {
  std::string buffer;
  char chunk[4096];
  while (buffer.size() < kMaxExpectBytes) {
    const ssize_t n =
        ::recv(fd, chunk, std::min(sizeof(chunk), kMaxExpectBytes - buffer.size()), 0);
    if (n > 0) {
      // Only the tail can hold a match that the previous search did not see.
      const std::size_t from =
          buffer.size() >= expect.size() ? buffer.size() - expect.size() + 1 : 0;
      buffer.append(chunk, static_cast<std::size_t>(n));
      if (buffer.find(expect, from) != std::string::npos) return buffer.size();
      continue;
    }
    if (n == 0) {
      return ProbeFailure{Reason::body_mismatch, "expect " + quoted(expect) +
                                                     ": connection closed after " +
                                                     std::to_string(buffer.size()) + " bytes"};
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return ProbeFailure{reason_for_errno(errno), std::string("recv: ") + std::strerror(errno)};
    const int ready = wait_ready(fd, POLLIN, deadline);
    if (ready == 0) {
      return ProbeFailure{Reason::timeout, "expect " + quoted(expect) + ": timed out after " +
                                               std::to_string(buffer.size()) + " bytes"};
    }
    if (ready < 0)
      return ProbeFailure{Reason::internal, std::string("poll: ") + std::strerror(errno)};
  }
  return ProbeFailure{Reason::body_mismatch, "expect " + quoted(expect) + ": not in the first " +
                                                 std::to_string(kMaxExpectBytes) + " bytes"};
}

}  // namespace

ProbeResult run_tcp(const ProbeRequest& request) {
  const TcpOptions& tcp = *request.spec.tcp;
  const Clock& clock = request.clock;
  const MonoTime deadline = std::chrono::steady_clock::now() + request.spec.timing.timeout;
  ProbeResult r;
  r.kind = ProbeKind::tcp;

  SocketAddress literal;
  const bool numeric = parse_numeric_address(tcp.host, tcp.port, literal);
  const MonoTime dns_start = clock.now();
  auto addresses = resolve_host(tcp.host, tcp.port, binding_family(request.line.binding), deadline);
  if (!addresses.ok()) return failed(std::move(r), addresses.failure());
  if (!numeric) r.phases.dns = clock.now() - dns_start;

  Duration handshake{};
  Outcome<Fd> fd = connect_any(addresses.value(), request.line.binding, deadline, &handshake);
  if (!fd.ok()) return failed(std::move(r), fd.failure());
  r.phases.connect = handshake;
  r.rtt = r.phases.connect;

  if (!tcp.send.empty()) {
    auto sent = send_all(fd.value().get(), tcp.send, deadline);
    if (!sent.ok()) return failed(std::move(r), sent.failure());
  }
  if (!tcp.expect.empty()) {
    const MonoTime read_start = clock.now();
    auto got = read_until(fd.value().get(), tcp.expect, deadline);
    if (!got.ok()) return failed(std::move(r), got.failure());
    r.phases.ttfb = clock.now() - read_start;
  }
  r.ok = true;
  r.reason = Reason::ok;
  return r;
}

}  // namespace linewatch

#include "probes/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "probes/binding.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

std::string errno_text(int err) { return std::strerror(err); }

// What a lookup worker shares with its caller; whichever of them lives
// longer frees it.
struct Lookup {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  int status = 0;
  std::vector<SocketAddress> addresses;
};

void run_lookup(const std::shared_ptr<Lookup>& lookup, const std::string& host, std::uint16_t port,
                int family) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  const int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
  std::vector<SocketAddress> addresses;
  for (addrinfo* ai = list; status == 0 && ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    SocketAddress a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    addresses.push_back(a);
  }
  if (list != nullptr) ::freeaddrinfo(list);
  std::lock_guard lock(lookup->mutex);
  lookup->status = status;
  lookup->addresses = std::move(addresses);
  lookup->done = true;
  lookup->done_cv.notify_all();
}

int poll_timeout_ms(MonoTime deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now());
  return static_cast<int>(std::clamp<long long>(left.count(), 0, 24 * 3600 * 1000));
}

}  // namespace

std::string SocketAddress::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, text,
              sizeof(text));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, text,
              sizeof(text));
  }
  return text;
}

std::string SocketAddress::to_string() const {
  if (family() == AF_INET6) {
    const auto port = ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    return "[" + host() + "]:" + std::to_string(port);
  }
  const auto port = ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  return host() + ":" + std::to_string(port);
}

bool parse_numeric_address(std::string_view host, std::uint16_t port, SocketAddress& out) {
  const std::string text(host);
  SocketAddress a;
  auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    out = a;
    return true;
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    out = a;
    return true;
  }
  return false;
}

Outcome<std::vector<SocketAddress>> resolve_host(const std::string& host, std::uint16_t port,
                                                 int family, MonoTime deadline) {
  SocketAddress literal;
  if (parse_numeric_address(host, port, literal)) {
    if (family != AF_UNSPEC && literal.family() != family)
      return ProbeFailure{Reason::bind, "address " + host + ": not " +
                                            (family == AF_INET6 ? "IPv6" : "IPv4") +
                                            " as the line's binding requires"};
    return std::vector<SocketAddress>{literal};
  }
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread(run_lookup, lookup, host, port, family).detach();
  } catch (const std::system_error& e) {
    return ProbeFailure{Reason::internal, "dns " + host + ": cannot start lookup: " + e.what()};
  }
  std::unique_lock lock(lookup->mutex);
  if (!lookup->done_cv.wait_until(lock, deadline, [&] { return lookup->done; }))
    return ProbeFailure{Reason::dns, "dns " + host + ": timed out"};
  if (lookup->status != 0)
    return ProbeFailure{Reason::dns, "dns " + host + ": " + ::gai_strerror(lookup->status)};
  if (lookup->addresses.empty())
    return ProbeFailure{Reason::dns, "dns " + host + ": no address of the line's family"};
  return std::move(lookup->addresses);
}

int wait_ready(int fd, short events, MonoTime deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, poll_timeout_ms(deadline));
    if (n > 0) return 1;
    if (n == 0) {
      // poll() rounds to milliseconds; only give up once the deadline is due.
      if (Steady::now() >= deadline) return 0;
      continue;
    }
    if (errno != EINTR) return -1;
  }
}

bool set_blocking(int fd, bool blocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  const int wanted = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  return wanted == flags || ::fcntl(fd, F_SETFL, wanted) == 0;
}

// The kernel's own measure of the handshake (SYN sent to SYN-ACK taken, in
// µs), free of this thread's wake-up, which on an idle machine adds 0.1-0.3 ms.
// Only when the SYN went once: after a retransmission the wait for it is part
// of what an application saw, and the kernel's sample would hide it.
Duration handshake_time(int fd, Duration measured) {
  tcp_info info{};
  socklen_t length = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return measured;
  if (info.tcpi_rtt == 0 || info.tcpi_total_retrans != 0) return measured;
  const Duration kernel = std::chrono::microseconds(info.tcpi_rtt);
  return kernel <= measured ? kernel : measured;
}

Outcome<Fd> connect_with_deadline(const SocketAddress& address, const LineBinding& binding,
                                  MonoTime deadline, Duration* handshake) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ProbeFailure{Reason::internal, "socket: " + errno_text(errno)};
  if (Status s = apply_binding(fd.get(), address.family(), binding); !s.ok())
    return ProbeFailure{Reason::bind, s.error().message};
  const std::string what = "connect " + address.to_string();
  const MonoTime start = Steady::now();
  if (::connect(fd.get(), address.get(), address.length) == 0) {
    if (handshake) *handshake = handshake_time(fd.get(), Steady::now() - start);
    return fd;
  }
  if (errno != EINPROGRESS) return errno_failure(what, errno);
  const int ready = wait_ready(fd.get(), POLLOUT, deadline);
  if (ready == 0) return ProbeFailure{Reason::timeout, what + ": timed out"};
  if (ready < 0) return errno_failure(what, errno);
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) return errno_failure(what, err);
  if (handshake) *handshake = handshake_time(fd.get(), Steady::now() - start);
  return fd;
}

Outcome<Fd> connect_any(const std::vector<SocketAddress>& addresses, const LineBinding& binding,
                        MonoTime deadline, Duration* handshake) {
  ProbeFailure last{Reason::internal, "connect: no address"};
  for (const SocketAddress& address : addresses) {
    Outcome<Fd> fd = connect_with_deadline(address, binding, deadline, handshake);
    if (fd.ok()) return fd;
    last = fd.failure();
    if (last.reason != Reason::refused && last.reason != Reason::unreachable) break;
    if (Steady::now() >= deadline) break;
  }
  return last;
}

Outcome<std::size_t> send_all(int fd, std::string_view data, MonoTime deadline) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno_failure("send", errno);
    const int ready = wait_ready(fd, POLLOUT, deadline);
    if (ready == 0) return ProbeFailure{Reason::timeout, "send: timed out"};
    if (ready < 0) return errno_failure("send", errno);
  }
  return sent;
}

ProbeFailure errno_failure(const std::string& what, int err) {
  return {reason_for_errno(err), what + ": " + errno_text(err)};
}

Reason reason_for_errno(int err) {
  switch (err) {
    case ECONNREFUSED:
    case ECONNRESET:
      return Reason::refused;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
      return Reason::unreachable;
    case ETIMEDOUT:
      return Reason::timeout;
    default:
      return Reason::internal;
  }
}

}  // namespace linewatch

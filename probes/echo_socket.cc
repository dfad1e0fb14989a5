#include "probes/echo_socket.h"

#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
// After <time.h>: errqueue.h uses struct timespec.
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "probes/binding.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;
constexpr std::size_t kMaxPacket = 65536 + 60;  // largest payload plus an IPv4 header

int icmp_protocol(int family) {
  return family == AF_INET6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
}

Duration since_epoch(const timespec& t) {
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

Duration realtime_now() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return since_epoch(t);
}

// The software stamp of a SCM_TIMESTAMPING control message, if `msg` has one.
std::optional<Duration> software_stamp(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPING) continue;
    scm_timestamping stamps{};
    std::memcpy(&stamps, CMSG_DATA(c), sizeof(stamps));
    if (stamps.ts[0].tv_sec == 0 && stamps.ts[0].tv_nsec == 0) return std::nullopt;
    return since_epoch(stamps.ts[0]);
  }
  return std::nullopt;
}

bool same_host(const sockaddr_storage& from, const SocketAddress& target) {
  if (from.ss_family != target.family()) return false;
  if (from.ss_family == AF_INET) {
    return std::memcmp(&reinterpret_cast<const sockaddr_in&>(from).sin_addr,
                       &reinterpret_cast<const sockaddr_in*>(target.get())->sin_addr,
                       sizeof(in_addr)) == 0;
  }
  return std::memcmp(&reinterpret_cast<const sockaddr_in6&>(from).sin6_addr,
                     &reinterpret_cast<const sockaddr_in6*>(target.get())->sin6_addr,
                     sizeof(in6_addr)) == 0;
}

// Limits a raw socket to echo replies with our identifier, so it is not
// woken (or made to copy) for the rest of the host's ICMP traffic.
bool attach_reply_filter(int fd, int family, std::uint16_t id) {
  if (family == AF_INET6) {
    icmp6_filter filter{};
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof(filter)) != 0) return false;
  }
  std::vector<sock_filter> code = icmp_wire::reply_filter(family, id);
  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) == 0;
}

}  // namespace

EchoSocket::EchoSocket(Fd fd, int family, Kind kind)
    : fd_(std::move(fd)), family_(family), kind_(kind), buffer_(kMaxPacket) {
  std::random_device random;
  id_ = static_cast<std::uint16_t>(random());
  for (auto& b : cookie_) b = static_cast<std::uint8_t>(random());
}

Outcome<EchoSocket> EchoSocket::open(int family, const LineBinding& binding, Kind kind) {
  const int flags = SOCK_CLOEXEC | SOCK_NONBLOCK;
  Fd fd;
  Kind opened = Kind::datagram;
  int datagram_errno = 0;
  if (kind != Kind::raw) {
    fd.reset(::socket(family, SOCK_DGRAM | flags, icmp_protocol(family)));
    if (!fd.valid()) datagram_errno = errno;
  }
  if (!fd.valid() && kind != Kind::datagram) {
    opened = Kind::raw;
    fd.reset(::socket(family, SOCK_RAW | flags, icmp_protocol(family)));
  }
  if (!fd.valid()) {
    const int raw_errno = errno;
    std::string detail = "icmp: ";
    if (kind != Kind::raw)
      detail += "no ping socket (" + std::string(std::strerror(datagram_errno)) +
                "; net.ipv4.ping_group_range must include the process's group)";
    if (kind == Kind::automatic) detail += " and ";
    if (kind != Kind::datagram)
      detail += "no raw socket (" + std::string(std::strerror(raw_errno)) +
                "; needs root or CAP_NET_RAW)";
    return ProbeFailure{Reason::internal, detail};
  }
  EchoSocket socket(std::move(fd), family, opened);
  if (opened == Kind::raw && !attach_reply_filter(socket.fd_.get(), family, socket.id_))
    return ProbeFailure{Reason::internal, std::string("icmp: reply filter: ") + std::strerror(errno)};
  // Without stamps the echo falls back to user-space times, so a kernel that
  // refuses them costs accuracy, not the probe.
  const int stamping = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
                       SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_OPT_TSONLY;
  (void)::setsockopt(socket.fd_.get(), SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof(stamping));
  if (Status s = apply_binding(socket.fd_.get(), family, binding); !s.ok())
    return ProbeFailure{Reason::bind, s.error().message};
  return socket;
}

EchoSocket::Echo EchoSocket::echo(const SocketAddress& target, std::uint16_t seq, int payload_bytes,
                                  MonoTime deadline) {
  Echo echo;
  const std::vector<std::uint8_t> request =
      icmp_wire::echo_request(family_, id_, seq, cookie_, payload_bytes);
  const icmp_wire::Expected expected{family_, kind_ == Kind::raw && family_ == AF_INET,
                                     kind_ == Kind::raw ? std::optional(id_) : std::nullopt, seq,
                                     cookie_, payload_bytes};
  // Stamps older than this belong to earlier echoes on this socket.
  const Duration sent_user = realtime_now();
  const MonoTime sent_steady = Steady::now();
  if (::sendto(fd_.get(), request.data(), request.size(), 0, target.get(), target.length) < 0) {
    echo.send_errno = errno;
    return echo;
  }
  std::optional<Duration> sent_kernel;
  auto take_send_stamp = [&] {
    char control[256];
    for (int i = 0; i < 16; ++i) {  // bounded: one stamp per send, the rest are stale
      msghdr msg{};
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      if (::recvmsg(fd_.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) return;
      if (auto stamp = software_stamp(msg); stamp && *stamp >= sent_user) sent_kernel = stamp;
    }
  };
  take_send_stamp();

  for (;;) {
    const MonoTime now = Steady::now();
    if (now >= deadline) return echo;
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    timespec wait{static_cast<time_t>(left.count() / 1'000'000'000),
                  static_cast<long>(left.count() % 1'000'000'000)};
    pollfd p{fd_.get(), POLLIN, 0};
    const int ready = ::ppoll(&p, 1, &wait, nullptr);
    if (ready < 0 && errno != EINTR) return echo;
    if (ready <= 0) continue;
    if (p.revents & POLLERR) take_send_stamp();
    if (!(p.revents & POLLIN)) continue;
    for (;;) {
      sockaddr_storage from{};
      iovec io{buffer_.data(), buffer_.size()};
      char control[256];
      msghdr msg{};
      msg.msg_name = &from;
      msg.msg_namelen = sizeof(from);
      msg.msg_iov = &io;
      msg.msg_iovlen = 1;
      msg.msg_control = control;
      msg.msg_controllen = sizeof(control);
      const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
      if (n < 0) break;
      const Duration received_user = realtime_now();
      const MonoTime received_steady = Steady::now();
      if (!same_host(from, target) ||
          !icmp_wire::is_reply({buffer_.data(), static_cast<std::size_t>(n)}, expected)) {
        ++ignored_;
        continue;
      }
      const Duration user_rtt = received_steady - sent_steady;
      echo.rtt = user_rtt;
      if (!sent_kernel) take_send_stamp();
      // The kernel's interval lies inside the user-space one; anything else
      // means the wall clock stepped mid-echo, and the steady figure stands.
      if (auto received_kernel = software_stamp(msg)) {
        const Duration kernel_rtt = *received_kernel - sent_kernel.value_or(sent_user);
        if (kernel_rtt >= Duration::zero() && *received_kernel <= received_user &&
            kernel_rtt <= user_rtt + std::chrono::microseconds(50)) {
          echo.rtt = kernel_rtt;
          echo.kernel_stamped = true;
        }
      }
      return echo;
    }
  }
}

}  // namespace linewatch

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

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <random>
#include <span>

#include "probes/binding.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

int icmp_protocol(int family) {
  return family == AF_INET6 ? static_cast<int>(IPPROTO_ICMPV6) : static_cast<int>(IPPROTO_ICMP);
}

Duration since_epoch(const timespec& t) {
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

// Control-message space, aligned as the CMSG_* macros expect.
struct alignas(cmsghdr) Control {
  char bytes[512];
};

// The software stamp of a SCM_TIMESTAMPING control message, if `msg` has one.
std::optional<Duration> software_stamp(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPING) continue;
    if (c->cmsg_len < CMSG_LEN(sizeof(scm_timestamping))) continue;
    scm_timestamping stamps{};
    std::memcpy(&stamps, CMSG_DATA(c), sizeof(stamps));
    if (stamps.ts[0].tv_sec == 0 && stamps.ts[0].tv_nsec == 0) return std::nullopt;
    return since_epoch(stamps.ts[0]);
  }
  return std::nullopt;
}

// Drops whatever is queued on `fd` now (non-blocking reads until empty).
void discard_queued(int fd) {
  std::uint8_t scrap[256];
  for (int i = 0; i < 100000; ++i)  // bounded: a flood must not hold us here
    if (::recv(fd, scrap, sizeof(scrap), MSG_DONTWAIT) < 0) return;
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

namespace echo_io {

Duration realtime_now() {
  timespec t{};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return since_epoch(t);
}

// std::random_device may throw where no entropy source is available; a clock
// reading still keeps rounds apart, which is all a cookie is for.
std::uint64_t random_bits() {
  try {
    std::random_device random;
    return (static_cast<std::uint64_t>(random()) << 32) | random();
  } catch (const std::exception&) {
    return static_cast<std::uint64_t>(Steady::now().time_since_epoch().count()) *
           0x9e3779b97f4a7c15ull;
  }
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

void ensure_receive_buffer(int fd, std::size_t bytes) {
  bytes = std::min<std::size_t>(bytes, 64u << 20);
  int current = 0;
  socklen_t length = sizeof(current);
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &current, &length) != 0) return;
  if (static_cast<std::size_t>(current) >= bytes) return;
  const int value = static_cast<int>(bytes);
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) != 0)
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, sizeof(value));
}

namespace {

// Fills `news` (kind `other` so far) from one message taken from the error
// queue, `quoted` holding its first `n` bytes.
void parse_error(msghdr& msg, std::size_t n, const std::uint8_t* quoted, int family,
                 std::optional<std::uint16_t> our_id, ErrorNews& news) {
  std::optional<sock_extended_err> error;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    const bool ip_error = (c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                          (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR);
    if (!ip_error || c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
    error.emplace();
    std::memcpy(&*error, CMSG_DATA(c), sizeof(sock_extended_err));
  }
  if (!error) return;
  if (error->ee_origin == SO_EE_ORIGIN_TIMESTAMPING) {
    if (error->ee_info != SCM_TSTAMP_SND && error->ee_info != SCM_TSTAMP_SCHED) return;
    news.kind = ErrorNews::Kind::send_stamp;
    news.key = error->ee_data;
    news.at_queue = error->ee_info == SCM_TSTAMP_SCHED;
    news.stamp = software_stamp(msg);
  } else if (error->ee_origin == SO_EE_ORIGIN_ICMP || error->ee_origin == SO_EE_ORIGIN_ICMP6) {
    news.kind = ErrorNews::Kind::icmp_error;
    news.seq = icmp_wire::quoted_request_seq({quoted, n}, family, our_id);
    news.error = static_cast<int>(error->ee_errno);
  }
}

// The receive stamp and drop count of one datagram's control messages.
void parse_packet(msghdr& msg, Packet& packet) {
  packet.stamp = software_stamp(msg);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
    if (c->cmsg_len < CMSG_LEN(sizeof(std::uint32_t))) continue;
    std::uint32_t drops = 0;
    std::memcpy(&drops, CMSG_DATA(c), sizeof(drops));
    packet.drops = drops;
  }
}

// Bytes of an error-queue message kept: an ICMP error's quoted request
// header (the send stamps quote nothing: OPT_TSONLY).
constexpr std::size_t kQuoteBytes = 64;

}  // namespace

// The error queue holds two kinds of news: send stamps (numbered by
// datagram, thanks to OPT_ID) and, with IP_RECVERR, ICMP errors quoting the
// request they are about.
ErrorNews read_error(int fd, int family, std::optional<std::uint16_t> our_id) {
  ErrorNews news;
  const int n = read_errors(fd, family, our_id, {&news, 1});
  if (n <= 0) news = ErrorNews{};  // Kind::none
  return news;
}

int read_errors(int fd, int family, std::optional<std::uint16_t> our_id, std::span<ErrorNews> out) {
  const std::size_t count = std::min(out.size(), kMaxBatch);
  Control control[kMaxBatch];
  std::uint8_t quoted[kMaxBatch][kQuoteBytes];
  iovec io[kMaxBatch];
  mmsghdr messages[kMaxBatch];
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = ErrorNews{};
    io[i] = iovec{quoted[i], kQuoteBytes};
    messages[i] = mmsghdr{};
    msghdr& msg = messages[i].msg_hdr;
    msg.msg_name = &out[i].destination;
    msg.msg_namelen = sizeof(out[i].destination);
    msg.msg_iov = &io[i];
    msg.msg_iovlen = 1;
    msg.msg_control = control[i].bytes;
    msg.msg_controllen = sizeof(control[i].bytes);
  }
  const int got =
      ::recvmmsg(fd, messages, static_cast<unsigned>(count), MSG_ERRQUEUE | MSG_DONTWAIT, nullptr);
  if (got <= 0) return got;
  for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
    out[i].kind = ErrorNews::Kind::other;
    parse_error(messages[i].msg_hdr, std::min<std::size_t>(messages[i].msg_len, kQuoteBytes),
                quoted[i], family, our_id, out[i]);
  }
  return got;
}

std::optional<Packet> read_packet(int fd, std::span<std::uint8_t> buffer) {
  Packet packet;
  iovec io{buffer.data(), buffer.size()};
  Control control;
  msghdr msg{};
  msg.msg_name = &packet.from;
  msg.msg_namelen = sizeof(packet.from);
  msg.msg_iov = &io;
  msg.msg_iovlen = 1;
  msg.msg_control = control.bytes;
  msg.msg_controllen = sizeof(control.bytes);
  const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return std::nullopt;
  packet.bytes = std::min(static_cast<std::size_t>(n), buffer.size());
  parse_packet(msg, packet);
  return packet;
}

int read_packets(int fd, std::span<std::uint8_t> buffer, std::size_t slot, std::span<Packet> out) {
  const std::size_t count = std::min({out.size(), kMaxBatch, slot ? buffer.size() / slot : 0});
  Control control[kMaxBatch];
  iovec io[kMaxBatch];
  mmsghdr messages[kMaxBatch];
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = Packet{};
    io[i] = iovec{buffer.data() + i * slot, slot};
    messages[i] = mmsghdr{};
    msghdr& msg = messages[i].msg_hdr;
    msg.msg_name = &out[i].from;
    msg.msg_namelen = sizeof(out[i].from);
    msg.msg_iov = &io[i];
    msg.msg_iovlen = 1;
    msg.msg_control = control[i].bytes;
    msg.msg_controllen = sizeof(control[i].bytes);
  }
  const int got = ::recvmmsg(fd, messages, static_cast<unsigned>(count), MSG_DONTWAIT, nullptr);
  if (got <= 0) return got;
  for (std::size_t i = 0; i < static_cast<std::size_t>(got); ++i) {
    out[i].bytes = std::min<std::size_t>(messages[i].msg_len, slot);
    parse_packet(messages[i].msg_hdr, out[i]);
  }
  return got;
}

}  // namespace echo_io

using echo_io::random_bits;
using echo_io::realtime_now;

EchoSocket::EchoSocket(Fd fd, int family, Kind kind)
    : fd_(std::move(fd)), family_(family), kind_(kind) {
  id_ = static_cast<std::uint16_t>(random_bits());
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
  if (opened == Kind::raw) {
    if (!attach_reply_filter(socket.fd_.get(), family, socket.id_))
      return ProbeFailure{Reason::internal,
                          std::string("icmp: reply filter: ") + std::strerror(errno)};
    // What arrived between socket() and the filter is anybody's ICMP.
    discard_queued(socket.fd_.get());
  }
  // Without stamps the echo falls back to user-space times, so a kernel that
  // refuses them costs accuracy, not the probe. The send stamp is wanted
  // where the packet enters the device's queue (TX_SCHED), the driver's
  // (TX_SOFTWARE) being the fallback; OPT_ID numbers the stamps by datagram
  // so overlapping echoes each find their own.
  const int stamping = SOF_TIMESTAMPING_SOFTWARE | SOF_TIMESTAMPING_RX_SOFTWARE |
                       SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_TX_SCHED |
                       SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_ID;
  (void)::setsockopt(socket.fd_.get(), SOL_SOCKET, SO_TIMESTAMPING, &stamping, sizeof(stamping));
  // ICMP errors about our requests come back on the error queue, quoting the
  // request, so an unreachable ends its echo at once.
  const int on = 1;
  if (family == AF_INET6)
    (void)::setsockopt(socket.fd_.get(), SOL_IPV6, IPV6_RECVERR, &on, sizeof(on));
  else
    (void)::setsockopt(socket.fd_.get(), SOL_IP, IP_RECVERR, &on, sizeof(on));
  if (Status s = apply_binding(socket.fd_.get(), family, binding); !s.ok())
    return ProbeFailure{Reason::bind, s.error().message};
  return socket;
}

// One request of a round, from its send to its reply or deadline.
struct EchoSocket::Pending {
  std::uint16_t seq = 0;
  bool sent = false;
  bool done = false;
  std::uint32_t send_key = 0;  // which datagram on this socket: matches a send stamp
  Duration sent_user{};        // wall clock just before sendto()
  MonoTime sent_steady{};
  MonoTime deadline{};
  std::optional<Duration> sent_kernel;
  bool sent_kernel_at_queue = false;  // sent_kernel is the TX_SCHED stamp
  Echo result;
};

void EchoSocket::take_errors(std::vector<Pending>& pending) {
  for (;;) {
    const echo_io::ErrorNews news = echo_io::read_error(fd_.get(), family_, reply_id());
    if (news.kind == echo_io::ErrorNews::Kind::none) return;
    if (news.kind == echo_io::ErrorNews::Kind::send_stamp) {
      if (!news.stamp || !keys_trusted_) continue;
      for (Pending& p : pending) {
        if (!p.sent || p.send_key != news.key || *news.stamp < p.sent_user) continue;
        if (p.sent_kernel_at_queue && !news.at_queue) continue;  // keep the earlier stamp
        p.sent_kernel = news.stamp;
        p.sent_kernel_at_queue = news.at_queue;
      }
    } else if (news.kind == echo_io::ErrorNews::Kind::icmp_error) {
      for (Pending& p : pending) {
        if (!news.seq || !p.sent || p.done || p.seq != *news.seq) continue;
        p.done = true;
        p.result.icmp_errno = news.error;
      }
    }
  }
}

void EchoSocket::take_replies(const SocketAddress& target, const Plan& plan,
                              std::vector<Pending>& pending) {
  icmp_wire::Expected expected{family_, replies_have_ip_header(), reply_id(), 0,
                               cookie_, plan.payload_bytes};
  for (;;) {
    const std::optional<echo_io::Packet> read = echo_io::read_packet(fd_.get(), buffer_);
    if (!read) return;
    const Duration received_user = realtime_now();
    const MonoTime received_steady = Steady::now();
    const std::optional<Duration> received_kernel = read->stamp;
    const std::span<const std::uint8_t> packet{buffer_.data(), read->bytes};
    Pending* match = nullptr;
    if (echo_io::same_host(read->from, target)) {
      for (Pending& p : pending) {
        if (!p.sent || p.done) continue;
        expected.seq = p.seq;
        if (icmp_wire::is_reply(packet, expected)) match = &p;
      }
    }
    // In time by the kernel's clock when it stamped the reply: a reply that
    // arrived before its deadline is not lost because this thread was slow.
    if (match != nullptr) {
      const bool in_time = received_kernel ? *received_kernel - match->sent_user <= plan.timeout
                                           : received_steady <= match->deadline;
      if (!in_time) match = nullptr;
    }
    if (match == nullptr) {
      ++ignored_;
      continue;
    }
    Pending& p = *match;
    p.done = true;
    const Duration user_rtt = received_steady - p.sent_steady;
    p.result.rtt = user_rtt;
    if (!p.sent_kernel) take_errors(pending);
    // The kernel's interval lies inside the user-space one; anything else
    // means the wall clock stepped mid-echo, and the steady figure stands.
    const Duration end = received_kernel.value_or(received_user);
    const Duration begin = p.sent_kernel.value_or(p.sent_user);
    const Duration kernel_rtt = end - begin;
    if ((received_kernel || p.sent_kernel) && kernel_rtt >= Duration::zero() &&
        end <= received_user && kernel_rtt <= user_rtt + std::chrono::microseconds(50)) {
      p.result.rtt = kernel_rtt;
      p.result.receive_stamped = received_kernel.has_value();
      p.result.send_stamped = p.sent_kernel.has_value();
    }
  }
}

// Sized so a burst of large replies (spacing 0, payload up to 65000) is not
// dropped by the socket before this thread reads it. Raising the limit above
// net.core.rmem_max needs CAP_NET_ADMIN; without it the kernel's cap stands.
void EchoSocket::size_receive_buffer(const Plan& plan) {
  constexpr std::size_t kPerReply = 1024;  // kernel bookkeeping per queued packet
  const std::size_t replies = static_cast<std::size_t>(std::clamp(plan.count, 1, 1000));
  echo_io::ensure_receive_buffer(
      fd_.get(), replies * (static_cast<std::size_t>(std::max(plan.payload_bytes, 0)) + kPerReply));
}

std::vector<EchoSocket::Echo> EchoSocket::round(const SocketAddress& target, const Plan& plan) {
  std::vector<Pending> pending(static_cast<std::size_t>(std::max(plan.count, 0)));
  buffer_.resize(static_cast<std::size_t>(std::max(plan.payload_bytes, 0)) + echo_io::kReplySlack);
  const std::uint64_t bits = random_bits();
  std::memcpy(cookie_.data(), &bits, cookie_.size());
  size_receive_buffer(plan);
  const MonoTime start = Steady::now();
  std::size_t next = 0;  // the next request to send
  for (;;) {
    MonoTime now = Steady::now();
    if (next < pending.size() && now >= start + plan.spacing * static_cast<long>(next)) {
      Pending& p = pending[next];
      p.seq = static_cast<std::uint16_t>(plan.first_seq + next);
      const std::vector<std::uint8_t> request =
          icmp_wire::echo_request(family_, id_, p.seq, cookie_, plan.payload_bytes);
      p.sent_user = realtime_now();
      p.sent_steady = Steady::now();
      p.deadline = p.sent_steady + plan.timeout;
      ++next;
      if (::sendto(fd_.get(), request.data(), request.size(), 0, target.get(), target.length) < 0) {
        p.result.send_errno = errno;
        p.done = true;
        keys_trusted_ = false;
        continue;
      }
      p.sent = true;
      p.send_key = sends_++;
      take_errors(pending);
      continue;
    }
    // A reply may be queued already when its deadline comes; read before
    // calling anything lost.
    bool expiring = false;
    for (const Pending& p : pending) expiring |= p.sent && !p.done && now >= p.deadline;
    if (expiring) take_replies(target, plan, pending);
    // Next wake-up: the next send or the earliest deadline still open.
    std::optional<MonoTime> wake;
    if (next < pending.size()) wake = start + plan.spacing * static_cast<long>(next);
    for (Pending& p : pending) {
      if (!p.sent || p.done) continue;
      if (now >= p.deadline) {
        p.done = true;  // lost: a reply after this is late and ignored
        continue;
      }
      if (!wake || p.deadline < *wake) wake = p.deadline;
    }
    if (!wake) break;
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(*wake - now);
    timespec wait{static_cast<time_t>(left.count() / 1'000'000'000),
                  static_cast<long>(left.count() % 1'000'000'000)};
    pollfd p{fd_.get(), POLLIN, 0};
    if (::ppoll(&p, 1, &wait, nullptr) <= 0) continue;  // timeout or EINTR: re-plan
    if (p.revents & POLLERR) {
      take_errors(pending);
      // A hard ICMP error also sets the socket's pending error, which poll
      // reports until it is read; the queued copy above already told us.
      int error = 0;
      socklen_t length = sizeof(error);
      (void)::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    }
    if (p.revents & POLLIN) take_replies(target, plan, pending);
  }
  std::vector<Echo> echoes;
  echoes.reserve(pending.size());
  for (const Pending& p : pending) echoes.push_back(p.result);
  return echoes;
}

EchoSocket::Echo EchoSocket::echo(const SocketAddress& target, std::uint16_t seq, int payload_bytes,
                                  MonoTime deadline) {
  const Duration timeout = std::max(Duration::zero(), Duration(deadline - Steady::now()));
  return round(target, Plan{1, Duration::zero(), timeout, payload_bytes, seq}).front();
}

}  // namespace linewatch

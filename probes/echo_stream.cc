#include "probes/echo_stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

// Reads per drain() and per queue: a flood must not hold the loop. What is
// left keeps the descriptor ready, so the next iteration goes on.
constexpr int kMaxReads = 1024;
// The kernel's interval lies inside the user-space one; a little slack for
// the two clocks being read a few instructions apart.
constexpr Duration kClockSlack = std::chrono::microseconds(50);
// Kernel bookkeeping per queued packet, for sizing the receive buffer.
constexpr std::size_t kPerPacket = 1024;

// The sequence number of the echo reply in `packet`, read from its header
// (behind the IPv4 header when `ip_header`); is_reply() checks the rest.
std::optional<std::uint16_t> wire_seq(std::span<const std::uint8_t> packet, bool ip_header) {
  std::size_t offset = 0;
  if (ip_header) {
    if (packet.empty()) return std::nullopt;
    offset = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  }
  if (packet.size() < offset + icmp_wire::kHeaderBytes) return std::nullopt;
  return static_cast<std::uint16_t>((packet[offset + 6] << 8) | packet[offset + 7]);
}

}  // namespace

Outcome<EchoStream> EchoStream::open(int family, const LineBinding& binding,
                                     std::vector<SocketAddress> reflectors,
                                     const Options& options) {
  if (reflectors.empty()) return ProbeFailure{Reason::internal, "icmp stream: no reflector"};
  for (const SocketAddress& r : reflectors) {
    if (r.family() != family)
      return ProbeFailure{Reason::internal, "icmp stream: reflector " + r.host() + " is not " +
                                                (family == AF_INET6 ? "IPv6" : "IPv4")};
  }
  Outcome<EchoSocket> socket = EchoSocket::open(family, binding, options.kind);
  if (!socket.ok()) return socket.failure();
  return EchoStream(std::move(socket.value()), std::move(reflectors), options);
}

EchoStream::EchoStream(EchoSocket socket, std::vector<SocketAddress> reflectors,
                       const Options& options)
    : socket_(std::move(socket)), options_(options) {
  for (SocketAddress& address : reflectors)
    reflectors_.push_back(Reflector{std::move(address), options.first_seq});
  const std::uint64_t bits = echo_io::random_bits();
  std::memcpy(cookie_.data(), &bits, cookie_.size());
  const std::size_t payload = static_cast<std::size_t>(std::max(options.payload_bytes, 0));
  buffer_.resize(payload + echo_io::kReplySlack);
  echo_io::ensure_receive_buffer(socket_.fd(), options.queued_replies * (payload + kPerPacket));
}

EchoStream::Sent EchoStream::send(std::size_t reflector) {
  Reflector& r = reflectors_[reflector];
  const std::vector<std::uint8_t> request = icmp_wire::echo_request(
      socket_.family(), socket_.id(), static_cast<std::uint16_t>(r.next_seq), cookie_,
      options_.payload_bytes);
  Sent sent{r.next_seq++, Steady::now(), 0};
  forget(sent.at);
  const Duration before = echo_io::realtime_now();
  if (::sendto(socket_.fd(), request.data(), request.size(), 0, r.address.get(), r.address.length) <
      0) {
    sent.error = errno;
    ++stats_.send_errors;
    return sent;
  }
  const Duration after = echo_io::realtime_now();
  flights_.push_back(
      Flight{reflector, sent.seq, next_key_++, before, after, sent.at, {}, false, false});
  ++stats_.sent;
  return sent;
}

void EchoStream::drain(const Report& report) {
  forget(Steady::now());
  const bool errors = take_errors(report);
  const bool replies = take_replies(report);
  // Nothing read: the wake-up came from a pending socket error alone (a
  // hard ICMP error sets one); reading it keeps epoll from reporting it again.
  if (!errors && !replies) {
    int error = 0;
    socklen_t length = sizeof(error);
    (void)::getsockopt(socket_.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
  }
}

// Returns whether anything was read.
bool EchoStream::take_errors(const Report& report) {
  for (int i = 0; i < kMaxReads; ++i) {
    const echo_io::ErrorNews news =
        echo_io::read_error(socket_.fd(), socket_.family(), socket_.reply_id());
    switch (news.kind) {
      case echo_io::ErrorNews::Kind::none:
        return i > 0;
      case echo_io::ErrorNews::Kind::send_stamp:
        on_stamp(news);
        break;
      case echo_io::ErrorNews::Kind::icmp_error:
        on_icmp_error(news, report);
        break;
      case echo_io::ErrorNews::Kind::other:
        break;
    }
  }
  return true;
}

void EchoStream::on_stamp(const echo_io::ErrorNews& news) {
  if (!news.stamp) return;
  const Duration stamp = *news.stamp;
  Flight* flight = nullptr;
  for (auto it = flights_.rbegin(); it != flights_.rend() && flight == nullptr; ++it)
    if (it->key == news.key) flight = &*it;
  // A stamp cannot precede its send: if it does, the keys slipped.
  if ((flight == nullptr || stamp < flight->before) && news.at_queue) {
    // A queue stamp is taken inside sendto(), so its send is the one whose
    // call spans it; from there on the kernel's keys are ours plus delta.
    flight = nullptr;
    auto it = std::find_if(flights_.begin(), flights_.end(),
                           [&](const Flight& f) { return f.before <= stamp && stamp <= f.after; });
    if (it != flights_.end()) {
      const std::uint32_t delta = news.key - it->key;
      for (auto later = it; later != flights_.end(); ++later) later->key += delta;
      next_key_ += delta;
      ++stats_.key_resyncs;
      flight = &*it;
    }
  }
  if (flight == nullptr || stamp < flight->before) return;
  if (flight->at_queue && !news.at_queue) return;  // keep the earlier stamp
  flight->sent_kernel = stamp;
  flight->at_queue = news.at_queue;
}

void EchoStream::on_icmp_error(const echo_io::ErrorNews& news, const Report& report) {
  const std::optional<std::size_t> reflector = reflector_of(news.destination);
  if (!news.seq || !reflector) return;
  Flight* flight = find(*reflector, *news.seq);
  if (flight == nullptr || flight->done) return;
  flight->done = true;
  ++stats_.icmp_errors;
  Answer answer;
  answer.kind = Answer::Kind::icmp_error;
  answer.reflector = flight->reflector;
  answer.seq = flight->seq;
  answer.sent = flight->sent;
  answer.error = news.error;
  report(answer);
}

// Returns whether anything was read.
bool EchoStream::take_replies(const Report& report) {
  icmp_wire::Expected expected{
      socket_.family(),      socket_.replies_have_ip_header(), socket_.reply_id(), 0, cookie_,
      options_.payload_bytes};
  for (int i = 0; i < kMaxReads; ++i) {
    const std::optional<echo_io::Packet> packet = echo_io::read_packet(socket_.fd(), buffer_);
    if (!packet) return i > 0;
    const Duration read_real = echo_io::realtime_now();
    const MonoTime read_mono = Steady::now();
    const std::span<const std::uint8_t> bytes{buffer_.data(), packet->bytes};
    const std::optional<std::size_t> reflector = reflector_of(packet->from);
    const std::optional<std::uint16_t> seq = wire_seq(bytes, expected.ip_header);
    Flight* flight = reflector && seq ? find(*reflector, *seq) : nullptr;
    if (flight != nullptr) expected.seq = *seq;
    if (flight == nullptr || flight->done || !icmp_wire::is_reply(bytes, expected)) {
      ++stats_.ignored;
      continue;
    }
    // The send stamp may have been queued after the error queue was read.
    if (!flight->sent_kernel) take_errors(report);
    const Answer answer = answer_reply(*flight, *packet, read_real, read_mono);
    ++stats_.replies;
    if (answer.late) ++stats_.late;
    report(answer);
  }
  return true;
}

EchoStream::Answer EchoStream::answer_reply(Flight& flight, const echo_io::Packet& packet,
                                            Duration read_real, MonoTime read_mono) {
  flight.done = true;
  Answer answer;
  answer.reflector = flight.reflector;
  answer.seq = flight.seq;
  answer.sent = flight.sent;
  const Duration user_rtt = read_mono - flight.sent;
  // The kernel's interval lies inside the user-space one; anything else
  // means the wall clock stepped mid-echo, and the steady figures stand.
  const Duration end = packet.stamp.value_or(read_real);
  const Duration begin = flight.sent_kernel.value_or(flight.before);
  const Duration kernel_rtt = end - begin;
  const bool kernel = (packet.stamp || flight.sent_kernel) && kernel_rtt >= Duration::zero() &&
                      end <= read_real && kernel_rtt <= user_rtt + kClockSlack;
  answer.rtt = kernel ? kernel_rtt : user_rtt;
  answer.send_stamped = kernel && flight.sent_kernel.has_value();
  answer.receive_stamped = kernel && packet.stamp.has_value();
  // The receive stamp moved onto the steady clock by the two clocks' offset
  // at the read (a slew of at most 0.05 % in between is immaterial).
  answer.received =
      answer.receive_stamped ? read_mono - Duration(read_real - *packet.stamp) : read_mono;
  answer.received = std::clamp(answer.received, flight.sent, read_mono);
  answer.late = answer.rtt > options_.late_after;
  return answer;
}

// The newest remembered echo to `reflector` whose sequence number ends in
// `wire_seq`, or nullptr.
EchoStream::Flight* EchoStream::find(std::size_t reflector, std::uint16_t wire_seq) {
  const Reflector& r = reflectors_[reflector];
  if (r.next_seq == options_.first_seq) return nullptr;  // nothing sent yet
  const std::uint64_t last = r.next_seq - 1;
  const std::uint64_t back =
      static_cast<std::uint16_t>(static_cast<std::uint16_t>(last) - wire_seq);
  if (back > last - options_.first_seq) return nullptr;  // before the first echo
  const std::uint64_t seq = last - back;
  for (auto it = flights_.rbegin(); it != flights_.rend(); ++it) {
    if (it->reflector != reflector) continue;
    if (it->seq == seq) return &*it;
    if (it->seq < seq) return nullptr;  // per reflector, flights are in seq order
  }
  return nullptr;
}

std::optional<std::size_t> EchoStream::reflector_of(const sockaddr_storage& address) const {
  for (std::size_t i = 0; i < reflectors_.size(); ++i)
    if (echo_io::same_host(address, reflectors_[i].address)) return i;
  return std::nullopt;
}

void EchoStream::forget(MonoTime now) {
  while (!flights_.empty()) {
    const Flight& front = flights_.front();
    if (!front.done && now - front.sent < options_.remember) return;
    if (!front.done) ++stats_.forgotten;
    flights_.pop_front();
  }
}

}  // namespace linewatch

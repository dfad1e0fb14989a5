// RoundEngine's ICMP rounds on shared echo sockets (see round_engine.h).
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <span>

#include "probes/round_engine_state.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

// Reads per wake-up and per queue: a flood must not hold the loop; what is
// left keeps the descriptor ready.
constexpr std::size_t kMaxReads = 1024;
// Sends remembered for matching their stamps; a stamp comes within the send
// call (queue stamp) or soon after (driver stamp).
constexpr std::size_t kMaxSends = 4096;
// The kernel's interval lies inside the user-space one; slack for the two
// clocks being read a few instructions apart (as EchoSocket).
constexpr Duration kClockSlack = std::chrono::microseconds(50);
// Room for one datagram of a batched read. A reply is known by its headers
// and cookie (icmp_wire::is_reply), which kReplySlack covers behind the
// largest IPv4 header; the rest of a long payload is cut off by the kernel.
constexpr std::size_t kSlotBytes = 256;
static_assert(kSlotBytes >= echo_io::kReplySlack);
constexpr std::size_t kBufferBytes = kSlotBytes * echo_io::kMaxBatch;
// The smallest batch a read sets up (see batch_for).
constexpr std::size_t kMinBatch = 4;

std::optional<std::uint16_t> wire_seq(std::span<const std::uint8_t> packet, bool ip_header) {
  std::size_t offset = 0;
  if (ip_header) {
    if (packet.empty()) return std::nullopt;
    offset = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  }
  if (packet.size() < offset + icmp_wire::kHeaderBytes) return std::nullopt;
  return static_cast<std::uint16_t>((packet[offset + 6] << 8) | packet[offset + 7]);
}

// A free sequence number on `channel`: one no echo in flight holds.
std::optional<std::uint16_t> take_seq(EchoChannel& channel) {
  for (int i = 0; i < 65536; ++i) {
    const std::uint16_t seq = channel.next_seq++;
    if (channel.pending.count(seq) == 0) return seq;
  }
  return std::nullopt;
}

}  // namespace

namespace {

// The round's echoes summed up as run_icmp() does (icmp.cc).
ProbeResult icmp_result(const IcmpRound& round) {
  ProbeResult r;
  r.kind = ProbeKind::icmp;
  int send_errno = 0;
  int icmp_errno = 0;
  for (const RoundEcho& echo : round.echoes) {
    if (echo.result.send_errno != 0) send_errno = echo.result.send_errno;
    if (echo.result.icmp_errno != 0) icmp_errno = echo.result.icmp_errno;
    r.rtts.push_back(echo.result.rtt);
  }
  summarise_echoes(r);
  r.ok = r.received > 0;
  const auto host = [&round] { return round.target.host(); };  // text only for a failure
  if (r.ok) {
    r.reason = Reason::ok;
  } else if (send_errno != 0) {
    r.reason = reason_for_errno(send_errno);
    r.detail = "echo request to " + host() + ": " + std::strerror(send_errno);
  } else if (icmp_errno != 0) {
    r.reason = reason_for_errno(icmp_errno);
    r.detail = "no reply from " + host() + ": " + std::strerror(icmp_errno) + " (ICMP error)";
  } else {
    r.reason = Reason::timeout;
    r.detail = "no reply from " + host() + " to " + std::to_string(r.sent) + " echo requests";
  }
  return r;
}

}  // namespace

void RoundEngine::State::start_icmp(RoundCommon common, SocketAddress target) {
  if (stopped) return;
  const MonoTime now = Steady::now();
  record_lag(now, now - common.submitted);
  const ProbeSpec& spec = common.request.spec;
  const auto key = std::make_pair(common.request.line.id, target.family());
  auto found = channels.find(key);
  if (found == channels.end()) {
    auto socket = EchoSocket::open(target.family(), common.request.line.binding, options.kind);
    if (!socket.ok()) {
      ProbeResult r;
      r.kind = ProbeKind::icmp;
      finish(common, failed(std::move(r), socket.failure()));
      return;
    }
    auto channel = std::make_unique<EchoChannel>(std::move(socket.value()));
    channel->buffer.resize(kBufferBytes);
    channel->next_seq = static_cast<std::uint16_t>(random.next());
    const int fd = channel->socket.fd();
    const int on = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
    if (options.force_receive_buffer) {
      const int bytes = static_cast<int>(options.receive_buffer_bytes);
      (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    } else {
      echo_io::ensure_receive_buffer(fd, options.receive_buffer_bytes);
    }
    EchoChannel* raw = channel.get();
    if (Status s = loop.watch(fd, [this, raw] { read_channel(*raw, loop.ready_events()); });
        !s.ok()) {
      ProbeResult r;
      r.kind = ProbeKind::icmp;
      finish(common, failed(std::move(r), ProbeFailure{Reason::internal, s.error().message}));
      return;
    }
    found = channels.emplace(key, std::move(channel)).first;
    ++stats.icmp_sockets;
  }
  const std::uint64_t id = common.id;
  auto round = std::make_unique<IcmpRound>(std::move(common));
  round->target = target;
  round->channel = found->second.get();
  const std::uint64_t bits = random.next();
  std::memcpy(round->cookie.data(), &bits, round->cookie.size());
  round->echoes.resize(static_cast<std::size_t>(std::max(spec.icmp.pings, 0)));
  round->start = now;
  round->due = now;
  IcmpRound* raw = round.get();
  icmp.emplace(id, std::move(round));
  const std::optional<Duration> next = step_icmp(id, now);
  if (next && icmp.count(id) != 0) {
    raw->due = now + *next;
    raw->timer = loop.add_timer(raw->due, [this, id](MonoTime t) { return step_icmp(id, t); });
  }
}

namespace {

// Sends echo `index` of `round`; returns false when sendto() refused it.
bool send_echo(IcmpRound& round, std::size_t index, EngineCounters& stats) {
  EchoChannel& channel = *round.channel;
  RoundEcho& echo = round.echoes[index];
  const ProbeSpec& spec = round.common.request.spec;
  const std::optional<std::uint16_t> seq = take_seq(channel);
  echo.sent_steady = Steady::now();
  echo.deadline = echo.sent_steady + spec.timing.timeout;
  if (!seq) {  // 65,536 echoes in flight on one socket
    echo.result.send_errno = EBUSY;
    echo.done = true;
    ++stats.send_errors;
    return false;
  }
  echo.seq = *seq;
  const EchoSocket& socket = channel.socket;
  const std::vector<std::uint8_t> request = icmp_wire::echo_request(
      socket.family(), socket.id(), echo.seq, round.cookie, spec.icmp.payload_bytes);
  echo.sent_user = echo_io::realtime_now();
  echo.sent_steady = Steady::now();
  echo.deadline = echo.sent_steady + spec.timing.timeout;
  if (::sendto(socket.fd(), request.data(), request.size(), 0, round.target.get(),
               round.target.length) < 0) {
    echo.result.send_errno = errno;
    echo.done = true;
    ++stats.send_errors;
    return false;
  }
  const Duration after = echo_io::realtime_now();
  echo.sent = true;
  const EchoRef ref{round.common.id, static_cast<std::uint32_t>(index)};
  channel.pending[echo.seq] = ref;
  channel.expired.erase(echo.seq);
  channel.sends.push_back(EchoChannel::Send{channel.next_key++, echo.sent_user, after, ref});
  if (channel.sends.size() > kMaxSends) channel.sends.pop_front();
  ++stats.echoes_sent;
  return true;
}

}  // namespace

// Runs round `id` at `now`: sends what is due, ends echoes past their
// deadline (after reading what the kernel queued: a reply received in time
// is not lost because the loop was late), and finishes the round when
// nothing is left. Returns the delay to its next step, or nullopt when done.
std::optional<Duration> RoundEngine::State::step_icmp(std::uint64_t id, MonoTime now) {
  const auto found = icmp.find(id);
  if (found == icmp.end()) return std::nullopt;
  IcmpRound& round = *found->second;
  if (round.timer) record_lag(now, now - round.due);
  const ProbeSpec& spec = round.common.request.spec;
  EchoChannel& channel = *round.channel;
  while (round.next < round.echoes.size() &&
         now >= round.start + spec.icmp.spacing * static_cast<long>(round.next)) {
    // Its send stamp is read with the reply: the error queue makes the
    // socket ready, and read_channel takes stamps before replies. Reading
    // it here cost two more system calls per echo.
    send_echo(round, round.next, stats);
    ++round.next;
  }
  bool expiring = false;
  for (const RoundEcho& e : round.echoes) expiring |= e.sent && !e.done && now >= e.deadline;
  if (expiring) read_channel(channel);
  std::optional<MonoTime> wake;
  if (round.next < round.echoes.size())
    wake = round.start + spec.icmp.spacing * static_cast<long>(round.next);
  for (RoundEcho& e : round.echoes) {
    if (!e.sent || e.done) continue;
    if (now >= e.deadline) {
      e.done = true;  // lost: a reply after this is late
      channel.pending.erase(e.seq);
      const MonoTime until = now + options.remember;
      channel.expired[e.seq] =
          EchoChannel::Expired{round.cookie, spec.icmp.payload_bytes, round.target, until};
      channel.expiry_order.emplace_back(until, e.seq);
      continue;
    }
    if (!wake || e.deadline < *wake) wake = e.deadline;
  }
  if (wake) {
    round.due = std::max(*wake, now);
    return round.due - now;
  }
  std::unique_ptr<IcmpRound> done = std::move(found->second);
  icmp.erase(found);
  finish(done->common, icmp_result(*done));
  return std::nullopt;
}

namespace {

struct ReadContext {
  RoundEngine::State& state;
  EchoChannel& channel;
};

IcmpRound* round_of(std::unordered_map<std::uint64_t, std::unique_ptr<IcmpRound>>& rounds,
                    const EchoRef& ref) {
  const auto it = rounds.find(ref.round);
  return it == rounds.end() ? nullptr : it->second.get();
}

void on_stamp(ReadContext& c, const echo_io::ErrorNews& news) {
  if (!news.stamp) return;
  const Duration stamp = *news.stamp;
  auto& sends = c.channel.sends;
  auto it = std::find_if(sends.rbegin(), sends.rend(),
                         [&](const EchoChannel::Send& s) { return s.key == news.key; });
  EchoChannel::Send* send = it == sends.rend() ? nullptr : &*it;
  // A stamp cannot precede its send: if it does, a failed send used up a
  // key. A queue stamp is taken inside sendto(), so its send is the one
  // whose call spans it; from there on the keys are ours plus the slip (as
  // EchoStream re-learns them).
  if ((send == nullptr || stamp < send->before) && news.at_queue) {
    send = nullptr;
    auto spans = std::find_if(sends.begin(), sends.end(), [&](const EchoChannel::Send& s) {
      return s.before <= stamp && stamp <= s.after;
    });
    if (spans != sends.end()) {
      const std::uint32_t delta = news.key - spans->key;
      for (auto later = spans; later != sends.end(); ++later) later->key += delta;
      c.channel.next_key += delta;
      send = &*spans;
    }
  }
  if (send == nullptr || stamp < send->before) return;
  IcmpRound* round = round_of(c.state.icmp, send->echo);
  if (round == nullptr) return;
  RoundEcho& echo = round->echoes[send->echo.index];
  if (echo.at_queue && !news.at_queue) return;  // keep the earlier stamp
  echo.sent_kernel = stamp;
  echo.at_queue = news.at_queue;
}

void on_icmp_error(ReadContext& c, const echo_io::ErrorNews& news) {
  if (!news.seq) return;
  const auto it = c.channel.pending.find(*news.seq);
  if (it == c.channel.pending.end()) return;
  IcmpRound* round = round_of(c.state.icmp, it->second);
  if (round == nullptr || !echo_io::same_host(news.destination, round->target)) return;
  RoundEcho& echo = round->echoes[it->second.index];
  echo.done = true;
  echo.result.icmp_errno = news.error;
  c.channel.pending.erase(it);
  if (round->timer) c.state.loop.reschedule(*round->timer, Steady::now());
}

// The first batch size of the next wake-up's reads, after this one took
// `taken` messages: room for as many. A batch is set up in full before the
// call (a message header and a zeroed result per slot, a few hundred bytes
// each), and at a few echoes per wake-up 32 slots cost more than the
// messages read. Within a wake-up a full batch doubles the next one.
std::size_t batch_for(std::size_t taken) {
  return std::clamp(std::bit_ceil(std::max<std::size_t>(taken, 1)), kMinBatch, echo_io::kMaxBatch);
}

// Returns whether anything was read. Batched (recvmmsg): the send stamps of
// a wake-up's echoes, usually all of them, come in one system call.
bool take_errors(ReadContext& c) {
  EchoChannel& channel = c.channel;
  const EchoSocket& socket = channel.socket;
  std::array<echo_io::ErrorNews, echo_io::kMaxBatch> batch;
  std::size_t size = channel.error_batch;
  bool read = false;
  std::size_t taken = 0;
  while (taken < kMaxReads) {
    const int n = echo_io::read_errors(socket.fd(), socket.family(), socket.reply_id(),
                                       std::span(batch).first(size));
    if (n <= 0) break;
    read = true;
    taken += static_cast<std::size_t>(n);
    for (int i = 0; i < n; ++i) {
      const echo_io::ErrorNews& news = batch[static_cast<std::size_t>(i)];
      if (news.kind == echo_io::ErrorNews::Kind::send_stamp) on_stamp(c, news);
      if (news.kind == echo_io::ErrorNews::Kind::icmp_error) on_icmp_error(c, news);
    }
    if (static_cast<std::size_t>(n) < size) break;  // the queue is empty
    size = std::min(size * 2, echo_io::kMaxBatch);
  }
  if (read) channel.error_batch = batch_for(taken);
  return read;
}

// Credits `packet` to its echo, as EchoSocket::take_replies does.
void credit(ReadContext& c, IcmpRound& round, RoundEcho& echo, const echo_io::Packet& packet) {
  const Duration received_user = echo_io::realtime_now();
  const MonoTime received_steady = Steady::now();
  const Duration timeout = round.common.request.spec.timing.timeout;
  // In time by the kernel's clock when it stamped the reply.
  const bool in_time =
      packet.stamp ? *packet.stamp - echo.sent_user <= timeout : received_steady <= echo.deadline;
  if (!in_time) {
    ++c.state.stats.late_replies;
    return;  // the echo ends at its deadline, lost
  }
  if (!echo.sent_kernel) take_errors(c);
  echo.done = true;
  c.channel.pending.erase(echo.seq);
  ++c.state.stats.replies;
  const Duration user_rtt = received_steady - echo.sent_steady;
  echo.result.rtt = user_rtt;
  const Duration end = packet.stamp.value_or(received_user);
  const Duration begin = echo.sent_kernel.value_or(echo.sent_user);
  const Duration kernel_rtt = end - begin;
  if ((packet.stamp || echo.sent_kernel) && kernel_rtt >= Duration::zero() &&
      end <= received_user && kernel_rtt <= user_rtt + kClockSlack) {
    echo.result.rtt = kernel_rtt;
    echo.result.receive_stamped = packet.stamp.has_value();
    echo.result.send_stamped = echo.sent_kernel.has_value();
    if (echo.result.send_stamped) ++c.state.stats.send_stamped;
    if (echo.result.receive_stamped) ++c.state.stats.receive_stamped;
  }
  if (round.timer && round.next == round.echoes.size() &&
      std::all_of(round.echoes.begin(), round.echoes.end(),
                  [](const RoundEcho& e) { return e.done; }))
    c.state.loop.reschedule(*round.timer, received_steady);  // finish it now
}

// One packet read from the channel: a reply to an echo in flight, a late
// one, or a stranger.
void on_packet(ReadContext& c, const echo_io::Packet& packet, std::span<const std::uint8_t> bytes) {
  EchoChannel& channel = c.channel;
  const EchoSocket& socket = channel.socket;
  if (packet.drops) {
    const std::uint32_t before = channel.drops_seen.value_or(0);
    c.state.stats.overflow_drops += static_cast<std::uint32_t>(*packet.drops - before);
    channel.drops_seen = packet.drops;
  }
  const std::optional<std::uint16_t> seq = wire_seq(bytes, socket.replies_have_ip_header());
  if (!seq) {
    ++c.state.stats.ignored;
    return;
  }
  icmp_wire::Expected expected{
      socket.family(), socket.replies_have_ip_header(), socket.reply_id(), *seq, {}, 0};
  if (const auto p = channel.pending.find(*seq); p != channel.pending.end()) {
    IcmpRound* round = round_of(c.state.icmp, p->second);
    if (round != nullptr && echo_io::same_host(packet.from, round->target)) {
      expected.cookie = round->cookie;
      expected.payload_bytes = round->common.request.spec.icmp.payload_bytes;
      if (icmp_wire::is_reply(bytes, expected)) {
        credit(c, *round, round->echoes[p->second.index], packet);
        return;
      }
    }
  } else if (const auto e = channel.expired.find(*seq); e != channel.expired.end()) {
    expected.cookie = e->second.cookie;
    expected.payload_bytes = e->second.payload_bytes;
    if (echo_io::same_host(packet.from, e->second.target) && icmp_wire::is_reply(bytes, expected)) {
      ++c.state.stats.late_replies;
      return;
    }
  }
  ++c.state.stats.ignored;
}

void forget_expired(EchoChannel& channel, MonoTime now) {
  while (!channel.expiry_order.empty() && channel.expiry_order.front().first <= now) {
    const auto [until, seq] = channel.expiry_order.front();
    channel.expiry_order.pop_front();
    const auto it = channel.expired.find(seq);
    if (it != channel.expired.end() && it->second.until == until) channel.expired.erase(it);
  }
}

}  // namespace

void RoundEngine::State::read_channel(EchoChannel& channel, std::uint32_t events) {
  ReadContext c{*this, channel};
  // A queue epoll did not report holds nothing: not reading it saves a
  // system call per wake-up (a send stamp and its reply mostly come apart).
  bool read = (events & EPOLLERR) != 0 && take_errors(c);
  forget_expired(channel, Steady::now());
  std::array<echo_io::Packet, echo_io::kMaxBatch> batch;
  std::size_t size = channel.packet_batch;
  std::size_t taken = 0;
  bool packets = false;
  while ((events & EPOLLIN) != 0 && taken < kMaxReads) {
    errno = 0;
    const int n = echo_io::read_packets(channel.socket.fd(), channel.buffer, kSlotBytes,
                                        std::span(batch).first(size));
    if (n <= 0) {
      if (errno != 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        ++stats.receive_errors;
        if (errno == ENOBUFS) ++stats.overflow_drops;
      }
      break;
    }
    read = packets = true;
    taken += static_cast<std::size_t>(n);
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i)
      on_packet(c, batch[i], {channel.buffer.data() + i * kSlotBytes, batch[i].bytes});
    if (static_cast<std::size_t>(n) < size) break;  // the queue is empty
    size = std::min(size * 2, echo_io::kMaxBatch);
  }
  if (packets) channel.packet_batch = batch_for(taken);
  // Nothing read: the wake-up came from a pending socket error alone (a hard
  // ICMP error sets one); reading it keeps epoll from reporting it again.
  if (!read) {
    int error = 0;
    socklen_t length = sizeof(error);
    (void)::getsockopt(channel.socket.fd(), SOL_SOCKET, SO_ERROR, &error, &length);
  }
}

}  // namespace linewatch

// EchoStream: a continuous, pipelined stream of ICMP echoes from one
// long-lived socket of one line and address family to a fixed set of
// reflectors. It only sends, reads and reports; judging silence is
// rules/LineLiveness's job, scheduling the sends the caller's
// (liveness_engine.h).
//
// The socket is an EchoSocket (echo_socket.h): a ping socket where allowed,
// else a raw socket filtered to its own echo identifier, pinned to the line,
// with kernel send and receive stamps. send() never waits: requests go out
// whether or not earlier ones were answered. drain() reads everything
// queued (replies, ICMP errors, send stamps) and reports each echo once.
//
// Sequence numbers: the wire carries 16 bits, the caller sees a 64-bit
// sequence per reflector that never wraps. A reply's wire number is mapped
// to the newest echo sent to that reflector with those low 16 bits, and must
// also carry the stream's cookie (drawn at open), so replies to other
// sockets, streams or processes are ignored.
//
// Times: an answered echo carries the kernel-stamped RTT (from where the
// request entered the device queue to where the reply was received, as
// EchoSocket::round measures it) and `received`, the steady-clock time at
// which the kernel received the reply, derived from its stamp rather than
// from when this thread read it: a slow wake-up neither delays nor skews it.
// A reply is late when that RTT exceeds Options::late_after; it is still
// reported (with `late` set). Echoes are remembered for Options::remember;
// a reply after that cannot be told from a stranger's and is ignored.
//
// Send stamps are matched to echoes by the kernel's datagram key (OPT_ID).
// A failed send may or may not use up a key (it depends on where the kernel
// failed it); the stream then re-learns the keys from the next stamp taken
// inside a send() call and counts it in Stats::key_resyncs, so one failure
// does not cost the stamps of every later echo.
//
// Costs: send() is one sendto() and one small allocation (the request);
// drain() is one recvmsg() per queued packet or error-queue message plus
// one that finds the queue empty, and O(echoes in flight) per reply to find
// its echo (searched from the newest: a reply usually answers a recent one).
// Memory: the echoes of the last `remember`, per stream.
//
// Thread-safety: a plain move-only value; use one EchoStream from one
// thread (the event loop's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "core/config.h"
#include "core/time.h"
#include "probes/echo_socket.h"
#include "probes/icmp_wire.h"
#include "probes/socket.h"

namespace linewatch {

class EchoStream {
 public:
  struct Options {
    EchoSocket::Kind kind = EchoSocket::Kind::automatic;
    int payload_bytes = 56;  // >= 8 keeps the whole cookie in the reply
    // A reply whose RTT exceeds this is reported late. Default: LivenessOptions::miss_timeout.
    Duration late_after = std::chrono::seconds(1);
    // How long an echo waits for its reply before it is forgotten; replies
    // read after that are ignored. Should exceed late_after.
    Duration remember = std::chrono::seconds(5);
    // Every reflector's first sequence number (the wire carries its low 16 bits).
    std::uint64_t first_seq = 0;
    // Replies the receive buffer should hold between two drains.
    std::size_t queued_replies = 512;
  };

  // What send() did.
  struct Sent {
    std::uint64_t seq = 0;  // this reflector's sequence number of the echo
    MonoTime at{};          // steady clock just before the request was handed to the kernel
    int error = 0;          // errno of sendto() (ENETUNREACH, EAGAIN, ...); 0: the request left
  };

  // What became of one echo: a reply, or a router's ICMP error.
  struct Answer {
    enum class Kind { reply, icmp_error };
    Kind kind = Kind::reply;
    std::size_t reflector = 0;  // index into the reflectors given to open()
    std::uint64_t seq = 0;
    MonoTime sent{};  // Sent::at of the echo
    // reply: when the kernel received it (steady clock, from its stamp when
    // receive_stamped, else when it was read), the RTT, and its flags.
    MonoTime received{};
    Duration rtt{};
    bool late = false;
    bool send_stamped = false;     // rtt starts at the kernel's send stamp
    bool receive_stamped = false;  // rtt ends at the kernel's receive stamp
    // icmp_error: the error a router answered with (EHOSTUNREACH, ...).
    int error = 0;
  };
  using Report = std::function<void(const Answer&)>;

  // Counters since open.
  struct Stats {
    std::uint64_t sent = 0;         // requests the kernel took
    std::uint64_t send_errors = 0;  // requests sendto() refused
    std::uint64_t replies = 0;      // replies reported, late ones included
    std::uint64_t late = 0;         // replies later than late_after
    std::uint64_t icmp_errors = 0;  // echoes ended by a router's ICMP error
    std::uint64_t ignored = 0;    // packets that answer no remembered echo (strangers, duplicates)
    std::uint64_t forgotten = 0;  // echoes with no answer within `remember`
    std::uint64_t key_resyncs = 0;  // send-stamp keys re-learned after a failed send
  };

  // Opens the line's echo socket of `family` (AF_INET or AF_INET6) pinned to
  // `binding`, for `reflectors` (each of `family`, at least one). Failure:
  // EchoSocket::open's, or Reason::internal naming a reflector of the wrong
  // family.
  static Outcome<EchoStream> open(int family, const LineBinding& binding,
                                  std::vector<SocketAddress> reflectors, const Options& options);

  // Sends the next echo to reflectors[reflector] (an index given to open()),
  // without waiting. A failed send is only returned, never reported by drain().
  Sent send(std::size_t reflector);

  // Forgets echoes older than `remember`, then reads every reply, ICMP
  // error and send stamp queued now and calls `report` for each echo
  // answered (at most one answer per echo). Never blocks.
  void drain(const Report& report);

  // The descriptor to watch for readability (and EPOLLERR: the error
  // queue). Owned by the stream.
  int fd() const { return socket_.fd(); }
  int family() const { return socket_.family(); }
  EchoSocket::Kind kind() const { return socket_.kind(); }
  std::size_t reflector_count() const { return reflectors_.size(); }
  const SocketAddress& reflector(std::size_t i) const { return reflectors_[i].address; }
  const Stats& stats() const { return stats_; }

 private:
  struct Reflector {
    SocketAddress address;
    std::uint64_t next_seq = 0;
  };
  // One echo sent and not yet forgotten.
  struct Flight {
    std::size_t reflector = 0;
    std::uint64_t seq = 0;
    std::uint32_t key = 0;  // the kernel's datagram key, as far as we know
    Duration before{};      // wall clock around sendto(): a queue stamp taken
    Duration after{};       // during the call lies in between
    MonoTime sent{};
    std::optional<Duration> sent_kernel;
    bool at_queue = false;  // sent_kernel is the TX_SCHED stamp
    bool done = false;      // answered (or ended by an ICMP error)
  };

  EchoStream(EchoSocket socket, std::vector<SocketAddress> reflectors, const Options& options);
  bool take_errors(const Report& report);
  bool take_replies(const Report& report);
  void on_stamp(const echo_io::ErrorNews& news);
  void on_icmp_error(const echo_io::ErrorNews& news, const Report& report);
  Answer answer_reply(Flight& flight, const echo_io::Packet& packet, Duration read_real,
                      MonoTime read_mono);
  Flight* find(std::size_t reflector, std::uint16_t wire_seq);
  std::optional<std::size_t> reflector_of(const sockaddr_storage& address) const;
  void forget(MonoTime now);

  EchoSocket socket_;
  Options options_;
  std::vector<Reflector> reflectors_;
  icmp_wire::Cookie cookie_{};
  std::deque<Flight> flights_;  // in send order
  std::uint32_t next_key_ = 0;
  std::vector<std::uint8_t> buffer_;
  Stats stats_;
};

}  // namespace linewatch

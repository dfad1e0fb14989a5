// EchoSocket: one ICMP echo socket pinned to a line, timing each echo with
// the kernel's own send and receive stamps.
//
// Why not a ping library: liboping stamps a reply in user space after
// select() wakes, which adds the thread's wake-up latency (0.05-0.1 ms on an
// idle virtual CPU) to every RTT, and each of its raw sockets is handed every
// ICMP packet the host receives. Here the RTT runs from the kernel's software
// transmit stamp to its receive stamp (SO_TIMESTAMPING), and the socket sees
// only its own replies: a ping socket (SOCK_DGRAM/IPPROTO_ICMP) is matched by
// the kernel; a raw socket, used when net.ipv4.ping_group_range does not
// admit the process, carries a BPF filter on its echo identifier.
//
// Thread-safety: a plain move-only value; use one EchoSocket from one thread.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/fd.h"
#include "core/time.h"
#include "probes/icmp_wire.h"
#include "probes/socket.h"

namespace linewatch {

// The pieces EchoSocket is built from, shared with EchoStream
// (echo_stream.h), which keeps one socket open for a continuous stream of
// echoes. Free functions on a socket EchoSocket::open() made: none blocks,
// none takes ownership of the descriptor. Thread-safe (they share nothing).
namespace echo_io {

// Room for a reply to our request behind the largest IPv4 header; anything
// longer is not our reply, and a truncated read still shows its header.
inline constexpr std::size_t kReplySlack = 8 + 60 + 64;

// The wall clock now, on the kernel stamps' scale (CLOCK_REALTIME since the epoch).
Duration realtime_now();

// 64 random bits for identifiers and cookies; a clock-derived value where
// the system has no entropy source (still enough to keep rounds apart).
std::uint64_t random_bits();

// True when `from` holds the same IPv4/IPv6 host address as `target` (ports ignored).
bool same_host(const sockaddr_storage& from, const SocketAddress& target);

// Raises `fd`'s receive buffer to `bytes` (at most 64 MiB) unless it is
// already that large. Without CAP_NET_ADMIN net.core.rmem_max caps it, silently.
void ensure_receive_buffer(int fd, std::size_t bytes);

// One message taken from a socket's error queue.
struct ErrorNews {
  enum class Kind {
    none,        // the queue is empty
    other,       // a message of no interest (read and dropped)
    send_stamp,  // the kernel's transmit stamp of one of our datagrams
    icmp_error,  // a router's ICMP error about one of our requests
  };
  Kind kind = Kind::none;
  // send_stamp: which datagram (OPT_ID: the socket's datagrams counted from
  // 0), whether the stamp was taken where the packet entered the device
  // queue (TX_SCHED) rather than at the driver (TX_SOFTWARE), and the stamp
  // (CLOCK_REALTIME; nullopt when the kernel gave no software stamp).
  std::uint32_t key = 0;
  bool at_queue = false;
  std::optional<Duration> stamp;
  // icmp_error: the quoted request's sequence number (nullopt when the quote
  // is not our echo request), the error (EHOSTUNREACH, ...) and where the
  // request was going.
  std::optional<std::uint16_t> seq;
  int error = 0;
  sockaddr_storage destination{};
};

// Takes one message from `fd`'s error queue (non-blocking). A raw socket's
// quoted requests must carry `our_id`; pass nullopt for a ping socket.
ErrorNews read_error(int fd, int family, std::optional<std::uint16_t> our_id);

// Messages one batched read takes at most (recvmmsg).
inline constexpr std::size_t kMaxBatch = 32;

// As read_error, up to min(out.size(), kMaxBatch) messages with one
// recvmmsg() (none is of Kind::none). Returns how many were stored; fewer
// than asked means the queue is empty now. 0 or -1 (errno set: EAGAIN when
// nothing is queued) when none was read.
int read_errors(int fd, int family, std::optional<std::uint16_t> our_id, std::span<ErrorNews> out);

// One datagram read from a socket.
struct Packet {
  std::size_t bytes = 0;  // of the buffer now holding it (truncated to its size)
  sockaddr_storage from{};
  std::optional<Duration> stamp;  // the kernel's receive stamp (CLOCK_REALTIME)
  // With SO_RXQ_OVFL on: datagrams the socket dropped since it was opened
  // because its receive buffer was full (a running count, 32 bits).
  std::optional<std::uint32_t> drops;
};

// Reads one datagram from `fd` into `buffer` (non-blocking). Nullopt when
// none is queued (or on a read error).
std::optional<Packet> read_packet(int fd, std::span<std::uint8_t> buffer);

// Reads up to min(out.size(), kMaxBatch, buffer.size() / slot) datagrams
// with one recvmmsg() (non-blocking), datagram i into `slot` bytes at
// buffer[i × slot] (truncated past that; out[i].bytes says how much it
// holds). Returns how many; fewer than asked means the queue is empty now.
// -1 (errno set: EAGAIN when nothing is queued) when none was read.
int read_packets(int fd, std::span<std::uint8_t> buffer, std::size_t slot, std::span<Packet> out);

}  // namespace echo_io

class EchoSocket {
 public:
  enum class Kind {
    automatic,  // a ping socket when allowed, else a raw socket
    datagram,   // ping socket only (needs ping_group_range to admit our group)
    raw,        // raw socket only (needs root or CAP_NET_RAW)
  };

  // What one echo came to.
  struct Echo {
    std::optional<Duration> rtt;   // nullopt: no reply by the deadline
    bool receive_stamped = false;  // rtt ends at the kernel's receive stamp
    bool send_stamped = false;     // rtt starts at the kernel's send stamp
    int send_errno = 0;            // non-zero: the request never left (ENETUNREACH, ...)
    // Non-zero: a router on the way answered with an ICMP error instead
    // (EHOSTUNREACH, ENETUNREACH, ...); the echo stopped waiting then.
    int icmp_errno = 0;
  };

  // Opens an ICMP socket of `family` (AF_INET or AF_INET6) and pins it to
  // `binding` (see binding.h). Failure: Reason::bind with the binding message,
  // or Reason::internal naming both sockets that could not be opened and what
  // would allow them.
  static Outcome<EchoSocket> open(int family, const LineBinding& binding,
                                  Kind kind = Kind::automatic);

  // One round: `count` echo requests to `target` (same family), request i
  // sent at start + i × spacing whether or not earlier ones were answered
  // (as fping -p does, so a lossy line does not stretch the round), each
  // waiting up to `timeout` for its reply. Returns one Echo per request, in
  // order. The round lasts at most (count − 1) × spacing + timeout.
  // Each round draws a fresh cookie, so replies to other requests, rounds,
  // sockets or hosts are read and ignored. A reply counts when the kernel
  // received it within `timeout`, even if this thread reads it later. The
  // send stamp is taken where the packet enters the device's queue, so local
  // queueing counts, as it does for ping. The kernel enables receive stamps
  // for the host a moment after the first socket asks (a deferred static
  // key), so the first echo of an idle host can come back with user-space
  // times; receive_stamped and send_stamped say which.
  struct Plan {
    int count = 1;
    Duration spacing{};
    Duration timeout{};
    int payload_bytes = 56;       // >= 0
    std::uint16_t first_seq = 0;  // request i carries first_seq + i
  };
  std::vector<Echo> round(const SocketAddress& target, const Plan& plan);

  // A round of one request with sequence `seq` that waits until `deadline`.
  Echo echo(const SocketAddress& target, std::uint16_t seq, int payload_bytes, MonoTime deadline);

  Kind kind() const { return kind_; }

  // For EchoStream (echo_stream.h), which keeps one socket for a stream of
  // echoes: the descriptor (still owned here), its family, the identifier
  // requests carry, the identifier a reply must carry (nullopt on a ping
  // socket, where the kernel matches it), and whether a reply read from the
  // socket starts with an IPv4 header (raw IPv4 sockets).
  int fd() const { return fd_.get(); }
  int family() const { return family_; }
  std::uint16_t id() const { return id_; }
  std::optional<std::uint16_t> reply_id() const {
    return kind_ == Kind::raw ? std::optional(id_) : std::nullopt;
  }
  bool replies_have_ip_header() const { return kind_ == Kind::raw && family_ == AF_INET; }
  // Packets read that were not the awaited reply (late, foreign, our own
  // request seen on loopback): a raw socket's filter keeps this near zero.
  std::uint64_t ignored() const { return ignored_; }

 private:
  EchoSocket(Fd fd, int family, Kind kind);

  Fd fd_;
  int family_ = 0;
  Kind kind_ = Kind::raw;
  std::uint16_t id_ = 0;  // raw sockets only; the kernel picks a ping socket's
  icmp_wire::Cookie cookie_{};

  struct Pending;
  void take_errors(std::vector<Pending>& pending);
  void take_replies(const SocketAddress& target, const Plan& plan, std::vector<Pending>& pending);
  void size_receive_buffer(const Plan& plan);

  std::vector<std::uint8_t> buffer_;
  std::uint64_t ignored_ = 0;
  std::uint32_t sends_ = 0;  // datagrams sent: the kernel's key for send stamps
  // A failed send may or may not have used up a key, so after one the keys
  // cannot be trusted and echoes fall back to the user-space send time.
  bool keys_trusted_ = true;
};

}  // namespace linewatch

// RoundEngine's insides, shared by round_engine.cc (submit, finish, stats),
// round_icmp.cc (shared echo sockets and ICMP rounds) and round_tcp.cc (TCP
// connects). Not a public header. Everything here lives on the loop thread,
// except the atomics, which submit() touches from any thread.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/fd.h"
#include "probes/echo_socket.h"
#include "probes/icmp_wire.h"
#include "probes/round_engine.h"
#include "probes/socket.h"

namespace linewatch {

// How late the loop's timers fire, in buckets of √2 steps, over a window
// and the one before it: p99 and max cost O(buckets), memory is fixed.
class LagWindow {
 public:
  explicit LagWindow(Duration window) : window_(window) {}
  void record(MonoTime now, Duration lag);
  Duration p99(MonoTime now);
  Duration max(MonoTime now);

 private:
  static constexpr std::size_t kBuckets = 96;
  struct Half {
    std::array<std::uint64_t, kBuckets> count{};
    Duration max{};
  };
  void roll(MonoTime now);
  Duration window_;
  MonoTime started_{};
  Half now_, before_;
};

// What a round keeps of its request and its caller until it is done.
struct RoundCommon {
  std::uint64_t id = 0;
  ProbeRequest request;
  RoundEngine::Done done;
  WallTime wall{};         // the round's stored start time
  MonoTime clock_start{};  // request.clock at submit: the result's duration
  MonoTime submitted{};    // steady clock at submit: the loop's queueing lag
};

// An echo of an ICMP round, from its send to its reply or deadline.
struct RoundEcho {
  std::uint16_t seq = 0;
  bool sent = false;
  bool done = false;
  Duration sent_user{};  // wall clock just before sendto()
  MonoTime sent_steady{};
  MonoTime deadline{};
  std::optional<Duration> sent_kernel;
  bool at_queue = false;  // sent_kernel is the TX_SCHED stamp
  EchoSocket::Echo result;
};

struct EchoChannel;

struct IcmpRound {
  explicit IcmpRound(RoundCommon c) : common(std::move(c)) {}
  RoundCommon common;
  SocketAddress target;
  EchoChannel* channel = nullptr;
  icmp_wire::Cookie cookie{};
  std::vector<RoundEcho> echoes;
  std::size_t next = 0;  // the next echo to send
  MonoTime start{};
  std::optional<EventLoop::TimerId> timer;
  MonoTime due{};  // the timer's next firing, for the lag figure
};

// An echo in flight on a channel: its round and place in it.
struct EchoRef {
  std::uint64_t round = 0;
  std::uint32_t index = 0;
};

// One shared echo socket of one (line, family).
struct EchoChannel {
  EchoSocket socket;
  std::vector<std::uint8_t> buffer;
  std::uint16_t next_seq = 0;
  std::uint32_t next_key = 0;  // the kernel's datagram key of the next send, as far as we know
  std::unordered_map<std::uint16_t, EchoRef> pending;  // by wire sequence
  // Echoes past their deadline, by wire sequence, until `until`: a reply
  // with their cookie from their target is late, not a stranger.
  struct Expired {
    icmp_wire::Cookie cookie{};
    int payload_bytes = 0;
    SocketAddress target;
    MonoTime until{};
  };
  std::unordered_map<std::uint16_t, Expired> expired;
  std::deque<std::pair<MonoTime, std::uint16_t>> expiry_order;
  // Recent sends, oldest first, for matching send stamps by datagram key.
  struct Send {
    std::uint32_t key = 0;
    Duration before{}, after{};  // wall clock around sendto()
    EchoRef echo;
  };
  std::deque<Send> sends;
  std::optional<std::uint32_t> drops_seen;  // the kernel's drop count at the last read
  // Messages the next batched read of each queue sets up room for: follows
  // what the last wake-up found (round_icmp.cc, batch_for).
  std::size_t error_batch = 4;
  std::size_t packet_batch = 4;

  explicit EchoChannel(EchoSocket s) : socket(std::move(s)) {}
};

struct TcpRound {
  explicit TcpRound(RoundCommon c) : common(std::move(c)) {}
  RoundCommon common;
  std::vector<SocketAddress> addresses;
  std::size_t next = 0;  // the address tried now
  MonoTime deadline{};
  MonoTime connect_start{};
  Fd fd;
  std::optional<Duration> dns;
  std::optional<EventLoop::TimerId> timer;
  ProbeFailure last{Reason::internal, "connect: no address"};
};

// The engine's counters: written on the loop, read by stats() from any
// thread without waiting for the loop (relaxed atomics: figures, not sync).
struct EngineCounters {
  std::atomic<std::uint64_t> rounds_done{0};
  std::atomic<std::uint64_t> icmp_sockets{0};
  std::atomic<std::uint64_t> echoes_sent{0};
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::uint64_t> send_stamped{0};
  std::atomic<std::uint64_t> receive_stamped{0};
  std::atomic<std::uint64_t> late_replies{0};
  std::atomic<std::uint64_t> ignored{0};
  std::atomic<std::uint64_t> overflow_drops{0};
  std::atomic<std::uint64_t> receive_errors{0};
  std::atomic<std::uint64_t> send_errors{0};
  std::atomic<std::uint64_t> connects{0};
};

// Cookies and first sequence numbers: splitmix64 seeded once from the
// system's entropy. Cookies only keep rounds apart (they are not secrets), and
// std::random_device per round cost a fifth of the engine's CPU at 10,000
// targets (it opens and reads the entropy source each time).
class CookieSource {
 public:
  CookieSource() : state_(echo_io::random_bits()) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

struct RoundEngine::State {
  State(EventLoop& l, RoundEngineOptions o) : loop(l), options(o), lag(o.lag_window) {}

  EventLoop& loop;
  RoundEngineOptions options;
  std::atomic<std::uint64_t> next_round{1};
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<bool> stopped{false};
  // Loop thread only.
  std::unordered_map<std::uint64_t, std::unique_ptr<IcmpRound>> icmp;
  std::unordered_map<std::uint64_t, std::unique_ptr<TcpRound>> tcp;
  std::map<std::pair<std::string, int>, std::unique_ptr<EchoChannel>> channels;
  EngineCounters stats;
  CookieSource random;
  std::mutex lag_mu;  // the loop records, stats() reads
  LagWindow lag;      // guarded by lag_mu
  void record_lag(MonoTime now, Duration late) {
    std::lock_guard lock(lag_mu);
    lag.record(now, late);
  }

  // Hands `r` to the round's caller, filled as run_probe() fills it.
  void finish(RoundCommon& round, ProbeResult r);

  // round_icmp.cc
  void start_icmp(RoundCommon common, SocketAddress target);
  std::optional<Duration> step_icmp(std::uint64_t id, MonoTime now);
  // Reads what `channel` has queued: send stamps and ICMP errors, then
  // replies; with `events` (epoll's, from a wake-up) only the queues they
  // report (EPOLLERR: the error queue, EPOLLIN: replies).
  void read_channel(EchoChannel& channel, std::uint32_t events = EPOLLIN | EPOLLERR);

  // round_tcp.cc
  void start_tcp(std::unique_ptr<TcpRound> round);
};

}  // namespace linewatch

// RoundEngine: the measurement rounds of the packet probes (ICMP rounds and
// plain TCP connects) as state machines on one event loop (event_loop.h),
// so that thousands of targets cost no threads: a round holds a few hundred
// bytes of state between its sends, replies and deadline, not a worker.
//
// ICMP: one long-lived EchoSocket (echo_socket.h) per (line, address family)
// serves every ICMP target on that line. Each round draws its own cookie and
// each echo takes a sequence number that no other echo in flight on that
// socket holds, so a reply is found by its sequence number and then must
// come from the round's target and carry the round's cookie; anything else
// is a stranger (counted, ignored). Per echo, as EchoSocket::round: request i
// leaves at start + i × spacing, the RTT runs from the kernel's send stamp
// to its receive stamp, a router's ICMP error ends the echo with its errno,
// and the reply counts when the kernel received it within the timeout, even
// if the loop reads it later. A reply the kernel received after its echo's
// deadline is dropped and counted as late (remembered for Options::remember
// after the deadline; later still it is a stranger). A full receive buffer
// is counted from the kernel's own drop count (SO_RXQ_OVFL), never silent.
// The ProbeResult is the one run_probe() gives for the same round (icmp.cc):
// same reasons, details, rtt figures and `rtts`.
//
// Why a sibling of EchoStream and not an extension: EchoStream serves a
// fixed set of reflectors with one cookie for the socket's life and 64-bit
// per-reflector sequences, reporting each answer as it comes; rounds need a
// per-round cookie, per-echo deadlines, late replies told from strangers,
// and a result only when the round is over, for targets that come and go.
// Both build on the same pieces (echo_io in echo_socket.h), so the stamps
// and the error path are one code. The loop is the engine's own; the
// liveness tier keeps its loop (one more thread, no shared state).
//
// TCP: a connect that sends nothing and expects nothing (tcp.send and
// tcp.expect empty; others stay with run_probe on a worker): non-blocking
// connect, wait writable, SO_ERROR, close; addresses tried in order as
// connect_any() does, same reasons, details and handshake figure.
//
// Thread-safety: submit(), stats() and stop() from any thread. `done` runs on
// the loop thread: it must be cheap, must not block nor throw, and must not
// call stop().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/probe_result.h"
#include "core/time.h"
#include "probes/echo_socket.h"
#include "probes/event_loop.h"
#include "probes/probe.h"

namespace linewatch {

struct RoundEngineOptions {
  EchoSocket::Kind kind = EchoSocket::Kind::automatic;
  // Receive buffer of each shared echo socket (raised, never lowered, unless
  // force_receive_buffer). Default 4 MiB: about 4,000 replies queued while
  // the loop is busy elsewhere. Above net.core.rmem_max needs CAP_NET_ADMIN.
  std::size_t receive_buffer_bytes = 4u << 20;
  bool force_receive_buffer = false;  // set exactly this size (tests shrink it)
  // How long after its deadline an echo's reply is still told late rather
  // than a stranger.
  Duration remember = std::chrono::seconds(10);
  // The window of the loop-lag figures in stats().
  Duration lag_window = std::chrono::seconds(10);
};

// Counters since start, and the loop's lag over the last window.
struct RoundEngineStats {
  std::uint64_t rounds_started = 0;
  std::uint64_t rounds_done = 0;
  std::uint64_t in_flight = 0;     // rounds submitted and not done
  std::uint64_t icmp_sockets = 0;  // shared echo sockets open
  std::uint64_t echoes_sent = 0;
  std::uint64_t replies = 0;          // replies credited to their echo
  std::uint64_t send_stamped = 0;     // of those, RTTs from the kernel's send stamp
  std::uint64_t receive_stamped = 0;  // of those, RTTs to the kernel's receive stamp
  std::uint64_t late_replies = 0;     // replies received after their echo's deadline: dropped
  std::uint64_t ignored = 0;          // packets answering no echo (strangers, duplicates)
  std::uint64_t overflow_drops = 0;   // replies the kernel dropped: a receive buffer was full
  std::uint64_t receive_errors = 0;   // recvmsg() failures other than "nothing queued"
  std::uint64_t send_errors = 0;      // requests sendto() refused
  std::uint64_t connects = 0;         // TCP connects run
  Duration lag_p99{};                 // how late the loop's timers fired, last window
  Duration lag_max{};
};

class RoundEngine {
 public:
  // Called once per submitted round with its result (line, target, kind,
  // time and duration filled as run_probe() does), on the loop thread.
  using Done = std::function<void(ProbeResult)>;

  // Starts the loop thread; sockets are opened on it, in the network
  // namespace of the thread that called start(). Failure: io error from
  // EventLoop::start().
  static Result<std::unique_ptr<RoundEngine>> start(RoundEngineOptions options = {});
  ~RoundEngine();  // stop()
  RoundEngine(const RoundEngine&) = delete;
  RoundEngine& operator=(const RoundEngine&) = delete;

  // Whether the engine runs rounds of `spec`: ICMP, and TCP without send or
  // expect. Others go to run_probe().
  static bool handles(const ProbeSpec& spec);

  // Starts one round of `request` (a kind handles() accepts) and returns;
  // `done` gets its result once. On the loop thread (a timer on loop()) the
  // round starts here and now, without a posted function or a wake-up, and
  // `done` may run before submit() returns (a socket that cannot be opened). A host name is
  // resolved here, on the calling thread, bounded by the round's timeout (a literal costs nothing).
  // Everything the request refers to must outlive the round: until `done` was called, or stop()
  // returned. After stop() the round is dropped and `done` is never called.
  void submit(const ProbeRequest& request, Done done);

  // Ends the loop: no `done` runs after it returns; rounds in flight are
  // dropped. Idempotent.
  void stop();

  // A snapshot of the counters; never waits for the loop.
  RoundEngineStats stats() const;

  // Runs `fn` on the loop thread (tests use it to stall the loop).
  bool post(EventLoop::Callback fn);

  // The engine's loop, for timers that submit rounds from it (the
  // scheduler's packet timetable). Lives until the engine is destroyed.
  EventLoop& loop() { return *loop_; }

  struct State;  // the loop's state: rounds, sockets, counters

 private:
  explicit RoundEngine(std::unique_ptr<EventLoop> loop, RoundEngineOptions options);
  std::unique_ptr<State> state_;
  std::unique_ptr<EventLoop> loop_;  // last: stopped and destroyed first
};

}  // namespace linewatch

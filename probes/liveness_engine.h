// LivenessEngine: the liveness tier's I/O. For every line, a continuous,
// pipelined stream of ICMP echoes to the line's reflectors, all served by
// one event-loop thread (event_loop.h) with one long-lived EchoStream
// (echo_stream.h) per line and address family. It sends, receives and
// reports; judging silence is rules/LineLiveness's job, fed by the observer.
//
// Schedule: each line sends one echo to each of its reflectors every
// `interval`, on absolute times (slot k at start + phase + k·interval), so
// the schedule does not drift. Line phases are spread over the interval
// (golden-ratio steps in the order lines are added) so lines do not send in
// lockstep. Sends never wait for replies. After a stall (a busy loop, a
// suspended process) the slots that passed are skipped and counted, not sent
// in a burst.
//
// Times: sent is the steady clock just before the request left; received is
// when the kernel received the reply (its stamp moved onto the steady
// clock), so a late wake-up of the loop neither delays nor skews it; rtt is
// kernel-stamped (EchoStream).
//
// Thread-safety: every public method may be called from any thread, but
// add_line and remove_line not from an observer callback (a line must not
// vanish under its own report). The observer is called on the loop thread
// only, one call at a time; it must be cheap and must never block (every
// line's sends and replies wait for it) nor throw. The observer must
// outlive the engine (or its stop()).
//
// Costs per echo: one sendto(), one recvmsg() for the reply and one or two
// for the send stamps, O(echoes in flight) matching, two observer calls.
// Per line and interval: one timer firing (one wake-up of the loop; the
// replies of a short path and the send stamps are read in it). Ticks ride on
// those wake-ups, with a backstop timer for gaps. See docs/benchmarks.md
// (bench_liveness) for CPU figures.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/health_options.h"
#include "core/time.h"
#include "probes/echo_stream.h"
#include "probes/event_loop.h"
#include "probes/socket.h"

namespace linewatch {

// A reflector of a line: the target id it comes from and its address.
struct LivenessReflector {
  std::string id;
  SocketAddress address;
};

// Why an echo failed without a reply.
struct EchoError {
  enum class Where {
    send,  // sendto() refused the request (no route, a firewall, a full buffer)
    icmp,  // a router answered with an ICMP error
  };
  Where where = Where::send;
  int code = 0;  // errno: ENETUNREACH, EHOSTUNREACH, EAGAIN, ...
};

// Receives what the engine sees. Called on the loop thread; see the top
// comment for the rules (cheap, never blocking, never throwing).
class LivenessObserver {
 public:
  virtual ~LivenessObserver() = default;
  // An echo to `reflector` left at `sent`; `seq` counts this reflector's
  // echoes on this line (64 bits, never wraps).
  virtual void on_sent(const std::string& line, const std::string& reflector, std::uint64_t seq,
                       MonoTime sent) = 0;
  // The reply to echo `seq` (sent at `sent`) was received by the kernel at
  // `received`, `rtt` after the request left. Late replies included.
  virtual void on_reply(const std::string& line, const std::string& reflector, std::uint64_t seq,
                        MonoTime sent, MonoTime received, Duration rtt) = 0;
  // Echo `seq` failed: it never left (send) or a router refused it (icmp).
  virtual void on_error(const std::string& line, const std::string& reflector, std::uint64_t seq,
                        EchoError error) = 0;
  // Time to tick the trackers: called at least every min(interval)/2 over
  // the lines (not at all without lines), after the replies the kernel
  // queued before it were reported. It rides on a line's timer when one
  // fires anyway (so ticks cost no wake-up of their own), hence at most
  // every min(interval)/8.
  virtual void on_tick(MonoTime now) = 0;
};

// Counters since start; diagnostics only.
struct LivenessEngineStats {
  std::uint64_t echoes = 0;        // requests sent
  std::uint64_t replies = 0;       // replies reported (late ones included)
  std::uint64_t late_replies = 0;  // replies whose RTT exceeded miss_timeout
  std::uint64_t send_errors = 0;   // requests sendto() refused
  std::uint64_t icmp_errors = 0;   // echoes ended by a router's ICMP error
  std::uint64_t ignored = 0;       // packets answering no remembered echo of the line
  std::uint64_t missed_slots = 0;  // slots skipped after a stall (each: one echo per reflector)
  std::uint64_t ticks = 0;         // on_tick calls
  Duration loop_lag_max{};         // the latest a line's timer fired after its slot
};

class LivenessEngine {
 public:
  // Starts the loop thread. `echo` sets the socket kind, payload and first
  // sequence number of every stream (late_after and remember come from each
  // line's options). Failure: io error from EventLoop::start().
  static Result<std::unique_ptr<LivenessEngine>> start(LivenessObserver& observer,
                                                       EchoStream::Options echo = {});
  // Stops (see stop()) and closes every line's sockets.
  ~LivenessEngine();
  LivenessEngine(const LivenessEngine&) = delete;
  LivenessEngine& operator=(const LivenessEngine&) = delete;

  // Starts echoing from line `line`, pinned to `binding`, to `reflectors`
  // (ids unique, at least one; IPv4 and IPv6 may mix: one stream per family)
  // every options.interval; a reply later than options.miss_timeout counts
  // as late, one later than 3 × miss_timeout is ignored (the other options
  // are the tracker's). The sockets are opened on the calling thread, so
  // they belong to its network namespace. The first echoes leave within one
  // interval.
  // Failure: invalid_argument (duplicate line, no or duplicate reflectors,
  // interval not positive), or io naming the line, the reflector and what
  // the socket refused (binding, privileges). Nothing is left behind.
  Status add_line(const std::string& line, const LineBinding& binding,
                  const std::vector<LivenessReflector>& reflectors, const LivenessOptions& options);
  // Stops echoing from `line` and closes its sockets; replies still on the
  // way are dropped. Unknown lines are ignored.
  void remove_line(const std::string& line);

  // Stops the loop: no observer call runs after stop() returns. Idempotent.
  // The lines and their sockets stay until destruction.
  void stop();

  // A snapshot of the counters (waits for the loop between two callbacks).
  LivenessEngineStats stats() const;

 private:
  struct Line;
  LivenessEngine(LivenessObserver& observer, EchoStream::Options echo,
                 std::unique_ptr<EventLoop> loop);
  Status install(std::unique_ptr<Line> line);
  std::optional<Duration> fire(Line& line, MonoTime now);
  void report(Line& line, std::size_t stream, const EchoStream::Answer& answer);
  void tick(MonoTime now);
  void retune_ticks();

  LivenessObserver& observer_;
  EchoStream::Options echo_;
  // Loop thread only (or any thread once the loop has stopped).
  std::map<std::string, std::unique_ptr<Line>> lines_;
  std::uint64_t lines_added_ = 0;  // phase spreading
  std::optional<EventLoop::TimerId> tick_timer_;
  Duration tick_period_{};
  MonoTime last_tick_{};
  LivenessEngineStats stats_;
  // Last: destroyed first, so no callback outlives the state above.
  std::unique_ptr<EventLoop> loop_;
};

}  // namespace linewatch

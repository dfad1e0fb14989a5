// RoundEngine's TCP connects (see round_engine.h): connect_any() of
// socket.cc as a state machine on the loop.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "probes/binding.h"
#include "probes/round_engine_state.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

enum class Step { waiting, connected, failed };

}  // namespace

namespace {

ProbeResult tcp_result(const TcpRound& round, const std::optional<Duration>& handshake) {
  ProbeResult r;
  r.kind = ProbeKind::tcp;
  r.phases.dns = round.dns;
  if (!handshake) return failed(std::move(r), round.last);
  r.phases.connect = handshake;
  r.rtt = handshake;
  r.ok = true;
  r.reason = Reason::ok;
  return r;
}

// Starts connecting round.addresses[round.next]. Sets round.last on failure.
Step begin_connect(TcpRound& round, Duration& handshake) {
  const SocketAddress& address = round.addresses[round.next];
  round.fd.reset(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!round.fd.valid()) {
    round.last = ProbeFailure{Reason::internal, std::string("socket: ") + std::strerror(errno)};
    return Step::failed;
  }
  if (Status s = apply_binding(round.fd.get(), address.family(), round.common.request.line.binding);
      !s.ok()) {
    round.last = ProbeFailure{Reason::bind, s.error().message};
    return Step::failed;
  }
  round.connect_start = Steady::now();
  if (::connect(round.fd.get(), address.get(), address.length) == 0) {
    handshake = handshake_time(round.fd.get(), Steady::now() - round.connect_start);
    return Step::connected;
  }
  if (errno == EINPROGRESS) return Step::waiting;
  round.last = errno_failure("connect " + address.to_string(), errno);
  return Step::failed;
}

// Whether a failed address lets the next one be tried (as connect_any).
bool try_next(const TcpRound& round) {
  if (round.last.reason != Reason::refused && round.last.reason != Reason::unreachable)
    return false;
  return round.next + 1 < round.addresses.size() && Steady::now() < round.deadline;
}

}  // namespace

void RoundEngine::State::start_tcp(std::unique_ptr<TcpRound> round) {
  if (stopped) return;
  const MonoTime now = Steady::now();
  record_lag(now, now - round->common.submitted);
  ++stats.connects;
  const std::uint64_t id = round->common.id;
  TcpRound* raw = round.get();
  tcp.emplace(id, std::move(round));
  // Ends the round: its result to the caller, its socket closed.
  auto end = [this, id](std::optional<Duration> handshake) {
    const auto it = tcp.find(id);
    if (it == tcp.end()) return;
    std::unique_ptr<TcpRound> done = std::move(it->second);
    tcp.erase(it);
    if (done->fd.valid()) loop.unwatch(done->fd.get());
    if (done->timer) loop.cancel_timer(*done->timer);
    finish(done->common, tcp_result(*done, handshake));
  };
  // Tries addresses from raw->next until one connects, fails for good, or waits.
  auto attempt = std::make_shared<std::function<void()>>();
  *attempt = [this, raw, end, attempt_weak = std::weak_ptr(attempt)] {
    for (; raw->next < raw->addresses.size(); ++raw->next) {
      Duration handshake{};
      const Step step = begin_connect(*raw, handshake);
      if (step == Step::connected) return end(handshake);
      if (step == Step::waiting) {
        const int fd = raw->fd.get();
        const Status s = loop.watch(
            fd,
            [this, raw, end, attempt_weak, fd] {
              loop.unwatch(fd);
              int err = 0;
              socklen_t len = sizeof(err);
              if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
              if (err == 0) return end(handshake_time(fd, Steady::now() - raw->connect_start));
              raw->last = errno_failure("connect " + raw->addresses[raw->next].to_string(), err);
              raw->fd.reset();
              if (!try_next(*raw)) return end(std::nullopt);
              ++raw->next;
              if (auto again = attempt_weak.lock()) (*again)();
            },
            EPOLLOUT);
        if (s.ok()) return;
        raw->last = ProbeFailure{Reason::internal, s.error().message};
        return end(std::nullopt);
      }
      raw->fd.reset();
      if (!try_next(*raw)) return end(std::nullopt);
    }
    end(std::nullopt);
  };
  if (raw->addresses.empty()) return end(std::nullopt);
  raw->timer = loop.add_timer(raw->deadline, [this, raw, end, attempt](MonoTime) {
    // The attempt lives as long as this timer: the round's deadline.
    raw->timer.reset();
    raw->last = ProbeFailure{Reason::timeout,
                             "connect " + raw->addresses[raw->next].to_string() + ": timed out"};
    end(std::nullopt);
    return std::nullopt;
  });
  (*attempt)();
}

}  // namespace linewatch

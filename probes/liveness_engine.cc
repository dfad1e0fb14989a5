#include "probes/liveness_engine.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

// Phases of successive lines: fractional parts of k·φ spread any number of
// lines evenly over the interval without knowing the count in advance.
constexpr double kGoldenFraction = 0.6180339887498949;

Duration phase_of(std::uint64_t k, Duration interval) {
  const double fraction = std::fmod(static_cast<double>(k) * kGoldenFraction, 1.0);
  return std::chrono::duration_cast<Duration>(interval * fraction);
}

std::string family_name(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

}  // namespace

// One line's streams and schedule. Loop thread only once installed.
struct LivenessEngine::Line {
  std::string id;
  Duration interval{};
  std::vector<std::unique_ptr<EchoStream>> streams;  // one per family
  std::vector<std::vector<std::string>> names;       // [stream][reflector] → reflector id
  std::vector<EchoStream::Report> reports;           // [stream], built once
  MonoTime slot{};                                   // the slot the timer fires for next
  EventLoop::TimerId timer = 0;
};

Result<std::unique_ptr<LivenessEngine>> LivenessEngine::start(LivenessObserver& observer,
                                                              EchoStream::Options echo) {
  auto loop = EventLoop::start();
  if (!loop.ok()) return loop.error();
  return std::unique_ptr<LivenessEngine>(
      new LivenessEngine(observer, std::move(echo), std::move(loop).value()));
}

LivenessEngine::LivenessEngine(LivenessObserver& observer, EchoStream::Options echo,
                               std::unique_ptr<EventLoop> loop)
    : observer_(observer), echo_(std::move(echo)), loop_(std::move(loop)) {}

LivenessEngine::~LivenessEngine() { stop(); }

void LivenessEngine::stop() { loop_->stop(); }

Status LivenessEngine::add_line(const std::string& line, const LineBinding& binding,
                                const std::vector<LivenessReflector>& reflectors,
                                const LivenessOptions& options) {
  const std::string where = "line " + line + ": liveness: ";
  if (options.interval <= Duration::zero()) return invalid(where + "interval must be positive");
  if (reflectors.empty()) return invalid(where + "no reflectors");
  std::set<std::string> ids;
  for (const LivenessReflector& r : reflectors)
    if (!ids.insert(r.id).second) return invalid(where + "reflector " + r.id + " given twice");

  auto state = std::make_unique<Line>();
  state->id = line;
  state->interval = options.interval;
  EchoStream::Options echo = echo_;
  echo.late_after = options.miss_timeout;
  echo.remember = 3 * options.miss_timeout;
  for (const int family : {AF_INET, AF_INET6}) {
    std::vector<SocketAddress> addresses;
    std::vector<std::string> names;
    for (const LivenessReflector& r : reflectors) {
      if (r.address.family() != family) continue;
      addresses.push_back(r.address);
      names.push_back(r.id);
    }
    if (addresses.empty()) continue;
    auto stream = EchoStream::open(family, binding, std::move(addresses), echo);
    if (!stream.ok())
      return io_error(where + family_name(family) + " reflector " + names.front() + ": " +
                      stream.failure().detail);
    state->streams.push_back(std::make_unique<EchoStream>(std::move(stream.value())));
    state->names.push_back(std::move(names));
  }
  if (state->streams.empty()) return invalid(where + "no reflector is IPv4 or IPv6");
  return loop_->call([&] { return install(std::move(state)); });
}

// On the loop thread: watches the line's sockets and starts its timer.
Status LivenessEngine::install(std::unique_ptr<Line> line) {
  if (lines_.count(line->id) != 0) return invalid("line " + line->id + ": added twice");
  Line& l = *line;
  for (std::size_t s = 0; s < l.streams.size(); ++s)
    l.reports.push_back([this, &l, s](const EchoStream::Answer& a) { report(l, s, a); });
  for (std::size_t s = 0; s < l.streams.size(); ++s) {
    EchoStream& stream = *l.streams[s];
    const Status watched =
        loop_->watch(stream.fd(), [&stream, &report = l.reports[s]] { stream.drain(report); });
    if (!watched.ok()) {
      for (std::size_t done = 0; done < s; ++done) loop_->unwatch(l.streams[done]->fd());
      return io_error("line " + l.id + ": " + watched.error().message);
    }
  }
  const MonoTime now = Steady::now();
  l.slot = now + phase_of(lines_added_++, l.interval);
  l.timer = loop_->add_timer(l.slot, [this, &l](MonoTime t) { return fire(l, t); });
  lines_.emplace(l.id, std::move(line));
  retune_ticks();
  return ok_status();
}

void LivenessEngine::remove_line(const std::string& line) {
  loop_->call([&] {
    const auto it = lines_.find(line);
    if (it == lines_.end()) return;
    Line& l = *it->second;
    loop_->cancel_timer(l.timer);
    for (const auto& stream : l.streams) {
      loop_->unwatch(stream->fd());
      stats_.ignored += stream->stats().ignored;
    }
    lines_.erase(it);
    retune_ticks();
  });
}

// The line's timer: one echo per reflector for the current slot, then the
// next slot. Slots that passed during a stall are skipped, not made up.
std::optional<Duration> LivenessEngine::fire(Line& line, MonoTime now) {
  const Duration lag = now - line.slot;
  stats_.loop_lag_max = std::max(stats_.loop_lag_max, lag);
  if (lag >= line.interval) {
    const auto behind = lag / line.interval;  // whole slots missed
    stats_.missed_slots += static_cast<std::uint64_t>(behind);
    line.slot += line.interval * behind;
  }
  for (std::size_t s = 0; s < line.streams.size(); ++s) {
    EchoStream& stream = *line.streams[s];
    for (std::size_t r = 0; r < stream.reflector_count(); ++r) {
      const EchoStream::Sent sent = stream.send(r);
      if (sent.error != 0) {
        ++stats_.send_errors;
        observer_.on_error(line.id, line.names[s][r], sent.seq,
                           EchoError{EchoError::Where::send, sent.error});
      } else {
        ++stats_.echoes;
        observer_.on_sent(line.id, line.names[s][r], sent.seq, sent.at);
      }
    }
    // The send stamps (and, on a short path, replies) are queued already:
    // reading them now saves the loop a wake-up for them.
    stream.drain(line.reports[s]);
  }
  // A tick rides on this wake-up when a quarter of the tick period has
  // passed; the tick timer is only the backstop and moves out of the way.
  if (tick_timer_ && now - last_tick_ >= tick_period_ / 4) {
    tick(now);
    loop_->reschedule(*tick_timer_, now + tick_period_);
  }
  line.slot += line.interval;
  return line.slot - now;
}

void LivenessEngine::tick(MonoTime now) {
  ++stats_.ticks;
  last_tick_ = now;
  observer_.on_tick(now);
}

void LivenessEngine::report(Line& line, std::size_t stream, const EchoStream::Answer& a) {
  const std::string& reflector = line.names[stream][a.reflector];
  if (a.kind == EchoStream::Answer::Kind::icmp_error) {
    ++stats_.icmp_errors;
    observer_.on_error(line.id, reflector, a.seq, EchoError{EchoError::Where::icmp, a.error});
    return;
  }
  ++stats_.replies;
  if (a.late) ++stats_.late_replies;
  observer_.on_reply(line.id, reflector, a.seq, a.sent, a.received, a.rtt);
}

// One tick timer for all lines: at most min(interval)/2 after the last tick.
void LivenessEngine::retune_ticks() {
  Duration period = Duration::max();
  for (const auto& [id, line] : lines_) period = std::min(period, line->interval / 2);
  if (lines_.empty()) period = Duration::zero();
  if (period == tick_period_) return;
  if (tick_timer_) loop_->cancel_timer(*tick_timer_);
  tick_timer_.reset();
  tick_period_ = period;
  if (period == Duration::zero()) return;
  tick_timer_ = loop_->add_timer(Steady::now() + period, [this](MonoTime now) {
    tick(now);
    return std::optional<Duration>(tick_period_);
  });
}

LivenessEngineStats LivenessEngine::stats() const {
  return loop_->call([this] {
    LivenessEngineStats s = stats_;
    for (const auto& [id, line] : lines_)
      for (const auto& stream : line->streams) s.ignored += stream->stats().ignored;
    return s;
  });
}

}  // namespace linewatch

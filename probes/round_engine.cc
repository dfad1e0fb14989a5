#include "probes/round_engine.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "probes/binding.h"
#include "probes/round_engine_state.h"

namespace linewatch {
namespace {

using Steady = std::chrono::steady_clock;

int wanted_family(const ProbeRequest& request) {
  if (request.spec.icmp.family == 4) return AF_INET;
  if (request.spec.icmp.family == 6) return AF_INET6;
  return binding_family(request.line.binding);
}

// Bucket b holds lags in [2^(b/2), 2^((b+1)/2)) ns.
// Without log2(): this runs for every timer firing. floor(2 log2 ns) is
// twice the top bit's place, plus one in the upper half of its octave.
std::size_t bucket_of(Duration lag, std::size_t buckets) {
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(lag.count(), 1));
  const std::size_t top = static_cast<std::size_t>(std::bit_width(ns)) - 1;
  const bool upper = static_cast<double>(ns) >= static_cast<double>(1ull << top) * M_SQRT2;
  return std::min(2 * top + (upper ? 1 : 0), buckets - 1);
}

Duration bucket_top(std::size_t b) {
  return Duration(static_cast<Duration::rep>(std::exp2(static_cast<double>(b + 1) / 2.0)));
}

}  // namespace

void LagWindow::roll(MonoTime now) {
  if (now - started_ < window_) return;
  before_ = now - started_ < 2 * window_ ? now_ : Half{};
  now_ = Half{};
  started_ = now;
}

void LagWindow::record(MonoTime now, Duration lag) {
  roll(now);
  ++now_.count[bucket_of(lag, kBuckets)];
  now_.max = std::max(now_.max, lag);
}

Duration LagWindow::p99(MonoTime now) {
  roll(now);
  std::uint64_t total = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) total += now_.count[b] + before_.count[b];
  if (total == 0) return Duration::zero();
  const std::uint64_t rank = total - total / 100;  // the sample at 99 %, rounded up
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += now_.count[b] + before_.count[b];
    if (seen >= rank) return std::min(bucket_top(b), max(now));
  }
  return max(now);
}

Duration LagWindow::max(MonoTime now) {
  roll(now);
  return std::max(now_.max, before_.max);
}

void RoundEngine::State::finish(RoundCommon& round, ProbeResult r) {
  r.line = round.request.line.id;
  r.target = round.request.target_id;
  r.kind = round.request.spec.kind;
  r.time = round.wall;
  r.duration = round.request.clock.now() - round.clock_start;
  if (r.ok) r.reason = Reason::ok;
  ++stats.rounds_done;
  round.done(std::move(r));
}

Result<std::unique_ptr<RoundEngine>> RoundEngine::start(RoundEngineOptions options) {
  auto loop = EventLoop::start();
  if (!loop) return loop.error();
  return std::unique_ptr<RoundEngine>(new RoundEngine(std::move(*loop), options));
}

RoundEngine::RoundEngine(std::unique_ptr<EventLoop> loop, RoundEngineOptions options)
    : state_(std::make_unique<State>(*loop, options)), loop_(std::move(loop)) {}

RoundEngine::~RoundEngine() { stop(); }

void RoundEngine::stop() {
  state_->stopped = true;
  loop_->stop();
}

bool RoundEngine::post(EventLoop::Callback fn) { return loop_->post(std::move(fn)); }

bool RoundEngine::handles(const ProbeSpec& spec) {
  if (spec.kind == ProbeKind::icmp) return true;
  return spec.kind == ProbeKind::tcp && spec.tcp->send.empty() && spec.tcp->expect.empty();
}

void RoundEngine::submit(const ProbeRequest& request, Done done) {
  if (state_->stopped) return;
  const MonoTime steady = Steady::now();
  RoundCommon common{state_->next_round++, request, std::move(done), request.clock.wall_now(),
                     request.clock.now(),  steady};
  ++state_->submitted;
  State* state = state_.get();
  const MonoTime deadline = steady + request.spec.timing.timeout;
  if (request.spec.kind == ProbeKind::icmp) {
    // A literal of the wanted family needs no look-up (nor its vector);
    // anything else, the wrong family's refusal included, is resolve_host's.
    const int family = wanted_family(request);
    SocketAddress literal;
    if (parse_numeric_address(request.spec.icmp.host, 0, literal) &&
        (family == AF_UNSPEC || literal.family() == family)) {
      if (loop_->in_loop_thread()) return state->start_icmp(std::move(common), literal);
      loop_->post([state, c = std::move(common), literal]() mutable {
        state->start_icmp(std::move(c), literal);
      });
      return;
    }
    auto addresses = resolve_host(request.spec.icmp.host, 0, family, deadline);
    if (!addresses.ok()) {
      ProbeResult r;
      r.kind = ProbeKind::icmp;
      r = failed(std::move(r), addresses.failure());
      if (loop_->in_loop_thread()) return state->finish(common, std::move(r));
      loop_->post([state, c = std::move(common), r = std::move(r)]() mutable {
        state->finish(c, std::move(r));
      });
      return;
    }
    if (loop_->in_loop_thread())
      return state->start_icmp(std::move(common), addresses.value().front());
    loop_->post([state, c = std::move(common), a = addresses.value().front()]() mutable {
      state->start_icmp(std::move(c), a);
    });
    return;
  }
  // TCP: as run_tcp, the DNS phase only for a name.
  const TcpOptions& tcp = *request.spec.tcp;
  auto round = std::make_unique<TcpRound>(std::move(common));
  round->deadline = deadline;
  SocketAddress literal;
  const bool numeric = parse_numeric_address(tcp.host, tcp.port, literal);
  const MonoTime dns_start = request.clock.now();
  auto addresses = resolve_host(tcp.host, tcp.port, binding_family(request.line.binding), deadline);
  if (addresses.ok()) {
    if (!numeric) round->dns = request.clock.now() - dns_start;
    round->addresses = std::move(addresses.value());
  } else {
    round->last = addresses.failure();
  }
  if (loop_->in_loop_thread()) return state->start_tcp(std::move(round));
  // shared_ptr: std::function needs a copyable callable.
  auto shared = std::make_shared<std::unique_ptr<TcpRound>>(std::move(round));
  loop_->post([state, shared] { state->start_tcp(std::move(*shared)); });
}

RoundEngineStats RoundEngine::stats() const {
  const EngineCounters& c = state_->stats;
  RoundEngineStats s;
  s.rounds_done = c.rounds_done.load(std::memory_order_relaxed);
  s.rounds_started = std::max(state_->submitted.load(), s.rounds_done);
  s.in_flight = s.rounds_started - s.rounds_done;
  s.icmp_sockets = c.icmp_sockets.load(std::memory_order_relaxed);
  s.echoes_sent = c.echoes_sent.load(std::memory_order_relaxed);
  s.replies = c.replies.load(std::memory_order_relaxed);
  s.send_stamped = c.send_stamped.load(std::memory_order_relaxed);
  s.receive_stamped = c.receive_stamped.load(std::memory_order_relaxed);
  s.late_replies = c.late_replies.load(std::memory_order_relaxed);
  s.ignored = c.ignored.load(std::memory_order_relaxed);
  s.overflow_drops = c.overflow_drops.load(std::memory_order_relaxed);
  s.receive_errors = c.receive_errors.load(std::memory_order_relaxed);
  s.send_errors = c.send_errors.load(std::memory_order_relaxed);
  s.connects = c.connects.load(std::memory_order_relaxed);
  std::lock_guard lock(state_->lag_mu);
  const MonoTime now = Steady::now();
  s.lag_p99 = state_->lag.p99(now);
  s.lag_max = state_->lag.max(now);
  return s;
}

}  // namespace linewatch

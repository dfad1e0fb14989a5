#include "rules/status_board.h"

#include <algorithm>
#include <cmath>

#include "core/round_codec.h"
#include "rules/alert_window.h"

namespace linewatch {

std::optional<Duration> quantile(std::vector<Duration>& values, double q) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least q of the sample at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(values.size())));
  rank = std::clamp<std::size_t>(rank, 1, values.size());
  return values[rank - 1];
}

namespace {

// A round's encoding, in order (each a varint):
//   zigzag(gap - previous gap)  gap: its arrival less that of the round before
//                               it in the series, in whole milliseconds,
//                               wrapping
//   head                        bit 0 ok; bit 1 received == sent; bit 2 the
//                               RTT count == received; above: sent (as a
//                               32-bit unsigned)
//   received (32-bit unsigned)  only without bit 1
//   RTT count                   only without bit 2
//   RTTs                        in microseconds (to_micros), each as zigzag of
//                               its difference from the RTT before: the first
//                               from the first RTT of the newest older round
//                               that has one (zero for none), the others from
//                               the previous RTT of the same round
// The common rounds (every echo answered) thus spend one byte on all but the
// arrival and the RTTs.
constexpr std::uint64_t kOk = 1, kAllReceived = 2, kRttsAreReceived = 4;

std::uint64_t get_varint(const ByteRing& ring, std::size_t& at) {
  std::uint64_t u = 0;
  for (int shift = 0;; shift += 7) {
    const std::uint8_t b = ring.at(at++);
    u |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return u;
  }
}

// The RTT samples a round adds to the window, in order, in microseconds as
// the alert windows keep them (to_micros): each answered echo for ICMP, so a
// round of 20 pings weighs 20 samples; otherwise the headline RTT of a
// successful round.
std::vector<std::uint32_t> rtts_of(const ProbeResult& r) {
  std::vector<std::uint32_t> out;
  if (r.rtts.empty()) {
    if (r.ok && r.rtt) out.push_back(to_micros(*r.rtt));
  } else {
    for (const auto& v : r.rtts)
      if (v) out.push_back(to_micros(*v));
  }
  return out;
}

std::int64_t difference(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b);
}

// Appends `rtts` to `out`, the first as its difference from `base`; returns
// the bytes they took.
std::size_t encode_rtts(const std::vector<std::uint32_t>& rtts, std::uint32_t base,
                        std::vector<std::uint8_t>& out) {
  const std::size_t before = out.size();
  std::uint32_t prev = base;
  for (std::uint32_t v : rtts) {
    put_varint(out, zigzag(difference(v, prev)));
    prev = v;
  }
  return out.size() - before;
}

// One round's head, decoded from the ring at `at`, which it moves past the head.
struct RoundHead {
  std::int64_t gap_change = 0;  // milliseconds
  bool ok = false;
  int sent = 0, received = 0;
  std::uint64_t rtts = 0;
};

RoundHead read_head(const ByteRing& ring, std::size_t& at) {
  RoundHead h;
  h.gap_change = unzigzag(get_varint(ring, at));
  const std::uint64_t head = get_varint(ring, at);
  h.ok = head & kOk;
  h.sent = static_cast<int>(static_cast<std::uint32_t>(head >> 3));
  h.received = head & kAllReceived
                   ? h.sent
                   : static_cast<int>(static_cast<std::uint32_t>(get_varint(ring, at)));
  h.rtts = head & kRttsAreReceived ? static_cast<std::uint64_t>(h.received) : get_varint(ring, at);
  return h;
}

// Appends `n` RTTs read from the ring at `at` to `rtts` (null: skips them);
// moves `at` past them and `base` to the first of them, if any.
void read_rtts(const ByteRing& ring, std::size_t& at, std::uint64_t n, std::uint32_t& base,
               std::vector<Duration>* rtts) {
  std::uint32_t prev = base;
  for (std::uint64_t i = 0; i < n; ++i) {
    prev = static_cast<std::uint32_t>(static_cast<std::int64_t>(prev) +
                                      unzigzag(get_varint(ring, at)));
    if (i == 0) base = prev;
    if (rtts) rtts->push_back(std::chrono::microseconds(prev));
  }
}

std::chrono::milliseconds wrapping_sub(std::chrono::milliseconds a, std::chrono::milliseconds b) {
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      static_cast<std::uint64_t>(a.count()) - static_cast<std::uint64_t>(b.count())));
}

std::chrono::milliseconds wrapping_add(std::chrono::milliseconds a, std::int64_t b) {
  return std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(
      static_cast<std::uint64_t>(a.count()) + static_cast<std::uint64_t>(b)));
}

// Heap bytes a string holds beyond its own object.
std::size_t heap_of(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

}  // namespace

StatusBoard::MonoMs StatusBoard::arrival(MonoTime now) {
  return std::chrono::ceil<std::chrono::milliseconds>(now);
}

void StatusBoard::record(const ProbeResult& result) {
  const std::vector<std::uint32_t> rtts = rtts_of(result);
  std::vector<std::uint8_t> latest;
  encode_round(result, latest);
  const MonoTime now = clock_.now();
  const MonoMs arrived = arrival(now);
  std::lock_guard lock(mu_);
  Series& s = series_[SeriesKey{result.line, result.target, result.kind}];
  expire(s, now);

  std::vector<std::uint8_t> bytes;
  const std::chrono::milliseconds gap =
      wrapping_sub(arrived.time_since_epoch(), s.back_arrived.time_since_epoch());
  put_varint(bytes, zigzag(wrapping_sub(gap, s.back_gap).count()));
  const bool all_received = result.received == result.sent;
  const bool rtts_are_received = static_cast<std::int64_t>(rtts.size()) == result.received;
  put_varint(bytes, (result.ok ? kOk : 0) | (all_received ? kAllReceived : 0) |
                        (rtts_are_received ? kRttsAreReceived : 0) |
                        std::uint64_t{static_cast<std::uint32_t>(result.sent)} << 3);
  if (!all_received) put_varint(bytes, static_cast<std::uint32_t>(result.received));
  if (!rtts_are_received) put_varint(bytes, rtts.size());
  const std::size_t echo_bytes = encode_rtts(rtts, s.back_rtt, bytes);

  make_room(s, echo_bytes);
  if (s.count == 0) {
    s.front_arrived = arrived;
    s.front_gap = gap;
    s.front_rtt = s.back_rtt;
  }
  s.rounds.push_back(bytes.data(), bytes.size());
  ++s.count;
  s.echo_bytes += echo_bytes;
  s.back_arrived = arrived;
  s.back_gap = gap;
  if (!rtts.empty()) s.back_rtt = rtts.front();
  // Only the newest failure is ever shown: rounds leave oldest first, so by
  // the time it leaves, every older failure has left too, and none is newer.
  if (!result.ok) {
    if (!s.failure) s.failure = std::make_unique<Failure>();
    *s.failure = Failure{s.next_seq, result.reason, result.time, result.detail};
  }
  ++s.next_seq;
  // Reallocates only when the size changes, and then to the exact size.
  if (s.latest.size() == latest.size()) {
    std::copy(latest.begin(), latest.end(), s.latest.begin());
  } else {
    s.latest = std::move(latest);
    s.latest.shrink_to_fit();
  }
}

// Drops the oldest round and reads the arrival of the one after it.
void StatusBoard::drop_oldest(Series& s) {
  std::size_t at = 0;
  const RoundHead h = read_head(s.rounds, at);
  const std::size_t rtts_at = at;
  read_rtts(s.rounds, at, h.rtts, s.front_rtt, nullptr);
  s.echo_bytes -= at - rtts_at;
  s.rounds.pop_front(at);
  if (--s.count == 0) return;
  std::size_t next = 0;
  const RoundHead n = read_head(s.rounds, next);
  s.front_gap = wrapping_add(s.front_gap, n.gap_change);
  s.front_arrived += s.front_gap;
}

void StatusBoard::expire(Series& s, MonoTime now) const {
  while (s.count > 0 && now - s.front_arrived > window_) drop_oldest(s);
}

// Called after expire(), so every round it drops was still inside the window.
void StatusBoard::make_room(Series& s, std::size_t echo_bytes) const {
  while (s.count > 0 &&
         (s.count >= limits_.max_rounds || s.echo_bytes + echo_bytes > limits_.max_echo_bytes)) {
    s.last_cut = s.front_arrived;
    drop_oldest(s);
  }
}

SeriesSummary StatusBoard::summarise(const SeriesKey& key, const Series& s, MonoTime now) const {
  SeriesSummary out;
  out.key = key;
  out.latest.line = key.line;
  out.latest.target = key.target;
  if (!decode_round(s.latest, out.latest)) {  // only by a bug: say so rather than show garbage
    out.latest = ProbeResult{};
    out.latest.line = key.line;
    out.latest.target = key.target;
    out.latest.kind = key.kind;
    out.latest.detail = "status board: the latest round could not be decoded";
  }
  std::vector<Duration> rtts;
  int sent = 0, received = 0;
  std::size_t at = 0;
  std::uint32_t base = s.front_rtt;
  for (std::size_t i = 0; i < s.count; ++i) {
    const RoundHead h = read_head(s.rounds, at);
    ++out.rounds;
    if (h.ok) ++out.ok_rounds;
    sent += h.sent;
    received += h.received;
    read_rtts(s.rounds, at, h.rtts, base, &rtts);
  }
  if (out.rounds > 0) {
    out.availability = static_cast<double>(out.ok_rounds) / out.rounds;
    out.loss = key.kind == ProbeKind::icmp && sent > 0 ? 1.0 - static_cast<double>(received) / sent
                                                       : 1.0 - out.availability;
    // The arrival is rounded up: a round just recorded may seem to arrive
    // in the future.
    out.covered = std::max(Duration::zero(), Duration(now - s.front_arrived));
  }
  // Consecutive RTTs across rounds, summed in window order.
  double jitter_sum = 0;
  for (std::size_t i = 1; i < rtts.size(); ++i)
    jitter_sum += std::abs(static_cast<double>((rtts[i] - rtts[i - 1]).count()));
  if (rtts.size() > 1) {
    const int jitter_n = static_cast<int>(rtts.size() - 1);
    out.jitter = Duration(static_cast<Duration::rep>(jitter_sum / jitter_n));
  }
  const std::uint64_t oldest_seq = s.next_seq - s.count;
  if (s.failure && s.failure->seq >= oldest_seq) {
    out.last_failure = s.failure->reason;
    out.last_failure_time = s.failure->time;
    out.last_failure_detail = s.failure->detail;
  }
  out.capped = s.last_cut != kNever && now - s.last_cut <= window_;
  out.rtt_p95 = quantile(rtts, 0.95);
  out.rtt_median = quantile(rtts, 0.5);
  return out;
}

std::vector<SeriesSummary> StatusBoard::snapshot() const {
  const MonoTime now = clock_.now();
  std::lock_guard lock(mu_);
  std::vector<SeriesSummary> out;
  out.reserve(series_.size());
  for (auto& [key, s] : series_) {
    expire(s, now);
    out.push_back(summarise(key, s, now));
  }
  return out;
}

SeriesUsage StatusBoard::usage(const SeriesKey& key) const {
  std::lock_guard lock(mu_);
  const auto it = series_.find(key);
  if (it == series_.end()) return {};
  const Series& s = it->second;
  std::size_t fixed = kMapNodeLinks + sizeof(*it) + heap_of(it->first.line) +
                      heap_of(it->first.target) + s.latest.capacity();
  if (s.failure) fixed += sizeof(Failure) + heap_of(s.failure->detail);
  return SeriesUsage{s.count, s.echo_bytes, s.rounds.size(), s.rounds.capacity(), fixed};
}

}  // namespace linewatch

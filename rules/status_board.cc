#include "rules/status_board.h"

#include <algorithm>
#include <cmath>

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

// RTT codec: zigzag varints, each RTT as its difference from the previous one
// of the same round (the first from zero). Differences wrap in unsigned
// arithmetic, so every Duration, negative or extreme, decodes to itself.

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}

std::int64_t unzigzag(std::uint64_t u) {
  return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
}

// A round's encoding, in order (each a varint):
//   zigzag(gap - previous gap)  gap: its arrival less that of the round before
//                               it in the series, in nanoseconds, wrapping
//   head                        bit 0 ok; bit 1 received == sent; bit 2 the
//                               RTT count == received; above: sent (as a
//                               32-bit unsigned)
//   received (32-bit unsigned)  only without bit 1
//   RTT count                   only without bit 2
//   RTTs                        as above, as many as the count
// The common rounds (every echo answered) thus spend one byte on all but the
// arrival and the RTTs.
constexpr std::uint64_t kOk = 1, kAllReceived = 2, kRttsAreReceived = 4;

void put_varint(std::vector<std::uint8_t>& out, std::uint64_t u) {
  for (; u >= 0x80; u >>= 7) out.push_back(static_cast<std::uint8_t>(u | 0x80));
  out.push_back(static_cast<std::uint8_t>(u));
}

std::uint64_t get_varint(const ByteRing& ring, std::size_t& at) {
  std::uint64_t u = 0;
  for (int shift = 0;; shift += 7) {
    const std::uint8_t b = ring.at(at++);
    u |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return u;
  }
}

// The RTT samples a round adds to the window, in order: each answered echo for
// ICMP, so a round of 20 pings weighs 20 samples; otherwise the headline RTT of
// a successful round.
std::vector<Duration> rtts_of(const ProbeResult& r) {
  std::vector<Duration> out;
  if (r.rtts.empty()) {
    if (r.ok && r.rtt) out.push_back(*r.rtt);
  } else {
    for (const auto& v : r.rtts)
      if (v) out.push_back(*v);
  }
  return out;
}

// Appends `rtts` to `out`; returns the bytes they took.
std::size_t encode_rtts(const std::vector<Duration>& rtts, std::vector<std::uint8_t>& out) {
  const std::size_t before = out.size();
  std::uint64_t prev = 0;
  for (Duration d : rtts) {
    const auto v = static_cast<std::uint64_t>(d.count());
    put_varint(out, zigzag(static_cast<std::int64_t>(v - prev)));
    prev = v;
  }
  return out.size() - before;
}

// One round's head, decoded from the ring at `at`, which it moves past the head.
struct RoundHead {
  std::int64_t gap_change = 0;
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
// moves `at` past them.
void read_rtts(const ByteRing& ring, std::size_t& at, std::uint64_t n,
               std::vector<Duration>* rtts) {
  std::uint64_t prev = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    prev += static_cast<std::uint64_t>(unzigzag(get_varint(ring, at)));
    if (rtts) rtts->push_back(Duration(static_cast<Duration::rep>(prev)));
  }
}

Duration wrapping_sub(Duration a, Duration b) {
  return Duration(static_cast<Duration::rep>(static_cast<std::uint64_t>(a.count()) -
                                             static_cast<std::uint64_t>(b.count())));
}

Duration wrapping_add(Duration a, std::int64_t b) {
  return Duration(static_cast<Duration::rep>(static_cast<std::uint64_t>(a.count()) +
                                             static_cast<std::uint64_t>(b)));
}

}  // namespace

void StatusBoard::record(const ProbeResult& result) {
  const std::vector<Duration> rtts = rtts_of(result);
  const MonoTime now = clock_.now();
  std::lock_guard lock(mu_);
  Series& s = series_[SeriesKey{result.line, result.target, result.kind}];
  expire(s, now);

  std::vector<std::uint8_t> bytes;
  const Duration gap = wrapping_sub(now.time_since_epoch(), s.back_arrived.time_since_epoch());
  put_varint(bytes, zigzag(wrapping_sub(gap, s.back_gap).count()));
  const bool all_received = result.received == result.sent;
  const bool rtts_are_received = static_cast<std::int64_t>(rtts.size()) == result.received;
  put_varint(bytes, (result.ok ? kOk : 0) | (all_received ? kAllReceived : 0) |
                        (rtts_are_received ? kRttsAreReceived : 0) |
                        std::uint64_t{static_cast<std::uint32_t>(result.sent)} << 3);
  if (!all_received) put_varint(bytes, static_cast<std::uint32_t>(result.received));
  if (!rtts_are_received) put_varint(bytes, rtts.size());
  const std::size_t echo_bytes = encode_rtts(rtts, bytes);

  make_room(s, echo_bytes);
  if (s.count == 0) {
    s.front_arrived = now;
    s.front_gap = gap;
  }
  s.rounds.push_back(bytes.data(), bytes.size());
  ++s.count;
  s.echo_bytes += echo_bytes;
  s.back_arrived = now;
  s.back_gap = gap;
  // Only the newest failure is ever shown: rounds leave oldest first, so by
  // the time it leaves, every older failure has left too, and none is newer.
  if (!result.ok) s.failure = Failure{s.next_seq, result.reason, result.time, result.detail};
  ++s.next_seq;
  s.latest = result;
}

// Drops the oldest round and reads the arrival of the one after it.
void StatusBoard::drop_oldest(Series& s) {
  std::size_t at = 0;
  const RoundHead h = read_head(s.rounds, at);
  const std::size_t rtts_at = at;
  read_rtts(s.rounds, at, h.rtts, nullptr);
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
  out.latest = s.latest;
  std::vector<Duration> rtts;
  int sent = 0, received = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < s.count; ++i) {
    const RoundHead h = read_head(s.rounds, at);
    ++out.rounds;
    if (h.ok) ++out.ok_rounds;
    sent += h.sent;
    received += h.received;
    read_rtts(s.rounds, at, h.rtts, &rtts);
  }
  if (out.rounds > 0) {
    out.availability = static_cast<double>(out.ok_rounds) / out.rounds;
    out.loss = key.kind == ProbeKind::icmp && sent > 0 ? 1.0 - static_cast<double>(received) / sent
                                                       : 1.0 - out.availability;
    out.covered = now - s.front_arrived;
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
  out.capped = s.last_cut && now - *s.last_cut <= window_;
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
  return SeriesUsage{s.count, s.echo_bytes, s.rounds.size(), s.rounds.capacity()};
}

}  // namespace linewatch

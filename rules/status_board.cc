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

// The RTT samples a round adds to the window, in order: each answered echo for
// ICMP, so a round of 20 pings weighs 20 samples; otherwise the headline RTT of
// a successful round.
std::vector<std::uint8_t> encode_rtts(const ProbeResult& r) {
  std::vector<std::uint8_t> out;
  std::uint64_t prev = 0;
  auto put = [&out, &prev](Duration d) {
    const auto v = static_cast<std::uint64_t>(d.count());
    std::uint64_t u = zigzag(static_cast<std::int64_t>(v - prev));
    prev = v;
    for (; u >= 0x80; u >>= 7) out.push_back(static_cast<std::uint8_t>(u | 0x80));
    out.push_back(static_cast<std::uint8_t>(u));
  };
  if (r.rtts.empty()) {
    if (r.ok && r.rtt) put(*r.rtt);
  } else {
    for (const auto& v : r.rtts)
      if (v) put(*v);
  }
  return out;
}

// Appends the `n` bytes of one round's RTTs starting at `at` to `rtts`;
// returns the position after them.
std::deque<std::uint8_t>::const_iterator decode_rtts(std::deque<std::uint8_t>::const_iterator at,
                                                     std::size_t n, std::vector<Duration>& rtts) {
  const auto end = at + static_cast<std::ptrdiff_t>(n);
  std::uint64_t prev = 0;
  while (at != end) {
    std::uint64_t u = 0;
    for (int shift = 0;; shift += 7) {
      const std::uint8_t b = *at++;
      u |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    prev += static_cast<std::uint64_t>(unzigzag(u));
    rtts.push_back(Duration(static_cast<Duration::rep>(prev)));
  }
  return at;
}

}  // namespace

void StatusBoard::record(const ProbeResult& result) {
  const std::vector<std::uint8_t> rtts = encode_rtts(result);
  const MonoTime now = clock_.now();
  std::lock_guard lock(mu_);
  Series& s = series_[SeriesKey{result.line, result.target, result.kind}];
  expire(s, now);
  make_room(s, rtts.size());
  s.rounds.push_back(StoredRound{now, result.sent, result.received,
                                 static_cast<std::uint32_t>(rtts.size()), result.ok});
  s.echoes.insert(s.echoes.end(), rtts.begin(), rtts.end());
  // Only the newest failure is ever shown: rounds leave oldest first, so by
  // the time it leaves, every older failure has left too, and none is newer.
  if (!result.ok) s.failure = Failure{s.next_seq, result.reason, result.time, result.detail};
  ++s.next_seq;
  s.latest = result;
}

void StatusBoard::drop_oldest(Series& s) {
  s.echoes.erase(s.echoes.begin(),
                 s.echoes.begin() + static_cast<std::ptrdiff_t>(s.rounds.front().echo_bytes));
  s.rounds.pop_front();
}

void StatusBoard::expire(Series& s, MonoTime now) const {
  while (!s.rounds.empty() && now - s.rounds.front().arrived > window_) drop_oldest(s);
}

// Called after expire(), so every round it drops was still inside the window.
void StatusBoard::make_room(Series& s, std::size_t echo_bytes) const {
  while (!s.rounds.empty() && (s.rounds.size() >= limits_.max_rounds ||
                               s.echoes.size() + echo_bytes > limits_.max_echo_bytes)) {
    s.last_cut = s.rounds.front().arrived;
    drop_oldest(s);
  }
}

SeriesSummary StatusBoard::summarise(const SeriesKey& key, const Series& s, MonoTime now) const {
  SeriesSummary out;
  out.key = key;
  out.latest = s.latest;
  std::vector<Duration> rtts;
  int sent = 0, received = 0;
  auto at = s.echoes.cbegin();
  for (const StoredRound& r : s.rounds) {
    ++out.rounds;
    if (r.ok) ++out.ok_rounds;
    sent += r.sent;
    received += r.received;
    at = decode_rtts(at, r.echo_bytes, rtts);
  }
  if (out.rounds > 0) {
    out.availability = static_cast<double>(out.ok_rounds) / out.rounds;
    out.loss = key.kind == ProbeKind::icmp && sent > 0 ? 1.0 - static_cast<double>(received) / sent
                                                       : 1.0 - out.availability;
    out.covered = now - s.rounds.front().arrived;
  }
  // Consecutive RTTs across rounds, summed in window order.
  double jitter_sum = 0;
  for (std::size_t i = 1; i < rtts.size(); ++i)
    jitter_sum += std::abs(static_cast<double>((rtts[i] - rtts[i - 1]).count()));
  if (rtts.size() > 1) {
    const int jitter_n = static_cast<int>(rtts.size() - 1);
    out.jitter = Duration(static_cast<Duration::rep>(jitter_sum / jitter_n));
  }
  const std::uint64_t oldest_seq = s.next_seq - s.rounds.size();
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
  return SeriesUsage{it->second.rounds.size(), it->second.echoes.size()};
}

}  // namespace linewatch

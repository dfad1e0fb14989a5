#include "tests/lab/linesim/model.h"

#include <algorithm>
#include <utility>

namespace linewatch::linesim {
namespace {

// Transmission time of `bytes` at `bps` (bps > 0). 64 KiB * 8e9 fits in 63 bits.
Duration serialization(std::size_t bytes, std::uint64_t bps) {
  return Duration(static_cast<Duration::rep>(std::uint64_t{bytes} * 8ULL * 1'000'000'000ULL / bps));
}

constexpr std::size_t kPoolMax = 1024;  // buffers kept for reuse

}  // namespace

LineModel::LineModel(std::uint64_t seed, QueueLimits limits) : limits_(limits), rng_(seed) {}

void LineModel::set_settings(const LineSettings& settings) {
  bool cutting = settings.cut && !settings_.cut;
  settings_ = settings;
  if (cutting) drop_all_held();
}

void LineModel::drop_all_held() {
  for (Lane& l : lanes_) {
    while (!l.fifo.empty()) {
      ++l.counters.dropped_down;
      pop_front(l);
    }
  }
}

Duration LineModel::jitter_sample(const DirSettings& s) {
  if (s.jitter <= Duration::zero()) return Duration::zero();
  const double j = static_cast<double>(s.jitter.count());
  if (s.dist == Dist::uniform) {
    return Duration(
        static_cast<Duration::rep>(std::uniform_real_distribution<double>(-j, j)(rng_)));
  }
  std::normal_distribution<double> normal(0.0, j);
  double x = normal(rng_);
  // Truncate at 3 sigma by redrawing (0.27 % of draws); the bound on tries
  // keeps the cost fixed, the final clamp keeps the bound exact.
  for (int i = 0; i < 8 && std::abs(x) > 3 * j; ++i) x = normal(rng_);
  return Duration(static_cast<Duration::rep>(std::clamp(x, -3 * j, 3 * j)));
}

Duration LineModel::draw_latency(Dir dir) {
  const DirSettings& s = dir_settings(dir);
  return std::max(Duration::zero(), s.delay + jitter_sample(s));
}

Verdict LineModel::admit(Dir dir, MonoTime now, std::span<const std::uint8_t> packet) {
  Lane& l = lane(dir);
  const DirSettings& s = dir_settings(dir);
  ++l.counters.in;
  if (settings_.cut) {
    ++l.counters.dropped_down;
    return Verdict::dropped_down;
  }
  if (s.loss > 0 && std::uniform_real_distribution<double>(0.0, 1.0)(rng_) < s.loss) {
    ++l.counters.dropped_loss;
    return Verdict::dropped_loss;
  }
  MonoTime release = now + draw_latency(dir);
  release = std::max(release, l.last_release);
  if (s.rate_bps > 0) release = std::max(release, l.link_free);
  if (release <= now && l.fifo.empty()) {
    l.last_release = release;
    if (s.rate_bps > 0) l.link_free = release + serialization(packet.size(), s.rate_bps);
    ++l.counters.out;
    return Verdict::send_now;
  }
  if (l.fifo.size() >= limits_.max_packets || l.bytes + packet.size() > limits_.max_bytes) {
    ++l.counters.dropped_queue;
    return Verdict::dropped_queue;
  }
  l.last_release = release;
  if (s.rate_bps > 0) l.link_free = release + serialization(packet.size(), s.rate_bps);
  hold(l, release, packet);
  return Verdict::held;
}

void LineModel::hold(Lane& l, MonoTime release, std::span<const std::uint8_t> packet) {
  std::vector<std::uint8_t> buf;
  if (!pool_.empty()) {
    buf = std::move(pool_.back());
    pool_.pop_back();
  }
  buf.assign(packet.begin(), packet.end());
  l.bytes += buf.size();
  l.fifo.push_back(Held{release, std::move(buf)});
}

void LineModel::pop_front(Lane& l) {
  Held& h = l.fifo.front();
  l.bytes -= h.bytes.size();
  if (pool_.size() < kPoolMax) pool_.push_back(std::move(h.bytes));
  l.fifo.pop_front();
}

std::optional<MonoTime> LineModel::next_release() const {
  std::optional<MonoTime> next;
  for (const Lane& l : lanes_) {
    if (!l.fifo.empty() && (!next || l.fifo.front().release < *next)) next = l.fifo.front().release;
  }
  return next;
}

}  // namespace linewatch::linesim

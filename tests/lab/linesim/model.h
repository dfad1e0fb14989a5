// The impairment model of one emulated line: per packet it decides drop or a
// release time, and holds packets in a per-direction FIFO until then.
//
// Per packet read at `now` (in this order):
//   line cut -> drop (dropped_down); loss draw -> drop (dropped_loss);
//   release = now + max(0, delay + jitter sample), where the sample is
//     normal(0, jitter) truncated at +-3 sigma, or uniform in [-jitter, +jitter];
//   release = max(release, previous release in this direction): packets are
//     never reordered, so each FIFO stays sorted by release time and the head
//     is always the next packet due (a deque, no heap);
//   rate cap: release = max(release, link_free); link_free = release + bits/rate;
//   queue full (max_packets or max_bytes) -> drop (dropped_queue);
//   release <= now and nothing held in this direction -> send now, no copy.
// A settings change applies to packets admitted afterwards; held packets keep
// their release time. Cutting the line drops what is held (dropped_down).
// Time is passed in, and the generator is seeded, so tests are deterministic.
//
// Cost: admit() is O(1) amortized; a held packet's bytes live in a buffer
// recycled through a free list, so the steady state allocates nothing.
// Thread-safety: none; one thread owns a LineModel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <span>
#include <vector>

#include "core/time.h"
#include "tests/lab/linesim/packet.h"
#include "tests/lab/linesim/settings.h"

namespace linewatch::linesim {

struct QueueLimits {
  std::size_t max_packets = 10000;           // per direction
  std::size_t max_bytes = 16 * 1024 * 1024;  // per direction
};

struct Counters {
  std::uint64_t in = 0;  // every packet admitted or dropped
  std::uint64_t out = 0;
  std::uint64_t dropped_loss = 0;
  std::uint64_t dropped_down = 0;
  std::uint64_t dropped_queue = 0;
};

enum class Verdict { send_now, held, dropped_down, dropped_loss, dropped_queue };

class LineModel {
 public:
  explicit LineModel(std::uint64_t seed, QueueLimits limits = {});

  const LineSettings& settings() const { return settings_; }
  // Replaces the settings. Cutting (cut false -> true) drops everything held.
  void set_settings(const LineSettings& settings);

  // Decides the fate of `packet`, read at `now`. On send_now the caller writes
  // `packet` itself (counted as out); on held the model copied it.
  Verdict admit(Dir dir, MonoTime now, std::span<const std::uint8_t> packet);

  // Calls emit(std::span<const std::uint8_t>) for every held packet with
  // release <= now, each direction in order; the span is valid only during
  // the call. Returns how many were emitted.
  template <class Emit>
  std::size_t release_due(MonoTime now, Emit&& emit);

  // The earliest release time of any held packet; nullopt when none is held.
  std::optional<MonoTime> next_release() const;

  const Counters& counters(Dir dir) const { return lane(dir).counters; }
  std::size_t queued(Dir dir) const { return lane(dir).fifo.size(); }

  // One draw of delay + jitter for `dir`, clamped at zero: what admit() adds
  // before the in-order and rate clamps. Public for distribution tests.
  Duration draw_latency(Dir dir);

 private:
  struct Held {
    MonoTime release;
    std::vector<std::uint8_t> bytes;
  };
  struct Lane {
    std::deque<Held> fifo;
    std::size_t bytes = 0;
    MonoTime last_release{};
    MonoTime link_free{};
    Counters counters;
  };

  Lane& lane(Dir d) { return lanes_[static_cast<int>(d)]; }
  const Lane& lane(Dir d) const { return lanes_[static_cast<int>(d)]; }
  const DirSettings& dir_settings(Dir d) const {
    return d == Dir::up ? settings_.up : settings_.down;
  }
  Duration jitter_sample(const DirSettings& s);
  void hold(Lane& l, MonoTime release, std::span<const std::uint8_t> packet);
  void pop_front(Lane& l);
  void drop_all_held();

  LineSettings settings_;
  QueueLimits limits_;
  std::mt19937_64 rng_;
  Lane lanes_[2];
  std::vector<std::vector<std::uint8_t>> pool_;  // recycled packet buffers
};

template <class Emit>
std::size_t LineModel::release_due(MonoTime now, Emit&& emit) {
  std::size_t n = 0;
  for (Lane& l : lanes_) {
    while (!l.fifo.empty() && l.fifo.front().release <= now) {
      const auto& b = l.fifo.front().bytes;
      emit(std::span<const std::uint8_t>(b.data(), b.size()));
      ++l.counters.out;
      pop_front(l);
      ++n;
    }
  }
  return n;
}

}  // namespace linewatch::linesim

// FailoverInbox: the bounded queue between the failover's producers (the
// liveness engine's loop, probe workers, the bandwidth sampler) and its one
// decision thread.
//
// push() never blocks its caller beyond a short critical section: when the
// inbox holds `capacity` inputs, the new one is dropped and counted (a
// dropped reply may at worst make a line look silent; a dropped tick at worst
// makes the liveness tracker TILT, which takes no action). The consumer takes
// everything queued at once, in push order.
//
// Thread-safety: push(), dropped() and close() from any thread; wait(),
// pause() and take() from the one consumer thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "agent/failover_input.h"
#include "core/time.h"

namespace linewatch {

class FailoverInbox {
 public:
  struct Batch {
    std::vector<FailoverInput> inputs;  // in push order
    std::optional<MonoTime> oldest;     // when the first of them was pushed
  };

  explicit FailoverInbox(std::size_t capacity) : capacity_(capacity) {}

  // Queues `input`, pushed at `now`. `wake` wakes a consumer blocked in
  // wait() (ticks do; the rest waits for the next tick). Returns false when
  // the input was dropped: inbox full (counted) or closed (not counted).
  bool push(FailoverInput input, MonoTime now, bool wake);

  // Everything queued, oldest first; the inbox is empty afterwards.
  Batch take();

  // Blocks until an input with `wake` was pushed since the last take(),
  // `timeout` passed, or close(). Returns false once closed.
  bool wait(Duration timeout);
  // Blocks for `d` unless closed meanwhile. Returns false once closed.
  bool pause(Duration d);

  // Wakes the consumer for good; later pushes are ignored.
  void close();

  std::uint64_t dropped() const;
  std::size_t capacity() const { return capacity_; }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<FailoverInput> queue_;  // guarded by mu_
  std::optional<MonoTime> oldest_;    // guarded by mu_
  bool woken_ = false;                // guarded by mu_
  bool closed_ = false;               // guarded by mu_
  std::uint64_t dropped_ = 0;         // guarded by mu_
};

}  // namespace linewatch

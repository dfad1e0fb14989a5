#include "agent/heap_trim.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace linewatch {

using Steady = std::chrono::steady_clock;

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

std::uint64_t trim_heap() {
  const std::uint64_t before = resident_bytes();
  malloc_trim(0);
  const std::uint64_t after = resident_bytes();
  return before > after ? before - after : 0;
}

HeapTrimmer::HeapTrimmer(HeapTrimOptions options) : options_(options), thread_([this] { run(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void HeapTrimmer::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  wake_.notify_all();
}

HeapTrimStats HeapTrimmer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void HeapTrimmer::run() {
  std::unique_lock lock(mu_);
  auto due = Steady::now() + options_.after;
  while (!stop_) {
    wake_.wait_until(lock, due, [&] { return stop_ || poked_; });
    if (stop_) return;
    if (poked_) {
      // Let the poker's work end and free its memory first.
      poked_ = false;
      due = std::min(due, Steady::now() + options_.poke_delay);
      continue;
    }
    if (Steady::now() < due) continue;
    lock.unlock();
    const std::uint64_t released = trim_heap();
    const std::uint64_t rss = resident_bytes();
    lock.lock();
    ++stats_.trims;
    stats_.released_bytes += released;
    stats_.rss_bytes = rss;
    due = Steady::now() + options_.period;
  }
}

}  // namespace linewatch

// HeapTrimmer: hands the heap's free pages back to the kernel now and then.
//
// Why: glibc keeps what the agent frees. Start-up parses the whole config
// through yaml-cpp's node tree (about 16 MB of small blocks at 10,000
// targets, freed before the first round), and the per-series windows grow
// in steps as they fill, each step freeing the smaller block it replaced.
// Those pages stay resident between live blocks, where glibc's own trimming
// (the top of the heap only) never reaches them: measured at 10,000 targets,
// a third of the heap was free yet resident. malloc_trim(0) releases every
// whole free page of every arena (madvise), without moving a live block.
//
// The trimmer runs malloc_trim(0) on a thread of its own `after` start, then
// every `period`, and soon after each poke() (a reload, a large answer). It
// reads the process's resident size around each trim for its stats.
//
// Thread-safety: poke() and stats() from any thread; the destructor from the
// owner, after which no trim runs (it waits for one already running: a trim
// takes milliseconds).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "core/time.h"

namespace linewatch {

struct HeapTrimOptions {
  Duration after = std::chrono::seconds(2);       // the first trim, once start-up freed its parse
  Duration period = std::chrono::seconds(30);     // then at least this often
  Duration poke_delay = std::chrono::seconds(1);  // a poke's trim, once its work is freed
};

struct HeapTrimStats {
  std::uint64_t trims = 0;           // malloc_trim calls made
  std::uint64_t released_bytes = 0;  // resident bytes they gave back, summed
  std::uint64_t rss_bytes = 0;       // resident size after the last trim
};

// The process's resident set size in bytes (/proc/self/statm); 0 when unreadable.
std::uint64_t resident_bytes();

// One trim now, on the caller's thread: the resident bytes it gave back (0
// when the resident size did not fall).
std::uint64_t trim_heap();

class HeapTrimmer {
 public:
  explicit HeapTrimmer(HeapTrimOptions options = {});
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  // Asks for a trim poke_delay from now (sooner when one is due anyway).
  void poke();
  HeapTrimStats stats() const;

 private:
  void run();

  const HeapTrimOptions options_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;    // guarded by mu_
  bool poked_ = false;   // guarded by mu_
  HeapTrimStats stats_;  // guarded by mu_
  std::thread thread_;   // last: runs run()
};

}  // namespace linewatch

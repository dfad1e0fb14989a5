// Internal to mockllm: what every request handler shares with the Server —
// the behaviours in force, the stop signal, reply numbering, the log and the
// last timing records.
//
// Thread-safety: all members may be used from any thread; the behaviours,
// the stop flag and the records are guarded by one mutex, the reply counter
// is atomic, the rest is immutable after construction. Handlers hold a
// shared_ptr so a handler that outlives the Server (an aborted connection
// still unwinding) never dangles.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/time.h"
#include "tests/lab/mockllm/behaviour.h"
#include "tests/lab/mockllm/record.h"

namespace linewatch::mockllm {

// Timing records kept for /mock/records (the oldest are dropped first).
inline constexpr std::size_t kRecordsKept = 1000;

class SharedState {
 public:
  SharedState(Behaviours initial, std::function<void(const std::string&)> log)
      : initial_(initial), log_(std::move(log)), behaviours_(std::move(initial)) {}

  void log(const std::string& line) const {
    if (log_) log_(line);
  }

  // The behaviours the server started with (what /mock/config "reset" restores).
  const Behaviours& initial() const { return initial_; }
  Behaviours behaviours() const;
  Behaviour behaviour(Flavour f) const;
  void set_behaviours(const Behaviours& all);
  // Replaces the behaviours with change(current) under the lock, so two
  // controllers cannot undo each other's change. Failure: change's error,
  // nothing replaced.
  Result<Behaviours> update(const std::function<Result<Behaviours>(const Behaviours&)>& change);

  // Blocks until `until` or until stop() is called. Returns false when
  // stopping, so a pacing reply gives up at once.
  bool sleep_until(MonoTime until) const;
  void stop();
  bool stopping() const;

  // 1, 2, ...: unique within the process run (reply ids are made from it).
  std::uint64_t next_reply_number() { return next_reply_.fetch_add(1); }

  // Numbers `r` (Record::seq), keeps it and logs its JSON line.
  void add_record(Record r);
  // The kept records with seq > `after`, the newest `last` of them, oldest first.
  std::vector<Record> records(std::uint64_t after, std::size_t last) const;

 private:
  const Behaviours initial_;
  const std::function<void(const std::string&)> log_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Behaviours behaviours_;       // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::deque<Record> records_;  // guarded by mu_
  std::uint64_t last_seq_ = 0;  // guarded by mu_
  std::atomic<std::uint64_t> next_reply_{1};
};

}  // namespace linewatch::mockllm

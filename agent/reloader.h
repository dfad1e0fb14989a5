// Reloader: config reloads (SIGHUP, POST /-/reload) run one at a time on a
// thread of its own, so that two never interleave and no caller's thread
// (the signal loop, the API's one thread) does the work.
//
// A reload has two halves: the verdict (the file read, validated and
// compared with the running config; the parts that can fail built) and then
// the apply (swapping parts in, stopping the old scheduler with a grace of
// its longest round). The job publishes its verdict through the promise as
// soon as it has it, then applies: a caller waits for the verdict, never for
// the apply. Requests that come while one is queued and not yet started
// share it (a burst of SIGHUPs is one reload), so the queue holds at most
// one.
//
// Thread-safety: request() from any thread; the destructor from the owner,
// after which no job runs (a queued one is dropped, its verdict a failure).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace linewatch {

// What a reload ended in: the verdict POST /-/reload answers with.
struct ReloadOutcome {
  bool ok = false;
  // Why it was refused, one problem each: "FILE:LINE:COL: key: message" as
  // the config loader reports them, "agent.listen: changed from ... ; this
  // takes a restart", or what a part said when it could not be built.
  std::vector<std::string> errors;
  std::string config;            // the file read (the one the agent started with)
  std::uint64_t generation = 0;  // of the config in force after it: 1 at start, +1 per good reload
};

class Reloader {
 public:
  // Runs one reload: sets the promise's value once the verdict is known
  // (exactly once), then applies. Must not throw.
  using Job = std::function<void(std::promise<ReloadOutcome>&)>;

  explicit Reloader(Job job) : job_(std::move(job)), thread_([this] { run(); }) {}
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  // Asks for a reload; the future gets its verdict. Never blocks on one.
  std::shared_future<ReloadOutcome> request();

 private:
  void run();

  Job job_;
  std::mutex mu_;
  std::condition_variable wake_;
  // The request not yet started, shared by whoever asks before it starts.
  std::unique_ptr<std::promise<ReloadOutcome>> queued_;  // guarded by mu_
  std::shared_future<ReloadOutcome> queued_future_;      // guarded by mu_
  bool stopping_ = false;                                // guarded by mu_
  std::thread thread_;                                   // last: runs run()
};

}  // namespace linewatch

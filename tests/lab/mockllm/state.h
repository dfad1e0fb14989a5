// Internal to mockllm: what every request handler shares with the Server.
//
// Thread-safety: all members may be used from any thread; the mutable knobs
// are guarded by one mutex, the id counter is atomic, the rest is immutable
// after construction. Handlers hold a shared_ptr so a handler that outlives
// the Server (an aborted connection still unwinding) never dangles.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/time.h"
#include "tests/lab/mockllm/server.h"

namespace linewatch::mockllm {

class SharedState {
 public:
  SharedState(std::vector<std::string> tokens, std::vector<std::string> models,
              std::function<void(const std::string&)> log, Behaviour behaviour)
      : tokens_(std::move(tokens)),
        models_(std::move(models)),
        log_(std::move(log)),
        behaviour_(behaviour) {}

  const std::vector<std::string>& tokens() const { return tokens_; }
  const std::vector<std::string>& models() const { return models_; }
  bool has_model(const std::string& id) const;
  // True when no token is configured or `header` is "Bearer <accepted token>".
  bool authorised(const std::string& header) const;
  void log(const std::string& line) const {
    if (log_) log_(line);
  }

  Behaviour behaviour() const;
  void set_behaviour(const Behaviour& b);

  // Blocks until `until` or until stop() is called. Returns false when
  // stopping, so a pacing reply gives up at once.
  bool sleep_until(MonoTime until) const;
  void stop();
  bool stopping() const;

  // "chatcmpl-mock<N>", unique within the process run.
  std::string next_completion_id();

 private:
  const std::vector<std::string> tokens_;
  const std::vector<std::string> models_;
  const std::function<void(const std::string&)> log_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  Behaviour behaviour_;    // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace linewatch::mockllm

// StopSignals: SIGINT and SIGTERM for a foreground command (`run`, `gateway`),
// taken synchronously instead of by a handler.
//
// Construct it before the command starts any thread: the signals are blocked
// in the calling thread, every thread started later inherits the mask, and so
// only wait() ever sees them. Not copyable; use from the owner's thread.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <string>

namespace linewatch {

class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until SIGINT or SIGTERM arrives; returns its name for the log.
  std::string wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig == SIGINT ? "INT" : "TERM";
  }

 private:
  sigset_t set_;
};

}  // namespace linewatch

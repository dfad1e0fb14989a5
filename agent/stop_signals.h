// StopSignals: SIGINT and SIGTERM for a foreground command (`run`, `gateway`),
// taken synchronously instead of by a handler; with `hangup`, SIGHUP too
// (`run`: reload the config), which wait() returns as "HUP" without stopping.
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
  explicit StopSignals(bool hangup = false) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    if (hangup) sigaddset(&set_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Blocks until SIGINT, SIGTERM (or with `hangup`, SIGHUP) arrives; returns
  // its name ("INT", "TERM", "HUP") for the log.
  std::string wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig == SIGINT ? "INT" : sig == SIGHUP ? "HUP" : "TERM";
  }

 private:
  sigset_t set_;
};

}  // namespace linewatch

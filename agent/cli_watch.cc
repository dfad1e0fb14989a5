#include "agent/cli_watch.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <ostream>
#include <sstream>

#include "agent/json.h"
#include "core/units.h"

namespace linewatch {
namespace {

// Blocks SIGINT and SIGTERM for its lifetime, so they wait for take() rather
// than kill the process mid-draw; on destruction any still pending is taken,
// then the old mask comes back.
class BlockedStopSignals {
 public:
  BlockedStopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockedStopSignals() {
    take(Duration::zero());
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  BlockedStopSignals(const BlockedStopSignals&) = delete;
  BlockedStopSignals& operator=(const BlockedStopSignals&) = delete;

  // Waits up to `wait` for one of the signals; true when one came.
  bool take(Duration wait) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(wait, Duration::zero()));
    timespec ts{static_cast<time_t>(ns.count() / 1'000'000'000),
                static_cast<long>(ns.count() % 1'000'000'000)};
    while (true) {
      const int sig = sigtimedwait(&set_, nullptr, &ts);
      if (sig > 0) return true;
      if (errno != EINTR) return false;  // EAGAIN: the time is up
    }
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

}  // namespace

int watch(const WatchOptions& options, const Refresh& refresh, std::ostream& out,
          std::ostream& err) {
  BlockedStopSignals signals;
  SystemClock clock;
  int code = 2;
  for (int done = 0; options.count == 0 || done < options.count; ++done) {
    const MonoTime started = clock.now();
    std::ostringstream body, errors;
    code = refresh(body, errors);
    if (options.clear_screen)
      out << "\x1b[H\x1b[2J";  // cursor home, clear screen
    else if (done > 0 && options.header)
      out << "\n";
    if (options.header)
      out << "every " << format_duration(options.interval) << ": " << options.title << "  "
          << format_time(clock.wall_now()).substr(0, 19) << "Z\n";
    out << body.str() << std::flush;
    err << errors.str() << std::flush;
    if (options.count != 0 && done + 1 >= options.count) break;
    if (signals.take(options.interval - (clock.now() - started))) break;
  }
  return code;
}

}  // namespace linewatch

// Client mode: send one control command to a running linesim.
// Thread-safety: thread-safe (no shared state).
#pragma once

#include <iosfwd>
#include <string>

#include "core/time.h"

namespace linewatch::linesim {

// Connects to `path`, sends `command` plus a newline and prints the one reply
// line to `out`. Returns the process exit code: 0 when the reply is "ok..." or
// JSON ("{"), 1 when it is "error: ..." (or anything else), 2 when it cannot
// connect or no reply arrives within `timeout` (message on `err`).
int run_client(const std::string& path, const std::string& command, std::ostream& out,
               std::ostream& err, Duration timeout = std::chrono::seconds(5));

}  // namespace linewatch::linesim

#include "agent/log.h"

#include <unistd.h>

#include <chrono>
#include <string>

#include "agent/json.h"

namespace linewatch {

void log(LogLevel level, std::string_view message) {
  static constexpr std::string_view kNames[] = {"info", "warn", "error"};
  std::string line = format_time(std::chrono::system_clock::now());
  line += ' ';
  line += kNames[static_cast<int>(level)];
  line += ' ';
  line += message;
  line += '\n';
  // A short write to stderr is not worth handling: there is nowhere to report it.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace linewatch

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

std::string log_quote(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : value) {
    const auto b = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (b < 0x20 || b == 0x7f) {
          out += "\\x";
          out += kHex[b >> 4];
          out += kHex[b & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace linewatch

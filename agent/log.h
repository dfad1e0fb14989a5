// Plain line logging to stderr: "TIME LEVEL key=value ... message".
// Each line goes out in a single write(2), so lines from probe workers never
// interleave. Callers must not pass secrets; nothing here redacts.
#pragma once

#include <string_view>

namespace linewatch {

enum class LogLevel { info, warn, error };

void log(LogLevel level, std::string_view message);

}  // namespace linewatch

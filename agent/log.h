// Plain line logging to stderr: "TIME LEVEL key=value ... message".
// Each line goes out in a single write(2), so lines from probe workers never
// interleave. Callers must not pass secrets; nothing here redacts.
#pragma once

#include <string>
#include <string_view>

namespace linewatch {

enum class LogLevel { info, warn, error };

void log(LogLevel level, std::string_view message);

// `value` as a quoted field for a log line: wrapped in double quotes, with a
// backslash or quote inside escaped (\\ \"), and control bytes written as
// \n, \r, \t or \xNN, so a value can end neither its field nor its line.
// For values that may hold a server's text (a probe's detail).
std::string log_quote(std::string_view value);

}  // namespace linewatch

#include "tests/lab/linesim/fd.h"

#include <cerrno>
#include <cstring>

namespace linewatch::linesim {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace linewatch::linesim

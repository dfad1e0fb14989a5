#include "tests/lab/linesim/fd.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace linewatch::linesim {

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace linewatch::linesim

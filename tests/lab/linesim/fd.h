// linesim's I/O helpers: the owning descriptor (core/fd.h) and errno formatting.
// Thread-safety: an Fd is a plain move-only value.
#pragma once

#include <string>

#include "core/fd.h"

namespace linewatch::linesim {

using linewatch::Fd;  // core/fd.h

// "what: strerror(errno)" for the current errno.
std::string errno_text(const std::string& what);

}  // namespace linewatch::linesim

// Attaching to an existing TUN device.
// Thread-safety: thread-safe; the device is looked up in the calling thread's
// network namespace.
#pragma once

#include <string>

#include "core/error.h"
#include "tests/lab/linesim/fd.h"

namespace linewatch::linesim {

// Opens /dev/net/tun and attaches to the existing device `name` as IFF_TUN |
// IFF_NO_PI (raw IP packets), non-blocking. A missing device is an error
// rather than silently creating a transient one. Success: the owning fd.
// Failure: not_found (no such device) or io (open/ioctl, e.g. EBUSY when
// another reader is attached).
Result<Fd> attach_tun(const std::string& name);

}  // namespace linewatch::linesim

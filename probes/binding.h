// Pins a socket to a line: source address, device and fwmark.
//
// A binding that cannot be applied is an error (Reason::bind), never ignored:
// a probe that silently left by the default route would measure the wrong line.
#pragma once

#include <sys/socket.h>

#include "core/config.h"
#include "core/error.h"

namespace linewatch {

// Applies `binding` to the unconnected socket `fd` of address family `family`
// (AF_INET or AF_INET6): SO_BINDTODEVICE, SO_MARK, then bind() to the source
// address (port 0). On failure the message names the setting and the errno
// text, e.g. "source 198.18.9.9: Cannot assign requested address".
// Does not take ownership of fd.
Status apply_binding(int fd, int family, const LineBinding& binding);

// The address family the binding forces: AF_INET/AF_INET6 for a source
// address, AF_UNSPEC when it has none.
int binding_family(const LineBinding& binding);

}  // namespace linewatch

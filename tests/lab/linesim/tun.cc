#include "tests/lab/linesim/tun.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

#include <cstring>

namespace linewatch::linesim {

Result<Fd> attach_tun(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return invalid("--dev: bad interface name");
  if (::if_nametoindex(name.c_str()) == 0)
    return Error{ErrorCode::not_found, "--dev " + name +
                                           ": no such device (create it with "
                                           "`ip tuntap add dev " +
                                           name + " mode tun`)"};
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return io_error(errno_text("open /dev/net/tun"));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) return io_error(errno_text("TUNSETIFF " + name));
  return fd;
}

}  // namespace linewatch::linesim

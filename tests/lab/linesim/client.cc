#include "tests/lab/linesim/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <ostream>

#include "tests/lab/linesim/fd.h"

namespace linewatch::linesim {
namespace {

// Reads until a newline, EOF or the deadline. Returns the line without "\n",
// or sets `why` and returns nullopt-equivalent (empty + why).
bool read_line(int fd, MonoTime deadline, std::string& line, std::string& why) {
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return (why = "no reply before the timeout", false);
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return (why = errno_text("poll"), false);
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return (why = errno_text("recv"), false);
    if (n == 0) return (why = "connection closed without a reply", false);
    line.append(buf, static_cast<std::size_t>(n));
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      line.resize(nl);
      return true;
    }
  }
}

}  // namespace

int run_client(const std::string& path, const std::string& command, std::ostream& out,
               std::ostream& err, Duration timeout) {
  MonoTime deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    err << "linesim: --control path empty or too long\n";
    return 2;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() ||
      ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    err << "linesim: " << errno_text("connect " + path) << "\n";
    return 2;
  }
  std::string msg = command + "\n";
  if (::send(fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size())) {
    err << "linesim: " << errno_text("send to " + path) << "\n";
    return 2;
  }
  std::string reply, why;
  if (!read_line(fd.get(), deadline, reply, why)) {
    err << "linesim: " << path << ": " << why << "\n";
    return 2;
  }
  out << reply << "\n";
  return reply.rfind("ok", 0) == 0 || reply.rfind("{", 0) == 0 ? 0 : 1;
}

}  // namespace linewatch::linesim

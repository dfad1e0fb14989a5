#include "tests/lab/linesim/control_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace linewatch::linesim {
namespace {

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return invalid("--control: path empty or longer than " +
                   std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// Removes `path` if it is a socket nobody listens on any more.
Status clear_stale(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return ok_status();  // nothing there
  if (!S_ISSOCK(st.st_mode)) return io_error("--control " + path + ": exists and is not a socket");
  Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return io_error(errno_text("socket"));
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
    return io_error("--control " + path + ": another process is listening there");
  if (::unlink(path.c_str()) != 0) return io_error(errno_text("unlink stale " + path));
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::listen(const std::string& path) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  if (Status s = clear_stale(path, *addr); !s) return s.error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return io_error(errno_text("socket"));
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
    return io_error(errno_text("bind --control " + path));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || ::listen(fd.get(), 16) != 0) {
    Status err = io_error(errno_text("listen --control " + path));
    ::unlink(path.c_str());
    return err.error();
  }
  return std::unique_ptr<ControlServer>(
      new ControlServer(path, std::move(fd), st.st_dev, st.st_ino));
}

ControlServer::~ControlServer() {
  clients_.clear();
  struct stat st {};
  // Someone may have replaced the file (a second linesim after clearing ours
  // as stale); only remove the socket this server created.
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    ::unlink(path_.c_str());
}

void ControlServer::accept_pending(const std::function<void(int)>& add) {
  for (;;) {
    Fd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!c.valid()) return;                        // EAGAIN, or a client that went away already
    if (clients_.size() >= kMaxClients) continue;  // closed by Fd
    int fd = c.get();
    clients_[fd] = Client{std::move(c), {}};
    add(fd);
  }
}

bool ControlServer::serve(int fd, const Handler& handle) {
  Client& c = clients_.at(fd);
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = c.pending.find('\n')) != std::string::npos) {
      if (nl > kMaxLine) return false;
      std::string reply = handle(std::string_view(c.pending).substr(0, nl)) + "\n";
      c.pending.erase(0, nl + 1);
      ssize_t w = ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w != static_cast<ssize_t>(reply.size())) return false;
    }
    if (c.pending.size() > kMaxLine) return false;
  }
}

}  // namespace linewatch::linesim

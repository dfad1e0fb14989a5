// The listening side of the control socket: a unix stream socket whose
// clients send one command per line and get one reply line per command.
//
// Never blocks the packet loop: sockets are non-blocking, a reply that does
// not fit the client's socket buffer at once (a client that pipelines
// thousands of commands without reading) closes that client, as does a line
// longer than kMaxLine. At most kMaxClients are served at once.
// Thread-safety: none; one thread owns a ControlServer.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "tests/lab/linesim/fd.h"

namespace linewatch::linesim {

class ControlServer {
 public:
  static constexpr std::size_t kMaxLine = 4096;
  static constexpr std::size_t kMaxClients = 32;
  using Handler = std::function<std::string(std::string_view)>;

  // Binds and listens on `path`. A stale socket file (nobody accepting) is
  // replaced; a live one is an error (another linesim owns it), as is a path
  // that exists and is not a socket. Failure: io naming the path.
  static Result<std::unique_ptr<ControlServer>> listen(const std::string& path);
  // Closes every client and removes the socket file if it is still ours.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int listen_fd() const { return listen_.get(); }
  // Accepts what is pending; calls add(fd) for each new client so the caller
  // can watch it. The server keeps ownership of the fds.
  void accept_pending(const std::function<void(int)>& add);
  bool is_client(int fd) const { return clients_.count(fd) != 0; }
  // Reads what `fd` sent and answers each complete line with handle(line).
  // Returns false when the client is finished (EOF, error, overlong line,
  // reply not written at once); the caller then unwatches it and calls close().
  bool serve(int fd, const Handler& handle);
  void close(int fd) { clients_.erase(fd); }

 private:
  ControlServer(std::string path, Fd listen, dev_t dev, ino_t ino)
      : path_(std::move(path)), listen_(std::move(listen)), dev_(dev), ino_(ino) {}
  struct Client {
    Fd fd;
    std::string pending;  // bytes after the last newline
  };

  std::string path_;
  Fd listen_;
  dev_t dev_;
  ino_t ino_;
  std::map<int, Client> clients_;
};

}  // namespace linewatch::linesim

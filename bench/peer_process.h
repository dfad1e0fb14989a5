// PeerProcess: a peer tool (fping, ping, ...) run beside linewatch by a
// benchmark, with its stderr captured (where fping prints its figures), its
// stdout discarded, and its CPU time taken from wait4() when it ends.
//
// Ended only by its own PID (signal()), never by name. Header-only, like
// bench_util.h. Thread-safety: one PeerProcess per thread.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "core/fd.h"

extern char** environ;

namespace linewatch::bench {

class PeerProcess {
 public:
  using Steady = std::chrono::steady_clock;

  // Starts args[0] (looked up in PATH) with args. On failure running() is
  // false and error() says why.
  explicit PeerProcess(std::vector<std::string> args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
      error_ = std::string("pipe: ") + std::strerror(errno);
      return;
    }
    Fd write_end(pipefd[1]);
    read_end_ = Fd(pipefd[0]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, write_end.get(), STDERR_FILENO);
    const int rc = posix_spawnp(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      error_ = "spawn " + args[0] + ": " + std::strerror(rc);
      pid_ = -1;
    }
  }
  ~PeerProcess() {
    if (pid_ > 0) {
      signal(SIGKILL);
      wait();
    }
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  bool running() const { return pid_ > 0; }
  const std::string& error() const { return error_; }

  // Reads its stderr into `out` until it closes (true) or `deadline` (false).
  // Reading while it runs keeps a full pipe from blocking it.
  bool read_until(std::string& out, Steady::time_point deadline) {
    char buf[8192];
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
      if (left <= 0) return false;
      pollfd p{read_end_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      const ssize_t n = ::read(read_end_.get(), buf, sizeof(buf));
      if (n == 0) return true;
      if (n < 0) {
        if (errno == EINTR) continue;
        return true;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // Reaps it; its exit status and the CPU it used (user + system).
  struct Ended {
    int status = 0;
    rusage usage{};
  };
  Ended wait() {
    Ended e;
    if (pid_ <= 0) return e;
    while (::wait4(pid_, &e.status, 0, &e.usage) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return e;
  }

 private:
  pid_t pid_ = -1;
  Fd read_end_;
  std::string error_;
};

}  // namespace linewatch::bench

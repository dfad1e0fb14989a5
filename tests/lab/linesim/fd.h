// An owning file descriptor for linesim's I/O shell, and errno formatting.
// Thread-safety: an Fd is a plain move-only value.
#pragma once

#include <string>
#include <utility>

namespace linewatch::linesim {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller must close the returned fd.
  int release() { return std::exchange(fd_, -1); }
  // Closes the owned fd (if any) and takes `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// "what: strerror(errno)" for the current errno.
std::string errno_text(const std::string& what);

}  // namespace linewatch::linesim

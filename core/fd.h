// Fd: owns one file descriptor and closes it on destruction. Move-only.
// Shared by every module that holds sockets or devices, so each descriptor has
// exactly one owner and none leaks on an early return.
// Thread-safety: a plain value; one Fd must not be used from two threads.
#pragma once

#include <utility>

namespace linewatch {

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

}  // namespace linewatch

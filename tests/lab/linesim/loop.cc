#include "tests/lab/linesim/loop.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "tests/lab/linesim/control.h"
#include "tests/lab/linesim/tun.h"

namespace linewatch::linesim {
namespace {

Status watch(int epoll_fd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) return io_error(errno_text("epoll_ctl"));
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<Linesim>> Linesim::open(const LoopOptions& o) {
  auto tun = attach_tun(o.dev);
  if (!tun) return tun.error();
  auto control = ControlServer::listen(o.control_path);
  if (!control) return control.error();
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer.valid()) return io_error(errno_text("timerfd_create"));
  return std::unique_ptr<Linesim>(
      new Linesim(o, std::move(*tun), std::move(*control), std::move(timer)));
}

Linesim::Linesim(const LoopOptions& o, Fd tun, std::unique_ptr<ControlServer> control, Fd timer)
    : far_(o.far),
      model_(o.seed, o.limits),
      spin_(o.spin),
      tun_(std::move(tun)),
      control_(std::move(control)),
      timer_(std::move(timer)),
      buf_(65536) {}

Status Linesim::run(int stop_fd) {
  ::prctl(PR_SET_TIMERSLACK, 1000UL);  // 1 us: release times are the product
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep.valid()) return io_error(errno_text("epoll_create1"));
  for (int fd : {tun_.get(), timer_.get(), control_->listen_fd(), stop_fd}) {
    if (Status s = watch(ep.get(), fd); !s) return s;
  }
  auto handle = [this](std::string_view line) {
    std::string reply = handle_command(model_, line);
    rearm();  // a cut empties the queues
    return reply;
  };
  epoll_event events[16];
  for (;;) {
    int n = ::epoll_wait(ep.get(), events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error(errno_text("epoll_wait"));
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == stop_fd) return ok_status();
      if (fd == tun_.get()) {
        if (Status s = on_tun(); !s) return s;
      } else if (fd == timer_.get()) {
        std::uint64_t expirations;
        if (::read(fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
          return io_error(errno_text("read timerfd"));
        armed_.reset();
        // The timer fired up to spin_ early: wait out the rest on the CPU.
        if (auto next = model_.next_release()) {
          const MonoTime until = std::min(*next, std::chrono::steady_clock::now() + spin_);
          while (std::chrono::steady_clock::now() < until) {
          }
        }
        release_due();
      } else if (fd == control_->listen_fd()) {
        control_->accept_pending([&](int c) { (void)watch(ep.get(), c); });
      } else if (control_->is_client(fd) && !control_->serve(fd, handle)) {
        ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr);
        control_->close(fd);
      }
    }
  }
}

Status Linesim::on_tun() {
  for (int i = 0; i < kBatch; ++i) {
    ssize_t n = ::read(tun_.get(), buf_.data(), buf_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      return io_error(errno_text("read tun"));
    }
    std::span<const std::uint8_t> pkt(buf_.data(), static_cast<std::size_t>(n));
    MonoTime now = std::chrono::steady_clock::now();
    if (model_.admit(classify(pkt, far_), now, pkt) == Verdict::send_now &&
        ::write(tun_.get(), pkt.data(), pkt.size()) != n)
      ++write_errors_;
  }
  release_due();
  return ok_status();
}

void Linesim::release_due() {
  model_.release_due(std::chrono::steady_clock::now(), [this](std::span<const std::uint8_t> p) {
    if (::write(tun_.get(), p.data(), p.size()) != static_cast<ssize_t>(p.size())) ++write_errors_;
  });
  rearm();
}

void Linesim::rearm() {
  std::optional<MonoTime> next = model_.next_release();
  if (next == armed_) return;
  itimerspec spec{};
  if (next) {
    auto ns = (*next - spin_).time_since_epoch().count();
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  ::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
  armed_ = next;
}

}  // namespace linewatch::linesim

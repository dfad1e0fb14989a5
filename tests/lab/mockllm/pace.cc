#include "tests/lab/mockllm/pace.h"

#include <Poco/Net/SocketImpl.h>
#include <poll.h>

#include <algorithm>

namespace linewatch::mockllm {
namespace {

// How often a waiting request looks for a hang-up: a poll() per slice.
constexpr Duration kSlice = std::chrono::milliseconds(50);

}  // namespace

Wake Pacer::wait_until(MonoTime until) const {
  for (;;) {
    const MonoTime now = std::chrono::steady_clock::now();
    if (now >= until) return Wake::due;
    const MonoTime next = std::min(until, now + kSlice);
    if (!state_.sleep_until(next)) return Wake::stopping;
    if (next < until && client_gone()) return Wake::client_gone;
  }
}

bool Pacer::client_gone() const {
  pollfd p{};
  p.fd = socket_.impl()->sockfd();
  p.events = POLLRDHUP;
  if (::poll(&p, 1, 0) < 0) return false;  // EINTR and the like: look again next slice
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

}  // namespace linewatch::mockllm

#include "agent/failover_inbox.h"

#include <utility>

namespace linewatch {

bool FailoverInbox::push(FailoverInput input, MonoTime now, bool wake) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (queue_.size() >= capacity_) {
      ++dropped_;
      return false;
    }
    if (queue_.empty()) oldest_ = now;
    queue_.push_back(std::move(input));
    if (!wake || woken_) return true;
    woken_ = true;
  }
  cv_.notify_one();
  return true;
}

FailoverInbox::Batch FailoverInbox::take() {
  Batch b;
  std::lock_guard lock(mu_);
  b.inputs.swap(queue_);
  b.oldest = std::exchange(oldest_, std::nullopt);
  woken_ = false;
  return b;
}

bool FailoverInbox::wait(Duration timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return woken_ || closed_; });
  return !closed_;
}

bool FailoverInbox::pause(Duration d) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, d, [&] { return closed_; });
  return !closed_;
}

void FailoverInbox::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::uint64_t FailoverInbox::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

}  // namespace linewatch

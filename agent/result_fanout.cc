#include "agent/result_fanout.h"

#include <utility>

namespace linewatch {

bool ResultFanout::subscribe(Subscriber subscriber) {
  if (frozen_.load(std::memory_order_acquire) || !subscriber) return false;
  subscribers_.push_back(std::move(subscriber));
  return true;
}

void ResultFanout::publish(const ProbeResult& result) {
  // Set before the first read of the list, so a late subscribe() can only
  // be refused, never race with a worker walking the vector.
  if (!frozen_.load(std::memory_order_relaxed)) frozen_.store(true, std::memory_order_release);
  for (const Subscriber& s : subscribers_) s(result);
}

}  // namespace linewatch

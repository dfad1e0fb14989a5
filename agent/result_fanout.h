// ResultFanout: hands every probe result to every consumer that subscribed
// (status board, storage writer, failover, later metrics and alerts), so a
// new consumer is one subscribe() call and touches no probe.
//
// Subscribers are registered while the agent is being wired, before the first
// publish(); after that the list is frozen and subscribe() refuses. publish()
// runs every subscriber in subscription order on the caller's thread (a probe
// worker), so each subscriber must be cheap and must never block on I/O, a
// slow peer or another component: copy what it needs, or queue it and return
// (the store's submit() and Failover::on_result() do that). Subscribers must
// not throw and must be safe to call from several threads at once.
//
// Thread-safety: subscribe() from the owner during set-up; publish() from any
// number of threads once set-up is done.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <vector>

#include "core/probe_result.h"

namespace linewatch {

class ResultFanout {
 public:
  using Subscriber = std::function<void(const ProbeResult&)>;

  // Adds `subscriber` after those already there. Returns false, and adds
  // nothing, once publish() has been called: the list may no longer change
  // while workers read it.
  bool subscribe(Subscriber subscriber);

  // Calls every subscriber with `result`, in subscription order. The result
  // is only borrowed for the calls.
  void publish(const ProbeResult& result);

  std::size_t subscribers() const { return subscribers_.size(); }

 private:
  std::vector<Subscriber> subscribers_;  // frozen at the first publish()
  std::atomic<bool> frozen_{false};
};

}  // namespace linewatch

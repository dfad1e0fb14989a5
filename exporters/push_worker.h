// PlanPusher::Worker: the thread and delivery state of one gateway. Internal
// to exporters/plan_pusher.cc; the contract is in exporters/plan_pusher.h.
//
// Thread-safety: offer(), status() and stop() from any thread; the members
// marked "worker thread only" are touched by the gateway thread alone, the
// rest under mu_. Events are emitted with no lock held.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <thread>

#include "exporters/plan_pusher.h"
#include "exporters/plan_receiver.h"

namespace linewatch {

class PlanPusher::Worker {
 public:
  // Starts the gateway's thread. `events` and `clock` must outlive this.
  Worker(GatewayStatus identity, std::unique_ptr<PlanReceiver> receiver, const PushOptions& options,
         EventSink& events, const Clock& clock);
  ~Worker();  // stop()
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Makes `plan` the one to deliver (unless an older version than the newest
  // offered) and wakes the thread.
  void offer(std::shared_ptr<const RoutePlan> plan);
  GatewayStatus status() const;
  // Asks the thread to end (waits and a running program end at once); returns at once.
  void request_stop() { thread_.request_stop(); }
  // request_stop(), then joins.
  void stop();

 private:
  using Steady = std::chrono::steady_clock;

  void run(std::stop_token stop);
  // The plan to send now: waits for one that is not in force yet, and for
  // the back-off of a plan that just failed. nullptr once stop is requested.
  std::shared_ptr<const RoutePlan> next_plan(std::stop_token stop);
  bool pending() const;  // mu_ held
  // Updates the status and back-off for the outcome; returns the event to emit.
  std::optional<Event> record(const RoutePlan& plan, const DeliveryOutcome& o, bool retry);
  Duration retry_delay(const DeliveryOutcome& o);  // mu_ held
  Event make_event(const DeliveryOutcome& o, std::string detail) const;

  const std::unique_ptr<PlanReceiver> receiver_;
  const PushOptions options_;
  EventSink& events_;
  const Clock& clock_;

  // Worker thread only.
  std::mt19937_64 rng_;
  std::optional<std::uint64_t> last_tried_;  // version of the previous attempt

  mutable std::mutex mu_;
  std::condition_variable_any cv_;            // wakes the thread: a new plan or stop
  std::shared_ptr<const RoutePlan> latest_;   // guarded by mu_: newest offered
  GatewayStatus status_;                      // guarded by mu_ (pending set on read)
  std::optional<std::uint64_t> backing_off_;  // guarded by mu_: version that failed last
  Steady::time_point retry_at_{};             // guarded by mu_: when it may go again
  int streak_ = 0;                            // guarded by mu_: transient failures in a row
  std::string outcome_key_;                   // guarded by mu_: last outcome, for events

  std::mutex join_mu_;   // serialises stop() against itself
  std::jthread thread_;  // last: starts once everything above exists
};

}  // namespace linewatch

// OutboxSender::Receiver: the queue walk, back-off and thread of one
// receiver. Internal to exporters/notify_outbox.cc; the contract is in
// exporters/notify_outbox.h.
//
// Thread-safety: step() runs on one thread at a time (the receiver's own, or
// send_due()'s caller before start); wake(), status() and stop() from any
// thread. Members marked "stepping thread only" are touched by step() alone,
// the rest under mu_. Events are emitted with no lock held.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "exporters/notify_outbox.h"

namespace linewatch {

class OutboxSender::Receiver {
 public:
  // `where` names the receiver's config entry in messages ("notify[2]").
  // `outbox`, `events` and `clock` must outlive this. Starts no thread.
  Receiver(NotifierSpec spec, std::string where, Outbox& outbox, EventSink& events,
           const Clock& clock, const OutboxSenderOptions& options);
  ~Receiver();  // stop()
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  // Looks at the receiver's head row and sends it if due. Returns when there
  // is something to do next, on Clock::now: now after an attempt (the next row
  // may be due), the head's retry time, or now + idle_poll when the queue is
  // empty.
  MonoTime step(std::stop_token stop);

  void start();  // the thread: step() and wait, until stop()
  void wake();   // something was enqueued or unparked: look now
  void request_stop() { thread_.request_stop(); }
  void stop();  // request_stop(), then join
  ReceiverStatus status() const;
  const std::string& id() const { return spec_.id; }

 private:
  void run(std::stop_token stop);
  MonoTime due_at(const OutboxRow& row, MonoTime now);  // stepping thread only
  // Sends `row` once and records the outcome, unless `stop` cut the attempt.
  void attempt(const OutboxRow& row, std::stop_token stop);
  void delivered(const OutboxRow& row, const Notification& n, const Delivery& d);
  void retry_later(const OutboxRow& row, const std::string& nid, const Delivery& d);
  void park(const OutboxRow& row, const std::string& nid, const Delivery& d);
  // A read or write of the outbox failed: one notify_failed per episode.
  void storage_failed(const Error& e);
  void count_attempt(const Delivery& d);  // mu_ held
  void emit(std::string kind, std::string reason, std::string detail) const;

  const NotifierSpec spec_;
  const std::string where_;
  Outbox& outbox_;
  EventSink& events_;
  const Clock& clock_;
  const OutboxSenderOptions options_;

  // Stepping thread only.
  std::optional<std::int64_t> waiting_id_;  // the head row whose retry time is known
  MonoTime retry_at_{};                     // ... and that time
  std::string outcome_key_;                 // the last failure ("reason/status"), for events
  std::uint64_t failed_in_row_ = 0;         // failed attempts since the last delivery
  std::optional<MonoTime> failing_since_;   // when they began

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool woken_ = false;     // guarded by mu_
  ReceiverStatus status_;  // guarded by mu_

  std::mutex join_mu_;   // serialises stop() against itself
  std::jthread thread_;  // started by start(); last, so it ends first
};

}  // namespace linewatch

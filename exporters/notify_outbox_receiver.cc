#include "exporters/notify_outbox_receiver.h"

#include <algorithm>

#include "exporters/plan_receiver.h"

namespace linewatch {
namespace {

Delivery local_failure(Delivery::Kind kind, std::string reason, std::string detail) {
  Delivery d;
  d.kind = kind;
  d.reason = std::move(reason);
  d.detail = std::move(detail);
  return d;
}

std::string attempts_text(std::uint64_t n) {
  return std::to_string(n) + (n == 1 ? " failed attempt" : " failed attempts");
}

}  // namespace

OutboxSender::Receiver::Receiver(NotifierSpec spec, std::string where, Outbox& outbox,
                                 EventSink& events, const Clock& clock,
                                 const OutboxSenderOptions& options)
    : spec_(std::move(spec)),
      where_(std::move(where)),
      outbox_(outbox),
      events_(events),
      clock_(clock),
      options_(options) {
  status_.id = spec_.id;
  status_.kind = spec_.kind;
}

OutboxSender::Receiver::~Receiver() { stop(); }

void OutboxSender::Receiver::start() {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void OutboxSender::Receiver::stop() {
  std::lock_guard join(join_mu_);
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void OutboxSender::Receiver::wake() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

ReceiverStatus OutboxSender::Receiver::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

void OutboxSender::Receiver::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    const MonoTime next = step(stop);
    std::unique_lock lk(mu_);
    // Waits in real time for what is left on the injected clock, at most
    // idle_poll at once, so a clock that jumps is looked at again.
    const Duration left = std::min(next - clock_.now(), options_.idle_poll);
    if (left > Duration::zero()) cv_.wait_for(lk, stop, left, [this] { return woken_; });
    woken_ = false;
  }
}

MonoTime OutboxSender::Receiver::step(std::stop_token stop) {
  const MonoTime now = clock_.now();
  auto head = outbox_.head(spec_.id);
  if (!head) {
    storage_failed(head.error());
    return now + options_.storage_retry;
  }
  if (outcome_key_ == "storage") outcome_key_.clear();  // the outbox answers again
  if (!*head) return now + options_.idle_poll;
  const OutboxRow& row = **head;
  const MonoTime due = due_at(row, now);
  if (due > now) return due;
  attempt(row, stop);
  return clock_.now();
}

MonoTime OutboxSender::Receiver::due_at(const OutboxRow& row, MonoTime now) {
  if (waiting_id_ == row.id) return retry_at_;
  waiting_id_ = row.id;
  retry_at_ = now;
  if (row.attempts > 0) {
    // Tried before this sender knew it (a restart, another process): what is
    // left of its stored wait, no more than the longest one it can have.
    const OutboxBackoff& b = outbox_.backoff();
    const Duration longest = std::max(b.max, b.retry_after_max);
    retry_at_ +=
        std::clamp<Duration>(row.next_attempt - clock_.wall_now(), Duration::zero(), longest);
  }
  return retry_at_;
}

void OutboxSender::Receiver::attempt(const OutboxRow& row, std::stop_token stop) {
  auto n = notification_from_payload(row.notification);
  if (!n) {
    park(row, "(unreadable)",
         local_failure(Delivery::Kind::permanent, "bad_payload", n.error().message));
    return;
  }
  Delivery d;
  if (auto secrets = resolve_secrets(spec_, where_, options_.env); !secrets) {
    d = local_failure(Delivery::Kind::transient, "secrets", secrets.error().message);
  } else if (auto post = format(spec_, *n, *secrets, clock_.wall_now()); !post) {
    d = local_failure(Delivery::Kind::transient, "format", post.error().message);
  } else {
    d = deliver(*post, spec_.timeout, stop);
    if (stop.stop_requested() && d.reason == "cancelled") return;  // not an outcome
  }
  switch (d.kind) {
    case Delivery::Kind::ok:
      delivered(row, *n, d);
      break;
    case Delivery::Kind::transient:
      retry_later(row, n->id, d);
      break;
    case Delivery::Kind::permanent:
      park(row, n->id, d);
      break;
  }
}

void OutboxSender::Receiver::count_attempt(const Delivery& d) {
  ++status_.attempts;
  status_.last_attempt = clock_.wall_now();
  status_.last_reason = d.reason;
  status_.last_error = d.kind == Delivery::Kind::ok ? "" : d.detail;
}

void OutboxSender::Receiver::delivered(const OutboxRow& row, const Notification& n,
                                       const Delivery& d) {
  // Not deleted (storage trouble): sent again later, which the idempotency
  // key makes harmless; the wait keeps it from repeating at once.
  if (auto s = outbox_.delivered(row.id); !s) {
    storage_failed(s.error());
    retry_at_ = clock_.now() + options_.storage_retry;
  } else {
    waiting_id_.reset();
  }
  const std::uint64_t failed = failed_in_row_;
  const std::optional<MonoTime> since = failing_since_;
  failed_in_row_ = 0;
  failing_since_.reset();
  outcome_key_.clear();
  {
    std::lock_guard lk(mu_);
    count_attempt(d);
    ++status_.delivered;
    status_.failing = false;
  }
  if (failed > 0)
    emit("notify_delivered", "recovered",
         spec_.id + " took notification " + n.id + " after " + attempts_text(failed) + " over " +
             duration_text(clock_.now() - *since) + " (" + d.detail + ")");
}

void OutboxSender::Receiver::retry_later(const OutboxRow& row, const std::string& nid,
                                         const Delivery& d) {
  auto wait = outbox_.failed(row.id, d.detail, d.retry_after, clock_.wall_now());
  if (!wait && wait.error().code == ErrorCode::not_found) {
    waiting_id_.reset();  // dropped meanwhile: on to the next row
  } else {
    if (!wait) storage_failed(wait.error());
    // Kept in memory as well, so a failing database does not turn the
    // back-off into a tight loop.
    retry_at_ =
        clock_.now() +
        (wait ? *wait : outbox_retry_delay(row.attempts + 1, d.retry_after, outbox_.backoff()));
  }
  if (failed_in_row_++ == 0) failing_since_ = clock_.now();
  {
    std::lock_guard lk(mu_);
    count_attempt(d);
    ++status_.failures;
    status_.failing = true;
  }
  std::string key = d.reason + "/" + std::to_string(d.status);
  if (key == outcome_key_) return;  // the same failure again is no news
  outcome_key_ = std::move(key);
  emit("notify_failed", d.reason,
       spec_.id + ": " + d.detail + "; notification " + nid + " retried with back-off, next in " +
           duration_text(retry_at_ - clock_.now()) + ", later ones wait behind it");
}

void OutboxSender::Receiver::park(const OutboxRow& row, const std::string& nid, const Delivery& d) {
  if (auto s = outbox_.park(row.id, d.detail, clock_.wall_now());
      !s && s.error().code != ErrorCode::not_found) {
    storage_failed(s.error());
    retry_at_ = clock_.now() + options_.storage_retry;  // tried again then
  } else {
    waiting_id_.reset();
  }
  outcome_key_.clear();
  {
    std::lock_guard lk(mu_);
    count_attempt(d);
    ++status_.parked;
    status_.failing = false;
  }
  emit("notify_parked", d.reason,
       spec_.id + " refused notification " + nid + " for good: " + d.detail +
           "; parked (linewatch keeps it until retried), later ones go on");
}

void OutboxSender::Receiver::storage_failed(const Error& e) {
  {
    std::lock_guard lk(mu_);
    status_.last_reason = "storage";
    status_.last_error = e.message;
  }
  if (outcome_key_ == "storage") return;
  outcome_key_ = "storage";
  emit("notify_failed", "storage", spec_.id + ": the outbox failed: " + e.message);
}

void OutboxSender::Receiver::emit(std::string kind, std::string reason, std::string detail) const {
  Event e;
  e.time = clock_.wall_now();
  e.kind = std::move(kind);
  e.target = spec_.id;
  e.reason = std::move(reason);
  e.detail = std::move(detail);
  events_.emit(e);
}

}  // namespace linewatch

// OutboxSender: sends the alert notifications kept in the outbox
// (storage/outbox.h) to the receivers of `notify:`, each receiver's in the
// order they were enqueued, until that receiver takes them.
//
// enqueue() writes a notification for its receivers to the outbox (one
// transaction) and only then wakes their threads: nothing is sent that is not
// on disk, so a crash or a kill -9 loses nothing enqueue() returned for, and
// the next sender on the same file sends it. A receiver down for hours gets
// everything afterwards, in order. Delivery is at least once: an attempt whose
// answer was lost, or whose row could not be deleted, is sent again
// (webhooks carry Idempotency-Key = Notification::id).
//
// Each attempt reads the receiver's secrets from their file or variable
// (resolve_secrets: a rotated key or robot URL applies from the next
// attempt; nothing secret is kept in the outbox), formats the request signed
// at the attempt's wall time (format) and delivers it once (deliver). Then:
//   ok         the row is deleted and the receiver's next row goes at once;
//   transient  the row is tried again after outbox_retry_delay() (1 s
//              doubling to 5 min; a Retry-After honoured up to 1 h), and the
//              receiver's later rows wait behind it. Secrets that cannot be
//              read ("secrets") and a request format() refuses ("format") are
//              transient too: fixing the receiver's settings is enough;
//   permanent  the row is parked (kept and listed; retry_parked() puts it
//              back) and the receiver's next row goes at once. A row whose
//              stored notification does not parse is parked ("bad_payload").
//
// One thread per receiver: a receiver that hangs for its whole timeout, or is
// down, delays no other, and each keeps its own back-off. Receivers are few
// (a handful), so the threads are cheap. The threads share the Outbox, whose
// calls are short and never held across a delivery.
//
// Scheduling is on the monotonic clock (Clock::now). A row that failed here
// waits its back-off from the attempt; a row found already tried (a restart)
// waits what is left of its stored next_attempt, at most the longest back-off
// (or Retry-After), so a wall clock step neither stalls nor floods a receiver.
//
// Events (EventSink; Event::target = the receiver's id, reason = the
// delivery's reason code): "notify_failed" when a receiver starts failing or
// fails in a new way, never once per retry; "notify_delivered" (reason
// "recovered") on its first delivery after failing; "notify_parked" for each
// parked row. Retries are counted in status().
//
// Thread-safety: enqueue(), retry_parked(), status() and stop() may be called
// from any thread; start() and send_due() from one. The EventSink is called
// from the receivers' threads with no lock of ours held; it must be
// thread-safe and must not block.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/time.h"
#include "exporters/notify.h"
#include "storage/outbox.h"

namespace linewatch {

// A notification as the outbox keeps it: one line of JSON with every field
// of `n` (times to the millisecond). Holds no secret, as Notification holds none.
std::string outbox_payload(const Notification& n);
// The inverse. Failure: invalid_argument naming the field, for text that
// outbox_payload() did not write.
Result<Notification> notification_from_payload(std::string_view json);

// Writes `n` to the outbox for each of `receivers`, in one transaction, for a
// sender to pick up (a running agent's sender looks every idle_poll). For a
// process with no sender of its own, e.g. a CLI command. Success: the row ids.
Result<std::vector<std::int64_t>> enqueue_notification(Outbox& outbox,
                                                       const std::vector<std::string>& receivers,
                                                       const Notification& n, WallTime now);

struct OutboxSenderOptions {
  // How often a receiver with nothing to send looks at the outbox anyway, for
  // rows another process enqueued or unparked. Default: 5s.
  Duration idle_poll = std::chrono::seconds(5);
  // How soon a receiver reads the outbox again after a read or write of it
  // failed (a locked database, a full disk). Default: 1s.
  Duration storage_retry = std::chrono::seconds(1);
  // Where url_env and secret_env are looked up. Default: the process environment.
  EnvLookup env = process_env;
};

// One receiver's sending, for the API and metrics.
struct ReceiverStatus {
  std::string id;  // notify[].id
  NotifierKind kind = NotifierKind::webhook;
  bool failing = false;                  // its last attempt failed and will be retried
  std::uint64_t delivered = 0;           // rows it took
  std::uint64_t attempts = 0;            // every attempt, whatever its outcome
  std::uint64_t failures = 0;            // attempts that will be retried
  std::uint64_t parked = 0;              // rows parked
  std::optional<WallTime> last_attempt;  // when the last attempt ended
  std::string last_reason;               // its reason code ("ok", "http_5xx", ...)
  std::string last_error;                // its detail when it failed; "" after a success
};

class OutboxSender {
 public:
  // Checks the receivers (ids present and unique; secrets are read per
  // attempt, not here) and prepares one sender per receiver; nothing runs
  // until start(). `outbox`, `events` and `clock` (monotonic time for waits,
  // wall time for stamps and signatures) must outlive the sender. Failure:
  // invalid_argument naming notify[i].id.
  static Result<std::unique_ptr<OutboxSender>> create(Outbox& outbox,
                                                      std::vector<NotifierSpec> receivers,
                                                      EventSink& events, const Clock& clock,
                                                      const OutboxSenderOptions& options = {});
  ~OutboxSender();  // stop()
  OutboxSender(const OutboxSender&) = delete;
  OutboxSender& operator=(const OutboxSender&) = delete;

  // Starts one thread per receiver. Once only.
  void start();

  // Writes `n` to the outbox for each receiver in `to` (one transaction) and
  // wakes them. Blocks for that write (a few ms; up to the outbox's
  // busy_timeout while the database is locked), never for a delivery.
  // Success: committed, the row ids in `to` order. Failure (nothing written):
  // invalid_argument for an id that is not one of the receivers, or the
  // outbox's Error.
  Result<std::vector<std::int64_t>> enqueue(const Notification& n,
                                            const std::vector<std::string>& to);

  // Puts the parked rows of `receiver` (every receiver when nullopt) back at
  // the head of their queues and wakes the senders. Success: how many.
  Result<std::int64_t> retry_parked(const std::optional<std::string>& receiver = std::nullopt);

  // Before start() (tests, a one-shot command): on the calling thread, sends
  // every row that is due on the clock, receiver by receiver, each until its
  // next row is not due. Returns the earliest time, on Clock::now, at which a
  // receiver has something due again (or will look again). After start() it
  // does nothing and returns MonoTime::max().
  MonoTime send_due(std::stop_token stop = {});

  // A snapshot per receiver, in the order given to create().
  std::vector<ReceiverStatus> status() const;

  // Ends the waits at once, cuts an attempt that waits for its answer (one
  // still connecting ends within its receiver's timeout) and joins the
  // threads. A cut attempt is not an outcome: the row is tried again by the
  // next sender, without an event. Idempotent.
  void stop();

 private:
  class Receiver;
  OutboxSender(Outbox& outbox, const Clock& clock,
               std::vector<std::unique_ptr<Receiver>> receivers);

  Outbox& outbox_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  bool started_ = false;
};

}  // namespace linewatch

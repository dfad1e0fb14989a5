// OutboxNotices: the alerting's NoticeSink when receivers are configured
// (`notify:`). Each AlertNotice becomes a Notification (to_notification) and
// is written to the notifier outbox through the OutboxSender
// (exporters/notify_outbox.h), which delivers it, retries it and parks it.
//
//   alerting thread ─ enqueue() ─> queue ─> this component's thread ─> OutboxSender::enqueue
//                                                                      (one SQLite transaction)
//
// Why a thread: NoticeSink::enqueue() runs on the alerting thread and must
// not wait for the disk, while an outbox write is a synchronous transaction
// (a few ms, up to the outbox's busy_timeout when the file is locked). A
// notice is in memory only between the two, normally for milliseconds; the
// outbox keeps it from then on. Notices are written in the order they came,
// so each receiver gets them in that order. A write that fails (a locked or
// full database) is tried again every `write_retry`, the later notices
// waiting behind it; one log line says when writes start failing, one when
// they work again.
//
// Alertmanager: a firing alert has no end time, and Alertmanager resolves it
// by itself `resolve_timeout` (default 5m) after it last heard of it, so it
// must hear of it again while it fires (Prometheus re-sends every minute).
// This component remembers every firing notice that went to an alertmanager
// receiver until its resolved notice comes, and writes it again for those
// receivers `alertmanager_resend` after it last did, with a fresh id
// ("…/resend-N" in place of the notice's last id part). Other kinds never get
// these: a chat robot would show every copy. The copy is written only for
// alertmanager receivers that are not failing (OutboxSender::status()): while
// one is down its queue already holds the alert's state, and copies would
// only pile up behind it; once it takes its backlog, the next re-send comes
// within a period. Re-sends go through the outbox, not straight out, so that
// a receiver gets them in order with the firing and resolved notices: a copy
// written before the resolved notice is always delivered before it, and none
// is written after it. A copy repeats the last notice's value (the one that
// fired or repeated). An agent that stops stops re-sending, and Alertmanager
// resolves its alerts after resolve_timeout, as it should.
//
// Threading: enqueue(), stats() from any thread, never blocking on I/O.
// start() and stop() from the owner. step() runs on this component's thread
// once started; before that (tests), on the owner's.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/alerting.h"
#include "core/notify_options.h"
#include "core/time.h"
#include "exporters/notify.h"
#include "exporters/notify_outbox.h"

namespace linewatch {

// The Notification of `notice`, raised by the agent `agent` (agent.id):
// every field copied, status firing (a first notice or a repeat) or resolved.
Notification to_notification(const AlertNotice& notice, const std::string& agent);

// The notice id without its last part ("AGENT/RULE/SCOPE/STARTMS-N"): the
// same for every notice of one episode.
std::string episode_of(const std::string& notice_id);

struct OutboxNoticesOptions {
  // How often a firing alert is written again for alertmanager receivers.
  // Default: 60s, as Prometheus does, well inside Alertmanager's default
  // resolve_timeout of 5m.
  Duration alertmanager_resend = std::chrono::seconds(60);
  // How soon a write the outbox refused is tried again. Default: 1s.
  Duration write_retry = std::chrono::seconds(1);
  // Notices waiting to be written; beyond this they are dropped, counted
  // and logged. Far more than a burst of alerts. Default: 4096.
  std::size_t capacity = 4096;
};

// Counters since construction.
struct OutboxNoticesStats {
  std::uint64_t written = 0;         // notices written to the outbox
  std::uint64_t resent = 0;          // alertmanager re-sends written
  std::uint64_t dropped = 0;         // notices refused: the queue was full, or after stop()
  std::uint64_t write_failures = 0;  // outbox writes that failed (each retry counts)
  std::uint64_t lost = 0;            // notices still unwritten when stop() gave up
  std::size_t queued = 0;            // notices waiting to be written now
};

class OutboxNotices final : public NoticeSink {
 public:
  // `sender` and `clock` must outlive this. `agent` is agent.id; `receivers`
  // is notify: (the kinds tell alertmanager receivers apart). Starts no thread.
  OutboxNotices(OutboxSender& sender, std::string agent, const std::vector<NotifierSpec>& receivers,
                const Clock& clock, OutboxNoticesOptions options = {});
  ~OutboxNotices() override;  // stop()
  OutboxNotices(const OutboxNotices&) = delete;
  OutboxNotices& operator=(const OutboxNotices&) = delete;

  // Queues the notice for `receivers` and returns; never blocks on I/O.
  void enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) override;

  // Starts the writing thread (once).
  void start();
  // Stops taking notices, joins the thread, then writes what is still queued
  // on the caller's thread (in order, until a write fails: what is left is
  // counted as lost and logged). Idempotent.
  void stop();

  // Writes the queued notices in order, then the re-sends that are due.
  // Returns when there is something to do next on Clock::now: a retry after
  // a failed write, the next re-send, or MonoTime::max() when nothing waits.
  MonoTime step();

  OutboxNoticesStats stats() const;

 private:
  struct Queued {
    AlertNotice notice;
    std::vector<std::string> receivers;
  };
  // A firing alert that went to alertmanager receivers.
  struct Firing {
    Notification last;            // its last firing notice (or repeat)
    std::vector<std::string> to;  // its alertmanager receivers
    MonoTime written{};           // when it was last written for them
    int resends = 0;              // copies written so far
  };

  bool write(const Queued& q, MonoTime now);  // false: the outbox refused; try again
  bool resend(Firing& f, const std::string& episode, const std::set<std::string>& failing,
              MonoTime now);
  void track(const Notification& n, const std::vector<std::string>& receivers, MonoTime now);
  void write_failed(const Error& e);
  void run();

  OutboxSender& sender_;
  const std::string agent_;
  const std::set<std::string> alertmanagers_;  // ids of alertmanager receivers
  const Clock& clock_;
  const OutboxNoticesOptions options_;

  // Stepping thread only.
  std::deque<Queued> backlog_;             // taken from the queue, not yet written
  std::map<std::string, Firing> firing_;   // by episode_of(id)
  std::optional<MonoTime> failing_since_;  // outbox writes failing since

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Queued> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  OutboxNoticesStats stats_;   // guarded by mu_ (queued: queue_ and backlog_)

  std::thread thread_;
  bool started_ = false;  // owner only
};

}  // namespace linewatch

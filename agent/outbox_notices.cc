#include "agent/outbox_notices.h"

#include <algorithm>

#include "agent/log.h"
#include "core/units.h"

namespace linewatch {

Notification to_notification(const AlertNotice& notice, const std::string& agent) {
  Notification n;
  n.id = notice.id;
  n.agent = agent;
  n.rule = notice.rule;
  n.status = notice.resolved ? NotifyStatus::resolved : NotifyStatus::firing;
  n.severity = notice.severity;
  n.summary = notice.summary;
  n.labels = notice.labels;
  n.value_text = notice.value_text;
  n.value = notice.value;
  n.threshold_text = notice.threshold_text;
  n.threshold = notice.threshold;
  n.starts_at = notice.starts_at;
  n.ends_at = notice.ends_at;
  return n;
}

std::string episode_of(const std::string& notice_id) {
  const std::size_t slash = notice_id.rfind('/');
  return slash == std::string::npos ? notice_id : notice_id.substr(0, slash);
}

namespace {

std::set<std::string> alertmanager_ids(const std::vector<NotifierSpec>& receivers) {
  std::set<std::string> out;
  for (const NotifierSpec& r : receivers)
    if (r.kind == NotifierKind::alertmanager) out.insert(r.id);
  return out;
}

}  // namespace

OutboxNotices::OutboxNotices(OutboxSender& sender, std::string agent,
                             const std::vector<NotifierSpec>& receivers, const Clock& clock,
                             OutboxNoticesOptions options)
    : sender_(sender),
      agent_(std::move(agent)),
      alertmanagers_(alertmanager_ids(receivers)),
      clock_(clock),
      options_(options) {}

OutboxNotices::~OutboxNotices() { stop(); }

void OutboxNotices::enqueue(const AlertNotice& notice, const std::vector<std::string>& receivers) {
  bool full = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || stats_.queued >= options_.capacity) {
      ++stats_.dropped;
      full = !stopping_;
    } else {
      queue_.push_back(Queued{notice, receivers});
      ++stats_.queued;
    }
  }
  // Past the bound the disk has been refusing writes for a long time; each
  // dropped notice is named, since it will never be delivered.
  if (full)
    log(LogLevel::error,
        "msg=\"alert notice dropped: the outbox queue is full\" notice=" + log_quote(notice.id) +
            " capacity=" + std::to_string(options_.capacity));
  wake_.notify_all();
}

void OutboxNotices::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void OutboxNotices::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // What the thread had not written yet: once more, here, in order.
  step();
  std::size_t left = 0;
  {
    std::lock_guard lock(mu_);
    left = stats_.queued;
    stats_.lost += left;
    stats_.queued = 0;
    queue_.clear();
  }
  backlog_.clear();
  if (left > 0)
    log(LogLevel::error,
        "msg=\"alert notices not written to the outbox at stop\" lost=" + std::to_string(left));
}

void OutboxNotices::run() {
  for (;;) {
    const MonoTime next = step();
    const Duration wait =
        next == MonoTime::max()
            ? options_.alertmanager_resend
            : std::clamp<Duration>(next - clock_.now(), std::chrono::milliseconds(1),
                                   options_.alertmanager_resend);
    std::unique_lock lock(mu_);
    if (wake_.wait_for(lock, wait, [this] { return stopping_ || !queue_.empty(); }) && stopping_)
      return;
  }
}

MonoTime OutboxNotices::step() {
  {
    std::lock_guard lock(mu_);
    for (Queued& q : queue_) backlog_.push_back(std::move(q));
    queue_.clear();
  }
  const MonoTime now = clock_.now();
  while (!backlog_.empty()) {
    if (!write(backlog_.front(), now)) return now + options_.write_retry;
    backlog_.pop_front();
    std::lock_guard lock(mu_);
    --stats_.queued;
  }
  MonoTime next = MonoTime::max();
  if (firing_.empty()) return next;
  std::set<std::string> failing;
  for (const ReceiverStatus& r : sender_.status())
    if (r.failing) failing.insert(r.id);
  for (auto& [episode, f] : firing_) {
    if (f.written + options_.alertmanager_resend <= now && !resend(f, episode, failing, now))
      return now + options_.write_retry;
    next = std::min(next, f.written + options_.alertmanager_resend);
  }
  return next;
}

bool OutboxNotices::write(const Queued& q, MonoTime now) {
  const Notification n = to_notification(q.notice, agent_);
  auto ids = sender_.enqueue(n, q.receivers);
  if (!ids && ids.error().code != ErrorCode::invalid_argument) {
    write_failed(ids.error());
    return false;
  }
  if (!ids) {
    // A receiver the sender does not know: the config gave both, so this is
    // a bug; retrying would block every later notice behind it.
    log(LogLevel::error, "msg=\"alert notice refused by the outbox\" notice=" + log_quote(n.id) +
                             " error=" + log_quote(ids.error().message));
    std::lock_guard lock(mu_);
    ++stats_.dropped;
    return true;
  }
  if (failing_since_) {
    log(LogLevel::info, "msg=\"alert notices written to the outbox again\" after=" +
                            format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
                                now - *failing_since_)));
    failing_since_.reset();
  }
  log(q.notice.resolved ? LogLevel::info : LogLevel::warn, notice_log_line(q.notice, q.receivers));
  track(n, q.receivers, now);
  std::lock_guard lock(mu_);
  ++stats_.written;
  return true;
}

void OutboxNotices::track(const Notification& n, const std::vector<std::string>& receivers,
                          MonoTime now) {
  const std::string episode = episode_of(n.id);
  if (n.status == NotifyStatus::resolved) {
    firing_.erase(episode);
    return;
  }
  std::vector<std::string> to;
  for (const std::string& r : receivers)
    if (alertmanagers_.count(r)) to.push_back(r);
  if (to.empty()) return;
  Firing& f = firing_[episode];
  f.last = n;
  f.to = std::move(to);
  f.written = now;
}

bool OutboxNotices::resend(Firing& f, const std::string& episode,
                           const std::set<std::string>& failing, MonoTime now) {
  std::vector<std::string> to;
  for (const std::string& r : f.to)
    if (!failing.count(r)) to.push_back(r);
  if (to.empty()) {
    f.written = now;  // its queue holds the alert; look again in a period
    return true;
  }
  Notification copy = f.last;
  copy.id = episode + "/resend-" + std::to_string(f.resends + 1);
  auto ids = sender_.enqueue(copy, to);
  if (!ids) {
    write_failed(ids.error());
    return false;
  }
  ++f.resends;
  f.written = now;
  std::lock_guard lock(mu_);
  ++stats_.resent;
  return true;
}

void OutboxNotices::write_failed(const Error& e) {
  {
    std::lock_guard lock(mu_);
    ++stats_.write_failures;
  }
  if (failing_since_) return;
  failing_since_ = clock_.now();
  log(LogLevel::error, "msg=\"alert notices cannot be written to the outbox; retrying\" error=" +
                           log_quote(e.message));
}

OutboxNoticesStats OutboxNotices::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace linewatch

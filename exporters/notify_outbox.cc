#include "exporters/notify_outbox.h"

#include <algorithm>
#include <set>

#include "exporters/notify_outbox_receiver.h"

namespace linewatch {

Result<std::unique_ptr<OutboxSender>> OutboxSender::create(Outbox& outbox,
                                                           std::vector<NotifierSpec> receivers,
                                                           EventSink& events, const Clock& clock,
                                                           const OutboxSenderOptions& options) {
  std::set<std::string> ids;
  std::vector<std::unique_ptr<Receiver>> made;
  for (std::size_t i = 0; i < receivers.size(); ++i) {
    const std::string where = "notify[" + std::to_string(i) + "]";
    const std::string& id = receivers[i].id;
    if (id.empty()) return invalid(where + ".id: must not be empty");
    if (!ids.insert(id).second) return invalid(where + ".id: \"" + id + "\" is used twice");
    made.push_back(
        std::make_unique<Receiver>(std::move(receivers[i]), where, outbox, events, clock, options));
  }
  return std::unique_ptr<OutboxSender>(new OutboxSender(outbox, clock, std::move(made)));
}

OutboxSender::OutboxSender(Outbox& outbox, const Clock& clock,
                           std::vector<std::unique_ptr<Receiver>> receivers)
    : outbox_(outbox), clock_(clock), receivers_(std::move(receivers)) {}

OutboxSender::~OutboxSender() { stop(); }

void OutboxSender::start() {
  if (started_) return;
  started_ = true;
  for (auto& r : receivers_) r->start();
}

Result<std::vector<std::int64_t>> OutboxSender::enqueue(const Notification& n,
                                                        const std::vector<std::string>& to) {
  std::vector<Receiver*> woken;
  for (const std::string& id : to) {
    auto it = std::find_if(receivers_.begin(), receivers_.end(),
                           [&](const auto& r) { return r->id() == id; });
    if (it == receivers_.end())
      return invalid("notification " + n.id + " for receiver \"" + id +
                     "\", which is not in notify[]");
    woken.push_back(it->get());
  }
  auto ids = enqueue_notification(outbox_, to, n, clock_.wall_now());
  if (ids)
    for (Receiver* r : woken) r->wake();
  return ids;
}

Result<std::int64_t> OutboxSender::retry_parked(const std::optional<std::string>& receiver) {
  auto n = outbox_.unpark(receiver, clock_.wall_now());
  if (n && *n > 0)
    for (auto& r : receivers_)
      if (!receiver || r->id() == *receiver) r->wake();
  return n;
}

MonoTime OutboxSender::send_due(std::stop_token stop) {
  if (started_) return MonoTime::max();  // the threads own the stepping
  MonoTime earliest = MonoTime::max();
  for (auto& r : receivers_) {
    MonoTime next = r->step(stop);
    // Each step sends at most one row; go on while the next one is due.
    while (next <= clock_.now() && !stop.stop_requested()) next = r->step(stop);
    earliest = std::min(earliest, next);
  }
  return earliest;
}

std::vector<ReceiverStatus> OutboxSender::status() const {
  std::vector<ReceiverStatus> out;
  for (const auto& r : receivers_) out.push_back(r->status());
  return out;
}

void OutboxSender::stop() {
  for (auto& r : receivers_) r->request_stop();  // all at once: no one waits on another's attempt
  for (auto& r : receivers_) r->stop();
}

}  // namespace linewatch

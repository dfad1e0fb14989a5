// `linewatch notify-test RECEIVER -c FILE`: one test notification to one
// receiver of the config, sent from this process (no agent, no outbox), so
// an operator sees at once whether the URL, the key and the receiver work.
#include <ostream>

#include "agent/cli.h"
#include "agent/config_load.h"
#include "exporters/notify.h"

namespace linewatch {
namespace {

// Unique per call (a receiver that drops repeats by Idempotency-Key must not
// drop the next test), and says what it is.
Notification test_notification(const Config& config, const NotifierSpec& receiver, WallTime now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  Notification n;
  n.id = config.agent.id + "/notify-test/" + receiver.id + "/" + std::to_string(ms.count());
  n.agent = config.agent.id;
  n.rule = "notify-test";
  n.status = NotifyStatus::test;
  n.severity = "info";
  n.summary = "Test notification from linewatch agent " + config.agent.id + " to receiver " +
              receiver.id + ": alerts reach this receiver.";
  n.labels = {{"receiver", receiver.id}, {"rule", "notify-test"}, {"severity", "info"}};
  n.starts_at = now;
  return n;
}

std::string receiver_ids(const Config& config) {
  std::string ids;
  for (const NotifierSpec& n : config.notify) ids += (ids.empty() ? "" : ", ") + n.id;
  return ids.empty() ? "none: notify: is empty" : ids;
}

}  // namespace

int cmd_notify_test(const NotifyTestArgs& args, std::ostream& out, std::ostream& err) {
  auto cfg = load_config_file(args.config_path);
  if (!cfg) {
    err << cfg.error().message << "\n";
    return 2;
  }
  std::size_t i = 0;
  while (i < cfg->notify.size() && cfg->notify[i].id != args.receiver) ++i;
  if (i == cfg->notify.size()) {
    err << args.config_path << ": no receiver \"" << args.receiver
        << "\" in notify: (receivers: " << receiver_ids(*cfg) << ")\n";
    return 2;
  }
  const NotifierSpec& spec = cfg->notify[i];
  const std::string where = "notify[" + std::to_string(i) + "]";
  auto secrets = resolve_secrets(spec, where);
  if (!secrets) {
    err << args.config_path << ": " << secrets.error().message << "\n";
    return 2;
  }
  SystemClock clock;
  const Notification n = test_notification(*cfg, spec, clock.wall_now());
  auto post = format(spec, n, *secrets, clock.wall_now());
  if (!post) {
    err << args.config_path << ": " << post.error().message << "\n";
    return 2;
  }
  const Delivery d = deliver(*post, spec.timeout, {});
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(d.took);
  out << spec.id << " (" << to_string(spec.kind) << "): " << to_string(d.kind) << " " << d.reason;
  if (d.status != 0) out << " HTTP " << d.status;
  out << " in " << took.count() << " ms: " << d.detail << "\n";
  out << "notification " << n.id << "\n";
  return d.kind == Delivery::Kind::ok ? 0 : 1;
}

}  // namespace linewatch

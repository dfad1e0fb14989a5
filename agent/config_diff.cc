#include "agent/config_diff.h"

#include <algorithm>

#include "agent/failover_liveness.h"
#include "core/units.h"

namespace linewatch {
namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

void compare(std::vector<std::string>& out, const std::string& key, const std::string& was,
             const std::string& now) {
  if (was != now)
    out.push_back(key + ": changed from " + was + " to " + now + "; this takes a restart");
}

// Each failover line's reflectors as (id, icmp host, family): what
// liveness_lines() resolves them to. A config whose reflectors do not resolve
// yields nothing; the other's failure then differs from its success.
std::vector<std::string> reflectors(const Config& c) {
  std::vector<std::string> out;
  if (c.routes.empty()) return out;
  auto lines = liveness_lines(c);
  if (!lines) return {"error: " + lines.error().message};
  for (const LivenessLine& l : *lines) {
    std::string row = l.line + ":";
    for (const LivenessReflector& r : l.reflectors) {
      auto t = std::find_if(c.targets.begin(), c.targets.end(),
                            [&](const TargetSpec& s) { return s.id == r.id; });
      row += " " + r.id;
      if (t == c.targets.end()) continue;
      for (const ProbeSpec& p : t->probes)
        if (p.kind == ProbeKind::icmp)
          row += "=" + p.icmp.host + "/" + std::to_string(p.icmp.family);
    }
    out.push_back(std::move(row));
  }
  return out;
}

template <typename T, typename Id>
std::vector<std::string> ids(const std::vector<T>& items, Id id) {
  std::vector<std::string> out;
  for (const T& item : items) out.push_back(id(item));
  return out;
}

}  // namespace

std::vector<std::string> restart_only_changes(const Config& a, const Config& b) {
  std::vector<std::string> out;
  compare(out, "agent.id", quoted(a.agent.id), quoted(b.agent.id));
  compare(out, "agent.listen", quoted(a.agent.listen), quoted(b.agent.listen));
  compare(out, "agent.data_dir", quoted(a.agent.data_dir), quoted(b.agent.data_dir));
  auto file = [](const std::string& f) { return f.empty() ? std::string("(none)") : quoted(f); };
  compare(out, "agent.api_token_file", file(a.agent.api_token_file), file(b.agent.api_token_file));
  compare(out, "storage.retention", format_duration(a.storage.retention),
          format_duration(b.storage.retention));
  compare(out, "storage.queue", std::to_string(a.storage.queue_capacity),
          std::to_string(b.storage.queue_capacity));
  compare(out, "storage.batch", std::to_string(a.storage.batch_max),
          std::to_string(b.storage.batch_max));
  compare(out, "storage.flush_interval", format_duration(a.storage.flush_interval),
          format_duration(b.storage.flush_interval));
  return out;
}

bool failover_unchanged(const Config& a, const Config& b) {
  return a.lines == b.lines && a.routes == b.routes && a.liveness == b.liveness &&
         a.health == b.health && a.scoring == b.scoring && a.apply == b.apply &&
         a.gateways == b.gateways && reflectors(a) == reflectors(b);
}

ConfigChanges diff_config(const Config& a, const Config& b) {
  ConfigChanges c;
  c.failover = !failover_unchanged(a, b);
  c.lines = a.lines != b.lines;
  auto line_id = [](const LineSpec& l) { return l.id; };
  auto target_id = [](const TargetSpec& t) { return t.id; };
  c.scope = ids(a.lines, line_id) != ids(b.lines, line_id) ||
            ids(a.targets, target_id) != ids(b.targets, target_id);
  c.notify = a.notify != b.notify;
  c.alerts = c.notify || !(a.alerts == b.alerts);
  return c;
}

}  // namespace linewatch

#include "agent/failover_liveness.h"

#include <algorithm>
#include <set>

namespace linewatch {
namespace {

const IcmpOptions* icmp_of(const TargetSpec& target) {
  for (const ProbeSpec& p : target.probes)
    if (p.kind == ProbeKind::icmp) return &p.icmp;
  return nullptr;
}

// `key` names the config key the reflector ids came from, for messages.
Result<LivenessReflector> reflector(const Config& config, const std::string& key,
                                    const std::string& id) {
  auto it = std::find_if(config.targets.begin(), config.targets.end(),
                         [&](const TargetSpec& t) { return t.id == id; });
  if (it == config.targets.end()) return invalid(key + ": unknown target " + id);
  const IcmpOptions* icmp = icmp_of(*it);
  if (icmp == nullptr) return invalid(key + ": target " + id + " has no icmp probe");
  LivenessReflector r{id, {}};
  if (!parse_numeric_address(icmp->host, 0, r.address))
    return invalid(key + ": target " + id + ": icmp host " + icmp->host +
                   " is a name; liveness needs an IP address");
  return r;
}

// Every target whose ICMP host is a literal: the default reflector set.
std::vector<LivenessReflector> default_reflectors(const Config& config) {
  std::vector<LivenessReflector> out;
  for (const TargetSpec& t : config.targets) {
    const IcmpOptions* icmp = icmp_of(t);
    LivenessReflector r{t.id, {}};
    if (icmp != nullptr && parse_numeric_address(icmp->host, 0, r.address))
      out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<LivenessReflector>> reflectors_of(const Config& config, std::size_t index) {
  const LineSpec& line = config.lines[index];
  std::string key = "liveness.reflectors";
  const std::vector<std::string>* ids = &config.liveness.reflectors;
  if (line.liveness && !line.liveness->reflectors.empty()) {
    key = "lines[" + std::to_string(index) + "].liveness.reflectors";
    ids = &line.liveness->reflectors;
  }
  if (ids->empty()) {
    auto all = default_reflectors(config);
    if (all.empty())
      return invalid("line " + line.id +
                     ": no liveness reflector: set liveness.reflectors or add a target with an "
                     "icmp address");
    return all;
  }
  std::vector<LivenessReflector> out;
  for (const std::string& id : *ids) {
    auto r = reflector(config, key, id);
    if (!r) return r.error();
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace

std::vector<const LineSpec*> failover_lines(const Config& config) {
  std::set<std::string> routed;
  for (const RouteSpec& r : config.routes) routed.insert(r.lines.begin(), r.lines.end());
  std::vector<const LineSpec*> out;
  for (const LineSpec& l : config.lines)
    if (routed.count(l.id)) out.push_back(&l);
  return out;
}

LivenessOptions line_liveness_options(const Config& config, const LineSpec& line) {
  return line.liveness ? *line.liveness : config.liveness;
}

Result<std::vector<LivenessLine>> liveness_lines(const Config& config) {
  std::vector<LivenessLine> out;
  for (const LineSpec* line : failover_lines(config)) {
    const auto index = static_cast<std::size_t>(line - config.lines.data());
    auto reflectors = reflectors_of(config, index);
    if (!reflectors) return reflectors.error();
    out.push_back(
        {line->id, line->binding, std::move(*reflectors), line_liveness_options(config, *line)});
  }
  return out;
}

Result<std::unique_ptr<LivenessEngine>> start_liveness(const Config& config,
                                                       LivenessObserver& observer,
                                                       EchoStream::Options echo) {
  auto lines = liveness_lines(config);
  if (!lines) return lines.error();
  auto engine = LivenessEngine::start(observer, std::move(echo));
  if (!engine) return engine.error();
  for (const LivenessLine& l : *lines) {
    Status added = (*engine)->add_line(l.line, l.binding, l.reflectors, l.options);
    if (!added) return added.error();
  }
  return std::move(*engine);
}

}  // namespace linewatch

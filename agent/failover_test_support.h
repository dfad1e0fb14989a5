// Test-only: recording sinks and a two-line config for the failover tests.
#pragma once

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "agent/failover_plan_sink.h"
#include "core/config.h"
#include "core/event.h"

namespace linewatch::failover_test {

// Records every event; emit() may come from any thread.
class EventRecorder final : public EventSink {
 public:
  void emit(const Event& event) override {
    std::lock_guard lock(mu_);
    events_.push_back(event);
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  int count(const std::string& kind) const {
    std::lock_guard lock(mu_);
    return static_cast<int>(std::count_if(events_.begin(), events_.end(),
                                          [&](const Event& e) { return e.kind == kind; }));
  }
  // The kinds in emit order, "kind:line" or "kind:target" where set.
  std::vector<std::string> kinds() const {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const Event& e : events_)
      out.push_back(e.kind + (e.line.empty() ? "" : ":" + e.line) +
                    (e.target.empty() ? "" : ":" + e.target));
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

// Records every plan handed over.
class PlanRecorder final : public PlanSink {
 public:
  void on_plan(const RoutePlan& plan) override {
    std::lock_guard lock(mu_);
    plans_.push_back(plan);
  }
  std::vector<RoutePlan> plans() const {
    std::lock_guard lock(mu_);
    return plans_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<RoutePlan> plans_;
};

inline LineSpec line_spec(const std::string& id, int n) {
  LineSpec l;
  l.id = id;
  l.binding.source = "198.18." + std::to_string(n) + ".1";
  l.binding.interface = "d" + std::to_string(n);
  l.gateway = "198.18." + std::to_string(n) + ".2";
  return l;
}

inline TargetSpec icmp_target(const std::string& id, const std::string& host) {
  TargetSpec t;
  t.id = id;
  ProbeSpec p;
  p.kind = ProbeKind::icmp;
  p.icmp.host = host;
  t.probes.push_back(p);
  return t;
}

inline TargetSpec http_target(const std::string& id, const std::string& url) {
  TargetSpec t;
  t.id = id;
  ProbeSpec p;
  p.kind = ProbeKind::http;
  p.http->url = url;
  t.probes.push_back(p);
  return t;
}

inline constexpr const char* kPrefix = "198.19.255.0/24";

// Lines l1 and l2 carrying one primary-backup route; reflector "edge";
// an HTTP target "api". Default liveness, health and scoring options.
inline Config two_lines() {
  Config c;
  c.agent.id = "bj-gw-1";
  c.lines = {line_spec("l1", 1), line_spec("l2", 2)};
  c.targets = {icmp_target("edge", "198.19.255.1"), http_target("api", "https://198.19.255.2/")};
  c.liveness.reflectors = {"edge"};
  c.routes = {{kPrefix, RouteSpec::Policy::primary_backup, {"l1", "l2"}}};
  return c;
}

}  // namespace linewatch::failover_test

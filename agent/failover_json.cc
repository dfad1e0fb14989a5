#include "agent/failover_json.h"

#include <Poco/JSON/Array.h>

#include "agent/json.h"

namespace linewatch {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

Object::Ptr object() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

Object::Ptr line_to_json(const FailoverLineView& l) {
  Object::Ptr o = object();
  o->set("line", l.line);
  o->set("state", std::string(to_string(l.state)));
  o->set("since", format_time(l.since));
  o->set("reason", l.reason);
  o->set("takes_traffic", l.takes_traffic);
  o->set("score", l.score);
  o->set("penalty", l.penalty);
  o->set("alive", l.alive);
  if (l.hold_down_until) o->set("hold_down_until", format_time(*l.hold_down_until));
  if (l.rtt_median) o->set("rtt_median_ms", to_ms(*l.rtt_median));
  o->set("loss", l.loss);
  return o;
}

Object::Ptr plan_to_json(const RoutePlan& p, bool starting) {
  Object::Ptr o = object();
  o->set("version", p.version);
  o->set("time", format_time(p.time));
  o->set("panic", p.panic);
  o->set("starting", starting);
  Array::Ptr routes = new Array;
  for (const RouteEntry& r : p.routes) {
    Object::Ptr route = object();
    route->set("prefix", r.prefix);
    Array::Ptr hops = new Array;
    for (const NextHop& h : r.nexthops) {
      Object::Ptr hop = object();
      hop->set("line", h.line);
      hop->set("via", h.via);
      hop->set("dev", h.dev);
      hop->set("weight", h.weight);
      hops->add(hop);
    }
    route->set("nexthops", hops);
    routes->add(route);
  }
  o->set("routes", routes);
  return o;
}

Array::Ptr strings(const std::vector<std::string>& items) {
  Array::Ptr a = new Array;
  for (const auto& s : items) a->add(s);
  return a;
}

}  // namespace

Object::Ptr failover_to_json(const FailoverSnapshot& s) {
  Object::Ptr o = object();
  Array::Ptr lines = new Array;
  for (const FailoverLineView& l : s.lines) lines->add(line_to_json(l));
  o->set("lines", lines);
  o->set("plan", plan_to_json(s.plan, s.starting));
  o->set("preferred", strings(s.preferred));
  o->set("destinations_down", strings(s.destinations_down));
  const FailoverCounters& c = s.counters;
  Object::Ptr counters = object();
  counters->set("steps", c.steps);
  counters->set("inputs", c.inputs);
  counters->set("inbox_dropped", c.inbox_dropped);
  counters->set("unknown_line", c.unknown_line);
  counters->set("echo_errors", c.echo_errors);
  counters->set("plans", c.plans);
  counters->set("lag_ms", to_ms(c.lag_last));
  counters->set("lag_max_ms", to_ms(c.lag_max));
  o->set("counters", counters);
  return o;
}

}  // namespace linewatch

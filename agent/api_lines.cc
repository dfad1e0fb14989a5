#include "agent/api_lines.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "agent/json.h"

namespace linewatch {
namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

std::string stringify(const Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

template <typename T>
Var or_null(const std::optional<T>& v) {
  return v ? Var(*v) : Var();
}

// Per target on one line: whether its newest round (over every kind) was ok.
struct RoundCount {
  int targets_seen = 0;
  int targets_ok = 0;
};

RoundCount count_rounds(const std::string& line, const std::vector<SeriesSummary>& series) {
  std::map<std::string, const ProbeResult*> newest;  // target -> its newest round
  for (const SeriesSummary& s : series) {
    if (s.key.line != line) continue;
    const ProbeResult*& slot = newest[s.key.target];
    if (!slot || s.latest.time > slot->time) slot = &s.latest;
  }
  RoundCount c;
  for (const auto& [target, round] : newest) {
    ++c.targets_seen;
    c.targets_ok += round->ok ? 1 : 0;
  }
  return c;
}

const char* health_name(LineState s) {
  switch (s) {
    case LineState::up:
      return "good";
    case LineState::degraded:
      return "degraded";
    case LineState::down:
      return "bad";
  }
  return "bad";
}

// "primary", "backup" or null (see lines_document()).
Var role_of(const std::string& line, const Config& config, const FailoverSnapshot* failover) {
  if (!failover || failover->plan.routes.empty()) return Var();
  const bool named = std::any_of(config.routes.begin(), config.routes.end(), [&](const auto& r) {
    return std::find(r.lines.begin(), r.lines.end(), line) != r.lines.end();
  });
  if (!named) return Var();
  for (const RouteEntry& route : failover->plan.routes)
    for (const NextHop& hop : route.nexthops)
      if (hop.line == line) return Var(std::string("primary"));
  return Var(std::string("backup"));
}

Object::Ptr line_row(const LineSpec& spec, const LinesView& v) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  const RoundCount rounds = count_rounds(spec.id, v.series);
  const FailoverLineView* watched = nullptr;
  if (v.failover)
    for (const FailoverLineView& l : v.failover->lines)
      if (l.line == spec.id) watched = &l;
  std::string state = rounds.targets_seen == 0 ? "unknown" : rounds.targets_ok == 0 ? "down" : "up";
  if (watched)
    state = !watched->fresh ? "unknown" : watched->state == LineState::down ? "down" : "up";
  o->set("line", spec.id);
  o->set("state", state);
  o->set("health", watched ? Var(std::string(health_name(watched->state))) : Var());
  o->set("score", watched ? Var(watched->score) : Var());
  o->set("role", role_of(spec.id, *v.config, v.failover ? &*v.failover : nullptr));
  o->set("targets", v.config->targets.size());
  o->set("targets_ok", rounds.targets_ok);
  const LineBandwidth* bw = nullptr;
  for (const LineBandwidth& b : v.bandwidth)
    if (b.line == spec.id) bw = &b;
  o->set("rx_bps", bw ? or_null(bw->reading.rx_bps) : Var());
  o->set("tx_bps", bw ? or_null(bw->reading.tx_bps) : Var());
  o->set("utilisation", bw ? or_null(bw->reading.utilisation) : Var());
  o->set("capacity_bps", or_null(spec.capacity_bps));
  return o;
}

std::string address_of(const ProbeSpec& p) {
  switch (p.kind) {
    case ProbeKind::icmp:
      return p.icmp.host;
    case ProbeKind::tcp:
      return p.tcp->host;
    case ProbeKind::http:
      return url_without_secrets(p.http->url);
    case ProbeKind::llm:
      return url_without_secrets(p.llm->base_url);
  }
  return "";
}

}  // namespace

std::string url_without_secrets(const std::string& url) {
  std::string out = url.substr(0, url.find_first_of("?#"));
  const std::size_t scheme = out.find("://");
  const std::size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t path = out.find('/', host);
  const std::size_t at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
  if (at != std::string::npos && at >= host) out.erase(host, at + 1 - host);
  return out;
}

std::string lines_document(const LinesView& v) {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("agent", v.config->agent.id);
  doc.set("now", format_time(v.now));
  Array::Ptr lines = new Array;
  for (const LineSpec& spec : v.config->lines) lines->add(line_row(spec, v));
  doc.set("lines", lines);
  return stringify(doc);
}

std::string targets_document(const Config& config) {
  Array::Ptr line_ids = new Array;
  for (const LineSpec& l : config.lines) line_ids->add(l.id);
  Array::Ptr targets = new Array;
  for (const TargetSpec& t : config.targets) {
    Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    o->set("target", t.id);
    o->set("address", t.probes.empty() ? std::string() : address_of(t.probes.front()));
    Array::Ptr kinds = new Array;
    for (const ProbeSpec& p : t.probes) kinds->add(std::string(to_string(p.kind)));
    o->set("kinds", kinds);
    o->set("lines", line_ids);
    targets->add(o);
  }
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("targets", targets);
  return stringify(doc);
}

}  // namespace linewatch

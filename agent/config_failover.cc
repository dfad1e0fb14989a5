// The failover keys that tune the health logic: liveness (global and per
// line), health and scoring, plus the number readers they use. Routes, apply
// and gateways are in config_routes.cc.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "agent/config_internal.h"
#include "core/units.h"
#include "rules/score.h"

namespace linewatch::config_detail {
namespace {

using namespace std::chrono_literals;
using namespace config_limits;

constexpr Duration kMinLivenessInterval = 1ms;
constexpr Duration kMaxLivenessInterval = 10s;
constexpr Duration kMaxDetect = 60s;
constexpr Duration kMaxHealthWait = 1h;  // hold_down, min_dwell, margin_for, sla.window

// "0.4", "1e+06": short, and exact for the values a config holds.
std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A plain decimal number ("0.4", "2", "1e3"); nullopt for anything else.
std::optional<double> parse_number(const std::string& s) {
  double n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(n))
    return std::nullopt;
  return n;
}

// Where a liveness value came from, so a cross-key problem is reported at
// the most specific key (a line's own before liveness:, before built-in).
struct Origin {
  YAML::Mark mark;
  std::string path;
  int level = 0;  // 0 built-in, 1 liveness:, 2 lines[].liveness
};

struct LivenessLayer {
  LivenessOptions opts;
  Origin interval, detect;
  bool reflectors_set = false;  // named in the file (else: every icmp target)
};

bool has_icmp(const TargetSpec& t) {
  for (const ProbeSpec& p : t.probes)
    if (p.kind == ProbeKind::icmp) return true;
  return false;
}

std::optional<std::vector<std::string>> parse_reflectors(Ctx& ctx, const YAML::Node& k,
                                                         const YAML::Node& v,
                                                         const std::string& path,
                                                         const std::vector<TargetSpec>& targets) {
  if (!v.IsSequence()) {
    ctx.error(v.IsNull() ? k : v, path, "expected a list of target ids, got " + describe(v));
    return std::nullopt;
  }
  if (v.size() == 0 || v.size() > kMaxReflectors) {
    ctx.error(v, path,
              v.size() == 0 ? "at least one target id is required (leave reflectors out for "
                              "every target with an icmp host)"
                            : "at most " + std::to_string(kMaxReflectors) + " reflectors, got " +
                                  std::to_string(v.size()));
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    auto id = get_id(ctx, k, v[i], p);
    if (!id) continue;
    auto t = std::find_if(targets.begin(), targets.end(),
                          [&](const TargetSpec& x) { return x.id == *id; });
    if (t == targets.end()) {
      ctx.error(v[i], p, "unknown target \"" + *id + "\"");
    } else if (!has_icmp(*t)) {
      ctx.error(v[i], p,
                "target \"" + *id +
                    "\" has no icmp probe (a reflector answers the echoes sent "
                    "through each line)");
    } else if (std::find(out.begin(), out.end(), *id) != out.end()) {
      ctx.error(v[i], p, "duplicate reflector \"" + *id + "\"");
    } else {
      out.push_back(*id);
    }
  }
  return out;
}

std::optional<LivenessOptions> parse_profile(Ctx& ctx, const YAML::Node& k, const YAML::Node& v,
                                             const std::string& p) {
  auto t = get_text(ctx, k, v, p);
  if (!t) return std::nullopt;
  if (*t == "fast") return LivenessOptions::fast();
  if (*t == "default") return LivenessOptions{};
  ctx.error(v, p, "must be fast or default, got " + echo(*t));
  return std::nullopt;
}

// Detection must not trip on two lost echoes in a row: echoes leave every
// interval, so a silence of 2 × interval is only two losses on each reflector.
void check_detect(Ctx& ctx, const LivenessLayer& l, const Deferred& d) {
  const Duration interval = l.opts.interval, detect = l.opts.detect;
  if (detect > 2 * interval) return;
  const Origin& at = l.detect.level >= l.interval.level ? l.detect : l.interval;
  const std::string msg = "detect " + format_duration(detect) + " must be more than 2 × interval " +
                          format_duration(interval) +
                          " (two lost echoes in a row must not take a line down)";
  if (at.level == 0) return ctx.error(d.value, d.path, msg);
  ctx.error(at.mark, at.path, msg);
}

// One liveness: map over `base`; keys it leaves out keep base's values.
// `profile` sets interval and detect first; the map's own keys beat it.
LivenessLayer parse_liveness(Ctx& ctx, const Deferred& d, const LivenessLayer& base, int level,
                             const std::vector<TargetSpec>& targets) {
  LivenessLayer out = base;
  std::optional<LivenessOptions> profile;
  std::optional<Duration> interval, detect;
  std::optional<std::vector<std::string>> reflectors;
  Origin profile_at, interval_at, detect_at;
  bool refused = false;  // a timing value was refused: it is not judged again
  walk_map(ctx, d.value, d.path,
           {{"profile",
             [&](auto& k, auto& v, auto& p) {
               profile = parse_profile(ctx, k, v, p);
               refused |= !profile;
               profile_at = {v.Mark(), p, level};
             }},
            {"interval",
             [&](auto& k, auto& v, auto& p) {
               interval = get_duration(ctx, k, v, p, kMinLivenessInterval, kMaxLivenessInterval);
               refused |= !interval;
               interval_at = {v.Mark(), p, level};
             }},
            {"detect",
             [&](auto& k, auto& v, auto& p) {
               detect = get_duration(ctx, k, v, p, kMinLivenessInterval, kMaxDetect);
               refused |= !detect;
               detect_at = {v.Mark(), p, level};
             }},
            {"reflectors", [&](auto& k, auto& v, auto& p) {
               reflectors = parse_reflectors(ctx, k, v, p, targets);
             }}});
  if (profile) {
    out.opts.interval = profile->interval, out.opts.detect = profile->detect;
    out.interval = out.detect = profile_at;
  }
  if (interval) out.opts.interval = *interval, out.interval = interval_at;
  if (detect) out.opts.detect = *detect, out.detect = detect_at;
  if (reflectors) out.opts.reflectors = *reflectors, out.reflectors_set = true;
  if (!refused) check_detect(ctx, out, d);
  return out;
}

std::vector<std::string> icmp_targets(const std::vector<TargetSpec>& targets) {
  std::vector<std::string> out;
  for (const TargetSpec& t : targets)
    if (has_icmp(t)) out.push_back(t.id);
  return out;
}

void parse_sla(Ctx& ctx, const YAML::Node& node, const std::string& path, SlaOptions& s) {
  walk_map(ctx, node, path,
           {{"rtt_p95",
             [&](auto& k, auto& v, auto& p) {
               if (auto d = get_duration(ctx, k, v, p, 1us, 1min)) s.rtt_p95 = *d;
             }},
            {"loss",
             [&](auto& k, auto& v, auto& p) {
               if (auto f = get_percent(ctx, k, v, p, 0, 100)) s.loss = *f;
             }},
            {"jitter",
             [&](auto& k, auto& v, auto& p) {
               if (auto d = get_duration(ctx, k, v, p, Duration::zero(), 1min)) s.jitter = *d;
             }},
            {"window", [&](auto& k, auto& v, auto& p) {
               if (auto d = get_duration(ctx, k, v, p, 1s, kMaxHealthWait)) s.window = *d;
             }}});
}

// health.flap: the RFC 2439 style penalty. reuse < suppress <= max_penalty,
// else a suppressed line could never come back, or never be suppressed.
void parse_flap(Ctx& ctx, const YAML::Node& node, const std::string& path, HealthOptions& h) {
  // key -> value node, for messages. Filled by emplace only: assigning to a
  // YAML::Node that refers to a node rewrites that node in the document.
  std::map<std::string, YAML::Node> set;
  auto count = [&](const char* name, double& out) {
    return Field{name, [&ctx, &set, &out, name](auto& k, auto& v, auto& p) {
                   if (auto n = get_int(ctx, k, v, p, 0, 1000000))
                     out = static_cast<double>(*n), set.emplace(name, v);
                 }};
  };
  walk_map(ctx, node, path,
           {count("penalty", h.penalty_per_failure),
            {"half_life",
             [&](auto& k, auto& v, auto& p) {
               if (auto d = get_duration(ctx, k, v, p, 1s, 24h)) h.half_life = *d;
             }},
            count("suppress", h.suppress),
            count("reuse", h.reuse),
            count("max_penalty", h.max_penalty)});
  // At the first of the keys the file set (one of them was: the defaults fit).
  auto report = [&](std::initializer_list<const char*> names, const std::string& msg) {
    for (const char* name : names)
      if (set.count(name)) return ctx.error(set.at(name), path + "." + name, msg);
    ctx.error(node, path, msg);
  };
  if (h.reuse >= h.suppress)
    report({"reuse", "suppress"}, "reuse " + number_text(h.reuse) + " must be below suppress " +
                                      number_text(h.suppress) +
                                      " (a suppressed line returns once its penalty decays below "
                                      "reuse)");
  if (h.suppress > h.max_penalty)
    report({"max_penalty", "suppress"}, "suppress " + number_text(h.suppress) +
                                            " is above max_penalty " + number_text(h.max_penalty) +
                                            " (the penalty could never reach it)");
}

void parse_health(Ctx& ctx, const Deferred& d, HealthOptions& h) {
  walk_map(ctx, d.value, d.path,
           {{"rise",
             [&](auto& k, auto& v, auto& p) {
               if (auto n = get_int(ctx, k, v, p, 1, 100)) h.rise = static_cast<int>(*n);
             }},
            {"hold_down",
             [&](auto& k, auto& v, auto& p) {
               if (auto t = get_duration(ctx, k, v, p, Duration::zero(), kMaxHealthWait))
                 h.hold_down = *t;
             }},
            {"min_dwell",
             [&](auto& k, auto& v, auto& p) {
               if (auto t = get_duration(ctx, k, v, p, Duration::zero(), kMaxHealthWait))
                 h.min_dwell = *t;
             }},
            {"sla", [&](auto&, auto& v, auto& p) { parse_sla(ctx, v, p, h.sla); }},
            {"flap", [&](auto&, auto& v, auto& p) { parse_flap(ctx, v, p, h); }}});
}

// Ranges are checked here, at each value; rules/score.h's validate() then
// judges the whole (weights summing to zero) with its own words.
void parse_scoring(Ctx& ctx, const Deferred& d, ScoringOptions& s) {
  // Set by emplace: YAML::Node's operator= would rewrite the node it refers to.
  std::optional<YAML::Node> weights;
  auto weight = [&](const char* name, double& out) {
    return Field{name, [&ctx, &out](auto& k, auto& v, auto& p) {
                   if (auto n = get_number(ctx, k, v, p, 0, 1000)) out = *n;
                 }};
  };
  const std::size_t before = ctx.diags.size();
  walk_map(ctx, d.value, d.path,
           {{"weights",
             [&](auto&, auto& v, auto& p) {
               weights.emplace(v);
               walk_map(ctx, v, p,
                        {weight("latency", s.weights.latency), weight("load", s.weights.load),
                         weight("bandwidth", s.weights.bandwidth)});
             }},
            {"margin",
             [&](auto& k, auto& v, auto& p) {
               if (auto f = get_percent(ctx, k, v, p, 0, 100)) s.margin = *f;
             }},
            {"margin_for", [&](auto& k, auto& v, auto& p) {
               if (auto t = get_duration(ctx, k, v, p, Duration::zero(), kMaxHealthWait))
                 s.margin_for = *t;
             }}});
  if (ctx.diags.size() != before) return;
  if (Status st = validate(s); !st.ok()) {
    // "scoring.weights: why": the path is ours already.
    const std::string& m = st.error().message;
    const std::size_t colon = m.find(": ");
    ctx.error(weights ? *weights : d.value,
              colon == std::string::npos ? d.path : m.substr(0, colon),
              colon == std::string::npos ? m : m.substr(colon + 2));
  }
}

// Failover echoes through each line a route uses: every such line needs a
// reflector, and the default (every icmp target) must stay within the cap.
void check_route_reflectors(Ctx& ctx, const Deferred& routes, const Config& c) {
  for (const RouteSpec& r : c.routes) {
    for (const std::string& id : r.lines) {
      auto l = std::find_if(c.lines.begin(), c.lines.end(),
                            [&](const LineSpec& x) { return x.id == id; });
      if (l == c.lines.end()) continue;
      const auto& reflectors = l->liveness ? l->liveness->reflectors : c.liveness.reflectors;
      if (reflectors.empty())
        return ctx.error(routes.key, routes.path,
                         "failover needs a liveness reflector and no target has an icmp host "
                         "(add a target with icmp, or set liveness.reflectors)");
      if (reflectors.size() > kMaxReflectors)
        return ctx.error(routes.key, routes.path,
                         std::to_string(reflectors.size()) +
                             " targets have an icmp host, more than the " +
                             std::to_string(kMaxReflectors) +
                             " reflectors a line may echo; choose them with liveness.reflectors");
    }
  }
}

}  // namespace

std::optional<double> get_number(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                 const std::string& path, double lo, double hi) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  if (v.Tag() == "!") {
    ctx.error(v, path, "expected a number, got quoted " + describe(v) + " (drop the quotes)");
    return std::nullopt;
  }
  auto n = parse_number(*text);
  if (!n || (v.Tag() != "?" && v.Tag() != "tag:yaml.org,2002:float" &&
             v.Tag() != "tag:yaml.org,2002:int")) {
    ctx.error(v, path, "expected a number, got " + describe(v));
    return std::nullopt;
  }
  if (*n < lo || *n > hi) {
    ctx.error(v, path,
              "must be in " + number_text(lo) + ".." + number_text(hi) + ", got " + shorten(*text));
    return std::nullopt;
  }
  return n;
}

// Percentages need their %: a bare 1 could mean 1 % or all of it.
std::optional<double> get_percent(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                  const std::string& path, double lo, double hi) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  const bool has_sign = !text->empty() && text->back() == '%';
  auto n = parse_number(has_sign ? text->substr(0, text->size() - 1) : *text);
  if (!has_sign) {
    ctx.error(v, path,
              echo(*text) + ": a percent sign is required (e.g. " +
                  (n && *n > 0 && *n <= 1 ? number_text(*n * 100) : "2") + "%)");
    return std::nullopt;
  }
  if (!n) {
    ctx.error(v, path, echo(*text) + " is not a percentage (e.g. 2% or 0.5%)");
    return std::nullopt;
  }
  if (*n < lo || *n > hi) {
    ctx.error(
        v, path,
        "must be in " + number_text(lo) + "%.." + number_text(hi) + "%, got " + shorten(*text));
    return std::nullopt;
  }
  return *n / 100;
}

void parse_failover(Ctx& ctx, const FailoverSections& s, Config& c) {
  LivenessLayer global;
  if (s.liveness) global = parse_liveness(ctx, *s.liveness, global, 1, c.targets);
  if (!global.reflectors_set) global.opts.reflectors = icmp_targets(c.targets);
  c.liveness = global.opts;
  for (std::size_t i = 0; i < c.lines.size() && i < s.line_liveness.size(); ++i)
    if (s.line_liveness[i])
      c.lines[i].liveness = parse_liveness(ctx, *s.line_liveness[i], global, 2, c.targets).opts;
  if (s.health) parse_health(ctx, *s.health, c.health);
  if (s.scoring) parse_scoring(ctx, *s.scoring, c.scoring);
  if (s.routes) parse_routes(ctx, *s.routes, c.lines, c.routes);
  if (s.apply) parse_apply(ctx, *s.apply, c.apply);
  if (s.gateways) parse_gateways(ctx, *s.gateways, c.gateways);
  if (s.routes && !c.routes.empty()) check_route_reflectors(ctx, *s.routes, c);
}

}  // namespace linewatch::config_detail

// The `probes:` defaults section and the `targets:` list.
#include <algorithm>
#include <map>

#include "agent/config_internal.h"
#include "core/units.h"
#include "probes/http_regex.h"
#include "probes/http_wire.h"

namespace linewatch::config_detail {

using Entry = ProbeDefaults::Entry;
using Origin = ProbeDefaults::Origin;
using namespace config_limits;

namespace {
constexpr Duration kMinInterval = std::chrono::milliseconds(10);
}  // namespace

void timing_fields(Ctx& ctx, Entry& e, int level, std::vector<Field>& f) {
  f.push_back({"interval", [&ctx, &e, level](auto& k, auto& v, auto& p) {
                 if (auto d = get_duration(ctx, k, v, p, kMinInterval, kMaxInterval))
                   e.spec.timing.interval = *d, e.interval = {v.Mark(), p, level};
               }});
  f.push_back({"timeout", [&ctx, &e, level](auto& k, auto& v, auto& p) {
                 if (auto d = get_duration(ctx, k, v, p, std::chrono::milliseconds(1), kMaxTimeout))
                   e.spec.timing.timeout = *d, e.timeout = {v.Mark(), p, level};
               }});
}

void parse_tls(Ctx& ctx, const YAML::Node& v, const std::string& p, bool& verify,
               std::string& ca_file, std::string& server_name) {
  walk_map(ctx, v, p,
           {{"verify",
             [&ctx, &verify](auto& k2, auto& v2, auto& p2) {
               if (auto b = get_bool(ctx, k2, v2, p2)) verify = *b;
             }},
            {"ca_file",
             [&ctx, &ca_file](auto& k2, auto& v2, auto& p2) {
               auto t = get_text(ctx, k2, v2, p2);
               if (!t) return;
               // Checked now: a missing CA file would otherwise fail every
               // round of the probe, long after the config was accepted.
               const std::string path = resolve_path(ctx, *t);
               if (std::string err = check_readable_file(path); !err.empty())
                 return ctx.error(v2, p2, err);
               ca_file = path;
             }},
            {"server_name", [&ctx, &server_name](auto& k2, auto& v2, auto& p2) {
               if (auto t = get_text(ctx, k2, v2, p2)) {
                 if (std::string err = check_host(*t); !err.empty()) return ctx.error(v2, p2, err);
                 server_name = *t;
               }
             }}});
}

namespace {

// `host:` of a probe: a name or address, only under a target (a default
// destination in `probes:` would make no sense).
Field host_field(Ctx& ctx, std::string& out) {
  return {"host",
          [&ctx, &out](auto& k, auto& v, auto& p) {
            if (auto t = get_text(ctx, k, v, p)) {
              if (std::string err = check_host(*t); !err.empty()) return ctx.error(v, p, err);
              out = *t;
            }
          },
          true};
}

std::vector<Field> icmp_fields(Ctx& ctx, Entry& e, int level) {
  IcmpOptions& o = e.spec.icmp;
  std::vector<Field> f = {
      host_field(ctx, o.host),
      {"pings",
       [&ctx, &e, level](auto& k, auto& v, auto& p) {
         if (auto n = get_int(ctx, k, v, p, 1, 100))
           e.spec.icmp.pings = static_cast<int>(*n), e.pings = {v.Mark(), p, level};
       }},
      {"spacing",
       [&ctx, &e, level](auto& k, auto& v, auto& p) {
         if (auto d = get_duration(ctx, k, v, p, Duration::zero(), kMaxSpacing))
           e.spec.icmp.spacing = *d, e.spacing = {v.Mark(), p, level};
       }},
      {"payload",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto n = get_int(ctx, k, v, p, 0, 65000)) o.payload_bytes = static_cast<int>(*n);
       }},
      {"family",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto n = get_int(ctx, k, v, p, 4, 6)) {
           if (*n == 5) return ctx.error(v, p, "must be 4 or 6, got 5");
           o.family = static_cast<int>(*n);
         }
       }},
  };
  timing_fields(ctx, e, level, f);
  return f;
}

std::vector<Field> tcp_fields(Ctx& ctx, Entry& e, int level) {
  TcpOptions& o = *e.spec.tcp;
  std::vector<Field> f = {
      host_field(ctx, o.host),
      {"port",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto n = get_int(ctx, k, v, p, 1, 65535)) o.port = static_cast<std::uint16_t>(*n);
       },
       true},
      {"send",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto t = get_text(ctx, k, v, p)) o.send = *t;
       }},
      {"expect",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto t = get_text(ctx, k, v, p)) o.expect = *t;
       }},
  };
  timing_fields(ctx, e, level, f);
  return f;
}

void parse_expect_status(Ctx& ctx, const YAML::Node& k, const YAML::Node& v, const std::string& p,
                         HttpOptions& o) {
  if (!v.IsSequence())
    return ctx.error(v, p, "expected a list of status codes, got " + describe(v));
  std::vector<int> codes;
  for (std::size_t i = 0; i < v.size(); ++i)
    if (auto n = get_int(ctx, k, v[i], p + "[" + std::to_string(i) + "]", 100, 599))
      codes.push_back(static_cast<int>(*n));
  o.expect_status = codes;
}

void parse_headers(Ctx& ctx, const YAML::Node& k, const YAML::Node& v, const std::string& p,
                   HttpOptions& o) {
  if (!v.IsMap()) return ctx.error(v, p, "expected a map of header: value, got " + describe(v));
  std::map<std::string, std::string> h;
  for (auto it = v.begin(); it != v.end(); ++it) {
    auto name = get_text(ctx, k, it->first, p);
    const std::string hp = p + "." + (name ? *name : "?");
    auto value = get_text(ctx, it->first, it->second, hp);
    if (!name || !value) continue;
    // A CR or LF would end the field and start another the operator never
    // wrote; the probe refuses such a header too, but the mistake is here.
    if (std::string why = check_header_field(*name, ""); !why.empty()) {
      ctx.error(it->first, hp, why);
      continue;
    }
    if (std::string why = check_header_field(*name, *value); !why.empty()) {
      ctx.error(it->second, hp, why);
      continue;
    }
    if (!h.emplace(*name, *value).second) ctx.error(it->first, hp, "duplicate key");
  }
  o.headers = h;
}

std::vector<Field> http_fields(Ctx& ctx, Entry& e, int level) {
  HttpOptions& o = *e.spec.http;
  auto tls = [&ctx, &o](auto&, auto& v, auto& p) {
    parse_tls(ctx, v, p, o.tls_verify, o.ca_file, o.server_name);
  };
  std::vector<Field> f = {
      {"url",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto t = get_text(ctx, k, v, p)) {
           if (std::string err = check_url(*t); !err.empty()) return ctx.error(v, p, err);
           o.url = *t;
         }
       },
       true},
      {"method",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto t = get_text(ctx, k, v, p)) {
           if (*t != "GET" && *t != "HEAD")
             return ctx.error(v, p, "must be GET or HEAD, got " + echo(*t));
           o.method = *t;
         }
       }},
      {"expect_status",
       [&ctx, &o](auto& k, auto& v, auto& p) { parse_expect_status(ctx, k, v, p, o); }},
      {"body_regex",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         auto t = get_text(ctx, k, v, p);
         if (!t) return;
         // Compiled here, once: every round of every line shares it.
         auto re = compile_body_regex(*t);
         if (!re.ok()) return ctx.error(v, p, "invalid regular expression: " + re.error().message);
         o.body_regex = *t;
         o.body_re = re.value();
       }},
      {"headers", [&ctx, &o](auto& k, auto& v, auto& p) { parse_headers(ctx, k, v, p, o); }},
      {"tls", tls},
      {"follow_redirects",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto b = get_bool(ctx, k, v, p)) o.follow_redirects = *b;
       }},
      {"max_redirects",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         if (auto n = get_int(ctx, k, v, p, 0, 20)) o.max_redirects = static_cast<int>(*n);
       }},
      {"max_body",
       [&ctx, &o](auto& k, auto& v, auto& p) {
         auto n = get_bytes(ctx, k, v, p);
         if (n && *n == 0) return ctx.error(v, p, "must be at least 1B");
         if (n) o.max_body_bytes = *n;
       }},
  };
  timing_fields(ctx, e, level, f);
  return f;
}

std::vector<Field> fields_for(ProbeKind kind, Ctx& ctx, Entry& e, int level) {
  switch (kind) {
    case ProbeKind::icmp:
      return icmp_fields(ctx, e, level);
    case ProbeKind::tcp:
      return tcp_fields(ctx, e, level);
    case ProbeKind::http:
      return http_fields(ctx, e, level);
    case ProbeKind::llm:
      return llm_fields(ctx, e, level);
  }
  return {};
}

// The most specific of the origins: the one the operator most likely edits.
const Origin& pick(std::initializer_list<const Origin*> origins) {
  const Origin* best = *origins.begin();
  for (const Origin* o : origins)
    if (o->level > best->level) best = o;
  return *best;
}

// Checks that span several keys, on the merged result.
void check_schedule(Ctx& ctx, const Entry& e, const YAML::Node& node, const std::string& path) {
  const ProbeTiming& t = e.spec.timing;
  auto report = [&](const Origin& o, const std::string& msg) {
    if (o.level == 0) return ctx.error(node, path, msg);
    ctx.error(o.mark, o.path, msg);
  };
  if (e.spec.kind == ProbeKind::icmp) {
    // Requests leave `spacing` apart and the last waits `timeout` (see
    // EchoSocket::round), so that is how long a round may take.
    const int pings = e.spec.icmp.pings;
    const Duration round = e.spec.icmp.spacing * std::max(pings - 1, 0) + t.timeout;
    if (round > t.interval)
      report(pick({&e.interval, &e.pings, &e.spacing, &e.timeout}),
             "icmp round of " + format_duration(round) + " ((" + std::to_string(pings) +
                 " pings - 1) × spacing " + format_duration(e.spec.icmp.spacing) + " + timeout " +
                 format_duration(t.timeout) + ") exceeds interval " + format_duration(t.interval));
  } else if (e.spec.kind == ProbeKind::llm && e.spec.llm->mode == LlmMode::completion &&
             e.spec.llm->stall >= t.timeout) {
    report(pick({&e.stall, &e.timeout}), "stall " + format_duration(e.spec.llm->stall) +
                                             " is not below timeout " + format_duration(t.timeout) +
                                             " (a stalled stream would end as a timeout)");
  }
  if (e.spec.kind != ProbeKind::icmp && t.timeout > t.interval) {
    report(pick({&e.timeout, &e.interval}), "timeout " + format_duration(t.timeout) +
                                                " exceeds interval " + format_duration(t.interval));
  }
}

// One kind of one target: shorthand scalar or full map over the defaults.
std::optional<ProbeSpec> parse_probe(Ctx& ctx, ProbeKind kind, const YAML::Node& key,
                                     const YAML::Node& v, const std::string& path,
                                     const Entry& defaults) {
  Entry e = defaults;
  if (kind == ProbeKind::llm) {
    if (!parse_llm(ctx, key, v, path, e)) return std::nullopt;
  } else if (v.IsScalar()) {
    auto fields = fields_for(kind, ctx, e, 2);
    const std::size_t before = ctx.diags.size();
    if (kind == ProbeKind::tcp) {
      std::string err;
      auto hp = split_host_port(v.Scalar(), err);
      if (!hp) return ctx.error(v, path, err), std::nullopt;
      e.spec.tcp->host = hp->first, e.spec.tcp->port = hp->second;
    } else {
      fields[0].on(key, v, path);  // host (icmp) or url (http) comes first
    }
    if (ctx.diags.size() != before) return std::nullopt;
  } else {
    if (v.IsNull()) return ctx.error(key, path, "missing value"), std::nullopt;
    const std::size_t before = ctx.diags.size();
    if (!walk_map(ctx, v, path, fields_for(kind, ctx, e, 2))) return std::nullopt;
    const char* required = kind == ProbeKind::http ? "url" : "host";
    const bool missing_port = kind == ProbeKind::tcp && !v["port"];
    if (!v[required] || missing_port)
      ctx.error(v, path,
                std::string("missing required key \"") + (v[required] ? "port" : required) + "\"");
    if (ctx.diags.size() != before) return std::nullopt;
  }
  check_schedule(ctx, e, v, path);
  return e.spec;
}

}  // namespace

ProbeDefaults parse_probe_defaults(Ctx& ctx, const YAML::Node& node) {
  ProbeDefaults d;
  for (ProbeKind k : kAllProbeKinds) {
    Entry& e = d.kinds[static_cast<int>(k)];
    e.spec.kind = k;
    if (k == ProbeKind::http) e.spec.timing = {std::chrono::seconds(30), std::chrono::seconds(5)};
    // The interval of llm depends on its mode; parse_llm sets it unless given.
    if (k == ProbeKind::llm) e.spec.timing = {kLlmModelsInterval, kLlmTimeout};
  }
  std::vector<Field> kinds;
  for (ProbeKind k : kAllProbeKinds) {
    kinds.push_back({to_string(k).data(), [&ctx, &d, k](auto&, auto& v, auto& p) {
                       Entry& e = d.kinds[static_cast<int>(k)];
                       walk_map(ctx, v, p, fields_for(k, ctx, e, 1), true);
                     }});
  }
  walk_map(ctx, node, "probes", kinds);
  return d;
}

void parse_targets(Ctx& ctx, const YAML::Node& key, const YAML::Node& node,
                   const ProbeDefaults& defaults, std::vector<TargetSpec>& out) {
  if (!node.IsSequence() || node.size() == 0) {
    const bool absent = node.IsNull();
    return ctx.error(absent ? key : node, "targets",
                     node.IsSequence() || absent ? "at least one target is required"
                                                 : "expected a list, got " + describe(node));
  }
  if (node.size() > kMaxTargets)
    return ctx.error(
        node, "targets",
        "at most " + std::to_string(kMaxTargets) + " targets, got " + std::to_string(node.size()));
  std::map<std::string, int> ids;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = "targets[" + std::to_string(i) + "]";
    TargetSpec t;
    std::vector<Field> fields = {{"id", [&](auto& k, auto& v, auto& p) {
                                    if (auto id = get_unique_id(ctx, k, v, p, ids, "target"))
                                      t.id = *id;
                                  }}};
    bool any_kind = false;
    for (ProbeKind k : kAllProbeKinds) {
      fields.push_back(
          {to_string(k).data(), [&, k](auto& k2, auto& v, auto& p) {
             any_kind = true;
             if (auto spec = parse_probe(ctx, k, k2, v, p, defaults.kinds[static_cast<int>(k)]))
               t.probes.push_back(*spec);
           }});
    }
    if (!item_present(ctx, node, item, path)) continue;
    if (!walk_map(ctx, item, path, fields)) continue;
    if (!item["id"]) ctx.error(item, path, "missing required key \"id\"");
    if (!any_kind)
      ctx.error(item, path, "target has no probes (set at least one of icmp, tcp, http, llm)");
    std::sort(t.probes.begin(), t.probes.end(),
              [](const ProbeSpec& a, const ProbeSpec& b) { return a.kind < b.kind; });
    out.push_back(std::move(t));
  }
}

}  // namespace linewatch::config_detail

// The alert keys: notify[] (receivers) and alerts: (defaults, rules[]).
// Receivers follow exporters/notify.h resolve_secrets()'s rules, checked
// here with positions and without reading environment variables (their
// values are read when the notifier starts): a config is judged the same in
// the agent's environment and in an operator's shell.
#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "agent/config_internal.h"
#include "core/units.h"
#include "exporters/notify.h"
#include "rules/alert_rules.h"
#include "rules/alert_text.h"

namespace linewatch::config_detail {
namespace {

using namespace std::chrono_literals;
using namespace config_limits;

constexpr Duration kMaxNotifyTimeout = 60s;
constexpr Duration kMaxSampleWindow = 24h;       // windows of samples held in memory
constexpr Duration kMaxRollupWindow = 31 * 24h;  // availability, from the rollups
constexpr Duration kMaxFor = 24h;
constexpr Duration kMaxRepeat = 7 * 24h;
constexpr std::size_t kMaxGlobChars = 256;
constexpr std::size_t kMaxSummaryChars = 1024;

// A list section that may be empty: true when `v` is a list within `max` items.
bool check_list(Ctx& ctx, const YAML::Node& v, const std::string& path, std::size_t max,
                const char* what) {
  if (v.IsNull()) return false;
  if (!v.IsSequence()) {
    ctx.error(v, path, "expected a list, got " + describe(v));
    return false;
  }
  if (v.size() <= max) return true;
  ctx.error(v, path,
            "at most " + std::to_string(max) + " " + what + ", got " + std::to_string(v.size()));
  return false;
}

std::string check_env_name(const std::string& name) {
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_]{0,127}");
  if (std::regex_match(name, kName)) return "";
  return echo(name) +
         " is not an environment variable name (A-Z a-z 0-9 _, not starting with a "
         "digit)";
}

// A receiver URL may hold a robot's token: messages never repeat it.
std::string check_notify_url(const std::string& url) {
  const auto colon = url.find("://");
  std::string scheme = colon == std::string::npos ? "" : url.substr(0, colon);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
  if (scheme != "http" && scheme != "https")
    return "must start with http:// or https://" + (colon == std::string::npos || colon > 16
                                                        ? std::string()
                                                        : ", got scheme " + echo(scheme));
  const std::size_t start = colon + 3;
  const std::string authority = url.substr(start, url.find_first_of("/?#", start) - start);
  if (authority.find('@') != std::string::npos)
    return "must not embed user:password@ (it would show in logs and the API)";
  if (authority.empty() || authority[0] == ':') return "has no host";
  return "";
}

// notify[].secret_file: read by the notifier, so it must be readable now.
// Only its size is looked at; the content never reaches a message.
std::string check_key_file(const std::string& path) {
  if (std::string err = check_readable_file(path); !err.empty()) return err;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 &&
      !ec)
    return echo(path) + " is empty (an empty key authenticates nothing)";
  return "";
}

// Where each key of a receiver was, for cross-key messages.
using KeyNodes = std::map<std::string, YAML::Node>;

std::vector<Field> receiver_fields(Ctx& ctx, NotifierSpec& s, std::map<std::string, int>& ids,
                                   KeyNodes& keys) {
  auto text = [&ctx, &keys](const char* name, std::string& out,
                            std::function<std::string(const std::string&)> check) {
    return Field{name, [&ctx, &keys, &out, check, name](auto& k, auto& v, auto& p) {
                   keys.emplace(name, k);
                   auto t = get_text(ctx, k, v, p);
                   if (!t) return;
                   if (std::string err = check(*t); !err.empty()) return ctx.error(v, p, err);
                   out = *t;
                 }};
  };
  return {{"id",
           [&](auto& k, auto& v, auto& p) {
             if (auto id = get_unique_id(ctx, k, v, p, ids, "receiver")) s.id = *id;
           }},
          {"kind",
           [&](auto& k, auto& v, auto& p) {
             keys.emplace("kind", k);
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             auto kind = notifier_kind_from_string(*t);
             if (!kind)
               return ctx.error(
                   v, p,
                   "must be webhook, alertmanager, wecom, dingtalk or feishu, got " + echo(*t));
             s.kind = *kind;
           }},
          text("url", s.url, check_notify_url),
          text("url_env", s.url_env, check_env_name),
          {"secret_file",
           [&](auto& k, auto& v, auto& p) {
             keys.emplace("secret_file", k);
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             const std::string path = resolve_path(ctx, *t);
             if (std::string err = check_key_file(path); !err.empty()) return ctx.error(v, p, err);
             s.secret_file = path;
           }},
          text("secret_env", s.secret_env, check_env_name),
          {"timeout", [&](auto& k, auto& v, auto& p) {
             if (auto d = get_duration(ctx, k, v, p, 1ms, kMaxNotifyTimeout)) s.timeout = *d;
           }}};
}

// The rules resolve_secrets() applies across keys, at the item or the key.
void check_receiver(Ctx& ctx, const YAML::Node& item, const std::string& path,
                    const KeyNodes& keys) {
  const bool url = keys.count("url"), url_env = keys.count("url_env");
  const bool file = keys.count("secret_file"), env = keys.count("secret_env");
  if (!item["id"]) ctx.error(item, path, "missing required key \"id\"");
  if (!keys.count("kind")) ctx.error(item, path, "missing required key \"kind\"");
  if (url && url_env) ctx.error(item, path, "set one of url and url_env, not both");
  if (!url && !url_env)
    ctx.error(item, path, "missing url or url_env (where to send notifications)");
  if (file && env) ctx.error(item, path, "set one of secret_file and secret_env, not both");
  const YAML::Node kind = item["kind"];
  if (!kind || !kind.IsScalar()) return;
  const std::optional<NotifierKind> k = notifier_kind_from_string(kind.Scalar());
  const auto secret = keys.find(file ? "secret_file" : "secret_env");
  const std::string secret_path = path + (file ? ".secret_file" : ".secret_env");
  if (k == NotifierKind::webhook && !file && !env)
    ctx.error(item, path, "a webhook needs secret_file or secret_env (its requests are signed)");
  if (k == NotifierKind::alertmanager && secret != keys.end())
    ctx.error(secret->second, secret_path, "alertmanager requests are not signed");
  if (k == NotifierKind::wecom && secret != keys.end())
    ctx.error(secret->second, secret_path, "wecom robots are not signed (the key is in the URL)");
}

void parse_notify(Ctx& ctx, const Deferred& d, std::vector<NotifierSpec>& out) {
  if (!check_list(ctx, d.value, d.path, kMaxReceivers, "receivers")) return;
  std::map<std::string, int> ids;
  for (std::size_t i = 0; i < d.value.size(); ++i) {
    const YAML::Node item = d.value[i];
    const std::string path = d.path + "[" + std::to_string(i) + "]";
    if (!item_present(ctx, d.value, item, path)) continue;
    NotifierSpec s;
    KeyNodes keys;
    if (!walk_map(ctx, item, path, receiver_fields(ctx, s, ids, keys))) continue;
    check_receiver(ctx, item, path, keys);
    out.push_back(std::move(s));
  }
}

// What the config names, for match globs that must match something.
struct Known {
  std::vector<std::string> lines, targets, kinds, receivers;
};

Known known_names(const Config& c) {
  Known k;
  std::set<std::string> kinds;
  for (const LineSpec& l : c.lines) k.lines.push_back(l.id);
  for (const TargetSpec& t : c.targets) {
    k.targets.push_back(t.id);
    for (const ProbeSpec& p : t.probes) kinds.insert(std::string(to_string(p.kind)));
  }
  k.kinds.assign(kinds.begin(), kinds.end());
  for (const NotifierSpec& n : c.notify) k.receivers.push_back(n.id);
  return k;
}

// One rule's keys that are judged once the metric is known, wherever it is.
struct RuleDraft {
  AlertRule rule;
  bool metric_known = false;
  std::optional<Deferred> scope, window, above, below, clear, summary;
  KeyNodes match;  // match.line / target / kind -> its value
};

// "" when `glob` is valid and matches one of `names`, else the message.
std::string check_match(const std::string& glob, const std::vector<std::string>& names,
                        const char* what) {
  if (glob.size() > kMaxGlobChars)
    return "longer than " + std::to_string(kMaxGlobChars) + " characters";
  if (std::string err = check_glob(glob); !err.empty()) {
    const std::string whole = "\"" + glob + "\"";
    return err.rfind(whole, 0) == 0 ? echo(glob) + err.substr(whole.size()) : err;
  }
  for (const std::string& n : names)
    if (glob_match(glob, n)) return "";
  return echo(glob) + " matches no " + what + " of this config";
}

void parse_match(Ctx& ctx, const YAML::Node& v, const std::string& path, const Known& known,
                 RuleDraft& d) {
  auto glob = [&](const char* name, std::string& out, const std::vector<std::string>& names,
                  const char* what) {
    return Field{name, [&, name, what](auto& k, auto& val, auto& p) {
                   d.match.emplace(name, val);
                   auto t = get_text(ctx, k, val, p);
                   if (!t) return;
                   if (std::string err = check_match(*t, names, what); !err.empty())
                     return ctx.error(val, p, err);
                   out = *t;
                 }};
  };
  walk_map(ctx, v, path,
           {glob("line", d.rule.match.line, known.lines, "line"),
            glob("target", d.rule.match.target, known.targets, "target"),
            glob("kind", d.rule.match.kind, known.kinds, "probe kind")});
}

void parse_notify_ids(Ctx& ctx, const YAML::Node& k, const YAML::Node& v, const std::string& path,
                      const Known& known, AlertRule& r) {
  if (!v.IsSequence())
    return ctx.error(v.IsNull() ? k : v, path,
                     "expected a list of receiver ids, got " + describe(v));
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    auto id = get_id(ctx, k, v[i], p);
    if (!id) continue;
    if (std::find(known.receivers.begin(), known.receivers.end(), *id) == known.receivers.end())
      ctx.error(v[i], p, "unknown receiver \"" + *id + "\" (not an id in notify:)");
    else if (std::find(ids.begin(), ids.end(), *id) != ids.end())
      ctx.error(v[i], p, "receiver \"" + *id + "\" is already listed");
    else
      ids.push_back(*id);
  }
  r.notify = std::move(ids);
}

std::vector<Field> rule_fields(Ctx& ctx, RuleDraft& d, std::map<std::string, int>& names,
                               const Known& known) {
  AlertRule& r = d.rule;
  auto later = [](std::optional<Deferred>& out) {
    return [&out](auto& k, auto& v, auto& p) { out.emplace(Deferred{k, v, p}); };
  };
  return {{"name",
           [&](auto& k, auto& v, auto& p) {
             auto id = get_id(ctx, k, v, p);
             if (!id) return;
             if (*id == kLineDownRule)
               return ctx.error(v, p,
                                "\"" + *id +
                                    "\" is the alert raised while a line is down (choose "
                                    "another name)");
             auto [it, fresh] = names.emplace(*id, v.Mark().line + 1);
             if (!fresh)
               ctx.error(v, p,
                         "duplicate rule name \"" + *id + "\" (first at line " +
                             std::to_string(it->second) + ")");
             r.name = *id;
           }},
          {"metric",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             auto m = alert_metric_from_string(*t);
             if (!m)
               return ctx.error(
                   v, p, "unknown metric " + echo(*t) + " (one of: " + alert_metric_names() + ")");
             r.metric = *m;
             d.metric_known = true;
           }},
          {"scope",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             auto s = alert_scope_from_string(*t);
             if (!s) return ctx.error(v, p, "must be line, target or series, got " + echo(*t));
             r.scope = *s;
             d.scope.emplace(Deferred{k, v, p});
           }},
          {"match", [&](auto&, auto& v, auto& p) { parse_match(ctx, v, p, known, d); }},
          {"window",
           [&](auto& k, auto& v, auto& p) {
             if (auto w = get_duration(ctx, k, v, p, 1s, kMaxRollupWindow)) {
               r.window = *w;
               d.window.emplace(Deferred{k, v, p});
             }
           }},
          {"above", later(d.above)},
          {"below", later(d.below)},
          {"clear", later(d.clear)},
          {"for",
           [&](auto& k, auto& v, auto& p) {
             if (auto f = get_duration(ctx, k, v, p, Duration::zero(), kMaxFor))
               r.for_duration = *f;
           }},
          {"severity",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             if (std::string err = check_severity(shorten(*t)); !err.empty())
               return ctx.error(v, p, err);
             r.severity = *t;
           }},
          {"summary", later(d.summary)},
          {"notify", [&](auto& k, auto& v, auto& p) { parse_notify_ids(ctx, k, v, p, known, r); }},
          {"repeat", [&](auto& k, auto& v, auto& p) {
             auto t = get_duration(ctx, k, v, p, Duration::zero(), kMaxRepeat);
             if (t && *t > Duration::zero() && *t < 1min)
               return ctx.error(v, p,
                                "must be 0s (never) or at least 1m, got " + format_duration(*t));
             if (t) r.repeat = *t;
           }}};
}

std::optional<double> threshold(Ctx& ctx, const Deferred& d, AlertMetric m) {
  auto t = get_text(ctx, d.key, d.value, d.path);
  if (!t) return std::nullopt;
  // No threshold is longer than the echo limit: the cut text gets the same verdict.
  auto v = parse_threshold(m, shorten(*t));
  if (!v) ctx.error(d.value, d.path, v.error().message);
  return v ? std::optional<double>(*v) : std::nullopt;
}

// Scope, window and match as the metric allows them.
void check_metric_keys(Ctx& ctx, const std::string& path, RuleDraft& d) {
  AlertRule& r = d.rule;
  if (!d.scope) r.scope = default_scope(r.metric);
  if (r.metric == AlertMetric::bandwidth_utilisation) {
    if (d.scope && r.scope != AlertScope::line)
      ctx.error(d.scope->value, d.scope->path,
                "bandwidth_utilisation is measured per line (use scope: line)");
    for (const char* key : {"target", "kind"})
      if (d.match.count(key))
        ctx.error(d.match.at(key), path + ".match." + key,
                  "bandwidth_utilisation is measured per line (match line only)");
  }
  const Duration most = r.metric == AlertMetric::availability ? kMaxRollupWindow : kMaxSampleWindow;
  if (d.window && r.window > most)
    ctx.error(d.window->value, d.window->path,
              format_duration(r.window) + " is above the maximum " + format_duration(most) +
                  " for " + std::string(to_string(r.metric)) +
                  " (its samples are held in memory; availability, from the rollups, takes up "
                  "to " +
                  format_duration(kMaxRollupWindow) + ")");
}

void check_threshold(Ctx& ctx, const YAML::Node& item, const std::string& path, RuleDraft& d) {
  AlertRule& r = d.rule;
  if (d.above && d.below) return ctx.error(item, path, "set one of above and below, not both");
  if (!d.above && !d.below)
    return ctx.error(item, path, "missing required key \"above\" or \"below\" (the threshold)");
  r.above = d.above.has_value();
  auto t = threshold(ctx, r.above ? *d.above : *d.below, r.metric);
  if (!t) return;
  r.threshold = *t;
  if (!d.clear) return;
  auto clear = threshold(ctx, *d.clear, r.metric);
  if (!clear) return;
  if (std::string err = check_clear(r, *clear); !err.empty())
    return ctx.error(d.clear->value, d.clear->path, err);
  r.clear = clear;
}

void check_summary(Ctx& ctx, RuleDraft& d) {
  if (!d.summary) return;
  auto t = get_text(ctx, d.summary->key, d.summary->value, d.summary->path);
  if (!t) return;
  if (t->size() > kMaxSummaryChars)
    return ctx.error(d.summary->value, d.summary->path,
                     "longer than " + std::to_string(kMaxSummaryChars) + " characters");
  auto compiled = SummaryTemplate::compile(*t, d.rule.scope);
  if (!compiled) return ctx.error(d.summary->value, d.summary->path, compiled.error().message);
  d.rule.summary = *t;
}

// The checks that need the metric, after every key of the rule is read.
void finish_rule(Ctx& ctx, const YAML::Node& item, const std::string& path, RuleDraft& d,
                 std::size_t errors_before) {
  for (const char* key : {"name", "metric"})
    if (!item[key]) ctx.error(item, path, std::string("missing required key \"") + key + "\"");
  if (!d.metric_known) return;
  check_metric_keys(ctx, path, d);
  check_threshold(ctx, item, path, d);
  check_summary(ctx, d);
  if (ctx.diags.size() != errors_before) return;
  // Every key above was judged where it stands; this only catches a check
  // the rules module has and the keys above lack.
  if (Status st = validate(d.rule); !st) ctx.error(item, path, st.error().message);
}

void parse_rules(Ctx& ctx, const YAML::Node& v, const std::string& path, const Config& c,
                 std::vector<AlertRule>& out) {
  if (!check_list(ctx, v, path, kMaxAlertRules, "rules")) return;
  const Known known = known_names(c);
  std::map<std::string, int> names;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const YAML::Node item = v[i];
    const std::string p = path + "[" + std::to_string(i) + "]";
    if (!item_present(ctx, v, item, p)) continue;
    RuleDraft d;
    const std::size_t errors_before = ctx.diags.size();
    if (!walk_map(ctx, item, p, rule_fields(ctx, d, names, known))) continue;
    finish_rule(ctx, item, p, d, errors_before);
    out.push_back(std::move(d.rule));
  }
}

}  // namespace

void parse_alerts(Ctx& ctx, const std::optional<Deferred>& alerts,
                  const std::optional<Deferred>& notify, Config& c) {
  if (notify) parse_notify(ctx, *notify, c.notify);
  if (!alerts) return;
  walk_map(
      ctx, alerts->value, alerts->path,
      {{"defaults",
        [&](auto& k, auto& v, auto& p) {
          if (auto b = get_bool(ctx, k, v, p)) c.alerts.defaults = *b;
        }},
       {"rules", [&](auto&, auto& v, auto& p) { parse_rules(ctx, v, p, c, c.alerts.rules); }}});
}

}  // namespace linewatch::config_detail

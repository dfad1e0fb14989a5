// The failover keys that act: routes[], apply: and gateways[].
#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "agent/config_internal.h"
#include "exporters/plan_codec.h"
#include "exporters/route_apply.h"

namespace linewatch::config_detail {
namespace {

using namespace std::chrono_literals;
using namespace config_limits;

constexpr Duration kMaxPushTimeout = 60s;

// The prefix with its host bits cleared, in inet_ntop's spelling, so that
// "2001:DB8::/32" and "2001:db8::/32" are one prefix. nullopt when the
// address or length does not parse.
std::optional<std::string> network_of(const std::string& prefix) {
  const auto slash = prefix.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string addr = prefix.substr(0, slash);
  std::array<unsigned char, 16> b{};
  const int family = inet_pton(AF_INET, addr.c_str(), b.data()) == 1    ? AF_INET
                     : inet_pton(AF_INET6, addr.c_str(), b.data()) == 1 ? AF_INET6
                                                                        : 0;
  const int bits = family == AF_INET ? 32 : 128;
  const std::string len_text = prefix.substr(slash + 1);
  if (family == 0 || len_text.empty() || len_text.size() > 3 ||
      len_text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int len = std::stoi(len_text);
  if (len > bits) return std::nullopt;
  for (int bit = len; bit < bits; ++bit)
    b[bit / 8] &= static_cast<unsigned char>(~(0x80 >> (bit % 8)));
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family, b.data(), text, sizeof text);
  return std::string(text) + "/" + std::to_string(len);
}

// routes[].prefix: plan_codec's check (the format gateways accept), and the
// network to write when host bits are set.
std::optional<std::string> check_route_prefix(Ctx& ctx, const YAML::Node& v, const std::string& p,
                                              const std::string& text) {
  const auto network = network_of(text);
  // No prefix is longer than the echo limit, so the cut text gets the same
  // verdict, and a message within the limit.
  if (Status st = check_prefix(shorten(text)); !st.ok()) {
    const bool host_bits = network && st.error().message.rfind("host bits", 0) == 0;
    ctx.error(v, p, st.error().message + (host_bits ? " (the network is " + *network + ")" : ""));
    return std::nullopt;
  }
  return network.value_or(text);
}

// Remembers, per line id, the first route reference of a line without a
// gateway, so that one missing gateway is one error however many routes use it.
struct LineIndex {
  std::map<std::string, std::size_t> index;
  std::set<std::string> reported;
};

void parse_route_lines(Ctx& ctx, const YAML::Node& k, const YAML::Node& v, const std::string& path,
                       const std::vector<LineSpec>& lines, LineIndex& known, RouteSpec& r) {
  if (!v.IsSequence() || v.size() == 0)
    return ctx.error(v.IsNull() ? k : v, path,
                     v.IsSequence() ? "at least one line is required"
                                    : "expected a list of line ids, got " + describe(v));
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    auto id = get_id(ctx, k, v[i], p);
    if (!id) continue;
    auto at = known.index.find(*id);
    if (at == known.index.end()) {
      ctx.error(v[i], p, "unknown line \"" + *id + "\"");
    } else if (std::find(r.lines.begin(), r.lines.end(), *id) != r.lines.end()) {
      ctx.error(v[i], p, "line \"" + *id + "\" is already in this route");
    } else {
      r.lines.push_back(*id);
      if (lines[at->second].gateway.empty() && known.reported.insert(*id).second)
        ctx.error(v[i], p,
                  "line \"" + *id + "\" has no gateway (set lines[" + std::to_string(at->second) +
                      "].gateway, the next hop of routes over this line)");
    }
  }
}

std::vector<Field> route_fields(Ctx& ctx, RouteSpec& r, const std::vector<LineSpec>& lines,
                                LineIndex& known, std::map<std::string, int>& prefixes) {
  return {{"prefix",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             auto network = t ? check_route_prefix(ctx, v, p, *t) : std::nullopt;
             if (!network) return;
             auto [it, fresh] = prefixes.emplace(*network, v.Mark().line + 1);
             if (!fresh)
               return ctx.error(v, p,
                                "duplicate prefix " + *network + " (first at line " +
                                    std::to_string(it->second) + ")");
             r.prefix = *network;  // one spelling, for plans and their comparison
           }},
          {"policy",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             auto policy = route_policy_from_string(*t);
             if (!policy)
               return ctx.error(v, p, "must be primary-backup or weighted, got " + echo(*t));
             r.policy = *policy;
           }},
          {"lines",
           [&](auto& k, auto& v, auto& p) { parse_route_lines(ctx, k, v, p, lines, known, r); }}};
}

// gateways[].exec runs with the plan on stdin: an absolute path (the agent's
// working directory is not this file's) to an executable file, no arguments.
std::string check_exec(const std::string& path) {
  if (path.empty() || path[0] != '/') return "must be an absolute path, got " + echo(path);
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return "cannot run " + echo(path) + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return echo(path) + " is not a regular file";
  if (::access(path.c_str(), X_OK) != 0) return echo(path) + " is not executable";
  return "";
}

// gateways[].secret_file: read by the pusher, so it must be readable now. Only
// its size is looked at here; the content never reaches a message.
std::string check_secret_file(const std::string& path) {
  if (std::string err = check_readable_file(path); !err.empty()) return err;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 &&
      !ec)
    return echo(path) + " is empty (an empty key authenticates nothing)";
  return "";
}

std::vector<Field> gateway_fields(Ctx& ctx, GatewaySpec& g, std::map<std::string, int>& ids,
                                  std::optional<YAML::Node>& secret_key) {
  auto text = [&ctx](std::string& out, std::function<std::string(const std::string&)> check) {
    return [&ctx, &out, check](auto& k, auto& v, auto& p) {
      auto t = get_text(ctx, k, v, p);
      if (!t) return;
      if (std::string err = check(*t); !err.empty()) return ctx.error(v, p, err);
      out = *t;
    };
  };
  return {{"id",
           [&](auto& k, auto& v, auto& p) {
             if (auto id = get_unique_id(ctx, k, v, p, ids, "gateway")) g.id = *id;
           }},
          {"url", text(g.url, check_url)},
          {"exec", text(g.exec, check_exec)},
          {"secret_file",
           [&](auto& k, auto& v, auto& p) {
             secret_key.emplace(k);
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             const std::string path = resolve_path(ctx, *t);
             if (std::string err = check_secret_file(path); !err.empty())
               return ctx.error(v, p, err);
             g.secret_file = path;
           }},
          {"ca_file",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             const std::string path = resolve_path(ctx, *t);
             if (std::string err = check_readable_file(path); !err.empty())
               return ctx.error(v, p, err);
             g.ca_file = path;
           }},
          {"timeout", [&](auto& k, auto& v, auto& p) {
             if (auto d = get_duration(ctx, k, v, p, 1ms, kMaxPushTimeout)) g.timeout = *d;
           }}};
}

// Keys that only make sense together: exactly one of url and exec, and a
// secret with url only.
void check_gateway(Ctx& ctx, const YAML::Node& item, const std::string& path,
                   const std::optional<YAML::Node>& secret_key) {
  const bool url = !!item["url"], exec = !!item["exec"];
  if (!item["id"]) ctx.error(item, path, "missing required key \"id\"");
  if (url == exec)
    ctx.error(item, path,
              url ? "set one of url and exec, not both"
                  : "missing required key \"url\" or \"exec\" (where plans are pushed)");
  if (url && !item["secret_file"])
    ctx.error(item, path, "missing required key \"secret_file\" (the key that signs plans)");
  if (exec && !url && secret_key)
    ctx.error(*secret_key, path + ".secret_file",
              "only used with url (an exec gateway gets the plan unsigned on stdin)");
  if (const YAML::Node ca = item["ca_file"]) {
    const YAML::Node u = item["url"];
    const bool https = u && u.IsScalar() && u.Scalar().starts_with("https://");
    if (!https)
      ctx.error(ca, path + ".ca_file", "only used with an https:// url (it verifies the gateway)");
  }
}

// A list section that may be absent or empty: true when `node` is a list
// within `max` items.
bool check_list(Ctx& ctx, const Deferred& d, std::size_t max, const char* what) {
  if (d.value.IsNull()) return false;
  if (!d.value.IsSequence()) {
    ctx.error(d.value, d.path, "expected a list, got " + describe(d.value));
    return false;
  }
  if (d.value.size() <= max) return true;
  ctx.error(
      d.value, d.path,
      "at most " + std::to_string(max) + " " + what + ", got " + std::to_string(d.value.size()));
  return false;
}

}  // namespace

void parse_routes(Ctx& ctx, const Deferred& d, const std::vector<LineSpec>& lines,
                  std::vector<RouteSpec>& out) {
  if (!check_list(ctx, d, kMaxRoutes, "routes")) return;
  LineIndex known;
  for (std::size_t i = 0; i < lines.size(); ++i) known.index.emplace(lines[i].id, i);
  std::map<std::string, int> prefixes;
  for (std::size_t i = 0; i < d.value.size(); ++i) {
    const YAML::Node item = d.value[i];
    const std::string path = d.path + "[" + std::to_string(i) + "]";
    if (!item_present(ctx, d.value, item, path)) continue;
    RouteSpec r;
    if (!walk_map(ctx, item, path, route_fields(ctx, r, lines, known, prefixes))) continue;
    for (const char* key : {"prefix", "lines"})
      if (!item[key]) ctx.error(item, path, std::string("missing required key \"") + key + "\"");
    out.push_back(std::move(r));
  }
}

void parse_apply(Ctx& ctx, const Deferred& d, std::optional<ApplyOptions>& out) {
  // Changing this host's routes must be asked for in so many words.
  if (d.value.IsNull())
    return ctx.error(d.key, d.path,
                     "missing value (write apply: { table: main } to apply plans to this host)");
  ApplyOptions a;
  auto table = [&](auto& k, auto& v, auto& p) {
    auto t = get_text(ctx, k, v, p);
    if (!t) return;
    // Longer text is never a table number: cut, it gets the same verdict
    // and a message within the echo limit.
    auto n = parse_route_table(shorten(*t));
    if (!n) {
      const std::string& m = n.error().message;
      const std::string own = p + ": ";
      return ctx.error(v, p, m.rfind(own, 0) == 0 ? m.substr(own.size()) : m);
    }
    a.table = *t == "main" ? *t : std::to_string(*n);
  };
  if (walk_map(ctx, d.value, d.path, {{"table", table}})) out = a;
}

void parse_gateways(Ctx& ctx, const Deferred& d, std::vector<GatewaySpec>& out) {
  if (!check_list(ctx, d, kMaxGateways, "gateways")) return;
  std::map<std::string, int> ids;
  for (std::size_t i = 0; i < d.value.size(); ++i) {
    const YAML::Node item = d.value[i];
    const std::string path = d.path + "[" + std::to_string(i) + "]";
    if (!item_present(ctx, d.value, item, path)) continue;
    GatewaySpec g;
    std::optional<YAML::Node> secret_key;
    if (!walk_map(ctx, item, path, gateway_fields(ctx, g, ids, secret_key))) continue;
    check_gateway(ctx, item, path, secret_key);
    out.push_back(std::move(g));
  }
}

}  // namespace linewatch::config_detail

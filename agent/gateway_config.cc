#include "agent/gateway_config.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "agent/config_internal.h"
#include "exporters/route_apply.h"

namespace linewatch {
namespace {

using namespace config_detail;
using namespace std::chrono_literals;

// The key in `path`: "" and a message in `error` when it cannot be used. The
// message never holds the key.
std::string read_key(const std::string& path, std::string& error) {
  if (error = check_readable_file(path); !error.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  std::string key(gateway_limits::kMaxKeyBytes + 1, '\0');
  in.read(key.data(), static_cast<std::streamsize>(key.size()));
  key.resize(static_cast<std::size_t>(in.gcount()));
  if (key.size() > gateway_limits::kMaxKeyBytes) {
    error = echo(path) + " holds more than " + std::to_string(gateway_limits::kMaxKeyBytes) +
            " bytes; a key is a line such as `openssl rand -hex 32`";
    return "";
  }
  // `echo KEY > FILE` and editors add a line end the agent's side may not see.
  while (!key.empty() && std::string_view(" \t\r\n").find(key.back()) != std::string_view::npos)
    key.pop_back();
  if (key.size() < gateway_limits::kMinKeyBytes) {
    error = "the key in " + echo(path) + " is " + std::to_string(key.size()) +
            " bytes; use at least " + std::to_string(gateway_limits::kMinKeyBytes) +
            " (e.g. `openssl rand -hex 32 > " + path + "`)";
    return "";
  }
  return key;
}

// The text of a parse_route_table() error without its "apply.table: " lead.
std::string table_message(const Error& e) {
  constexpr std::string_view kLead = "apply.table: ";
  return e.message.starts_with(kLead) ? e.message.substr(kLead.size()) : e.message;
}

// The pushes are signed, but GET /v1/routes and /v1/events answer anyone:
// serving beyond this host must be asked for in so many words.
void parse_gateway(Ctx& ctx, const YAML::Node& key, const YAML::Node& node, GatewayConfig& g) {
  std::optional<YAML::Mark> public_listen;
  bool listen_public = false;
  auto path_field = [&ctx](std::string& out) {
    return [&ctx, &out](auto& k, auto& v, auto& p) {
      auto t = get_text(ctx, k, v, p);
      if (t && t->empty()) return ctx.error(v, p, "must not be empty");
      if (t) out = resolve_path(ctx, *t);
    };
  };
  const bool is_map =
      walk_map(ctx, node, "gateway",
               {{"id",
                 [&](auto& k, auto& v, auto& p) {
                   if (auto id = get_id(ctx, k, v, p)) g.id = *id;
                 }},
                {"listen",
                 [&](auto& k, auto& v, auto& p) {
                   auto t = get_text(ctx, k, v, p);
                   if (!t) return;
                   std::string err;
                   auto host_port = split_host_port(*t, err);
                   if (!host_port) return ctx.error(v, p, err);
                   g.listen = *t;
                   if (!is_loopback_host(host_port->first)) public_listen = v.Mark();
                 }},
                {"listen_public",
                 [&](auto& k, auto& v, auto& p) {
                   if (auto b = get_bool(ctx, k, v, p)) listen_public = *b;
                 }},
                {"secret_file",
                 [&](auto& k, auto& v, auto& p) {
                   auto t = get_text(ctx, k, v, p);
                   if (t && t->empty()) return ctx.error(v, p, "must not be empty");
                   if (!t) return;
                   g.secret_file = resolve_path(ctx, *t);
                   std::string err;
                   g.secret = read_key(g.secret_file, err);
                   if (!err.empty()) ctx.error(v, p, err);
                 }},
                {"table",
                 [&](auto& k, auto& v, auto& p) {
                   auto t = get_text(ctx, k, v, p);
                   if (!t) return;
                   auto table = parse_route_table(*t);
                   if (!table) return ctx.error(v, p, table_message(table.error()));
                   g.table = *table;
                 }},
                {"max_skew",
                 [&](auto& k, auto& v, auto& p) {
                   if (auto d = get_duration(ctx, k, v, p, 1s, std::chrono::hours(1)))
                     g.max_skew = *d;
                 }},
                {"data_dir", path_field(g.data_dir)},
                {"reconcile", [&](auto& k, auto& v, auto& p) {
                   if (auto d = get_duration(ctx, k, v, p, 100ms, std::chrono::hours(1)))
                     g.reconcile = *d;
                 }}});
  if (!is_map) return;
  if (node.IsNull()) return ctx.error(key, "gateway", "missing value");
  for (const char* required : {"id", "secret_file"})
    if (!node[required])
      ctx.error(node, "gateway", "missing required key \"" + std::string(required) + "\"");
  if (public_listen && !listen_public)
    ctx.error(*public_listen, "gateway.listen",
              echo(g.listen) +
                  " is not a loopback address and GET /v1/routes and /v1/events have no "
                  "authentication (set gateway.listen_public: true to take pushes from other "
                  "hosts)");
}

Result<GatewayConfig> parse_root(Ctx& ctx, const YAML::Node& root) {
  GatewayConfig g;
  if (!root.IsNull() && !root.IsMap()) {
    ctx.error(root, "", "expected a map at the top level, got " + describe(root));
    return invalid(ctx.report());
  }
  bool seen = false;
  walk_map(ctx, root, "", {{"gateway", [&](auto& k, auto& v, auto&) {
                              seen = true;
                              parse_gateway(ctx, k, v, g);
                            }}});
  if (!seen) ctx.error(root, "", "missing required key \"gateway\"");
  if (!ctx.diags.empty()) return invalid(ctx.report());
  return g;
}

}  // namespace

Result<GatewayConfig> load_gateway_config_string(std::string_view yaml, const std::string& name) {
  if (yaml.size() > gateway_limits::kMaxFileBytes)
    return invalid(name + ": larger than the " +
                   std::to_string(gateway_limits::kMaxFileBytes >> 10) +
                   " KiB limit for a gateway config file");
  Ctx ctx;
  ctx.file = name;
  ctx.base_dir = std::filesystem::path(name).parent_path().string();
  try {
    // The size limit bounds the nodes built; aliases are bounded by Ctx::read.
    const std::vector<YAML::Node> docs = YAML::LoadAll(std::string(yaml));
    if (docs.size() > 1) {
      ctx.error(docs[1], "yaml",
                "a second document starts here; a config is one document (remove the ---)");
      return invalid(ctx.report());
    }
    auto config = parse_root(ctx, docs.empty() ? YAML::Node() : docs[0]);
    if (config) config->source_path = name;
    return config;
  } catch (const YAML::ParserException& e) {
    ctx.error(e.mark, "yaml", e.msg);
  } catch (const Ctx::Exhausted&) {
  }
  return invalid(ctx.report());
}

Result<GatewayConfig> load_gateway_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return io_error(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot read: " + std::strerror(errno));
  std::string text(gateway_limits::kMaxFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return io_error(path + ": cannot read: " + std::strerror(errno));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return load_gateway_config_string(text, path);
}

}  // namespace linewatch

#include "agent/config_load.h"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "agent/config_internal.h"
#include "core/units.h"

namespace linewatch {
namespace {

using namespace config_detail;
using namespace config_limits;

// agent.api_token_file's content without the blanks around it. Failure: a
// message for the key (the token itself is never echoed).
Result<std::string> read_api_token(const std::string& path) {
  if (std::string err = check_readable_file(path); !err.empty()) return invalid(err);
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.size() > 4096) return invalid(echo(path) + " is over 4096 bytes; a token is one line");
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos)
    return invalid(echo(path) + " is empty (an empty token authenticates nothing)");
  text = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  if (text.size() < kMinApiTokenBytes)
    return invalid(echo(path) + " holds a token of " + std::to_string(text.size()) +
                   " bytes; at least " + std::to_string(kMinApiTokenBytes) + " are needed");
  return text;
}

// The API has no authentication: serving it beyond this host must be asked
// for in so many words, not be the side effect of a typo in agent.listen.
void parse_agent(Ctx& ctx, const YAML::Node& node, AgentOptions& a) {
  std::optional<YAML::Mark> public_listen;  // where a non-loopback listen was set
  bool listen_public = false;
  walk_map(ctx, node, "agent",
           {{"id",
             [&](auto& k, auto& v, auto& p) {
               if (auto id = get_id(ctx, k, v, p)) a.id = *id;
             }},
            {"listen",
             [&](auto& k, auto& v, auto& p) {
               auto t = get_text(ctx, k, v, p);
               std::string err;
               auto host_port = t ? split_host_port(*t, err) : std::nullopt;
               if (t && !host_port) return ctx.error(v, p, err);
               if (!t) return;
               a.listen = *t;
               if (!is_loopback_host(host_port->first)) public_listen = v.Mark();
             }},
            {"listen_public",
             [&](auto& k, auto& v, auto& p) {
               if (auto b = get_bool(ctx, k, v, p)) listen_public = *b;
             }},
            {"data_dir",
             [&](auto& k, auto& v, auto& p) {
               auto t = get_text(ctx, k, v, p);
               if (t && t->empty()) return ctx.error(v, p, "must not be empty");
               if (t) a.data_dir = resolve_path(ctx, *t);
             }},
            {"workers",
             [&](auto& k, auto& v, auto& p) {
               if (auto n = get_int(ctx, k, v, p, 1, 1024)) a.workers = static_cast<int>(*n);
             }},
            {"api_token_file", [&](auto& k, auto& v, auto& p) {
               auto t = get_text(ctx, k, v, p);
               if (!t) return;
               const std::string path = resolve_path(ctx, *t);
               auto token = read_api_token(path);
               if (!token) return ctx.error(v, p, token.error().message);
               a.api_token_file = path;
               a.api_token = std::move(*token);
             }}});
  if (public_listen && !listen_public)
    ctx.error(*public_listen, "agent.listen",
              echo(a.listen) +
                  " is not a loopback address and the API has no authentication (set "
                  "agent.listen_public: true to serve it beyond this host)");
}

void parse_storage(Ctx& ctx, const YAML::Node& node, StorageOptions& s) {
  walk_map(
      ctx, node, "storage",
      {{"retention",
        [&](auto& k, auto& v, auto& p) {
          if (auto d = get_duration(ctx, k, v, p, std::chrono::hours(1), kMaxRetention))
            s.retention = *d;
        }},
       {"queue",
        [&](auto& k, auto& v, auto& p) {
          if (auto n = get_int(ctx, k, v, p, 1, 1 << 24)) s.queue_capacity = *n;
        }},
       {"batch",
        [&](auto& k, auto& v, auto& p) {
          if (auto n = get_int(ctx, k, v, p, 1, 100000)) s.batch_max = *n;
        }},
       {"flush_interval", [&](auto& k, auto& v, auto& p) {
          if (auto d = get_duration(ctx, k, v, p, std::chrono::milliseconds(10), kMaxFlushInterval))
            s.flush_interval = *d;
        }}});
}

// `liveness` is only kept here: it is read with the other failover keys,
// once the targets it names are known.
std::vector<Field> line_fields(Ctx& ctx, LineSpec& l, std::map<std::string, int>& ids,
                               std::optional<Deferred>& liveness) {
  auto ip = [&ctx](std::string& out) {
    return [&ctx, &out](auto& k, auto& v, auto& p) {
      auto t = get_text(ctx, k, v, p);
      if (!t) return;
      if (std::string err = check_ip(*t); !err.empty()) return ctx.error(v, p, err);
      out = *t;
    };
  };
  return {{"id",
           [&](auto& k, auto& v, auto& p) {
             if (auto id = get_unique_id(ctx, k, v, p, ids, "line")) l.id = *id;
           }},
          {"interface",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             if (std::string err = check_ifname(*t); !err.empty()) return ctx.error(v, p, err);
             l.binding.interface = *t;
           }},
          {"source", ip(l.binding.source)},
          {"gateway", ip(l.gateway)},
          {"counters",
           [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             if (std::string err = check_ifname(*t); !err.empty()) return ctx.error(v, p, err);
             l.counters = *t;
           }},
          {"liveness",
           [&](auto& k, auto& v, auto& p) {
             liveness.emplace(Deferred{k, v, p});
           }},
          {"fwmark",
           [&](auto& k, auto& v, auto& p) {
             if (auto n = get_int(ctx, k, v, p, 1, 4294967295LL, /*hex=*/true))
               l.binding.fwmark = static_cast<std::uint32_t>(*n);
           }},
          {"capacity", [&](auto& k, auto& v, auto& p) {
             auto t = get_text(ctx, k, v, p);
             if (!t) return;
             auto bps = parse_bitrate(*t);
             if (!bps) return ctx.error(v, p, bps.error().message);
             if (*bps == 0) return ctx.error(v, p, "must be at least 1bps");
             l.capacity_bps = *bps;
           }}};
}

void parse_lines(Ctx& ctx, const YAML::Node& key, const YAML::Node& node,
                 std::vector<LineSpec>& out, std::vector<std::optional<Deferred>>& liveness) {
  if (!node.IsSequence() || node.size() == 0) {
    const bool absent = node.IsNull();
    return ctx.error(absent ? key : node, "lines",
                     node.IsSequence() || absent ? "at least one line is required"
                                                 : "expected a list, got " + describe(node));
  }
  if (node.size() > kMaxLines)
    return ctx.error(
        node, "lines",
        "at most " + std::to_string(kMaxLines) + " lines, got " + std::to_string(node.size()));
  std::map<std::string, int> ids;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = "lines[" + std::to_string(i) + "]";
    LineSpec l;
    std::optional<Deferred> live;
    if (item.IsNull()) {
      ctx.error(node, path, "expected a map, got nothing");
      continue;
    }
    if (!walk_map(ctx, item, path, line_fields(ctx, l, ids, live))) continue;
    if (!item["id"]) ctx.error(item, path, "missing required key \"id\"");
    if (!item["interface"] && !item["source"] && !item["fwmark"])
      ctx.error(item, path, "line must set at least one of interface, source or fwmark");
    out.push_back(std::move(l));
    liveness.push_back(std::move(live));
  }
}

// Top-level keys are gathered first so `probes:` applies wherever it appears.
Result<Config> parse_root(Ctx& ctx, const YAML::Node& root) {
  Config c;
  std::map<std::string, std::pair<YAML::Node, YAML::Node>> sections;
  auto keep = [&sections](const char* name) {
    return Field{name, [&sections, name](auto& k, auto& v, auto&) { sections[name] = {k, v}; }};
  };
  if (!root.IsNull() && !root.IsMap()) {
    ctx.error(root, "", "expected a map at the top level, got " + describe(root));
    return invalid(ctx.report());
  }
  walk_map(ctx, root, "",
           {keep("agent"), keep("storage"), keep("probes"), keep("lines"), keep("targets"),
            keep("liveness"), keep("health"), keep("scoring"), keep("routes"), keep("apply"),
            keep("gateways"), keep("alerts"), keep("notify")});
  auto section = [&](const char* name) {
    auto it = sections.find(name);
    return it == sections.end() ? std::pair{root, YAML::Node()} : it->second;
  };
  if (YAML::Node v = section("agent").second) parse_agent(ctx, v, c.agent);
  if (YAML::Node v = section("storage").second) parse_storage(ctx, v, c.storage);
  ProbeDefaults defaults = parse_probe_defaults(ctx, section("probes").second);
  auto deferred = [&sections](const char* name) -> std::optional<Deferred> {
    auto it = sections.find(name);
    if (it == sections.end()) return std::nullopt;
    return Deferred{it->second.first, it->second.second, name};
  };
  FailoverSections failover{deferred("liveness"),
                            deferred("health"),
                            deferred("scoring"),
                            deferred("routes"),
                            deferred("apply"),
                            deferred("gateways"),
                            {}};
  parse_lines(ctx, section("lines").first, section("lines").second, c.lines,
              failover.line_liveness);
  parse_targets(ctx, section("targets").first, section("targets").second, defaults, c.targets);
  parse_failover(ctx, failover, c);
  parse_alerts(ctx, deferred("alerts"), deferred("notify"), c);
  if (const std::size_t jobs = job_count(c); jobs > kMaxProbeJobs)
    ctx.error(section("targets").first, "targets",
              std::to_string(c.lines.size()) + " lines × " + std::to_string(jobs / c.lines.size()) +
                  " probes = " + std::to_string(jobs) + " probe jobs, above the limit " +
                  std::to_string(kMaxProbeJobs));
  if (c.storage.batch_max > c.storage.queue_capacity)
    ctx.error(section("storage").second["batch"], "storage.batch",
              "batch " + std::to_string(c.storage.batch_max) + " exceeds queue " +
                  std::to_string(c.storage.queue_capacity));
  if (!ctx.diags.empty()) return invalid(ctx.report());
  return c;
}

// Walks the event stream without building nodes: notes where documents
// start and counts values, so that a file of a million tiny values is refused
// before yaml-cpp spends several hundred bytes on a node for each.
class Census final : public YAML::EventHandler {
 public:
  struct TooMany {
    YAML::Mark at;
  };
  std::vector<YAML::Mark> starts;

  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { count(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    count(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    count(mark);
  }
  void OnMapEnd() override {}

 private:
  void count(const YAML::Mark& mark) {
    if (++values_ > kMaxValues) throw TooMany{mark};
  }
  std::size_t values_ = 0;
};

// The one document of the file. A second document is an error at its start
// (YAML::Load would read the first and ignore the rest).
std::optional<YAML::Node> parse_one_document(Ctx& ctx, const std::string& text) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    Census census;
    while (census.starts.size() < 2 && parser.HandleNextDocument(census)) {
    }
    if (census.starts.size() < 2) return YAML::Load(text);
    ctx.error(census.starts[1], "yaml",
              "a second document starts here; a config is one document (remove the ---)");
  } catch (const Census::TooMany& e) {
    ctx.error(e.at, "yaml",
              "more than " + std::to_string(kMaxValues) + " values, the limit for a config");
  } catch (const YAML::ParserException& e) {
    ctx.error(e.mark, "yaml", e.msg);
  }
  return std::nullopt;
}

// parse_root, ended early when aliases expand past the value limit.
Result<Config> parse_root_bounded(Ctx& ctx, const YAML::Node& root) {
  try {
    return parse_root(ctx, root);
  } catch (const Ctx::Exhausted&) {
    return invalid(ctx.report());
  }
}

Error too_large(const std::string& name) {
  return invalid(name + ": larger than the " + format_bytes(kMaxFileBytes) +
                 " limit for a config file");
}

}  // namespace

Result<Config> load_config_string(std::string_view yaml, const std::string& name) {
  if (yaml.size() > kMaxFileBytes) return too_large(name);
  Ctx ctx;
  ctx.file = name;
  ctx.base_dir = std::filesystem::path(name).parent_path().string();
  std::optional<YAML::Node> root = parse_one_document(ctx, std::string(yaml));
  if (!root) return invalid(ctx.report());
  auto config = parse_root_bounded(ctx, *root);
  if (config) config->source_path = name;
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  std::error_code ec;
  // An ifstream opens a directory and then reads nothing, which would be
  // reported as an empty config.
  if (std::filesystem::is_directory(path, ec)) return io_error(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error(path + ": cannot read: " + std::strerror(errno));
  // Read one byte past the limit, never more: the size of a pipe or a device
  // is not known in advance. In chunks, not into one buffer of the limit's
  // size: freeing a block that large raises glibc's mmap threshold for the
  // process's life, and later large blocks then stay resident after free.
  std::string text;
  char chunk[64 * 1024];
  while (text.size() <= kMaxFileBytes && in) {
    const std::size_t want = std::min(sizeof chunk, kMaxFileBytes + 1 - text.size());
    in.read(chunk, static_cast<std::streamsize>(want));
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) return io_error(path + ": cannot read: " + std::strerror(errno));
  if (text.size() > kMaxFileBytes) return too_large(path);
  return load_config_string(text, path);
}

std::size_t job_count(const Config& config) {
  std::size_t kinds = 0;
  for (const TargetSpec& t : config.targets) kinds += t.probes.size();
  return config.lines.size() * kinds;
}

}  // namespace linewatch

// Private to agent/config_*.cc: the walker that turns YAML nodes into values
// while collecting positioned errors. Not a public contract.
//
// Thread-safety: a Ctx belongs to one load; nothing here is shared.
#pragma once

// GCC 12 reports yaml-cpp 0.7's own iterator code (node/impl.h) as dangling
// pointers (a known false positive); silenced for the config loader files only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/config_load.h"
#include "core/config.h"
#include "core/error.h"

namespace linewatch::config_detail {

// One load's state: where messages point and what went wrong so far.
struct Ctx {
  std::string file;
  std::string base_dir;  // relative paths in the file resolve against this
  struct Diag {
    int line, col;
    std::string text;
  };
  std::vector<Diag> diags;
  std::size_t reads = 0;  // values read so far, an alias each time it is used

  // Thrown by read() to end a load that aliases have blown up.
  struct Exhausted {};
  // Counts one value read at `at`. Past config_limits::kMaxValues (a large
  // anchored value used many times over) it reports that and throws Exhausted.
  void read(const YAML::Node& at, const std::string& path);

  void error(const YAML::Mark& at, const std::string& path, const std::string& message);
  void error(const YAML::Node& at, const std::string& path, const std::string& message) {
    error(at.Mark(), path, message);
  }
  // All errors, sorted by position, duplicates dropped, one per line; after
  // config_limits::kMaxReportedErrors of them, one "... and N more errors".
  std::string report() const;
};

// A key of a map, with what to do with its value. `target_only` keys are
// refused in the `probes:` defaults section. `hidden` keys are never listed
// or suggested: they exist to refuse a likely mistake with a clear message.
struct Field {
  const char* name;
  std::function<void(const YAML::Node& key, const YAML::Node& value, const std::string& path)> on;
  bool target_only = false;
  bool hidden = false;
};

// Checks that `node` is a map (null counts as an empty one), reports unknown
// and duplicate keys and merge keys (<<, which yaml-cpp 0.7 does not expand),
// and calls each known key's handler in document order. Returns false when
// node is not a map.
bool walk_map(Ctx& ctx, const YAML::Node& node, const std::string& path,
              const std::vector<Field>& fields, bool defaults_section = false);

// "a map", "a list", "\"text\"", "nothing": for "expected X, got Y".
std::string describe(const YAML::Node& node);

// For an item of `list` at `path` that should be a map: reports "expected a
// map, got nothing" for an empty item (at the item, or at the list when the
// item has no position) and returns false; true for anything else.
bool item_present(Ctx& ctx, const YAML::Node& list, const YAML::Node& item,
                  const std::string& path);

// A value as messages echo it: cut to config_limits::kMaxEchoChars characters
// (on a UTF-8 boundary) with "…" when longer; echo() also adds the quotes.
std::string shorten(const std::string& value);
std::string echo(const std::string& value);

// Scalar readers: on a problem they report it (at the value, or at the key for
// a missing value) and return nullopt. get_int takes plain decimal scalars
// only (a quoted "80" is text, not a number); `hex` also admits 0x... .
// get_duration refuses values outside [min, max].
std::optional<std::string> get_text(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                    const std::string& path);
std::optional<long long> get_int(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                 const std::string& path, long long lo, long long hi,
                                 bool hex = false);
std::optional<bool> get_bool(Ctx&, const YAML::Node& key, const YAML::Node& v,
                             const std::string& path);
std::optional<Duration> get_duration(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                     const std::string& path, Duration min, Duration max);
std::optional<std::uint64_t> get_bytes(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                       const std::string& path);
std::optional<std::string> get_id(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                  const std::string& path);
// get_id, and unique among `seen` (id -> the line it was first given on):
// a repeat is reported as "duplicate WHAT id "X" (first at line N)" and still
// returned, so the rest of its item is checked too.
std::optional<std::string> get_unique_id(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                         const std::string& path, std::map<std::string, int>& seen,
                                         std::string_view what);

// Text checks; each returns "" when fine or the message to report.
std::string check_host(const std::string& host);
std::string check_ip(const std::string& ip);
std::string check_url(const std::string& url);
// A Linux interface name (lines[].interface, lines[].counters): 1..15
// characters (IFNAMSIZ - 1), none of '/', ':' or white space, not "." or "..".
std::string check_ifname(const std::string& name);
// Splits HOST:PORT or [V6]:PORT; on failure returns the message in `error`.
std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text,
                                                                     std::string& error);

// A path from the file made absolute against ctx.base_dir.
std::string resolve_path(const Ctx& ctx, const std::string& path);

// "" when `path` names a file this process can open for reading, else the
// message: "cannot read \"PATH\": <errno text>" or "\"PATH\" is a directory".
std::string check_readable_file(const std::string& path);

// True for 127.0.0.0/8, ::1, ::ffff:127.x.x.x and "localhost".
bool is_loopback_host(const std::string& host);

// The probe sections: defaults in `probes:`, then each target's kinds.
struct ProbeDefaults {
  struct Origin {
    YAML::Mark mark;
    std::string path;
    int level = 0;  // 0 built-in, 1 probes: section, 2 the target
  };
  struct Entry {
    ProbeSpec spec;
    Origin interval, timeout, pings, spacing, stall;
  };
  Entry kinds[std::size(kAllProbeKinds)];
};
ProbeDefaults parse_probe_defaults(Ctx& ctx, const YAML::Node& node);

// `interval` and `timeout`, appended to a kind's fields; `level` as in Origin.
void timing_fields(Ctx& ctx, ProbeDefaults::Entry& e, int level, std::vector<Field>& f);
// A `tls:` map (verify, ca_file, server_name), as http and llm take it.
void parse_tls(Ctx& ctx, const YAML::Node& v, const std::string& p, bool& verify,
               std::string& ca_file, std::string& server_name);

// The llm kind (agent/config_llm.cc). Built-in schedule: every 60s in models
// mode, every 5m in completion mode (each round costs tokens), timeout 20s.
inline constexpr Duration kLlmModelsInterval = std::chrono::seconds(60);
inline constexpr Duration kLlmCompletionInterval = std::chrono::minutes(5);
inline constexpr Duration kLlmTimeout = std::chrono::seconds(20);
std::vector<Field> llm_fields(Ctx& ctx, ProbeDefaults::Entry& e, int level);
// One target's `llm:` map over the defaults in `e`: its keys, the required
// ones, exactly one key source, and the interval of the mode when none was
// set. Returns false when anything was reported.
bool parse_llm(Ctx& ctx, const YAML::Node& key, const YAML::Node& v, const std::string& path,
               ProbeDefaults::Entry& e);
void parse_targets(Ctx& ctx, const YAML::Node& key, const YAML::Node& node,
                   const ProbeDefaults& defaults, std::vector<TargetSpec>& out);

// A key whose value is read later, when the sections it refers to are known.
struct Deferred {
  YAML::Node key, value;
  std::string path;
};

// The failover sections (agent/config_failover.cc). They name lines and
// targets, so they are read after both; an absent section is nullopt.
struct FailoverSections {
  std::optional<Deferred> liveness, health, scoring, routes, apply, gateways;
  // lines[i].liveness, index-aligned with Config::lines (nullopt: not set).
  std::vector<std::optional<Deferred>> line_liveness;
};
// Fills c.liveness (reflectors defaulted), each line's liveness override,
// c.health, c.scoring, c.routes, c.apply and c.gateways, and checks them
// against c.lines and c.targets. Problems go to ctx.
void parse_failover(Ctx& ctx, const FailoverSections& sections, Config& c);

// Reads routes[] (agent/config_routes.cc): prefixes, policies, line names
// checked against `lines`, and that each line a route uses has a gateway.
void parse_routes(Ctx& ctx, const Deferred& section, const std::vector<LineSpec>& lines,
                  std::vector<RouteSpec>& out);
// Reads apply: and gateways[] (agent/config_routes.cc).
void parse_apply(Ctx& ctx, const Deferred& section, std::optional<ApplyOptions>& out);
void parse_gateways(Ctx& ctx, const Deferred& section, std::vector<GatewaySpec>& out);

// The alerts: and notify: sections (agent/config_alerts.cc): receivers,
// then rules, whose match globs must match a configured line, target or kind
// and whose notify ids must be receivers. Absent sections keep the defaults.
void parse_alerts(Ctx& ctx, const std::optional<Deferred>& alerts,
                  const std::optional<Deferred>& notify, Config& c);

// Decimal number readers for the failover keys. get_number takes a plain
// (unquoted) decimal scalar in [lo, hi]; get_percent a percentage such as
// "2%" or "0.5%" in [lo, hi] percent and returns it as a fraction (0.02).
std::optional<double> get_number(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                 const std::string& path, double lo, double hi);
std::optional<double> get_percent(Ctx&, const YAML::Node& key, const YAML::Node& v,
                                  const std::string& path, double lo, double hi);

}  // namespace linewatch::config_detail

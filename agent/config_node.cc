// YAML walking helpers and text checks shared by the config loader.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <tuple>

#include "agent/config_internal.h"
#include "core/units.h"

namespace linewatch::config_detail {
namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The closest known key when it is near enough to be a typo.
std::string suggest(const std::string& key, const std::vector<Field>& fields) {
  std::string best;
  // No key is that long; skip the quadratic distance on a huge one.
  if (key.size() > config_limits::kMaxEchoChars) return best;
  std::size_t best_d = std::max<std::size_t>(2, key.size() / 3) + 1;
  for (const Field& f : fields) {
    if (f.hidden) continue;
    const std::size_t d = edit_distance(lower(key), f.name);
    if (d < best_d) best_d = d, best = f.name;
  }
  return best;
}

std::string join_names(const std::vector<Field>& fields, bool defaults_section) {
  std::string out;
  for (const Field& f : fields) {
    if ((defaults_section && f.target_only) || f.hidden) continue;
    out += (out.empty() ? "" : ", ") + std::string(f.name);
  }
  return out;
}

// A units parser's message ("TEXT": why, where why may quote a piece of
// TEXT such as an unknown unit) with every quoted value cut to the echo limit.
std::string shorten_echo(const std::string& message, const std::string& text) {
  const std::string whole = "\"" + text + "\"";
  std::string out;
  std::size_t at = 0;
  if (message.rfind(whole, 0) == 0) out = echo(text), at = whole.size();
  while (at < message.size()) {
    const std::size_t open = message.find('"', at);
    const std::size_t close = open == std::string::npos ? open : message.find('"', open + 1);
    if (close == std::string::npos) break;
    out += message.substr(at, open - at) + echo(message.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  return out + message.substr(std::min(at, message.size()));
}

}  // namespace

void Ctx::error(const YAML::Mark& at, const std::string& path, const std::string& message) {
  // A null node (absent document) has no mark; point at the start of the file.
  const int line = at.line < 0 ? 1 : at.line + 1;
  const int col = at.column < 0 ? 1 : at.column + 1;
  diags.push_back({line, col, path.empty() ? message : path + ": " + message});
}

void Ctx::read(const YAML::Node& at, const std::string& path) {
  if (++reads <= config_limits::kMaxValues) return;
  error(at, path,
        "aliases expand the config past the limit of " + std::to_string(config_limits::kMaxValues) +
            " values");
  throw Exhausted{};
}

std::string Ctx::report() const {
  std::vector<Diag> sorted = diags;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diag& a, const Diag& b) {
    return std::tie(a.line, a.col) < std::tie(b.line, b.col);
  });
  std::set<std::string> seen;
  std::string out;
  std::size_t shown = 0, more = 0;
  for (const Diag& d : sorted) {
    std::string line =
        file + ":" + std::to_string(d.line) + ":" + std::to_string(d.col) + ": " + d.text;
    if (!seen.insert(line).second) continue;
    // The first errors are the ones to fix; thousands more only bury them.
    if (shown == config_limits::kMaxReportedErrors) {
      ++more;
      continue;
    }
    ++shown;
    out += (out.empty() ? "" : "\n") + line;
  }
  if (more > 0) out += "\n... and " + std::to_string(more) + " more error" + (more == 1 ? "" : "s");
  return out;
}

std::string shorten(const std::string& value) {
  if (value.size() <= config_limits::kMaxEchoChars) return value;
  std::size_t cut = config_limits::kMaxEchoChars;
  // Back off UTF-8 continuation bytes so the cut never splits a character.
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return value.substr(0, cut) + "…";
}

std::string echo(const std::string& value) { return "\"" + shorten(value) + "\""; }

bool item_present(Ctx& ctx, const YAML::Node& list, const YAML::Node& item,
                  const std::string& path) {
  if (!item.IsNull()) return true;
  ctx.error(item.Mark().line < 0 ? list : item, path, "expected a map, got nothing");
  return false;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return echo(node.Scalar());
    default:
      return "nothing";
  }
}

bool walk_map(Ctx& ctx, const YAML::Node& node, const std::string& path,
              const std::vector<Field>& fields, bool defaults_section) {
  if (node.IsNull()) return true;
  if (!node.IsMap()) {
    ctx.error(node, path, "expected a map, got " + describe(node));
    return false;
  }
  std::map<std::string, int> first_line;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node& key = it->first;
    ctx.read(key, path);
    const std::string name = key.IsScalar() ? key.Scalar() : "?";
    const std::string key_path = path.empty() ? shorten(name) : path + "." + shorten(name);
    if (!key.IsScalar()) {
      ctx.error(key, path, "keys must be plain names, got " + describe(key));
      continue;
    }
    if (name == "<<" && key.Tag() == "?") {
      // yaml-cpp 0.7 reads a merge key as a plain key named "<<"; say so
      // rather than calling it an unknown key.
      ctx.error(key, path, "merge keys (<<) are not supported; write the keys out");
      continue;
    }
    auto [seen, fresh] = first_line.emplace(name, key.Mark().line + 1);
    if (!fresh) {
      ctx.error(key, key_path,
                "duplicate key (first at line " + std::to_string(seen->second) + ")");
      continue;
    }
    auto f =
        std::find_if(fields.begin(), fields.end(), [&](const Field& x) { return name == x.name; });
    if (f != fields.end() && defaults_section && f->target_only) {
      ctx.error(key, key_path, "not allowed in probes: defaults (set it per target)");
    } else if (f != fields.end()) {
      f->on(key, it->second, key_path);
    } else {
      const std::string near = suggest(name, fields);
      ctx.error(key, key_path,
                near.empty()
                    ? "unknown key (expected one of: " + join_names(fields, defaults_section) + ")"
                    : "unknown key (did you mean \"" + near + "\"?)");
    }
  }
  return true;
}

std::optional<std::string> get_text(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                    const std::string& path) {
  ctx.read(v.IsNull() ? key : v, path);
  if (v.IsScalar()) return v.Scalar();
  if (v.IsNull())
    ctx.error(key, path, "missing value");
  else
    ctx.error(v, path, "expected a single value, got " + describe(v));
  return std::nullopt;
}

std::optional<long long> get_int(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                 const std::string& path, long long lo, long long hi, bool hex_ok) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  // A quoted scalar has the non-specific tag "!": the writer meant text.
  if (v.Tag() == "!") {
    ctx.error(v, path, "expected an integer, got quoted " + describe(v) + " (drop the quotes)");
    return std::nullopt;
  }
  if (v.Tag() != "?" && v.Tag() != "tag:yaml.org,2002:int") {
    ctx.error(v, path, "expected an integer, got " + describe(v) + " tagged " + shorten(v.Tag()));
    return std::nullopt;
  }
  const std::string& s = *text;
  long long n = 0;
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (hex && !hex_ok) {
    ctx.error(v, path,
              "expected a decimal integer, got " + describe(v) + " (only fwmark takes 0x)");
    return std::nullopt;
  }
  const char* begin = s.data() + (hex ? 2 : 0);
  auto [end, ec] = std::from_chars(begin, s.data() + s.size(), n, hex ? 16 : 10);
  if (s.empty() || ec == std::errc::invalid_argument || end != s.data() + s.size()) {
    ctx.error(v, path, "expected an integer, got " + describe(v));
    return std::nullopt;
  }
  if (ec == std::errc::result_out_of_range || n < lo || n > hi) {
    ctx.error(
        v, path,
        "must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + shorten(s));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> get_bool(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                             const std::string& path) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  ctx.error(v, path, "expected true or false, got " + describe(v));
  return std::nullopt;
}

std::optional<Duration> get_duration(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                     const std::string& path, Duration min, Duration max) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  auto d = parse_duration(*text);
  if (!d) {
    ctx.error(v, path, shorten_echo(d.error().message, *text));
    return std::nullopt;
  }
  if (*d < min) {
    ctx.error(v, path, format_duration(*d) + " is below the minimum " + format_duration(min));
    return std::nullopt;
  }
  // The maximum keeps schedule arithmetic (interval × jobs, round lengths,
  // deadlines on the monotonic clock) far from overflow.
  if (*d > max) {
    ctx.error(v, path, format_duration(*d) + " is above the maximum " + format_duration(max));
    return std::nullopt;
  }
  return *d;
}

std::optional<std::uint64_t> get_bytes(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                       const std::string& path) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  auto n = parse_bytes(*text);
  if (!n) {
    ctx.error(v, path, shorten_echo(n.error().message, *text));
    return std::nullopt;
  }
  return *n;
}

std::optional<std::string> get_id(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                  const std::string& path) {
  auto text = get_text(ctx, key, v, path);
  if (!text) return std::nullopt;
  static const std::regex kId("[A-Za-z0-9._-]{1,64}");
  if (!std::regex_match(*text, kId)) {
    ctx.error(v, path, "invalid id " + echo(*text) + " (1 to 64 of A-Z a-z 0-9 . _ -)");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> get_unique_id(Ctx& ctx, const YAML::Node& key, const YAML::Node& v,
                                         const std::string& path, std::map<std::string, int>& seen,
                                         std::string_view what) {
  auto id = get_id(ctx, key, v, path);
  if (!id) return std::nullopt;
  auto [it, fresh] = seen.emplace(*id, v.Mark().line + 1);
  if (!fresh)
    ctx.error(v, path,
              "duplicate " + std::string(what) + " id \"" + *id + "\" (first at line " +
                  std::to_string(it->second) + ")");
  return id;
}

std::string check_ip(const std::string& ip) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1)
    return "";
  return echo(ip) + " is not an IP address";
}

std::string check_ifname(const std::string& name) {
  if (name.empty() || name.size() > 15)
    return "interface name " + echo(name) + " must be 1 to 15 characters";
  // The kernel's dev_valid_name(): '/' and ':' and white space are refused.
  const bool bad_char = std::any_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
  });
  if (bad_char || name == "." || name == "..")
    return "interface name " + echo(name) + " must not contain '/', ':' or spaces";
  return "";
}

std::string check_host(const std::string& host) {
  if (check_ip(host).empty()) return "";
  static const std::regex kName(
      "(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
      "[A-Za-z0-9])?)*\\.?");
  if (std::regex_match(host, kName)) return "";
  return echo(host) + " is not an IP address or host name";
}

std::optional<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text,
                                                                     std::string& error) {
  std::string host, port;
  const std::string quoted = echo(text) + " is not HOST:PORT: ";
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos) return error = quoted + "missing ']'", std::nullopt;
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return error = quoted + "port missing", std::nullopt;
    port = text.substr(close + 2);
    if (unsigned char b[16]; inet_pton(AF_INET6, host.c_str(), b) != 1)
      return error = quoted + echo(host) + " is not an IPv6 address", std::nullopt;
  } else {
    const auto colon = text.find(':');
    if (colon == std::string::npos) return error = quoted + "port missing", std::nullopt;
    if (text.find(':', colon + 1) != std::string::npos)
      return error = quoted + "put IPv6 addresses in brackets, e.g. [::1]:443", std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (std::string e = check_host(host); !e.empty()) return error = quoted + e, std::nullopt;
  }
  unsigned n = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
  if (port.empty()) return error = quoted + "port missing", std::nullopt;
  if (ec != std::errc() || end != port.data() + port.size() || n < 1 || n > 65535)
    return error = quoted + "port must be in 1..65535", std::nullopt;
  return std::pair{host, static_cast<std::uint16_t>(n)};
}

std::string check_url(const std::string& url) {
  std::size_t rest = 0;
  if (url.rfind("http://", 0) == 0)
    rest = 7;
  else if (url.rfind("https://", 0) == 0)
    rest = 8;
  else
    return "url must start with http:// or https://, got " + echo(url);
  const std::string authority = url.substr(rest, url.find_first_of("/?#", rest) - rest);
  if (authority.find('@') != std::string::npos)
    return "url must not embed user:password@ (it would show in logs and the API)";
  if (authority.empty() || authority[0] == ':') return "url " + echo(url) + " has no host";
  const bool has_port = authority[0] == '[' ? authority.find("]:") != std::string::npos
                                            : authority.find(':') != std::string::npos;
  if (!has_port) {
    if (authority[0] == '[') {
      const std::string v6 = authority.substr(1, authority.size() - 2);
      if (authority.back() != ']' || !check_ip(v6).empty())
        return "url " + echo(url) + ": " + echo(authority) + " is not a host";
      return "";
    }
    if (std::string e = check_host(authority); !e.empty()) return "url " + echo(url) + ": " + e;
    return "";
  }
  std::string e;
  if (!split_host_port(authority, e)) return "url " + echo(url) + ": " + e;
  return "";
}

std::string resolve_path(const Ctx& ctx, const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (p.is_relative()) p = fs::absolute(fs::path(ctx.base_dir) / p);
  return p.lexically_normal().string();
}

std::string check_readable_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return echo(path) + " is a directory";
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot read " + echo(path) + ": " + std::strerror(errno);
  return "";
}

bool is_loopback_host(const std::string& host) {
  if (lower(host) == "localhost" || lower(host) == "localhost.") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6;
  if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

}  // namespace linewatch::config_detail

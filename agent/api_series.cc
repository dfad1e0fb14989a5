#include "agent/api_series.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/URI.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "agent/json.h"
#include "core/units.h"

namespace linewatch {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kParameters = "line, target, kind, since, until, step";

HttpResponse error_answer(int status, const std::string& message) {
  Object o(Poco::JSON_PRESERVE_KEY_ORDER);
  o.set("error", message);
  std::ostringstream out;
  o.stringify(out);
  return {status, "application/json", out.str()};
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

// The query's pairs, decoded; a repeated or unknown name is refused.
std::variant<std::map<std::string, std::string>, BadParameter> split_query(std::string_view query) {
  static const std::set<std::string> known = {"line", "target", "kind", "since", "until", "step"};
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = std::min(query.find('&', start), query.size());
    const std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string name, value;
    try {
      Poco::URI::decode(std::string(pair.substr(0, eq)), name);
      if (eq != std::string_view::npos) Poco::URI::decode(std::string(pair.substr(eq + 1)), value);
    } catch (const Poco::Exception&) {
      return BadParameter{std::string(pair), std::string(pair) + ": bad percent-encoding"};
    }
    if (!known.count(name))
      return BadParameter{name, "unknown parameter " + quoted(name) + " (" + kParameters + ")"};
    if (!out.emplace(name, value).second) return BadParameter{name, name + ": given twice"};
  }
  return out;
}

std::optional<WallTime> whole_ms(std::optional<WallTime> t) {
  if (t) t = std::chrono::floor<milliseconds>(*t);
  return t;
}

// `since`: RFC 3339, or a duration back from now.
std::optional<WallTime> parse_since(const std::string& text, WallTime now) {
  if (auto t = parse_rfc3339(text)) return whole_ms(t);
  if (auto d = parse_duration(text)) return now - std::chrono::floor<milliseconds>(*d);
  return std::nullopt;
}

// Steps over [from, to) for a step of `step_ms`, rounded up.
std::int64_t step_count(WallTime from, WallTime to, std::int64_t step_ms) {
  const std::int64_t range = unix_ms(to) - unix_ms(from);
  return (range + step_ms - 1) / step_ms;
}

std::variant<Duration, BadParameter> parse_step(const std::map<std::string, std::string>& p,
                                                WallTime from, WallTime to) {
  auto it = p.find("step");
  if (it == p.end() || it->second.empty()) {
    const std::int64_t range = unix_ms(to) - unix_ms(from);
    const std::int64_t per = kDefaultSeriesPoints * 1000;
    return seconds(std::max<std::int64_t>(1, (range + per - 1) / per));
  }
  const std::string& text = it->second;
  auto d = parse_duration(text);
  if (!d) return BadParameter{"step", "step: " + d.error().message};
  if (*d < seconds(1))
    return BadParameter{"step", "step: must be at least 1s, got " + quoted(text)};
  if (*d % seconds(1) != Duration::zero())
    return BadParameter{"step", "step: must be whole seconds, got " + quoted(text)};
  const std::int64_t n = step_count(from, to, std::chrono::duration_cast<milliseconds>(*d).count());
  if (n > kMaxSeriesPoints)
    return BadParameter{"step", "step: " + text + " over " + format_duration(to - from) +
                                    " gives " + std::to_string(n) + " points, at most " +
                                    std::to_string(kMaxSeriesPoints)};
  return *d;
}

const std::string* value_of(const std::map<std::string, std::string>& p, const char* name) {
  auto it = p.find(name);
  return it == p.end() || it->second.empty() ? nullptr : &it->second;
}

}  // namespace

std::variant<SeriesRequest, BadParameter> parse_series_query(std::string_view query,
                                                             WallTime now_exact) {
  auto split = split_query(query);
  if (auto* bad = std::get_if<BadParameter>(&split)) return *bad;
  const auto& p = std::get<0>(split);
  const WallTime now = std::chrono::floor<seconds>(now_exact);
  SeriesRequest r;
  for (const char* name : {"line", "target"}) {
    const std::string* v = value_of(p, name);
    if (!v) return BadParameter{name, std::string(name) + ": required (an id from the config)"};
    (name[0] == 'l' ? r.line : r.target) = *v;
  }
  if (const std::string* v = value_of(p, "kind")) {
    r.kind = probe_kind_from_string(*v);
    if (!r.kind)
      return BadParameter{"kind", "kind: must be icmp, tcp, http or llm, got " + quoted(*v)};
  }
  r.from = now - kDefaultSeriesRange;
  if (const std::string* v = value_of(p, "since")) {
    auto t = parse_since(*v, now);
    if (!t)
      return BadParameter{"since",
                          "since: not a duration back from now (3h) or an RFC 3339 time "
                          "(2026-11-30T12:00:00Z), got " +
                              quoted(*v)};
    r.from = *t;
  }
  r.to = now;
  if (const std::string* v = value_of(p, "until")) {
    auto t = whole_ms(parse_rfc3339(*v));
    if (!t)
      return BadParameter{"until",
                          "until: not an RFC 3339 time (2026-11-30T15:00:00Z), got " + quoted(*v)};
    r.to = *t;
  }
  if (r.to <= r.from)
    return BadParameter{"until", "until: " + format_series_time(r.to) + " is not after since " +
                                     format_series_time(r.from)};
  auto step = parse_step(p, r.from, r.to);
  if (auto* bad = std::get_if<BadParameter>(&step)) return *bad;
  r.step = std::get<Duration>(step);
  return r;
}

std::string format_series_time(WallTime t) {
  std::string s = format_time(t);
  if (s.ends_with(".000Z")) s.replace(s.size() - 5, 5, "Z");
  return s;
}

namespace {

std::string kind_list(const std::vector<ProbeKind>& kinds) {
  std::string out;
  for (ProbeKind k : kinds) out += (out.empty() ? "" : ", ") + std::string(to_string(k));
  return out;
}

// The kind to read when the query named none: the one stored kind of the
// pair, else its one configured kind. Several: a 400 that lists them.
std::variant<ProbeKind, HttpResponse> pick_kind(const SeriesSource& source,
                                                const SeriesRequest& r) {
  if (r.kind) return *r.kind;
  auto stored = source.stored();
  if (!stored) return error_answer(500, "storage: " + stored.error().message);
  std::vector<ProbeKind> kinds;
  for (const SeriesInfo& s : *stored)
    if (s.line == r.line && s.target == r.target) kinds.push_back(s.kind);
  if (kinds.empty()) kinds = source.targets.at(r.target);
  std::sort(kinds.begin(), kinds.end());
  kinds.erase(std::unique(kinds.begin(), kinds.end()), kinds.end());
  if (kinds.size() == 1) return kinds.front();
  if (kinds.empty())
    return error_answer(404, "target: no series of target " + quoted(r.target) + " on line " +
                                 quoted(r.line) + " " + source.known_from);
  return error_answer(400, "kind: target " + r.target + " on line " + r.line + " has kinds " +
                               kind_list(kinds) + "; say which");
}

}  // namespace

HttpResponse series_answer(const SeriesSource& source, std::string_view query) {
  auto parsed = parse_series_query(query, source.now());
  if (auto* bad = std::get_if<BadParameter>(&parsed)) return error_answer(400, bad->message);
  const SeriesRequest& r = std::get<SeriesRequest>(parsed);
  if (std::find(source.lines.begin(), source.lines.end(), r.line) == source.lines.end())
    return error_answer(404, "line: no line " + quoted(r.line) + " " + source.known_from);
  if (!source.targets.count(r.target))
    return error_answer(404, "target: no target " + quoted(r.target) + " " + source.known_from);
  auto kind = pick_kind(source, r);
  if (auto* answer = std::get_if<HttpResponse>(&kind)) return *answer;
  const SeriesQuery q{r.line, r.target, std::get<ProbeKind>(kind), r.from, r.to, r.step};
  auto points = source.points(q);
  if (!points) return error_answer(500, "storage: " + points.error().message);
  return {200, "application/json", series_document(q, *points)};
}

namespace {

double ms_of(Duration d) { return static_cast<double>(to_us(d)) / 1000.0; }

Object::Ptr point_json(const SeriesPoint& p) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("t", format_series_time(p.t));
  o->set("rounds", p.rounds);
  o->set("ok", p.ok);
  o->set("sent", p.sent);
  o->set("lost", p.lost);
  o->set("loss", p.loss ? Poco::Dynamic::Var(*p.loss) : Poco::Dynamic::Var());
  if (!p.rtt) {
    o->set("rtt_ms", Poco::Dynamic::Var());
    return o;
  }
  Object::Ptr rtt = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  rtt->set("min", ms_of(p.rtt->min));
  rtt->set("p10", ms_of(p.rtt->p10));
  rtt->set("p25", ms_of(p.rtt->p25));
  rtt->set("median", ms_of(p.rtt->median));
  rtt->set("p75", ms_of(p.rtt->p75));
  rtt->set("p90", ms_of(p.rtt->p90));
  rtt->set("max", ms_of(p.rtt->max));
  o->set("rtt_ms", rtt);
  return o;
}

}  // namespace

std::string series_document(const SeriesQuery& q, const std::vector<SeriesPoint>& points) {
  Object doc(Poco::JSON_PRESERVE_KEY_ORDER);
  doc.set("line", q.line);
  doc.set("target", q.target);
  doc.set("kind", std::string(to_string(q.kind)));
  doc.set("from", format_series_time(q.from));
  doc.set("to", format_series_time(q.to));
  doc.set("step_s", std::chrono::duration_cast<seconds>(q.step).count());
  Array::Ptr list = new Array;
  for (const SeriesPoint& p : points) list->add(point_json(p));
  doc.set("points", list);
  std::ostringstream out;
  doc.stringify(out);
  return out.str();
}

SeriesSource config_series_source(const Config& config) {
  SeriesSource s;
  for (const LineSpec& l : config.lines) s.lines.push_back(l.id);
  for (const TargetSpec& t : config.targets) {
    auto& kinds = s.targets[t.id];
    for (const ProbeSpec& p : t.probes) kinds.push_back(p.kind);
  }
  return s;
}

SeriesSource store_series_source(const Config& config, const Store& store, const Clock& clock) {
  SeriesSource s = config_series_source(config);
  s.stored = [&store] { return store.series(); };
  s.points = [&store](const SeriesQuery& q) { return store.series_points(q); };
  s.now = [&clock] { return clock.wall_now(); };
  return s;
}

}  // namespace linewatch

#include "rules/alert_engine.h"

#include <algorithm>
#include <tuple>

namespace linewatch {
namespace {

constexpr std::string_view kLlmKind = "llm";

CompiledAlertRule make_line_down_rule(const AlertEngineOptions& options) {
  AlertRule r;
  r.name = std::string(kLineDownRule);
  r.metric = AlertMetric::failures;  // value 1 while down, 0 when up
  r.scope = AlertScope::line;
  r.above = true;
  r.threshold = 0;
  r.severity = "critical";
  auto summary = SummaryTemplate::compile("{{rule}}: line {{line}} is down", AlertScope::line);
  auto back = SummaryTemplate::compile("{{rule}}: line {{line}} is up again", AlertScope::line);
  return CompiledAlertRule{std::move(r),    std::move(*summary), options.receivers,
                           options.agent,   "line_down",         false,
                           std::move(*back)};
}

}  // namespace

AlertEngine::AlertEngine(AlertEngineOptions options, AvailabilitySource* availability)
    : options_(std::move(options)),
      availability_(availability),
      line_down_rule_(make_line_down_rule(options_)) {}

Result<AlertEngine> AlertEngine::create(const std::vector<AlertRule>& rules,
                                        AlertEngineOptions options,
                                        AvailabilitySource* availability) {
  AlertEngine e(std::move(options), availability);
  for (const AlertRule& r : rules) {
    for (const CompiledAlertRule& other : e.rules_)
      if (other.rule.name == r.name) return invalid("duplicate alert rule name \"" + r.name + "\"");
    auto c = CompiledAlertRule::compile(r, e.options_.receivers, e.options_.agent);
    if (!c) return c.error();
    e.rules_.push_back(std::move(*c));
  }
  for (std::size_t i = 0; i < e.rules_.size(); ++i) {
    const AlertRule& r = e.rules_[i].rule;
    const AlertSource source = source_of(r.metric);
    auto g = std::find_if(e.groups_.begin(), e.groups_.end(), [&](const Group& x) {
      return x.source == source && x.scope == r.scope && x.match == r.match;
    });
    if (g == e.groups_.end()) {
      e.groups_.push_back(Group{source, r.scope, r.match, {}, {}, {}, {}, {}});
      g = std::prev(e.groups_.end());
    }
    auto length = std::find(g->lengths.begin(), g->lengths.end(), r.window);
    if (length == g->lengths.end()) length = g->lengths.insert(length, r.window);
    g->longest = std::max(g->longest, r.window);
    // A series scope's window holds one series: its jitter needs no numbering.
    const bool latency = source == AlertSource::rtt || source == AlertSource::ttft;
    e.series_by_id_ |= latency && r.scope != AlertScope::series;
    g->rules.push_back(i);
    g->length_of.push_back(static_cast<std::size_t>(length - g->lengths.begin()));
  }
  return e;
}

void AlertEngine::adopt(AlertEngine&& old) {
  if (series_by_id_) series_ids_ = std::move(old.series_ids_);
  down_ = std::move(old.down_);
  line_down_ = std::move(old.line_down_);
  // Old states by rule name and key; old windows by (source, scope, match) and key.
  std::map<std::pair<std::string, AlertScopeKey>, const AlertState*> states;
  for (const Group& g : old.groups_)
    for (const auto& [key, e] : g.entries)
      for (std::size_t i = 0; i < g.rules.size(); ++i)
        states[{old.rules_[g.rules[i]].rule.name, key.expand()}] = &e.states[i];
  for (Group& g : groups_) {
    auto from = std::find_if(old.groups_.begin(), old.groups_.end(), [&](const Group& x) {
      return x.source == g.source && x.scope == g.scope && x.match == g.match;
    });
    if (from == old.groups_.end()) continue;
    for (const auto& [key, e] : from->entries) {
      Entry fresh{e.window.rewindowed(g.lengths, options_.max_samples), States(g.rules.size()),
                  e.last_seen};
      const AlertScopeKey full = key.expand();
      for (std::size_t i = 0; i < g.rules.size(); ++i) {
        auto s = states.find({rules_[g.rules[i]].rule.name, full});
        if (s != states.end()) fresh.states[i] = *s->second;
      }
      g.entries.emplace(key, std::move(fresh));
    }
  }
}

AlertEngine::Entry& AlertEngine::entry(Group& g, const AlertScopeKey& key, MonoTime at) {
  auto it = g.entries.find(key);
  if (it == g.entries.end()) {
    Entry fresh{AlertWindow(g.source, g.lengths, options_.max_samples), States(g.rules.size()), at};
    it = g.entries.emplace(CompactScopeKey(key), std::move(fresh)).first;
  }
  it->second.last_seen = std::max(it->second.last_seen, at);
  return it->second;
}

std::uint32_t AlertEngine::series_id(const std::string& line, const std::string& target,
                                     const std::string& kind) {
  if (!series_by_id_) return 0;
  auto [it, fresh] = series_ids_.try_emplace(AlertScopeKey{line, target, kind},
                                             static_cast<std::uint32_t>(series_ids_.size()));
  return it->second;
}

// A series scope's window holds one series, whatever the numbering: so a
// reload that starts numbering series leaves its windows whole.
std::uint32_t AlertEngine::window_series(const Group& g, std::uint32_t series) {
  return g.scope == AlertScope::series ? 0 : series;
}

void AlertEngine::observe(const AlertRound& round, MonoTime at) {
  const std::string kind(to_string(round.kind));
  const std::uint32_t series = series_id(round.line, round.target, kind);
  for (Group& g : groups_) {
    if (g.source == AlertSource::ttft || g.source == AlertSource::bandwidth) continue;
    if (!matches(g.match, round.line, round.target, kind)) continue;
    entry(g, scope_key(g.scope, round.line, round.target, kind), at)
        .window.add_round(round, at, window_series(g, series));
  }
}

void AlertEngine::observe_ttft(const std::string& line, const std::string& target, Duration ttft,
                               MonoTime at) {
  const std::string kind(kLlmKind);
  const std::uint32_t series = series_id(line, target, kind);
  for (Group& g : groups_) {
    if (g.source != AlertSource::ttft || !matches(g.match, line, target, kind)) continue;
    entry(g, scope_key(g.scope, line, target, kind), at)
        .window.add_ttft(ttft, at, window_series(g, series));
  }
}

void AlertEngine::observe_bandwidth(const std::string& line, const BandwidthReading& reading) {
  if (reading.state != CounterState::measuring || !reading.utilisation) return;
  observe_bandwidth(line, *reading.utilisation, reading.interval, reading.at);
}

void AlertEngine::observe_bandwidth(const std::string& line, double utilisation, Duration interval,
                                    MonoTime at) {
  for (Group& g : groups_) {
    if (g.source != AlertSource::bandwidth || !matches(g.match, line, "", "")) continue;
    entry(g, AlertScopeKey{line, "", ""}, at).window.add_bandwidth(utilisation, interval, at);
  }
}

void AlertEngine::set_line_down(const std::string& line, bool down) {
  if (down) {
    down_.insert(line);
    return;
  }
  if (down_.erase(line) == 0) return;
  for (Group& g : groups_) {
    if (g.scope == AlertScope::target || g.source == AlertSource::availability ||
        g.source == AlertSource::bandwidth)
      continue;
    for (auto& [key, e] : g.entries)
      if (key.line() == line) e.window.clear();
  }
}

std::vector<AlertTransition> AlertEngine::evaluate(MonoTime now, WallTime wall) {
  std::vector<AlertTransition> out;
  evaluate_line_down(now, wall, out);
  for (Group& g : groups_) evaluate_group(g, now, wall, out);
  return out;
}

void AlertEngine::evaluate_line_down(MonoTime now, WallTime wall,
                                     std::vector<AlertTransition>& out) {
  for (const std::string& line : down_) line_down_.try_emplace(line);
  for (auto it = line_down_.begin(); it != line_down_.end();) {
    const bool down = down_.count(it->first) > 0;
    it->second.step(line_down_rule_, AlertScopeKey{it->first, "", ""},
                    AlertInput{down ? 1.0 : 0.0, false}, now, wall, out);
    it = it->second.status() == AlertStatus::inactive ? line_down_.erase(it) : std::next(it);
  }
}

void AlertEngine::evaluate_group(Group& g, MonoTime now, WallTime wall,
                                 std::vector<AlertTransition>& out) {
  for (auto it = g.entries.begin(); it != g.entries.end();) {
    const AlertScopeKey key = it->first.expand();
    Entry& e = it->second;
    const bool empty = e.window.expire(now);
    const bool line_down = !key.line.empty() && down_.count(key.line) > 0;
    bool live = false;
    for (std::size_t i = 0; i < g.rules.size(); ++i) {
      const CompiledAlertRule& rule = rules_[g.rules[i]];
      AlertInput in;
      in.value = g.source != AlertSource::availability
                     ? e.window.value(rule.rule.metric, now, g.length_of[i])
                 : availability_ ? availability_->availability(key, rule.rule.window, now)
                                 : std::nullopt;
      in.held = line_down && held_while_line_down(rule.rule.metric);
      e.states[i].step(rule, key, in, now, wall, out);
      live |= e.states[i].status() != AlertStatus::inactive;
    }
    const bool stale = empty && now - e.last_seen > g.longest;
    it = !live && stale ? g.entries.erase(it) : std::next(it);
  }
}

ActiveAlert AlertEngine::describe(const CompiledAlertRule& c, const AlertScopeKey& key,
                                  const AlertState& s) const {
  ActiveAlert a;
  a.rule = c.rule.name;
  a.metric = c.rule.metric;
  a.severity = c.rule.severity;
  a.key = key;
  a.status = s.status();
  a.held = s.held();
  a.since = s.since();
  a.since_wall = s.since_wall();
  if (c.show_value) {
    a.value = s.value();
    a.value_text = s.value() ? format_value(c.rule.metric, *s.value()) : "no data";
    a.threshold = c.rule.threshold;
    a.threshold_text = format_value(c.rule.metric, c.rule.threshold);
  }
  a.summary = c.summary.render(SummaryValues{key.line, key.target, key.kind, a.value_text,
                                             a.threshold_text, a.rule, a.severity});
  return a;
}

std::vector<ActiveAlert> AlertEngine::active() const {
  std::vector<ActiveAlert> out;
  for (const auto& [line, s] : line_down_)
    if (s.status() != AlertStatus::inactive)
      out.push_back(describe(line_down_rule_, AlertScopeKey{line, "", ""}, s));
  for (const Group& g : groups_)
    for (const auto& [key, e] : g.entries)
      for (std::size_t i = 0; i < g.rules.size(); ++i)
        if (e.states[i].status() != AlertStatus::inactive)
          out.push_back(describe(rules_[g.rules[i]], key.expand(), e.states[i]));
  std::stable_sort(out.begin(), out.end(), [](const ActiveAlert& a, const ActiveAlert& b) {
    return std::tie(a.rule, a.key) < std::tie(b.rule, b.key);
  });
  return out;
}

std::size_t AlertEngine::scope_count() const {
  std::size_t n = 0;
  for (const Group& g : groups_) n += g.entries.size();
  return n;
}

std::size_t AlertEngine::sample_bytes() const {
  std::size_t n = 0;
  for (const Group& g : groups_)
    for (const auto& [key, e] : g.entries) n += e.window.sample_bytes();
  return n;
}

}  // namespace linewatch

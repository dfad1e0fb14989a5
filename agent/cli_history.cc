// `linewatch history`: one line's targets per step, from the agent's
// /api/v1/series, or from its database file read-only when no agent answers.
// Both paths build the answer with series_answer(), so --json prints the same
// bytes whichever was used.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <cstdio>
#include <ostream>
#include <set>

#include "agent/api_series.h"
#include "agent/cli.h"
#include "agent/config_load.h"
#include "agent/status_table.h"
#include "core/units.h"
#include "storage/series_read.h"

namespace linewatch {
namespace {

using Poco::JSON::Object;

// One (target, kind) to ask for; kind "" lets the answer pick.
using Wanted = std::pair<std::string, std::string>;

// Where the answers come from: the agent, or the database file.
struct HistorySource {
  std::function<Result<AgentAnswer>(const std::string& target)> get;
  std::function<Result<std::vector<SeriesInfo>>()> series;  // what exists, to list targets
};

HistorySource from_agent(const std::string& url, Duration timeout) {
  HistorySource s;
  s.get = [url, timeout](const std::string& target) { return agent_get(url, target, timeout); };
  // The agent's series: those of its status document.
  s.series = [url, timeout]() -> Result<std::vector<SeriesInfo>> {
    auto a = agent_get(url, "/api/v1/status", timeout);
    if (!a) return a.error();
    std::vector<SeriesInfo> out;
    try {
      auto doc = Poco::JSON::Parser().parse(a->body).extract<Object::Ptr>();
      auto list = doc->getArray("series");
      for (std::size_t i = 0; list && i < list->size(); ++i) {
        auto o = list->getObject(static_cast<unsigned>(i));
        auto kind = probe_kind_from_string(o->getValue<std::string>("kind"));
        if (kind)
          out.push_back({o->getValue<std::string>("line"), o->getValue<std::string>("target"),
                         *kind, WallTime{}});
      }
    } catch (const Poco::Exception& e) {
      return Error{ErrorCode::unavailable, url + "/api/v1/status: " + e.displayText()};
    }
    return out;
  };
  return s;
}

HistorySource from_database(std::shared_ptr<ReadOnlyDatabase> db, const Config* config) {
  auto src =
      std::make_shared<SeriesSource>(config ? config_series_source(*config) : SeriesSource{});
  src->stored = [db] { return db->series(); };
  src->points = [db](const SeriesQuery& q) { return db->series_points(q); };
  src->now = [] { return SystemClock().wall_now(); };
  if (!config) {  // the ids stored stand for the config's
    src->known_from = "stored in " + db->path();
    if (auto stored = db->series()) {
      std::set<std::string> lines;
      for (const SeriesInfo& s : *stored) {
        lines.insert(s.line);
        src->targets[s.target].push_back(s.kind);
      }
      src->lines.assign(lines.begin(), lines.end());
    }
  }
  HistorySource h;
  h.get = [src](const std::string& target) -> Result<AgentAnswer> {
    const auto q = target.find('?');
    const HttpResponse r =
        series_answer(*src, q == std::string::npos ? "" : std::string_view(target).substr(q + 1));
    return AgentAnswer{r.status, r.body};
  };
  h.series = [db] { return db->series(); };
  return h;
}

std::string ms_cell(const Object& rtt, const char* key) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", rtt.getValue<double>(key));
  return buf;
}

void print_table(const Object& doc, std::ostream& out) {
  auto points = doc.getArray("points");
  out << doc.getValue<std::string>("line") << " -> " << doc.getValue<std::string>("target") << " ("
      << doc.getValue<std::string>("kind") << "), " << doc.getValue<std::string>("from") << " to "
      << doc.getValue<std::string>("to") << ", step " << doc.getValue<std::int64_t>("step_s")
      << "s: " << points->size() << " points\n";
  std::vector<std::vector<std::string>> rows{
      {"TIME", "ROUNDS", "LOSS %", "MIN ms", "MEDIAN ms", "P90 ms", "MAX ms"}};
  for (std::size_t i = 0; i < points->size(); ++i) {
    auto p = points->getObject(static_cast<unsigned>(i));
    std::vector<std::string> row{p->getValue<std::string>("t"),
                                 std::to_string(p->getValue<std::int64_t>("rounds"))};
    char loss[32] = "-";
    if (!p->isNull("loss"))
      std::snprintf(loss, sizeof loss, "%.1f", p->getValue<double>("loss") * 100);
    row.push_back(loss);
    if (p->isNull("rtt_ms")) {
      row.insert(row.end(), 4, "-");
    } else {
      auto rtt = p->getObject("rtt_ms");
      for (const char* k : {"min", "median", "p90", "max"}) row.push_back(ms_cell(*rtt, k));
    }
    rows.push_back(std::move(row));
  }
  print_aligned(rows, out);
}

// The (target, kind) pairs to show when no TARGET was named.
Result<std::vector<Wanted>> every_target(const HistoryArgs& args, const Config* config,
                                         const HistorySource& source) {
  std::vector<Wanted> out;
  if (config) {
    for (const TargetSpec& t : config->targets)
      for (const ProbeSpec& p : t.probes)
        if (args.kind.empty() || to_string(p.kind) == args.kind)
          out.emplace_back(t.id, std::string(to_string(p.kind)));
    return out;
  }
  auto series = source.series();
  if (!series) return series.error();
  for (const SeriesInfo& s : *series)
    if (s.line == args.line && (args.kind.empty() || to_string(s.kind) == args.kind))
      out.emplace_back(s.target, std::string(to_string(s.kind)));
  return out;
}

std::string series_target(const HistoryArgs& args, const Wanted& w) {
  std::string t = "/api/v1/series";
  add_param(t, "line", args.line);
  add_param(t, "target", w.first);
  add_param(t, "kind", w.second);
  add_param(t, "since", args.since);
  add_param(t, "until", args.until.empty() ? "" : since_param(args.until));
  add_param(t, "step", args.step);
  return t;
}

// Prints one answer; false (with the reason on err) when it is not a series.
bool print_answer(const AgentAnswer& a, bool json, std::ostream& out, std::ostream& err) {
  try {
    auto doc = Poco::JSON::Parser().parse(a.body).extract<Object::Ptr>();
    if (a.status != 200) {
      err << "linewatch: "
          << (doc->has("error") ? doc->getValue<std::string>("error")
                                : "HTTP " + std::to_string(a.status))
          << "\n";
      return false;
    }
    if (json)
      out << a.body << "\n";
    else
      print_table(*doc, out);
  } catch (const Poco::Exception& e) {
    err << "linewatch: an answer this CLI cannot read (HTTP " << a.status
        << "): " << e.displayText() << "\n";
    return false;
  }
  return true;
}

}  // namespace

int cmd_history(const HistoryArgs& args, std::ostream& out, std::ostream& err) {
  std::optional<Config> config;
  if (!args.config_path.empty()) {
    auto c = load_config_file(args.config_path);
    if (!c) {
      err << c.error().message << "\n";
      return config_exit_code(c.error());
    }
    config = std::move(*c);
  }
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  HistorySource source;
  auto health = agent_get(*url, "/-/healthy", args.timeout);
  if (health && health->status == 200) {
    err << "linewatch: asking the agent at " << *url << "\n";
    source = from_agent(*url, args.timeout);
  } else {
    const std::string dir = !args.data_dir.empty() ? args.data_dir
                            : config               ? config->agent.data_dir
                                                   : AgentOptions{}.data_dir;
    auto db = ReadOnlyDatabase::open(database_path(dir));
    if (!db) {
      err << "linewatch: no agent answering at " << *url
          << ", and no database to read: " << db.error().message << "\n";
      return 2;
    }
    err << "linewatch: reading " << (*db)->path() << " (no agent at " << *url << ")\n";
    source = from_database(std::move(*db), config ? &*config : nullptr);
  }
  std::vector<Wanted> wanted{{args.target, args.kind}};
  if (args.target.empty()) {
    auto every = every_target(args, config ? &*config : nullptr, source);
    if (!every) {
      err << "linewatch: " << every.error().message << "\n";
      return 2;
    }
    if (every->empty()) {
      err << "linewatch: no target " << (config ? "in the config" : "stored") << " for line "
          << args.line << (args.kind.empty() ? "" : " and kind " + args.kind)
          << "; name one: linewatch history LINE TARGET\n";
      return 2;
    }
    wanted = std::move(*every);
  }
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    auto answer = source.get(series_target(args, wanted[i]));
    if (!answer) {
      err << "linewatch: " << answer.error().message << "\n";
      return 2;
    }
    if (i > 0 && !args.json) out << "\n";
    if (!print_answer(*answer, args.json, out, err)) return 2;
  }
  return 0;
}

}  // namespace linewatch

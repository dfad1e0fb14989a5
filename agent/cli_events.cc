// `linewatch events`: the agent's stored failover events as an aligned table.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <ostream>

#include "agent/cli.h"
#include "agent/cli_tables.h"
#include "agent/json.h"
#include "agent/status_table.h"
#include "core/units.h"

namespace linewatch {
std::string since_param(const std::string& since) {
  if (auto d = parse_duration(since)) return format_time(SystemClock().wall_now() - *d);
  return since;
}

void add_param(std::string& target, const char* name, const std::string& value) {
  if (value.empty()) return;
  std::string encoded;
  Poco::URI::encode(value, "&=+#?% ", encoded);
  target += (target.find('?') == std::string::npos ? "?" : "&") + std::string(name) + "=" + encoded;
}

namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

}  // namespace

void print_events_table(const Poco::JSON::Object& doc, std::ostream& out) {
  auto events = doc.getArray("events");
  std::vector<std::vector<std::string>> rows{
      {"TIME", "KIND", "LINE", "TARGET", "REASON", "DETAIL"}};
  for (std::size_t i = 0; i < events->size(); ++i) {
    auto e = events->getObject(static_cast<unsigned>(i));
    rows.push_back(
        {e->getValue<std::string>("time"), e->getValue<std::string>("kind"),
         or_dash(e->getValue<std::string>("line")), or_dash(e->getValue<std::string>("target")),
         or_dash(e->getValue<std::string>("reason")), e->getValue<std::string>("detail")});
  }
  out << events->size() << " events, newest first (at most " << doc.getValue<int>("limit") << ")\n";
  print_aligned(rows, out);
}

int cmd_events(const EventsArgs& args, std::ostream& out, std::ostream& err) {
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  std::string target = "/api/v1/events";
  add_param(target, "since", args.since.empty() ? "" : since_param(args.since));
  add_param(target, "line", args.line);
  add_param(target, "kind", args.kind);
  add_param(target, "limit", std::to_string(args.limit));
  auto answer = agent_get(*url, target, args.timeout);
  if (!answer) {
    err << "linewatch: no agent answering at " << *url << " (" << answer.error().message
        << ").\nIs `linewatch run` running? Point at it with --agent URL or -c CONFIG.\n";
    return 2;
  }
  try {
    auto doc = Poco::JSON::Parser().parse(answer->body).extract<Poco::JSON::Object::Ptr>();
    if (answer->status != 200) {
      err << "linewatch: the agent at " << *url << " refused the query: "
          << (doc->has("error") ? doc->getValue<std::string>("error")
                                : "HTTP " + std::to_string(answer->status))
          << "\n";
      return 2;
    }
    if (args.json)
      out << answer->body << "\n";
    else
      print_events_table(*doc, out);
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << *url << " sent events this CLI cannot read (HTTP "
        << answer->status << "): " << e.displayText() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace linewatch

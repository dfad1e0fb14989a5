// `linewatch routes`: the plan in force, per route and next hop, with the
// state of each hop's line, then the local apply and the gateways.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <map>
#include <ostream>

#include "agent/cli.h"
#include "agent/cli_tables.h"
#include "agent/status_table.h"

namespace linewatch {
namespace {

using Poco::JSON::Object;

// line id -> "up", "down (silence)", "up, no traffic", ...
std::map<std::string, std::string> line_states(const Object& doc) {
  std::map<std::string, std::string> states;
  auto lines = doc.getArray("lines");
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto l = lines->getObject(static_cast<unsigned>(i));
    std::string state = l->getValue<std::string>("state");
    if (state != "up") state += " (" + l->getValue<std::string>("reason") + ")";
    if (!l->getValue<bool>("takes_traffic")) state += ", no traffic";
    states[l->getValue<std::string>("line")] = state;
  }
  return states;
}

void print_plan(const Object& doc, std::ostream& out) {
  auto plan = doc.getObject("plan");
  out << "agent " << doc.getValue<std::string>("agent") << "  plan v"
      << plan->getValue<std::uint64_t>("version") << " made "
      << plan->getValue<std::string>("time");
  if (plan->getValue<bool>("panic")) out << "  PANIC (a route kept a line that takes no traffic)";
  if (plan->getValue<bool>("starting")) out << "  starting (kept from before the restart)";
  out << "\n";
  const auto states = line_states(doc);
  std::vector<std::vector<std::string>> rows{
      {"PREFIX", "LINE", "VIA", "DEV", "WEIGHT", "LINE STATE"}};
  auto routes = plan->getArray("routes");
  for (std::size_t i = 0; i < routes->size(); ++i) {
    auto r = routes->getObject(static_cast<unsigned>(i));
    auto hops = r->getArray("nexthops");
    for (std::size_t j = 0; j < hops->size(); ++j) {
      auto h = hops->getObject(static_cast<unsigned>(j));
      const std::string line = h->getValue<std::string>("line");
      const auto state = states.find(line);
      const std::string dev = h->getValue<std::string>("dev");
      rows.push_back({j == 0 ? r->getValue<std::string>("prefix") : "", line,
                      h->getValue<std::string>("via"), dev.empty() ? "-" : dev,
                      std::to_string(h->getValue<int>("weight")),
                      state == states.end() ? "-" : state->second});
    }
  }
  if (routes->size() == 0)
    out << "no routes yet: the first plan waits for evidence on every line\n";
  else
    print_aligned(rows, out);
}

void print_apply_and_gateways(const Object& doc, std::ostream& out) {
  if (doc.isNull("apply")) {
    out << "local apply: off (no apply.table)\n";
  } else {
    auto a = doc.getObject("apply");
    out << "local apply: table " << a->getValue<std::string>("table") << ", applied v"
        << a->getValue<std::uint64_t>("applied_version") << " ("
        << a->getValue<std::uint64_t>("applies") << " applies, "
        << a->getValue<std::uint64_t>("failures") << " failed, "
        << a->getValue<std::uint64_t>("restored") << " routes restored)\n";
  }
  auto gateways = doc.getArray("gateways");
  if (gateways->size() == 0) {
    out << "gateways: none\n";
    return;
  }
  // Absent or null (nothing delivered yet) prints as "-".
  auto number = [](const Object& g, const char* key) {
    return g.has(key) && !g.isNull(key) ? g.get(key).toString() : std::string("-");
  };
  std::vector<std::vector<std::string>> rows{
      {"GATEWAY", "KIND", "STATE", "VERSION", "PENDING", "LAST ERROR"}};
  for (std::size_t i = 0; i < gateways->size(); ++i) {
    auto g = gateways->getObject(static_cast<unsigned>(i));
    const std::string error = g->optValue<std::string>("last_error", "");
    rows.push_back({g->optValue<std::string>("id", "-"), g->optValue<std::string>("kind", "-"),
                    g->optValue<std::string>("state", "-"), number(*g, "version"),
                    number(*g, "pending"), error.empty() ? "-" : error});
  }
  print_aligned(rows, out);
}

}  // namespace

void print_routes_table(const Object& doc, std::ostream& out) {
  if (!doc.getValue<bool>("failover")) {
    out << "agent " << doc.getValue<std::string>("agent")
        << ": failover is off (no routes configured)\n";
    return;
  }
  print_plan(doc, out);
  print_apply_and_gateways(doc, out);
}

int cmd_routes(const RoutesArgs& args, std::ostream& out, std::ostream& err) {
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  auto answer = agent_get(*url, "/api/v1/routes", args.timeout);
  if (!answer) {
    err << "linewatch: no agent answering at " << *url << " (" << answer.error().message
        << ").\nIs `linewatch run` running? Point at it with --agent URL or -c CONFIG.\n";
    return 2;
  }
  if (answer->status != 200) {
    err << "linewatch: the agent at " << *url << " answered HTTP " << answer->status
        << " for /api/v1/routes: " << answer->body << "\n";
    return 2;
  }
  if (args.json) {
    out << answer->body << "\n";
    return 0;
  }
  try {
    print_routes_table(*Poco::JSON::Parser().parse(answer->body).extract<Object::Ptr>(), out);
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << *url
        << " sent routes this CLI cannot read: " << e.displayText() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace linewatch

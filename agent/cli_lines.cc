// `linewatch lines`: each line's state, health, role and traffic from
// /api/v1/lines, as an aligned table or the API's JSON.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <cstdio>
#include <ostream>

#include "agent/cli.h"
#include "agent/cli_tables.h"
#include "agent/status_table.h"

namespace linewatch {
namespace {

using Poco::JSON::Object;

std::string text_or_dash(const Object& o, const char* key) {
  return o.has(key) && !o.isNull(key) ? o.getValue<std::string>(key) : "-";
}

// "%.2f" of a 0..1 figure, or "%.1f%%" when `percent`; "-" when null.
std::string fraction(const Object& o, const char* key, bool percent) {
  if (!o.has(key) || o.isNull(key)) return "-";
  const double v = o.getValue<double>(key);
  char buf[32];
  std::snprintf(buf, sizeof buf, percent ? "%.1f%%" : "%.2f", percent ? v * 100 : v);
  return buf;
}

std::string rate(const Object& o, const char* key) {
  return o.has(key) && !o.isNull(key) ? format_bps(o.getValue<double>(key)) : "-";
}

}  // namespace

std::vector<std::string> lines_down(const Object& doc) {
  std::vector<std::string> down;
  auto lines = doc.getArray("lines");
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto l = lines->getObject(static_cast<unsigned>(i));
    if (l->getValue<std::string>("state") == "down")
      down.push_back(l->getValue<std::string>("line"));
  }
  return down;
}

void print_lines_table(const Object& doc, std::ostream& out) {
  auto lines = doc.getArray("lines");
  std::vector<std::vector<std::string>> rows{
      {"LINE", "STATE", "HEALTH", "ROLE", "SCORE", "TARGETS OK", "RX", "TX", "UTIL", "CAPACITY"}};
  int up = 0, down = 0;
  for (std::size_t i = 0; i < lines->size(); ++i) {
    auto l = lines->getObject(static_cast<unsigned>(i));
    const std::string state = l->getValue<std::string>("state");
    up += state == "up";
    down += state == "down";
    rows.push_back({l->getValue<std::string>("line"), state == "down" ? "DOWN" : state,
                    text_or_dash(*l, "health"), text_or_dash(*l, "role"),
                    fraction(*l, "score", false),
                    std::to_string(l->getValue<int>("targets_ok")) + "/" +
                        std::to_string(l->getValue<int>("targets")),
                    rate(*l, "rx_bps"), rate(*l, "tx_bps"), fraction(*l, "utilisation", true),
                    rate(*l, "capacity_bps")});
  }
  const std::size_t unknown = lines->size() - up - down;
  out << "agent " << doc.getValue<std::string>("agent") << "  " << lines->size() << " lines: " << up
      << " up, " << down << " down, " << unknown << " unknown  at "
      << doc.getValue<std::string>("now") << "\n";
  print_aligned(rows, out);
}

Result<std::vector<std::string>> fetch_lines_down(const std::string& url, Duration timeout) {
  auto answer = agent_get(url, "/api/v1/lines", timeout);
  if (!answer) return answer.error();
  if (answer->status != 200)
    return Error{ErrorCode::unavailable,
                 url + "/api/v1/lines: HTTP " + std::to_string(answer->status)};
  try {
    return lines_down(*Poco::JSON::Parser().parse(answer->body).extract<Object::Ptr>());
  } catch (const Poco::Exception& e) {
    return Error{ErrorCode::unavailable, url + "/api/v1/lines: unreadable: " + e.displayText()};
  }
}

int cmd_lines(const LinesArgs& args, std::ostream& out, std::ostream& err) {
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  auto answer = agent_get(*url, "/api/v1/lines", args.timeout);
  if (!answer || answer->status != 200) {
    err << "linewatch: no agent answering at " << *url << " ("
        << (answer ? "/api/v1/lines: HTTP " + std::to_string(answer->status)
                   : answer.error().message)
        << ").\nIs `linewatch run` running? Point at it with --agent URL or -c CONFIG.\n";
    return 2;
  }
  try {
    auto doc = Poco::JSON::Parser().parse(answer->body).extract<Object::Ptr>();
    if (args.json)
      out << answer->body << "\n";
    else
      print_lines_table(*doc, out);
    return lines_down(*doc).empty() ? 0 : 1;
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << *url
        << " sent lines this CLI cannot read: " << e.displayText() << "\n";
    return 2;
  }
}

}  // namespace linewatch

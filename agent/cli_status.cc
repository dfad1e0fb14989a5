// `linewatch status`: asks the running agent and prints an aligned table;
// the exit code says whether a line is down (/api/v1/lines).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <iomanip>
#include <ostream>
#include <sstream>

#include "agent/cli.h"
#include "agent/config_load.h"
#include "agent/status_table.h"

namespace linewatch {

Result<std::string> agent_url(const std::string& explicit_url, const std::string& config_path) {
  if (!explicit_url.empty()) return explicit_url;
  std::string listen = AgentOptions{}.listen;
  if (!config_path.empty()) {
    auto cfg = load_config_file(config_path);
    if (!cfg) return cfg.error();
    listen = cfg->agent.listen;
  }
  // A wildcard listen address is reachable on loopback.
  if (listen.rfind("0.0.0.0:", 0) == 0) listen = "127.0.0.1" + listen.substr(7);
  if (listen.rfind("[::]:", 0) == 0) listen = "[::1]" + listen.substr(4);
  return "http://" + listen;
}

int cmd_status(const StatusArgs& args, std::ostream& out, std::ostream& err) {
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  // The status answer on 200; anything else means no agent able to answer.
  auto body = [&]() -> Result<std::string> {
    auto answer = agent_get(*url, "/api/v1/status", args.timeout);
    if (!answer) return answer.error();
    if (answer->status != 200)
      return Error{ErrorCode::unavailable,
                   *url + "/api/v1/status: HTTP " + std::to_string(answer->status)};
    return std::move(answer->body);
  }();
  if (!body) {
    err << "linewatch: no agent answering at " << *url << " (" << body.error().message
        << ").\nIs `linewatch run` running? Point at it with --agent URL or -c CONFIG.\n";
    return 2;
  }
  // Read after the status, so that a line the table shows down is counted.
  const auto down = fetch_lines_down(*url, args.timeout);
  try {
    if (args.json) {
      out << *body << "\n";
    } else {
      Poco::JSON::Parser parser;
      auto doc = parser.parse(*body).extract<Poco::JSON::Object::Ptr>();
      print_status_table(*doc, out);
      if (down && !down->empty()) {
        out << "\nlines down:";
        for (const std::string& line : *down) out << " " << line;
        out << "\n";
      }
    }
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << *url
        << " sent a status this CLI cannot read: " << e.displayText() << "\n";
    return 2;
  }
  if (!down) {
    err << "linewatch: cannot tell whether a line is down: " << down.error().message << "\n";
    return 2;
  }
  return down->empty() ? 0 : 1;
}

}  // namespace linewatch

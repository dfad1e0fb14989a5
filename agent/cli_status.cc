// `linewatch status`: asks the running agent and prints an aligned table.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

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

namespace {

// GETs url + path; the body on 200, else an error text for the operator.
Result<std::string> http_get(const std::string& base, const std::string& path, Duration timeout) {
  try {
    Poco::URI uri(base);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(
        Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, path,
                               Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse res;
    std::istream& in = session.receiveResponse(res);
    std::string body;
    Poco::StreamCopier::copyToString(in, body);
    if (res.getStatus() != Poco::Net::HTTPResponse::HTTP_OK)
      return Error{ErrorCode::unavailable,
                   base + path + ": HTTP " + std::to_string(static_cast<int>(res.getStatus()))};
    return body;
  } catch (const Poco::Exception& e) {
    return Error{ErrorCode::unavailable, e.displayText()};
  }
}

}  // namespace

int cmd_status(const StatusArgs& args, std::ostream& out, std::ostream& err) {
  const auto url = agent_url(args.agent_url, args.config_path);
  if (!url) {
    err << url.error().message << "\n";
    return config_exit_code(url.error());
  }
  auto body = http_get(*url, "/api/v1/status", args.timeout);
  if (!body) {
    err << "linewatch: no agent answering at " << *url << " (" << body.error().message
        << ").\nIs `linewatch run` running? Point at it with --agent URL or -c CONFIG.\n";
    return 2;
  }
  if (args.json) {
    out << *body << "\n";
    return 0;
  }
  try {
    Poco::JSON::Parser parser;
    auto doc = parser.parse(*body).extract<Poco::JSON::Object::Ptr>();
    print_status_table(*doc, out);
  } catch (const Poco::Exception& e) {
    err << "linewatch: the agent at " << *url
        << " sent a status this CLI cannot read: " << e.displayText() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace linewatch

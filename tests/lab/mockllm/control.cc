#include "tests/lab/mockllm/control.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetworkInterface.h>
#include <Poco/NumberParser.h>
#include <Poco/URI.h>

#include "tests/lab/mockllm/config.h"
#include "tests/lab/mockllm/handler.h"

namespace linewatch::mockllm {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

void fail(HTTPServerResponse& response, Fault fault, const std::string& message) {
  send_error(response, openai_dialect(), fault, message);
}

void method_not_allowed(HTTPServerResponse& response, const std::string& allow) {
  response.set("Allow", allow);
  fail(response, Fault::bad_method, "Method not allowed; use " + allow);
}

void serve_config(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response) {
  if (request.getMethod() == HTTPRequest::HTTP_GET)
    return send_json(response, 200, behaviours_json(state.behaviours()));
  if (request.getMethod() != HTTPRequest::HTTP_POST)
    return method_not_allowed(response, "GET, POST");
  Result<std::string> body = read_body(request, kMaxBody);
  if (!body) return fail(response, Fault::too_large, body.error().message);
  Result<Behaviours> next = state.update([&](const Behaviours& current) {
    return apply_config_json(current, state.initial(), *body);
  });
  if (!next) return fail(response, Fault::bad_request, next.error().message);
  send_json(response, 200, behaviours_json(*next));
}

// The value of query parameter `name` as an unsigned integer, or `fallback`
// when absent. Failure: invalid_argument naming the parameter.
Result<std::uint64_t> query_number(const Poco::URI& uri, const std::string& name,
                                   std::uint64_t fallback) {
  for (const auto& [key, value] : uri.getQueryParameters()) {
    if (key != name) continue;
    Poco::UInt64 n = 0;
    if (!Poco::NumberParser::tryParseUnsigned64(value, n))
      return invalid("'" + name + "' must be an unsigned integer");
    return static_cast<std::uint64_t>(n);
  }
  return fallback;
}

void serve_records(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response) {
  if (request.getMethod() != HTTPRequest::HTTP_GET) return method_not_allowed(response, "GET");
  const Poco::URI uri(request.getURI());
  Result<std::uint64_t> after = query_number(uri, "after", 0);
  Result<std::uint64_t> last = query_number(uri, "last", kRecordsKept);
  if (!after || !last)
    return fail(response, Fault::bad_request, (!after ? after : last).error().message);
  std::string body = "{\"records\":[";
  bool first = true;
  for (const Record& r : state.records(*after, static_cast<std::size_t>(*last))) {
    body += (first ? "" : ",") + record_json(r);
    first = false;
  }
  send_json(response, 200, body + "]}");
}

}  // namespace

void serve_mock(SharedState& state, HTTPServerRequest& request, HTTPServerResponse& response,
                const std::string& path) {
  if (!same_namespace(request.clientAddress().host()))
    return fail(response, Fault::forbidden,
                "/mock/ is only served to clients in this network namespace");
  if (path == "/mock/config") return serve_config(state, request, response);
  if (path == "/mock/records") return serve_records(state, request, response);
  fail(response, Fault::no_route, "Invalid URL (" + request.getMethod() + " " + path + ")");
}

bool same_namespace(const Poco::Net::IPAddress& peer) {
  if (peer.isLoopback()) return true;
  try {
    for (const Poco::Net::NetworkInterface& nif : Poco::Net::NetworkInterface::list(true, false))
      for (const Poco::Net::NetworkInterface::AddressTuple& a : nif.addressList())
        if (a.get<Poco::Net::NetworkInterface::IP_ADDRESS>() == peer) return true;
  } catch (const Poco::Exception&) {
    // Cannot enumerate interfaces: refuse, the safe answer for a control port.
  }
  return false;
}

}  // namespace linewatch::mockllm

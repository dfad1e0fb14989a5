// The HTTP GET under the query commands (`status`, `events`, `routes`): any
// status comes back with its body, for the commands that read error bodies.
#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include "agent/cli.h"

namespace linewatch {

Result<AgentAnswer> agent_get(const std::string& base, const std::string& target,
                              Duration timeout) {
  try {
    Poco::URI uri(base);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(
        Poco::Timespan(std::chrono::duration_cast<std::chrono::microseconds>(timeout).count()));
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, target,
                               Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse res;
    std::istream& in = session.receiveResponse(res);
    AgentAnswer answer{static_cast<int>(res.getStatus()), ""};
    Poco::StreamCopier::copyToString(in, answer.body);
    return answer;
  } catch (const Poco::Exception& e) {
    return Error{ErrorCode::unavailable, e.displayText()};
  }
}

}  // namespace linewatch

// Internal to mockllm: the test-only control endpoints, served only to
// clients in the same network namespace because they let a caller force
// failures and read timings:
//   GET  /mock/config     the behaviours in force (config.h)
//   POST /mock/config     change them (config.h); the reply is the new ones
//   GET  /mock/records[?after=SEQ][&last=N]   timing records (record.h) as
//        {"records":[...]}, oldest first: those with seq > SEQ (default 0),
//        at most the newest N (default all kept, see kRecordsKept)
// Errors come in OpenAI's shape.
//
// Thread-safety: as the handlers (handler.h); same_namespace() reads the
// interface list and is thread-safe.
#pragma once

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/IPAddress.h>

#include <string>

#include "tests/lab/mockllm/state.h"

namespace linewatch::mockllm {

// Answers a request for a /mock/ path (404 for one not listed above).
void serve_mock(SharedState& state, Poco::Net::HTTPServerRequest& request,
                Poco::Net::HTTPServerResponse& response, const std::string& path);

// True for a loopback peer or one whose address is one of this network
// namespace's interface addresses (a client here connecting to, say, the far
// service address 198.19.255.1 comes from that address). A spoofed source
// from outside could pass; this is a test double, not a security boundary.
bool same_namespace(const Poco::Net::IPAddress& peer);

}  // namespace linewatch::mockllm

// The `failover` object of /api/v1/status (docs/api.md): per line its
// state, since, reason, takes_traffic, penalty and score; the plan in force
// (version, time, panic, routes with their next hops); the counters.
// Pure; thread-safe.
#pragma once

#include <Poco/JSON/Object.h>

#include "agent/failover_snapshot.h"

namespace linewatch {

Poco::JSON::Object::Ptr failover_to_json(const FailoverSnapshot& s);

}  // namespace linewatch

// JSON shapes of the HTTP API, shared by the server (encode) and the CLI
// (decode and print). Field names are the API's contract: documented in
// docs/api.md, changed only with a version bump of the path.
#pragma once

#include <Poco/JSON/Object.h>

#include <string>

#include "agent/bandwidth_sampler.h"
#include "core/probe_result.h"
#include "rules/status_board.h"

namespace linewatch {

// RFC 3339 UTC with milliseconds, e.g. "2026-11-27T07:18:59.123Z".
std::string format_time(WallTime t);

// One round: kind, ok, reason, rtt and the figures that apply to the kind.
// Durations are milliseconds as numbers (`*_ms`); absent optionals are omitted.
Poco::JSON::Object::Ptr result_to_json(const ProbeResult& r);

// One series: line, target, kind, "latest" (a result) and "window" figures.
Poco::JSON::Object::Ptr summary_to_json(const SeriesSummary& s);

// One line's bandwidth (the status document's `lines`): line, interface
// (null while none is known), from, state, since, and when measuring rx_bps,
// tx_bps and, with a capacity, utilisation; restart and detail say why not.
Poco::JSON::Object::Ptr line_bandwidth_to_json(const LineBandwidth& l);

}  // namespace linewatch

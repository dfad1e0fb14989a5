// The tables the query commands print, each from one parsed API document
// (docs/api.md). Pure: they only write to `out`, so tests feed them fixed
// documents (cli_golden_test.cc). Each throws Poco::Exception on a document
// that lacks a field it needs. Thread-safe.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace linewatch {

// /api/v1/lines: a header (agent, how many lines up, down, unknown) and one
// row per line (LINE STATE HEALTH ROLE SCORE TARGETS RX TX UTIL CAPACITY).
void print_lines_table(const Poco::JSON::Object& lines, std::ostream& out);
// The ids of the lines whose state is "down", in document order.
std::vector<std::string> lines_down(const Poco::JSON::Object& lines);

// /api/v1/routes: the plan in force per route and next hop with its line's
// state, then the local apply and the gateways; one line when failover is off.
void print_routes_table(const Poco::JSON::Object& routes, std::ostream& out);

// /api/v1/events: a count and one row per event.
void print_events_table(const Poco::JSON::Object& events, std::ostream& out);

// /api/v1/alerts: a header, one row per alert and the outbox line when
// notifications wait. Returns how many alerts fire.
std::size_t print_alerts_table(const Poco::JSON::Object& alerts, std::ostream& out);
// How many alerts of an /api/v1/alerts document fire.
std::size_t alerts_firing(const Poco::JSON::Object& alerts);

// /api/v1/alerts/history: a count and one row per alert event.
void print_alert_history_table(const Poco::JSON::Object& history, std::ostream& out);

}  // namespace linewatch

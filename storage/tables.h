// Row mapping and read queries for the tables failover added in schema v3:
// events (events.cc), line_bandwidth (bandwidth.cc) and agent_state
// (state.cc). The writer binds through these; the reader selects through them.
//
// Times are stored in whole milliseconds, so a round trip truncates finer
// parts; everything else comes back exactly.
// Stateless; each function uses only the statement or connection it is given.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "storage/sqlite.h"
#include "storage/store.h"

namespace linewatch {

// One saved agent_state value, waiting for the writer.
struct StateValue {
  std::string value;
  WallTime at{};  // when save_state() was called
};
using StateValues = std::map<std::string, StateValue>;

// INSERT with parameters ?1.. bound by the matching bind_* below.
extern const char* const kInsertEvent;
extern const char* const kInsertBandwidth;
extern const char* const kPutState;  // an upsert: a later value replaces the row

void bind_event(Stmt& st, const Event& e);
void bind_bandwidth(Stmt& st, std::int64_t line_id, const BandwidthSample& b);
void bind_state(Stmt& st, const std::string& key, const StateValue& v);

// The queries behind Store::events(), bandwidth() and load_state(); see store.h.
Result<std::vector<Event>> select_events(Db& db, const EventQuery& q);
Result<std::vector<BandwidthSample>> select_bandwidth(Db& db, const BandwidthQuery& q);
Result<std::optional<std::string>> select_state(Db& db, const std::string& key);

// A limit as an SQLite integer (a size_t beyond INT64_MAX means "all").
std::int64_t sql_limit(std::size_t limit);

}  // namespace linewatch

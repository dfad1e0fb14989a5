// Read queries over a connection of their own (see store.h for the contract):
// samples here, the events, bandwidth and state tables through tables.h.
//
// Thread-safety: all members are thread-safe; one mutex serialises use of the
// connection, so concurrent readers queue behind each other but never behind
// the writer (WAL).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "storage/sqlite.h"
#include "storage/store.h"

namespace linewatch {

class SampleReader {
 public:
  explicit SampleReader(Db db) : db_(std::move(db)) {}

  Result<std::vector<ProbeResult>> samples(const SampleQuery& q) const;
  Result<std::vector<SeriesInfo>> series() const;
  Result<std::vector<SeriesPoint>> series_points(const SeriesQuery& q) const;  // series_read.h
  Result<std::int64_t> count() const;
  Result<std::optional<ProbeResult>> latest(const std::string& line, const std::string& target,
                                            ProbeKind kind) const;
  // The v3 tables (tables.h).
  Result<std::vector<Event>> events(const EventQuery& q) const;
  Result<std::vector<BandwidthSample>> bandwidth(const BandwidthQuery& q) const;
  Result<std::optional<std::string>> load_state(const std::string& key) const;
  // The v5 rollups (rollup.h).
  Result<Availability> availability(const AvailabilityQuery& q) const;

 private:
  Result<std::vector<ProbeResult>> select(const std::string& line, const std::string& target,
                                          ProbeKind kind, std::int64_t from_ms, std::int64_t to_ms,
                                          std::size_t limit, bool newest) const;  // mu_ held
  Result<std::string> name(const char* table, std::int64_t id) const;             // mu_ held
  // Adds each series of the indexed `table` with its newest ts_ms. mu_ held.
  Status indexed_series(
      const char* table,
      std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, std::int64_t>& newest) const;

  mutable std::mutex mu_;
  mutable Db db_;  // guarded by mu_
};

}  // namespace linewatch

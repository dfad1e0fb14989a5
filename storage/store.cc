#include "storage/store.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "storage/reader.h"
#include "storage/schema.h"
#include "storage/writer.h"

namespace linewatch {
namespace {

// journal_size_limit makes SQLite itself truncate the WAL when it resets it;
// the writer adds a TRUNCATE checkpoint past the same bound (store.h).
Status limit_size(Db& db, const StoreTuning& tuning) {
  auto s = db.exec("PRAGMA journal_size_limit = " + std::to_string(tuning.wal_limit),
                   "set journal_size_limit");
  if (!s || tuning.max_db_bytes == 0) return s;
  auto page = db.query_int("PRAGMA page_size", "read page size");
  if (!page) return page.error();
  const auto pages = std::max<std::uint64_t>(tuning.max_db_bytes / *page, 1);
  return db.exec("PRAGMA max_page_count = " + std::to_string(pages), "set max_page_count");
}

Result<Db> open_for_writing(const std::string& path, const StoreTuning& tuning) {
  auto db = open_migrated(path, tuning.busy_timeout);
  if (!db) return db.error();
  if (auto s = limit_size(*db, tuning); !s) return s.error();
  const std::string cache = "PRAGMA cache_size = -" + std::to_string(tuning.writer_cache_kib);
  if (auto s = db->exec(cache, "set cache_size"); !s) return s.error();
  return db;
}

Result<Db> open_for_reading(const std::string& path, const StoreTuning& tuning) {
  auto db = Db::open(path, SQLITE_OPEN_READWRITE, tuning.busy_timeout);
  if (!db) return db.error();
  // query_only guards against a stray write through the read side.
  if (auto s = db->exec("PRAGMA query_only = ON", "set query_only"); !s) return s.error();
  // Reads are occasional (the API, the CLI) and the OS caches the file's pages
  // anyway; SQLite's default 2 MiB page cache here would be resident for the
  // agent's life, a tenth of its memory at 100 targets.
  if (auto s = db->exec("PRAGMA cache_size = -512", "set cache_size"); !s) return s.error();
  return db;
}

}  // namespace

std::string database_path(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "linewatch.db").string();
}

Result<std::unique_ptr<Store>> Store::open(const std::string& data_dir,
                                           const StorageOptions& options, const Clock& clock,
                                           const StoreTuning& tuning) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return io_error(data_dir + ": create data directory (agent.data_dir): " + ec.message());
  const std::string path = database_path(data_dir);
  auto wdb = open_for_writing(path, tuning);
  if (!wdb) return wdb.error();
  auto rdb = open_for_reading(path, tuning);
  if (!rdb) return rdb.error();
  auto reader = std::make_unique<SampleReader>(std::move(*rdb));
  auto writer = std::make_unique<SampleWriter>(std::move(*wdb), options, tuning, clock);
  return std::unique_ptr<Store>(new Store(path, std::move(writer), std::move(reader)));
}

Store::Store(std::string path, std::unique_ptr<SampleWriter> w, std::unique_ptr<SampleReader> r)
    : path_(std::move(path)), writer_(std::move(w)), reader_(std::move(r)) {}

Store::~Store() { stop(); }

bool Store::submit(ProbeResult r) { return writer_->submit(std::move(r)); }
bool Store::submit_event(Event e) { return writer_->submit(std::move(e)); }
bool Store::submit_bandwidth(std::string line, WallTime time, std::uint64_t rx_bps,
                             std::uint64_t tx_bps, std::optional<double> utilisation) {
  return writer_->submit(BandwidthSample{std::move(line), time, rx_bps, tx_bps, utilisation});
}
bool Store::save_state(std::string key, std::string value) {
  return writer_->save_state(std::move(key), std::move(value));
}
bool Store::flush(Duration timeout) { return writer_->flush(timeout); }
void Store::stop() { writer_->stop(); }
WriterStats Store::stats() const { return writer_->stats(); }

Result<std::vector<ProbeResult>> Store::samples(const SampleQuery& q) const {
  return reader_->samples(q);
}
Result<std::vector<SeriesInfo>> Store::series() const { return reader_->series(); }
Result<std::vector<SeriesPoint>> Store::series_points(const SeriesQuery& q) const {
  return reader_->series_points(q);
}
Result<std::int64_t> Store::count() const { return reader_->count(); }
Result<std::vector<Event>> Store::events(const EventQuery& q) const { return reader_->events(q); }
Result<std::vector<BandwidthSample>> Store::bandwidth(const BandwidthQuery& q) const {
  return reader_->bandwidth(q);
}
Result<std::optional<std::string>> Store::load_state(const std::string& key) const {
  return reader_->load_state(key);
}
Result<Availability> Store::availability(const AvailabilityQuery& q) const {
  return reader_->availability(q);
}
Result<std::optional<ProbeResult>> Store::latest(const std::string& line, const std::string& target,
                                                 ProbeKind kind) const {
  return reader_->latest(line, target, kind);
}

}  // namespace linewatch

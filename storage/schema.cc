#include "storage/schema.h"

#include <string>

namespace linewatch {
namespace {

// Index i holds the SQL taking the schema from version i to i+1. Append only:
// a released step never changes, or existing databases would diverge.
constexpr const char* kSteps[] = {
    // v1: interned names and the samples table.
    R"sql(
CREATE TABLE lines(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE targets(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE samples(
  id INTEGER PRIMARY KEY,
  line_id INTEGER NOT NULL REFERENCES lines(id),
  target_id INTEGER NOT NULL REFERENCES targets(id),
  kind INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  reason INTEGER NOT NULL,
  rtt_us INTEGER,
  duration_us INTEGER NOT NULL,
  sent INTEGER NOT NULL,
  received INTEGER NOT NULL,
  rtt_min_us INTEGER,
  rtt_median_us INTEGER,
  rtt_avg_us INTEGER,
  rtt_max_us INTEGER,
  rtt_stddev_us INTEGER,
  dns_us INTEGER,
  connect_us INTEGER,
  tls_us INTEGER,
  ttfb_us INTEGER,
  transfer_us INTEGER,
  http_status INTEGER NOT NULL,
  cert_expiry_ms INTEGER,
  body_bytes INTEGER NOT NULL,
  detail TEXT
) STRICT;
)sql",
    // v2: indexes for series reads and retention, per-echo RTTs.
    R"sql(
CREATE INDEX samples_series ON samples(line_id, target_id, kind, ts_ms);
CREATE INDEX samples_ts ON samples(ts_ms);
ALTER TABLE samples ADD COLUMN rtts TEXT;
)sql",
    // v3: failover's decisions (events), its state across restarts (agent_state)
    // and per-second bandwidth of each line.
    R"sql(
CREATE TABLE events(
  id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  line TEXT NOT NULL,
  target TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL
) STRICT;
CREATE INDEX events_ts ON events(ts_ms);
CREATE INDEX events_line ON events(line, ts_ms);
CREATE TABLE agent_state(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  ts_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE line_bandwidth(
  line_id INTEGER NOT NULL REFERENCES lines(id),
  ts_ms INTEGER NOT NULL,
  rx_bps INTEGER NOT NULL,
  tx_bps INTEGER NOT NULL,
  utilisation REAL
) STRICT;
CREATE INDEX line_bandwidth_series ON line_bandwidth(line_id, ts_ms);
CREATE INDEX line_bandwidth_ts ON line_bandwidth(ts_ms);
)sql",
    // v4: what llm rounds measured, one row beside each llm sample. A side
    // table, so the far more numerous icmp/tcp/http rows pay nothing for it;
    // the trigger keeps it from outliving its sample (retention, or any other
    // delete, foreign_keys on or off).
    R"sql(
CREATE TABLE llm_samples(
  sample_id INTEGER PRIMARY KEY,
  mode INTEGER NOT NULL,
  ttft_us INTEGER,
  total_us INTEGER,
  tokens INTEGER NOT NULL,
  stream_complete INTEGER NOT NULL,
  retry_after_us INTEGER,
  model_listed INTEGER,
  stream_bytes INTEGER NOT NULL
) STRICT;
CREATE TRIGGER samples_drop_llm AFTER DELETE ON samples BEGIN
  DELETE FROM llm_samples WHERE sample_id = OLD.id;
END;
)sql",
    // v5: availability rollups and the notification outbox. The rollups are
    // filled from the samples already stored, so windows reaching back before
    // the upgrade are whole at once; the network_failed sum is the SQL twin of
    // is_network_failure() (reasons timeout, refused, unreachable, dns, tls,
    // and stream_stall with no body byte).
    R"sql(
CREATE TABLE availability_minutes(
  line_id INTEGER NOT NULL REFERENCES lines(id),
  target_id INTEGER NOT NULL REFERENCES targets(id),
  bucket_ms INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  rounds INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  network_failed INTEGER NOT NULL,
  PRIMARY KEY(line_id, target_id, bucket_ms, kind)
) STRICT, WITHOUT ROWID;
CREATE INDEX availability_minutes_ts ON availability_minutes(bucket_ms);
CREATE TABLE availability_hours(
  line_id INTEGER NOT NULL REFERENCES lines(id),
  target_id INTEGER NOT NULL REFERENCES targets(id),
  bucket_ms INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  rounds INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  network_failed INTEGER NOT NULL,
  PRIMARY KEY(line_id, target_id, bucket_ms, kind)
) STRICT, WITHOUT ROWID;
CREATE INDEX availability_hours_ts ON availability_hours(bucket_ms);
INSERT INTO availability_minutes(line_id, target_id, bucket_ms, kind, rounds, ok, network_failed)
SELECT line_id, target_id, ts_ms - ((ts_ms % 60000) + 60000) % 60000 AS bucket, kind,
  count(*), sum(ok),
  sum(ok = 0 AND (reason IN (1, 2, 3, 4, 5) OR (reason = 16 AND
    coalesce((SELECT stream_bytes FROM llm_samples WHERE sample_id = samples.id), 0) = 0)))
FROM samples GROUP BY line_id, target_id, bucket, kind;
INSERT INTO availability_hours(line_id, target_id, bucket_ms, kind, rounds, ok, network_failed)
SELECT line_id, target_id, bucket_ms - ((bucket_ms % 3600000) + 3600000) % 3600000 AS hour, kind,
  sum(rounds), sum(ok), sum(network_failed)
FROM availability_minutes GROUP BY line_id, target_id, hour, kind;
CREATE TABLE outbox(
  id INTEGER PRIMARY KEY,
  receiver TEXT NOT NULL,
  notification TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL,
  parked INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_queue ON outbox(receiver, parked, id);
)sql",
    // v6: per-echo RTTs as a compact BLOB (sample_row.h, encode_echoes) in
    // place of the JSON text: about 13 bytes a round of five echoes against
    // 32. Rows already stored keep their `rtts` text and are read from it, so
    // the upgrade rewrites nothing.
    R"sql(
ALTER TABLE samples ADD COLUMN echoes BLOB;
)sql",
    // v7: new rows land in samples_recent, a table without indexes, and move
    // in bulk ("folds", storage/writer.cc) into the indexed samples_folded,
    // so each series' index leaf is rewritten once per fold rather than once
    // per batch. `samples` becomes a view of both, so SQL that reads samples
    // keeps working. The writer gives every row its id from one sequence, so
    // an id (and llm_samples.sample_id) stays the row's own when it moves.
    // samples_recent has no foreign keys and no trigger, so a fold empties it
    // whole (a delete without triggers or foreign-key work frees its pages
    // without rewriting them) and leaves the llm rows of the moved samples
    // alone; deletes through the view take the llm row along.
    R"sql(
ALTER TABLE samples RENAME TO samples_folded;
CREATE TABLE samples_recent(
  id INTEGER PRIMARY KEY,
  line_id INTEGER NOT NULL,
  target_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  reason INTEGER NOT NULL,
  rtt_us INTEGER,
  duration_us INTEGER NOT NULL,
  sent INTEGER NOT NULL,
  received INTEGER NOT NULL,
  rtt_min_us INTEGER,
  rtt_median_us INTEGER,
  rtt_avg_us INTEGER,
  rtt_max_us INTEGER,
  rtt_stddev_us INTEGER,
  dns_us INTEGER,
  connect_us INTEGER,
  tls_us INTEGER,
  ttfb_us INTEGER,
  transfer_us INTEGER,
  http_status INTEGER NOT NULL,
  cert_expiry_ms INTEGER,
  body_bytes INTEGER NOT NULL,
  detail TEXT,
  rtts TEXT,
  echoes BLOB
) STRICT;
CREATE VIEW samples AS
  SELECT id, line_id, target_id, kind, ts_ms, ok, reason, rtt_us, duration_us, sent, received,
    rtt_min_us, rtt_median_us, rtt_avg_us, rtt_max_us, rtt_stddev_us, dns_us, connect_us, tls_us,
    ttfb_us, transfer_us, http_status, cert_expiry_ms, body_bytes, detail, rtts, echoes
  FROM samples_folded
  UNION ALL
  SELECT id, line_id, target_id, kind, ts_ms, ok, reason, rtt_us, duration_us, sent, received,
    rtt_min_us, rtt_median_us, rtt_avg_us, rtt_max_us, rtt_stddev_us, dns_us, connect_us, tls_us,
    ttfb_us, transfer_us, http_status, cert_expiry_ms, body_bytes, detail, rtts, echoes
  FROM samples_recent;
CREATE TRIGGER samples_delete INSTEAD OF DELETE ON samples BEGIN
  DELETE FROM samples_folded WHERE id = OLD.id;
  DELETE FROM samples_recent WHERE id = OLD.id;
  DELETE FROM llm_samples WHERE sample_id = OLD.id;
END;
)sql",
};
static_assert(std::size(kSteps) == kSchemaVersion, "one migration step per version");

Status apply_step(Db& db, int to) {
  auto tx = Transaction::begin(db);
  if (!tx) return tx.error();
  // Re-read under the write lock: another process may have migrated meanwhile.
  auto now = schema_version(db);
  if (!now) return now.error();
  if (*now >= to) return ok_status();
  auto s = db.exec(kSteps[to - 1], "migrate schema to version " + std::to_string(to));
  if (!s) return s;
  s = db.exec("PRAGMA user_version = " + std::to_string(to), "set schema version");
  if (!s) return s;
  return tx->commit();
}

}  // namespace

Result<int> schema_version(Db& db) {
  auto v = db.query_int("PRAGMA user_version", "read schema version");
  if (!v) return v.error();
  return static_cast<int>(*v);
}

Status check_not_newer(Db& db) {
  auto v = schema_version(db);
  if (!v) return v.error();
  if (*v > kSchemaVersion)
    return invalid(db.path() + ": schema version " + std::to_string(*v) +
                   " is newer than this linewatch supports (" + std::to_string(kSchemaVersion) +
                   "); upgrade linewatch or point agent.data_dir elsewhere");
  return ok_status();
}

Result<Db> open_migrated(const std::string& path, Duration busy_timeout) {
  auto db = Db::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, busy_timeout);
  if (!db) return db.error();
  // The version check comes first: switching to WAL already rewrites the
  // file header, and a newer database must stay untouched.
  if (auto s = check_not_newer(*db); !s) return s.error();
  auto mode = db->query_text("PRAGMA journal_mode = WAL", "enable WAL");
  if (!mode) return mode.error();
  if (*mode != "wal")
    return io_error(path + ": enable WAL: journal mode stayed '" + *mode +
                    "' (is the file on a filesystem without shared memory support?)");
  if (auto s = db->exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "set pragmas"); !s)
    return s.error();
  if (auto s = migrate(*db); !s) return s.error();
  return db;
}

Status migrate(Db& db, int up_to) {
  if (up_to < 0 || up_to > kSchemaVersion)
    return invalid("migrate: no schema version " + std::to_string(up_to));
  auto v = schema_version(db);
  if (!v) return v.error();
  for (int to = *v + 1; to <= up_to; ++to) {
    auto s = apply_step(db, to);
    if (!s) return s;
  }
  return ok_status();
}

}  // namespace linewatch

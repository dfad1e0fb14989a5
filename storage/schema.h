// The database schema and its migrations.
//
// The version lives in `PRAGMA user_version`. Each migration step moves the
// database from version N-1 to N inside its own transaction, so a crash leaves
// it at a whole version. A database newer than kSchemaVersion is refused
// before anything is written to it.
//
// Schema, version 7 (durations in whole microseconds, times in unix ms):
//   lines(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)     -- line names, interned
//   targets(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)   -- target names, interned
//   samples STRICT: one ProbeResult per row
//     id INTEGER PRIMARY KEY, line_id -> lines, target_id -> targets,
//     kind (ProbeKind), ts_ms (round start), ok (0/1), reason (Reason),
//     rtt_us, duration_us, sent, received,
//     rtt_min_us, rtt_median_us, rtt_avg_us, rtt_max_us, rtt_stddev_us,
//     dns_us, connect_us, tls_us, ttfb_us, transfer_us,
//     http_status, cert_expiry_ms, body_bytes,
//     detail TEXT (NULL when empty),
//     rtts TEXT (v2-v5: per-echo RTTs as a JSON array, null for a lost echo,
//                e.g. "[812,null,790]"; NULL when the round had no echoes,
//                and in every row written since v6),
//     echoes BLOB (v6: the same RTTs in the compact form of
//                sample_row.h's encode_echoes(); NULL when the round had no
//                echoes and in rows written before v6, which keep rtts)
//   Absent optionals are NULL.
//   v2 indexes: samples_series(line_id, target_id, kind, ts_ms) for per-series
//   reads, samples_ts(ts_ms) for retention.
//   v3 events STRICT: one core/event.h Event per row
//     id INTEGER PRIMARY KEY, ts_ms, kind, line, target, reason, detail
//     (all TEXT NOT NULL; "" when the event is not about a line or target);
//     indexes events_ts(ts_ms), events_line(line, ts_ms).
//   v3 agent_state STRICT: small documents kept across restarts
//     key TEXT PRIMARY KEY, value TEXT NOT NULL, ts_ms (when it was saved).
//   v3 line_bandwidth STRICT: one per-second bandwidth sample per row
//     line_id -> lines, ts_ms, rx_bps, tx_bps (bits/s, INTEGER),
//     utilisation REAL (NULL when the line's capacity is unknown);
//     indexes line_bandwidth_series(line_id, ts_ms), line_bandwidth_ts(ts_ms).
//   v4 llm_samples STRICT: the LlmFigures of an llm sample, one row per such
//     sample (none for other kinds)
//     sample_id INTEGER PRIMARY KEY (= samples.id), mode (LlmMode),
//     ttft_us, total_us, tokens, stream_complete (0/1), retry_after_us,
//     model_listed (0/1, NULL when not asked), stream_bytes;
//     trigger samples_drop_llm deletes the row with its sample.
//   v5 availability_minutes, availability_hours STRICT, WITHOUT ROWID: how
//     many rounds of a line x target x kind started in each minute (hour) and
//     how many of them were ok (storage/rollup.h)
//     line_id -> lines, target_id -> targets, bucket_ms (start of the minute
//     or hour), kind (ProbeKind), rounds, ok (ProbeResult::ok), network_failed
//     (is_network_failure); PRIMARY KEY(line_id, target_id, bucket_ms, kind);
//     indexes availability_minutes_ts(bucket_ms), availability_hours_ts(bucket_ms)
//     for retention. The writer adds each batch's rounds in the batch's
//     transaction; the migration fills them from the samples already stored.
//   v5 outbox STRICT: notifications waiting for a receiver (storage/outbox.h)
//     id INTEGER PRIMARY KEY (the order of sending per receiver), receiver
//     (notify[].id), notification (JSON of its fields, never a secret),
//     created_ms, attempts (failed so far), next_attempt_ms, last_error ("" until
//     one failed), parked (0/1: refused for good, kept until retried or dropped);
//     index outbox_queue(receiver, parked, id).
//   v7 samples_folded: the v1-v6 samples table renamed, with its indexes
//     (still named samples_series, samples_ts) and its samples_drop_llm trigger.
//     samples_recent STRICT: the same columns, no index, no foreign key, no
//     trigger: rows land here first (rowid = id, so arrival order) and a fold
//     moves them all into samples_folded in one transaction (writer.cc).
//     Ids come from one sequence over both tables, so a row keeps its id.
//     samples: a view, samples_folded UNION ALL samples_recent; deleting
//     through it (trigger samples_delete) deletes the row from either table
//     and its llm_samples row.
//   samples, events and line_bandwidth rows older than storage.retention are
//   deleted (llm_samples rows with their samples); availability_minutes rows
//   are kept for max(storage.retention, 2 days) and availability_hours rows for
//   max(storage.retention, 32 days), so 1 h, 24 h and 30 d windows stay whole
//   under a short retention; agent_state rows are kept until overwritten;
//   outbox rows until delivered (or dropped while parked).
//
// Thread-safety: the functions use the given connection only; callers serialise.
#pragma once

#include <string>

#include "core/error.h"
#include "core/time.h"
#include "storage/sqlite.h"

namespace linewatch {

inline constexpr int kSchemaVersion = 7;

// The database's current schema version (0 for a new, empty file).
Result<int> schema_version(Db& db);

// Fails with an Error naming the file and both versions when the database was
// written by a newer linewatch. Reads only.
Status check_not_newer(Db& db);

// Opens (creating it if missing) the database at `path` for writing: refuses
// a newer version before touching the file, then WAL, synchronous=NORMAL,
// foreign keys on, and every pending migration. Each connection that writes
// (the store's writer, the outbox) opens this way, so whichever comes first
// migrates and the other finds the work done. Failure: an Error naming the file.
Result<Db> open_migrated(const std::string& path, Duration busy_timeout);

// Applies every step above the current version up to `up_to` (tests pass 1 to
// build an old database). Success: the database is at `up_to` or was already
// newer than the current version but not beyond up_to. Failure: the step that
// failed is rolled back; earlier steps stay applied.
Status migrate(Db& db, int up_to = kSchemaVersion);

}  // namespace linewatch

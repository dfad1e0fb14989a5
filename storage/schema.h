// The database schema and its migrations.
//
// The version lives in `PRAGMA user_version`. Each migration step moves the
// database from version N-1 to N inside its own transaction, so a crash leaves
// it at a whole version. A database newer than kSchemaVersion is refused
// before anything is written to it.
//
// Schema, version 4 (durations in whole microseconds, times in unix ms):
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
//     rtts TEXT (v2: per-echo RTTs as a JSON array, null for a lost echo,
//                e.g. "[812,null,790]"; NULL when the round had no echoes)
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
//   samples, events and line_bandwidth rows older than storage.retention are
//   deleted (llm_samples rows with their samples); agent_state rows are kept
//   until overwritten.
//
// Thread-safety: the functions use the given connection only; callers serialise.
#pragma once

#include "core/error.h"
#include "storage/sqlite.h"

namespace linewatch {

inline constexpr int kSchemaVersion = 4;

// The database's current schema version (0 for a new, empty file).
Result<int> schema_version(Db& db);

// Fails with an Error naming the file and both versions when the database was
// written by a newer linewatch. Reads only.
Status check_not_newer(Db& db);

// Applies every step above the current version up to `up_to` (tests pass 1 to
// build an old database). Success: the database is at `up_to` or was already
// newer than the current version but not beyond up_to. Failure: the step that
// failed is rolled back; earlier steps stay applied.
Status migrate(Db& db, int up_to = kSchemaVersion);

}  // namespace linewatch

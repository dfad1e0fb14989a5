// Helpers shared by the storage tests: a temporary directory removed on
// destruction, a store opened in it, a lock that makes its writes fail,
// sample results and events, and a bounded wait.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/event.h"
#include "core/probe_result.h"
#include "storage/sqlite.h"
#include "storage/store.h"
#include "tests/support/temp_dir.h"

namespace linewatch::test {

struct TempDir : linewatch::testing::TempDir {
  TempDir() : linewatch::testing::TempDir("linewatch-storage") {}
  std::string db() const { return file("linewatch.db"); }
};

// A store in `dir`; fails the test when it cannot be opened.
inline std::unique_ptr<Store> open_store(const TempDir& dir, const Clock& clock,
                                         const StorageOptions& options = {},
                                         const StoreTuning& tuning = {}) {
  auto s = Store::open(dir.path(), options, clock, tuning);
  REQUIRE_MESSAGE(s, s.error().message);
  return std::move(*s);
}

// A second connection holding BEGIN EXCLUSIVE: the store's writes fail with
// "database is locked" until it rolls back (or goes).
inline Db lock_exclusively(const std::string& path) {
  auto db = Db::open(path, SQLITE_OPEN_READWRITE, std::chrono::seconds(1));
  REQUIRE_MESSAGE(db, db.error().message);
  REQUIRE(db->exec("BEGIN EXCLUSIVE", "lock"));
  return std::move(*db);
}

inline Event event(WallTime t, std::string kind, std::string line, std::string reason = "silence",
                   std::string detail = "") {
  Event e;
  e.time = t;
  e.kind = std::move(kind);
  e.line = std::move(line);
  e.reason = std::move(reason);
  e.detail = std::move(detail);
  return e;
}

// Polls `cond` every 2 ms for at most `limit`; true when it held.
inline bool wait_until(const std::function<bool()>& cond,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return cond();
}

// An ICMP round at `t` whose echoes are given in µs, 0 meaning lost.
inline ProbeResult icmp_result(const std::string& line, const std::string& target, WallTime t,
                               std::initializer_list<int> echoes_us) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::icmp;
  r.time = t;
  for (int us : echoes_us)
    r.rtts.push_back(us ? std::optional<Duration>(std::chrono::microseconds(us)) : std::nullopt);
  summarise_echoes(r);
  r.ok = r.received > 0;
  r.reason = r.ok ? Reason::ok : Reason::timeout;
  r.duration = std::chrono::microseconds(1'000'000);
  return r;
}

// r as the store gives it back: durations cut to whole µs, times to whole ms.
inline ProbeResult as_stored(ProbeResult r) {
  using std::chrono::floor;
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  auto cut = [](std::optional<Duration>& d) {
    if (d) d = std::chrono::duration_cast<microseconds>(*d);
  };
  r.time = floor<milliseconds>(r.time);
  if (r.cert_expiry) r.cert_expiry = floor<milliseconds>(*r.cert_expiry);
  r.duration = std::chrono::duration_cast<microseconds>(r.duration);
  for (auto* d : {&r.rtt, &r.rtt_min, &r.rtt_median, &r.rtt_avg, &r.rtt_max, &r.rtt_stddev})
    cut(*d);
  for (auto& e : r.rtts) cut(e);
  Phases& p = r.phases;
  for (auto* d : {&p.dns, &p.connect, &p.tls, &p.ttfb, &p.transfer}) cut(*d);
  if (r.llm)
    for (auto* d : {&r.llm->ttft, &r.llm->total, &r.llm->retry_after}) cut(*d);
  return r;
}

// An llm round of `mode` at `t`; ok with a streamed answer unless `reason` says otherwise.
inline ProbeResult llm_result(const std::string& line, const std::string& target, WallTime t,
                              LlmMode mode, Reason reason = Reason::ok) {
  ProbeResult r;
  r.line = line;
  r.target = target;
  r.kind = ProbeKind::llm;
  r.time = t;
  r.ok = reason == Reason::ok;
  r.reason = reason;
  r.http_status = reason == Reason::rate_limited ? 429 : 200;
  r.phases = {std::chrono::microseconds(900), std::chrono::microseconds(41'000),
              std::chrono::microseconds(83'000), std::chrono::microseconds(310'000), std::nullopt};
  r.duration = std::chrono::microseconds(702'345);
  LlmFigures f;
  f.mode = mode;
  f.total = std::chrono::microseconds(612'345);
  f.stream_bytes = 1'234;
  if (mode == LlmMode::completion) {
    f.ttft = std::chrono::microseconds(398'765) + std::chrono::nanoseconds(999);
    f.tokens = 5;
    f.stream_complete = r.ok;
  } else {
    f.model_listed = reason != Reason::model_missing;
  }
  if (reason == Reason::rate_limited) f.retry_after = std::chrono::seconds(17);
  r.rtt = mode == LlmMode::completion ? f.ttft : f.total;
  if (!r.ok) r.detail = "status 429: Rate limit reached for requests";
  r.llm = f;
  return r;
}

// Field-for-field comparison, each field its own CHECK so a failure names it.
inline void check_same(const ProbeResult& a, const ProbeResult& b) {
  CHECK(a.line == b.line);
  CHECK(a.target == b.target);
  CHECK(a.kind == b.kind);
  CHECK(a.time == b.time);
  CHECK(a.ok == b.ok);
  CHECK(a.reason == b.reason);
  CHECK(a.detail == b.detail);
  CHECK(a.rtt == b.rtt);
  CHECK(a.duration == b.duration);
  CHECK(a.sent == b.sent);
  CHECK(a.received == b.received);
  CHECK(a.rtt_min == b.rtt_min);
  CHECK(a.rtt_median == b.rtt_median);
  CHECK(a.rtt_avg == b.rtt_avg);
  CHECK(a.rtt_max == b.rtt_max);
  CHECK(a.rtt_stddev == b.rtt_stddev);
  CHECK(a.rtts == b.rtts);
  CHECK(a.phases.dns == b.phases.dns);
  CHECK(a.phases.connect == b.phases.connect);
  CHECK(a.phases.tls == b.phases.tls);
  CHECK(a.phases.ttfb == b.phases.ttfb);
  CHECK(a.phases.transfer == b.phases.transfer);
  CHECK(a.http_status == b.http_status);
  CHECK(a.cert_expiry == b.cert_expiry);
  CHECK(a.body_bytes == b.body_bytes);
  REQUIRE(a.llm.has_value() == b.llm.has_value());
  if (!a.llm) return;
  CHECK(a.llm->mode == b.llm->mode);
  CHECK(a.llm->ttft == b.llm->ttft);
  CHECK(a.llm->total == b.llm->total);
  CHECK(a.llm->tokens == b.llm->tokens);
  CHECK(a.llm->stream_complete == b.llm->stream_complete);
  CHECK(a.llm->retry_after == b.llm->retry_after);
  CHECK(a.llm->model_listed == b.llm->model_listed);
  CHECK(a.llm->stream_bytes == b.llm->stream_bytes);
}

}  // namespace linewatch::test

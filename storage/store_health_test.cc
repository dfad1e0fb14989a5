// The ok/failing state machine on its own: one event per change, never one
// per retry, with the episode's figures.
#include "storage/store_health.h"

#include <doctest/doctest.h>

#include "storage/sqlite.h"

namespace linewatch {
namespace {

using namespace std::chrono_literals;

const std::string kPath = "/data/linewatch.db";

Error full() { return sqlite_error(kPath, "commit", nullptr, SQLITE_FULL); }

TEST_CASE("health: the first failure starts an episode and later ones are quiet") {
  const WallTime w0{1'000'000ms};
  const MonoTime m0{5s};
  StoreHealth h(w0);
  CHECK(h.state() == StoreState::ok);
  CHECK(h.since() == w0);

  auto ev = h.failed(full(), kPath, m0, w0 + 1s, /*dropped=*/7, /*errors=*/1);
  REQUIRE(ev);
  CHECK(ev->state == StoreState::failing);
  CHECK(ev->at == w0 + 1s);
  CHECK(ev->error == "database or disk is full");
  CHECK(ev->sqlite_code == SQLITE_FULL);
  CHECK(ev->operation == "commit");
  CHECK(ev->file == kPath);
  CHECK(h.state() == StoreState::failing);
  CHECK(h.since() == w0 + 1s);
  CHECK(h.failing_since() == m0);
  CHECK(h.last_code() == SQLITE_FULL);

  for (int i = 2; i <= 5; ++i) CHECK_FALSE(h.failed(full(), kPath, m0 + 1s * i, w0, 7, i));
  CHECK(h.since() == w0 + 1s);  // a retry does not move the start

  auto ok = h.committed(m0 + 9s, w0 + 10s, /*dropped=*/107, /*errors=*/5);
  REQUIRE(ok);
  CHECK(ok->state == StoreState::ok);
  CHECK(ok->at == w0 + 10s);
  CHECK(ok->lasted == 9s);
  CHECK(ok->failed_attempts == 5);
  CHECK(ok->rows_dropped == 100);
  CHECK(h.state() == StoreState::ok);
  CHECK(h.since() == w0 + 10s);
  CHECK_FALSE(h.committed(m0 + 10s, w0 + 11s, 107, 5));
}

TEST_CASE("health: a second episode counts only its own attempts and drops") {
  StoreHealth h(WallTime{});
  REQUIRE(h.failed(full(), kPath, MonoTime{1s}, WallTime{1s}, 0, 1));
  REQUIRE(h.committed(MonoTime{2s}, WallTime{2s}, 10, 3));
  const Error locked = sqlite_error(kPath, "begin transaction", nullptr, SQLITE_BUSY);
  auto ev = h.failed(locked, kPath, MonoTime{3s}, WallTime{3s}, 10, 4);
  REQUIRE(ev);
  CHECK(ev->error == "database is locked");
  CHECK(ev->operation == "begin transaction");
  auto ok = h.committed(MonoTime{7s}, WallTime{7s}, 25, 6);
  REQUIRE(ok);
  CHECK(ok->failed_attempts == 3);
  CHECK(ok->rows_dropped == 15);
  CHECK(ok->lasted == 4s);
}

TEST_CASE("health: an error not made by the SQLite wrapper is kept whole") {
  StoreHealth h(WallTime{});
  auto ev = h.failed(io_error("something else"), kPath, MonoTime{}, WallTime{}, 0, 1);
  REQUIRE(ev);
  CHECK(ev->error == "something else");
  CHECK(ev->sqlite_code == 0);
  CHECK(h.last_code() == 0);
}

TEST_CASE("sqlite errors split back into operation, SQLite message and code") {
  auto p = split_sqlite_error(
      sqlite_error(kPath, "intern line name", "UNIQUE constraint failed: lines.name", 2067), kPath);
  REQUIRE(p);
  CHECK(p->what == "intern line name");
  CHECK(p->message == "UNIQUE constraint failed: lines.name");
  CHECK(p->code == 2067);
  p = split_sqlite_error(sqlite_error(kPath, "commit", nullptr, SQLITE_IOERR_WRITE), kPath);
  REQUIRE(p);
  CHECK(p->message == "disk I/O error");
  CHECK(p->code == SQLITE_IOERR_WRITE);
  CHECK_FALSE(split_sqlite_error(sqlite_error("/other.db", "commit", nullptr, 13), kPath));
  CHECK_FALSE(split_sqlite_error(io_error(kPath + ": create data directory"), kPath));
}

}  // namespace
}  // namespace linewatch

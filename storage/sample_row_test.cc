#include "storage/sample_row.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "storage/schema.h"

namespace linewatch {
namespace {

using std::chrono::microseconds;

TEST_CASE("rtts encode as a compact JSON array with null for lost echoes") {
  std::vector<std::optional<Duration>> rtts = {microseconds(812), std::nullopt, microseconds(790)};
  CHECK(encode_rtts(rtts) == "[812,null,790]");
  CHECK(encode_rtts({}) == "");
  auto back = decode_rtts("[812,null,790]");
  REQUIRE(back);
  CHECK(*back == rtts);
  auto empty = decode_rtts("[]");
  REQUIRE(empty);
  CHECK(empty->empty());
}

TEST_CASE("sub-microsecond parts are truncated, not rounded") {
  CHECK(encode_rtts({Duration(1999)}) == "[1]");
}

TEST_CASE("malformed rtts text is rejected") {
  for (const char* bad : {"", "[", "812", "[812,]", "[,812]", "[81x]", "[nul]", "[1 ,2]", "[1,,2]"})
    CHECK_MESSAGE(!decode_rtts(bad), bad);
}

// The reason read back from a row stored with reason code `code`.
Result<ProbeResult> row_with_reason(Db& db, std::int64_t code) {
  auto ins = db.prepare(
      "INSERT INTO samples(line_id, target_id, kind, ts_ms, ok, reason, duration_us, sent,"
      " received, http_status, body_bytes) VALUES(1, 1, 2, 0, 0, ?1, 0, 0, 0, 0, 0)",
      "insert");
  REQUIRE(ins);
  ins->bind(1, code);
  REQUIRE(ins->run());
  auto sel = db.prepare(
      std::string("SELECT ") + kSampleColumns + " FROM samples WHERE id = last_insert_rowid()",
      "select");
  REQUIRE(sel);
  REQUIRE(*sel->step());
  return read_sample(*sel, 0, "test.db");
}

TEST_CASE("reason codes: rows stored before protocol existed keep their meaning") {
  auto opened =
      Db::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, std::chrono::seconds(1));
  REQUIRE(opened);
  Db db = std::move(*opened);
  REQUIRE(migrate(db));
  REQUIRE(db.exec("INSERT INTO lines(name) VALUES('l'); INSERT INTO targets(name) VALUES('t')",
                  "names"));
  for (int code = 0; code <= 9; ++code) {
    CAPTURE(code);
    auto r = row_with_reason(db, code);
    REQUIRE(r);
    CHECK(r->reason == static_cast<Reason>(code));
  }
  CHECK(to_string(row_with_reason(db, 9)->reason) == "internal");
  auto protocol = row_with_reason(db, 10);
  REQUIRE_MESSAGE(protocol, protocol.error().message);
  CHECK(protocol->reason == Reason::protocol);
  // The llm reasons were appended after protocol.
  auto stall = row_with_reason(db, 16);
  REQUIRE_MESSAGE(stall, stall.error().message);
  CHECK(stall->reason == Reason::stream_stall);
  auto unknown = row_with_reason(db, 17);
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().message.find("reason 17") != std::string::npos);
}

}  // namespace
}  // namespace linewatch

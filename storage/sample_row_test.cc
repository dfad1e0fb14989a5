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

using Echoes = std::vector<std::optional<Duration>>;

Echoes echoes_us(std::initializer_list<long long> us) {  // -1: lost
  Echoes v;
  for (long long u : us)
    v.push_back(u < 0 ? std::nullopt : std::optional<Duration>(microseconds(u)));
  return v;
}

TEST_CASE("echoes round-trip through the compact encoding with lost echoes kept in place") {
  const Echoes cases[] = {
      echoes_us({812, -1, 790}),
      echoes_us({-1}),
      echoes_us({-1, -1, -1, -1, -1}),
      echoes_us({0}),
      echoes_us({5'000, 80'000, 5'000, 0, 3'000'000'000LL}),  // big jumps both ways
      echoes_us({1, 2, 3, 4, 5, 6, 7, -1}),                   // flags fill one byte
      echoes_us({-1, 2, 3, 4, 5, 6, 7, 8, -1}),               // and spill into a second
      {microseconds(-250), microseconds(250)},                // a clock step backwards
      {Duration::max(), Duration::min(), std::nullopt, Duration::zero()},
  };
  for (const Echoes& e : cases) {
    CAPTURE(encode_rtts(e));
    const std::string bytes = encode_echoes(e);
    auto back = decode_echoes(bytes);
    REQUIRE(back);
    Echoes want;  // stored in whole microseconds
    for (const auto& d : e)
      want.push_back(d ? std::optional<Duration>(microseconds(to_us(*d))) : std::nullopt);
    CHECK(*back == want);
  }
  Echoes many;
  for (int i = 0; i < 1000; ++i)
    many.push_back(i % 7 == 3 ? std::nullopt : std::optional<Duration>(microseconds(i * 37)));
  auto back = decode_echoes(encode_echoes(many));
  REQUIRE(back);
  CHECK(*back == many);
  CHECK(encode_echoes({}).empty());
  CHECK(encode_echoes({Duration(1999)}) == encode_echoes({microseconds(1)}));  // truncated
}

TEST_CASE("five echoes of a long line take under half the bytes of their JSON text") {
  const Echoes e = echoes_us({152'311, 150'087, -1, 151'940, 153'002});
  CHECK(encode_rtts(e).size() == 34);
  // count, flags, a 3-byte first RTT and four 2-byte differences
  CHECK(encode_echoes(e).size() == 2 + 3 + 3 * 2);
}

TEST_CASE("malformed echoes bytes are rejected") {
  const std::string good = encode_echoes(echoes_us({812, -1, 790}));
  REQUIRE(decode_echoes(good));
  const std::string bad[] = {
      std::string(),                                                  // nothing
      std::string(1, '\0'),                                           // no echoes
      good.substr(0, 1),                                              // flags missing
      good.substr(0, good.size() - 1),                                // last RTT cut short
      good + '\x01',                                                  // a byte left over
      std::string("\x01\x00\x80", 3),                                 // a varint that never ends
      std::string("\x01\x00", 2) + std::string(10, '\xff') + '\x01',  // a varint past 64 bits
      std::string("\x03\x08\x01\x01\x01", 5),                         // a flag set past the count
      std::string("\xff\xff\xff\xff\x0f\x00", 6),  // a count the bytes cannot hold
  };
  for (const std::string& b : bad) {
    CAPTURE(b.size());
    CHECK_FALSE(decode_echoes(b));
  }
}

TEST_CASE("malformed rtts text is rejected") {
  for (const char* bad : {"", "[", "812", "[812,]", "[,812]", "[81x]", "[nul]", "[1 ,2]", "[1,,2]"})
    CHECK_MESSAGE(!decode_rtts(bad), bad);
}

// The reason read back from a row stored with reason code `code`.
Result<ProbeResult> row_with_reason(Db& db, std::int64_t code) {
  auto ins = db.prepare(
      "INSERT INTO samples_folded(line_id, target_id, kind, ts_ms, ok, reason, duration_us, sent,"
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

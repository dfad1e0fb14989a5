#include "storage/sample_row.h"

#include <doctest/doctest.h>

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

}  // namespace
}  // namespace linewatch

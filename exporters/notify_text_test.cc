// The notifiers' text helpers: JSON escaping, UTF-8 cuts and encodings.
#include "exporters/notify_text.h"

#include <doctest/doctest.h>

#include <limits>

using namespace linewatch;
using namespace linewatch::notify;

TEST_CASE("notifier json strings escape what JSON needs and mend broken UTF-8") {
  CHECK(json_string("plain") == R"("plain")");
  CHECK(json_string("a\"b\\c\nd\re\tf") == R"("a\"b\\c\nd\re\tf")");
  CHECK(json_string(std::string("\x01\x1f\x7f", 3)) == R"("\u0001\u001f\u007f")");
  CHECK(json_string("线路 ✓ 😀") == "\"线路 ✓ 😀\"");
  // A lone continuation byte, a cut-off sequence, an overlong '/', a surrogate.
  CHECK(json_string("a\x80z") == "\"a\xEF\xBF\xBDz\"");
  CHECK(json_string("a\xE7\xBA") == "\"a\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json_string("\xC0\xAF") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
  CHECK(json_string("\xED\xA0\x80") == "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST_CASE("notifier json numbers are shortest and null when not finite") {
  CHECK(json_number(3412) == "3412");
  CHECK(json_number(0.25) == "0.25");
  CHECK(json_number(-1.5e-7) == "-1.5e-07");
  CHECK(json_number(std::nullopt) == "null");
  CHECK(json_number(std::numeric_limits<double>::infinity()) == "null");
  CHECK(json_number(std::numeric_limits<double>::quiet_NaN()) == "null");
  CHECK(JsonObject().str("a", "x").num("b", 1).raw("c", "[]").done() ==
        R"({"a":"x","b":1,"c":[]})");
  CHECK(JsonObject().done() == "{}");
}

TEST_CASE("notifier utf8 cut keeps characters whole and ends with an ellipsis") {
  CHECK(cut_utf8("short", 5) == "short");
  CHECK(cut_utf8("abcdef", 5) == "ab\xE2\x80\xA6");
  const std::string han = "线路线路";  // 12 bytes, 3 per character
  CHECK(cut_utf8(han, 12) == han);
  CHECK(cut_utf8(han, 11) == "线路\xE2\x80\xA6");  // 8 + 3: the third character would split
  CHECK(cut_utf8(han, 9) == "线路\xE2\x80\xA6");
  CHECK(cut_utf8(han, 8) == "线\xE2\x80\xA6");
  CHECK(cut_utf8(han, 2).empty());
}

TEST_CASE("notifier json cut measures the escaped text") {
  CHECK(cut_json("abc", 3) == "abc");
  CHECK(cut_json("\"\"\"", 6) == "\"\"\"");          // escaped: 6 bytes
  CHECK(cut_json("\"\"\"", 5) == "\"\xE2\x80\xA6");  // \" is 2 escaped, + 3 for the ellipsis
  CHECK(cut_json("a\"bcd", 6) == "a\"bcd");          // 6 escaped: fits
  CHECK(cut_json("a\"bcd", 5) == "a\xE2\x80\xA6");
  CHECK(cut_json("线路线路", 11) == "线路\xE2\x80\xA6");
  for (std::size_t max = 0; max < 40; ++max) {
    const std::string cut = cut_json("x\"线\n\x01路yz线路", max);
    CAPTURE(max);
    CHECK(json_string(cut).size() - 2 <= max);
  }
}

TEST_CASE("notifier base64 and url encoding follow RFC 4648 and RFC 3986") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foobar") == "Zm9vYmFy");
  CHECK(url_encode("a+b/c=d e~_.-") == "a%2Bb%2Fc%3Dd%20e~_.-");
  CHECK(url_encode("线") == "%E7%BA%BF");
  // HMAC-SHA256 raw bytes: RFC 4231 test case 2 (5bdcc146...64ec3843) in base64.
  CHECK(base64(hmac_sha256_raw("Jefe", "what do ya want for nothing?")) ==
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
  CHECK(utc_text(WallTime(std::chrono::milliseconds(1'800'000'030'123))) ==
        "2027-01-15 08:00:30 UTC");
}

#include "agent/log.h"

#include <doctest/doctest.h>

#include <string>

namespace linewatch {
namespace {

TEST_CASE("log_quote escapes what could end a quoted field or a line") {
  CHECK(log_quote("connect: Connection refused") == "\"connect: Connection refused\"");
  CHECK(log_quote("") == "\"\"");
  CHECK(log_quote("status line \"HTTP/1.1 2\" ok") == "\"status line \\\"HTTP/1.1 2\\\" ok\"");
  CHECK(log_quote("a\\b") == "\"a\\\\b\"");
  CHECK(log_quote("x\" state=up y=\"") == "\"x\\\" state=up y=\\\"\"");  // no forged field
  CHECK(log_quote("one\ntwo\rthree\tfour") == "\"one\\ntwo\\rthree\\tfour\"");
  CHECK(log_quote(std::string("\0\x1b[2J\x7f", 6)) == "\"\\x00\\x1b[2J\\x7f\"");
  CHECK(log_quote("caf\xc3\xa9") == "\"caf\xc3\xa9\"");  // UTF-8 passes as is
}

}  // namespace
}  // namespace linewatch

// watch(): refreshes counted, ANSI only when asked, failures retried, and a
// signal stops it between refreshes.
#include "agent/cli_watch.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <sstream>

using namespace linewatch;
using namespace std::chrono_literals;

namespace {

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("watch runs count refreshes, each under a header, with no ANSI when not asked") {
  WatchOptions options;
  options.interval = 1ms;
  options.count = 3;
  options.title = "linewatch lines";
  std::ostringstream out, err;
  int calls = 0;
  const int code = watch(
      options,
      [&](std::ostream& o, std::ostream&) {
        o << "TABLE " << ++calls << "\n";
        return calls == 3 ? 1 : 0;
      },
      out, err);
  CHECK(calls == 3);
  CHECK(code == 1);  // the last refresh's
  CHECK(occurrences(out.str(), "every 1ms: linewatch lines  ") == 3);
  CHECK(out.str().find("TABLE 3\n") != std::string::npos);
  CHECK(out.str().find('\x1b') == std::string::npos);
  CHECK(err.str().empty());
}

TEST_CASE("watch clears the screen before each refresh when asked") {
  WatchOptions options;
  options.interval = 1ms;
  options.count = 2;
  options.clear_screen = true;
  std::ostringstream out, err;
  watch(
      options, [](std::ostream& o, std::ostream&) { return o << "x\n", 0; }, out, err);
  CHECK(occurrences(out.str(), "\x1b[H\x1b[2J") == 2);
  CHECK(out.str().rfind("\x1b[H\x1b[2J", 0) == 0);
}

TEST_CASE("watch without header prints one document per refresh and nothing else") {
  WatchOptions options;
  options.interval = 1ms;
  options.count = 2;
  options.header = false;
  std::ostringstream out, err;
  watch(
      options, [](std::ostream& o, std::ostream&) { return o << "{}\n", 0; }, out, err);
  CHECK(out.str() == "{}\n{}\n");
}

TEST_CASE("watch keeps going after a failed refresh and prints its error") {
  WatchOptions options;
  options.interval = 1ms;
  options.count = 3;
  std::ostringstream out, err;
  int calls = 0;
  const int code = watch(
      options,
      [&](std::ostream& o, std::ostream& e) {
        if (++calls == 2) return e << "no agent answering\n", 2;
        return o << "ok " << calls << "\n", 0;
      },
      out, err);
  CHECK(calls == 3);
  CHECK(code == 0);
  CHECK(err.str() == "no agent answering\n");
  CHECK(out.str().find("ok 3\n") != std::string::npos);
}

TEST_CASE("a SIGINT stops watch after the refresh under way and is not delivered later") {
  WatchOptions options;
  options.interval = 1ms;  // count 0: only the signal stops it
  std::ostringstream out, err;
  int calls = 0;
  const int code = watch(
      options,
      [&](std::ostream&, std::ostream&) {
        if (++calls == 2) raise(SIGINT);  // blocked by watch: it waits for the wait
        return 0;
      },
      out, err);
  CHECK(calls == 2);
  CHECK(code == 0);
  sigset_t pending;
  sigpending(&pending);
  CHECK(sigismember(&pending, SIGINT) == 0);
}

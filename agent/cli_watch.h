// `--watch`: runs one query command again and again, redrawing in place, for
// `status`, `lines`, `alerts`, `routes` and `events`.
//
// Each refresh renders the command into memory first and then writes it at
// once, after clearing the screen with ANSI codes only when asked (stdout is
// a terminal), so a pipe or a file gets plain text with no escape codes. A
// refresh that fails (the agent restarting) prints its error and the next
// one tries again. SIGINT and SIGTERM stop it between refreshes; a refresh
// under way finishes first (it is bounded by the command's --timeout).
//
// Thread-safety: blocks SIGINT and SIGTERM in the calling thread while it
// runs and restores the mask on return; call it from the main thread of a
// process that runs no other thread that should see those signals.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

#include "core/time.h"

namespace linewatch {

struct WatchOptions {
  Duration interval = std::chrono::seconds(2);  // from the start of one refresh to the next
  int count = 0;              // stop after this many refreshes; 0 = until a signal
  bool clear_screen = false;  // redraw in place with ANSI codes (stdout is a tty)
  std::string title;          // "linewatch status", shown in each refresh's header
  // false for JSON: no header and no empty line between refreshes, so that a
  // pipe gets one document per line (JSON Lines).
  bool header = true;
};

// One refresh: writes what the command prints, returns its exit code.
using Refresh = std::function<int(std::ostream& out, std::ostream& err)>;

// Runs `refresh` every options.interval until options.count refreshes ran or
// SIGINT or SIGTERM arrives. Each refresh is preceded by a header line
// ("every 2s: linewatch status  2026-11-30T15:44:41Z"), and, without
// clear_screen, refreshes are separated by an empty line (neither when
// options.header is false). Returns the exit
// code of the last refresh (2 when none ran).
int watch(const WatchOptions& options, const Refresh& refresh, std::ostream& out,
          std::ostream& err);

}  // namespace linewatch

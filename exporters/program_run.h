// run_program(): runs one local program with bytes on its stdin, a fixed
// environment and a deadline, capturing the start of its output. The process
// side of ExecReceiver (exporters/exec_receiver.h), kept apart so the
// receiver only maps results to push outcomes.
//
// The program is started with posix_spawn (no shell, no arguments) in its
// own process group, with default signal dispositions and an empty signal
// mask, and with no descriptor of ours beyond stdin/stdout/stderr. stdin is a
// Unix stream socket, so a program that exits without reading it cannot
// raise SIGPIPE in the agent. On the deadline (or a stop request) the whole
// group gets SIGTERM, then SIGKILL after `kill_grace`, and the program is
// always reaped before run_program() returns.
//
// Thread-safety: run_program() may run on several threads at once. It
// reaps only its own child by pid; a process that ignores SIGCHLD or reaps
// every child (waitpid(-1)) elsewhere would break that.
#pragma once

#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace linewatch {

// How much of stdout and stderr (one stream, in the order written) is kept.
inline constexpr std::size_t kProgramOutputLimit = 4096;

struct ProgramRun {
  enum class End {
    exited,       // exited by itself; `code` is its exit status
    signalled,    // killed by a signal nobody here sent; `code` is the signal
    timed_out,    // still running at the deadline: stopped with SIGTERM/SIGKILL
    cancelled,    // the stop token was requested: stopped with SIGTERM/SIGKILL
    not_started,  // posix_spawn or a pipe failed; `error` says why
  };
  End end = End::not_started;
  int code = 0;
  std::string output;          // the first kProgramOutputLimit bytes of stdout+stderr
  std::size_t output_cut = 0;  // bytes read past the limit and dropped
  std::string error;           // not_started: "cannot run <path>: <errno text>"; exited with
                               // code -1: why the exit status is unknown
  Duration took{};             // spawn to reap
};

// Runs `path` with `env` ("NAME=value" entries, the whole environment) and
// `input` on stdin (then EOF). Returns once the program is reaped: by itself,
// or at most `timeout` + `kill_grace` after the start (plus the kernel's time
// to deliver SIGKILL). The output is read for as long as the program runs, so
// a chatty program never blocks on a full pipe; output written by leftover
// children after the program exited is not waited for.
ProgramRun run_program(const std::string& path, const std::vector<std::string>& env,
                       std::string_view input, Duration timeout, Duration kill_grace,
                       std::stop_token stop);

}  // namespace linewatch

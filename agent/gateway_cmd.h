// `linewatch gateway -c FILE`: runs the route-push receiver in the foreground
// until SIGINT or SIGTERM (docs/gateway.md).
//
// Exit codes as every subcommand (agent/cli.h): 0 stopped by a signal, 1 an
// invalid config, 2 a config that cannot be read or an environment problem
// (listen address busy, data_dir unusable or locked, a damaged state file).
// Output goes to the given streams; the running log goes to stderr.
//
// Thread-safety: call from main() only; it blocks SIGINT and SIGTERM in the
// calling thread (and so in every thread it starts) to wait for them.
#pragma once

#include <iosfwd>
#include <string>

namespace linewatch {

int cmd_gateway(const std::string& config_path, std::ostream& out, std::ostream& err);

}  // namespace linewatch

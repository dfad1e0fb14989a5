// The `linewatch` subcommands. Each returns the process exit code:
// 0 success, 1 the thing checked is bad (probe failed, config invalid),
// 2 usage or environment error (no agent answering, unreadable file).
// Output goes to the given streams so tests can capture it.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace linewatch {

// The exit code for a config that failed to load: one that cannot be read is
// the environment's fault (2); one that reads but is invalid is the thing
// checked being bad (1). Every subcommand that loads a config follows it.
inline int config_exit_code(const Error& e) { return e.code == ErrorCode::io ? 2 : 1; }

int cmd_run(const std::string& config_path, std::ostream& out, std::ostream& err);
int cmd_check_config(const std::string& config_path, std::ostream& out, std::ostream& err);

struct StatusArgs {
  std::string config_path;  // "" = none; else agent.listen is read from it
  std::string agent_url;    // "" = from the config or the default listen address
  bool json = false;
  Duration timeout = std::chrono::seconds(3);  // to connect and read the answer
};
// Every series as a table (or the API's JSON). Exit 0 when no line is down,
// 1 when one is (per /api/v1/lines), 2 when no agent answers.
int cmd_status(const StatusArgs& args, std::ostream& out, std::ostream& err);

struct LinesArgs {
  std::string config_path;  // as StatusArgs
  std::string agent_url;
  bool json = false;
  Duration timeout = std::chrono::seconds(3);
};
// Each line's state, health, role and traffic. Exit codes as cmd_status.
int cmd_lines(const LinesArgs& args, std::ostream& out, std::ostream& err);

// The ids of the lines the agent at `url` reports down (/api/v1/lines).
// Failure: unavailable, when it does not answer 200 with a readable document.
Result<std::vector<std::string>> fetch_lines_down(const std::string& url, Duration timeout);

struct ProbeArgs {
  std::string config_path;
  std::string line;
  std::string target;
  std::string kind;  // "" = every kind the target has
  bool json = false;
};
int cmd_probe(const ProbeArgs& args, std::ostream& out, std::ostream& err);

struct EventsArgs {
  std::string config_path;  // as StatusArgs
  std::string agent_url;
  std::string since;  // "" = every stored event; a duration ("1h") back from now, or RFC 3339
  std::string line;   // "" = any
  std::string kind;   // "" = any
  int limit = 100;    // 1..1000
  bool json = false;
  Duration timeout = std::chrono::seconds(3);
};
// Stored failover events, newest first.
int cmd_events(const EventsArgs& args, std::ostream& out, std::ostream& err);

struct RoutesArgs {
  std::string config_path;  // as StatusArgs
  std::string agent_url;
  bool json = false;
  Duration timeout = std::chrono::seconds(3);
};
// The route plan in force, its lines, gateways and local apply.
int cmd_routes(const RoutesArgs& args, std::ostream& out, std::ostream& err);

struct AlertsArgs {
  std::string config_path;  // as StatusArgs
  std::string agent_url;
  bool json = false;
  bool history = false;  // the stored alert_* events instead of the alerts now
  // history only:
  std::string since;  // "" = every stored event; a duration ("1h") back from now, or RFC 3339
  std::string line;   // "" = any
  int limit = 100;    // 1..1000
  Duration timeout = std::chrono::seconds(3);
};
// The alerts pending or firing now: exit 0 when none fires, 1 when one
// does, 2 when no agent answers. With history: the stored alert events,
// newest first (0, or 2).
int cmd_alerts(const AlertsArgs& args, std::ostream& out, std::ostream& err);

struct NotifyTestArgs {
  std::string config_path;
  std::string receiver;  // notify[].id
};
// Sends one test notification (status test) straight to the receiver, as
// the agent's outbox would (its URL and key read now, formatted, delivered
// once within its timeout), and prints the outcome: ok, transient or
// permanent, the reason, the HTTP status and the detail, which names the
// receiver by host and port only. Exit 0 when the receiver took it, 1 when
// it did not, 2 when it cannot be tried: the config cannot be loaded (unlike
// the other commands, an invalid config is 2 too, as 1 means the receiver
// failed), the receiver is not in notify:, or its URL or key cannot be read.
int cmd_notify_test(const NotifyTestArgs& args, std::ostream& out, std::ostream& err);

struct HistoryArgs {
  std::string config_path;  // "" = none; else agent.listen, agent.data_dir and the targets
  std::string agent_url;    // as StatusArgs
  std::string data_dir;     // "" = the config's agent.data_dir, else the default
  std::string line;
  std::string target;  // "" = every target of the line (the config's, else those stored)
  std::string kind;    // "" = the one the target has (every kind when target is "")
  std::string since;   // "" = 3h; a duration ("1h") back from now, or RFC 3339
  std::string until;   // "" = now; RFC 3339, or a duration back from now
  std::string step;    // "" = the range / 300
  bool json = false;   // the /api/v1/series documents, one a line
  Duration timeout = std::chrono::seconds(3);
};
// One line x target per step (GET /api/v1/series), from the running agent,
// or when none answers from <data_dir>/linewatch.db opened read-only; the
// same output either way, the source named on `err`. Exit 0, or 2 (bad
// query, no agent and no database).
int cmd_history(const HistoryArgs& args, std::ostream& out, std::ostream& err);

// An agent's answer to a GET: its status and body, whatever the status.
struct AgentAnswer {
  int status = 0;
  std::string body;
};
// GETs base + target (path and query). Failure: unavailable, with the
// transport's message (refused, timed out, not HTTP).
Result<AgentAnswer> agent_get(const std::string& base, const std::string& target, Duration timeout);

// The `since` parameter the API takes: `since` as a duration ("1h") back
// from now, or as written (an RFC 3339 time, checked by the agent).
std::string since_param(const std::string& since);
// Appends name=value (percent-encoded) to the query of `target`; nothing when value is "".
void add_param(std::string& target, const char* name, const std::string& value);

// The URL the query commands use: --agent, else http://<agent.listen of the
// config>, else the default listen address. Wildcard listen addresses map to
// loopback. Fails with the config's load error when the config cannot be used.
Result<std::string> agent_url(const std::string& explicit_url, const std::string& config_path);

}  // namespace linewatch

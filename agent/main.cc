// linewatch: watches international lines and the endpoints behind them.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/cli.h"
#include "agent/cli_watch.h"
#include "agent/gateway_cmd.h"
#include "core/units.h"

namespace {

using namespace std::chrono_literals;

// A CLI11 check for durations written as the config writes them ("500ms", "2s").
CLI::Validator duration_in(linewatch::Duration lo, linewatch::Duration hi) {
  using linewatch::format_duration;
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        auto d = linewatch::parse_duration(text);
        if (!d) return d.error().message;
        if (*d < lo || *d > hi)
          return std::string("\"").append(text).append("\": must be from ") + format_duration(lo) +
                 " to " + format_duration(hi);
        return "";
      },
      "DURATION");
}

// -c, --agent and --json of a command that asks the running agent.
void add_agent_options(CLI::App* command, std::string& config_path, std::string& agent_url,
                       bool& json) {
  command->add_option("-c,--config", config_path, "Find the agent at this config's agent.listen");
  command->add_option("--agent", agent_url, "Agent URL (default http://127.0.0.1:9464)");
  command->add_flag("--json", json, "Print the API's JSON instead of a table");
}

// --timeout DURATION: how long a query command waits for the agent.
void add_timeout(CLI::App* command, std::string& timeout) {
  command->add_option("--timeout", timeout, "How long to wait for the agent (100ms to 60s)")
      ->type_name("DURATION")
      ->capture_default_str()
      ->check(duration_in(100ms, 60s));
}

// --watch [INTERVAL] and --count N of a query command.
struct WatchFlags {
  CLI::Option* watch = nullptr;
  std::string interval;  // "" = the default
  int count = 0;
};

void add_watch(CLI::App* command, WatchFlags& flags) {
  flags.watch = command
                    ->add_option("--watch", flags.interval,
                                 "Refresh every INTERVAL (default 2s, 100ms to 1h) until Ctrl-C")
                    ->expected(0, 1)
                    ->type_name("[INTERVAL]")
                    ->check(CLI::Validator(
                        [](std::string& text) {
                          return text.empty() ? std::string() : duration_in(100ms, 1h)(text);
                        },
                        ""));
  command->add_option("--count", flags.count, "With --watch: stop after N refreshes")
      ->type_name("N")
      ->check(CLI::Range(1, 1000000).description(""))
      ->needs(flags.watch);
}

// Runs `once` as it is, or under --watch.
int watched(const WatchFlags& flags, const std::string& title, bool json,
            const std::function<int(std::ostream&, std::ostream&)>& once) {
  if (flags.watch->count() == 0) return once(std::cout, std::cerr);
  linewatch::WatchOptions options;
  if (!flags.interval.empty()) options.interval = *linewatch::parse_duration(flags.interval);
  options.count = flags.count;
  options.clear_screen = isatty(STDOUT_FILENO) == 1;
  options.title = title;
  options.header = !json;
  return linewatch::watch(options, once, std::cout, std::cerr);
}

// The footer of a query command: its exit codes, and where to read more.
constexpr const char* kQueryFooter =
    "With --watch the screen is redrawn in place on a terminal (plain text otherwise), an\n"
    "agent that does not answer is tried again at the next refresh, and Ctrl-C stops it;\n"
    "the exit code is then that of the last refresh. See docs/cli.md.";

}  // namespace

int main(int argc, char** argv) {
  using namespace linewatch;
  // A peer closing mid-write (HTTP probe over TLS, API client) must be an
  // error on that socket, not the death of the agent.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "linewatch: probes targets through every line, stores the results, and answers\n"
      "status queries. Run `linewatch SUBCOMMAND --help` for details."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "linewatch 0.1.0");

  std::string config_path = "/etc/linewatch/linewatch.yaml";
  auto* run = app.add_subcommand("run", "Run the agent in the foreground (Ctrl-C stops it)");
  run->add_option("-c,--config", config_path, "Configuration file")->capture_default_str();
  run->footer(
      "SIGHUP (or POST /-/reload with agent.api_token_file's token) re-reads the config: a\n"
      "bad one is refused with its errors and the running one stays. See docs/api.md.\n"
      "Exit codes: 0 stopped by SIGINT or SIGTERM, 1 invalid config, 2 unreadable config or\n"
      "environment (busy listen address, data_dir unusable, a key not set). See docs/cli.md.");

  std::string check_path;
  auto* check = app.add_subcommand("check-config", "Validate a configuration file and exit");
  check->add_option("FILE", check_path, "Configuration file")->required();
  check->footer(
      "Exit codes: 0 valid, 1 invalid (FILE:LINE:COL: key: message), 2 unreadable or a key\n"
      "the config names is not set. See docs/cli.md and docs/configuration.md.");

  StatusArgs status;
  auto* st = app.add_subcommand("status", "Show every line × target from the running agent");
  add_agent_options(st, status.config_path, status.agent_url, status.json);
  std::string status_timeout = "3s";
  add_timeout(st, status_timeout);
  WatchFlags status_watch;
  add_watch(st, status_watch);
  st->footer(
      std::string("Exit codes: 0 no line is down, 1 a line is down (per /api/v1/lines), 2 no\n"
                  "agent answering, bad arguments or an unreadable config (1 if invalid).\n") +
      kQueryFooter);

  LinesArgs lines;
  auto* li = app.add_subcommand("lines", "Show each line's state, health, role and traffic");
  add_agent_options(li, lines.config_path, lines.agent_url, lines.json);
  std::string lines_timeout = "3s";
  add_timeout(li, lines_timeout);
  WatchFlags lines_watch;
  add_watch(li, lines_watch);
  li->footer(std::string("Exit codes: 0 no line is down, 1 a line is down, 2 no agent answering,\n"
                         "bad arguments or an unreadable config (1 if invalid).\n") +
             kQueryFooter);

  EventsArgs events;
  auto* ev = app.add_subcommand("events", "Show the stored failover events, newest first");
  add_agent_options(ev, events.config_path, events.agent_url, events.json);
  ev->add_option("--since", events.since, "Only events since: a duration back (1h) or RFC 3339")
      ->type_name("WHEN");
  ev->add_option("--line", events.line, "Only events about this line");
  ev->add_option("--kind", events.kind, "Only this kind (line_down, plan_new, ...)");
  ev->add_option("--limit", events.limit, "At most this many (1 to 1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  WatchFlags events_watch;
  add_watch(ev, events_watch);
  ev->footer(std::string("Exit codes: 0 events shown, 2 no agent answering, the agent refused the\n"
                         "query, bad arguments or an unreadable config (1 if invalid).\n") +
             kQueryFooter);

  AlertsArgs alerts;
  auto* al = app.add_subcommand("alerts", "Show the alerts pending or firing, or their history");
  al->footer(
      std::string(
          "Exit codes: 0 no alert firing, 1 an alert is firing, 2 no agent answering or bad\n"
          "arguments. With --history: 0, or 2. See docs/alerts.md and docs/api.md.\n") +
      kQueryFooter);
  add_agent_options(al, alerts.config_path, alerts.agent_url, alerts.json);
  auto* history =
      al->add_flag("--history", alerts.history,
                   "The stored alert events (pending, firing, resolved, ...), newest first");
  al->add_option("--since", alerts.since, "History since: a duration back (1h) or RFC 3339")
      ->type_name("WHEN")
      ->needs(history);
  al->add_option("--line", alerts.line, "History about this line only")->needs(history);
  al->add_option("--limit", alerts.limit, "At most this many events (1 to 1000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000))
      ->needs(history);
  WatchFlags alerts_watch;
  add_watch(al, alerts_watch);

  RoutesArgs routes;
  auto* ro = app.add_subcommand("routes", "Show the route plan in force and where it is applied");
  add_agent_options(ro, routes.config_path, routes.agent_url, routes.json);
  WatchFlags routes_watch;
  add_watch(ro, routes_watch);
  ro->footer(std::string("Exit codes: 0 shown (failover on or off), 2 no agent answering, bad\n"
                         "arguments or an unreadable config (1 if invalid).\n") +
             kQueryFooter);

  HistoryArgs hist;
  auto* hi = app.add_subcommand("history", "Show one line's targets per step over a time range");
  hi->footer(
      "Asks the running agent (GET /api/v1/series); when none answers, reads\n"
      "<data_dir>/linewatch.db read-only and prints the same. Exit codes: 0, 2 bad query or\n"
      "no agent and no database. See docs/api.md.");
  hi->add_option("LINE", hist.line, "Line id")->required();
  hi->add_option("TARGET", hist.target, "Target id (default: every target of the line)");
  hi->add_option("--kind", hist.kind, "Probe kind")
      ->check(CLI::IsMember({"icmp", "tcp", "http", "llm"}));
  hi->add_option("--since", hist.since, "From: a duration back (1h) or RFC 3339 (default 3h)")
      ->type_name("WHEN");
  hi->add_option("--until", hist.until, "To: RFC 3339 or a duration back (default now)")
      ->type_name("WHEN");
  hi->add_option("--step", hist.step, "Step, whole seconds (default: the range / 300)")
      ->type_name("DURATION");
  hi->add_flag("--json", hist.json, "Print the API's JSON documents, one a line");
  hi->add_option("-c,--config", hist.config_path, "Config: agent.listen, data_dir and targets");
  hi->add_option("--agent", hist.agent_url, "Agent URL (default http://127.0.0.1:9464)");
  hi->add_option("--data-dir", hist.data_dir, "Read DIR/linewatch.db when no agent answers");

  ProbeArgs probe;
  auto* pr = app.add_subcommand("probe", "Run one probe round now and print the result");
  pr->add_option("-c,--config", probe.config_path, "Configuration file")->required();
  pr->add_option("--line", probe.line, "Line id")->required();
  pr->add_option("--target", probe.target, "Target id")->required();
  pr->add_option("--kind", probe.kind, "Probe kind (default: every kind of the target)")
      ->check(CLI::IsMember({"icmp", "tcp", "http", "llm"}));
  pr->add_flag("--json", probe.json, "Print JSON");
  pr->footer(
      "Exit codes: 0 the round succeeded, 1 it failed or the config is invalid, 2 unreadable\n"
      "config, or a line, target or kind not in it. See docs/cli.md.");

  NotifyTestArgs notify_test;
  auto* nt = app.add_subcommand("notify-test", "Send a test notification to one receiver now");
  nt->footer(
      "Sends one notification with status \"test\" straight to the receiver RECEIVER of\n"
      "notify: (no agent needed): its URL and key are read as the agent reads them, the\n"
      "request is signed where the kind signs, and it is delivered once within the\n"
      "receiver's timeout. Prints ok, transient or permanent, the reason, the HTTP status\n"
      "and the receiver's answer, naming it by host and port only (never a URL or key).\n"
      "Exit codes: 0 the receiver took it, 1 it did not, 2 the config cannot be loaded,\n"
      "RECEIVER is not in notify:, or its URL or key cannot be read. See docs/alerts.md.");
  nt->add_option("RECEIVER", notify_test.receiver, "A receiver's id (notify[].id)")->required();
  nt->add_option("-c,--config", notify_test.config_path, "Configuration file")->required();

  std::string gateway_path = "/etc/linewatch/gateway.yaml";
  auto* gw = app.add_subcommand(
      "gateway", "Receive signed route plans from agents and apply them (Ctrl-C stops it)");
  gw->footer(
      "Listens on gateway.listen for POST /v1/routes, checks each plan's signature, timestamp\n"
      "and version, and puts accepted plans into gateway.table. Needs CAP_NET_ADMIN.\n"
      "Exit codes: 0 stopped by a signal, 1 invalid config, 2 unreadable config or environment\n"
      "(busy listen address, data_dir unusable). See docs/gateway.md.");
  gw->add_option("-c,--config", gateway_path, "Gateway configuration file")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*run) return cmd_run(config_path, std::cout, std::cerr);
  if (*check) return cmd_check_config(check_path, std::cout, std::cerr);
  if (*st) {
    status.timeout = *parse_duration(status_timeout);  // checked by duration_in
    return watched(
        status_watch, "linewatch status", status.json,
        [&](std::ostream& out, std::ostream& err) { return cmd_status(status, out, err); });
  }
  if (*li) {
    lines.timeout = *parse_duration(lines_timeout);
    return watched(
        lines_watch, "linewatch lines", lines.json,
        [&](std::ostream& out, std::ostream& err) { return cmd_lines(lines, out, err); });
  }
  if (*ev)
    return watched(
        events_watch, "linewatch events", events.json,
        [&](std::ostream& out, std::ostream& err) { return cmd_events(events, out, err); });
  if (*ro)
    return watched(
        routes_watch, "linewatch routes", routes.json,
        [&](std::ostream& out, std::ostream& err) { return cmd_routes(routes, out, err); });
  if (*al)
    return watched(
        alerts_watch, "linewatch alerts", alerts.json,
        [&](std::ostream& out, std::ostream& err) { return cmd_alerts(alerts, out, err); });
  if (*hi) return cmd_history(hist, std::cout, std::cerr);
  if (*pr) return cmd_probe(probe, std::cout, std::cerr);
  if (*nt) return cmd_notify_test(notify_test, std::cout, std::cerr);
  if (*gw) return cmd_gateway(gateway_path, std::cout, std::cerr);
  return 2;
}

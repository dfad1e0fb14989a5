#include "agent/gateway_cmd.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <ostream>

#include "agent/cli.h"
#include "agent/gateway.h"
#include "agent/gateway_config.h"
#include "agent/http_server.h"
#include "agent/log.h"
#include "agent/stop_signals.h"

namespace linewatch {
namespace {

// Gateway-assigned nexthop ids: apart from the agent's default range
// (0x4c570000, "LW"), so an agent and a gateway on one host, each with its
// own table, never collect each other's nexthop objects.
constexpr std::uint32_t kGatewayNexthopIds = 0x4c470000;  // "LG"

// A key others can read is not a secret for long; say so, but run.
void warn_if_exposed(const GatewayConfig& c) {
  struct stat st {};
  if (::stat(c.secret_file.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
    log(LogLevel::warn, "gateway=" + c.id + " msg=\"secret_file is readable by group or others\"" +
                            " file=" + log_quote(c.secret_file) + " hint=\"chmod 600 it\"");
}

HttpServerOptions server_options() {
  HttpServerOptions o;
  o.requests.allow_post = true;
  o.requests.max_body_bytes = 1 << 20;
  // Each connection may buffer a body: 64 × 1 MiB at most in flight.
  o.max_connections = 64;
  o.max_per_client = 16;
  return o;
}

}  // namespace

int cmd_gateway(const std::string& config_path, std::ostream& out, std::ostream& err) {
  auto cfg = load_gateway_config_file(config_path);
  if (!cfg) {
    err << cfg.error().message << "\n";
    return config_exit_code(cfg.error());
  }
  auto state = GatewayState::open(cfg->data_dir);
  if (!state) {
    err << "linewatch gateway: gateway.data_dir: " << state.error().message << "\n";
    return 2;
  }
  auto applied = state->load();
  if (!applied) {
    err << "linewatch gateway: " << applied.error().message << "\n";
    return 2;
  }
  warn_if_exposed(*cfg);
  StopSignals stop_signals;  // before any thread exists

  SystemClock clock;
  RouteApplyOptions apply_options;
  apply_options.table = cfg->table;
  apply_options.nexthop_id_first = kGatewayNexthopIds;
  KernelRouteTable table(apply_options, clock);
  const std::uint64_t version = applied->version;
  Gateway gateway({.id = cfg->id,
                   .secret = std::move(cfg->secret),
                   .max_skew = cfg->max_skew,
                   .reconcile = cfg->reconcile},
                  clock, table, *state, std::move(*applied));
  // Declared after the gateway: destroyed (and its thread joined) first.
  auto server = HttpServer::start(
      cfg->listen, server_options(), [&gateway](const HttpRequest& r) { return gateway.handle(r); },
      HttpTimer{Duration::zero(), [&gateway] { return gateway.tick(); }});
  if (!server) {
    err << "linewatch gateway: gateway.listen " << server.error().message << "\n";
    return 2;
  }
  log(LogLevel::info,
      "gateway=" + cfg->id + " msg=\"started\" listen=" + cfg->listen +
          " port=" + std::to_string((*server)->port()) + " table=" + std::to_string(cfg->table) +
          " applied_version=" + std::to_string(version) + " data_dir=" + log_quote(cfg->data_dir));
  out.flush();
  log(LogLevel::info, "gateway=" + cfg->id + " msg=\"stopping\" signal=" + stop_signals.wait());
  server->reset();
  return 0;
}

}  // namespace linewatch

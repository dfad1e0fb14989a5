// The configuration model: plain values after defaults and validation.
// Loading and validating YAML lives in agent/config_load.*; this file has no I/O
// so probes/, rules/ and storage/ can take their options without the parser.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/alert_options.h"
#include "core/boxed.h"
#include "core/health_options.h"
#include "core/llm_options.h"
#include "core/notify_options.h"
#include "core/probe_result.h"
#include "core/route_options.h"
#include "core/time.h"

namespace re2 {
class RE2;  // compiled by probes/http_regex.h; core only carries the pointer
}

namespace linewatch {

using namespace std::chrono_literals;

// How a probe is pinned to one line. At least one of the three is set; when
// several are, all apply (bind to the source address on the device, marked).
struct LineBinding {
  std::string source;                   // local address to bind, "" = any
  std::string interface;                // SO_BINDTODEVICE, "" = none
  std::optional<std::uint32_t> fwmark;  // SO_MARK, selects a policy-routing table
  bool operator==(const LineBinding&) const = default;
};

struct LineSpec {
  std::string id;
  LineBinding binding;
  std::string gateway;                        // next hop address, "" = unknown
  std::optional<std::uint64_t> capacity_bps;  // for utilisation; absent = unknown
  // lines[].liveness: this line's own liveness options; absent = Config::liveness.
  std::optional<LivenessOptions> liveness;
  // lines[].counters: the interface whose rx/tx byte counters measure the
  // line's bandwidth. "" = binding.interface, else the device of the route to
  // `gateway`.
  std::string counters;
  bool operator==(const LineSpec&) const = default;
};

struct IcmpOptions {
  std::string host;          // address or name
  int pings = 5;             // echo requests per round (SmokePing-style)
  Duration spacing = 200ms;  // gap between echo starts within a round
  int payload_bytes = 56;    // as ping(8)
  int family = 0;            // 0 = from the address, 4 or 6 to force
};

struct TcpOptions {
  std::string host;
  std::uint16_t port = 0;
  std::string send;    // bytes written after connect, "" = none
  std::string expect;  // substring the first reply must contain, "" = none
};

struct HttpOptions {
  std::string url;  // http:// or https://
  std::string method = "GET";
  std::vector<int> expect_status;  // empty = any 2xx
  std::string body_regex;          // RE2 syntax (no backreferences or lookaround); "" = no check
  // body_regex compiled once at config load and shared by every round (RE2 is
  // immutable and thread-safe once built); null when body_regex is "" or the
  // options were built by hand, in which case a round compiles its own.
  std::shared_ptr<const re2::RE2> body_re;
  std::map<std::string, std::string> headers;  // names are HTTP tokens; no CR, LF or NUL
  bool tls_verify = true;
  std::string ca_file;      // "" = system store
  std::string server_name;  // SNI and verification name; "" = URL host
  bool follow_redirects = false;
  int max_redirects = 5;
  std::uint64_t max_body_bytes = 1 << 20;  // read at most this much of the body
};

// Per-kind schedule. timeout bounds one round (ICMP: each echo's wait).
struct ProbeTiming {
  Duration interval = 10s;
  Duration timeout = 2s;
};

// One kind of one target. Only the options of `kind` are meaningful. icmp,
// the common kind at scale, is held inline; tcp, http and llm are boxed
// (core/boxed.h) so a spec allocates only its own kind's options: read them
// through a const ProbeSpec& unless writing, or the read allocates.
struct ProbeSpec {
  ProbeKind kind;
  ProbeTiming timing;
  IcmpOptions icmp;         // meaningful when kind == icmp
  Boxed<TcpOptions> tcp;    // ... tcp
  Boxed<HttpOptions> http;  // ... http
  Boxed<LlmOptions> llm;    // ... llm
};
// At 10,000 targets the parsed config must stay small (the agent's RSS budget).
static_assert(sizeof(ProbeSpec) <= 200, "ProbeSpec must pay only for its own kind's options");

struct TargetSpec {
  std::string id;
  std::vector<ProbeSpec> probes;  // one per configured kind, at most one of each
};

struct AgentOptions {
  std::string id = "linewatch";
  std::string listen = "127.0.0.1:9464";
  std::string data_dir = "/var/lib/linewatch";
  int workers = 32;  // probe threads; a round blocks one
  // agent.api_token_file: the file holding the bearer token of POST /-/reload
  // (absolute); "" = reload over HTTP is off.
  std::string api_token_file;
  // Its content, trimmed, read at load (at least 16 bytes). A secret: never
  // logged, shown or stored.
  std::string api_token;
};

struct StorageOptions {
  Duration retention = std::chrono::hours(24 * 30);  // raw rows older than this are deleted
  std::size_t queue_capacity = 65536;                // results waiting for the writer
  std::size_t batch_max = 1000;                      // rows per transaction
  Duration flush_interval = 1s;                      // longest a result waits for its batch
  bool operator==(const StorageOptions&) const = default;
};

// apply: the agent puts its route plan into this host's kernel. Absent in the
// config: the agent never touches its own host's routes.
struct ApplyOptions {
  std::string table = "main";  // apply.table: "main" or a table number
  bool operator==(const ApplyOptions&) const = default;
};

struct Config {
  std::string source_path;  // the file it came from, for messages
  AgentOptions agent;
  StorageOptions storage;
  std::vector<LineSpec> lines;
  std::vector<TargetSpec> targets;

  // Failover. Liveness, health and route planning run when `routes` is not
  // empty; plans are applied locally when `apply` is set and pushed to every
  // gateway. liveness.reflectors defaults to every target with an icmp host.
  LivenessOptions liveness;  // liveness: defaults for every line
  HealthOptions health;      // health
  ScoringOptions scoring;    // scoring
  std::vector<RouteSpec> routes;
  std::optional<ApplyOptions> apply;
  std::vector<GatewaySpec> gateways;

  // Alerts (docs/alerts.md): the rules, and the receivers they notify.
  AlertOptions alerts;               // alerts
  std::vector<NotifierSpec> notify;  // notify
};

}  // namespace linewatch

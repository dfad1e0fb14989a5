// HttpReceiver: pushes route plans to a gateway's URL (gateways[].url) as a
// signed HTTP POST (docs/route-push.md), over plain HTTP or HTTPS.
//
// Each attempt opens a new connection (pushes are rare; no stale keep-alive
// to trip on) and signs the plan afresh (the timestamp must be within the
// gateway's freshness window, so a retry never reuses an old signature). The
// gateway's timeout bounds the whole attempt: connect and TLS handshake wait
// at most what is left of it, and from the request on a watchdog shuts the
// connection down at the deadline, so a gateway that trickles its answer
// cannot stretch an attempt. The watchdog also ends the attempt at once when
// the pusher stops. Name resolution of a host name is Poco's getaddrinfo and
// is not bounded: use an IP literal or a local resolver for gateways.
//
// HTTPS verifies the gateway's certificate and host name against
// gateways[].ca_file when set (a private CA for routers), else against the
// system's CA store (or SSL_CERT_FILE/SSL_CERT_DIR, as OpenSSL reads them).
//
// The secret is held here only to sign; it never appears in an outcome, and
// any copy of it in a gateway's answer is blanked before it is reported.
//
// Thread-safety: as PlanReceiver (one pusher thread at a time).
#pragma once

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/URI.h>

#include <memory>
#include <string>

#include "core/error.h"
#include "core/route_options.h"
#include "exporters/plan_receiver.h"

namespace linewatch {

// The gateway's answer to one POST (status and body), judged for `version`:
//   2xx: applied, unless the body's "applied_version" is older than
//        `version` (reason "behind", transient: the plan is sent again);
//   4xx whose "applied_version" equals `version`: applied (already in force,
//        e.g. sent again after an agent restart);
//   408, 429, 5xx: transient ("http_4xx" / "http_5xx");
//   other 4xx: rejected ("http_4xx"), 3xx: rejected ("http_3xx");
//   anything else: transient ("http_status").
// The detail names the status and the gateway's "error" and "detail" fields.
// Pure; `body` may be anything (it is parsed leniently).
DeliveryOutcome judge_answer(int status, std::string_view body, std::uint64_t version);

class HttpReceiver final : public PlanReceiver {
 public:
  // `spec.url`: http:// or https:// with a host. `secret`: the HMAC key.
  // `where`: the config path for messages, e.g. "gateways[0]". `clock`
  // (wall time for signatures) must outlive this. Failure: invalid_argument
  // "gateways[0].url: ..." for a URL that is not http(s) with a host;
  // "gateways[0].ca_file: ..." for a ca_file that holds no certificate.
  static Result<std::unique_ptr<HttpReceiver>> create(const GatewaySpec& spec, std::string secret,
                                                      const std::string& where, const Clock& clock);

  // Success: Kind::applied (see judge_answer). Failure: judge_answer's kinds,
  // or transient "refused", "timeout", "dns", "tls", "network"; Kind::cancelled
  // when `stop` ended it (at once while waiting for the answer, otherwise
  // within the connect or handshake timeout).
  DeliveryOutcome deliver(const RoutePlan& plan, std::stop_token stop) override;

 private:
  HttpReceiver(const GatewaySpec& spec, std::string secret, Poco::URI uri, const Clock& clock);
  using Steady = std::chrono::steady_clock;
  DeliveryOutcome post(const RoutePlan& plan, std::stop_token stop);
  DeliveryOutcome failure(const Poco::Exception& e, Steady::time_point deadline,
                          std::stop_token stop) const;
  std::string where() const;  // "host:port" for messages (never the URL: it may hold a path token)
  std::string blank_secret(std::string text) const;

  std::string id_;
  std::string secret_;
  Poco::URI uri_;
  Duration timeout_;
  const Clock& clock_;
  Poco::Net::Context::Ptr tls_;  // set for https
};

}  // namespace linewatch

#include "agent/json.h"

#include <Poco/JSON/Array.h>

#include <ctime>

namespace linewatch {

std::string format_time(WallTime t) {
  const auto ms = unix_ms(t);
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

namespace {

const char* state_name(CounterState s) {
  switch (s) {
    case CounterState::baseline:
      return "baseline";
    case CounterState::measuring:
      return "measuring";
    case CounterState::vanished:
      return "vanished";
    case CounterState::none:
      break;
  }
  return "none";
}

const char* restart_name(CounterRestart r) {
  switch (r) {
    case CounterRestart::first:
      return "first";
    case CounterRestart::ifindex:
      return "ifindex";
    case CounterRestart::reappeared:
      return "reappeared";
    case CounterRestart::gap:
      return "gap";
    case CounterRestart::backwards:
      return "backwards";
    case CounterRestart::none:
      break;
  }
  return "none";
}

void put_ms(Poco::JSON::Object& o, const char* key, const std::optional<Duration>& d) {
  if (d) o.set(key, to_ms(*d));
}

// Flat beside the other kinds' fields, so `.latest.ttft_ms` reads the same way
// as `.latest.rtt_ms`.
void put_llm(Poco::JSON::Object& o, const ProbeResult& r) {
  if (r.http_status) o.set("http_status", r.http_status);
  if (r.cert_expiry) o.set("cert_expiry", format_time(*r.cert_expiry));
  if (!r.llm) return;
  const LlmFigures& f = *r.llm;
  o.set("llm_mode", std::string(to_string(f.mode)));
  put_ms(o, "ttft_ms", f.ttft);
  put_ms(o, "total_ms", f.total);
  if (f.mode == LlmMode::completion) {
    o.set("tokens", f.tokens);
    o.set("stream_complete", f.stream_complete);
  }
  if (f.model_listed) o.set("model_listed", *f.model_listed);
  put_ms(o, "retry_after_ms", f.retry_after);
  o.set("stream_bytes", f.stream_bytes);
}
}  // namespace

Poco::JSON::Object::Ptr result_to_json(const ProbeResult& r) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("line", r.line);
  o->set("target", r.target);
  o->set("kind", std::string(to_string(r.kind)));
  o->set("time", format_time(r.time));
  o->set("ok", r.ok);
  o->set("reason", std::string(to_string(r.reason)));
  if (!r.detail.empty()) o->set("detail", r.detail);
  put_ms(*o, "rtt_ms", r.rtt);
  o->set("duration_ms", to_ms(r.duration));
  if (r.kind == ProbeKind::icmp) {
    o->set("sent", r.sent);
    o->set("received", r.received);
    o->set("loss", r.loss());
    put_ms(*o, "rtt_min_ms", r.rtt_min);
    put_ms(*o, "rtt_median_ms", r.rtt_median);
    put_ms(*o, "rtt_avg_ms", r.rtt_avg);
    put_ms(*o, "rtt_max_ms", r.rtt_max);
    put_ms(*o, "rtt_stddev_ms", r.rtt_stddev);
    Poco::JSON::Array::Ptr echoes = new Poco::JSON::Array;
    for (const auto& e : r.rtts)
      echoes->add(e ? Poco::Dynamic::Var(to_ms(*e)) : Poco::Dynamic::Var());
    o->set("rtts_ms", echoes);
  } else {
    Poco::JSON::Object::Ptr ph = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
    put_ms(*ph, "dns_ms", r.phases.dns);
    put_ms(*ph, "connect_ms", r.phases.connect);
    put_ms(*ph, "tls_ms", r.phases.tls);
    put_ms(*ph, "ttfb_ms", r.phases.ttfb);
    put_ms(*ph, "transfer_ms", r.phases.transfer);
    o->set("phases", ph);
  }
  if (r.kind == ProbeKind::http) {
    if (r.http_status) o->set("http_status", r.http_status);
    o->set("body_bytes", r.body_bytes);
    if (r.cert_expiry) o->set("cert_expiry", format_time(*r.cert_expiry));
  }
  if (r.kind == ProbeKind::llm) put_llm(*o, r);
  return o;
}

Poco::JSON::Object::Ptr summary_to_json(const SeriesSummary& s) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("line", s.key.line);
  o->set("target", s.key.target);
  o->set("kind", std::string(to_string(s.key.kind)));
  o->set("latest", result_to_json(s.latest));
  Poco::JSON::Object::Ptr w = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  w->set("rounds", s.rounds);
  w->set("availability", s.availability);
  w->set("loss", s.loss);
  put_ms(*w, "rtt_median_ms", s.rtt_median);
  put_ms(*w, "rtt_p95_ms", s.rtt_p95);
  put_ms(*w, "jitter_ms", s.jitter);
  w->set("capped", s.capped);
  if (s.capped) put_ms(*w, "covered_ms", s.covered);
  if (s.last_failure) {
    w->set("last_failure", std::string(to_string(*s.last_failure)));
    if (s.last_failure_time) w->set("last_failure_time", format_time(*s.last_failure_time));
    if (!s.last_failure_detail.empty()) w->set("last_failure_detail", s.last_failure_detail);
  }
  o->set("window", w);
  return o;
}

Poco::JSON::Object::Ptr line_bandwidth_to_json(const LineBandwidth& l) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  const BandwidthReading& r = l.reading;
  o->set("line", l.line);
  o->set("interface", l.interface.empty() ? Poco::Dynamic::Var() : Poco::Dynamic::Var(l.interface));
  o->set("from", std::string(to_string(l.from)));
  o->set("state", std::string(state_name(r.state)));
  if (r.state != CounterState::none) o->set("since", format_time(r.since_wall));
  if (l.capacity_bps) o->set("capacity_bps", *l.capacity_bps);
  if (r.rx_bps) o->set("rx_bps", *r.rx_bps);
  if (r.tx_bps) o->set("tx_bps", *r.tx_bps);
  if (r.utilisation) o->set("utilisation", *r.utilisation);
  if (r.state == CounterState::measuring) o->set("interval_ms", to_ms(r.interval));
  if (r.state == CounterState::baseline) o->set("restart", std::string(restart_name(r.restart)));
  if (!l.detail.empty()) o->set("detail", l.detail);
  return o;
}

}  // namespace linewatch

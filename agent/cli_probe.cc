// `linewatch probe`: one round now, like blackbox_exporter's debug output.
#include <Poco/JSON/Array.h>

#include <ostream>

#include "agent/cli.h"
#include "agent/config_load.h"
#include "agent/json.h"
#include "probes/probe.h"

namespace linewatch {
namespace {

std::string ms(const std::optional<Duration>& d) {
  char b[32];
  if (!d) return std::string("-");
  std::snprintf(b, sizeof b, "%.3fms", to_ms(*d));
  return std::string(b);
}

void print_llm(const ProbeResult& r, std::ostream& out) {
  const LlmFigures& f = *r.llm;
  out << "  status    " << r.http_status << "   body " << f.stream_bytes << " bytes\n";
  if (f.mode == LlmMode::completion) {
    out << "  ttft      " << ms(f.ttft) << "   total " << ms(f.total) << "   tokens " << f.tokens
        << "   stream " << (f.stream_complete ? "complete" : "incomplete") << "\n";
  } else {
    out << "  models    " << ms(f.total) << "   model "
        << (!f.model_listed   ? "-"
            : *f.model_listed ? "listed"
                              : "NOT listed")
        << "\n";
  }
  if (f.retry_after) out << "  retry     after " << ms(f.retry_after) << "\n";
  if (r.cert_expiry) out << "  cert      expires " << format_time(*r.cert_expiry) << "\n";
}

void print_result(const ProbeResult& r, std::ostream& out) {
  out << r.line << " → " << r.target << " " << to_string(r.kind) << ": "
      << (r.ok ? "ok" : "FAILED (" + std::string(to_string(r.reason)) + ")") << "\n";
  if (!r.detail.empty()) out << "  detail    " << r.detail << "\n";
  out << "  rtt       " << ms(r.rtt) << "   round took " << ms(r.duration) << "\n";
  if (r.kind == ProbeKind::icmp) {
    out << "  echoes    " << r.received << "/" << r.sent << " answered, loss "
        << static_cast<int>(r.loss() * 100 + 0.5) << "%\n";
    out << "  min/med/avg/max/sd  " << ms(r.rtt_min) << " " << ms(r.rtt_median) << " "
        << ms(r.rtt_avg) << " " << ms(r.rtt_max) << " " << ms(r.rtt_stddev) << "\n";
    out << "  each     ";
    for (const auto& e : r.rtts) out << " " << ms(e);
    out << "\n";
    return;
  }
  const auto& p = r.phases;
  out << "  phases    dns " << ms(p.dns) << "  connect " << ms(p.connect) << "  tls " << ms(p.tls)
      << "  ttfb " << ms(p.ttfb) << "  transfer " << ms(p.transfer) << "\n";
  if (r.kind == ProbeKind::http) {
    out << "  status    " << r.http_status << "   body " << r.body_bytes << " bytes\n";
    if (r.cert_expiry) out << "  cert      expires " << format_time(*r.cert_expiry) << "\n";
  }
  if (r.kind == ProbeKind::llm && r.llm) print_llm(r, out);
}

}  // namespace

int cmd_probe(const ProbeArgs& args, std::ostream& out, std::ostream& err) {
  auto cfg = load_config_file(args.config_path);
  if (!cfg) {
    err << cfg.error().message << "\n";
    return config_exit_code(cfg.error());
  }
  const LineSpec* line = nullptr;
  for (const auto& l : cfg->lines)
    if (l.id == args.line) line = &l;
  const TargetSpec* target = nullptr;
  for (const auto& t : cfg->targets)
    if (t.id == args.target) target = &t;
  if (!line) {
    err << "linewatch: no line \"" << args.line << "\" in " << args.config_path << "\n";
    return 2;
  }
  if (!target) {
    err << "linewatch: no target \"" << args.target << "\" in " << args.config_path << "\n";
    return 2;
  }
  SystemClock clock;
  TlsContexts tls;  // an http and an llm probe with the same TLS setting share one
  Poco::JSON::Array results;
  bool all_ok = true;
  int ran = 0;
  for (const auto& spec : target->probes) {
    if (!args.kind.empty() && args.kind != to_string(spec.kind)) continue;
    ++ran;
    const ProbeResult r = run_probe(ProbeRequest{*line, target->id, spec, clock, &tls});
    all_ok = all_ok && r.ok;
    if (args.json)
      results.add(result_to_json(r));
    else
      print_result(r, out);
  }
  if (ran == 0) {
    err << "linewatch: target \"" << args.target << "\" has no " << args.kind << " probe\n";
    return 2;
  }
  if (args.json) {
    results.stringify(out, 2);
    out << "\n";
  }
  return all_ok ? 0 : 1;
}

}  // namespace linewatch

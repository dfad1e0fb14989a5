#!/usr/bin/env bash
# GET /metrics end to end, on loopback only:
#   1. `linewatch run` with two lines (127.0.0.1, 127.0.0.2, both measured
#      on lo), an icmp target (127.0.0.1), a tcp target (a port this test
#      listens on) and an http target (python3 -m http.server), routes (so the
#      failover runs; no apply: the host's routes are never touched), an exec
#      gateway and a webhook receiver that nothing is sent to;
#   2. the scrape passes `promtool check metrics`, its Content-Type is the
#      text format's, and it holds exactly the series the config implies,
#      family by family (docs/metrics.md, "How many series"), with the label
#      values of the config only; asked for gzip, the answer is the same
#      families compressed;
#   3. a real Prometheus (its own config and data dir, loopback port) scrapes
#      the agent every second: `up{job="linewatch"}` is 1 and linewatch_
#      series come back from its query API with the values the agent shows.
# Every process started here is killed by its PID on exit.
set -euo pipefail
bin=$(realpath "${1:?usage: metrics_e2e_test.sh PATH/TO/linewatch}")
# scripts/setup.sh installs them: missing, the setup is broken, and that is a failure.
command -v promtool >/dev/null && [ -x /usr/bin/prometheus ] || {
  echo "FAIL: Debian package prometheus (promtool, /usr/bin/prometheus) is not installed; run scripts/setup.sh" >&2
  exit 1
}
work=$(mktemp -d /tmp/linewatch-metrics.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; } >&2; done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api=$(free_port)
tcp=$(free_port)
web=$(free_port)
prom=$(free_port)

# The tcp target: accepts and closes, for as long as the test runs.
python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
' "$tcp" >"$work/tcp.log" 2>&1 &
pids+=($!)
mkdir "$work/www" && echo hello >"$work/www/index.html"
python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$web" >"$work/web.log" 2>&1 &
pids+=($!)

# Both answer before the agent starts: a refused first round would count
# against its line (a network reason) and could leave it degraded.
for _ in $(seq 1 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$web/" && (exec 3<>"/dev/tcp/127.0.0.1/$tcp") 2>/dev/null && break
  sleep 0.1
done
curl -sf -o /dev/null "http://127.0.0.1:$web/" || fail "the http target never answered"

printf '#!/bin/sh\ncat >/dev/null\n' >"$work/on-plan.sh" && chmod +x "$work/on-plan.sh"
echo "test-key" >"$work/hook.key"
cat >"$work/linewatch.yaml" <<YAML
agent: { id: metrics-e2e, listen: 127.0.0.1:$api, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  icmp: { interval: 1s, timeout: 200ms, pings: 3, spacing: 50ms }
  tcp: { interval: 1s, timeout: 500ms }
  http: { interval: 1s, timeout: 1s }
lines:
  - { id: lo-a, source: 127.0.0.1, gateway: 127.0.0.11, counters: lo, capacity: 100Mbps }
  - { id: lo-b, source: 127.0.0.2, gateway: 127.0.0.12, counters: lo }
targets:
  - { id: loop-icmp, icmp: 127.0.0.1 }
  - { id: loop-tcp, tcp: "127.0.0.1:$tcp" }
  - { id: loop-web, http: "http://127.0.0.1:$web/" }
liveness: { interval: 50ms, detect: 500ms }
routes:
  - { prefix: 198.19.1.0/24, lines: [lo-a, lo-b] }
gateways:
  - { id: hook, exec: $work/on-plan.sh, timeout: 2s }
notify:
  - { id: ops, kind: webhook, url: "http://127.0.0.1:$web/hook", secret_file: $work/hook.key }
YAML
"$bin" check-config "$work/linewatch.yaml" >/dev/null || fail "check-config rejected the config"
(cd "$work" && exec "$bin" run -c linewatch.yaml) >"$work/agent.log" 2>&1 &
agent=$!
pids+=("$agent")

# Until every series has 3 rounds and both lines are measured (bounded: 20 s).
ready=""
for _ in $(seq 1 80); do
  sleep 0.25
  kill -0 "$agent" 2>/dev/null || fail "agent exited early"
  curl -sf -D "$work/headers.txt" -o "$work/metrics.txt" "http://127.0.0.1:$api/metrics" || continue
  if python3 - "$work/metrics.txt" <<'PY'
import sys
counts, bw = {}, 0
for line in open(sys.argv[1]):
    if line.startswith("linewatch_probe_rtt_seconds_count{"):
        counts[line.split("}")[0]] = float(line.split()[-1])
    if line.startswith("linewatch_line_bandwidth_bytes_per_second{"):
        bw += 1
rounds = [v for k, v in counts.items()]
sys.exit(0 if len(rounds) == 6 and min(rounds) >= 3 and bw == 4 else 1)
PY
  then ready=1; break; fi
done
[ -n "$ready" ] || fail "the scrape never showed 3 rounds per series and both lines measured"

grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$work/headers.txt" ||
  fail "wrong Content-Type: $(cat "$work/headers.txt")"
promtool check metrics <"$work/metrics.txt" >"$work/promtool.log" 2>&1 ||
  fail "promtool check metrics: $(cat "$work/promtool.log")"
echo "promtool check metrics: ok ($(grep -vc '^#' "$work/metrics.txt") samples)"

# Asked for gzip, as Prometheus asks: the same families, compressed.
curl -sf -H 'Accept-Encoding: gzip' -D "$work/gzip_headers.txt" -o "$work/metrics.gz" \
  "http://127.0.0.1:$api/metrics" || fail "no gzip scrape"
grep -qi '^content-encoding: gzip' "$work/gzip_headers.txt" ||
  fail "asked for gzip, got: $(cat "$work/gzip_headers.txt")"
gzip -dc <"$work/metrics.gz" >"$work/metrics_gunzipped.txt" || fail "the gzip answer does not inflate"
promtool check metrics <"$work/metrics_gunzipped.txt" >"$work/promtool_gz.log" 2>&1 ||
  fail "promtool check metrics (gzip): $(cat "$work/promtool_gz.log")"
[ "$(grep '^# TYPE' "$work/metrics_gunzipped.txt")" = "$(grep '^# TYPE' "$work/metrics.txt")" ] ||
  fail "the gzip answer has other families than the plain one"
echo "gzip scrape: ok ($(stat -c %s "$work/metrics.gz") bytes for $(stat -c %s "$work/metrics_gunzipped.txt"))"

# Exactly the series the config implies, family by family.
python3 - "$work/metrics.txt" <<'PY' || fail "the series are not those of the config"
import re, sys
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
series = {}
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    m = sample.match(line)
    assert m, f"not a sample line: {line!r}"
    labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
    series.setdefault(m.group(1), []).append((labels, float(m.group(3))))

lines, targets = {"lo-a", "lo-b"}, {"loop-icmp": "icmp", "loop-tcp": "tcp", "loop-web": "http"}
S = len(lines) * len(targets)
buckets = 17
expected = {
    "linewatch_probe_rtt_seconds_bucket": S * (buckets + 1),
    "linewatch_probe_rtt_seconds_sum": S, "linewatch_probe_rtt_seconds_count": S,
    "linewatch_probe_success": S, "linewatch_probe_loss_ratio": S,
    "linewatch_probe_jitter_seconds": S,
    "linewatch_probe_echoes_sent_total": 2, "linewatch_probe_echoes_lost_total": 2,
    # tcp: connect; http to a literal address over plain http: connect, ttfb, transfer
    "linewatch_probe_phase_seconds": 2 * (1 + 3),
    "linewatch_line_state": 2 * 3, "linewatch_line_takes_traffic": 2, "linewatch_line_alive": 2,
    "linewatch_line_score": 2, "linewatch_line_flap_penalty": 2,
    "linewatch_line_bandwidth_bytes_per_second": 4, "linewatch_line_utilisation_ratio": 1,
    "linewatch_line_capacity_bytes_per_second": 1,
    "linewatch_route_plan_version": 1, "linewatch_route_plan_panic": 1,
    "linewatch_route_next_hop_weight": 2,
    "linewatch_failover_decision_lag_seconds": 1, "linewatch_failover_inbox_dropped_total": 1,
    "linewatch_gateway_delivered_version": 1, "linewatch_gateway_pending_version": 1,
    "linewatch_gateway_push_attempts_total": 1, "linewatch_gateway_push_failures_total": 1,
    "linewatch_alerts": 2 * (4 + 1),  # the 4 default rules and line-down
    "linewatch_alerting_inbox_dropped_total": 1,
    "linewatch_notify_outbox_pending": 1, "linewatch_notify_outbox_parked": 1,
    "linewatch_notify_delivered_total": 1, "linewatch_notify_failures_total": 1,
    "linewatch_scheduler_rounds_total": 1, "linewatch_scheduler_overruns_total": 1,
    "linewatch_scheduler_missed_total": 1, "linewatch_scheduler_lag_seconds_total": 1,
    "linewatch_scheduler_lag_max_seconds": 1, "linewatch_scheduler_queue_rounds": 1,
    "linewatch_scheduler_rounds_per_second": 1, "linewatch_engine_rounds_in_flight": 1,
    "linewatch_engine_loop_lag_p99_seconds": 1, "linewatch_engine_loop_lag_max_seconds": 1,
    "linewatch_engine_late_replies_total": 1, "linewatch_engine_overflow_drops_total": 1,
    "linewatch_engine_ignored_packets_total": 1,
    "linewatch_storage_queue_rows": 1, "linewatch_storage_queue_limit_rows": 1,
    "linewatch_storage_rows_written_total": 3, "linewatch_storage_rows_dropped_total": 3,
    "linewatch_storage_write_errors_total": 1, "linewatch_storage_batches_total": 1,
    "linewatch_storage_batch_seconds_total": 1, "linewatch_storage_batch_max_seconds": 1,
    "linewatch_storage_failing": 1, "linewatch_metrics_unknown_results_total": 1,
    "linewatch_build_info": 1, "linewatch_start_time_seconds": 1,
    "linewatch_config_last_reload_successful": 1,
    "linewatch_config_last_reload_success_timestamp_seconds": 1,
    "linewatch_config_reloads_total": 2,
}
# results_total: reason ok for every series, plus one per failure reason seen
# (none expected on loopback, but a slow round must not fail the count).
# Availability appears per line x window once its rollups were first read (a
# scrape asks, a later one sees it): at most every line x window, each once.
avail = series.pop("linewatch_line_availability_ratio", [])
assert len({(l["line"], l["window"]) for l, _ in avail}) == len(avail) <= len(lines) * 3, avail
assert all(l["line"] in lines and l["window"] in ("1h", "24h", "30d") and 0 <= v <= 1
           for l, v in avail), avail
results = series.pop("linewatch_probe_results_total")
reasons = {"ok", "timeout", "refused", "unreachable", "dns", "tls", "http_status", "body_mismatch",
           "bind", "internal", "protocol", "auth", "rate_limited", "server_error", "bad_response",
           "model_missing", "stream_stall"}
assert {(l["line"], l["target"], l["kind"]) for l, _ in results if l["reason"] == "ok"} == \
    {(a, t, k) for a in lines for t, k in targets.items()}, results
assert all(l["reason"] in reasons for l, _ in results), results
assert S <= len(results) <= S * len(reasons)
got = {name: len(v) for name, v in series.items()}
assert got == expected, "\n".join(
    f"{n}: got {got.get(n)} want {expected.get(n)}" for n in sorted(set(got) | set(expected))
    if got.get(n) != expected.get(n))

# Label values are the config's ids and the code's fixed sets, nothing else.
allowed = {"line": lines, "target": set(targets), "kind": set(targets.values()),
           "gateway": {"hook"}, "receiver": {"ops"}, "route": {"198.19.1.0/24"}, "direction": {"rx", "tx"},
           "state": {"up", "degraded", "down", "pending", "firing"},
           "phase": {"connect", "ttfb", "transfer"}, "row": {"result", "event", "bandwidth"},
           "rule": {"latency", "loss", "bandwidth", "availability", "line-down"},
           "version": {"0.1.0"}, "result": {"success", "failure"}}
for name, rows in series.items():
    for labels, _ in rows:
        for k, v in labels.items():
            if k == "le":
                continue
            assert v in allowed[k], f"{name}: label {k}={v!r} is not from the config"

one = lambda name: series[name][0][1]
assert all(v == 1 for _, v in series["linewatch_probe_success"]), (series["linewatch_probe_success"], results)
assert one("linewatch_route_plan_version") >= 1
assert 1 <= series["linewatch_gateway_delivered_version"][0][1] <= one("linewatch_route_plan_version")
assert one("linewatch_storage_batches_total") >= 1 and one("linewatch_storage_batch_seconds_total") > 0
assert sum(v for l, v in series["linewatch_line_state"]) == 2, series["linewatch_line_state"]
assert sum(v for l, v in series["linewatch_line_state"] if l["state"] == "up") == 2, \
    (series["linewatch_line_state"], results)
print(f"series: {sum(got.values()) + len(results)} samples, each family as the config implies")
PY

# A real Prometheus scrapes the agent every second.
cat >"$work/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
scrape_configs:
  - job_name: linewatch
    static_configs: [ { targets: ["127.0.0.1:$api"] } ]
YAML
/usr/bin/prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom" >"$work/prometheus.log" 2>&1 &
pids+=($!)

query() {  # query PROMQL: the JSON answer of Prometheus's instant query API
  curl -sf --get "http://127.0.0.1:$prom/api/v1/query" --data-urlencode "query=$1"
}
# ready_when PROMQL MIN: until the query returns at least MIN series (bounded: 30 s).
ready_when() {
  local out=""
  for _ in $(seq 1 60); do
    out=$(query "$1" 2>/dev/null) || { sleep 0.5; continue; }
    if python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["status"]=="success" and len(d["data"]["result"])>=int(sys.argv[2]) else 1)' "$out" "$2"; then
      echo "$out"
      return 0
    fi
    sleep 0.5
  done
  fail "Prometheus: $1 never returned $2 series; last answer: $out"
}
ready_when 'up{job="linewatch"} == 1' 1 >/dev/null
echo 'prometheus: up{job="linewatch"} == 1'
out=$(ready_when 'linewatch_probe_rtt_seconds_count{job="linewatch"} > 0' 6)
python3 - "$out" <<'PY' || fail "Prometheus's linewatch_probe_rtt_seconds_count is wrong: $out"
import json, sys
r = json.loads(sys.argv[1])["data"]["result"]
assert {(s["metric"]["line"], s["metric"]["target"], s["metric"]["kind"]) for s in r} == \
    {(l, t, k) for l in ("lo-a", "lo-b")
     for t, k in (("loop-icmp", "icmp"), ("loop-tcp", "tcp"), ("loop-web", "http"))}, r
print(f"prometheus: linewatch_probe_rtt_seconds_count has {len(r)} series")
PY
out=$(ready_when 'sum by (line) (linewatch_line_state{state="up"})' 2)
python3 - "$out" <<'PY' || fail "Prometheus's line states are wrong: $out"
import json, sys
r = json.loads(sys.argv[1])["data"]["result"]
assert {s["metric"]["line"]: s["value"][1] for s in r} == {"lo-a": "1", "lo-b": "1"}, r
print("prometheus: both lines up")
PY
out=$(ready_when 'linewatch_build_info' 1)
grep -q '"version":"0.1.0"' <<<"$out" || fail "linewatch_build_info lacks the version: $out"
echo "prometheus: linewatch_build_info{version=\"0.1.0\"} 1"
echo "PASS"

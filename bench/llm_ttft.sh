#!/usr/bin/env bash
# The llm probe's time to first token against mockllm's own clock, and what a
# completion round costs in CPU next to a plain HTTPS probe. Needs root (line
# lab); all traffic stays inside the lab's namespaces (198.18.0.0/15).
#
#   bash bench/llm_ttft.sh [BUILD_DIR] [ROUNDS]
#     BUILD_DIR  default ./build (built by scripts/build.sh when missing)
#     ROUNDS     completion rounds per path for the TTFT error, default 100
#     LLM_CPU_S  seconds of each CPU run (environment), default 30
#
# (a) TTFT error. ROUNDS `linewatch probe` rounds of a completion target, one
#     after another, the flavour turning openai → anthropic → gemini, HTTPS
#     with the lab CA, mockllm at its defaults (first token 200 ms after the
#     request, then 20 ms apart; the probe asks for 5 tokens). One at a time,
#     so round i is mockllm's timing record i. Per round:
#         error = agent TTFT − (record first_content − received) − wire RTT
#     where the wire RTT is the median of `linewatch probe`'s ICMP over the
#     same path, 100 echoes before and 100 after the rounds (it is within µs
#     of the emulated delay: bench/lab_rtt.sh). Two paths:
#       line      gateway namespace → lab line 1 at 150 ms (no jitter, no loss)
#       loopback  inside the far namespace, source and server 198.19.255.1:
#                 the same server and TLS with no line (RTT a few µs)
#     The error is what the agent adds: its send to the wire, the server's
#     wake-up before its "received" stamp, and the agent's wake-up on the
#     first token. Printed: median, p99 (nearest rank), max |error|, and the
#     error against the configured 150 ms instead of the measured RTT.
# (b) CPU per round. The agent (`linewatch run`, no routes, so no liveness)
#     in the far namespace over loopback, one probe kind alone per run, four
#     targets of that kind at 200 ms each (20 rounds/s), for LLM_CPU_S seconds
#     after a 3 s warm-up; CPU is utime + stime of the agent process from
#     /proc/PID/stat over that window, less the same window of an agent whose
#     only target never comes due (the idle cost: API, storage writer,
#     bandwidth sampler). Rounds are counted in the agent's database over the
#     window. Kinds: http (GET {base}/models with the key, HTTPS), llm in
#     models mode (the same call) and llm in completion mode (mockllm at
#     first token 20 ms, 5 tokens 2 ms apart). Every round is a new TCP and
#     TLS connection, and is stored, as in the agent's normal work.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "llm_ttft: needs root" >&2; exit 1; }
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
rounds=${2:-100}
cpu_s=${LLM_CPU_S:-30}
[[ $rounds =~ ^[1-9][0-9]*$ ]] && ((rounds <= 1000)) || { echo "ROUNDS must be 1..1000" >&2; exit 2; }
[[ $cpu_s =~ ^[1-9][0-9]*$ ]] || { echo "LLM_CPU_S must be a whole number of seconds" >&2; exit 2; }
[ -x "$build/agent/linewatch" ] || bash scripts/build.sh
build=$(cd "$build" && pwd)
bin=$build/agent/linewatch
name=lwttft$$
far_addr=198.19.255.1
lab() { timeout 60 bash "$root/tests/lab/lab.sh" --name "$name" --build "$build" "$@"; }
in_far() { ip netns exec "$name-far" "$@"; }
mock() { in_far curl -sf -X POST -d "$1" "http://$far_addr/mock/config" >/dev/null; }
work=$(mktemp -d /tmp/linewatch-ttft.XXXXXX)
agent_pid=""
cleanup() {
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; fi
  lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

lab up --lines 1 >/dev/null
lab set 1 --delay 150ms --jitter 0ms --loss 0% >/dev/null
ca=/run/$name/ca.crt
token=/run/$name/token

# config FILE SOURCE: one line bound to SOURCE, the three flavours in
# completion mode and an ICMP target for the wire RTT.
config() {
  cat >"$1" <<YAML
agent: { data_dir: data-$2 }
lines: [ { id: path, source: $2 } ]
probes:
  llm: { mode: completion, timeout: 5s, stall: 2s, interval: 10s, tls: { ca_file: $ca, server_name: api.lab.test } }
targets:
  - { id: rtt, icmp: { host: $far_addr, pings: 100, spacing: 7ms, timeout: 2s, interval: 5m } }
  - { id: openai, llm: { flavour: openai, base_url: https://$far_addr/openai/v1, model: gpt-4o-mini, api_key_file: $token } }
  - { id: anthropic, llm: { flavour: anthropic, base_url: https://$far_addr/anthropic/v1, model: claude-3-5-haiku-latest, api_key_file: $token } }
  - { id: gemini, llm: { flavour: gemini, base_url: https://$far_addr/gemini/v1beta, model: gemini-1.5-flash, api_key_file: $token } }
YAML
}
config "$work/line.yaml" 198.18.1.1
config "$work/loop.yaml" "$far_addr"

last_seq() { in_far curl -sf "http://$far_addr/mock/records?last=1" | python3 -c '
import json, sys; r = json.load(sys.stdin)["records"]; print(r[-1]["seq"] if r else 0)'; }

# ttft_run PATH NS CONFIG: ROUNDS completion rounds and the RTT around them.
ttft_run() {
  local path=$1 ns=$2 cfg=$3 i seq flavours=(openai anthropic gemini)
  echo "$path: $rounds completion rounds ..." >&2
  ip netns exec "$ns" "$bin" probe -c "$cfg" --line path --target rtt --json >"$work/$path.rtt1.json"
  seq=$(last_seq)
  for ((i = 0; i < rounds; i++)); do
    ip netns exec "$ns" "$bin" probe -c "$cfg" --line path --target "${flavours[i % 3]}" --json |
      tr -d '\n' >>"$work/$path.rounds.jsonl" || true
    echo >>"$work/$path.rounds.jsonl"
  done
  in_far curl -sf "http://$far_addr/mock/records?after=$seq" >"$work/$path.records.json"
  ip netns exec "$ns" "$bin" probe -c "$cfg" --line path --target rtt --json >"$work/$path.rtt2.json"
}
mock '{"reset":true}'
ttft_run line "$name-gw" "$work/line.yaml"
ttft_run loopback "$name-far" "$work/loop.yaml"

# cpu_run KIND: the agent with four targets of KIND (or the idle one) for
# LLM_CPU_S seconds; prints "KIND CPU_TICKS ROUNDS".
cpu_run() {
  local kind=$1 t k body cfg=$work/cpu-$1.yaml
  case $kind in
    http) body="http: { url: https://$far_addr/openai/v1/models, headers: { Authorization: \"Bearer $(cat "$token")\" }, tls: { ca_file: $ca, server_name: api.lab.test } }" ;;
    llm-models | llm-completion)
      body="llm: { flavour: openai, base_url: https://$far_addr/openai/v1, model: gpt-4o-mini, api_key_file: $token, mode: ${kind#llm-}, tls: { ca_file: $ca, server_name: api.lab.test } }" ;;
    idle) body="tcp: { host: $far_addr, port: 80, interval: 24h }" ;;
  esac
  {
    echo "agent: { id: cpu, listen: 127.0.0.1:9464, data_dir: data-cpu-$kind, workers: 8 }"
    echo "storage: { flush_interval: 1s }"
    echo "probes: { http: { interval: 200ms, timeout: 150ms }, llm: { interval: 200ms, timeout: 150ms, stall: 100ms } }"
    echo "lines: [ { id: path, source: $far_addr } ]"
    echo "targets:"
    for t in 1 2 3 4; do
      [ "$kind" = idle ] && [ "$t" -gt 1 ] && break
      echo "  - { id: t$t, $body }"
    done
  } >"$cfg"
  # Not through in_far: a function would put a subshell in between, and
  # ending that would leave the agent running. ip netns exec execs.
  ip netns exec "$name-far" "$bin" run -c "$cfg" >"$work/cpu-$kind.log" 2>&1 &
  agent_pid=$!
  sleep 3
  kill -0 "$agent_pid" 2>/dev/null || { echo "agent ($kind) stopped:" >&2; cat "$work/cpu-$kind.log" >&2; exit 1; }
  local t0 t1 c0 c1
  t0=$(date +%s%3N)
  c0=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
  sleep "$cpu_s"
  c1=$(awk '{print $14 + $15}' "/proc/$agent_pid/stat")
  t1=$(date +%s%3N)
  kill "$agent_pid"
  wait "$agent_pid" 2>/dev/null || true
  agent_pid=""
  k=$(sqlite3 "$work/data-cpu-$kind/linewatch.db" \
    "SELECT count(*) || ' ' || coalesce(sum(ok), 0) FROM samples WHERE ts_ms >= $t0 AND ts_ms < $t1")
  echo "$kind $((c1 - c0)) $k"
}
echo "CPU: the agent alone with each kind, $cpu_s s each ..." >&2
mock '{"ttft_ms":20,"token_interval_ms":2}'
for kind in idle http llm-models llm-completion; do cpu_run "$kind"; done >"$work/cpu.txt"
mock '{"reset":true}'

python3 - "$work" "$rounds" "$(getconf CLK_TCK)" "$cpu_s" <<'PY'
import json, statistics, sys
work, n, hz, cpu_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def p99(v):
    v = sorted(v); return v[min(len(v) - 1, int(0.99 * len(v)))]
print(f"(a) TTFT error: agent's TTFT - (mockllm's first_content - received) - wire RTT, {n} rounds per path")
print(f"{'path':9s} {'rounds':>6s} {'RTT ms':>8s} {'TTFT p50 ms':>12s} {'err p50 ms':>11s} {'err p99 ms':>11s} "
      f"{'max |err|':>10s} {'vs 150 ms p50':>14s}")
for path, nominal in (("line", 150.0), ("loopback", 0.0)):
    rtts = []
    for f in ("rtt1", "rtt2"):
        for r in json.load(open(f"{work}/{path}.{f}.json")):
            rtts += [x for x in r["rtts_ms"] if x is not None]
    rtt = statistics.median(rtts)
    rounds = [json.loads(l)[0] for l in open(f"{work}/{path}.rounds.jsonl") if l.strip()]
    records = json.load(open(f"{work}/{path}.records.json"))["records"]
    assert len(records) == len(rounds), f"{path}: {len(rounds)} rounds but {len(records)} records"
    err, err_nominal, ttft = [], [], []
    for r, rec in zip(rounds, records):
        assert r["ok"], f"{path}: a round failed: {r['reason']} {r.get('detail')}"
        assert rec["flavour"] == r["target"], f"{path}: round and record out of step"
        server = (rec["first_content_mono_ns"] - rec["received_mono_ns"]) / 1e6
        ttft.append(r["ttft_ms"])
        err.append(r["ttft_ms"] - server - rtt)
        err_nominal.append(r["ttft_ms"] - server - nominal)
    print(f"{path:9s} {len(err):6d} {rtt:8.3f} {statistics.median(ttft):12.3f} {statistics.median(err):+11.3f} "
          f"{p99(err):+11.3f} {max(abs(e) for e in err):10.3f} "
          + (f"{statistics.median(err_nominal):+14.3f}" if nominal else f"{'-':>14s}"))
print()
rows = {}
for line in open(f"{work}/cpu.txt"):
    kind, ticks, count, ok = line.split()
    rows[kind] = (int(ticks) / hz * 1000, int(count), int(ok))
idle_ms = rows["idle"][0]
print(f"(b) CPU per round: agent utime+stime over {cpu_s} s per kind, less the idle agent's "
      f"({idle_ms:.0f} ms); {1000 // hz} ms ticks")
print(f"{'kind':15s} {'rounds':>6s} {'ok':>6s} {'CPU ms':>8s} {'per round ms':>13s} {'vs http':>8s}")
http_per = None
for kind in ("http", "llm-models", "llm-completion"):
    cpu, count, ok = rows[kind]
    per = (cpu - idle_ms) / count if count else float("nan")
    http_per = http_per or per
    print(f"{kind:15s} {count:6d} {ok:6d} {cpu:8.0f} {per:13.3f} {per / http_per:7.2f}x")
PY

#!/usr/bin/env bash
# The emulated-WAN demo: a gateway with three international lines (CN2-like,
# 150 ms round trip) to an LLM provider's far end, all in network namespaces
# on this machine. linewatch runs on the gateway with examples/lab.yaml and
# steers the provider's prefix 198.19.255.0/24 in the gateway's routing table.
# A short script cuts line 1 (the route fails over to a backup), restores it
# (the route returns only after the hold-down), then gives it 20 % loss (out
# of its SLA: the route leaves it again, and the loss alert fires, then
# resolves once the loss is gone), printing `linewatch status`, the
# kernel's route, the failover state, each line's time to first token of a
# chat completion (mockllm at the far end), `linewatch alerts` and what a
# small webhook receiver (tests/lab/hook_receiver.py, on the gateway
# namespace's loopback) was told, as it goes. The lab is torn down on exit or
# Ctrl-C.
# Needs root (namespaces, raw ICMP). Sends traffic only inside the lab.
#
#   DEMO_PACE=1 (default)   seconds are multiplied by this; 0.5 runs twice as fast
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pace=${DEMO_PACE:-1}

bash scripts/setup.sh
bash scripts/build.sh
bin=$root/build/agent/linewatch
lab() { bash "$root/tests/lab/lab.sh" --name lwdemo --build "$root/build" "$@"; }
config=$root/examples/lab.yaml
log=$(mktemp /tmp/linewatch-demo.XXXXXX.log)
hook_dir=$(mktemp -d /tmp/linewatch-demo-hook.XXXXXX)
hook_log=$hook_dir/receiver.log
agent_pid=""
hook_pid=""
stop() { if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then kill "$1"; wait "$1" 2>/dev/null || true; fi; }
cleanup() {
  trap - EXIT INT TERM
  stop "$agent_pid"
  stop "$hook_pid"
  echo; echo "── tearing the lab down"
  lab down >/dev/null 2>&1 || true
  rm -rf "$log" "$hook_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pause() { sleep "$(python3 -c "print($1 * $pace)")"; }
say() { printf '\n\033[1m── %s\033[0m\n' "$*"; }
show() { lab exec "$bin" status -c "$config" || true; }
# The kernel's choice for the far end, read in the gateway namespace.
route() { printf '  %-28s %s\n' "$1:" "$(lab exec ip route get 198.19.255.1 | head -1)"; }
# via: the next hop of the provider's prefix now (polled, so no lab.sh round trip).
via() { ip netns exec lwdemo-gw ip route show 198.19.255.0/24 | grep -o 'via [0-9.]*' | head -1; }
# The failover part of the status: each line's health and the plan's next hop.
# The webhook receiver's lines (one per notification) after line $1 of its log.
hook_since() { tail -n +"$(($1 + 1))" "$hook_log" | sed 's/^/  /'; }
hook_mark() { wc -l <"$hook_log"; }
# wait_hook PATTERN SINCE MAX_S FROM_MS WHAT: poll the receiver's log until a
# line after line SINCE matches PATTERN, then say when that notification
# arrived, counted from FROM_MS (Unix ms) and WHAT. Line N of the log and of
# its records file are the same request.
wait_hook() {
  local i n at
  for ((i = 0; i < $3 * 10; i++)); do
    n=$(tail -n +"$(($2 + 1))" "$hook_log" | grep -n "$1" | head -1 | cut -d: -f1 || true)
    if [ -n "$n" ]; then
      at=$(sed -n "$(($2 + n))p" "$hook_dir/records.jsonl" | python3 -c 'import json, sys; print(json.load(sys.stdin)["received_ms"])')
      echo "  at the webhook $(python3 -c "print(f'{($at - $4) / 1000:.1f}')") s after $5"
      return 0
    fi
    sleep 0.1
  done
  echo "  nothing matching '$1' at the webhook after $3 s"
}
alerts() { lab exec "$bin" alerts -c "$config" | sed 's/^/  /' || true; }
failover() {
  lab exec "$bin" status -c "$config" --json 2>/dev/null | python3 -c '
import datetime, json, sys
f = json.load(sys.stdin)["failover"]
now = datetime.datetime.now(datetime.timezone.utc)
for l in f["lines"]:
    held = ""
    if l.get("hold_down_until"):
        left = (datetime.datetime.fromisoformat(l["hold_down_until"].replace("Z", "+00:00")) - now).total_seconds()
        held = f", held down {left:.1f}s more" if left > 0 else ""
    traffic = "takes traffic" if l["takes_traffic"] else "out of traffic"
    print(f"  {l['"'"'line'"'"']:10s} {l['"'"'state'"'"']:9s} {traffic}{held}  ({l['"'"'reason'"'"']})")
p = f["plan"]
hops = ", ".join(f"{h['"'"'line'"'"']} via {h['"'"'via'"'"']}" for r in p["routes"] for h in r["nexthops"])
print(f"  plan v{p['"'"'version'"'"']}{'"'"' (panic)'"'"' if p['"'"'panic'"'"'] else '"'"''"'"'}: 198.19.255.0/24 -> {hops or '"'"'none yet'"'"'}")
' || true
}
# Time to first token of the chat completion on each line, from the status
# API: the latest round, and the window's median and p95 (an llm series'
# RTT is its TTFT), beside the line's echo RTT to the same far end.
read -r -d '' ttft_py <<'PY' || true
import json, sys
d = json.load(sys.stdin)
icmp = {s["line"]: s["window"].get("rtt_median_ms") for s in d["series"]
        if s["target"] == "provider-edge" and s["kind"] == "icmp"}
ms = lambda v: f"{v:.0f} ms" if v is not None else "-"
print(f"  {'LINE':10s} {'TTFT NOW':14s} {'MEDIAN':8s} {'P95':8s} {'ROUNDS':7s} LINE RTT (ICMP)")
for s in d["series"]:
    if s["kind"] != "llm":
        continue
    l, w = s["latest"], s["window"]
    now = ms(l.get("ttft_ms")) if l["ok"] else f"DOWN {l['reason']}"
    print(f"  {s['line']:10s} {now:14s} {ms(w.get('rtt_median_ms')):8s} {ms(w.get('rtt_p95_ms')):8s} "
          f"{w['rounds']:<7d} {ms(icmp.get(s['line']))}")
PY
ttft() { lab exec "$bin" status -c "$config" --json 2>/dev/null | python3 -c "$ttft_py" || true; }
# rounds_since MS: line 1's chat rounds that started since MS (Unix ms), each
# its TTFT or why it failed, read from the agent's SQLite file (the rounds
# the status API sums up into its window).
read -r -d '' rounds_py <<'PY' || true
import json, sys
text = sys.stdin.read()
reasons = ("ok timeout refused unreachable dns tls http_status body_mismatch bind internal protocol "
           "auth rate_limited server_error bad_response model_missing stream_stall").split()
rounds = []
for r in json.loads(text) if text.strip() else []:  # sqlite3 prints nothing for no rows
    rounds.append(f"{r['ttft_us'] / 1000:.0f} ms" if r["ok"] else reasons[r["reason"]])
print("  " + (", ".join(rounds) or "none yet"))
PY
rounds_since() {
  sqlite3 -json "$root/examples/lab-data/linewatch.db" "
    SELECT s.ok, s.reason, m.ttft_us FROM samples s JOIN llm_samples m ON m.sample_id = s.id
    JOIN lines l ON l.id = s.line_id JOIN targets t ON t.id = s.target_id
    WHERE l.name = 'cn2-gia-1' AND t.name = 'chat' AND s.ts_ms >= $1 ORDER BY s.ts_ms" |
    python3 -c "$rounds_py" || true
}
# wait_route CHANGE WANT MAX_S: poll every 10 ms until the route's next hop is
# (CHANGE=to) or is no longer (CHANGE=off) WANT; prints how long it took.
wait_route() {
  local start now v i
  start=$(date +%s%3N)
  for ((i = 0; i < $3 * 100; i++)); do
    v=$(via)
    if [[ ($1 == to && $v == "via $2") || ($1 == off && $v != "via $2") ]]; then
      now=$(date +%s%3N)
      echo "  route changed after $((now - start)) ms ($v)"
      return 0
    fi
    sleep 0.01
  done
  echo "  route still ${v:-absent} after $3 s"
}

say "bringing up the lab: gateway, 3 lines through their ISPs, the provider's far end"
lab up --lines 3
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 2ms --loss 0% >/dev/null; done
# The webhook's signing key (examples/lab.yaml reads it from the lab's state
# dir, which `lab down` removes) and its receiver on the gateway's loopback.
(umask 077 && head -c 24 /dev/urandom | base64 >/run/lwdemo/hook.key)
py=$(python3 -c 'import sys; print(sys.executable)')  # the interpreter, so $! is the receiver
ip netns exec lwdemo-gw "$py" "$root/tests/lab/hook_receiver.py" 127.0.0.1 9400 "$hook_dir/records.jsonl" \
  /run/lwdemo/hook.key >"$hook_log" 2>&1 &
hook_pid=$!
lab exec "$bin" check-config "$config"
# A fresh database each run (examples/lab.yaml's data_dir; left after the demo
# to look into): a day's availability then covers this run only, and nothing
# queued by an earlier run is sent.
rm -rf "$root/examples/lab-data"
# lab.sh exec execs, so $! is the agent itself (a function would put a
# subshell in between, and ending that would orphan the agent).
bash "$root/tests/lab/lab.sh" --name lwdemo --build "$root/build" exec "$bin" run -c "$config" 2>"$log" &
agent_pid=$!
echo "  the agent's page: http://127.0.0.1:9464/ in the gateway namespace (a browser there: ip netns exec lwdemo-gw chromium --no-sandbox http://127.0.0.1:9464/)"

say "all three lines healthy: ~150 ms RTT each, no loss; the route goes via line 1 (the largest)"
pause 8; show
route "before the cut"
failover

say "time to first token per line: a streamed chat completion (the provider answers its first token after 200 ms)"
ttft

say "line 1 (cn2-gia-1) is cut entirely: the route fails over"
h=$(hook_mark)
lab set 1 --down >/dev/null
wait_route off 198.18.1.2 3
route "after the cut"
pause 4; show; failover
echo "  the webhook was told (one line-down alert; the line's other alerts wait behind it):"
hook_since "$h"

say "line 1 recovers: the route stays on the backup through the hold-down"
h=$(hook_mark)
lab set 1 --up >/dev/null
pause 1
route "right after the restore"
failover
echo "  waiting for the hold-down (the SLA window clears, then 10 s held down) ..."
wait_route to 198.18.1.2 40
route "after the hold-down"
failover
hook_since "$h"

say "line 1 loses 20 % of packets: alive, but out of its SLA (degraded), so the route leaves it again"
h=$(hook_mark)
lab set 1 --loss 20% >/dev/null
t_loss=$(date +%s%3N)
wait_route off 198.18.1.2 10
pause 6; show
route "with 20 % loss on line 1"
failover
pause 6
echo "  line 1's chat rounds since the loss began (probes stay on their line), from the agent's database:"
rounds_since "$t_loss"
echo "  the loss alert (over 5 % of line 1's echoes in 10 s, for 2 s):"
wait_hook "FIRING loss" "$h" 15 "$t_loss" "the loss began"
alerts
echo "  what the webhook was told (each notification signed; the receiver checks it):"
hook_since "$h"

say "line 1's loss is gone: once its 10 s window is clean, the alert resolves"
h=$(hook_mark)
lab set 1 --loss 0% >/dev/null
t_clean=$(date +%s%3N)
wait_hook "RESOLVED loss" "$h" 30 "$t_clean" "the loss ended"
alerts
hook_since "$h"
echo "  (availability, a default rule, is line 1's share of rounds without a network failure over 24 h,"
echo "  here since the agent started, read from the minute rollups every 30 s: the cut and the loss took"
echo "  it below 99.9 %, and it fires until the day's figure is back)"

say "what the agent logged (state changes and failover events, never every round)"
cat "$log"

#!/usr/bin/env bash
# The emulated-WAN demo: a gateway with three international lines (CN2-like,
# 150 ms round trip) to an LLM provider's far end, all in network namespaces
# on this machine. linewatch runs on the gateway with examples/lab.yaml and
# steers the provider's prefix 198.19.255.0/24 in the gateway's routing table.
# A short script cuts line 1 (the route fails over to a backup), restores it
# (the route returns only after the hold-down), then gives it 20 % loss (out
# of its SLA: the route leaves it again), printing `linewatch status`, the
# kernel's route and the failover state as it goes. The lab is torn down on
# exit or Ctrl-C.
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
agent_pid=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" 2>/dev/null || true; fi
  echo; echo "── tearing the lab down"
  lab down >/dev/null 2>&1 || true
  rm -f "$log"
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
lab exec "$bin" check-config "$config"
# lab.sh exec execs, so $! is the agent itself (a function would put a
# subshell in between, and ending that would orphan the agent).
bash "$root/tests/lab/lab.sh" --name lwdemo --build "$root/build" exec "$bin" run -c "$config" 2>"$log" &
agent_pid=$!

say "all three lines healthy: ~150 ms RTT each, no loss; the route goes via line 1 (the largest)"
pause 8; show
route "before the cut"
failover

say "line 1 (cn2-gia-1) is cut entirely: the route fails over"
lab set 1 --down >/dev/null
wait_route off 198.18.1.2 3
route "after the cut"
pause 4; show; failover

say "line 1 recovers: the route stays on the backup through the hold-down"
lab set 1 --up >/dev/null
pause 1
route "right after the restore"
failover
echo "  waiting for the hold-down (the SLA window clears, then 10 s held down) ..."
wait_route to 198.18.1.2 40
route "after the hold-down"
failover

say "line 1 loses 20 % of packets: alive, but out of its SLA (degraded), so the route leaves it again"
lab set 1 --loss 20% >/dev/null
wait_route off 198.18.1.2 10
pause 6; show
route "with 20 % loss on line 1"
failover
lab set 1 --loss 0% >/dev/null

say "what the agent logged (state changes and failover events, never every round)"
cat "$log"

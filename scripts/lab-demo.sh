#!/usr/bin/env bash
# The emulated-WAN demo: a gateway with three international lines (CN2-like,
# 150 ms round trip) to an LLM provider's far end, all in network namespaces
# on this machine. linewatch runs on the gateway with examples/lab.yaml, and a
# short script impairs line 1: 20 % loss, then a cut, then recovery, printing
# `linewatch status` as it goes. The lab is torn down on exit or Ctrl-C.
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

say "bringing up the lab: gateway, 3 lines through their ISPs, the provider's far end"
lab up --lines 3
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 2ms --loss 0% >/dev/null; done
lab exec "$bin" check-config "$config"
# lab.sh exec execs, so $! is the agent itself (a function would put a
# subshell in between, and ending that would orphan the agent).
bash "$root/tests/lab/lab.sh" --name lwdemo --build "$root/build" exec "$bin" run -c "$config" 2>"$log" &
agent_pid=$!

say "all three lines healthy: ~150 ms RTT each, no loss"
pause 8; show

say "line 1 (cn2-gia-1) starts losing 20 % of packets"
lab set 1 --loss 20% >/dev/null
pause 12; show

say "line 1 is cut entirely (probes time out on every kind; lines 2 and 3 are untouched)"
lab set 1 --down >/dev/null
pause 8; show

say "line 1 recovers"
lab set 1 --up >/dev/null
lab set 1 --loss 0% >/dev/null
pause 8; show

say "what the agent logged (state changes only, never every round)"
cat "$log"

#!/usr/bin/env bash
# The default scenario: installs what is missing, builds, then runs the agent
# on examples/local.yaml (two lines pinned to 127.0.0.1 and 127.0.0.2, probing
# ICMP, TCP and HTTP on loopback) and prints `linewatch status` as it goes.
# Halfway through, the local web server the targets point at is stopped for a
# while, so the table shows what a failing target looks like, then recovers.
#
#   DEMO_SECONDS=40 (default)   how long to run; 0 = until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${DEMO_SECONDS:-40}

bash scripts/setup.sh
bash scripts/build.sh
bin=build/agent/linewatch
config=examples/local.yaml

web_pid=""
agent_pid=""
start_web() {
  # The target the TCP and HTTP probes look at: a plain web server on loopback.
  python3 -m http.server 9465 --bind 127.0.0.1 --directory docs >/dev/null 2>&1 &
  web_pid=$!
  # Wait (bounded) until it accepts, so the first rounds do not race its start.
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/9465) 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: the local web server did not start on 127.0.0.1:9465" >&2
  return 1
}
stop_pid() { if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then kill "$1"; wait "$1" 2>/dev/null || true; fi; }
cleanup() { stop_pid "$agent_pid"; stop_pid "$web_pid"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin" check-config "$config"
start_web
"$bin" run -c "$config" &
agent_pid=$!
echo "demo: the agent's page is at http://127.0.0.1:9464/ (open it in a browser while the demo runs)"

show() {
  echo
  echo "── $1"
  "$bin" status -c "$config" || true
}

# Wait (bounded) until every probe job has finished a round, so the first
# table is complete rather than a snapshot of whichever rounds came first.
waited=0
for waited in $(seq 1 30); do
  sleep 1
  "$bin" status -c "$config" --json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if len(d["series"]) >= d["scheduler"]["jobs"] else 1)' && break
done
show "after ${waited} s: every line × target has had its first round"
if [ "$seconds" -eq 0 ]; then
  echo "running until Ctrl-C; in another shell: $bin status -c $config"
  while kill -0 "$agent_pid" 2>/dev/null; do sleep 10; show "$(date +%T)"; done
  exit 0
fi
half=$(( seconds / 2 ))
sleep $(( half > waited ? half - waited : 0 ))
stop_pid "$web_pid"; web_pid=""
echo; echo "── the web server on 127.0.0.1:9465 is stopped now (TCP and HTTP probes should fail: refused)"
sleep 6
show "web server down for 6 s"
start_web
sleep 6
show "web server back for 6 s (the 5-minute window remembers the failures)"
rest=$(( seconds - half - 12 ))
[ "$rest" -gt 0 ] && sleep "$rest"
show "final"
echo
echo "rows stored: $(sqlite3 examples/linewatch-data/linewatch.db 'SELECT count(*) FROM samples' 2>/dev/null || echo '?')"

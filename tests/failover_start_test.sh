#!/usr/bin/env bash
# A healthy start stays healthy, end to end on loopback: two lines, a route
# over both, an exec gateway, and a TCP target on a closed port that refuses
# through every line. The refused rounds are the destination's failure
# (destination_down), not loss on the lines: no line may go degraded, the
# plan must not panic, and only the first plan is made. No `apply:`, so the
# host's routes are never touched; echoes and probes go to 127.0.0.1 only.
set -euo pipefail
bin=$(realpath "${1:?usage: failover_start_test.sh PATH/TO/linewatch}")
work=$(mktemp -d /tmp/linewatch-fostart.XXXXXX)
agent_pid=""
fail() { echo "FAIL: $*" >&2; [ -f "$work/run.log" ] && cat "$work/run.log" >&2; exit 1; }
# shellcheck source=support/e2e_lib.sh
source "$(dirname "$0")/support/e2e_lib.sh"
trap 'stop_pid "$agent_pid"; rm -rf "$work"' EXIT
api=$(free_port)
closed=$(free_port)
# 50 ms echoes reach the SLA's 20 samples after 1 s, while the judge needs
# 3 refused rounds (about 3 s) to blame the port.
cat >"$work/fo.yaml" <<YAML
agent: { id: fo-start, listen: 127.0.0.1:$api, data_dir: data }
probes:
  icmp: { interval: 1s, timeout: 200ms, pings: 3, spacing: 50ms }
  tcp: { interval: 1s, timeout: 500ms }
lines:
  - { id: lo-a, source: 127.0.0.1, gateway: 127.0.0.11 }
  - { id: lo-b, source: 127.0.0.2, gateway: 127.0.0.12 }
targets:
  - { id: loop-icmp, icmp: 127.0.0.1 }
  - { id: closed-tcp, tcp: "127.0.0.1:$closed" }
liveness: { interval: 50ms, detect: 500ms, reflectors: [loop-icmp] }
routes:
  - { prefix: 198.19.1.0/24, lines: [lo-a, lo-b] }
gateways:
  - { id: hook, exec: $work/on-plan.sh, timeout: 2s }
YAML
printf '#!/bin/sh\ncat >/dev/null\n' >"$work/on-plan.sh"
chmod +x "$work/on-plan.sh"

cd "$work"
"$bin" run -c "$work/fo.yaml" >"$work/run.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do grep -q 'msg="started"' run.log && break; sleep 0.1; done
grep -q 'msg="started"' run.log || fail "agent did not start"
for _ in $(seq 1 100); do grep -q 'event=destination_down target=closed-tcp' run.log && break; sleep 0.1; done
grep -q 'event=destination_down target=closed-tcp' run.log || fail "no destination_down for closed-tcp within 10s"
sleep 1  # a quality refresh after the verdict
grep -q 'event=line_degraded' run.log && fail "a healthy line went degraded at start"
grep -q 'event=plan_panic' run.log && fail "the plan panicked at start"
[ "$(grep -c 'event=plan_new' run.log)" -eq 1 ] || fail "more than one plan at start"
echo "ok: closed-tcp blamed as a destination, both lines up, one plan"

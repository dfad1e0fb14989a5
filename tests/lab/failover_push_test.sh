#!/usr/bin/env bash
# Failover pushed to a gateway, on the line lab. The agent runs in the
# gateway namespace with `apply: { table: main }` and pushes each plan to a
# `linewatch gateway` in the same namespace on 127.0.0.1:9300 with
# `table: 200`: the plan's next hops name the lab's line devices (l1..l3),
# which exist only there, and a table of its own keeps the gateway's routes
# apart from the agent's local apply. Checks:
#   - push: the gateway's table 200 gets 198.19.255.0/24 via line 1; line 1
#     cut moves it to the backup (the time cut -> gateway route change is
#     printed); with the gateway stopped, line 1 restored and a new plan made
#     past the hold-down, a gateway started again gets the newest plan from
#     the agent's retries: table 200 back on line 1 and `linewatch routes`
#     showing gw1 at the plan's version;
#   - restart with a line down: line 1 cut, the agent gets SIGTERM and starts
#     again; the local route (polled every 10 ms across the restart) stays on
#     the backup, never line 1 and never absent, and the plan version does
#     not go backwards;
#   - flapping: line 1 cut / restored every 2 s for 48 s under a fresh agent
#     with flap damping; the number of plan versions made is bounded (see
#     the bound at the flap step).
# Replays and bad signatures are not repeated here: tests/gateway_test.sh
# covers each refusal against the same gateway code. Needs root (exit 77 =
# skipped otherwise). About 75 s.
#
#   failover_push_test.sh BUILD_DIR   (FLAP_PENALTY=N: the agent's flap.penalty
#                                      in the flap step, default 1000; the bound
#                                      stays that of 1000, so 0 (no damping)
#                                      fails it)
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "failover_push_test: skipped, needs root"; exit 77; }
build=$(cd "${1:?usage: failover_push_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/agent/linewatch
name=lwfp$$
prefix=198.19.255.0/24
l1=198.18.1.2
hold_down_s=3
flap_s=48 flap_hold_ms=500 flap_penalty=1000 flap_suppress=1500
started=$SECONDS
lab() { timeout 60 bash "$here/lab.sh" --name "$name" --build "$build" "$@"; }
gw() { timeout 10 ip netns exec "$name-gw" "$@"; }
work=$(mktemp -d /tmp/linewatch-fp.XXXXXX)
log=$work/agent.log
gwlog=$work/gateway.log
agent_pid="" gw_pid="" poll_pid=""
# stop PID: SIGTERM, up to 5 s, then SIGKILL; reaped.
stop() {
  local pid=$1 i
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$poll_pid"
  stop "$agent_pid"
  stop "$gw_pid"
  lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "$log" ] || { echo "--- agent log" >&2; tail -n 30 "$log" >&2; }
  [ ! -s "$gwlog" ] || { echo "--- gateway log" >&2; tail -n 15 "$gwlog" >&2; }
  exit 1
}
step() { echo "== $* ($((SECONDS - started)) s)"; }
now_ms() { date +%s%3N; }

lab up --lines 3 >/dev/null
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 0ms >/dev/null; done

(umask 077 && openssl rand -hex 32 >"$work/gw1.key")
cat >"$work/gateway.yaml" <<YAML
gateway: { id: gw1, listen: 127.0.0.1:9300, secret_file: gw1.key, table: 200, data_dir: gwdata, reconcile: 1s }
YAML

# agent_config FILE DATA_DIR HEALTH GATEWAYS: as tests/lab/failover_test.sh
# (capacities make line 1 the primary), with the health map and gateways given.
# Line 2's capacity is three times line 3's so line 2 beats line 3 by more
# than the ranking's margin: the backup is line 2 whatever order the first
# scores had. (With close scores the margin keeps whichever backup came first,
# and that order is not kept across a restart, so a restart could move the
# route from one backup to the other.)
agent_config() {
  cat >"$1" <<YAML
agent: { id: push-lab, listen: 127.0.0.1:9464, data_dir: $2, workers: 4 }
storage: { flush_interval: 500ms }
probes:
  icmp: { interval: 1s, timeout: 600ms, pings: 1 }
  tcp: { interval: 1s, timeout: 600ms }
lines:
  - { id: cn2-gia-1, interface: l1, gateway: $l1, capacity: 500Mbps }
  - { id: cu-vip-2, interface: l2, gateway: 198.18.2.2, capacity: 300Mbps }
  - { id: cmi-3, interface: l3, gateway: 198.18.3.2, capacity: 100Mbps }
targets:
  - { id: provider-edge, icmp: 198.19.255.1, tcp: 198.19.255.1:443 }
liveness: { profile: fast, reflectors: [provider-edge] }
health: $3
scoring: { margin_for: 0s }
routes: [ { prefix: $prefix, policy: primary-backup, lines: [cn2-gia-1, cu-vip-2, cmi-3] } ]
apply: { table: main }
gateways: $4
YAML
  lab exec "$bin" check-config "$1" >/dev/null || fail "check-config refused $1"
}
# A low flap penalty: the two cuts of line 1 below must not suppress it.
agent_config "$work/push.yaml" data \
  "{ rise: 3, hold_down: ${hold_down_s}s, min_dwell: 1s, sla: { window: 2s }, flap: { penalty: 500 } }" \
  "[ { id: gw1, url: http://127.0.0.1:9300/v1/routes, secret_file: gw1.key, timeout: 1s } ]"
cfg=$work/push.yaml

# via [TABLE]: the gateway of the prefix's route in the gw namespace's table
# (main by default): an address, "none" or "multipath".
via() {
  local r
  r=$(gw ip route show "$prefix" table "${1:-main}")
  if [[ $r =~ via\ ([0-9.]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  elif [[ $r == *nexthop* ]]; then echo multipath; else echo none; fi
}
routes_json() { lab exec "$bin" routes -c "$cfg" --json 2>/dev/null; }
# jq-like: routes_field EXPR, EXPR a python expression over the routes doc `d`.
routes_field() {
  routes_json | python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"
}
plan_version() { routes_field 'd["plan"]["version"]'; }

start_agent() {
  # lab.sh exec execs, so $! is the agent itself.
  bash "$here/lab.sh" --name "$name" --build "$build" exec "$bin" run -c "$cfg" >>"$log" 2>&1 &
  agent_pid=$!
}
start_gateway() {
  ip netns exec "$name-gw" "$bin" gateway -c "$work/gateway.yaml" >>"$gwlog" 2>&1 &
  gw_pid=$!
  for ((i = 0; i < 50; i++)); do
    gw curl -sf --max-time 1 http://127.0.0.1:9300/-/healthy >/dev/null 2>&1 && return 0
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway exited at start"
    sleep 0.1
  done
  fail "the gateway did not answer /-/healthy within 5 s"
}
# wait_via TABLE ADDR SECONDS: the prefix goes via ADDR in TABLE within SECONDS.
wait_via() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    [ "$(via "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "table $1: the route is via $(via "$1"), not $2, after $3 s"
}
# wait_stable SECONDS: every line up and taking traffic, the local route via line 1.
wait_stable() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if [ "$(via)" = "$l1" ] && routes_json >"$work/r.json" && python3 - "$work/r.json" <<'PY'; then return 0; fi
import json, sys
d = json.load(open(sys.argv[1]))
ok = all(l["state"] == "up" and l["takes_traffic"] for l in d["lines"]) and not d["plan"]["panic"]
sys.exit(0 if ok else 1)
PY
    sleep 0.25
  done
  fail "not stable on line 1 within $1 s (route via $(via))"
}
# gw1_version: the version the agent reports in force at gw1 ("None" if none).
gw1_version() { routes_field '[g["version"] for g in d["gateways"] if g["id"] == "gw1"][0]'; }

step "gateway and agent start: both tables go via line 1"
start_gateway
start_agent
wait_stable 25
wait_via 200 "$l1" 10
echo "  local: $(gw ip route show "$prefix")"
echo "  gw1 table 200: $(gw ip route show "$prefix" table 200)"

step "line 1 cut: the gateway's table moves to the backup"
lab set 1 --down >/dev/null
t_cut=$(now_ms)
moved=""
for ((i = 0; i < 500; i++)); do  # 5 s at most, every 10 ms
  v=$(via 200)
  if [ "$v" != "$l1" ]; then moved=$(now_ms); break; fi
  sleep 0.01
done
[ -n "$moved" ] || fail "table 200 still goes via line 1 5 s after the cut"
[ "$v" != none ] || fail "table 200 lost the route instead of moving it"
echo "  cut -> gateway route via $v after $((moved - t_cut)) ms (local apply + push + gateway apply)"
v_cut=$(plan_version)

step "gateway stopped; line 1 restored; a plan is made while it is down"
stop "$gw_pid"
gw_pid=""
lab set 1 --up >/dev/null
wait_via main "$l1" 30  # past hold_down (${hold_down_s} s): the agent made a new plan
v_back=$(plan_version)
((v_back > v_cut)) || fail "no new plan after the restore (version $v_back, was $v_cut)"
[ "$(via 200)" = "$v" ] || fail "table 200 changed while its gateway was stopped: $(via 200)"
echo "  plan v$v_back made with gw1 down; gw1 in force: v$(gw1_version); table 200 still via $(via 200)"
sleep 2  # a few failed retries: the back-off grows

step "gateway started again: the agent's retries bring it to the newest plan"
t_start=$(now_ms)
start_gateway
wait_via 200 "$l1" 40
echo "  gateway start -> table 200 via line 1 after $(($(now_ms) - t_start)) ms"
deadline=$((SECONDS + 10))
until [ "$(gw1_version)" = "$(plan_version)" ]; do
  ((SECONDS < deadline)) || fail "routes shows gw1 at v$(gw1_version), the plan is v$(plan_version)"
  sleep 0.2
done
applied=$(gw curl -sf --max-time 2 http://127.0.0.1:9300/v1/routes |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["applied_version"])')
pv=$(plan_version)
[ "$applied" = "$pv" ] || fail "the gateway has v$applied in force, the plan is v$pv"
echo "  routes: gw1 at v$(gw1_version) = plan v$pv; gateway GET /v1/routes applied_version $applied"

step "agent restart with line 1 cut: the local route stays on the backup"
wait_stable 30
lab set 1 --down >/dev/null
deadline=$((SECONDS + 5))
until backup=$(via) && [ "$backup" != "$l1" ] && [ "$backup" != none ]; do
  ((SECONDS < deadline)) || fail "the local route still goes via $backup 5 s after the cut"
  sleep 0.05
done
sleep 1
[ "$(via)" = "$backup" ] || fail "the local route moved again after the failover: $(via)"
backup_line=$(routes_field 'd["plan"]["routes"][0]["nexthops"][0]["line"]')
echo "  failover to $backup_line ($backup)"
v_before=$(plan_version)
# One loop inside the namespace: an `ip` every 10 ms, each line "MS ROUTE".
ip netns exec "$name-gw" bash -c "while :; do r=\$(ip -o route show $prefix); echo \"\$(date +%s%3N) \${r:-none}\"; sleep 0.01; done" \
  >"$work/poll.txt" 2>/dev/null &
poll_pid=$!
sleep 0.5
stop "$agent_pid"
agent_pid=""
t_stop=$(now_ms)
start_agent
# Up to 20 s: the agent answers again and has left its start-up hold.
deadline=$((SECONDS + 20))
until [ "$(routes_field 'd["plan"]["starting"]' 2>/dev/null)" = False ]; do
  ((SECONDS < deadline)) || fail "the restarted agent did not leave its start-up hold within 20 s"
  sleep 0.2
done
sleep 3  # and a few more rounds with line 1 down
stop "$poll_pid"
poll_pid=""
v_after=$(plan_version)
python3 - "$work/poll.txt" "$t_stop" "$backup" <<'PY' || fail "the local route changed across the restart"
import sys
rows = [l.rstrip("\n").split(" ", 1) for l in open(sys.argv[1]) if " " in l]
bad = [(int(t), r) for t, r in rows if f"via {sys.argv[3]} " not in r + " "]
t_stop = int(sys.argv[2])
print(f"  {len(rows)} polls over {(int(rows[-1][0]) - int(rows[0][0])) / 1000:.1f} s "
      f"({(int(rows[-1][0]) - t_stop) / 1000:.1f} s after the stop): "
      f"{len(rows) - len(bad)} via the backup, {len(bad)} not")
for t, r in bad[:5]:
    print(f"    {t - t_stop:+d} ms: {r}")
sys.exit(0 if rows and not bad else 1)
PY
echo "  plan v$v_before before the restart, v$v_after after"
((v_after >= v_before)) || fail "the plan version went back from $v_before to $v_after"
[ "$(routes_field 'd["plan"]["routes"][0]["nexthops"][0]["line"]')" = "$backup_line" ] ||
  fail "the restarted agent's plan is not on the backup $backup_line"
lab set 1 --up >/dev/null

step "flapping: line 1 cut / restored every 2 s for $flap_s s (fresh agent, flap damping)"
stop "$agent_pid"
agent_pid=""
stop "$gw_pid"
gw_pid=""
# A fresh data_dir: no penalty or plan carried over from the steps above.
# The loss SLA is off (100 %) so the loss of a cut does not keep line 1
# degraded after the restore: it takes traffic again min_dwell + hold_down
# (about 1 s) after each restore, well inside the 2 s it stays up, and only
# the flap damping can keep it off.
agent_config "$work/flap.yaml" data-flap \
  "{ rise: 3, hold_down: ${flap_hold_ms}ms, min_dwell: 500ms, sla: { window: 1s, loss: 100% }, flap: { penalty: ${FLAP_PENALTY:-$flap_penalty}, suppress: $flap_suppress, reuse: 750, half_life: 1m } }" \
  "[]"
cfg=$work/flap.yaml
: >"$log"
start_agent
wait_stable 30
v0=$(plan_version)
for ((c = 0; c < flap_s / 4; c++)); do
  lab set 1 --down >/dev/null
  sleep 2
  lab set 1 --up >/dev/null
  sleep 2
done
sleep 1
v1=$(plan_version)
made=$((v1 - v0))
# The bound. Each return to line 1 is one version and each move away one
# more. A return needs line 1 up for at least hold_down H after a cut (2 s
# down), so undamped there are at most D / (2 s + H) returns in D seconds
# (~19 for 48 s and H = 0.5 s: up to ~39 versions). Damping: each failure adds
# `penalty` and the line takes no traffic once the penalty reaches
# `suppress`; within D << half_life (1 min) little decays, so after
# N = ceil(suppress / penalty) failures (2 here) line 1 is suppressed for
# the rest of the flap (reuse 750 needs > 1 min of decay). Returns happen
# only between failures: at most R = min(N - 1, D / (2 s + H)) = 1. Versions:
# the first move away, then two per return, +1 for a plan of the last
# restore caught at the end: 2 R + 2.
python3 - "$made" "$flap_s" "$flap_hold_ms" "$flap_penalty" "$flap_suppress" <<'PY' || fail "too many plan versions while line 1 flapped"
import math, sys
made, d, h_ms, pen, sup = map(int, sys.argv[1:])
undamped = math.floor(d / (2 + h_ms / 1000))
n = math.ceil(sup / pen) if pen > 0 else math.inf
r = min(n - 1, undamped)
bound = 2 * r + 2
print(f"  {made} plan versions in {d} s of flapping (bound 2 R + 2 = {bound}: "
      f"R = min(N - 1 = {n - 1}, D / (2 s + H) = {undamped}); undamped it would be {2 * undamped + 2})")
sys.exit(0 if 1 <= made <= bound else 1)
PY
routes_json | python3 -c 'import json, sys
l = [x for x in json.load(sys.stdin)["lines"] if x["line"] == "cn2-gia-1"][0]
print("  line 1 at the end: %s, takes_traffic %s, penalty %s" % (l["state"], l["takes_traffic"], l["penalty"]))'

stop "$agent_pid"
agent_pid=""
echo "failover_push: all checks passed ($((SECONDS - started)) s)"

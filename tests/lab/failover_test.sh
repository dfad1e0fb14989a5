#!/usr/bin/env bash
# Failover end to end on the line lab: the agent runs in the gateway namespace
# with `routes` + `apply: { table: main }` and moves 198.19.255.0/24 between
# three 150 ms lines in that namespace's kernel. Checks:
#   - after start the prefix goes via line 1 (the best scored line);
#   - line 1 cut: the route leaves line 1 within 1 s (measured by polling the
#     kernel every 10 ms) and the status shows line 1 down;
#   - line 1 restored: the route stays on the backup until hold_down has
#     passed, then comes back (bounded), with line_down, plan_new,
#     hold_down_started and hold_down_ended in the log;
#   - every line cut: the route keeps a next hop and the log has plan_panic;
#   - mockllm answering 429, then 500: no line leaves traffic, the route stays;
#   - mockllm stopped (the far end still answers ICMP): destination_down for
#     the API target, no line leaves traffic, the route stays;
#   - calm: line 1 at 10 % random loss for 60 s never goes down (it may
#     degrade: the loss SLA), and the script prints how often a naive
#     3-miss rule would have tripped on a same-cadence echo stream.
# The agent never runs `ip`; this script reads routes with it. Needs root
# (exit 77 = skipped otherwise). About 100 s.
#
#   failover_test.sh BUILD_DIR      (FAILOVER_CALM_S=N: calm phase length, default 60)
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "failover_test: skipped, needs root"; exit 77; }
build=$(cd "${1:?usage: failover_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/agent/linewatch
name=lwfo$$
prefix=198.19.255.0/24
hold_down_s=5
calm_s=${FAILOVER_CALM_S:-60}
started=$SECONDS
lab() { timeout 60 bash "$here/lab.sh" --name "$name" --build "$build" "$@"; }
gw() { timeout 10 ip netns exec "$name-gw" "$@"; }
far() { timeout 10 ip netns exec "$name-far" "$@"; }
work=$(mktemp -d /tmp/linewatch-fo.XXXXXX)
log=$work/agent.log
agent_pid=""
ping_pid=""
cleanup() {
  if [ -n "$ping_pid" ] && kill -0 "$ping_pid" 2>/dev/null; then kill "$ping_pid"; fi
  if [ -n "$agent_pid" ] && kill -0 "$agent_pid" 2>/dev/null; then
    kill "$agent_pid"
    wait "$agent_pid" 2>/dev/null || true
  fi
  lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "$log" ] || { echo "--- agent log" >&2; tail -n 40 "$log" >&2; }
  exit 1
}
step() { echo "== $* ($((SECONDS - started)) s)"; }
now_ms() { date +%s%3N; }

lab up --lines 3 >/dev/null
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 0ms >/dev/null; done

# Capacities make line 1 the best scored line (bandwidth part), so it is the
# primary and the route returns to it once it takes traffic again; equal lines
# would keep the backup (the ranking's margin). The SLA window is short so the
# loss of a cut leaves it soon after the line is back. Flap damping is tested
# in rules/: a low penalty keeps two cuts of line 1 from suppressing it here.
cat >"$work/fo.yaml" <<YAML
agent: { id: failover-lab, listen: 127.0.0.1:9464, data_dir: data, workers: 4 }
storage: { flush_interval: 500ms }
probes:
  icmp: { interval: 1s, timeout: 600ms, pings: 1 }
  tcp: { interval: 1s, timeout: 600ms }
  http: { interval: 1s, timeout: 900ms }
lines:
  - { id: cn2-gia-1, interface: l1, gateway: 198.18.1.2, capacity: 500Mbps }
  - { id: cu-vip-2, interface: l2, gateway: 198.18.2.2, capacity: 300Mbps }
  - { id: cmi-3, interface: l3, gateway: 198.18.3.2, capacity: 200Mbps }
targets:
  - { id: provider-edge, icmp: 198.19.255.1 }
  - id: llm-api
    tcp: 198.19.255.1:443
    http:
      url: http://198.19.255.1/v1/models
      expect_status: [200]
      headers: { Authorization: "Bearer sk-lab-0123456789" }
liveness: { profile: fast, reflectors: [provider-edge] }
health: { rise: 3, hold_down: ${hold_down_s}s, min_dwell: 1s, sla: { window: 2s }, flap: { penalty: 500 } }
scoring: { margin_for: 0s }
routes: [ { prefix: $prefix, policy: primary-backup, lines: [cn2-gia-1, cu-vip-2, cmi-3] } ]
apply: { table: main }
YAML
lab exec "$bin" check-config "$work/fo.yaml" >/dev/null || fail "check-config refused the config"

# The gateway of the prefix's route in the gw namespace's main table ("none"
# when there is no route; "multipath" for several next hops).
via() {
  local r
  r=$(gw ip route show "$prefix")
  if [[ $r =~ via\ ([0-9.]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  elif [[ $r == *nexthop* ]]; then echo multipath; else echo none; fi
}
# Exit 1 only says a line is down, which these steps cause on purpose.
status() { lab exec "$bin" status -c "$work/fo.yaml" --json 2>/dev/null || [ $? -eq 1 ]; }
# Events of KIND (optionally for LINE) logged after line FROM of the log.
events() { tail -n +"$(($1 + 1))" "$log" | grep -E "event=$2( |\$)" | grep -E "${3:+line=$3( |\$)}" || true; }
mark() { wc -l <"$log"; }

# stable: every line up and taking traffic, no panic, the route via line 1.
# Bounded by $1 seconds.
wait_stable() {
  local deadline=$((SECONDS + $1))
  while ((SECONDS < deadline)); do
    if [ "$(via)" = 198.18.1.2 ] && status >"$work/s.json" && python3 - "$work/s.json" <<'PY'; then return 0; fi
import json, sys
f = json.load(open(sys.argv[1]))["failover"]
ok = all(l["state"] == "up" and l["takes_traffic"] for l in f["lines"]) and not f["plan"]["panic"]
sys.exit(0 if ok else 1)
PY
    sleep 0.25
  done
  fail "not stable on line 1 within $1 s (route via $(via))"
}

step "agent starts; the route goes via line 1"
# lab.sh exec execs, so $! is the agent itself.
bash "$here/lab.sh" --name "$name" --build "$build" exec "$bin" run -c "$work/fo.yaml" >"$log" 2>&1 &
agent_pid=$!
wait_stable 20
echo "  $(gw ip route show "$prefix")"

step "line 1 cut: the route leaves line 1"
m=$(mark)
lab set 1 --down >/dev/null
t_cut=$(now_ms)
moved=""
for ((i = 0; i < 300; i++)); do
  v=$(via)
  if [ "$v" != 198.18.1.2 ]; then moved=$(now_ms); break; fi
  sleep 0.01
done
[ -n "$moved" ] || fail "the route still goes via line 1 3 s after the cut"
took=$((moved - t_cut))
echo "  cut -> route via $v after $took ms (polled every 10 ms; bound 1000 ms)"
((took <= 1000)) || fail "failover took $took ms"
[ "$v" != none ] || fail "the route was deleted instead of moved"
status >"$work/s.json" || fail "no status"
python3 - "$work/s.json" <<'PY' || fail "status does not show line 1 down"
import json, sys
f = json.load(open(sys.argv[1]))["failover"]
l1 = f["lines"][0]
print(f"  status: {l1['line']} {l1['state']} ({l1['reason']}), takes_traffic {l1['takes_traffic']}; "
      f"plan v{f['plan']['version']} -> {[h['line'] for r in f['plan']['routes'] for h in r['nexthops']]}")
sys.exit(0 if l1["line"] == "cn2-gia-1" and l1["state"] == "down" and not l1["takes_traffic"] else 1)
PY
[ -n "$(events "$m" line_down cn2-gia-1)" ] || fail "no line_down event for cn2-gia-1"
[ -n "$(events "$m" plan_new)" ] || fail "no plan_new event after the cut"
sleep 1

step "line 1 restored: back only after hold_down ($hold_down_s s)"
lab set 1 --up >/dev/null
t_up=$(now_ms)
back=""
for ((i = 0; i < 3000; i++)); do  # 30 s at most
  if [ "$(via)" = 198.18.1.2 ]; then back=$(now_ms); break; fi
  sleep 0.01
done
[ -n "$back" ] || fail "the route did not come back to line 1 within 30 s of the restore"
took=$((back - t_up))
echo "  restore -> route back via line 1 after $took ms (hold_down ${hold_down_s}000 ms)"
((took >= hold_down_s * 1000)) || fail "the route came back after $took ms, before hold_down"
for kind in hold_down_started hold_down_ended; do
  [ -n "$(events "$m" "$kind" cn2-gia-1)" ] || fail "no $kind event for cn2-gia-1"
done
# The log's own stamps: the last hold_down_started before hold_down_ended
# (a line may be held down, degrade on the cut's loss, and be held down
# again), then the plan back on line 1.
events "$m" 'line_[a-z]+|hold_down_(started|ended)|plan_new' >"$work/hd.txt"
python3 - "$work/hd.txt" "$hold_down_s" "$t_up" <<'PY' || fail "events out of order or hold_down too short"
import datetime, sys
rows = [l.split() for l in open(sys.argv[1])]
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
t_up = int(sys.argv[3]) / 1000
seq = []
for r in rows:
    kind = r[2].removeprefix("event=")
    if kind == "plan_new" or "line=cn2-gia-1" in r:
        seq.append(f"{kind} {t(r[0]) - t_up:+.2f}s")
print("  cn2-gia-1 events (s from restore):", ", ".join(seq))
end = next(t(r[0]) for r in rows if "event=hold_down_ended" in r and "line=cn2-gia-1" in r)
start = max(t(r[0]) for r in rows
            if "event=hold_down_started" in r and "line=cn2-gia-1" in r and t(r[0]) <= end)
back = [t(r[0]) for r in rows if "event=plan_new" in r and t(r[0]) >= end]
print(f"  log: hold_down_started -> hold_down_ended {end - start:.2f} s; plan_new back "
      + (f"{back[0] - end:.3f} s later" if back else "missing"))
sys.exit(0 if back and end - start >= float(sys.argv[2]) - 0.01 else 1)
PY
[ -n "$(events "$m" line_down cn2-gia-1)" ] || fail "no line_down event for cn2-gia-1"

wait_stable 20
step "every line cut: the route keeps a next hop (panic)"
m=$(mark)
for k in 1 2 3; do lab set "$k" --down >/dev/null; done
for ((i = 0; i < 200; i++)); do  # 2 s at most, every 10 ms: never without a route
  v=$(via)
  [ "$v" != none ] || fail "the route was deleted with every line down"
  [ -z "$(events "$m" plan_panic)" ] || break
  sleep 0.01
done
[ -n "$(events "$m" plan_panic)" ] || fail "no plan_panic event with every line down"
sleep 0.5
v=$(via)
[ "$v" != none ] || fail "the route was deleted with every line down"
echo "  all lines down: route kept via $v; $(events "$m" plan_panic | grep -o 'detail=.*')"
for k in 1 2 3; do lab set "$k" --up >/dev/null; done
wait_stable 30

# no_failover SECONDS: during SECONDS, the route stays via line 1 (polled
# every 10 ms) and no line goes down or degraded.
no_failover() {
  local m deadline=$((SECONDS + $1)) v
  m=$(mark)
  while ((SECONDS < deadline)); do
    v=$(via)
    [ "$v" = 198.18.1.2 ] || fail "$2: the route moved to $v"
    sleep 0.01
  done
  [ -z "$(events "$m" 'line_down|line_degraded')" ] || fail "$2: $(events "$m" 'line_down|line_degraded')"
}
# api_reason: the last round's reason of llm-api over line 1 for KIND.
api_reason() {
  status | python3 -c "
import json, sys
for s in json.load(sys.stdin)['series']:
    if s['line'] == 'cn2-gia-1' and s['target'] == 'llm-api' and s['kind'] == '$1':
        print(s['latest']['reason'] if not s['latest']['ok'] else 'ok')"
}

for code in 429 500; do
  step "the API answers $code: no failover"
  far curl -sf -X POST -d "{\"status\":$code}" http://198.19.255.1/mock/config >/dev/null ||
    fail "mockllm refused the control request"
  no_failover 4 "HTTP $code"
  r=$(api_reason http)
  [ "$r" = http_status ] || fail "HTTP $code: the http round's reason is '$r', not http_status"
  echo "  4 s of HTTP $code (round reason $r): route stayed via line 1, no line down or degraded"
done
far curl -sf -X POST -d '{"status":0}' http://198.19.255.1/mock/config >/dev/null

step "the API's server stops (ICMP still answers): destination down, no failover"
m=$(mark)
pid=$(cat "/run/$name/mockllm.pid")
# The lab's own mockllm, checked by its command line before it is ended.
tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--token-file /run/$name/token" || fail "mockllm pid $pid is not this lab's"
kill "$pid"
no_failover 5 "mockllm stopped"
r=$(api_reason tcp)
[ "$r" = refused ] || fail "with mockllm stopped the tcp round's reason is '$r', not refused"
[ -n "$(events "$m" destination_down)" ] || fail "no destination_down event"
echo "  5 s refused (tcp round reason $r): $(events "$m" destination_down | grep -o 'target=[^ ]*' | head -1) down, route stayed via line 1, no line down or degraded"
lab up >/dev/null
wait_stable 30

step "calm: line 1 at 10 % random loss for ${calm_s} s, fast profile"
# The agent's echoes are not exposed one by one, so an fping stream of the
# same cadence (10 ms) over the same line stands in for them: its runs of 3+
# lost echoes in a row are what a naive "3 misses = down" rule would trip on.
m=$(mark)
lab set 1 --loss 10% >/dev/null
# fping -C prints one figure per echo in order, "-" for a lost one (stderr).
ip netns exec "$name-gw" fping -q -S 198.18.1.1 -C $((calm_s * 100)) -p 10 -t 1000 \
  198.19.255.1 2>"$work/fping.txt" >/dev/null &
ping_pid=$!
wait "$ping_pid" || true  # fping exits 1 when some echoes were lost
ping_pid=""
lab set 1 --loss 0% >/dev/null
downs=$(events "$m" line_down cn2-gia-1 | wc -l)
degraded=$(events "$m" line_degraded cn2-gia-1 | wc -l)
python3 - "$work/fping.txt" <<'PY' || fail "no fping figures"
import sys
echoes = open(sys.argv[1]).read().split(":", 1)[1].split()
runs = run = longest = 0
for e in echoes:
    run = run + 1 if e == "-" else 0
    longest = max(longest, run)
    runs += run == 3
lost = echoes.count("-")
print(f"  fping, 10 ms over line 1: {lost} of {len(echoes)} lost ({100 * lost / len(echoes):.1f} %), "
      f"longest run {longest}; a naive 3-miss rule would have tripped {runs} times")
sys.exit(0 if len(echoes) > 0 else 1)
PY
echo "  agent: $downs line_down for cn2-gia-1 (detect 100 ms = 10 echoes lost in a row); $degraded line_degraded (loss SLA 2 %)"
((downs == 0)) || fail "random loss took line 1 down $downs times: $(events "$m" line_down cn2-gia-1)"

kill "$agent_pid"
wait "$agent_pid" 2>/dev/null || true
agent_pid=""
echo "failover: all checks passed ($((SECONDS - started)) s)"

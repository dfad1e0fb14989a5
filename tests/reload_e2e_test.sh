#!/usr/bin/env bash
# Config reload end to end on loopback (docs/api.md, "Reload"):
#  (a) SIGHUP with a broken file: refused, the log names FILE:LINE, a
#      config_reload_failed event and linewatch_config_last_reload_successful 0;
#      the agent goes on probing its old targets;
#  (b) POST /-/reload: 401 without or with a wrong token; with the token 200
#      after adding a target: the new target's rounds appear in the status
#      while the old series' round counts keep growing (not reset);
#  (c) an alert firing before the reload (TCP to a closed port, a fast rule)
#      still fires after it, with its original start time, and the webhook
#      receiver got one firing notice, not two;
#  (d) with routes: reloads that leave the routes alone (a target added; the
#      health options changed, which rebuilds the failover) keep the plan
#      version.
# Traffic goes to 127.0.0.1 only; every process is the test's own, stopped by PID.
set -euo pipefail
bin=$(realpath "${1:?usage: reload_e2e_test.sh PATH/TO/linewatch}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/linewatch-reload.XXXXXX)
agent_pid=""
hook_pid=""
trap 'stop_pid "$agent_pid"; stop_pid "$hook_pid"; rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "== $f"; sed 's/^/  /' "$f"; } >&2; done
  exit 1
}
# shellcheck source=support/e2e_lib.sh
source "$here/support/e2e_lib.sh"
api=$(free_port)
hook=$(free_port)
closed=$(free_port)
url="http://127.0.0.1:$api"
token="reload-token-$RANDOM$RANDOM-0123456789"
printf '%s\n' "$token" >"$work/token"
printf 'hook-secret-%s\n' "$RANDOM$RANDOM" >"$work/hook.key"

python3 "$here/lab/hook_receiver.py" 127.0.0.1 "$hook" "$work/hooks.jsonl" >"$work/hook.log" 2>&1 &
hook_pid=$!
for _ in $(seq 1 50); do curl -s -o /dev/null -X POST --data '' "http://127.0.0.1:$hook/ready" && break; sleep 0.1; done

# write_config EXTRA_TARGETS: the agent's file; `up` answers (the hook
# receiver's port), `shut` is refused and fires the alert `shut-down`.
write_config() {
  cat >"$work/agent.yaml" <<YAML
agent: { id: reload-e2e, listen: 127.0.0.1:$api, data_dir: data, api_token_file: token }
storage: { flush_interval: 100ms }
probes:
  tcp: { interval: 300ms, timeout: 200ms }
lines:
  - { id: lo, source: 127.0.0.1 }
targets:
  - { id: up, tcp: '127.0.0.1:$hook' }
  - { id: shut, tcp: '127.0.0.1:$closed' }
$1
alerts:
  defaults: false
  rules:
    - { name: shut-down, metric: failures, match: { target: shut }, window: 3s, above: 0, for: 1s, severity: critical, repeat: 1h }
notify:
  - { id: ops, kind: webhook, url: "http://127.0.0.1:$hook/hook", secret_file: hook.key }
YAML
}
# get PATH: the API's answer body.
get() { curl -sS --max-time 5 "$url$1"; }
# py EXPR: a Python expression over the JSON document on stdin, `d`.
py() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
rounds() { get /api/v1/status | py "sum(s['window']['rounds'] for s in d['series'] if s['target']=='$1')"; }
alert_since() { get /api/v1/alerts | py "([a['since'] for a in d['alerts'] if a['rule'] == 'shut-down' and a['state'] == 'firing'] + [''])[0]"; }
firing_notices() {
  python3 - "$work/hooks.jsonl" <<'PY'
import base64, json, sys
n = 0
try:
    for line in open(sys.argv[1]):
        raw = base64.b64decode(json.loads(line)["body_b64"])
        body = json.loads(raw) if raw else {}  # the readiness poke has none
        n += body.get("status") == "firing" and body.get("rule") == "shut-down"
except FileNotFoundError:
    pass
print(n)
PY
}
metric() { get /metrics | awk -v m="$1" '$1 == m { print $2 }'; }
# until_true SECONDS 'SHELL TEXT': evaluates the text (its $(...) afresh each
# time) every 0.1 s until it succeeds; bounded.
until_true() {
  for _ in $(seq 1 $(($1 * 10))); do eval "$2" && return 0; sleep 0.1; done
  return 1
}

write_config ""
cd "$work"
"$bin" run -c "$work/agent.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!
until_true 10 'grep -q "msg=\"started\"" "$work/agent.log"' || fail "agent did not start"
grep -q "$token" "$work/agent.log" && fail "the token is in the log"

# The alert fires and its one notice reaches the receiver.
until_true 15 'test -n "$(alert_since)"' || fail "shut-down never fired"
since=$(alert_since)
until_true 10 'test "$(firing_notices)" -eq 1' || fail "no firing notice at the receiver"

# (a) SIGHUP with a broken file.
cp "$work/agent.yaml" "$work/good.yaml"
write_config "  - { id: typo, tcp: { host: 127.0.0.1, port: $hook, interval: 5ms } }"
kill -HUP "$agent_pid"
until_true 10 'grep -q "msg=\"config not reloaded\"" "$work/agent.log"' || fail "no refusal logged"
grep -Eq "msg=\"config not reloaded\" error=\"$work/agent.yaml:10:[0-9]+: targets\[2\]\.tcp\.interval: " "$work/agent.log" ||
  fail "the refusal does not name FILE:LINE:COL and the key"
until_true 5 'test "$(metric linewatch_config_last_reload_successful)" = 0' || fail "the gauge is not 0"
[ "$(metric 'linewatch_config_reloads_total{result="failure"}')" = 1 ] || fail "failures not counted"
until_true 5 'get "/api/v1/events?kind=config_reload_failed" | grep -q "targets\[2\].tcp.interval"' ||
  fail "no config_reload_failed event with the first error"
expect 0 "config_reload_failed" "$bin" events --agent "$url" --kind config_reload_failed
kill -0 "$agent_pid" || fail "the agent died on SIGHUP"
r1=$(rounds up)
until_true 5 'test "$(rounds up)" -gt "$r1"' || fail "probing stopped after a refused reload"
[ "$(rounds typo)" = 0 ] || fail "the refused target is probed"

# (b) POST /-/reload: tokens, then a good reload adding a target.
write_config "  - { id: added, tcp: '127.0.0.1:$hook' }"
code=$(curl -sS -o "$work/r.json" -w '%{http_code}' -X POST --data '' "$url/-/reload")
[ "$code" = 401 ] || fail "no token: $code $(cat "$work/r.json")"
curl -sS -D - -o /dev/null -X POST --data '' "$url/-/reload" | grep -qi '^WWW-Authenticate: Bearer' ||
  fail "401 without WWW-Authenticate: Bearer"
code=$(curl -sS -o "$work/r.json" -w '%{http_code}' -X POST --data '' -H "Authorization: Bearer wrong-$token" "$url/-/reload")
[ "$code" = 401 ] || fail "wrong token: $code $(cat "$work/r.json")"
before_up=$(rounds up)
code=$(curl -sS -o "$work/r.json" -w '%{http_code}' -X POST --data '' -H "Authorization: Bearer $token" "$url/-/reload")
[ "$code" = 200 ] || fail "good reload: $code $(cat "$work/r.json")"
py 'd["status"] == "reloaded" and d["generation"] == 2 and d["config"].endswith("agent.yaml")' <"$work/r.json" | grep -q True ||
  fail "the reload answer is wrong: $(cat "$work/r.json")"
until_true 10 'test "$(rounds added)" -gt 0' || fail "the added target has no rounds"
until_true 5 'test "$(rounds up)" -gt "$before_up"' || fail "the old series' rounds were reset or stopped"
until_true 5 'test "$(metric linewatch_config_last_reload_successful)" = 1' || fail "the gauge is not back to 1"
[ "$(metric 'linewatch_config_reloads_total{result="success"}')" = 1 ] || fail "successes not counted"
expect 0 "config_reloaded" "$bin" events --agent "$url" --kind config_reloaded
grep -q "$token" "$work/agent.log" && fail "the token is in the log"

# (c) The alert fired before the reload still fires, from the same start, notified once.
sleep 2
[ "$(alert_since)" = "$since" ] || fail "the alert started over: $since -> $(alert_since)"
[ "$(firing_notices)" -eq 1 ] || fail "a second firing notice went out: $(firing_notices)"

stop_pid "$agent_pid"
agent_pid=""

# (d) Routes: the plan version survives reloads.
api=$(free_port)
url="http://127.0.0.1:$api"
mkdir "$work/fo"
cd "$work/fo"
write_routes() {
  cat >"$work/fo/fo.yaml" <<YAML
agent: { id: reload-fo, listen: 127.0.0.1:$api, data_dir: data }
lines:
  - { id: l1, source: 127.0.0.1, gateway: 127.0.0.11 }
  - { id: l2, source: 127.0.0.2, gateway: 127.0.0.12 }
targets:
  - { id: refl, icmp: { host: 127.0.0.1, interval: 5s } }
$1
liveness: { interval: 20ms, detect: 200ms }
routes:
  - { prefix: 198.19.1.0/24, lines: [l1] }
  - { prefix: 198.19.2.0/24, lines: [l2] }
$2
YAML
}
write_routes "" ""
"$bin" run -c "$work/fo/fo.yaml" >"$work/fo.log" 2>&1 &
agent_pid=$!
until_true 10 'grep -q "msg=\"started\"" "$work/fo.log"' || fail "the routes agent did not start"
plan_version() { get /api/v1/routes | py 'd["plan"]["version"]'; }
until_true 10 'test "$(plan_version)" -ge 1' || fail "no plan within 10s"
sleep 1
version=$(plan_version)
write_routes "  - { id: extra, tcp: '127.0.0.1:$closed' }" ""
kill -HUP "$agent_pid"
until_true 10 'grep -q "event=config_reloaded.*failover kept" "$work/fo.log"' || fail "no reload keeping the failover"
write_routes "  - { id: extra, tcp: '127.0.0.1:$closed' }" "health: { rise: 4 }"
kill -HUP "$agent_pid"
until_true 10 'grep -q "event=config_reloaded.*failover rebuilt" "$work/fo.log"' || fail "no reload rebuilding the failover"
sleep 2  # past the new failover's startup: every line has evidence again
[ "$(plan_version)" = "$version" ] || fail "a reload moved the plan: version $version -> $(plan_version)"
get /api/v1/routes | py 'd["failover"]' | grep -q True || fail "the failover is gone"
stop_pid "$agent_pid"
agent_pid=""
echo "PASS"

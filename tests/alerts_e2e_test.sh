#!/usr/bin/env bash
# Alerts end to end on loopback: an HTTP probe towards a closed port makes the
# rule `web-down` (failures above 0 for 2s) fire; `linewatch alerts` and
# /api/v1/alerts show it, the notice is logged without the receiver's secret;
# then a python3 http.server opens the port, the failures leave the 3s window
# and the alert resolves; `linewatch alerts --history` lists its pending,
# firing and resolved events from storage. Traffic goes to 127.0.0.1 only.
set -euo pipefail
bin=$(realpath "${1:?usage: alerts_e2e_test.sh PATH/TO/linewatch}")
work=$(mktemp -d /tmp/linewatch-alerts.XXXXXX)
agent_pid=""
web_pid=""
trap 'stop_pid "$web_pid"; stop_pid "$agent_pid"; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2; exit 1; }
# shellcheck source=support/e2e_lib.sh
source "$(dirname "$0")/support/e2e_lib.sh"
api=$(free_port)
web=$(free_port)
url="http://127.0.0.1:$api"
secret="hook-secret-$RANDOM$RANDOM"
printf '%s\n' "$secret" >"$work/hook.key"
mkdir "$work/www"
echo ok >"$work/www/index.html"
cat >"$work/alerts.yaml" <<YAML
agent: { id: alert-e2e, listen: 127.0.0.1:$api, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  http: { interval: 500ms, timeout: 300ms }
lines:
  - { id: lo-a, source: 127.0.0.1 }
targets:
  - { id: web, http: "http://127.0.0.1:$web/" }
alerts:
  defaults: false
  rules:
    - { name: web-down, metric: failures, window: 3s, above: 0, for: 2s, severity: critical }
notify:
  - { id: ops, kind: webhook, url: "http://127.0.0.1:$web/hook", secret_file: $work/hook.key }
YAML

# Usage and environment errors first: exit 2.
expect 2 "no agent answering at $url" "$bin" alerts --agent "$url"
expect 2 "no agent answering at $url" "$bin" alerts --history --agent "$url"
expect 2 "requires --history|--history" "$bin" alerts --since 1h --agent "$url"

cd "$work"
"$bin" run -c "$work/alerts.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do grep -q 'msg="started"' "$work/agent.log" && break; sleep 0.1; done
grep -q 'msg="started"' "$work/agent.log" || fail "agent did not start"

# until_exit CODE PATTERN SECONDS: polls `linewatch alerts` until it exits CODE
# with PATTERN in its table.
until_exit() {
  local want=$1 pattern=$2 out code
  for _ in $(seq 1 $(($3 * 4))); do
    kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
    set +e; out=$("$bin" alerts --agent "$url" 2>&1); code=$?; set -e
    [ "$code" -eq "$want" ] && echo "$out" | grep -Eq -- "$pattern" && return 0
    sleep 0.25
  done
  fail "alerts never exited $want with /$pattern/; last ($code): $out"
}

# Refused rounds: pending at the first evaluation, firing 2s later.
until_exit 1 "^firing +web-down +lo-a:web:http " 15
expect 1 "STATE +RULE +SCOPE +SINCE +VALUE +THRESHOLD" "$bin" alerts -c "$work/alerts.yaml"
"$bin" alerts --agent "$url" --json >"$work/alerts.json" && fail "alerts --json exited 0 while firing"
python3 - "$work/alerts.json" <<'PY' || fail "alerts --json is wrong: $(cat "$work/alerts.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["agent"] == "alert-e2e" and doc["evaluated"], doc
[a] = doc["alerts"]
assert a["rule"] == "web-down" and a["state"] == "firing" and a["held"] is False, a
assert a["scope"] == {"line": "lo-a", "target": "web", "kind": "http"}, a
assert a["severity"] == "critical" and a["key"] == "lo-a:web:http", a
assert a["threshold"] == {"text": "0", "number": 0}, a
assert a["value"]["number"] >= 1 and a["value"]["text"] == str(a["value"]["number"]), a
assert a["summary"].startswith("web-down: lo-a → web (http) failures "), a
PY
# The same document straight from the API, and its errors in JSON.
python3 - "$url" <<'PY' || fail "/api/v1/alerts answered wrongly"
import json, sys, urllib.request, urllib.error
base = sys.argv[1]
with urllib.request.urlopen(base + "/api/v1/alerts", timeout=5) as r:
    assert r.status == 200 and r.headers["Content-Type"] == "application/json"
    assert json.load(r)["alerts"][0]["state"] == "firing"
for path, param in (("/api/v1/alerts?state=firing", "state"),
                    ("/api/v1/alerts/history?kind=line_down", "kind"),
                    ("/api/v1/alerts/history?limit=0", "limit")):
    try:
        urllib.request.urlopen(base + path, timeout=5)
        raise SystemExit(path + " was not refused")
    except urllib.error.HTTPError as e:
        assert e.code == 400 and json.load(e)["parameter"] == param, path
PY
# One notice went to the log for the receiver `ops`; the key never shows.
grep -q 'msg="alert notice" notice="alert-e2e/web-down/lo-a:web:http/[0-9]*-1/firing" rule="web-down" status=firing severity=critical receivers="ops"' \
  "$work/agent.log" || fail "no firing notice in the log"
grep -q "$secret" "$work/agent.log" && fail "the receiver's key is in the log"

# The port opens: rounds answer, the failures leave the 3s window, resolved.
python3 -m http.server "$web" --bind 127.0.0.1 --directory "$work/www" >"$work/web.log" 2>&1 &
web_pid=$!
until_exit 0 "0 firing, 0 pending" 20
grep -q 'msg="alert notice" notice="alert-e2e/web-down/lo-a:web:http/[0-9]*-1/resolved"' \
  "$work/agent.log" || fail "no resolved notice in the log"

# The history comes from storage, newest first.
for _ in $(seq 1 20); do
  "$bin" alerts --history --since 1h --agent "$url" --json >"$work/history.json" || fail "history failed"
  grep -q alert_resolved "$work/history.json" && break
  sleep 0.25
done
python3 - "$work/history.json" <<'PY' || fail "alerts --history is wrong: $(cat "$work/history.json")"
import json, sys
events = json.load(open(sys.argv[1]))["events"]
kinds = [e["kind"] for e in events if e["detail"].startswith("web-down lo-a:web:http")]
assert kinds == ["alert_resolved", "alert_firing", "alert_pending"], kinds
assert all(e["line"] == "lo-a" and e["target"] == "web" for e in events), events
PY
expect 0 "^[0-9T:.Z-]+ +resolved +web-down +lo-a:web:http +cleared " "$bin" alerts --history --agent "$url"
expect 0 " firing +web-down +lo-a:web:http +failures " "$bin" alerts --history --line lo-a --agent "$url"
expect 0 "^0 alert events" "$bin" alerts --history --line nosuch --agent "$url"
# The events path shows them too.
expect 0 "alert_firing +lo-a +web +failures +web-down" "$bin" events --kind alert_firing --agent "$url"

stop_pid "$web_pid"
web_pid=""
stop_pid "$agent_pid"
agent_pid=""
echo "PASS"

#!/usr/bin/env bash
# Alert notifications end to end on loopback, through the notifier outbox:
# a python3 webhook receiver on 127.0.0.1 records every POST (headers and
# body) and also serves the probed page, whose status the test sets.
#   1. the page answers 503: the rule fires; the firing notification arrives,
#      signed (HMAC-SHA256 checked in python with the key) and with an
#      Idempotency-Key equal to its id;
#   2. the page answers 200: the resolved notification follows;
#   3. the receiver is killed: the probe is refused, a new episode fires, its
#      notification waits in the outbox (`linewatch alerts` and the API say
#      so, a notify_failed event is stored);
#   4. the receiver comes back: the waiting firing and then the resolved
#      notification arrive, in order, and notify_delivered is stored;
#   5. `linewatch notify-test` against the receiver: 0 when it takes it,
#      1 when it is down, 2 for an unknown receiver;
#   6. a receiver whose URL variable is unset stops `linewatch run` with its
#      key named.
# The key never shows in the log, the API, the CLI or the database. Traffic goes to
# 127.0.0.1 only; every process is stopped by its PID.
set -euo pipefail
bin=$(realpath "${1:?usage: alerts_outbox_e2e_test.sh PATH/TO/linewatch}")
work=$(mktemp -d /tmp/linewatch-outbox.XXXXXX)
agent_pid=""
hook_pid=""
trap 'stop_pid "$hook_pid"; stop_pid "$agent_pid"; rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2
  [ -f "$work/posts.jsonl" ] && sed 's/^/  posted: /' "$work/posts.jsonl" >&2
  exit 1
}
# shellcheck source=support/e2e_lib.sh
source "$(dirname "$0")/support/e2e_lib.sh"
api=$(free_port)
hook=$(free_port)
url="http://127.0.0.1:$api"
secret="outbox-e2e-key-$RANDOM$RANDOM"
printf '  %s\n' "$secret" >"$work/hook.key"  # blanks around it are not part of it
echo 503 >"$work/health"

cat >"$work/hook.py" <<'PY'
# POST: appends {"path","headers","body"} to posts.jsonl, answers 200 {}.
# GET: answers with the status written in the file `health`.
import http.server, json, sys
port, work = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(work + "/posts.jsonl", "a") as f:
            f.write(json.dumps({"path": self.path, "headers": dict(self.headers),
                                "body": body.decode()}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def do_GET(self):
        status = int(open(work + "/health").read())
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
start_hook() {
  python3 "$work/hook.py" "$hook" "$work" >>"$work/hook.log" 2>&1 &
  hook_pid=$!
  for _ in $(seq 1 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $hook), 1)" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "the receiver did not start"
}

cat >"$work/outbox.yaml" <<YAML
agent: { id: outbox-e2e, listen: 127.0.0.1:$api, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  http: { interval: 500ms, timeout: 300ms }
lines:
  - { id: lo-a, source: 127.0.0.1 }
targets:
  - { id: web, http: "http://127.0.0.1:$hook/health" }
alerts:
  defaults: false
  rules:
    - { name: web-down, metric: failures, window: 2s, above: 0, for: 1s, severity: critical }
notify:
  - { id: ops, kind: webhook, url: "http://127.0.0.1:$hook/hook", secret_file: $work/hook.key, timeout: 2s }
YAML

# check_posts STATUS...: the recorded POSTs, in order, have these statuses; each
# is signed with the key, its Idempotency-Key is its id, and the firing and
# resolved ones of an episode share the id's prefix. Prints the ids.
check_posts() {
  python3 - "$work/posts.jsonl" "$secret" "$@" <<'PY'
import hashlib, hmac, json, sys, time
path, key, want = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
posts = [json.loads(l) for l in open(path)] if want else []
got = [json.loads(p["body"])["status"] for p in posts]
if got != want:
    sys.exit("statuses %s, want %s" % (got, want))
for p in posts:
    h, body = p["headers"], p["body"].encode()
    stamp = h["X-Linewatch-Timestamp"]
    mac = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest("sha256=" + mac, h["X-Linewatch-Signature"]), p
    assert abs(time.time() * 1000 - int(stamp)) < 120_000, p
    doc = json.loads(body)
    assert h["Idempotency-Key"] == doc["id"], p
    assert p["path"] == "/hook" and h["Content-Type"].startswith("application/json"), p
    assert doc["agent"] == "outbox-e2e" and doc["version"] == 1, doc
    if doc["status"] != "test":
        assert doc["rule"] == "web-down" and doc["severity"] == "critical", doc
        assert doc["labels"] == {"line": "lo-a", "target": "web", "kind": "http",
                                 "rule": "web-down", "severity": "critical"}, doc
        assert (doc["ends_at"] is None) == (doc["status"] == "firing"), doc
    print(doc["id"])
PY
}
# until_posts SECONDS STATUS...: waits for exactly these POSTs.
until_posts() {
  local limit=$1; shift
  for _ in $(seq 1 $((limit * 4))); do
    [ -f "$work/posts.jsonl" ] && [ "$(wc -l <"$work/posts.jsonl")" -ge $# ] && break
    sleep 0.25
  done
  check_posts "$@" >"$work/ids" || fail "the receiver did not get $* (signed, keyed)"
}

start_hook
cd "$work"
"$bin" run -c "$work/outbox.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do grep -q 'msg="started"' "$work/agent.log" && break; sleep 0.1; done
grep -q 'msg="started"' "$work/agent.log" || fail "agent did not start"

# 1 and 2: 503s fire the rule, 200s resolve it; both notifications arrive.
until_posts 20 firing
echo 200 >"$work/health"
until_posts 20 firing resolved
first=$(head -1 "$work/ids")
case "$first" in
  outbox-e2e/web-down/lo-a:web:http/*-1/firing) ;;
  *) fail "unexpected notification id $first" ;;
esac
[ "$(sed -n 2p "$work/ids")" = "${first%/firing}/resolved" ] || fail "resolved id: $(cat "$work/ids")"
expect 0 "0 firing, 0 pending" "$bin" alerts --agent "$url"
"$bin" alerts --agent "$url" | grep -q '^outbox:' && fail "an outbox line with nothing waiting"

# 3: the receiver goes; the probe is refused, the rule fires again and its
# notification waits in the outbox.
stop_pid "$hook_pid"
hook_pid=""
for _ in $(seq 1 80); do
  out=$("$bin" alerts --agent "$url" 2>&1) || true
  echo "$out" | grep -Eq "^outbox: ops 1 pending, failing \(refused: connection refused by 127.0.0.1:$hook\)" && break
  sleep 0.25
done
echo "$out" | grep -Eq "^outbox: ops 1 pending, failing" || fail "no outbox line while the receiver is down: $out"
python3 - "$url" "$hook" <<'PY' || fail "/api/v1/alerts lacks the outbox"
import json, sys, urllib.request
doc = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/alerts", timeout=5))
[r] = doc["outbox"]["receivers"]
assert r["id"] == "ops" and r["kind"] == "webhook" and r["failing"] is True, r
assert r["pending"] == 1 and r["parked"] == 0 and r["delivered"] == 2, r
assert r["last_reason"] == "refused" and r["oldest"], r
assert r["last_error"] == "connection refused by 127.0.0.1:%s" % sys.argv[2], r
assert doc["outbox"]["error"] is None, doc
PY
for _ in $(seq 1 20); do
  "$bin" events --kind notify_failed --agent "$url" 2>&1 | grep -q "refused" && break
  sleep 0.25
done
expect 0 "notify_failed +- +ops +refused +ops: connection refused by 127.0.0.1:$hook" \
  "$bin" events --kind notify_failed --agent "$url"

# 4: back up, answering 200: the waiting firing goes, then the resolved.
start_hook
until_posts 40 firing resolved firing resolved
second=$(sed -n 3p "$work/ids")
case "$second" in
  outbox-e2e/web-down/lo-a:web:http/*-2/firing) ;;
  *) fail "unexpected second episode id $second" ;;
esac
[ "$(sed -n 4p "$work/ids")" = "${second%/firing}/resolved" ] || fail "ids: $(cat "$work/ids")"
for _ in $(seq 1 20); do
  "$bin" events --kind notify_delivered --agent "$url" 2>&1 | grep -q recovered && break
  sleep 0.25
done
expect 0 "notify_delivered +- +ops +recovered +ops took notification $second after " \
  "$bin" events --kind notify_delivered --agent "$url"
grep -q 'event=notify_failed target=ops reason=refused' "$work/agent.log" || fail "notify_failed not logged"

# 5: notify-test, straight to the receiver.
expect 0 "^ops \(webhook\): ok ok HTTP 200 in [0-9]+ ms: 127.0.0.1:$hook answered HTTP 200" \
  "$bin" notify-test ops -c "$work/outbox.yaml"
until_posts 5 firing resolved firing resolved test
case "$(sed -n 5p "$work/ids")" in
  outbox-e2e/notify-test/ops/*) ;;
  *) fail "test notification id: $(cat "$work/ids")" ;;
esac
expect 2 'no receiver "nosuch" in notify: \(receivers: ops\)' \
  "$bin" notify-test nosuch -c "$work/outbox.yaml"
expect 0 "Exit codes: 0 the receiver took it" "$bin" notify-test --help

for f in agent.log; do grep -q "$secret" "$work/$f" && fail "the key is in $f"; done
"$bin" alerts --agent "$url" --json | grep -q "$secret" && fail "the key is in the API"

stop_pid "$agent_pid"
agent_pid=""
# Nor in the database: the outbox keeps notifications, never the key (raw
# bytes of the file and its WAL, whatever table a copy might have gone to).
for f in "$work"/data/linewatch.db*; do
  [ -f "$f" ] || continue
  grep -aq -- "$secret" "$f" && fail "the key is in $(basename "$f")"
done
[ -f "$work/data/linewatch.db" ] || fail "no database under $work/data"
stop_pid "$hook_pid"
hook_pid=""
expect 1 "^ops \(webhook\): transient refused in [0-9]+ ms: connection refused by 127.0.0.1:$hook" \
  "$bin" notify-test ops -c "$work/outbox.yaml"

# 6: a receiver whose URL variable is not set: no start, the key named.
cat >"$work/unset.yaml" <<YAML
agent: { id: outbox-e2e, listen: 127.0.0.1:$api, data_dir: data-unset }
lines:
  - { id: lo-a, source: 127.0.0.1 }
targets:
  - { id: web, http: "http://127.0.0.1:$hook/health" }
notify:
  - { id: wx, kind: wecom, url_env: LINEWATCH_E2E_UNSET_HOOK }
YAML
unset LINEWATCH_E2E_UNSET_HOOK
expect 0 ": ok" "$bin" check-config "$work/unset.yaml"
expect 2 "unset.yaml: notify\[0\].url_env: environment variable LINEWATCH_E2E_UNSET_HOOK is not set" \
  "$bin" run -c "$work/unset.yaml"
expect 2 "notify\[0\].url_env: environment variable LINEWATCH_E2E_UNSET_HOOK is not set" \
  "$bin" notify-test wx -c "$work/unset.yaml"
echo "PASS"

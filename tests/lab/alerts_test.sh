#!/usr/bin/env bash
# Alerts end to end on the line lab: the agent runs in the gateway namespace
# over three 150 ms lines with two receivers on the namespace's loopback, a
# webhook (tests/lab/hook_receiver.py, recording every POST) and a real
# Alertmanager (Debian's prometheus-alertmanager, its own config and storage
# in a temp dir). Short windows and `for` so it all fits in about 65 s:
#   (a) 2 % loss on line 1: one `loss` alert reaches the webhook, at most
#       `for` + one interval after its condition began (`starts_at`), with
#       the line, value and threshold in the body and a valid HMAC signature
#       over "timestamp.body"; `linewatch alerts` lists it as firing; once the
#       loss is gone, a signed `resolved` notification for the same alert;
#       no loss alert for lines 2 and 3, and no second one for line 1;
#   (b) Alertmanager's own API (GET /api/v2/alerts) lists that alert with
#       alertname, agent, line and severity labels while it fires, and no
#       longer once it is resolved;
#   (c) line 2 capped at 4 Mbit/s by linesim and filled by one bulk TCP flow
#       (tests/lab/bulk_tcp.py, gateway to far end over line 2): its counters
#       show the line full (capacity 4Mbps), the flow's goodput stays at the
#       cap, and a `bandwidth` alert fires for line 2 with utilisation over
#       80 %; it resolves once the flow stops.
# At the end the agent's outbox has delivered everything to both receivers
# (nothing pending or parked) and no other rule notified anything.
# All traffic stays on loopback and inside the lab's namespaces; every
# process the test starts is ended by its PID. Needs root (exit 77 =
# skipped otherwise) and prometheus-alertmanager (installed by scripts/setup.sh).
#
#   alerts_test.sh BUILD_DIR
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "alerts_test: skipped, needs root"; exit 77; }
am_bin=/usr/bin/prometheus-alertmanager
# scripts/setup.sh installs it: missing, the setup is broken, and that is a failure.
[ -x "$am_bin" ] || { echo "alerts_test: FAIL: no $am_bin (Debian prometheus-alertmanager; run scripts/setup.sh)"; exit 1; }
build=$(cd "${1:?usage: alerts_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/agent/linewatch
# The interpreter itself (not a wrapper script), so $! is the process to end.
py=$(python3 -c 'import sys; print(sys.executable)')
name=lwalert$$
hook_port=9400
am_port=9093
sink_port=5201
rate_mbps=4     # line 2's cap in (c), also its configured capacity
loss_for_s=5    # the loss rule's `for`
interval_s=1    # ICMP rounds and rule evaluations
started=$SECONDS
lab() { timeout 60 bash "$here/lab.sh" --name "$name" --build "$build" "$@"; }
gw() { timeout 10 ip netns exec "$name-gw" "$@"; }
work=$(mktemp -d /tmp/linewatch-alerts.XXXXXX)
log=$work/agent.log
records=$work/hook.jsonl
pids=()  # started here, ended by PID in reverse order
agent_pid=""
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1"
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop_pid "$agent_pid"
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "$log" ] || { echo "--- agent log" >&2; tail -n 30 "$log" >&2; }
  [ ! -s "$work/hook.out" ] || { echo "--- webhook receiver" >&2; tail -n 10 "$work/hook.out" >&2; }
  exit 1
}
step() { echo "== $* ($((SECONDS - started)) s)"; }
now_ms() { date +%s%3N; }

lab up --lines 3 >/dev/null
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 0ms >/dev/null; done
: >"$records"
(umask 077 && head -c 24 /dev/urandom | base64 >"$work/hook.key")

# 50 echoes a second per line: a 20 s window holds 1000, so 2 % loss reads
# 2 % ± 0.45 (one sigma) and stays above the 1 % threshold, while the
# restored line falls below the 0.5 % clear within about 15 s.
cat >"$work/alerts.yaml" <<YAML
agent: { id: alert-lab, listen: 127.0.0.1:9464, data_dir: data, workers: 8 }
storage: { flush_interval: 200ms }
probes:
  icmp: { interval: ${interval_s}s, timeout: 500ms, pings: 50, spacing: 10ms }
lines:
  - { id: cn2-gia-1, source: 198.18.1.1, gateway: 198.18.1.2, capacity: 500Mbps }
  - { id: cu-vip-2, interface: l2, gateway: 198.18.2.2, capacity: ${rate_mbps}Mbps, counters: l2 }
  - { id: cmi-3, fwmark: 3, gateway: 198.18.3.2, capacity: 200Mbps }
targets:
  - { id: provider-edge, icmp: 198.19.255.1 }
alerts:
  rules:   # named like the defaults they replace, with windows fit for a test
    - { name: loss, metric: loss, scope: line, match: { kind: icmp }, window: 20s,
        above: 1%, clear: 0.5%, for: ${loss_for_s}s }
    - { name: bandwidth, metric: bandwidth_utilisation, window: 10s, above: 80%, clear: 70%,
        for: 3s }
notify:
  - { id: hook, kind: webhook, url: http://127.0.0.1:$hook_port/hook, secret_file: hook.key }
  - { id: am, kind: alertmanager, url: http://127.0.0.1:$am_port }
YAML
lab exec "$bin" check-config "$work/alerts.yaml" >/dev/null || fail "check-config refused the config"

cat >"$work/am.yml" <<'YAML'
route: { receiver: blackhole, group_wait: 1s }
receivers: [ { name: blackhole } ]
YAML

# ip netns exec execs, so each $! is the program itself.
ip netns exec "$name-gw" "$py" "$here/hook_receiver.py" 127.0.0.1 "$hook_port" "$records" \
  "$work/hook.key" >"$work/hook.out" 2>&1 &
pids+=($!)
ip netns exec "$name-gw" "$am_bin" --config.file="$work/am.yml" --storage.path="$work/am" \
  --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= --log.level=warn \
  >"$work/am.log" 2>&1 &
pids+=($!)
for ((i = 0; i < 40; i++)); do
  gw curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null 2>&1 && break
  sleep 0.25
done
gw curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null || fail "alertmanager not ready: $(tail -3 "$work/am.log")"

# notices FILTER: the webhook's notifications so far, as JSON lines, each
# with the check of its signature; FILTER is a python expression over `n`
# (the body) and `r` (the record).
cat >"$work/notices.py" <<'PY'
import base64, hashlib, hmac, json, sys
records, key_file, expr = sys.argv[1:4]
key = open(key_file, "rb").read().strip()
for line in open(records):
    r = json.loads(line)
    body = base64.b64decode(r["body_b64"])
    h = r["headers"]
    stamp = h.get("x-linewatch-timestamp", "")
    mac = hmac.new(key, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    n = json.loads(body)
    n["_signed"] = hmac.compare_digest("sha256=" + mac, h.get("x-linewatch-signature", ""))
    n["_idempotency"] = h.get("idempotency-key") == n["id"]
    n["_received_ms"] = r["received_ms"]
    n["_stamp_ms"] = int(stamp) if stamp.isdigit() else None
    if eval(expr):
        print(json.dumps(n))
PY
notices() { python3 "$work/notices.py" "$records" "$work/hook.key" "$1"; }
# wait_notice SECONDS WHAT FILTER: polls the webhook's records until one
# matches FILTER; prints it.
wait_notice() {
  local deadline=$((SECONDS + $1)) got
  while ((SECONDS < deadline)); do
    got=$(notices "$3" | head -1)
    [ -z "$got" ] || { echo "$got"; return 0; }
    sleep 0.25
  done
  fail "no $2 at the webhook within $1 s; it got: $(notices True | cut -c1-200)"
}
am_alerts() { gw curl -sf "http://127.0.0.1:$am_port/api/v2/alerts"; }

step "agent starts: ICMP rounds on every line, no alert"
bash "$here/lab.sh" --name "$name" --build "$build" exec "$bin" run -c "$work/alerts.yaml" >"$log" 2>&1 &
agent_pid=$!
# Exit 1 only says a line is down, which these steps cause on purpose.
status() { lab exec "$bin" status -c "$work/alerts.yaml" --json 2>/dev/null || [ $? -eq 1 ]; }
for ((i = 0; i < 60; i++)); do
  status >"$work/s.json" 2>/dev/null && python3 - "$work/s.json" <<'PY' && break
import json, sys
s = json.load(open(sys.argv[1]))
ok = {x["line"] for x in s["series"] if x["kind"] == "icmp" and x["latest"]["ok"]}
sys.exit(0 if len(ok) == 3 else 1)
PY
  sleep 0.25
done
[ "$i" -lt 60 ] || fail "not every line answered ICMP within 15 s of the start"
sleep 2
[ -z "$(notices True)" ] || fail "notifications before any impairment: $(notices True)"

step "(a) 2 % loss on line 1: one loss alert at the webhook"
t_loss=$(now_ms)
lab set 1 --loss 2% >/dev/null
fired=$(wait_notice 60 "firing loss notification" \
  'n["rule"] == "loss" and n["status"] == "firing"')
python3 - "$fired" "$t_loss" "$loss_for_s" "$interval_s" <<'PY' || fail "the firing notification: $fired"
import datetime, json, sys
n, t_loss, for_s, interval_s = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ms = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000
late = n["_received_ms"] - ms(n["starts_at"])
print(f"  {n['summary']}")
print(f"  value {n['value']['text']} threshold {n['threshold']['text']}, labels {n['labels']}")
print(f"  received {late / 1000:.2f} s after starts_at (for {for_s} s + interval {interval_s} s), "
      f"{(n['_received_ms'] - t_loss) / 1000:.1f} s after the loss was set; signature "
      + ("valid" if n["_signed"] else "INVALID"))
assert n["_signed"], "the signature does not verify with the key"
assert n["_idempotency"], "Idempotency-Key is not the notification id"
assert abs(n["_stamp_ms"] - n["_received_ms"]) < 5000, "X-Linewatch-Timestamp is not the send time"
assert n["version"] == 1 and n["agent"] == "alert-lab" and n["severity"] == "warning"
assert n["labels"] == {"line": "cn2-gia-1", "rule": "loss", "severity": "warning"}, n["labels"]
assert "cn2-gia-1" in n["summary"], n["summary"]
assert n["value"]["number"] > 1.0 and n["value"]["text"].endswith("%"), n["value"]
assert n["threshold"] == {"text": "1%", "number": 1}, n["threshold"]
assert n["ends_at"] is None
assert ms(n["starts_at"]) >= t_loss, "the condition began before the loss was set"
assert for_s * 1000 <= late <= (for_s + interval_s) * 1000, f"{late} ms after starts_at"
PY
set +e
lab exec "$bin" alerts -c "$work/alerts.yaml" >"$work/alerts.txt" 2>&1
code=$?
set -e
sed 's/^/  /' "$work/alerts.txt"
[ "$code" -eq 1 ] || fail "linewatch alerts exited $code while an alert fires, want 1"
grep -Eq '^firing +loss +cn2-gia-1 ' "$work/alerts.txt" || fail "linewatch alerts does not list loss firing for cn2-gia-1"

step "(b) Alertmanager lists the alert"
for ((i = 0; i < 40; i++)); do
  am_alerts >"$work/am.json" && python3 - "$work/am.json" <<'PY' && break
import json, sys
alerts = json.load(open(sys.argv[1]))
want = {"alertname": "loss", "agent": "alert-lab", "line": "cn2-gia-1", "severity": "warning"}
match = [a for a in alerts if a["labels"] == want and a["status"]["state"] == "active"]
if match:
    a = match[0]
    print(f"  GET /api/v2/alerts: labels {a['labels']}, annotations {a['annotations']}, "
          f"state {a['status']['state']}, startsAt {a['startsAt']}")
    assert a["annotations"]["threshold"] == "1%" and a["annotations"]["value"].endswith("%")
sys.exit(0 if match else 1)
PY
  sleep 0.25
done
[ "$i" -lt 40 ] || fail "alertmanager does not list the loss alert within 10 s: $(cat "$work/am.json")"

step "(a) loss restored: the alert resolves"
t_restore=$(now_ms)
lab set 1 --loss 0% >/dev/null
resolved=$(wait_notice 40 "resolved loss notification" \
  'n["rule"] == "loss" and n["status"] == "resolved"')
python3 - "$fired" "$resolved" "$t_restore" <<'PY' || fail "the resolved notification: $resolved"
import json, sys
f, n, t_restore = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
print(f"  {n['summary']}  ({(n['_received_ms'] - t_restore) / 1000:.1f} s after the restore, "
      f"signature {'valid' if n['_signed'] else 'INVALID'})")
assert n["_signed"] and n["_idempotency"]
assert n["labels"] == f["labels"] and n["starts_at"] == f["starts_at"]
assert n["id"].rsplit("/", 1)[0] == f["id"].rsplit("/", 1)[0] and n["id"].endswith("/resolved")
assert n["ends_at"] is not None and n["ends_at"] >= n["starts_at"]
PY
for ((i = 0; i < 40; i++)); do
  am_alerts >"$work/am.json" && python3 -c '
import json, sys
sys.exit(any(a["labels"].get("alertname") == "loss" for a in json.load(open(sys.argv[1]))))' \
    "$work/am.json" && break
  sleep 0.25
done
[ "$i" -lt 40 ] || fail "alertmanager still lists the loss alert 10 s after it resolved: $(cat "$work/am.json")"
echo "  alertmanager no longer lists it"
n_loss=$(notices 'n["rule"] == "loss"' | wc -l)
[ "$n_loss" -eq 2 ] || fail "$n_loss loss notifications, want one firing and one resolved: $(notices 'n["rule"] == "loss"')"

step "(c) line 2 capped at $rate_mbps Mbit/s and filled by a TCP flow: a bandwidth alert"
lab set 2 --rate "${rate_mbps}Mbps" >/dev/null
ip netns exec "$name-far" "$py" "$here/bulk_tcp.py" sink 198.19.255.1 "$sink_port" "$work/goodput.txt" \
  >"$work/sink.out" 2>&1 &
pids+=($!)
sleep 0.3
t_load=$(now_ms)
ip netns exec "$name-gw" "$py" "$here/bulk_tcp.py" send 198.18.2.1 198.19.255.1 "$sink_port" 40 \
  >"$work/send.out" 2>&1 &
sender_pid=$!
pids+=("$sender_pid")
bw=$(wait_notice 30 "firing bandwidth notification" \
  'n["rule"] == "bandwidth" and n["status"] == "firing"')
status >"$work/s.json" || fail "no status from the agent"
python3 - "$bw" "$t_load" "$work/s.json" "$work/goodput.txt" "$rate_mbps" <<'PY' ||
import json, statistics, sys
n, t_load = json.loads(sys.argv[1]), int(sys.argv[2])
lines = {l["line"]: l for l in json.load(open(sys.argv[3]))["lines"]}
goodput = [float(x) for x in open(sys.argv[4]).read().split()]
cap = float(sys.argv[5])
l2 = lines["cu-vip-2"]
print(f"  {n['summary']}  ({(n['_received_ms'] - t_load) / 1000:.1f} s after the flow began, "
      f"signature {'valid' if n['_signed'] else 'INVALID'})")
print(f"  line 2 counters: tx {l2['tx_bps'] / 1e6:.2f} Mbit/s, rx {l2['rx_bps'] / 1e6:.2f} Mbit/s, "
      f"utilisation {l2['utilisation']:.2f} of {l2['capacity_bps'] / 1e6:.0f} Mbit/s; flow goodput "
      f"{statistics.median(goodput):.2f} Mbit/s (median of {len(goodput)} s, max {max(goodput):.2f})")
assert n["_signed"] and n["_idempotency"]
assert n["labels"] == {"line": "cu-vip-2", "rule": "bandwidth", "severity": "warning"}, n["labels"]
assert n["value"]["number"] > 80 and n["threshold"]["number"] == 80, (n["value"], n["threshold"])
assert l2["state"] == "measuring" and l2["utilisation"] > 0.8, l2
# The cap holds: TCP payload stays under the cap (IP and TCP headers take
# about 3.5 % of a 1500-byte packet), and the flow fills most of it.
assert max(goodput) <= cap and statistics.median(goodput) >= 0.8 * cap, goodput
PY
  fail "the bandwidth notification or the line's figures"
stop_pid "$sender_pid"
t_stop=$(now_ms)
bw_resolved=$(wait_notice 20 "resolved bandwidth notification" \
  'n["rule"] == "bandwidth" and n["status"] == "resolved"')
python3 - "$bw" "$bw_resolved" "$t_stop" <<'PY' || fail "the resolved bandwidth notification: $bw_resolved"
import json, sys
f, n, t_stop = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
print(f"  {n['summary']}  ({(n['_received_ms'] - t_stop) / 1000:.1f} s after the flow stopped, "
      f"signature {'valid' if n['_signed'] else 'INVALID'})")
assert n["_signed"] and n["_idempotency"]
assert n["labels"] == f["labels"] and n["starts_at"] == f["starts_at"] and n["ends_at"] is not None
PY

step "what the webhook saw, and the agent's alert history"
sed 's/^/  /' "$work/hook.out"
others=$(notices 'n["rule"] not in ("loss", "bandwidth")')
[ -z "$others" ] || fail "notifications of other rules: $others"
lab exec "$bin" alerts -c "$work/alerts.yaml" --history >"$work/history.txt" ||
  fail "linewatch alerts --history failed"
for e in firing resolved; do
  grep -Eq "^[^ ]+ +$e +loss +cn2-gia-1 " "$work/history.txt" || fail "no $e loss event in the history"
done
# The agent's view: every notification taken by both receivers, none
# waiting or parked (Alertmanager refuses an alert it cannot take with a
# 400, which would park it), and the webhook's count the receiver's.
for ((i = 0; i < 20; i++)); do
  lab exec "$bin" alerts -c "$work/alerts.yaml" --json >"$work/alerts.json" 2>/dev/null || true
  python3 - "$work/alerts.json" "$(wc -l <"$records")" <<'PY' && break
import json, sys
doc, posts = json.load(open(sys.argv[1])), int(sys.argv[2])
r = {x["id"]: x for x in doc["outbox"]["receivers"]}
ok = (set(r) == {"hook", "am"} and r["hook"]["delivered"] == posts and r["am"]["delivered"] >= 4
      and all(x["pending"] == 0 and x["parked"] == 0 and not x["failing"] for x in r.values()))
if ok:
    print("  outbox: " + "; ".join(f"{k} delivered {v['delivered']}, pending {v['pending']}, "
                                   f"parked {v['parked']}" for k, v in r.items()))
sys.exit(0 if ok else 1)
PY
  sleep 0.25
done
[ "$i" -lt 20 ] || fail "the outbox did not deliver everything: $(cat "$work/alerts.json")"
key=$(cat "$work/hook.key")
if grep -qF -- "$key" "$log" "$work/history.txt" "$work/am.json"; then fail "the webhook key shows outside its file"; fi
echo "alerts: all checks passed ($((SECONDS - started)) s)"

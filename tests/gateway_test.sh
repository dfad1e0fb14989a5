#!/usr/bin/env bash
# End to end: `linewatch gateway` in a network namespace of its own takes
# signed plans and applies them to the kernel, and refuses every bad push.
#
# Root only (exit 77 = skipped otherwise): makes namespace lwgw-<pid>-<rand>
# with two veth links (d1 198.18.1.1/24, d2 198.18.2.1/24; their peers stay in
# the namespace) and runs the gateway there on 127.0.0.1:9300, the
# namespace's own loopback. The test signs each push itself (openssl dgst
# -hmac) and sends it with curl from inside the namespace. Checks:
#   - a valid plan puts 198.19.7.0/24 via 198.18.1.2 into the kernel; a second
#     one switches it to 198.18.2.2 dev d2;
#   - tampered body, wrong key, stale timestamp, no signature: 401 and the
#     route unchanged; a replay of an accepted push: 409 with applied_version;
#     malformed JSON: 400; a chunked POST: 411;
#   - after a restart the replay is still 409 and GET /v1/routes still shows
#     the applied version (it persists in data_dir);
#   - a route deleted behind its back is put back by the reconcile timer;
#   - each push is one log line with its reason code; the key is in no log.
# About 5 s. The gateway is ended by PID; the namespace is removed on exit.
set -euo pipefail
bin=${1:?usage: gateway_test.sh PATH/TO/linewatch}
if [ "$(id -u)" -ne 0 ]; then echo "SKIP: a network namespace needs root"; exit 77; fi
for tool in ip curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

ns="lwgw-$$-$RANDOM"
work=$(mktemp -d /tmp/linewatch-gateway.XXXXXX)
log=$work/gateway.log
gw_pid=""
stop_gateway() {
  if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
    kill -TERM "$gw_pid"
    for _ in $(seq 1 50); do kill -0 "$gw_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$gw_pid" 2>/dev/null || true
  fi
  if [ -n "$gw_pid" ]; then wait "$gw_pid" 2>/dev/null || true; fi
  gw_pid=""
}
cleanup() {
  stop_gateway
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$log" ] && sed 's/^/  gateway: /' "$log" >&2; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

ip netns add "$ns"
in_ns ip link set lo up
for i in 1 2; do
  in_ns ip link add "d$i" type veth peer name "p$i"
  in_ns ip link set "d$i" up
  in_ns ip link set "p$i" up
  in_ns ip addr add "198.18.$i.1/24" dev "d$i"
done

key=$(openssl rand -hex 32)
printf '%s\n' "$key" >"$work/gw1.key"
chmod 600 "$work/gw1.key"
cat >"$work/gateway.yaml" <<YAML
gateway:
  id: gw-test
  listen: 127.0.0.1:9300
  secret_file: gw1.key
  table: main
  max_skew: 30s
  data_dir: data
  reconcile: 200ms
YAML
url=http://127.0.0.1:9300

start_gateway() {
  # Not through in_ns: $! must be the gateway itself (ip netns exec execs it).
  ip netns exec "$ns" "$bin" gateway -c "$work/gateway.yaml" >>"$log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 1 50); do
    in_ns curl -sf --max-time 1 "$url/-/healthy" >/dev/null 2>&1 && return 0
    kill -0 "$gw_pid" 2>/dev/null || fail "gateway exited at start"
    sleep 0.1
  done
  fail "gateway did not answer /-/healthy within 5 s"
}

now_ms() { date +%s%3N; }
# sign KEY TIMESTAMP BODY: the X-Linewatch-Signature value.
sign() { printf '%s' "$2.$3" | openssl dgst -sha256 -hmac "$1" | awk '{print "sha256=" $NF}'; }
# plan VERSION VIA DEV: a plan body for 198.19.7.0/24 over one hop.
plan() {
  printf '{"agent":"test-agent","version":%s,"time":"2027-01-15T08:00:00.123Z","panic":false,"routes":[{"prefix":"198.19.7.0/24","nexthops":[{"line":"line-%s","via":"%s","dev":"%s","weight":1}]}]}' \
    "$1" "$3" "$2" "$3"
}
# post TIMESTAMP SIGNATURE BODY [curl args...]: prints the status; the answer goes to $work/answer.
post() {
  local ts=$1 sig=$2 body=$3; shift 3
  in_ns curl -s --max-time 5 -o "$work/answer" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "X-Linewatch-Timestamp: $ts" -H "X-Linewatch-Signature: $sig" --data-binary "$body" "$@" \
    "$url/v1/routes"
}
# expect_post WANT_STATUS TIMESTAMP SIGNATURE BODY [curl args...]
expect_post() {
  local want=$1; shift
  local got
  got=$(post "$@")
  [ "$got" = "$want" ] || fail "push answered $got, want $want: $(cat "$work/answer")"
}
# The kernel's route for 198.19.7.0/24 as "GATEWAY DEV", or "none".
route() {
  in_ns ip -j route show 198.19.7.0/24 | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r[0].get("gateway"), r[0].get("dev")) if r else print("none")'
}
expect_route() { local got; got=$(route); [ "$got" = "$1" ] || fail "route is \"$got\", want \"$1\""; }
answer_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/answer" "$1"; }
# expect_log N PATTERN: the log has exactly N lines matching PATTERN (grep -E).
expect_log() {
  local n; n=$(grep -cE -- "$2" "$log" || true)
  [ "$n" -eq "$1" ] || fail "log has $n lines matching /$2/, want $1"
}

# Config errors come before any namespace work: exit 1 invalid, 2 unreadable.
set +e
"$bin" gateway -c "$work/nope.yaml" >/dev/null 2>&1; code=$?
set -e
[ "$code" -eq 2 ] || fail "missing config exited $code, want 2"
printf 'gateway: { id: gw, secret_file: gw1.key, colour: blue }\n' >"$work/bad.yaml"
set +e
out=$("$bin" gateway -c "$work/bad.yaml" 2>&1); code=$?
set -e
[ "$code" -eq 1 ] || fail "invalid config exited $code, want 1: $out"
echo "$out" | grep -q "bad.yaml:1:42: gateway.colour: unknown key" || fail "unexpected message: $out"

start_gateway
expect_route none

# 1. A valid plan: the route appears via the planned gateway.
body1=$(plan 1 198.18.1.2 d1)
ts=$(now_ms)
expect_post 200 "$ts" "$(sign "$key" "$ts" "$body1")" "$body1"
[ "$(answer_field applied_version)" = 1 ] || fail "answer: $(cat "$work/answer")"
expect_route "198.18.1.2 d1"

# 2. A second valid plan switches it; keep its exact request for the replays.
body2=$(plan 2 198.18.2.2 d2)
ts2=$(now_ms)
sig2=$(sign "$key" "$ts2" "$body2")
expect_post 200 "$ts2" "$sig2" "$body2"
expect_route "198.18.2.2 d2"
# The same push sent again at once, byte for byte (its timestamp still
# fresh): 409 with the version in force.
expect_post 409 "$ts2" "$sig2" "$body2"
[ "$(answer_field error)" = stale_version ] && [ "$(answer_field applied_version)" = 2 ] ||
  fail "replay answer: $(cat "$work/answer")"

# 3. Tampered body (signed for d2, sent for d1): 401, route unchanged.
body3=$(plan 3 198.18.2.2 d2)
ts=$(now_ms)
sig3=$(sign "$key" "$ts" "$body3")
expect_post 401 "$ts" "$sig3" "$(plan 3 198.18.1.2 d1)"
[ "$(answer_field error)" = bad_signature ] || fail "answer: $(cat "$work/answer")"
expect_route "198.18.2.2 d2"

# 4. Wrong key: 401 bad_signature.
ts=$(now_ms)
expect_post 401 "$ts" "$(sign "not-the-gateway-key-at-all" "$ts" "$body3")" "$body3"
[ "$(answer_field error)" = bad_signature ] || fail "answer: $(cat "$work/answer")"

# 5. A timestamp two minutes old, correctly signed: 401 stale_timestamp.
ts=$(($(now_ms) - 120000))
expect_post 401 "$ts" "$(sign "$key" "$ts" "$body3")" "$body3"
[ "$(answer_field error)" = stale_timestamp ] || fail "answer: $(cat "$work/answer")"

# 6. No signature header at all: 401 missing_signature.
got=$(in_ns curl -s --max-time 5 -o "$work/answer" -w '%{http_code}' --data-binary "$body3" \
  -H "X-Linewatch-Timestamp: $(now_ms)" "$url/v1/routes")
[ "$got" = 401 ] && [ "$(answer_field error)" = missing_signature ] || fail "unsigned push: $got $(cat "$work/answer")"
expect_route "198.18.2.2 d2"

# 7. Malformed JSON, correctly signed: 400 malformed_plan.
ts=$(now_ms)
expect_post 400 "$ts" "$(sign "$key" "$ts" '{"agent":')" '{"agent":'
[ "$(answer_field error)" = malformed_plan ] || fail "answer: $(cat "$work/answer")"

# 8. A chunked body: 411, nothing applied.
ts=$(now_ms)
expect_post 411 "$ts" "$(sign "$key" "$ts" "$body3")" "$body3" -H 'Transfer-Encoding: chunked'
expect_route "198.18.2.2 d2"

# 9. Drift: the route deleted by hand is put back by the reconcile timer.
in_ns ip route del 198.19.7.0/24
for _ in $(seq 1 50); do [ "$(route)" = "198.18.2.2 d2" ] && break; sleep 0.1; done
expect_route "198.18.2.2 d2"
for _ in $(seq 1 20); do grep -q 'event=route_restored' "$log" && break; sleep 0.1; done
expect_log 1 'warn gateway=gw-test event=route_restored reason=drift prefix=198.19.7.0/24 found="no route"'

# 10. Restart: the applied version survives, the replay is still refused.
stop_gateway
grep -q 'msg="stopping" signal=TERM' "$log" || fail "no stop line"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); assert s["applied_version"] == 2, s' \
  "$work/data/state.json" || fail "state.json does not hold version 2"
start_gateway
grep -q 'msg="started" .*applied_version=2' "$log" || fail "restart did not load version 2"
ts=$(now_ms)
expect_post 409 "$ts" "$(sign "$key" "$ts" "$body2")" "$body2"
[ "$(answer_field applied_version)" = 2 ] || fail "answer: $(cat "$work/answer")"
in_ns curl -sf --max-time 5 -o "$work/answer" "$url/v1/routes" || fail "GET /v1/routes"
python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
assert a["applied_version"] == 2 and a["plan"]["routes"][0]["nexthops"][0]["via"] == "198.18.2.2", a' \
  "$work/answer" || fail "GET /v1/routes: $(cat "$work/answer")"
expect_route "198.18.2.2 d2"
# Version 3 is still accepted after the restart.
ts=$(now_ms)
expect_post 200 "$ts" "$(sign "$key" "$ts" "$body3")" "$body3"
[ "$(answer_field applied_version)" = 3 ] || fail "answer: $(cat "$work/answer")"
in_ns curl -sf --max-time 5 -o "$work/answer" "$url/v1/events" || fail "GET /v1/events"
grep -q '"kind":"plan_applied"' "$work/answer" || fail "events: $(cat "$work/answer")"
stop_gateway

# Every push is one line with its reason code; the key is nowhere.
expect_log 2 'event=plan_applied reason=applied status=200 .* version=[12] '
expect_log 1 'event=plan_applied reason=in_force status=200 .* version=3 '
expect_log 2 'event=plan_rejected reason=bad_signature status=401 '
expect_log 1 'event=plan_rejected reason=stale_timestamp status=401 '
expect_log 1 'event=plan_rejected reason=missing_signature status=401 '
expect_log 2 'event=plan_rejected reason=stale_version status=409 '
expect_log 1 'event=plan_rejected reason=malformed_plan status=400 '
expect_log 1 'event=plan_restored reason=in_force '
if grep -q "$key" "$log"; then fail "the key appears in the log"; fi
echo "ok: gateway applied, switched, refused and restored as expected"

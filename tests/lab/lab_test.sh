#!/usr/bin/env bash
# The lab itself: lab.sh up/set/status/down against the real linesim and
# mockllm. Checks that each line is reached by source address, by device and
# by fwmark and really runs through its own linesim (counters), that delay and
# cut act on one line only, that bad `set` input changes nothing, that a killed
# linesim cuts its line (never passes it unimpaired) until `up` restarts it,
# that mockllm answers over HTTP and HTTPS (lab CA) with the lab token, and
# that `down` cleans up twice in a row, after a crash, and leaves another lab
# alone. Needs root (exit 77 = skip otherwise). Total time bounded (< 2 min).
#
#   lab_test.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: lab_test.sh BUILD_DIR}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIP: lab_test.sh needs root"; exit 77; }
name=lwlabt$$
other=lwlabo$$
linesim=$build/tests/lab/linesim/linesim
token=sk-lab-0123456789
far=198.19.255.1
started=$SECONDS

# Every lab.sh call is bounded so a hang fails the test instead of ctest's timeout.
lab() { timeout 60 bash "$here/lab.sh" --name "$name" --build "$build" "$@"; }
labo() { timeout 60 bash "$here/lab.sh" --name "$other" --build "$build" "$@"; }
gw() { timeout 20 ip netns exec "$name-gw" "$@"; }
cleanup() {
  lab down >/dev/null 2>&1 || true
  labo down >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $* ($((SECONDS - started)) s)"; }

show() { "$linesim" --control "/run/$name/line$1.sock" --send show; }
# Settings only (counters removed), to compare before/after a refused `set`.
settings() { show "$1" | sed -E 's/"(in|out|dropped_[a-z]+|queued)":[0-9]+,?//g'; }
# counter K up|down_dir in
counter() {
  show "$1" | sed -E "s/.*\"$2\":\\{[^}]*\"$3\":([0-9]+).*/\\1/"
}
pid_of() { cat "/run/$name/$1.pid"; }
alive() { [ -d "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
our_namespaces() { ip netns list | awk -v n="$1" '$1 ~ "^" n "-" { print $1 }'; }

# rtts PING-ARGS...: 10 echoes to the far end; prints each RTT in ms.
rtts() {
  gw ping -n -c 10 -i 0.1 -W 1 "$@" "$far" | sed -nE 's/.*time=([0-9.]+) ms.*/\1/p'
}
# ping_ok / ping_cut PING-ARGS...: all of 3 echoes answered / none answered.
ping_ok() { gw ping -n -q -c 3 -i 0.2 -W 1 "$@" "$far" >/dev/null || fail "ping $* to $far failed"; }
ping_cut() {
  local out
  out=$(gw ping -n -q -c 3 -i 0.2 -W 1 "$@" "$far" 2>&1) && fail "ping $* passed a cut line: $out"
  [[ $out == *" 0 received"* ]] || fail "ping $* on a cut line: $out"
}
# check_rtts LO HI VALUES...: the median lies in [LO, HI] and no echo came back
# faster than LO. The median, not every echo, must be within the bound, since a
# busy build host can stall a single packet by some milliseconds; an echo can
# never beat the emulated delay, so the lower bound holds for every one.
check_rtts() {
  local lo=$1 hi=$2
  shift 2
  [ $# -ge 5 ] || return 1
  printf '%s\n' "$@" | sort -n | awk -v lo="$lo" -v hi="$hi" '
    { v[NR] = $1 } END { m = v[int((NR + 1) / 2)]; exit !(v[1] >= lo && m >= lo && m <= hi) }'
}
http_code() { gw curl -s -o /dev/null -w "%{http_code}" --max-time 2 "$@" || true; }

step "up (3 lines)"
out=$(lab up) || fail "up failed"
for k in 1 2 3; do [[ $out == *"line$k "*"198.18.$k.1"* ]] || fail "summary lacks line $k: $out"; done
pids1=$(cat "/run/$name"/*.pid)

step "up again is idempotent"
lab up >/dev/null || fail "second up failed"
[ "$(cat "/run/$name"/*.pid)" = "$pids1" ] || fail "second up restarted running processes"
rules=$(ip -n "$name-gw" rule show | grep -c 'lookup 101' || true)
[ "$rules" = 3 ] || fail "gw has $rules rules for table 101 after two ups (want 3)"

step "each line by source address, device and fwmark goes through its own linesim"
for k in 1 2 3; do
  before=()
  for j in 1 2 3; do before[j]=$(counter "$j" up in); done
  ping_ok -I "198.18.$k.1"
  ping_ok -I "l$k"
  ping_ok -m "$k"
  for j in 1 2 3; do
    grew=$(($(counter "$j" up in) - before[j]))
    if [ "$j" = "$k" ]; then
      [ "$grew" -ge 9 ] || fail "line $k's linesim saw $grew of 9 echo requests"
    else
      [ "$grew" = 0 ] || fail "pings on line $k went through line $j's linesim ($grew packets)"
    fi
  done
done

step "delay 100ms on line 1, line 2 untouched"
lab set 1 --delay 100ms >/dev/null || fail "set --delay failed"
mapfile -t r1 < <(rtts -I 198.18.1.1)
mapfile -t r2 < <(rtts -I 198.18.2.1)
echo "   line1 RTTs: ${r1[*]}; line2 RTTs: ${r2[*]}"
[ "${#r1[@]}" = 10 ] || fail "line 1: ${#r1[@]} of 10 echoes answered"
[ "${#r2[@]}" = 10 ] || fail "line 2: ${#r2[@]} of 10 echoes answered"
check_rtts 95 105 "${r1[@]}" || fail "line 1 RTTs not 100±5 ms (median; none below 95): ${r1[*]}"
check_rtts 0 5 "${r2[@]}" || fail "line 2 RTTs not < 5 ms (median): ${r2[*]}"

step "--down cuts line 1 only, --up restores"
lab set line1 --down >/dev/null || fail "set --down failed"
[[ $(show 1) == '{"down":true'* ]] || fail "linesim 1 not down: $(show 1)"
ping_cut -I 198.18.1.1
ping_ok -I 198.18.2.1
lab set 1 --up >/dev/null || fail "set --up failed"
ping_ok -I 198.18.1.1

step "bad input: exit 2, clear message, nothing changed"
want=$(settings 1)
expect_refused() {
  local pattern=$1 out rc=0
  shift
  out=$(lab set "$@" 2>&1) || rc=$?
  [ "$rc" = 2 ] || fail "lab set $* exited $rc (want 2): $out"
  [[ $out == *$pattern* ]] || fail "lab set $*: message lacks '$pattern': $out"
  [ "$(settings 1)" = "$want" ] || fail "lab set $* changed line 1: $(settings 1)"
}
expect_refused "unknown line" 9 --delay 10ms
expect_refused "unknown line" line0 --delay 10ms
expect_refused "negative" 1 --delay -5ms
expect_refused "over 100" 1 --delay 10ms --loss 150%
expect_refused "not a duration" 1 --jitter 5
expect_refused "normal or uniform" 1 --dist pareto
# Accepted by the script's checks, refused by linesim: its own text is shown.
expect_refused "not a whole number of bps" 1 --rate 1.5bps
st=$(lab status) || fail "status failed"
[[ $st =~ line1\ [^$'\n']*\ up$'\n' ]] || fail "status does not show line 1 up: $st"

step "SIGKILL of line 1's linesim cuts line 1; up restarts it"
victim=$(pid_of line1)
kill -KILL "$victim"
for _ in $(seq 1 50); do alive "$victim" || break; sleep 0.1; done
alive "$victim" && fail "linesim $victim survived SIGKILL"
ping_cut -I 198.18.1.1
ping_cut -I l1
[ "$(http_code --interface 198.18.1.1 "http://$far/healthz")" = 000 ] ||
  fail "HTTP passed line 1 without its linesim"
ping_ok -I 198.18.2.1
st=$(lab status) || fail "status failed"
[[ $st == *"line1 "*"dead"*"NOT ANSWERING"* ]] || fail "status does not show line 1 cut: $st"
lab up >/dev/null || fail "up after kill failed"
[ "$(pid_of line1)" != "$victim" ] || fail "linesim 1 not restarted"
ping_ok -I 198.18.1.1
[[ $(show 1) == *'"delay_ms":0,'* ]] || fail "restarted linesim 1 not at zero delay: $(show 1)"

step "mockllm over HTTP and HTTPS with the lab token"
auth=(-H "Authorization: Bearer $token")
code=$(http_code "${auth[@]}" "http://$far/v1/models")
[ "$code" = 200 ] || fail "GET /v1/models with the lab token: $code"
code=$(http_code "http://$far/v1/models")
[ "$code" = 401 ] || fail "GET /v1/models without a token: $code (want 401)"
ca=$(lab ca) || fail "lab ca failed"
[ -s "$ca" ] || fail "lab ca gave no CA file: '$ca'"
code=$(http_code --cacert "$ca" "${auth[@]}" --interface 198.18.2.1 "https://$far/v1/models")
[ "$code" = 200 ] || fail "HTTPS /v1/models with the lab CA: $code"
code=$(http_code --cacert "$ca" --resolve "api.lab.test:443:$far" "https://api.lab.test/healthz")
[ "$code" = 200 ] || fail "HTTPS by name api.lab.test: $code"
code=$(http_code "https://$far/healthz")
[ "$code" = 000 ] || fail "HTTPS verified without the lab CA: $code"

step "down removes everything; down again is fine"
pids=$(cat "/run/$name"/*.pid)
lab down >/dev/null || fail "down failed"
[ -z "$(our_namespaces "$name")" ] || fail "namespaces left: $(our_namespaces "$name")"
[ ! -e "/run/$name" ] || fail "/run/$name left"
for p in $pids; do alive "$p" && fail "process $p survived down"; done
lab down >/dev/null || fail "second down failed"

step "crash: pid files lost, processes still running; another lab stays"
labo up --lines 1 >/dev/null || fail "up of the second lab failed"
lab up --lines 2 >/dev/null || fail "up failed"
pids=$(cat "/run/$name"/*.pid)
rm -f "/run/$name"/*.pid
lab down >/dev/null || fail "down after losing pid files failed"
[ -z "$(our_namespaces "$name")" ] || fail "namespaces left: $(our_namespaces "$name")"
for p in $pids; do alive "$p" && fail "process $p survived down without its pid file"; done
[ "$(our_namespaces "$other" | wc -l)" = 3 ] || fail "down of $name touched $other: $(our_namespaces "$other")"
timeout 10 ip netns exec "$other-gw" ping -n -q -c 1 -W 1 -I 198.18.1.1 "$far" >/dev/null ||
  fail "$other's line 1 broken by down of $name"

step "crash: processes killed, state dir gone"
lab up --lines 2 >/dev/null || fail "up failed"
for f in "/run/$name"/*.pid; do kill -KILL "$(cat "$f")"; done
rm -rf "/run/$name"
lab down >/dev/null || fail "down after a crash failed"
[ -z "$(our_namespaces "$name")" ] || fail "namespaces left: $(our_namespaces "$name")"
labo down >/dev/null || fail "down of the second lab failed"
[ -z "$(our_namespaces "$other")" ] || fail "namespaces left: $(our_namespaces "$other")"

took=$((SECONDS - started))
[ "$took" -lt 120 ] || fail "took ${took} s (bound 120 s)"
echo "lab_test: all checks passed in ${took} s"

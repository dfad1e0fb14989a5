#!/usr/bin/env bash
# The line lab: emulated international lines in network namespaces.
#
#   lab.sh [--name NAME] [--build DIR] COMMAND ...
#     up [--lines N]      create what is missing, (re)start linesim per line and
#                         mockllm if not running, wait for the far end, summary
#     set LINE [--delay D] [--jitter J] [--dist normal|uniform] [--loss P]
#              [--rate R] [--down | --up]
#                         D and J are round-trip figures; LINE is K or lineK
#     status              per line: settings, counters, up/down, pids
#     exec CMD...         run CMD in the gateway namespace NAME-gw
#     down                remove everything this lab made (also after a crash)
#     ca                  print the path of the lab CA certificate
#
# NAME defaults to $LWLAB_NAME or "lwlab"; DIR to $LWLAB_BUILD or <repo>/build
# (the build dir `up` used is remembered for later commands). State (pids,
# sockets, logs, CA, token) lives in /run/NAME/. Address plan and routing: see
# tests/lab/README.md. Exit: 0 ok, 1 failure, 2 bad arguments (nothing changed).
#
# Safety: only 198.18.0.0/15 addresses, only inside namespaces this script
# creates; processes are ended by recorded PID after checking their command
# line, never by name.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly repo
readonly max_lines=8 default_lines=3
readonly far_addr=198.19.255.1
# The lab's fake API key: mockllm accepts only this bearer token.
readonly lab_token=sk-lab-0123456789
readonly marker=.linewatch-lab

die() {
  echo "lab.sh: $*" >&2
  exit 1
}
bad_args() {
  echo "lab.sh: $*" >&2
  exit 2
}

name=${LWLAB_NAME:-lwlab}
build=${LWLAB_BUILD:-}
while [ $# -gt 0 ]; do
  case $1 in
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --build) build=${2:?--build needs a value}; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || bad_args "no command (up, set, status, exec, down, ca); see --help"
# Letters/digits/underscore only: namespace names are "$name-..." and a hyphen
# in the name could make one lab's names a prefix pattern of another's.
[[ $name =~ ^[A-Za-z][A-Za-z0-9_]{0,23}$ ]] || bad_args "bad lab name '$name' (letters, digits, _; max 24)"
readonly name
readonly sd=/run/$name

# --- small helpers ----------------------------------------------------------

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (namespaces, TUN)"; }

# The build dir: --build / $LWLAB_BUILD, else the one `up` recorded, else <repo>/build.
resolve_build() {
  if [ -z "$build" ]; then
    if [ -r "$sd/build" ]; then build=$(<"$sd/build"); else build=$repo/build; fi
  fi
  build=$(cd "$build" 2>/dev/null && pwd) || die "build dir '$build' does not exist"
  linesim_bin=$build/tests/lab/linesim/linesim
  mockllm_bin=$build/tests/lab/mockllm/mockllm
}

need_bins() {
  local b
  for b in "$linesim_bin" "$mockllm_bin"; do
    [ -x "$b" ] || die "$b not built (cmake --build $build --target linesim mockllm)"
  done
}

# Our namespaces that exist now, one per line (exact names, never a prefix match).
lab_namespaces() {
  ip netns list | awk -v n="$name" '$1 ~ "^" n "-(gw|far|isp[0-9]+)$" { print $1 }'
}

ns_exists() {
  local all
  all=$(ip netns list | awk '{ print $1 }')
  has_line "$all" "$1"
}

nlines() {
  [ -r "$sd/lines" ] || die "lab '$name' is not up (no $sd/lines); run: lab.sh --name $name up"
  cat "$sd/lines"
}

# proc_matches PID NEEDLE: PID is a live (non-zombie) process whose command
# line contains NEEDLE. Guards every kill against recycled PIDs.
proc_matches() {
  local pid=$1 needle=$2 state cmd
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  state=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$needle"* ]]
}

# stop_pid PID NEEDLE: SIGTERM, up to 3 s grace, then SIGKILL (bounded).
stop_pid() {
  local pid=$1 needle=$2 i
  proc_matches "$pid" "$needle" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    proc_matches "$pid" "$needle" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    proc_matches "$pid" "$needle" || return 0
    sleep 0.1
  done
  echo "lab.sh: warning: pid $pid did not exit" >&2
}

# The pid recorded in FILE if that process is alive and matches NEEDLE.
live_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  proc_matches "$pid" "$2" || return 1
  echo "$pid"
}

# Processes inside namespace NS whose command line names this lab's state dir
# (strays from a crash whose pid file is gone): ended by their PID.
stop_strays() {
  local ns=$1 needle=$2 pid
  ns_exists "$ns" || return 0
  for pid in $(ip netns pids "$ns" 2>/dev/null); do
    stop_pid "$pid" "$needle"
  done
}

linesim_needle() { echo "--control $sd/line$1.sock"; }
mockllm_needle() { echo "--token-file $sd/token"; }

# --- topology ---------------------------------------------------------------

# Every `ip` call costs a fork+exec, so the topology is made with one
# existence check and one `ip -batch` per namespace; all of it is idempotent
# (replace, or delete-then-add for rules).

# ns_links NS: names of NS's links, one per line.
ns_links() {
  ip -n "$1" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'
}

has_line() { [[ $'\n'$1$'\n' == *$'\n'"$2"$'\n'* ]]; }

# add_rule NS PREF SELECTOR...: appends to batch[NS] the lines that leave
# exactly one rule at PREF (pure bash: this runs 3 times per line).
add_rule() {
  local ns=$1 pref=$2 line
  shift 2
  while IFS= read -r line; do
    [[ $line == "$pref:"* ]] && batch[$ns]+="rule del pref $pref"$'\n'
  done <<<"${rules[$ns]}"
  batch[$ns]+="rule add pref $pref $*"$'\n'
}

# sysctls NS KEY=VALUE...
sysctls() {
  local ns=$1
  shift
  ip netns exec "$ns" sysctl -qw "$@" >/dev/null
}

build_topology() {
  local n=$1 k gw=$name-gw far=$name-far isp ns existing
  local -A links=() rules=() batch=()
  local -a all=("$gw" "$far")
  for ((k = 1; k <= n; k++)); do all+=("$name-isp$k"); done
  existing=$(ip netns list | awk '{ print $1 }')
  for ns in "${all[@]}"; do
    if ! has_line "$existing" "$ns"; then
      ip netns add "$ns"
      # IPv6 off before any device exists, so no ND/MLD chatter reaches
      # linesim or its counters; rp_filter off because replies re-enter ispK
      # on `sim` while the route back to their source leaves by another device.
      sysctls "$ns" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    fi
    links[$ns]=$(ns_links "$ns")
    rules[$ns]=$(ip -n "$ns" rule show)
    batch[$ns]="link set lo up"$'\n'
  done
  for ((k = 1; k <= n; k++)); do
    isp=$name-isp$k
    # veth pairs, created whole (a half left by a crash is removed first).
    if ! has_line "${links[$gw]}" "l$k"; then
      ! has_line "${links[$isp]}" gw || ip -n "$isp" link del dev gw
      ip link add "l$k" netns "$gw" type veth peer name gw netns "$isp"
    fi
    if ! has_line "${links[$isp]}" far; then
      ! has_line "${links[$far]}" "isp$k" || ip -n "$far" link del dev "isp$k"
      ip link add far netns "$isp" type veth peer name "isp$k" netns "$far"
    fi
    has_line "${links[$isp]}" sim || ip netns exec "$isp" ip tuntap add dev sim mode tun

    # gw: line K's own table, chosen by source address, fwmark or device.
    batch[$gw]+="link set l$k up
address replace 198.18.$k.1/24 dev l$k
route replace 198.19.0.0/16 via 198.18.$k.2 dev l$k table $((100 + k))
route replace default via 198.18.$k.2 dev l$k table $((100 + k))
"
    add_rule "$gw" $((1000 + k)) from "198.18.$k.1" lookup $((100 + k))
    add_rule "$gw" $((1100 + k)) fwmark "$k" lookup $((100 + k))
    add_rule "$gw" $((1200 + k)) oif "l$k" lookup $((100 + k))
    # ispK: both directions go through `sim` (linesim). The blackholes cut
    # the line when `sim` is gone; 198.18.0.0/16 from gw is blackholed too so
    # the far end's link addresses are never reachable around linesim.
    batch[$isp]+="link set gw up
link set far up
link set sim mtu 1500 up
address replace 198.18.$k.2/24 dev gw
address replace 198.18.$((100 + k)).1/24 dev far
route replace 198.19.0.0/16 dev sim table 200
route replace blackhole 198.19.0.0/16 metric 1000 table 200
route replace blackhole 198.18.0.0/16 metric 1000 table 200
route replace 198.18.$k.0/24 dev sim table 201
route replace blackhole 198.18.$k.0/24 metric 1000 table 201
route replace 198.19.0.0/16 via 198.18.$((100 + k)).2 dev far
"
    add_rule "$isp" 1000 iif gw lookup 200
    add_rule "$isp" 1001 iif far lookup 201
    batch[$far]+="link set isp$k up
address replace 198.18.$((100 + k)).2/24 dev isp$k
route replace 198.18.$k.0/24 via 198.18.$((100 + k)).1 dev isp$k
"
  done
  batch[$gw]+="route replace 198.19.0.0/16 via 198.18.1.2
route replace default via 198.18.1.2
"
  batch[$far]="address replace $far_addr/32 dev lo"$'\n'"${batch[$far]}"
  for ns in "${all[@]}"; do
    ip -n "$ns" -batch - <<<"${batch[$ns]}" || die "setting up $ns failed"
  done
  # Set again on every up: a crash may have cut short the first round.
  local gwk=() fark=() again=(net.ipv4.conf.all.rp_filter=0 net.ipv6.conf.all.disable_ipv6=1)
  for ((k = 1; k <= n; k++)); do
    gwk+=("net.ipv4.conf.l$k.rp_filter=0")
    fark+=("net.ipv4.conf.isp$k.rp_filter=0")
    sysctls "$name-isp$k" "${again[@]}" net.ipv4.ip_forward=1 net.ipv4.conf.gw.rp_filter=0 \
      net.ipv4.conf.far.rp_filter=0 net.ipv4.conf.sim.rp_filter=0 net.ipv4.conf.lo.rp_filter=0
  done
  sysctls "$gw" "${again[@]}" "${gwk[@]}" net.ipv4.ping_group_range="0 2147483647"
  sysctls "$far" "${again[@]}" "${fark[@]}"
}

# --- state: CA, token -------------------------------------------------------

make_state_dir() {
  if [ -d "$sd" ] && [ ! -e "$sd/$marker" ] && [ -n "$(ls -A "$sd")" ]; then
    die "$sd exists and is not a lab state dir; choose another --name"
  fi
  mkdir -p "$sd"
  chmod 755 "$sd"
  echo "$name" >"$sd/$marker"
}

make_certs() {
  [ -s "$sd/ca.crt" ] && [ -s "$sd/server.crt" ] && [ -s "$sd/server.key" ] && return 0
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    umask 077 &&
    openssl req -x509 "${ec[@]}" -keyout "$sd/ca.key" -out "$sd/ca.crt" -days 365 \
      -subj "/CN=linewatch lab CA ($name)" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -new "${ec[@]}" -keyout "$sd/server.key" -out "$sd/server.csr" -subj "/CN=api.lab.test" &&
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:$far_addr,DNS:api.lab.test" >"$sd/server.ext" &&
    openssl x509 -req -in "$sd/server.csr" -CA "$sd/ca.crt" -CAkey "$sd/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 365 -extfile "$sd/server.ext" -out "$sd/server.crt"
  ) 2>"$sd/openssl.log" || die "certificate generation failed: $(cat "$sd/openssl.log")"
  chmod 644 "$sd/ca.crt" "$sd/server.crt"
  rm -f "$sd/server.csr" "$sd/server.ext" "$sd/openssl.log"
}

make_token() {
  (umask 077 && printf '%s' "$lab_token" >"$sd/token")
  chmod 600 "$sd/token"
}

# --- processes --------------------------------------------------------------

# spawn PIDFILE NEEDLE NS LOG CMD...: start CMD detached in NS (no fd of ours
# kept open, so `$(lab.sh up)` returns), record its PID.
spawn() {
  local pidfile=$1 needle=$2 ns=$3 log=$4 pid i
  shift 4
  local what=${1##*/}
  # `ip netns exec` execs CMD in place (and setsid does too, not being a group
  # leader), so $! is CMD's own PID.
  setsid ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
  pid=$!
  # Up to 5 s: on a loaded machine `ip netns exec` can take over a second to exec.
  for ((i = 0; i < 250; i++)); do
    proc_matches "$pid" "$needle" && break
    sleep 0.02
  done
  proc_matches "$pid" "$needle" || die "$what did not start in $ns: $(tail -n 5 "$log")"
  echo "$pid" >"$pidfile"
}

# start_linesim K: unless running; appends K to $fresh when it started one.
start_linesim() {
  local k=$1 needle sock=$sd/line$1.sock i
  needle=$(linesim_needle "$k")
  live_pid "$sd/line$k.pid" "$needle" >/dev/null && return 0
  stop_strays "$name-isp$k" "$needle"
  rm -f "$sock"
  spawn "$sd/line$k.pid" "$needle" "$name-isp$k" "$sd/line$k.log" \
    "$linesim_bin" --dev sim --control "$sock" --seed "$k"
  for ((i = 0; i < 100; i++)); do
    if [ -S "$sock" ]; then
      fresh+=" $k"
      return 0
    fi
    live_pid "$sd/line$k.pid" "$needle" >/dev/null || break
    sleep 0.05
  done
  die "linesim for line $k did not come up: $(tail -n 5 "$sd/line$k.log")"
}

start_mockllm() {
  local needle
  needle=$(mockllm_needle)
  live_pid "$sd/mockllm.pid" "$needle" >/dev/null && return 0
  stop_strays "$name-far" "$needle"
  spawn "$sd/mockllm.pid" "$needle" "$name-far" "$sd/mockllm.log" \
    "$mockllm_bin" --listen "$far_addr:80" --tls-listen "$far_addr:443" \
    --cert "$sd/server.crt" --key "$sd/server.key" --token-file "$sd/token"
}

# linesim client: prints the reply; exit 0 ok, 1 refused, 2 cannot connect.
send() {
  "$linesim_bin" --control "$sd/line$1.sock" --send "$2"
}

# --- commands ---------------------------------------------------------------

# line_blocked SHOW: linesim reports the line down or a direction at 100 % loss.
line_blocked() {
  [[ $1 =~ \"down\"[[:space:]]*:[[:space:]]*true ]] && return 0
  local d
  for d in up down_dir; do
    jfield "${1#*\""$d"\"}" loss
    [[ $REPLY =~ ^1(\.0*)?$ ]] && return 0
  done
  return 1
}

# wait_far FRESH...: every line answers ICMP from the far end, mockllm answers
# on 80 and 443; bounded by 10 s in all. Lines whose linesim was already running
# and is set down or at 100 % loss are skipped (that is the user's setting).
wait_far() {
  local n=$1 fresh=" $2 " deadline=$((SECONDS + 10)) k pending="" i show
  for ((k = 1; k <= n; k++)); do
    if [[ $fresh != *" $k "* ]] && show=$(send "$k" show 2>/dev/null) &&
      line_blocked "$show"; then
      echo "line $k is set down or at 100 % loss; not waiting for it" >&2
      continue
    fi
    pending+=" $k"
  done
  for ((i = 0; i < 100 && SECONDS < deadline; i++)); do
    local left=""
    for k in $pending; do
      ip netns exec "$name-gw" ping -n -q -c1 -W1 -I "198.18.$k.1" "$far_addr" >/dev/null 2>&1 || left+=" $k"
    done
    pending=$left
    if [ -z "$pending" ] && far_http 80 && far_http 443; then return 0; fi
    sleep 0.1
  done
  [ -z "$pending" ] || die "far end not answering over line(s)$pending within 10 s (logs: $sd/line*.log)"
  die "mockllm not answering on $far_addr:80/443 within 10 s (log: $sd/mockllm.log)"
}

# far_http PORT: mockllm answers (any HTTP status) — asked from inside the far
# namespace so a line the user has impaired does not matter.
far_http() {
  local scheme=http code
  [ "$1" = 443 ] && scheme=https
  code=$(ip netns exec "$name-far" curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
    --cacert "$sd/ca.crt" "$scheme://$far_addr/healthz" 2>/dev/null) || true
  [ -n "$code" ] && [ "$code" != 000 ]
}

cmd_up() {
  local n="" k fresh=""
  while [ $# -gt 0 ]; do
    case $1 in
      --lines) n=${2:-}; shift 2 || bad_args "--lines needs a value" ;;
      *) bad_args "up: unknown argument '$1'" ;;
    esac
  done
  if [ -n "$n" ]; then
    if ! [[ $n =~ ^[1-9]$ ]] || ((n > max_lines)); then
      bad_args "--lines must be 1..$max_lines, not '$n'"
    fi
  fi
  need_root
  resolve_build
  need_bins
  if [ -r "$sd/lines" ]; then
    local had
    had=$(<"$sd/lines")
    [ -z "$n" ] || [ "$n" = "$had" ] || bad_args "lab '$name' has $had lines; run down first to change that"
    n=$had
  fi
  n=${n:-$default_lines}
  make_state_dir
  echo "$n" >"$sd/lines"
  echo "$build" >"$sd/build"
  build_topology "$n"
  make_certs
  make_token
  start_mockllm
  for ((k = 1; k <= n; k++)); do
    start_linesim "$k"
  done
  wait_far "$n" "$fresh"
  print_table "$n" summary
}

# jfield JSON KEY: sets REPLY to the value of KEY (string quotes removed) in
# a flat JSON object as linesim's `show` prints it; "?" if absent. No
# subshell: `status` calls it dozens of times.
jfield() {
  local re="\"$2\"[[:space:]]*:[[:space:]]*(\"[^\"]*\"|[^,}[:space:]]*)"
  REPLY="?"
  [[ $1 =~ $re ]] || return 0
  REPLY=${BASH_REMATCH[1]}
  REPLY=${REPLY#\"}
  REPLY=${REPLY%\"}
}

# describe_dir SHOW up|down_dir summary|status: one direction as text.
describe_dir() {
  local obj=${1#*\""$2"\"} mode=$3 t f
  obj=${obj%%\}*}
  local delay jitter dist loss
  jfield "$obj" delay_ms && delay=$REPLY
  jfield "$obj" jitter_ms && jitter=$REPLY
  jfield "$obj" dist && dist=$REPLY
  jfield "$obj" loss && loss=$REPLY
  t=$(awk -v d="$delay" -v j="$jitter" -v s="$dist" -v l="$loss" \
    'BEGIN { printf "delay %gms jitter %gms (%s) loss %g%%", d, j, s, 100 * l }')
  jfield "$obj" rate_bps && t+=" rate ${REPLY}bps"
  if [ "$mode" = status ]; then
    for f in in out dropped_loss dropped_down dropped_queue queued; do
      jfield "$obj" "$f" && t+=" $f $REPLY"
    done
  fi
  echo "$t"
}

# print_table N summary|status: one row per line from linesim's `show`.
print_table() {
  local n=$1 mode=$2 k pid show mpid head
  mpid=$(live_pid "$sd/mockllm.pid" "$(mockllm_needle)") || mpid="dead"
  echo "lab $name: $n line(s); far $far_addr (mockllm pid $mpid; CA $sd/ca.crt; token file $sd/token)"
  for ((k = 1; k <= n; k++)); do
    pid=$(live_pid "$sd/line$k.pid" "$(linesim_needle "$k")") || pid="dead"
    head=$(printf 'line%-2s gw %-11s %-12s linesim pid %-8s' "$k" "198.18.$k.1" "$name-isp$k" "$pid")
    if ! show=$(send "$k" show 2>/dev/null); then
      echo "$head NOT ANSWERING (line cut)"
      continue
    fi
    if [[ $show =~ \"down\"[[:space:]]*:[[:space:]]*true ]]; then echo "$head DOWN"; else echo "$head up"; fi
    echo "    up:   $(describe_dir "$show" up "$mode")"
    echo "    down: $(describe_dir "$show" down_dir "$mode")"
  done
}

cmd_status() {
  [ $# -eq 0 ] || bad_args "status takes no arguments"
  local n
  n=$(nlines)
  resolve_build
  print_table "$n" status
}

# Validators: the same rules linesim applies, checked first so a bad value
# never reaches it (and the message names the lab's option).
valid_duration() {
  [[ $2 != -* ]] || bad_args "--$1 must not be negative: '$2'"
  [[ $2 =~ ^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d))+$ ]] ||
    bad_args "--$1 '$2' is not a duration (e.g. 100ms, 1.5s)"
}

valid_loss() {
  local v=$1 num
  [[ $v != -* ]] || bad_args "--loss must not be negative: '$v'"
  if [[ $v =~ ^([0-9]+(\.[0-9]+)?)%$ ]]; then
    num=${BASH_REMATCH[1]}
    awk -v x="$num" 'BEGIN { exit !(x <= 100) }' || bad_args "--loss $v is over 100 %"
  elif [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    awk -v x="$v" 'BEGIN { exit !(x <= 1) }' || bad_args "--loss $v is over 1 (100 %)"
  else
    bad_args "--loss '$v' is not a percentage (e.g. 2% or 0.02)"
  fi
}

cmd_set() {
  [ $# -gt 0 ] || bad_args "set: which line? (set LINE [--delay D] ... | --down | --up)"
  local line=$1 k n opt val kv="" updown="" reply rc cmd
  shift
  n=$(nlines)
  if [[ $line =~ ^(line)?([0-9]+)$ ]]; then k=$((10#${BASH_REMATCH[2]})); else k=0; fi
  ((k >= 1 && k <= n)) || bad_args "unknown line '$line' (lab '$name' has lines 1..$n)"
  while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
      --down | --up)
        [ -z "$updown" ] || bad_args "give only one of --down / --up"
        updown=${opt#--}; shift; continue ;;
      --delay | --jitter | --dist | --loss | --rate)
        [ $# -ge 2 ] || bad_args "$opt needs a value"
        val=$2; shift 2 ;;
      *) bad_args "set: unknown option '$opt'" ;;
    esac
    case $opt in
      --delay | --jitter) valid_duration "${opt#--}" "$val" ;;
      --dist) [[ $val == normal || $val == uniform ]] || bad_args "--dist must be normal or uniform, not '$val'" ;;
      --loss) valid_loss "$val" ;;
      --rate)
        [[ $val == 0 || $val =~ ^[0-9]+(\.[0-9]+)?([kKMGT]?bps)$ ]] ||
          bad_args "--rate '$val' is not a bitrate (e.g. 10Mbps, 0 = unlimited)"
        ;;
    esac
    kv+=" ${opt#--}=$val"
  done
  [ -n "$kv$updown" ] || bad_args "set line $k: nothing to set"
  resolve_build
  [ -x "$linesim_bin" ] || die "$linesim_bin not built"
  for cmd in ${kv:+"set rt$kv"} $updown; do
    rc=0
    reply=$(send "$k" "$cmd" 2>&1) || rc=$?
    case $rc in
      0) ;;
      1) bad_args "line $k: linesim refused '$cmd': $reply" ;;
      *) die "line $k: linesim not reachable ($reply); lab.sh --name $name status / up" ;;
    esac
  done
  echo "line $k: ok (${kv# }${kv:+${updown:+ }}$updown)"
}

cmd_exec() {
  [ $# -gt 0 ] || bad_args "exec needs a command"
  ns_exists "$name-gw" || die "lab '$name' is not up (no namespace $name-gw)"
  exec ip netns exec "$name-gw" "$@"
}

cmd_ca() {
  [ $# -eq 0 ] || bad_args "ca takes no arguments"
  [ -s "$sd/ca.crt" ] || die "lab '$name' is not up (no $sd/ca.crt)"
  echo "$sd/ca.crt"
}

cmd_down() {
  [ $# -eq 0 ] || bad_args "down takes no arguments"
  need_root
  local f k ns pid
  # Recorded PIDs first, then strays (pid file lost in a crash) found by
  # namespace membership + command line naming this lab's state dir.
  for f in "$sd"/line*.pid; do
    [ -e "$f" ] || continue
    k=${f##*/line}
    k=${k%.pid}
    stop_pid "$(cat "$f")" "$(linesim_needle "$k")"
  done
  [ ! -e "$sd/mockllm.pid" ] || stop_pid "$(cat "$sd/mockllm.pid")" "$(mockllm_needle)"
  for ns in $(lab_namespaces); do
    stop_strays "$ns" "$sd/"
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
      echo "lab.sh: warning: pid $pid (not the lab's) still runs in $ns; its namespace lives on until it exits" >&2
    done
    if [[ $ns == *-isp* ]]; then
      ip netns exec "$ns" ip tuntap del dev sim mode tun 2>/dev/null || true
    fi
    ip netns del "$ns"
  done
  if [ -d "$sd" ]; then
    if [ -e "$sd/$marker" ] || [ -z "$(ls -A "$sd")" ]; then
      rm -rf "$sd"
    else
      echo "lab.sh: warning: $sd is not a lab state dir; left alone" >&2
    fi
  fi
  echo "lab $name: down"
}

command=$1
shift
case $command in
  up) cmd_up "$@" ;;
  set) cmd_set "$@" ;;
  status) cmd_status "$@" ;;
  exec) cmd_exec "$@" ;;
  down) cmd_down "$@" ;;
  ca) cmd_ca "$@" ;;
  *) bad_args "unknown command '$command' (up, set, status, exec, down, ca)" ;;
esac

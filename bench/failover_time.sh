#!/usr/bin/env bash
# Failover time on the line lab: N cuts of line 1 (three 150 ms lines), each
# timed from the cut to the kernel route of 198.19.255.0/24 leaving line 1,
# for the default liveness profile (100 ms / 1 s) and the fast one (10 ms /
# 100 ms), along two paths:
#   local  the agent in the gateway namespace NAME-gw applies the plan to that
#          namespace's kernel itself (`apply: { table: main }`);
#   push   the agent in NAME-gw has no `apply`: it pushes each signed plan to a
#          `linewatch gateway` in a namespace of its own, NAME-rtr, reached
#          over a veth link (198.18.250.1 -> 198.18.250.2:9300), which applies
#          it to NAME-rtr's main table. The lines exist only in NAME-gw (the
#          agent's echoes must leave by them), so NAME-rtr stands in for the
#          router: veth devices l1..l3 with the lines' addresses 198.18.K.1/24,
#          so that the plan's next hops (via 198.18.K.2 dev lK) are valid there.
# Each failover is split where the logs allow it:
#   detect  cut -> the agent's line_down event for line 1 (log stamp, ms)
#   decide  line_down -> the next plan_new event (log stamps)
#   apply   (local) plan_new -> the route change seen by `ip -ts monitor
#           route` in NAME-gw (stamped by ip when it reads the netlink message)
#   push+apply (push) plan_new -> the route change seen the same way in
#           NAME-rtr. The gateway logs no receive stamp, so this is not split
#           further; beside it are the gateway's own `took_ms` (its netlink
#           apply) and the agent's push attempt time from `push_ok` (connect,
#           request, the gateway's apply and state save, answer).
# The cut time is stamped when `lab.sh set 1 --down` returns (linesim has
# taken the cut by then). Each cut is followed by a restore and a wait for the
# route to come back to line 1 (hold_down 2 s, margin_for 0 s, a flap penalty
# too small to suppress). Prints p50/p95/max (nearest rank) of every part per
# path and profile, and whether the targets are met: fast p95 <= 200 ms,
# default p95 <= 1200 ms (both paths).
#
# Then, unless FAILOVER_BFD=0 or FRR's bfdd is not installed: the same cuts
# against two bfdd (FRR), one in the gateway namespace and one at the far end,
# in a multihop session from 198.18.1.1 to 198.19.255.1 over line 1 at
# 50 ms x 3, timed from the cut to the gateway bfdd's log line for the session
# going down (its `debug bfd peer` state change, stamped to the millisecond).
# FRR's minimum-ttl is lowered to 1 (each lab ISP hop costs TTL) and the two
# bfdd start a second apart (same-second starts pick the same discriminator).
# Each bfdd has its own config, state and vty sockets in
# a temporary directory; no system FRR is used or touched.
#
# Needs root; all traffic stays inside the lab's namespaces (198.18.0.0/15).
# About 12 minutes for N=20 (of which about 1.5 for bfdd).
#
#   bash bench/failover_time.sh BUILD_DIR [N]     (N >= 1, default 20)
#   FAILOVER_PATHS="local push" (the default) picks paths;
#   FAILOVER_PROFILES="default fast" (the default) picks profiles; FAILOVER_BFD=0 skips bfdd.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "failover_time: needs root" >&2; exit 1; }
build=$(cd "${1:?usage: failover_time.sh BUILD_DIR [N]}" && pwd)
n_cuts=${2:-20}
if ! [[ $n_cuts =~ ^[1-9][0-9]{0,2}$ ]] || ((n_cuts > 500)); then
  echo "N must be 1..500" >&2
  exit 2
fi
paths=${FAILOVER_PATHS-local push}
profiles=${FAILOVER_PROFILES-default fast}
for p in $paths; do [[ $p == local || $p == push ]] || { echo "FAILOVER_PATHS: local or push, not '$p'" >&2; exit 2; }; done
for p in $profiles; do [[ $p == default || $p == fast ]] || { echo "FAILOVER_PROFILES: default or fast, not '$p'" >&2; exit 2; }; done
here=$(cd "$(dirname "$0")" && pwd)
labsh=$here/../tests/lab/lab.sh
bin=$build/agent/linewatch
name=lwft$$
rtr=$name-rtr  # the push path's router namespace (not one of lab.sh's)
push_gw=198.18.250.1 push_rtr=198.18.250.2
prefix=198.19.255.0/24
line1_gw=198.18.1.2
started=$SECONDS
work=$(mktemp -d /tmp/linewatch-ft.XXXXXX)
agent_pid=""
gw_pid=""
mon_pid=""
bfd_pids=()
route_ns=$name-gw  # where the route is read: NAME-gw (local) or NAME-rtr (push)

lab() { timeout 60 bash "$labsh" --name "$name" --build "$build" "$@"; }
now_ms() { date +%s%3N; }
stop_pid() {  # PID: end a process this script started, and reap it
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
rtr_exists() { ip netns list | awk '{ print $1 }' | grep -qxF "$rtr"; }
cleanup() {
  local p
  stop_pid "$mon_pid"
  stop_pid "$agent_pid"
  stop_pid "$gw_pid"
  for p in "${bfd_pids[@]}"; do stop_pid "$p"; done
  if rtr_exists; then ip netns del "$rtr" || true; fi
  lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "$work/agent.log" ] || { echo "--- agent log" >&2; tail -n 20 "$work/agent.log" >&2; }
  [ ! -s "$work/gateway.log" ] || { echo "--- gateway log" >&2; tail -n 10 "$work/gateway.log" >&2; }
  exit 1
}

# The gateway of the prefix's route in $route_ns ("none" / "multipath" otherwise).
via() {
  local r
  r=$(timeout 10 ip netns exec "$route_ns" ip route show "$prefix")
  if [[ $r =~ via\ ([0-9.]+) ]]; then
    echo "${BASH_REMATCH[1]}"
  elif [[ $r == *nexthop* ]]; then echo multipath; else echo none; fi
}
# wait_via GW SECONDS: the route goes via GW (polled every 10 ms); bounded.
wait_via() {
  local i
  for ((i = 0; i < $2 * 100; i++)); do
    [ "$(via)" = "$1" ] && return 0
    sleep 0.01
  done
  return 1
}
# wait_not_via GW SECONDS: the route no longer goes via GW; bounded.
wait_not_via() {
  local i
  for ((i = 0; i < $2 * 100; i++)); do
    [ "$(via)" != "$1" ] && return 0
    sleep 0.01
  done
  return 1
}

echo "== lab up: 3 lines at 150 ms"
lab up --lines 3 >/dev/null
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 0ms >/dev/null; done

# The push path's router: NAME-rtr with the lines' gateway-side addresses on
# veth devices named as in NAME-gw (each with its peer in NAME-rtr, up, so the
# routes are valid; the kernel here has no dummy devices), and a veth link to
# NAME-gw that carries the pushes.
setup_router() {
  local k
  ip netns add "$rtr"
  ip -n "$rtr" link set lo up
  for k in 1 2 3; do
    ip -n "$rtr" link add "l$k" type veth peer name "l${k}peer"
    ip -n "$rtr" addr add "198.18.$k.1/24" dev "l$k"
    ip -n "$rtr" link set "l${k}peer" up
    ip -n "$rtr" link set "l$k" up
  done
  ip -n "$name-gw" link add push0 type veth peer name push0 netns "$rtr"
  ip -n "$name-gw" addr add "$push_gw/30" dev push0
  ip -n "$rtr" addr add "$push_rtr/30" dev push0
  ip -n "$name-gw" link set push0 up
  ip -n "$rtr" link set push0 up
  (umask 077 && openssl rand -hex 32 >"$work/gw1.key")
}
# start_gateway PROFILE: a gateway in NAME-rtr with a fresh data_dir; its pid
# goes to gw_pid. Bounded: it answers /-/healthy within 5 s or the run fails.
start_gateway() {
  local i
  cat >"$work/gateway-$1.yaml" <<YAML
gateway: { id: gw1, listen: $push_rtr:9300, listen_public: true, secret_file: gw1.key, table: main, data_dir: gwdata-$1 }
YAML
  : >"$work/gateway.log"
  # ip netns exec execs, so $! is the gateway itself.
  ip netns exec "$rtr" "$bin" gateway -c "$work/gateway-$1.yaml" >>"$work/gateway.log" 2>&1 &
  gw_pid=$!
  for ((i = 0; i < 50; i++)); do
    timeout 2 ip netns exec "$name-gw" curl -sf --max-time 1 "http://$push_rtr:9300/-/healthy" >/dev/null 2>&1 && return 0
    kill -0 "$gw_pid" 2>/dev/null || fail "the gateway exited at start"
    sleep 0.1
  done
  fail "the gateway did not answer /-/healthy within 5 s"
}

# run_profile PATH PROFILE: N cuts with the agent at liveness PROFILE along
# PATH; appends one row per cut to $work/PATH-PROFILE.cuts:
# t_cut_ms log_from_line mon_from_line set_took_ms gateway_log_from_line.
run_profile() {
  local path=$1 profile=$2 run=$1-$2 log=$work/agent.log i t0 t_cut deliver
  local cfg=$work/$run.yaml mon=$work/$run.mon
  if [ "$path" = local ]; then
    route_ns=$name-gw
    deliver="apply: { table: main }"
  else
    route_ns=$rtr
    deliver="gateways: [ { id: gw1, url: http://$push_rtr:9300/v1/routes, secret_file: gw1.key, timeout: 1s } ]"
  fi
  cat >"$cfg" <<YAML
agent: { id: failover-bench, listen: 127.0.0.1:9464, data_dir: data-$run, workers: 4 }
storage: { flush_interval: 500ms }
probes:
  icmp: { interval: 1s, timeout: 600ms, pings: 1 }
  tcp: { interval: 1s, timeout: 600ms }
lines:
  - { id: cn2-gia-1, interface: l1, gateway: 198.18.1.2, capacity: 500Mbps }
  - { id: cu-vip-2, interface: l2, gateway: 198.18.2.2, capacity: 300Mbps }
  - { id: cmi-3, interface: l3, gateway: 198.18.3.2, capacity: 200Mbps }
targets:
  - { id: provider-edge, icmp: 198.19.255.1 }
  - { id: llm-api, tcp: 198.19.255.1:443 }
liveness: { profile: $profile, reflectors: [provider-edge] }
health: { rise: 3, hold_down: 2s, min_dwell: 1s, sla: { window: 2s }, flap: { penalty: 1 } }
scoring: { margin_for: 0s }
routes: [ { prefix: $prefix, policy: primary-backup, lines: [cn2-gia-1, cu-vip-2, cmi-3] } ]
$deliver
YAML
  lab exec "$bin" check-config "$cfg" >/dev/null || fail "check-config refused $cfg"
  [ "$path" = local ] || start_gateway "$profile"
  : >"$log"
  # lab.sh exec execs, so $! is the agent itself.
  bash "$labsh" --name "$name" --build "$build" exec "$bin" run -c "$cfg" >>"$log" 2>&1 &
  agent_pid=$!
  wait_via "$line1_gw" 30 || fail "$run: the route did not go via line 1 within 30 s"
  sleep 3  # every line up and settled before the first cut
  ip netns exec "$route_ns" ip -ts monitor route >"$mon" 2>&1 &
  mon_pid=$!
  sleep 0.5
  : >"$work/$run.cuts"
  for ((i = 1; i <= n_cuts; i++)); do
    local from_log from_mon from_gw=0
    from_log=$(wc -l <"$log")
    from_mon=$(wc -l <"$mon")
    [ "$path" = local ] || from_gw=$(wc -l <"$work/gateway.log")
    t0=$(now_ms)
    lab set 1 --down >/dev/null
    t_cut=$(now_ms)
    wait_not_via "$line1_gw" 10 || fail "$run cut $i: the route still goes via line 1 10 s after the cut"
    echo "$t_cut $from_log $from_mon $((t_cut - t0)) $from_gw" >>"$work/$run.cuts"
    sleep 0.5
    lab set 1 --up >/dev/null
    wait_via "$line1_gw" 30 || fail "$run cut $i: the route did not come back to line 1 within 30 s"
    sleep 1.5  # line 1's liveness settles before the next cut
    printf '\r  %s: %d/%d cuts' "$run" "$i" "$n_cuts"
  done
  echo
  sleep 0.2
  stop_pid "$mon_pid"
  mon_pid=""
  stop_pid "$agent_pid"
  agent_pid=""
  cp "$log" "$work/$run.log"
  if [ "$path" = push ]; then
    stop_pid "$gw_pid"
    gw_pid=""
    cp "$work/gateway.log" "$work/$run.gw.log"
  fi
}

runs=()
for path in $paths; do
  [ "$path" = local ] || rtr_exists || setup_router
  for profile in $profiles; do
    echo "== $path, profile $profile: $n_cuts cuts of line 1 ($((SECONDS - started)) s)"
    run_profile "$path" "$profile"
    runs+=("$path-$profile")
  done
done

# --- FRR bfdd: the same cuts against a multihop BFD session at 50 ms x 3 ----

bfd_ran=0
bfdd_bin=/usr/lib/frr/bfdd
vtysh_bin=$(command -v vtysh || true)
if [ "${FAILOVER_BFD:-1}" != 0 ] && [ -x "$bfdd_bin" ] && [ -n "$vtysh_bin" ]; then
  echo "== FRR bfdd: $n_cuts cuts of line 1, 50 ms x 3 ($((SECONDS - started)) s)"
  # start_bfdd SIDE NS LOCAL PEER: one bfdd in NS with its own dirs; its pid
  # goes to bfd_pids. vtysh reaches it through --vty_socket.
  start_bfdd() {
    local side=$1 ns=$2 local_addr=$3 peer=$4 d=$work/bfd-$1 i
    mkdir -p "$d"
    chmod 755 "$work"  # bfdd runs as frr
    chown frr:frr "$d"
    # Session state changes go to the log, stamped to the millisecond.
    cat >"$d/bfdd.conf" <<CONF
log file $d/bfdd.log debugging
log timestamp precision 3
debug bfd peer
bfd
 peer $peer multihop local-address $local_addr
  receive-interval 50
  transmit-interval 50
  detect-multiplier 3
  minimum-ttl 1
  no shutdown
 !
!
CONF
    # -N: a namespace of its own for FRR's pathspace (its pid file and its
    # control socket live under the state dir given by --vty_socket).
    ip netns exec "$ns" "$bfdd_bin" -N "lwft$$-$side" --vty_socket "$d" -f "$d/bfdd.conf" \
      -i "$d/bfdd.pid" --bfdctl "$d/bfdd.sock" -u frr -g frr -P 0 >"$d/stdout" 2>&1 &
    bfd_pids+=($!)
    for ((i = 0; i < 100; i++)); do
      [ -S "$d/bfdd.vty" ] && return 0
      sleep 0.05
    done
    echo "bfdd ($side) did not start: $(tail -n 5 "$d/stdout" "$d/bfdd.log" 2>/dev/null)" >&2
    return 1
  }
  # bfd_status: the gateway side's session status (up, down, init, ...).
  bfd_status() {
    local out
    out=$(timeout 5 "$vtysh_bin" --vty_socket "$work/bfd-gw" -d bfdd -c "show bfd peers json" 2>/dev/null) || true
    [[ $out =~ \"status\":\"([a-z]+)\" ]] && echo "${BASH_REMATCH[1]}" || echo none
  }
  wait_bfd() {  # STATUS SECONDS: polled every 10 ms (plus the poll); bounded
    local i
    for ((i = 0; i < $2 * 100; i++)); do
      [ "$(bfd_status)" = "$1" ] && return 0
      sleep 0.01
    done
    return 1
  }
  if start_bfdd gw "$name-gw" 198.18.1.1 198.19.255.1 && sleep 1.1 &&
    start_bfdd far "$name-far" 198.19.255.1 198.18.1.1 && wait_bfd up 20; then
    sleep 2  # "up" comes before the poll sequence that brings in the 50 ms timers
    : >"$work/bfd.cuts"
    for ((i = 1; i <= n_cuts; i++)); do
      from=$(wc -l <"$work/bfd-gw/bfdd.log")
      lab set 1 --down >/dev/null
      t_cut=$(now_ms)
      for ((j = 0; j < 1000; j++)); do  # 10 s at most
        tail -n +"$((from + 1))" "$work/bfd-gw/bfdd.log" | grep -q 'up -> down' && break
        sleep 0.01
      done
      ((j < 1000)) || fail "bfd cut $i: the session is not down 10 s after the cut"
      echo "$t_cut $from" >>"$work/bfd.cuts"
      sleep 0.3
      lab set 1 --up >/dev/null
      wait_bfd up 30 || fail "bfd cut $i: the session did not come back up within 30 s"
      sleep 2
      printf '\r  bfdd: %d/%d cuts' "$i" "$n_cuts"
    done
    echo
    bfd_ran=1
  else
    echo "  bfdd: the session did not come up; left out" >&2
  fi
  for p in "${bfd_pids[@]}"; do stop_pid "$p"; done
  bfd_pids=()
else
  echo "== FRR bfdd: skipped (FAILOVER_BFD=0, or $bfdd_bin / vtysh missing: bash scripts/setup.sh --bench to compare)"
fi

echo "== results: $n_cuts cuts per path and profile, three 150 ms lines ($((SECONDS - started)) s)"
python3 - "$work" "$n_cuts" "$bfd_ran" "${runs[@]}" <<'PY'
import datetime, math, os, re, sys

work, n, bfd_ran, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4:]
prefix, line1 = "198.19.255.0/24", "198.18.1.2"

def log_ms(stamp):  # the agent's and the gateway's 2026-11-30T11:50:00.123Z
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000

def mon_ms(stamp):  # ip -ts: [2026-11-30T11:50:00.123456], local time
    return datetime.datetime.fromisoformat(stamp).timestamp() * 1000

def pct(values, p):  # nearest rank
    v = sorted(values)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]

def row(label, values):
    if not values:
        return f"  {label:<12} (no samples)"
    return (f"  {label:<12} p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  "
            f"max {max(values):7.1f} ms   (n={len(values)})")

def lines_of(path):
    return open(path).read().splitlines() if os.path.exists(path) else []

def push_ok(line):  # the agent's push_ok: (version, attempt ms)
    m = re.search(r'version (\d+) in force at \S+ in ([0-9.]+) (ms|s)', line)
    if not m:
        return None
    return int(m.group(1)), float(m.group(2)) * (1000 if m.group(3) == "s" else 1)

targets = {"default": 1200, "fast": 200}
verdicts = []
for run in runs:
    path, profile = run.split("-", 1)
    log = lines_of(os.path.join(work, run + ".log"))
    mon = lines_of(os.path.join(work, run + ".mon"))
    gwlog = lines_of(os.path.join(work, run + ".gw.log"))
    cuts = [list(map(int, l.split())) for l in open(os.path.join(work, run + ".cuts"))]
    total, detect, decide, deliver, set_ms, kinds = [], [], [], [], [], {}
    gw_took, attempt = [], []
    for t_cut, from_log, from_mon, took_set, from_gw in cuts:
        set_ms.append(took_set)
        t_route = None
        for l in mon[from_mon:]:
            m = re.match(r"\[([0-9T:.-]+)\]\s+(.*)", l)
            if m and m.group(2).startswith(prefix) and line1 not in m.group(2) \
                    and not m.group(2).startswith("Deleted"):
                t_route = mon_ms(m.group(1))
                break
        if t_route is None:
            continue
        total.append(t_route - t_cut)
        # The first event after the cut that takes line 1 out of traffic, the
        # plan it makes, and (push) that plan's delivery.
        t_down = t_plan = version = None
        for l in log[from_log:]:
            f = l.split()
            if len(f) < 3 or not f[2].startswith("event="):
                continue
            kind = f[2][6:]
            if t_down is None and kind in ("line_down", "line_degraded") and "line=cn2-gia-1" in f:
                t_down = log_ms(f[0])
                kinds[kind] = kinds.get(kind, 0) + 1
            elif t_down is not None and t_plan is None and kind == "plan_new":
                t_plan = log_ms(f[0])
                if path == "local":
                    break
            elif t_plan is not None and kind == "push_ok" and push_ok(l):
                version, ms = push_ok(l)
                attempt.append(ms)
                break
        if t_down is None or t_plan is None:
            continue
        detect.append(t_down - t_cut)
        decide.append(t_plan - t_down)
        deliver.append(t_route - t_plan)
        if version is not None:
            for l in gwlog[from_gw:]:
                if "event=plan_applied" in l and f" version={version} " in l:
                    m = re.search(r" took_ms=([0-9.]+)", l)
                    if m:
                        gw_took.append(float(m.group(1)))
                    break
    p95 = pct(total, 95) if total else float("inf")
    met = p95 <= targets[profile]
    verdicts.append(f"{path} {profile} p95 {p95:.1f} ms <= {targets[profile]} ms: {'MET' if met else 'NOT MET'}")
    iv = "100 ms / 1 s" if profile == "default" else "10 ms / 100 ms"
    where = ("agent applies in the gateway namespace" if path == "local"
             else "agent pushes to linewatch gateway in its own namespace")
    print(f"{path}, profile {profile} ({iv}; {where}): {len(total)} of {len(cuts)} failovers timed; "
          f"first event after the cut: {kinds}; lab.sh set --down took max {max(set_ms)} ms")
    print(row("total", total))
    print(row("detect", detect))
    print(row("decide", decide))
    if path == "local":
        print(row("apply", deliver))
    else:
        print(row("push+apply", deliver))
        print(row(" gw apply", gw_took) + "  the gateway's took_ms (netlink apply)")
        print(row(" push call", attempt) + "  the agent's push_ok attempt (HTTP round trip)")
if bfd_ran:
    cuts = [list(map(int, l.split())) for l in open(os.path.join(work, "bfd.cuts"))]
    blog = open(os.path.join(work, "bfd-gw", "bfdd.log")).read().splitlines()
    downs = []
    for t_cut, from_line in cuts:
        for l in blog[from_line:]:
            if "up -> down" in l:  # 2026/11/30 12:06:01.371 BFD: ... (local time)
                t = datetime.datetime.strptime(" ".join(l.split()[:2]), "%Y/%m/%d %H:%M:%S.%f")
                downs.append(t.timestamp() * 1000 - t_cut)
                break
    print("FRR bfdd, multihop 198.18.1.1 -> 198.19.255.1 over line 1, 50 ms x 3: "
          "cut -> session up -> down in the gateway bfdd's log:")
    print(row("detect", downs))
print("targets:")
for v in verdicts:
    print("  " + v)
PY

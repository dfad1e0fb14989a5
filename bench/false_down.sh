#!/usr/bin/env bash
# False downs at random loss on the line lab: three lines at 150 ms, line 1 at
# 10 % random loss (lab.sh --loss: the share of echoes lost on the round trip,
# split over both directions), the agent with the fast liveness profile
# (10 ms / 100 ms) on every line, for SECONDS. Prints:
#   - line_down events for line 1 in the agent's log (the liveness tier's
#     false downs; the expected figure is 0) and line_degraded (the loss SLA,
#     2 % by default, may degrade it: that is not a false down);
#   - the agent's own liveness echoes per line, sent and answered, read off
#     the wire in the gateway namespace (an AF_PACKET socket in a small
#     Python reader: the agent does not expose its per-echo counters), and on
#     those same echoes what a naive "3 consecutive misses = down" rule would
#     have tripped on (LineLiveness's three_miss_trips rule: an echo is missed
#     when unanswered for 1 s, runs counted in send order), with the longest
#     run of misses and how many runs reached 5 and 10 (10 = the fast
#     profile's k = detect / interval);
#   - the agent's CPU over the run (utime + stime from /proc/PID/stat) as % of
#     one core and per liveness echo. Measurement probes are left at a 1 h
#     interval, so this is the liveness tier at 3 lines (one reflector each)
#     plus the agent's idle cost.
# A progress line every minute. The run is bounded (SECONDS + 2 min at most);
# processes are ended by PID and the lab is removed on exit.
#
# Needs root; all traffic stays inside the lab's namespaces (198.18.0.0/15).
#
#   bash bench/false_down.sh BUILD_DIR [SECONDS]   (60..86400, default 3600)
#   FALSE_DOWN_LOSS=10% (the default) sets line 1's loss (lab.sh --loss syntax).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "false_down: needs root" >&2; exit 1; }
build=$(cd "${1:?usage: false_down.sh BUILD_DIR [SECONDS]}" && pwd)
run_s=${2:-3600}
if ! [[ $run_s =~ ^[1-9][0-9]{0,4}$ ]] || ((run_s < 60 || run_s > 86400)); then
  echo "SECONDS must be 60..86400" >&2
  exit 2
fi
loss=${FALSE_DOWN_LOSS:-10%}
here=$(cd "$(dirname "$0")" && pwd)
labsh=$here/../tests/lab/lab.sh
bin=$build/agent/linewatch
name=lwfd$$
line1=cn2-gia-1
work=$(mktemp -d /tmp/linewatch-fd.XXXXXX)
log=$work/agent.log
agent_pid=""
cap_pid=""

lab() { timeout 60 bash "$labsh" --name "$name" --build "$build" "$@"; }
stop_pid() {  # PID: SIGTERM, up to 5 s, then SIGKILL; reaped. Only our own children.
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
  stop_pid "$agent_pid"
  stop_pid "$cap_pid"
  lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() {
  echo "FAIL: $*" >&2
  [ ! -s "$log" ] || { echo "--- agent log" >&2; tail -n 20 "$log" >&2; }
  exit 1
}
# cpu_ticks PID: utime + stime of PID in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may hold spaces).
cpu_ticks() {
  local s
  s=$(cat "/proc/$1/stat") || return 1
  s=${s##*) }
  awk '{ print $12 + $13 }' <<<"$s"
}
# Events of KIND for line 1 in the agent's log.
line1_events() { grep -E "event=$1( |\$)" "$log" | grep -cE "line=$line1( |\$)" || true; }

echo "== lab up: 3 lines at 150 ms, line 1 at $loss random loss"
lab up --lines 3 >/dev/null
for k in 1 2 3; do lab set "$k" --delay 150ms --jitter 0ms >/dev/null; done
lab set 1 --loss "$loss" >/dev/null

# Measurement probes at 1 h: one round at start, then only the liveness tier
# echoes. routes make the failover run; no apply and no gateways: nothing is
# changed anywhere, the plan is only made.
cat >"$work/fd.yaml" <<YAML
agent: { id: false-down-bench, listen: 127.0.0.1:9464, data_dir: data, workers: 2 }
probes:
  icmp: { interval: 1h, timeout: 1s, pings: 1 }
lines:
  - { id: $line1, interface: l1, gateway: 198.18.1.2, capacity: 500Mbps }
  - { id: cu-vip-2, interface: l2, gateway: 198.18.2.2, capacity: 300Mbps }
  - { id: cmi-3, interface: l3, gateway: 198.18.3.2, capacity: 200Mbps }
targets:
  - { id: provider-edge, icmp: 198.19.255.1 }
liveness: { profile: fast, reflectors: [provider-edge] }
routes: [ { prefix: 198.19.255.0/24, policy: primary-backup, lines: [$line1, cu-vip-2, cmi-3] } ]
YAML
lab exec "$bin" check-config "$work/fd.yaml" >/dev/null || fail "check-config refused $work/fd.yaml"

# The echo reader: every ICMP echo request leaving, and reply arriving on,
# l1..l3 in the gateway namespace, grouped by line and ICMP identifier (the
# liveness stream of a line is its busiest identifier). It writes its
# counters to STATE every second and once more on SIGTERM.
cat >"$work/echoes.py" <<'PY'
import collections, json, os, select, signal, socket, struct, sys, time

state_path = sys.argv[1]
MISS_AFTER = 1.0  # LivenessOptions::miss_timeout: an echo unanswered this long is missed
SOL_PACKET, PACKET_STATISTICS, PACKET_OUTGOING = 263, 6, 4
# ETH_P_ALL: a socket bound to ETH_P_IP alone is not handed outgoing packets.
sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
LINE_DEVS = {f"l{k}" for k in range(1, 9)}
kernel_drops = 0
stopping = False

def on_term(*_):
    global stopping
    stopping = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)

class Stream:  # one line's echoes with one identifier
    def __init__(self):
        self.pending = collections.deque()  # [seq, sent, answered], send order
        self.by_seq = {}
        self.sent = self.replies = self.unmatched = self.answered = self.misses = 0
        self.run = self.longest = self.trips = self.runs5 = self.runs10 = 0
    def request(self, seq, now):
        e = [seq, now, False]
        self.pending.append(e)
        self.by_seq[seq] = e
        self.sent += 1
    def reply(self, seq):
        self.replies += 1
        e = self.by_seq.get(seq)
        if e is None:
            self.unmatched += 1
        else:
            e[2] = True
    def settle(self, now):  # judge echoes in send order, as LineLiveness does
        while self.pending:
            seq, sent, answered = self.pending[0]
            if not answered and now - sent < MISS_AFTER:
                break
            self.pending.popleft()
            if self.by_seq.get(seq) is not None and self.by_seq[seq][1] == sent:
                del self.by_seq[seq]
            if answered:
                self.answered += 1
                self.run = 0
                continue
            self.misses += 1
            self.run += 1
            self.longest = max(self.longest, self.run)
            self.trips += self.run == 3
            self.runs5 += self.run == 5
            self.runs10 += self.run == 10

streams = collections.defaultdict(Stream)  # (line device, identifier)

def write_state():
    global kernel_drops
    _, drops = struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
    kernel_drops += drops  # reading the statistics resets them
    out = {"time": time.time(), "kernel_drops": kernel_drops, "lines": {}}
    for (dev, ident), s in sorted(streams.items()):
        out["lines"].setdefault(dev, []).append({
            "id": ident, "sent": s.sent, "replies": s.replies, "unmatched": s.unmatched,
            "answered": s.answered, "misses": s.misses, "longest_run": s.longest, "three_miss_trips": s.trips,
            "runs_5": s.runs5, "runs_10": s.runs10})
    for v in out["lines"].values():
        v.sort(key=lambda x: -x["sent"])
    tmp = state_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, state_path)

next_settle = next_write = time.monotonic()
while not stopping:
    ready, _, _ = select.select([sock], [], [], 0.2)
    now = time.monotonic()
    if ready:
        data, addr = sock.recvfrom(128)
        dev, proto, pkttype = addr[0], addr[1], addr[2]
        if dev in LINE_DEVS and proto == 0x0800 and len(data) >= 20 and data[9] == 1:
            ihl = (data[0] & 0x0F) * 4
            if len(data) >= ihl + 8:
                kind = data[ihl]
                ident, seq = struct.unpack("!HH", data[ihl + 4:ihl + 8])
                if kind == 8 and pkttype == PACKET_OUTGOING:
                    streams[(dev, ident)].request(seq, now)
                elif kind == 0 and pkttype != PACKET_OUTGOING:
                    streams[(dev, ident)].reply(seq)
    if now >= next_settle:
        for s in streams.values():
            s.settle(now)
        next_settle = now + 0.1
    if now >= next_write:
        write_state()
        next_write = now + 1
for s in streams.values():
    s.settle(time.monotonic())
write_state()
PY

ip netns exec "$name-gw" python3 "$work/echoes.py" "$work/echoes.json" 2>"$work/echoes.err" &
cap_pid=$!
sleep 1
kill -0 "$cap_pid" 2>/dev/null || fail "the echo reader did not start: $(cat "$work/echoes.err")"

# lab.sh exec execs, so $! is the agent itself.
bash "$labsh" --name "$name" --build "$build" exec "$bin" run -c "$work/fd.yaml" >"$log" 2>&1 &
agent_pid=$!
sleep 5  # the agent is up, its lines echoing; the window starts here
kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited at start"
clk_tck=$(getconf CLK_TCK)
cpu0=$(cpu_ticks "$agent_pid")
t0=$(date +%s%3N)
for ((i = 0; i < 100; i++)); do [ -s "$work/echoes.json" ] && break; sleep 0.1; done
cp "$work/echoes.json" "$work/echoes0.json" || fail "the echo reader wrote nothing"

# summary FILE0 FILE1 CPU_TICKS MS FINAL: echoes of each line's liveness
# stream between the two reader states, and the agent's CPU over MS.
summary() {
  python3 - "$@" "$clk_tck" "$(line1_events line_down)" "$(line1_events line_degraded)" <<'PY'
import json, sys
s0, s1 = (json.load(open(p)) for p in sys.argv[1:3])
ticks, ms, final, hz = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", int(sys.argv[6])
downs, degraded = int(sys.argv[7]), int(sys.argv[8])
def stream(state, dev):  # the busiest identifier of the line: the liveness stream
    v = state["lines"].get(dev, [])
    return v[0] if v else None
rows, sent_all = [], 0
for dev in sorted(s1["lines"]):
    a, b = stream(s0, dev), stream(s1, dev)
    if b is None:
        continue
    if a is None or a["id"] != b["id"]:
        a = {k: 0 for k in b}
    d = {k: b[k] - a[k] for k in b if k not in ("id", "longest_run")}
    d["longest_run"] = b["longest_run"]
    sent_all += d["sent"]
    rows.append((dev, d, sum(x["sent"] for x in s1["lines"][dev][1:])))
cpu_s = ticks / hz
pct = 100 * cpu_s / (ms / 1000) if ms > 0 else 0
if not final:
    l = {dev: d for dev, d, _ in rows}.get("l1", {"answered": 0, "misses": 0, "three_miss_trips": 0})
    print(f"  [{ms / 60000:5.1f} min] line 1: line_down {downs}, line_degraded {degraded}; "
          f"echoes {l['answered']}/{l['answered'] + l['misses']} answered, 3-miss trips {l['three_miss_trips']}; "
          f"all lines {sent_all} echoes; agent CPU {pct:.2f} % of a core", flush=True)
    sys.exit(0)
print(f"line 1: {downs} line_down (false downs), {degraded} line_degraded (loss SLA)")
print("liveness echoes per line (the agent's own, read off the wire in the gateway namespace):")
for dev, d, other in rows:
    judged = d["answered"] + d["misses"]
    print(f"  {dev}: sent {d['sent']}, answered {d['answered']}, missed {d['misses']} "
          f"({100 * d['misses'] / max(1, judged):.2f} % lost), longest run of misses {d['longest_run']}; "
          f"naive 3-miss rule: {d['three_miss_trips']} trips; runs reaching 5: {d['runs_5']}, 10: {d['runs_10']}"
          + (f"  (+{other} echoes of probe rounds)" if other else ""))
print(f"  echo reader: {s1['kernel_drops']} packets dropped by the kernel before it read them")
per_echo = 1e6 * cpu_s / sent_all if sent_all else float("nan")
print(f"agent CPU over {ms / 1000:.0f} s: {cpu_s:.2f} s = {pct:.2f} % of a core; "
      f"{sent_all} echoes on 3 lines ({sent_all / (ms / 1000):.1f}/s): {per_echo:.1f} µs CPU per echo")
PY
}

echo "== the agent, fast profile on 3 lines, for $run_s s ($(date -u +%FT%TZ))"
deadline=$((SECONDS + run_s + 120))
end_ms=$((t0 + run_s * 1000))
next_ms=$((t0 + 60000))
while :; do
  now=$(date +%s%3N)
  ((now < end_ms)) || break
  ((SECONDS < deadline)) || fail "the run overran its bound"
  kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited"
  kill -0 "$cap_pid" 2>/dev/null || fail "the echo reader exited: $(cat "$work/echoes.err")"
  if ((now >= next_ms)); then
    summary "$work/echoes0.json" "$work/echoes.json" "$(($(cpu_ticks "$agent_pid") - cpu0))" "$((now - t0))" 0
    next_ms=$((next_ms + 60000))
  fi
  sleep 1
done
cpu1=$(cpu_ticks "$agent_pid")
t1=$(date +%s%3N)
stop_pid "$cap_pid"  # its final state: every echo older than 1 s judged
cap_pid=""
echo "== results: $(((t1 - t0) / 1000)) s, three 150 ms lines, line 1 at $loss loss, fast profile"
summary "$work/echoes0.json" "$work/echoes.json" "$((cpu1 - cpu0))" "$((t1 - t0))" 1
downs=$(line1_events line_down)
stop_pid "$agent_pid"
agent_pid=""
((downs == 0)) || { echo "line 1 went down $downs times at random loss:" >&2; grep -E 'event=line_down' "$log" >&2; exit 1; }

#!/usr/bin/env bash
# The API keeps answering its operator under a connection flood from the
# operator's own address: `linewatch run` (fd soft limit 1024, as under
# systemd) while a helper holds 500 idle sockets and 100 slowloris sockets
# (a header line every 5 s) on 127.0.0.1, re-opening any the agent closes at
# each 5 s tick. During the attack `linewatch status --agent URL` and
# GET /-/healthy must each answer within 1 s, every time. Prints the answer
# times (median, max). Loopback only; every process is ended by its PID.
set -euo pipefail
bin=${1:?usage: api_hostile_test.sh PATH/TO/linewatch}
work=$(mktemp -d /tmp/linewatch-hostile.XXXXXX)
agent_pid=""
attack_pid=""
stop_pid() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then kill "$1"; wait "$1" 2>/dev/null || true; fi
}
cleanup() {
  stop_pid "$attack_pid"
  stop_pid "$agent_pid"
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" | tail -20 >&2
  [ -f "$work/attack.out" ] && sed 's/^/  attack: /' "$work/attack.out" >&2
  exit 1
}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
cat >"$work/linewatch.yaml" <<YAML
agent: { id: hostile, listen: 127.0.0.1:$port, data_dir: data }
lines: [ { id: lo, source: 127.0.0.1 } ]
targets:
  - { id: me, icmp: { host: 127.0.0.1, pings: 2, spacing: 10ms, timeout: 200ms, interval: 1s } }
YAML

# The attacker: IDLE sockets that send nothing and SLOW sockets that send a
# request line, then one header line per tick and never the blank line. At
# each tick, sockets the server closed are opened again, and a line of counts
# is printed. Runs DURATION seconds.
cat >"$work/attack.py" <<'PY'
import errno, select, socket, sys, time
port, n_idle, n_slow, duration, tick = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                        float(sys.argv[4]), float(sys.argv[5]))
end = time.monotonic() + duration
stats = {"closed_by_server": 0, "answers_408": 0}

class Conn:
    def __init__(self, slow):
        self.slow, self.started = slow, False
        self.s = socket.socket()
        self.s.setblocking(False)
        self.s.connect_ex(("127.0.0.1", port))  # completes in the background

    def send(self, data):
        try:
            self.s.send(data)
            return True
        except OSError:  # not connected yet, or reset
            return False

conns = [Conn(False) for _ in range(n_idle)] + [Conn(True) for _ in range(n_slow)]

def settle(limit):  # waits (bounded) for the connects to complete
    deadline = time.monotonic() + limit
    pending = {c.s.fileno(): c for c in conns}
    while pending and time.monotonic() < deadline:
        p = select.poll()
        for fd in pending: p.register(fd, select.POLLOUT)
        for fd, _ in p.poll(100): pending.pop(fd, None)

def sweep():  # re-opens what the server closed; the slow ones send one more line
    p = select.poll()
    by_fd = {c.s.fileno(): i for i, c in enumerate(conns)}
    for fd in by_fd: p.register(fd, select.POLLIN)
    for fd, _ in p.poll(0):
        i = by_fd[fd]
        try:
            data = conns[i].s.recv(4096)
        except OSError:
            data = b""
        stats["closed_by_server"] += 1
        if data.startswith(b"HTTP/1.1 408"): stats["answers_408"] += 1
        conns[i].s.close()
        conns[i] = Conn(conns[i].slow)
    settle(1.0)
    for c in conns:
        if not c.slow: continue
        if not c.started: c.started = c.send(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
        else: c.send(b"X-Slowloris: 1\r\n")
    print("attack: idle=%d slowloris=%d closed_by_server=%d answers_408=%d" %
          (n_idle, n_slow, stats["closed_by_server"], stats["answers_408"]), flush=True)

settle(3.0)
sweep()
print("ready", flush=True)
while time.monotonic() < end:
    time.sleep(max(0.0, min(tick, end - time.monotonic())))
    sweep()
PY

# ms TIME_FILE CMD...: runs CMD, appends its wall time in ms to TIME_FILE,
# fails unless it succeeds within 1 s.
ms() {
  local file=$1; shift
  local t0=$EPOCHREALTIME code=0
  "$@" >"$work/out" 2>&1 || code=$?
  local t1=$EPOCHREALTIME
  local took=$(( (${t1/./} - ${t0/./}) / 1000 ))
  echo "$took" >>"$file"
  [ "$code" -eq 0 ] || fail "$* failed (exit $code) after ${took} ms: $(head -c 300 "$work/out")"
  [ "$took" -lt 1000 ] || fail "$* took ${took} ms"
}
healthy() {
  [ "$(curl -sS --max-time 2 "$url/-/healthy")" = OK ]
}
# The agent under the usual soft limit, so the connection caps must fit in it.
(ulimit -n 1024 && exec "$bin" run -c "$work/linewatch.yaml") >"$work/agent.log" 2>&1 &
agent_pid=$!
up=""
for _ in $(seq 1 40); do
  sleep 0.25
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  if "$bin" status --agent "$url" >/dev/null 2>&1; then up=1; break; fi
done
[ -n "$up" ] || fail "agent never answered before the attack"
for _ in $(seq 1 10); do
  ms "$work/status-idle.ms" "$bin" status --agent "$url" --timeout 2s
  ms "$work/healthy-idle.ms" healthy
done

# Bounded at 100 s; ended by PID once the checks are done.
python3 "$work/attack.py" "$port" 500 100 100 5 >"$work/attack.out" 2>&1 &
attack_pid=$!
for _ in $(seq 1 100); do grep -q ready "$work/attack.out" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$work/attack.out" || fail "the attack did not start"

# Checks for 16 s, so they span three ticks of the attack (and the 5 s head
# deadline of its slow sockets).
attack_start=$SECONDS
for _ in $(seq 1 200); do
  ms "$work/status.ms" timeout 5 "$bin" status --agent "$url" --timeout 2s
  ms "$work/healthy.ms" healthy
  [ $((SECONDS - attack_start)) -ge 16 ] && break
  sleep 0.25
done
kill -0 "$agent_pid" 2>/dev/null || fail "agent died under attack"
kill -0 "$attack_pid" 2>/dev/null || fail "the attack ended before the checks did"

summary() {
  sort -n "$2" | awk -v what="$1" '{ v[NR] = $1 } END {
    printf "%-40s %3d answers, median %4d ms, max %4d ms\n", what, NR, v[int((NR + 1) / 2)], v[NR] }'
}
summary "linewatch status, before the attack" "$work/status-idle.ms"
summary "linewatch status, under attack" "$work/status.ms"
summary "GET /-/healthy, before the attack" "$work/healthy-idle.ms"
summary "GET /-/healthy, under attack" "$work/healthy.ms"
stop_pid "$attack_pid"
attack_pid=""
grep '^attack:' "$work/attack.out" | tail -1
kill -TERM "$agent_pid"
wait "$agent_pid" || fail "agent exited non-zero on SIGTERM"
agent_pid=""
echo "api hostile: all checks passed"

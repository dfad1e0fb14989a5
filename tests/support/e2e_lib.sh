# Helpers shared by the end-to-end shell tests. Source it after defining
# fail() (the test's own, which knows what logs to show).

# stop_pid PID: TERM, then KILL after 5 s, and reap it. Only for processes the
# test started itself; an empty or finished PID is a no-op.
stop_pid() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}

# expect CODE PATTERN CMD...: CMD exits CODE and its stdout+stderr match the
# extended regex PATTERN; otherwise fail() with what it printed.
expect() {
  local want=$1 pattern=$2; shift 2
  local out code
  set +e; out=$("$@" 2>&1); code=$?; set -e
  [ "$code" -eq "$want" ] || fail "$* exited $code, want $want; output: $out"
  echo "$out" | grep -Eq -- "$pattern" || fail "$* output lacks /$pattern/: $out"
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

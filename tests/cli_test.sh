#!/usr/bin/env bash
# The CLI's promises: exit codes (0 ok, 1 checked thing bad, 2 usage or
# environment), messages that name the file, key or address to fix, and
# `probe` output in both forms. Loopback only.
set -euo pipefail
bin=${1:?usage: cli_test.sh PATH/TO/linewatch}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linewatch-cli.XXXXXX)
holder_pid=""
cleanup() {
  if [ -n "$holder_pid" ] && kill -0 "$holder_pid" 2>/dev/null; then kill "$holder_pid"; wait "$holder_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect CODE PATTERN CMD...: runs CMD, checks its exit code and that its
# combined output matches PATTERN (grep -E).
expect() {
  local want=$1 pattern=$2; shift 2
  local out code
  set +e; out=$("$@" 2>&1); code=$?; set -e
  [ "$code" -eq "$want" ] || fail "$* exited $code, want $want; output: $out"
  echo "$out" | grep -Eq -- "$pattern" || fail "$* output lacks /$pattern/: $out"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
closed=$(free_port)
api=$(free_port)
cat >"$work/ok.yaml" <<YAML
agent: { listen: 127.0.0.1:$api, data_dir: data }
lines: [ { id: lo, source: 127.0.0.1 } ]
targets:
  - { id: me, icmp: { host: 127.0.0.1, pings: 3, spacing: 10ms, timeout: 200ms, interval: 1s } }
  - { id: closed, tcp: { host: 127.0.0.1, port: $closed, interval: 1s, timeout: 200ms } }
YAML

expect 0 "Usage: .*SUBCOMMAND" "$bin" --help
expect 0 "--agent" "$bin" status --help
expect 0 "--timeout DURATION" "$bin" status --help
expect 2 '"5": a unit is required' "$bin" status --timeout 5
expect 2 '"90s": must be from 100ms to 1m' "$bin" status --timeout 90s
expect 2 "requires a subcommand|A subcommand is required" "$bin"
expect 0 "ok \(1 lines, 2 targets, 2 probe jobs\)" "$bin" check-config "$work/ok.yaml"

# Bad configs: exit 1 with FILE:LINE:COL: key: message.
expect 1 "line_not_pinned.yaml:2:5: lines\[0\]: line must set at least one of interface, source or fwmark" \
  "$bin" check-config "$src/tests/testdata/config/bad/line_not_pinned.yaml"
# A config that cannot be read is the environment's problem: exit 2, both commands.
expect 2 "$work/nope.yaml: cannot read: No such file or directory" "$bin" check-config "$work/nope.yaml"
expect 2 "$work/nope.yaml: cannot read: No such file or directory" "$bin" run -c "$work/nope.yaml"
# The same rule for every subcommand that loads a config: unreadable 2, invalid 1.
bad_cfg="$src/tests/testdata/config/bad/line_not_pinned.yaml"
expect 2 "cannot read" "$bin" probe -c "$work/nope.yaml" --line lo --target me
expect 1 "line must set at least one of" "$bin" probe -c "$bad_cfg" --line lo --target me
expect 2 "cannot read" "$bin" status -c "$work/nope.yaml"
expect 1 "line must set at least one of" "$bin" status -c "$bad_cfg"
expect 1 "line must set at least one of" "$bin" run -c "$bad_cfg"
expect 2 "^$work: is a directory\$" "$bin" check-config "$work"
expect 2 "^$work: is a directory\$" "$bin" run -c "$work"

# examples/llm-vendors.yaml: valid with its three keys in the environment
# (placeholders: check-config only reads them), also with its opt-in
# completion target uncommented; without the keys, exit 2 naming the key path
# and the variable.
keys=(env OPENAI_API_KEY=sk-placeholder ANTHROPIC_API_KEY=sk-placeholder GEMINI_API_KEY=placeholder)
expect 0 "llm-vendors.yaml: ok \(3 lines, 3 targets" "${keys[@]}" "$bin" check-config "$src/examples/llm-vendors.yaml"
sed -e 's/^  # - id/  - id/' -e 's/^  #   /    /' "$src/examples/llm-vendors.yaml" >"$work/vendors-optin.yaml"
expect 0 "ok \(3 lines, 4 targets" "${keys[@]}" "$bin" check-config "$work/vendors-optin.yaml"
expect 2 "targets\[2\]\.llm\.api_key_env: environment variable GEMINI_API_KEY is not set" \
  env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY "$bin" check-config "$src/examples/llm-vendors.yaml"

# probe: a good round exits 0 and shows every echo; a failed one exits 1 with its reason.
expect 0 "lo → me icmp: ok" "$bin" probe -c "$work/ok.yaml" --line lo --target me
expect 0 "echoes +3/3 answered" "$bin" probe -c "$work/ok.yaml" --line lo --target me
expect 1 "FAILED \(refused\)" "$bin" probe -c "$work/ok.yaml" --line lo --target closed
"$bin" probe -c "$work/ok.yaml" --line lo --target me --json >"$work/probe.json"
python3 - "$work/probe.json" <<'PY' || fail "probe --json is not the documented shape"
import json, sys
r = json.load(open(sys.argv[1]))[0]
assert r["kind"] == "icmp" and r["ok"] and r["sent"] == 3 and len(r["rtts_ms"]) == 3, r
assert r["rtt_median_ms"] > 0, r
PY
expect 2 'no line "nope"' "$bin" probe -c "$work/ok.yaml" --line nope --target me
expect 2 'no target "nope"' "$bin" probe -c "$work/ok.yaml" --line lo --target nope
expect 2 'has no http probe' "$bin" probe -c "$work/ok.yaml" --line lo --target me --kind http

# status with nothing listening: exit 2, names the URL.
expect 2 "no agent answering at http://127.0.0.1:$closed" "$bin" status --agent "http://127.0.0.1:$closed"
expect 2 "no agent answering at http://127.0.0.1:$api" "$bin" status -c "$work/ok.yaml"

# run on a busy listen port: exit 2 naming agent.listen, and the data already
# stored stays as it was. First store some rows with a short real run.
"$bin" run -c "$work/ok.yaml" 2>"$work/run.log" &
run_pid=$!
for _ in $(seq 1 60); do
  sleep 0.25
  n=$(sqlite3 "$work/data/linewatch.db" "SELECT count(*) FROM samples" 2>/dev/null || echo 0)
  [ "$n" -ge 2 ] && break
done
kill -TERM "$run_pid"; wait "$run_pid" || fail "agent exited non-zero on SIGTERM"
grep -q "msg=\"started\" jobs=2 api=127.0.0.1:$api\$" "$work/run.log" || fail "start-up line: $(cat "$work/run.log")"
before=$(sqlite3 "$work/data/linewatch.db" "SELECT count(*) FROM samples")
# The log's down line names the round by its start (round=), the time storage
# keeps for that round and `status` shows as LAST FAILURE.
round=$(grep -o 'target=closed kind=tcp state=down round=[^ ]*' "$work/run.log" | head -1 | sed 's/.*round=//')
[ -n "$round" ] || fail "no down line with round= for the closed target: $(cat "$work/run.log")"
first_ms=$(sqlite3 "$work/data/linewatch.db" "SELECT min(s.ts_ms) FROM samples s JOIN targets t ON t.id = s.target_id WHERE t.name = 'closed' AND s.ok = 0")
python3 -c "
import datetime, sys
t = datetime.datetime.strptime('$round', '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=datetime.timezone.utc)
sys.exit(0 if round(t.timestamp() * 1000) == $first_ms else 1)" ||
  fail "log round=$round is not the stored start of the first failed round ($first_ms)"
[ "$before" -ge 2 ] || fail "the short run stored $before rows"
python3 -c "
import socket, time, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $api)); s.listen(1); print('ready', flush=True); time.sleep(30)" >"$work/holder.out" &
holder_pid=$!
for _ in $(seq 1 50); do grep -q ready "$work/holder.out" 2>/dev/null && break; sleep 0.1; done
expect 2 "agent.listen 127.0.0.1:$api: .*(in use|binding)" "$bin" run -c "$work/ok.yaml"
after=$(sqlite3 "$work/data/linewatch.db" "SELECT count(*) FROM samples")
[ "$after" -eq "$before" ] || fail "rows changed from $before to $after on a failed start"
[ "$(sqlite3 "$work/data/linewatch.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
# The start-up line names the address the API is bound to, not always 127.0.0.1.
api2=$(free_port)
sed -e "s/127.0.0.1:$api/127.0.0.2:$api2/" -e "s/data_dir: data/data_dir: data2/" "$work/ok.yaml" >"$work/ok2.yaml"
"$bin" run -c "$work/ok2.yaml" 2>"$work/run2.log" &
run2_pid=$!
for _ in $(seq 1 50); do grep -q 'msg="started"' "$work/run2.log" && break; sleep 0.1; done
kill -TERM "$run2_pid"; wait "$run2_pid" || fail "second agent exited non-zero on SIGTERM"
grep -q "api=127.0.0.2:$api2\$" "$work/run2.log" || fail "start-up line: $(cat "$work/run2.log")"
echo "cli: all checks passed"

#!/usr/bin/env bash
# End to end: API keys of llm targets never leave the request.
#
# The real agent probes three llm targets on loopback with sentinel keys, one
# from the environment and one from a file: mockllm (OpenAI completion and
# Anthropic models, accepting both keys), and a small Python server that
# answers 401 quoting the key it was sent, as some providers do. Then every
# place a key could leak is searched for the sentinels (whole, and their
# random cores): the agent's stderr and stdout, the status API (JSON and
# table), the events API, `linewatch probe` (text and JSON), the SQLite files
# as raw bytes, check-config's output (valid config, shared key file, missing
# variable) and the loader's error for a key written into the config. The
# runs are checked to have really happened (TTFT shown, 401 recorded, the
# quoted key redacted), so an empty output cannot pass.
set -euo pipefail
bin=${1:?usage: llm_secrets_test.sh PATH/TO/linewatch PATH/TO/mockllm}
mock=${2:?usage: llm_secrets_test.sh PATH/TO/linewatch PATH/TO/mockllm}
work=$(mktemp -d /tmp/linewatch-llm-secrets.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill "$p"; wait "$p" 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

core_env=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
core_file=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
key_env="sk-LWSENTINEL-env-$core_env"
key_file="sk-LWSENTINEL-file-$core_file"
printf '%s\n%s\n' "$key_env" "$key_file" >"$work/mock-keys"
printf '%s\n' "$key_file" >"$work/anthropic.key"
chmod 600 "$work/anthropic.key" "$work/mock-keys"

# mockllm: every flavour, both keys accepted.
"$mock" --listen 127.0.0.1:0 --token-file "$work/mock-keys" --ttft 120ms --tokens 5 \
  2>"$work/mock.log" &
pids+=($!)
mock_port=""
for _ in $(seq 1 100); do
  mock_port=$(sed -n 's/.*listening http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/mock.log")
  [ -n "$mock_port" ] && break
  sleep 0.05
done
[ -n "$mock_port" ] || fail "mockllm did not start: $(cat "$work/mock.log")"

# A provider that quotes the key it was sent in its 401 (whole, in the message).
echo_port=$(free_port)
cat >"$work/echo.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Echo(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        sent = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = json.dumps({"error": {"message": "Incorrect API key provided: " + sent,
                                     "type": "invalid_request_error"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
PY
python3 "$work/echo.py" "$echo_port" &
pids+=($!)

api_port=$(free_port)
cat >"$work/linewatch.yaml" <<YAML
agent: { id: secrets, listen: 127.0.0.1:$api_port, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  llm: { interval: 1s, timeout: 900ms, stall: 500ms }
lines:
  - { id: lo-a, source: 127.0.0.1 }
targets:
  - id: oai
    llm: { base_url: "http://127.0.0.1:$mock_port/v1", model: gpt-4o-mini,
           api_key_env: LW_SECRET_TEST_KEY, mode: completion }
  - id: ant
    llm: { flavour: anthropic, base_url: "http://127.0.0.1:$mock_port/anthropic/v1",
           model: claude-3-5-haiku-latest, api_key_file: anthropic.key }
  - id: echo
    llm: { base_url: "http://127.0.0.1:$echo_port/v1", model: gpt-4o-mini,
           api_key_env: LW_SECRET_TEST_KEY, mode: completion }
YAML

# check-config: valid, then a shared key file (a warning), then the variable
# missing (an error naming it), then a key written into the config.
export LW_SECRET_TEST_KEY="$key_env"
"$bin" check-config "$work/linewatch.yaml" >"$work/check-ok.txt" 2>&1 ||
  fail "check-config refused the config: $(cat "$work/check-ok.txt")"
chmod 644 "$work/anthropic.key"
"$bin" check-config "$work/linewatch.yaml" >"$work/check-shared.txt" 2>&1 ||
  fail "a shared key file should only warn: $(cat "$work/check-shared.txt")"
grep -q "readable by group or others" "$work/check-shared.txt" || fail "no warning for a shared key file"
chmod 600 "$work/anthropic.key"
rc=0
env -u LW_SECRET_TEST_KEY "$bin" check-config "$work/linewatch.yaml" >"$work/check-unset.txt" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "check-config with the variable unset: exit $rc, want 2"
grep -q "environment variable LW_SECRET_TEST_KEY is not set" "$work/check-unset.txt" ||
  fail "no error naming the unset variable: $(cat "$work/check-unset.txt")"
sed "s|api_key_file: anthropic.key|api_key: \"$key_file\"|" "$work/linewatch.yaml" >"$work/inline.yaml"
rc=0
"$bin" check-config "$work/inline.yaml" >"$work/check-inline.txt" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "a key in the config: exit $rc, want 1"
grep -q "an API key never goes into the config" "$work/check-inline.txt" || fail "no message for api_key"

"$bin" run -c "$work/linewatch.yaml" >"$work/agent.out" 2>"$work/agent.log" &
agent_pid=$!
pids+=($agent_pid)

# Every series with two rounds, bounded at 20 s.
ok=""
for _ in $(seq 1 80); do
  sleep 0.25
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  if curl -sf "http://127.0.0.1:$api_port/api/v1/status" >"$work/status.json" &&
     python3 - "$work/status.json" <<'PY'
import json, sys
series = json.load(open(sys.argv[1]))["series"]
got = {s["target"]: s for s in series if s["kind"] == "llm"}
sys.exit(0 if set(got) == {"oai", "ant", "echo"} and
         min(s["window"]["rounds"] for s in got.values()) >= 2 else 1)
PY
  then ok=1; break; fi
done
[ -n "$ok" ] || { cat "$work/status.json" >&2 || true; fail "status never showed 3 llm series with 2 rounds"; }

python3 - "$work/status.json" <<'PY' || fail "the rounds did not go as planned"
import json, sys
got = {s["target"]: s["latest"] for s in json.load(open(sys.argv[1]))["series"]}
oai, ant, echo = got["oai"], got["ant"], got["echo"]
assert oai["ok"] and oai["llm_mode"] == "completion" and oai["ttft_ms"] >= 100, oai
assert oai["stream_complete"] and oai["tokens"] == 5, oai
assert ant["ok"] and ant["model_listed"], ant
assert echo["reason"] == "auth" and echo["http_status"] == 401, echo
assert "[redacted]" in echo["detail"], echo
print("status: ttft %.1f ms, models listed, 401 redacted" % oai["ttft_ms"])
PY

curl -sf "http://127.0.0.1:$api_port/api/v1/events" >"$work/events.json" || fail "events API"
"$bin" status -c "$work/linewatch.yaml" >"$work/status.txt" || fail "status table"
grep -q TTFT "$work/status.txt" || fail "the status table has no TTFT column"
for t in oai ant echo; do
  "$bin" probe -c "$work/linewatch.yaml" --line lo-a --target "$t" >>"$work/probe.txt" 2>&1 || true
  "$bin" probe -c "$work/linewatch.yaml" --line lo-a --target "$t" --json >>"$work/probe.json" 2>&1 || true
done
grep -q "ttft" "$work/probe.txt" || fail "linewatch probe shows no ttft"

kill -TERM "$agent_pid"
wait "$agent_pid" || fail "the agent did not stop cleanly"
grep -q '"record":"completion"' "$work/mock.log" || fail "mockllm saw no completion"

# The search: whole keys and their random cores, in every output and the
# database's raw bytes (the WAL and shared memory too, if left).
outputs=("$work"/agent.log "$work"/agent.out "$work"/status.json "$work"/status.txt
         "$work"/events.json "$work"/probe.txt "$work"/probe.json "$work"/check-*.txt
         "$work"/data/linewatch.db*)
[ -s "$work/data/linewatch.db" ] || fail "no database written"
grep -aq "\[redacted\]" "$work/data/linewatch.db" || fail "the redacted 401 is not in the database"
leaks=0
for needle in "$key_env" "$key_file" "$core_env" "$core_file"; do
  for f in "${outputs[@]}"; do
    [ -e "$f" ] || continue
    if grep -aqF "$needle" "$f"; then
      echo "LEAK: ${needle:0:14}... in $(basename "$f")" >&2
      leaks=$((leaks + 1))
    fi
  done
done
[ "$leaks" = 0 ] || fail "$leaks leaks of an API key"
echo "ok: no key in ${#outputs[@]} outputs"

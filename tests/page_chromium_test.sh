#!/usr/bin/env bash
# The built-in page of a real agent in headless Chromium: `linewatch run` on a
# temporary config (two lines on 127.0.0.1 and 127.0.0.2, an ICMP target, the
# agent's own API port as a TCP target and a closed port as a failing one)
# probes for about 10 s; then the page at http://127.0.0.1:PORT/ must show
# every line's state and draw every line × target × kind chart with data: a
# median for the targets that answer, a no-answer column per step for the
# closed port. A screenshot must be a drawn PNG. Chromium loads nothing but
# that address (tests/support/page_lib.sh). Loopback only.
set -euo pipefail
bin=${1:?usage: page_chromium_test.sh PATH/TO/linewatch}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linewatch-page.XXXXXX)
agent_pid=""
fail() { echo "FAIL: $*" >&2; [ -f "$work/agent.log" ] && sed 's/^/  agent: /' "$work/agent.log" >&2; exit 1; }
. "$src/tests/support/e2e_lib.sh"
. "$src/tests/support/page_lib.sh"
cleanup() { stop_pid "$agent_pid"; rm -rf "$work"; }
trap cleanup EXIT

port=$(free_port)
closed=$(free_port)
cat >"$work/linewatch.yaml" <<YAML
agent: { id: page, listen: 127.0.0.1:$port, data_dir: data }
storage: { flush_interval: 100ms }
probes:
  icmp: { interval: 1s, timeout: 200ms, pings: 3, spacing: 50ms }
  tcp: { interval: 1s, timeout: 300ms }
lines:
  - { id: lo-a, source: 127.0.0.1 }
  - { id: lo-b, source: 127.0.0.2 }
targets:
  - { id: loop, icmp: 127.0.0.3 }
  - { id: agent-api, tcp: "127.0.0.1:$port" }
  - { id: closed, tcp: "127.0.0.1:$closed" }
YAML
"$bin" run -c "$work/linewatch.yaml" >"$work/agent.log" 2>&1 &
agent_pid=$!
url=http://127.0.0.1:$port
started=$SECONDS

# Until every series has a stored step (bounded at 30 s), and at least 10 s.
series_ready() {
  python3 - "$url" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
for line in ("lo-a", "lo-b"):
    for target, kind in (("loop", "icmp"), ("agent-api", "tcp"), ("closed", "tcp")):
        q = f"line={line}&target={target}&kind={kind}&since=5m"
        with urllib.request.urlopen(f"{url}/api/v1/series?{q}", timeout=5) as r:
            if not json.load(r)["points"]:
                sys.exit(1)
PY
}
ready=""
for _ in $(seq 1 120); do
  sleep 0.25
  kill -0 "$agent_pid" 2>/dev/null || fail "agent exited early"
  if [ -z "$ready" ] && series_ready 2>/dev/null; then ready=$SECONDS; fi
  [ -n "$ready" ] && [ $((SECONDS - started)) -ge 10 ] && break
done
[ -n "$ready" ] || fail "/api/v1/series never had a point for every series: $(curl -s "$url/api/v1/series?line=lo-a&target=loop&kind=icmp" || true)"

page_browse "$url/" "$work"
python3 "$src/tests/support/page_check.py" agent "$work/dom.html" --line lo-a --line lo-b \
  --chart lo-a/loop/icmp --chart lo-a/agent-api/tcp --lost-chart lo-a/closed/tcp \
  --chart lo-b/loop/icmp --chart lo-b/agent-api/tcp --lost-chart lo-b/closed/tcp ||
  fail "the page does not show every line and chart (the page's log: $(grep CONSOLE "$work/console.log" || true))"
python3 "$src/tests/support/page_check.py" png "$work/page.png" || fail "the screenshot is not a drawn page"
# The lines' states are the agent's own, as /api/v1/lines gives them.
python3 - "$url" "$work/dom.html" <<'PY' || fail "the page's line states differ from /api/v1/lines"
import json, re, sys, urllib.request
doc = json.load(urllib.request.urlopen(f"{sys.argv[1]}/api/v1/lines", timeout=5))
dom = open(sys.argv[2]).read()
for l in doc["lines"]:
    assert f'<tr data-line="{l["line"]}" data-state="{l["state"]}">' in dom, l
PY
echo "page: all checks passed"

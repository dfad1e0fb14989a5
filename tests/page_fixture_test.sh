#!/usr/bin/env bash
# The page's drawing, in headless Chromium, against fixed API documents
# (tests/support/page_fixture.py serves agent/page/* with the agent's headers
# and series holding the edge cases: every loss colour, a gap, steps where
# nothing answered, nothing sent, an empty series, a failing one). Each chart
# must match its series step by step, for the default range and for 7 days.
# Loopback only; needs chromium and python3.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/linewatch-page-fixture.XXXXXX)
fixture_pid=""
fail() { echo "FAIL: $*" >&2; [ -f "$work/fixture.log" ] && sed 's/^/  fixture: /' "$work/fixture.log" >&2; exit 1; }
. "$src/tests/support/e2e_lib.sh"
. "$src/tests/support/page_lib.sh"
cleanup() { stop_pid "$fixture_pid"; rm -rf "$work"; }
trap cleanup EXIT

port=$(free_port)
python3 "$src/tests/support/page_fixture.py" "$src/agent/page" "$port" >"$work/fixture.log" 2>&1 &
fixture_pid=$!
for _ in $(seq 1 50); do grep -q ready "$work/fixture.log" && break; sleep 0.1; done
grep -q ready "$work/fixture.log" || fail "the fixture server did not start"
url=http://127.0.0.1:$port

for range in 3h 7d; do
  mkdir -p "$work/$range"
  page_browse "$url/#range=$range" "$work/$range"
  python3 "$src/tests/support/page_check.py" fixture "$work/$range/dom.html" "$url" --range "$range" ||
    fail "the $range page does not match its series (DOM: see above)"
  python3 "$src/tests/support/page_check.py" png "$work/$range/page.png" || fail "screenshot"
done
echo "page fixture: all checks passed"

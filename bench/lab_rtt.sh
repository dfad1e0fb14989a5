#!/usr/bin/env bash
# RTT accuracy on an emulated line: linewatch's ICMP probe against ping(8)
# and fping(8) through the same lab line, N samples each, in one run. Prints
# median and p99 of |measured − emulated| per tool, the ratio to fping, and
# each tool's mean next to ping's own summary mean (printed to the µs).
# Needs root (lab namespaces, raw ICMP); traffic stays inside the lab.
#
#   bash bench/lab_rtt.sh [BUILD_DIR] [SAMPLES] [DELAY_MS] [PARALLEL]
#     BUILD_DIR  default ./build (built by scripts/build.sh when missing)
#     SAMPLES    echo requests per tool, default 1000
#     DELAY_MS   emulated round trip, default 150 (no jitter, no loss)
#     PARALLEL   linewatch probe processes at once, default 1. A round's echoes
#                are sequential (1000 × 150 ms take 150 s); running several
#                at once is faster but each round's raw socket then sees every
#                other round's replies, which adds error (see benchmarks.md)
#
# ping and fping print each RTT of 100 ms or more as whole milliseconds, so
# at 150 ms their per-echo errors are quantised to 1 ms; the summary means
# (ping's rtt line is printed to the µs) are the fair comparison there, and
# DELAY_MS=99 gives 0.1 ms per-echo resolution for all three.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
samples=${2:-1000}
delay=${3:-150}
parallel=${4:-1}
[ -x "$build/agent/linewatch" ] || bash scripts/build.sh
build=$(cd "$build" && pwd)
bin=$build/agent/linewatch
name=lwrtt$$
lab() { bash "$root/tests/lab/lab.sh" --name "$name" --build "$build" "$@"; }
work=$(mktemp -d /tmp/linewatch-rtt.XXXXXX)
cleanup() { lab down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

lab up --lines 1 >/dev/null
lab set 1 --delay "${delay}ms" --jitter 0ms --loss 0% >/dev/null
far=198.19.255.1 src=198.18.1.1

# linewatch: rounds of `per` echoes, `parallel` processes at a time.
per=50
procs=$(( (samples + per - 1) / per ))
cat >"$work/rtt.yaml" <<YAML
agent: { data_dir: data }
lines: [ { id: line1, source: $src } ]
targets: [ { id: far, icmp: { host: $far, pings: $per, spacing: 1ms, timeout: 2s, interval: 5m } } ]
YAML
start=$(date +%s.%N)
for i in $(seq 1 "$procs"); do
  lab exec "$bin" probe -c "$work/rtt.yaml" --line line1 --target far --json >"$work/lw.$i.json" &
  if (( i % parallel == 0 )); then wait; fi
done
wait
lw_s=$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")

# ping: one process, 10 ms apart (it does not wait for replies).
lab exec ping -n -I "$src" -i 0.01 -c "$samples" -W 2 "$far" >"$work/ping.raw" 2>/dev/null || true
grep -o 'time=[0-9.]*' "$work/ping.raw" | cut -d= -f2 >"$work/ping.txt" || true
# fping: -C prints every RTT; -p 10 ms between echoes to the target.
lab exec fping -q -S "$src" -C "$samples" -p 10 -t 2000 "$far" 2>"$work/fping.raw" >/dev/null || true

python3 - "$work" "$delay" "$samples" "$lw_s" <<'PY'
import glob, json, statistics, sys
work, want, n, lw_s = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def lw():
    out = []
    for f in sorted(glob.glob(f"{work}/lw.*.json")):
        for r in json.load(open(f)):
            out += [x for x in r["rtts_ms"] if x is not None]
    return out[:n]
def ping():
    return [float(x) for x in open(f"{work}/ping.txt") if x.strip()]
def fping():
    line = open(f"{work}/fping.raw").read().split(":", 1)[1]
    return [float(x) for x in line.split() if x != "-"]
def p99(v):
    v = sorted(v); return v[min(len(v) - 1, int(0.99 * len(v)))]
rows = {}
get_all = {}
for tool, get in (("linewatch", lw), ("ping", ping), ("fping", fping)):
    v = get()
    get_all[tool] = v
    err = [abs(x - want) for x in v]
    rows[tool] = (len(v), statistics.median(v), statistics.median(err), p99(err))
print(f"emulated round trip {want:.0f} ms, no jitter, no loss; linewatch took {lw_s} s")
import re
summary = re.search(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)/([0-9.]+) ms", open(f"{work}/ping.raw").read())
print(f"{'tool':10s} {'samples':>8s} {'median ms':>10s} {'mean ms':>9s} {'|err| p50 ms':>13s} {'|err| p99 ms':>13s} {'p50 vs fping':>13s}")
f50 = rows["fping"][2]
for tool, (cnt, med, e50, e99) in rows.items():
    ratio = f"{e50 / f50:.2f}x" if f50 > 0 else "-"
    mean = statistics.mean(get_all[tool])
    print(f"{tool:10s} {cnt:8d} {med:10.3f} {mean:9.3f} {e50:13.3f} {e99:13.3f} {ratio:>13s}")
if summary:
    print(f"ping's own summary (µs precision): min {summary.group(1)} avg {summary.group(2)} max {summary.group(3)} mdev {summary.group(4)} ms")
    print(f"mean error: linewatch {statistics.mean(get_all['linewatch']) - want:+.3f} ms, ping {float(summary.group(2)) - want:+.3f} ms")
PY

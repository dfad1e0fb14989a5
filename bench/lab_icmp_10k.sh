#!/usr/bin/env bash
# 10,000 ICMP targets at 1 s (one ping a round) on the round engine, the
# echoes crossing an emulated line: bench_icmp --engine run in the lab's
# gateway namespace against addresses on the far end, fping the same in the
# same run. Prints bench_icmp's tables (overruns, missed, echo loss, start
# lag p99, CPU, CPU per echo against fping) and its peak RSS; the CPU share
# of a core is CPU s over the step's seconds (window + drain, printed first).
# Needs root (lab namespaces, raw ICMP).
#
# The far end answers for all of 198.19.0.0/16 through one local route on its
# loopback (`ip route add local 198.19.0.0/16 dev lo` in NAME-far): the
# targets are 198.19.0.1 upwards. Everything stays inside the lab's own
# namespaces and is removed with them (lab down, on exit).
#
#   bash bench/lab_icmp_10k.sh [BUILD_DIR] [TARGETS] [DELAY_MS] [ROUNDS] [PAIRS]
#     BUILD_DIR default ./build; TARGETS default 10000; DELAY_MS emulated
#     round trip, default 150; ROUNDS per step, default 10; PAIRS
#     linewatch/fping pairs, default 2
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${1:-build}
targets=${2:-10000}
delay=${3:-150}
rounds=${4:-10}
pairs=${5:-2}
build=$(cd "$build" && pwd)
for b in bench/bench_icmp tests/lab/linesim/linesim tests/lab/mockllm/mockllm; do
  [ -x "$build/$b" ] || { echo "lab_icmp_10k: build $b first" >&2; exit 1; }
done
name=lwicmp$$
lab() { bash "$root/tests/lab/lab.sh" --name "$name" --build "$build" "$@"; }
cleanup() { lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT

lab up --lines 1 >/dev/null
lab set 1 --delay "${delay}ms" --jitter 0ms --loss 0% >/dev/null
ip netns exec "$name-far" ip route add local 198.19.0.0/16 dev lo
echo "lab line at ${delay} ms; $targets targets from 198.19.0.1 on the far end"
lab exec "$build/bench/bench_icmp" --engine --pings 1 --rate 1 --timeout-ms 1000 \
  --rounds "$rounds" --start "$targets" --max-targets "$targets" --pairs "$pairs" \
  --budget 600 --first-target 198.19.0.1
lab status | sed -n '1,20p'

#!/usr/bin/env bash
# Builds the benchmarks and runs all four with modest defaults (about 5
# minutes in total on a 2-core machine), printing every figures table.
#
# Usage: bash bench/run.sh [--build-dir DIR] [--only NAME]...
#                          [--scheduler "FLAGS"] [--icmp "FLAGS"] [--storage "FLAGS"]
#                          [--linesim "FLAGS"]
#   --build-dir DIR   configure with cmake into DIR and build only the bench
#                     targets there; without it scripts/build.sh builds ./build
#   --only NAME       run only scheduler, icmp, storage or linesim (repeatable)
#   --scheduler/--icmp/--storage/--linesim "FLAGS"
#                     extra flags for that benchmark, appended after the
#                     defaults below (later flags win); see each --help
#
# Network: loopback only, except bench_linesim, which stays inside a private
# network namespace it creates (198.18.0.0/15 addresses only). bench_icmp and
# bench_linesim need root (raw sockets; namespaces and TUN) and are skipped
# otherwise. Each benchmark is bounded by its own flags and, as a backstop,
# by timeout(1), which ends it by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=""
only=()
scheduler_extra="" icmp_extra="" storage_extra="" linesim_extra=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir="$2"; shift 2 ;;
    --only) only+=("$2"); shift 2 ;;
    --scheduler) scheduler_extra="$2"; shift 2 ;;
    --icmp) icmp_extra="$2"; shift 2 ;;
    --storage) storage_extra="$2"; shift 2 ;;
    --linesim) linesim_extra="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

if [[ -n "$build_dir" ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" \
    --target bench_scheduler bench_icmp bench_storage bench_linesim
elif [[ -f scripts/build.sh ]]; then
  bash scripts/build.sh
  build_dir=build
else
  build_dir=build
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build --target bench_scheduler bench_icmp bench_storage bench_linesim
fi
bin="$build_dir/bench"
status=0

wanted() {
  [[ ${#only[@]} -eq 0 ]] && return 0
  local n
  for n in "${only[@]}"; do [[ "$n" == "$1" ]] && return 0; done
  return 1
}

run() {  # run LIMIT_SECONDS COMMAND...
  local limit="$1"; shift
  echo
  echo "\$ $*"
  local rc=0
  timeout -k 5 "$limit" "$@" || rc=$?
  [[ $rc -eq 0 ]] || { echo "($1 exited with status $rc)"; status=1; }
}

echo "linewatch benchmarks on $(uname -n): $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "These machines are noisy; compare ratios and medians, not single figures."

# ~62 s: 1000 TCP jobs at 1 s for 60 s (the defaults).
# shellcheck disable=SC2086
wanted scheduler && run 300 "$bin/bench_scheduler" $scheduler_extra
if wanted icmp; then
  if [[ $(id -u) -eq 0 ]]; then
    # At most 150 s: steps of 12 s up to the first failure, then 3 pairs with fping.
    # shellcheck disable=SC2086
    run 300 "$bin/bench_icmp" --budget 150 $icmp_extra
  else
    echo; echo "bench_icmp skipped: needs root for raw ICMP sockets"
  fi
fi
# ~45 s: 10 s flat out, then up to three 8 s paced runs.
# shellcheck disable=SC2086
wanted storage && run 300 "$bin/bench_storage" $storage_extra
if wanted linesim; then
  if [[ $(id -u) -eq 0 ]]; then
    # ~28 s: 3 rates x (4 s baseline + 4 s through linesim) plus setup and drains.
    # shellcheck disable=SC2086
    run 120 "$bin/bench_linesim" --duration 4 $linesim_extra
  else
    echo; echo "bench_linesim skipped: needs root for a network namespace and a TUN device"
  fi
fi
exit "$status"

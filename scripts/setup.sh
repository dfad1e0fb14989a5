#!/usr/bin/env bash
# Installs the Debian packages linewatch builds, tests and benchmarks with.
# Idempotent: packages already present are skipped, and apt is only asked
# when something is missing, so a second run costs a dpkg query.
#
# apt's own output goes to a log file (LINEWATCH_SETUP_LOG, default
# /tmp/linewatch-setup.log); the terminal gets one line per step, and the
# log's tail when a step fails. On a fresh VM another apt (unattended
# upgrades, cloud-init) often holds the dpkg lock for minutes: we wait for it
# (LINEWATCH_APT_LOCK_WAIT seconds, default 600) instead of failing at once.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries
  libssl-dev zlib1g-dev libpoco-dev prometheus-cpp-dev libsqlite3-dev
  libcli11-dev doctest-dev libyaml-cpp-dev libre2-dev libmnl-dev
  # packaging: cpack's DEB generator computes dependencies with dpkg-shlibdeps and file
  dpkg-dev file
  # runtime tools used by tests, the demo and benchmarks
  iproute2 iputils-ping fping curl openssl ca-certificates procps sqlite3 python3 systemd
  # python3-yaml: the Grafana dashboards test reads the provisioning files
  python3-yaml
  # peers the tests run on loopback, each its own instance (see below);
  # prometheus also brings promtool, which lints the agent's /metrics
  prometheus-alertmanager prometheus
  # the page tests load the agent's built-in page in headless Chromium
  chromium
)
# --bench adds what only the benchmarks compare against: FRR's bfdd and
# blackbox_exporter (bench/https_vs_blackbox.sh).
if [ "${1:-}" = --bench ]; then packages+=(frr prometheus-blackbox-exporter); fi

log=${LINEWATCH_SETUP_LOG:-/tmp/linewatch-setup.log}
lock_wait=${LINEWATCH_APT_LOCK_WAIT:-600}

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root (or install them) to continue" >&2
  exit 1
fi

# step TITLE CMD...: runs CMD with its output in the log; on failure shows
# the log's tail and exits with CMD's code.
step() {
  local title=$1; shift
  local start=$SECONDS code=0
  printf 'setup: %s ... ' "$title"
  { echo "== $title: $*"; } >>"$log"
  "$@" >>"$log" 2>&1 || code=$?
  if [ "$code" -ne 0 ]; then
    echo "failed (exit $code); last lines of $log:"
    tail -n 20 "$log" | sed 's/^/  /'
    exit "$code"
  fi
  echo "done ($((SECONDS - start)) s)"
}

# apt-get update takes the lists lock, which DPkg::Lock::Timeout does not
# cover on every apt: retry it while another apt holds that lock.
apt_update() {
  local deadline=$((SECONDS + lock_wait))
  while true; do
    if apt-get -o DPkg::Lock::Timeout="$lock_wait" update; then return 0; fi
    if [ "$SECONDS" -ge "$deadline" ] || ! tail -n 5 "$log" | grep -q 'Could not get lock'; then
      return 1
    fi
    echo "lists lock busy, retrying in 5 s"
    sleep 5
  done
}

export DEBIAN_FRONTEND=noninteractive
# Prometheus, Alertmanager, FRR and blackbox_exporter are daemons whose packages start their
# service on install (Prometheus and Alertmanager listening on every address). The tests and
# benchmarks start their own instances on loopback or in the lab's
# namespaces, so the install is told not to start any service, through
# Debian's policy-rc.d, unless the machine already has a policy of its own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# linewatch setup: no service starts during this install\nexit 101\n' \
    >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
: >"$log"
echo "setup: ${#missing[@]} packages missing: ${missing[*]} (apt output: $log)"
step "updating package lists" apt_update
step "installing ${#missing[@]} packages" \
  apt-get -o DPkg::Lock::Timeout="$lock_wait" install -y --no-install-recommends "${missing[@]}"

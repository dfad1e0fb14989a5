#!/usr/bin/env bash
# Installs the Debian packages linewatch builds, tests and benchmarks with.
# Idempotent: packages already present are skipped, and apt is only asked
# when something is missing, so a second run costs a dpkg query.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config
  # libraries
  libssl-dev zlib1g-dev libpoco-dev prometheus-cpp-dev libsqlite3-dev
  libcli11-dev doctest-dev libyaml-cpp-dev
  # runtime tools used by tests, the demo and benchmarks
  iproute2 iputils-ping fping curl openssl procps sqlite3 python3
)

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

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, integration,
# end to end). Some tests need root (raw ICMP sockets, SO_MARK); run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j "$(nproc 2>/dev/null || echo 2)"

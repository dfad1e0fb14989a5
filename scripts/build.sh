#!/usr/bin/env bash
# Configures and builds linewatch into ./build: a Release build, as users build it,
# with warnings as errors so CI proves that a user's Release build passes.
# Idempotent: an existing build tree is reused and only what changed is rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DLINEWATCH_WERROR=ON >/dev/null
cmake --build build -j "$jobs"

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Build the demo with the release preset and run it:
#   build/release/demo/vmar_demo
# Installs the build tools with apt-get first when they are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/ensure-packages.sh

preset=release
jobs=${VMAR_JOBS:-$(nproc 2>/dev/null || echo 2)}

# The configure step also looks for cmocka (the tests live in the same
# project), hence libcmocka-dev and pkg-config.
vmar_ensure_packages cmake ninja-build gcc libc6-dev pkg-config \
    libcmocka-dev libatomic-ops-dev

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs" --target vmar_demo
echo "== build/$preset/demo/vmar_demo"
exec "build/$preset/demo/vmar_demo" "$@"

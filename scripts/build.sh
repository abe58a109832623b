#!/usr/bin/env bash
# Configures and builds one preset of CMakePresets.json (release, asan,
# tsan, switch) into build/PRESET. Further arguments go to `cmake --build`
# (for instance `--target weft`).
#
#   bash scripts/build.sh [PRESET [CMAKE_BUILD_ARGS...]]    (default: release)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

preset=${1:-release}
shift || true
jobs=${WEFT_JOBS:-2}

cmake --preset "$preset"
cmake --build --preset "$preset" -j "$jobs" "$@"

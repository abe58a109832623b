#!/usr/bin/env bash
# Installs the Debian packages Weft needs to build and test, and only those
# that are missing: a machine that has them all is left alone (no apt-get
# update, no root needed).
#
#   bash scripts/setup.sh
set -euo pipefail

packages=(
  build-essential     # g++ (C++20), make
  cmake               # >= 3.25, for CMakePresets.json version 6
  ninja-build         # the presets' generator
  ccache              # used automatically when present
  pkg-config          # finds RE2 and libedit
  libtbb-dev          # oneTBB: the work-stealing task pool
  libboost-dev        # Boost.Asio / Beast: the I/O thread
  libre2-dev          # RE2: linear-time regular expressions
  libcli11-dev        # CLI11: the command line
  libedit-dev         # libedit: the REPL's line editing and history
  rapidjson-dev       # RapidJSON: json/parse and json/stringify
  libgtest-dev        # GoogleTest: unit tests
  libbenchmark-dev    # Google Benchmark: bench/
  curl                # tests: an outside HTTP client drives Weft's server
  python3             # tests: Python's http.server is a peer for Weft's HTTP client
)

source "$(dirname "${BASH_SOURCE[0]}")/install_missing.sh"
install_missing setup "${packages[@]}"

# Older Debian releases ship GoogleTest as sources only (package googletest,
# no CMake package config): fall back to it if the config is still missing.
if ! compgen -G "/usr/lib/*/cmake/GTest/GTestConfig.cmake" >/dev/null &&
   ! compgen -G "/usr/lib/cmake/GTest/GTestConfig.cmake" >/dev/null; then
  echo "setup: GoogleTest's CMake config not found; installing googletest"
  install_missing setup googletest
fi

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
  libconcurrentqueue-dev  # moodycamel::ConcurrentQueue: mailboxes and channels
  libre2-dev          # RE2: linear-time regular expressions
  libcli11-dev        # CLI11: the command line
  libedit-dev         # libedit: the REPL's line editing and history
  rapidjson-dev       # RapidJSON: json/parse and json/stringify
  libgtest-dev        # GoogleTest: unit tests
  libbenchmark-dev    # Google Benchmark: bench/
  curl                # tests: an outside HTTP client drives Weft's server
  python3             # tests: Python's http.server is a peer for Weft's HTTP client
)

is_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "setup: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "setup: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"

# Older Debian releases ship GoogleTest as sources only (package googletest,
# no CMake package config): fall back to it if the config is still missing.
if ! compgen -G "/usr/lib/*/cmake/GTest/GTestConfig.cmake" >/dev/null &&
   ! compgen -G "/usr/lib/cmake/GTest/GTestConfig.cmake" >/dev/null; then
  echo "setup: GoogleTest's CMake config not found; installing googletest"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends googletest
fi

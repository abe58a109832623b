#!/usr/bin/env bash
# Installs the Debian packages that bench/compare times Weft against, and
# only those that are missing. CI does not run it (scripts/setup.sh installs
# what building and testing need): Go, Erlang and Node are large and no test
# uses them. bench/compare installs lua5.4, python3 and time by itself when
# they are missing, but skips Go, Erlang, Node and wrk, so run this first to
# get every column.
#
#   bash scripts/setup_bench.sh
set -euo pipefail

packages=(
  lua5.4       # sequential peer
  python3      # sequential and io peer
  time         # /usr/bin/time: bench/compare --cpu and the io group
  golang-go    # concurrency and io peer: go build
  erlang-base  # concurrency and io peer: erl and erlc (the "erlang" metapackage
               # adds about a hundred packages of tools and GUI libraries not needed here)
  nodejs       # io peer: node
  wrk          # io group: the HTTP load generator of http_rps
)

is_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup_bench: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "setup_bench: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
  sudo=(sudo)
fi

echo "setup_bench: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q --no-install-recommends "${missing[@]}"

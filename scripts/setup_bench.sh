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

source "$(dirname "${BASH_SOURCE[0]}")/install_missing.sh"
install_missing setup_bench "${packages[@]}"

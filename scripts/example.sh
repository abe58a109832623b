#!/usr/bin/env bash
# Installs what is missing, builds the Release preset and runs the
# word-frequency example over examples/data (only the weft executable is
# built; scripts/test.sh builds everything).
#
#   bash scripts/example.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh
bash scripts/build.sh release --target weft
echo
exec build/release/weft run examples/wordfreq.weft "${1:-examples/data}"

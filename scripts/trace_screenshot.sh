#!/usr/bin/env bash
# Regenerates docs/images/trace_pipeline.png: a real trace of the pipeline
# example, drawn by scripts/trace_to_html.py and photographed by Debian's
# headless Chromium (apt-get install chromium). Nothing is downloaded.
#
#   bash scripts/trace_screenshot.sh [WEFT_BINARY]   (default build/release/weft)
set -euo pipefail
weft=${1:-build/release/weft}
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-trace-shot.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$weft" --threads 2 --trace "$work/trace.json" run examples/pipeline.weft examples/data
python3 tests/cli/check_trace.py "$work/trace.json"
python3 scripts/trace_to_html.py "$work/trace.json" "$work/trace.html" \
  --title "weft --trace: examples/pipeline.weft examples/data (2 workers)"
mkdir -p docs/images
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$work/profile" --hide-scrollbars --window-size=1500,410 \
  --screenshot="$PWD/docs/images/trace_pipeline.png" "file://$work/trace.html" 2> "$work/chromium.log"
echo "wrote docs/images/trace_pipeline.png"
